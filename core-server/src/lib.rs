//! Switchboard's core: the TCP chat server and all room state.
//!
//! Run it with [`serve`] and a [`Config`] (the `core-server` binary is a thin
//! wrapper; the web gateway embeds it the same way).
//!
//! # Layout
//! The messages and the codec are the `protocol` crate's: this crate frames no
//! bytes itself.
//!
//! - [`config`]: every limit and option, as `clap` flags and a plain struct.
//! - `server.rs`: [`serve`], the accept loop, connection limit and shutdown.
//! - `connection.rs`: one connection's reader loop: hello, join, commands,
//!   rate limit, login and ping timeouts, gateway sessions.
//! - `outbox.rs`: a connection's two bounded outbound queues (chat, file
//!   chunks) and the writer task that drains them, chat first.
//! - `room.rs`: the shared room state (members, history, seq) behind a cheap
//!   `Clone` handle; fan-out of broadcasts, encoded once.
//! - `transfer.rs`: relaying one file: hashing, image check, backpressure.
//! - [`error`]: the error type, [`ServerError`].

pub mod config;
mod connection;
pub mod error;
mod outbox;
mod room;
mod server;
mod transfer;

pub use config::Config;
pub use error::ServerError;
pub use server::serve;
