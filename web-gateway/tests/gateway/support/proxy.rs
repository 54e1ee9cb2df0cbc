//! A TCP proxy in front of the core, so a test can cut the gateway's link (or
//! make it vanish without the core noticing) and count its connections.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A TCP proxy in front of the core that counts connections and can cut
/// them (and refuse new ones) until resumed.
pub struct Proxy {
    pub addr: SocketAddr,
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    accepted: AtomicUsize,
    live: AtomicUsize,
    /// `Some` while connections are let through; cancelled to cut them.
    open: Mutex<Option<CancellationToken>>,
    /// When set, a cut closes only the client side and keeps the server side
    /// open here (a link that vanished without the core noticing).
    hold: AtomicBool,
    held: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(ProxyInner {
            accepted: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            open: Mutex::new(Some(CancellationToken::new())),
            hold: AtomicBool::new(false),
            held: Mutex::new(Vec::new()),
        });
        let shared = inner.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let Some(cut) = shared.open.lock().unwrap().clone() else {
                    drop(client);
                    continue;
                };
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                shared.live.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let was_cut = tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
                            _ = cut.cancelled() => true,
                        };
                        if was_cut && shared.hold.load(Ordering::SeqCst) {
                            shared.held.lock().unwrap().push(server);
                        }
                    }
                    shared.live.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Proxy { addr, inner }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn live(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Cuts every connection and refuses new ones.
    pub fn cut(&self) {
        if let Some(token) = self.inner.open.lock().unwrap().take() {
            token.cancel();
        }
    }

    /// Lets connections through again.
    pub fn resume(&self) {
        *self.inner.open.lock().unwrap() = Some(CancellationToken::new());
    }

    /// Closes the client side of every connection but keeps the server side
    /// open (the core does not notice), and lets new connections through.
    pub fn vanish(&self) {
        self.inner.hold.store(true, Ordering::SeqCst);
        self.cut();
        self.resume();
    }

    /// Closes the server sides kept by [`Proxy::vanish`].
    pub fn release(&self) {
        self.inner.hold.store(false, Ordering::SeqCst);
        self.inner.held.lock().unwrap().clear();
    }
}
