//! The client half of a connection, written once for every client (the
//! terminal client, the gateway link, the load generator):
//!
//! - `connect.rs`: TCP connect and the hello handshake, each step with a
//!   timeout; joining under a name on a direct connection.
//! - `writer.rs`: the writer that drains a control queue before a file queue,
//!   so chat never waits behind chunks.
//! - `keepalive.rs`: reading with a silence timeout: answer the server's
//!   pings, ping a quiet server, give up on a dead one.
//! - `backoff.rs`: the delays between reconnect attempts.
//! - `credit.rs`: a sender's credit for one transfer (flow control).

mod backoff;
mod connect;
mod credit;
mod keepalive;
mod writer;

pub use backoff::Backoff;
pub use connect::{Conn, ConnectError, Dialer, Joined, ServerHello, Welcome};
pub use credit::SendCredit;
pub use keepalive::{KEEPALIVE_NONCE, KeepAlive, ReadError};
pub use writer::{Outbox, spawn_writer, write_queued};
