//! The HTTP accept loop: what `axum::serve` lacks for a public listener.
//!
//! - a header-read timeout (`--header-timeout`, hyper's own timer: a request
//!   whose headers are not complete in time, or a keep-alive connection that
//!   starts no new request, is closed);
//! - a body-idle timeout (`--body-idle-timeout`, [`IdleBody`]);
//! - connection caps in all and per address ([`ConnectionCaps`]): excess is
//!   answered `503` and closed at once;
//! - each request's [`ClientAddr`] (the peer, or with `--trusted-proxy` the
//!   address that proxy names in `X-Forwarded-For`), for per-address limits.
//!
//! Children: `caps.rs` (the connection caps), `idle_body.rs` ([`IdleBody`]),
//! `client_addr.rs` ([`ClientAddr`]).

use std::{net::SocketAddr, time::Duration};

use axum::{Router, body::Body, extract::Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_service::Service;

mod caps;
mod client_addr;
mod idle_body;

pub use caps::{ConnectionCaps, Refused};
pub use client_addr::ClientAddr;
pub use idle_body::{BodyIdle, IdleBody};

/// What the accept loop enforces.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    pub header_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_addr: usize,
    pub limit_loopback: bool,
    pub trusted_proxy: Option<std::net::IpAddr>,
}

/// How long open connections may take to finish after shutdown.
const DRAIN: Duration = Duration::from_secs(5);
/// After an accept error (out of descriptors, most likely), wait this long.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// The whole answer to a connection over a cap: small enough for one
/// non-blocking write into a fresh socket's empty send buffer.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
content-length: 49\r\nconnection: close\r\nretry-after: 5\r\n\r\n\
Too many connections; close some and try again.\n";

/// Serves `router` on `listener` until `shutdown`, then lets open
/// connections finish (at most [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: ListenConfig,
    shutdown: CancellationToken,
) {
    let caps = ConnectionCaps::new(
        config.max_connections,
        config.max_connections_per_addr,
        config.limit_loopback,
    );
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // The trusted proxy carries everyone: only the total cap applies.
        let admitted = if config.trusted_proxy == Some(peer.ip()) {
            caps.admit_exempt()
        } else {
            caps.admit(peer.ip())
        };
        let admitted = match admitted {
            Ok(admitted) => admitted,
            Err(why) => {
                refuse(stream, peer, why);
                continue;
            }
        };
        let router = router.clone();
        let config = config.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            serve_connection(stream, peer, router, &config, shutdown).await;
            drop(admitted);
        });
    }
    tracker.close();
    if tokio::time::timeout(DRAIN, tracker.wait()).await.is_err() {
        tracing::info!("HTTP connections still open after the drain; closing them");
    }
}

/// Answers `503` without waiting (a write that does not fit is skipped) and
/// closes.
fn refuse(stream: TcpStream, peer: SocketAddr, why: Refused) {
    tracing::debug!(%peer, ?why, "connection over the cap refused");
    let _ = stream.try_write(BUSY);
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    config: &ListenConfig,
    shutdown: CancellationToken,
) {
    // Chat frames are small and latency-bound: without TCP_NODELAY, Nagle's
    // algorithm holds them back (visible as ~40 ms p99 in BENCHMARKS.md).
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let idle = config.body_idle_timeout;
    let trusted_proxy = config.trusted_proxy;
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let mut request = request.map(|body| Body::new(IdleBody::new(Body::new(body), idle)));
        let client = ClientAddr::of(peer, trusted_proxy, request.headers());
        request.extensions_mut().insert(client);
        router.clone().call(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}
