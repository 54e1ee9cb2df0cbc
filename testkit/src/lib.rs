//! The test kit every Switchboard crate's integration tests use (a dev-only
//! dependency): a core in the test's process, a raw protocol client, and
//! fixtures. Each test then reads as a few lines about what a user notices.
//!
//! - `core.rs`: [`TestCore`], a real core on a loopback port.
//! - `client.rs`: [`RawClient`], frames by hand through the real codec.
//! - `busy.rs`: `RawClient`'s `until_*` readers, for a room with other
//!   traffic (skip the rest, answer pings).
//! - `fixtures.rs`: images, random bytes, SHA-256, restartable ports.
//!
//! Every wait has a timeout ([`WAIT`]); nothing sleeps to synchronise.

mod busy;
mod client;
mod core;
mod fixtures;

use std::time::Duration;

pub use client::{RawClient, Welcome};
pub use core::{TOKEN, TestCore, config};
pub use fixtures::{PNG, bind_outside_ephemeral_range, png_bytes, sha256, test_bytes};

/// How long a test waits for something that should happen promptly. Generous:
/// CI machines are slow, and a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// Fails the test if `fut` takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A file for one user.
pub fn user(name: &str) -> protocol::Target {
    protocol::Target::User(name.into())
}
