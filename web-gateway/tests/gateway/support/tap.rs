//! A TCP proxy in front of the core that reads what the gateway sends (with
//! the real codec) and reports every `join`, so a test sees the `addr` the
//! gateway passes on; [`Tap::cut`] drops the link so it re-attaches.

use std::{net::SocketAddr, sync::Mutex};

use bytes::BytesMut;
use protocol::{ClientMsg, codec::ServerCodec};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_util::{codec::Decoder, sync::CancellationToken};

/// A join the gateway sent: name, `since`, `addr`.
pub type SeenJoin = (String, Option<u64>, Option<String>);

pub struct Tap {
    pub addr: SocketAddr,
    joins: mpsc::UnboundedReceiver<SeenJoin>,
    /// Cancelled to cut the connections open now.
    cut: std::sync::Arc<Mutex<CancellationToken>>,
}

impl Tap {
    pub async fn start(target: SocketAddr) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, joins) = mpsc::unbounded_channel();
        let cut = std::sync::Arc::new(Mutex::new(CancellationToken::new()));
        let shared = cut.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let token = shared.lock().unwrap().clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = relay(client, server, tx) => {}
                        _ = token.cancelled() => {}
                    }
                });
            }
        });
        Tap { addr, joins, cut }
    }

    /// The next join the gateway sent.
    pub async fn join(&mut self) -> SeenJoin {
        super::within("a join through the tap", self.joins.recv())
            .await
            .expect("tap running")
    }

    /// Cuts every connection open now (new ones pass).
    pub fn cut(&self) {
        let mut token = self.cut.lock().unwrap();
        token.cancel();
        *token = CancellationToken::new();
    }
}

async fn relay(client: TcpStream, server: TcpStream, joins: mpsc::UnboundedSender<SeenJoin>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let down = tokio::io::copy(&mut server_read, &mut client_write);
    let up = async move {
        let mut codec = ServerCodec::server();
        let mut pending = BytesMut::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
            pending.extend_from_slice(&buf[..n]);
            while let Ok(Some(frame)) = codec.decode(&mut pending) {
                if let ClientMsg::Join { name, since, addr } = frame.msg {
                    let _ = joins.send((name, since, addr));
                }
            }
        }
    };
    tokio::select! {
        _ = down => {}
        _ = up => {}
    }
}
