//! A core server in this test's process, on a loopback port.

use std::net::SocketAddr;

use core_server::{Config, ServerError};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{WAIT, client::RawClient};

/// The gateway token test cores accept.
pub const TOKEN: &str = "test-gateway-token";

/// The configuration tests start from: defaults, a gateway token, a rate
/// limit loose enough not to get in the way of tests about something else,
/// and a credit window (64 MiB) large enough that a test may send a whole
/// file before its recipient reads any of it. Tests of flow control set a
/// small `file_window` themselves.
pub fn config() -> Config {
    Config {
        gateway_token: Some(TOKEN.into()),
        rate_per_sec: 10_000,
        rate_burst: 10_000,
        file_window: 64 * 1024 * 1024,
        ..Config::default()
    }
}

/// A core running in this test's runtime until [`TestCore::stop`] or drop.
pub struct TestCore {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestCore {
    /// On 127.0.0.1:0 with [`config`].
    pub async fn start() -> TestCore {
        TestCore::with(config()).await
    }

    /// On 127.0.0.1:0 with `config`.
    pub async fn with(config: Config) -> TestCore {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        TestCore::on(listener, config)
    }

    /// On a port below the kernel's ephemeral range, so that once stopped no
    /// outgoing connection can take its port and it can start there again
    /// ([`TestCore::start_on`]).
    pub async fn start_restartable(config: Config) -> TestCore {
        TestCore::on(crate::bind_outside_ephemeral_range().await, config)
    }

    /// On `addr` again, after [`TestCore::stop`]. Binding is retried: on a
    /// busy machine the port has been seen to stay unavailable for a moment
    /// after the old server closed everything (this waits on the kernel, not
    /// on the code under test).
    pub async fn start_on(addr: SocketAddr, config: Config) -> TestCore {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => return TestCore::on(listener, config),
                Err(e) if tokio::time::Instant::now() < deadline => {
                    eprintln!("binding {addr} again failed ({e}); retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        }
    }

    /// On a listener the caller bound.
    pub fn on(listener: TcpListener, mut config: Config) -> TestCore {
        let addr = listener.local_addr().unwrap();
        config.listen = addr;
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(core_server::serve(listener, config, shutdown.clone()));
        TestCore {
            addr,
            shutdown,
            handle: Some(handle),
        }
    }

    /// A client that has said hello and joined as `name`.
    pub async fn join(&self, name: &str) -> RawClient {
        let mut client = RawClient::connect(self.addr).await;
        client.hello().await;
        client.join(name).await.expect("join");
        client
    }

    /// A connection that has not said anything yet.
    pub async fn connect(&self) -> RawClient {
        RawClient::connect(self.addr).await
    }

    /// Shuts down and waits for `serve` to return (it must, promptly, and
    /// without an error).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let handle = self.handle.take().expect("running");
        tokio::time::timeout(WAIT, handle)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }

    /// Starts shutting down without waiting.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// The token that shuts this core down (a clone: cancelling it is
    /// [`TestCore::shutdown`]). Hand it to whatever should stop together with
    /// the core, such as a web gateway a test starts in front of it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

impl Drop for TestCore {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
