//! Switchboard's load generator: the same loads against Switchboard (native
//! TCP and the web gateway's WebSocket) and against peers (an IRC server, a
//! Node `ws` broadcast server), measured in one run.
//!
//! # Layout
//! - [`cli`]: the command line (one subcommand per scenario, one per target).
//! - [`client`]: one connection per simulated user, one module per protocol:
//!   native (through the `protocol` crate), IRC, WebSocket.
//! - [`swarm`]: many clients at once, barriers between phases.
//! - [`metrics`]: stamped bodies, latency histograms, sent/received counts,
//!   closed-loop sender windows and the barrier between phases.
//! - [`procfs`]: the server's CPU seconds and RSS from `/proc`.
//! - [`scenario`]: the six scenarios of the benchmark, one file each.
//! - [`report`]: results as JSON lines, and Markdown tables with ratios.

pub mod cli;
pub mod client;
pub mod metrics;
pub mod procfs;
pub mod report;
pub mod scenario;
pub mod swarm;

use protocol::codec::CodecError;

/// What can go wrong while driving a load.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("native protocol: {0}")]
    Codec(#[from] CodecError),
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("the connection closed during {0}")]
    Closed(&'static str),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("{0}")]
    Setup(String),
}
