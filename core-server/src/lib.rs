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
//! - `connection.rs`: one connection's serving loop: login and ping timeouts,
//!   the orderly end; `connection/handshake.rs` hello, join and a gateway
//!   session's quit; `connection/dispatch.rs` routing a frame by session, the
//!   rate limit, chat commands; `connection/files.rs` a sender's file frames.
//! - `notice.rs`: the words for people: `bye` reasons, per-recipient
//!   `file_failed` messages. A leaf.
//! - `admission.rs`: per-address limits (connections, joins per minute,
//!   failed gateway tokens and lockouts), bounded tables, loopback exempt.
//! - `outbox.rs`: a connection's two bounded outbound queues (chat, file
//!   chunks) and its cheap `Outbox` handle; `outbox/writer.rs` the writer task
//!   that drains them, chat first; `outbox/delivery.rs` the notice a queued
//!   `file_end` carries back to its sender.
//! - `transfer.rs`: relaying one file to its `RecipientCopy`s: hashing, image
//!   check, backpressure.
//! - `room.rs`: the shared room state (members, history, seq) behind a cheap
//!   `Clone` handle; fan-out of broadcasts, encoded once; `room/offer.rs`
//!   file offers: picking the copies and announcing the `file` event.
//! - [`error`]: the error type, [`ServerError`].
//!
//! Dependencies run one way: a module uses only modules earlier in `error`,
//! `config`, `notice`, `admission`, `outbox`, `transfer`, `room`, `connection`, `server`.

mod admission;
pub mod config;
mod connection;
pub mod error;
mod notice;
mod outbox;
mod room;
mod server;
mod transfer;

pub use config::Config;
pub use error::ServerError;
pub use server::serve;
