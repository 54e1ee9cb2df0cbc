//! One file being relayed, seen from its sender's connection: checking the
//! sender's credit, counting and hashing the bytes as they pass, checking an
//! image's magic bytes, and handing the bytes to the transfer's [`Relay`].
//!
//! The server never holds a file and never waits for one: a chunk is encoded
//! once (per session id; a room-wide chunk once for all links) and the relay
//! sends it to each copy as that copy's credit allows. The sender may only be
//! `--file-window` bytes ahead of the slowest copy (protocol v2 flow control),
//! so at most that much is buffered per transfer.
//!
//! Here: [`Transfer`] (the sender's side) and [`RecipientCopy`].
//! `transfer/relay.rs`: [`Relay`], the part both ends share.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use protocol::{ErrorCode, FileKind, SNIFF_LEN, SessionId, sniff_image};

use crate::outbox::Outbox;

mod relay;

pub use relay::Relay;

/// One copy of a file being relayed: a connection, the session id to stamp on
/// its frames and the members it reaches. The room picks them (`offer_file`);
/// the relay sends to them.
#[derive(Debug)]
pub struct RecipientCopy {
    /// The recipient connection's queues: its chunk queue for the bytes, its
    /// chat queue for an abort.
    pub outbox: Outbox,
    /// The recipient's session, or 0 for a room-wide copy (which crosses a
    /// gateway link once for all its sessions).
    pub session: SessionId,
    /// The members this copy reaches, each with its `left` token.
    pub names: Vec<(String, CancellationToken)>,
}

/// Why a whole transfer failed; the sender gets `file_failed` without `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// An open transfer from one sender.
#[derive(Debug)]
pub struct Transfer {
    /// The sender's id for it.
    pub id: u32,
    /// The server's id for it, as recipients know it.
    pub transfer: u64,
    /// Offered size: more bytes, or fewer at the end, is a mismatch.
    size: u64,
    /// Offered SHA-256, lower-case hex.
    sha256: String,
    /// Bytes received so far.
    received: u64,
    /// Running hash of the bytes received.
    hasher: Sha256,
    /// For an image whose first bytes are not yet checked: the chunks so far
    /// (at most `SNIFF_LEN` bytes' worth, plus one chunk), held back until the
    /// magic bytes decide. `None` once decided, or for plain files.
    held: Option<Vec<Bytes>>,
    /// The copies, their credit and the sender's.
    relay: Relay,
    /// When the sender last sent a chunk (or offered).
    last_chunk: Instant,
}

impl Transfer {
    pub fn new(
        id: u32,
        transfer: u64,
        kind: FileKind,
        size: u64,
        sha256: String,
        relay: Relay,
    ) -> Transfer {
        Transfer {
            id,
            transfer,
            size,
            sha256,
            received: 0,
            hasher: Sha256::new(),
            held: (kind == FileKind::Image).then(Vec::new),
            relay,
            last_chunk: Instant::now(),
        }
    }

    /// The sender has had credit and sent nothing for `timeout` (a sender
    /// waiting for credit is not idle: its clock restarts at each grant).
    pub fn sender_idle(&self, timeout: Duration) -> bool {
        let granted_at = self.relay.granted_at();
        !self.is_done()
            && self.received < self.relay.granted()
            && self.last_chunk.max(granted_at).elapsed() >= timeout
    }

    /// Aborts the copies whose recipients owe credit and have been quiet for
    /// `timeout` (see [`Relay::expire_idle_copies`]).
    pub fn expire_idle_copies(&self, timeout: Duration) {
        self.relay.expire_idle_copies(timeout);
    }

    /// Every copy is finished: nothing the sender sends matters any more.
    pub fn is_done(&self) -> bool {
        self.relay.is_done()
    }

    /// Relays one chunk (or holds it while an image's kind is undecided).
    pub fn chunk(&mut self, bytes: Bytes) -> Result<(), Failure> {
        if bytes.is_empty() {
            return Ok(());
        }
        let granted = self.relay.granted();
        self.last_chunk = Instant::now();
        self.received += bytes.len() as u64;
        if self.received > granted {
            return Err(Failure::new(
                ErrorCode::CreditExceeded,
                format!(
                    "{} bytes sent with credit for {granted}: wait for file_credit",
                    self.received
                ),
            ));
        }
        if self.received > self.size {
            return Err(Failure::new(
                ErrorCode::ChecksumMismatch,
                format!("more bytes than the offered {}", self.size),
            ));
        }
        self.hasher.update(&bytes);
        match &mut self.held {
            None => self.relay.push(bytes),
            Some(held) => {
                held.push(bytes);
                let held_len: usize = held.iter().map(Bytes::len).sum();
                if held_len >= SNIFF_LEN {
                    self.release_held()?;
                }
            }
        }
        Ok(())
    }

    /// Checks the held head of an image, then relays what was held.
    fn release_held(&mut self) -> Result<(), Failure> {
        let held = self.held.take().unwrap_or_default();
        let head: Vec<u8> = held
            .iter()
            .flat_map(|b| b.iter().copied())
            .take(SNIFF_LEN)
            .collect();
        if sniff_image(&head).is_none() {
            return Err(Failure::new(
                ErrorCode::NotAnImage,
                "not a png, jpeg, gif or webp image (checked by its first bytes)",
            ));
        }
        for bytes in held {
            self.relay.push(bytes);
        }
        Ok(())
    }

    /// The sender's `file_end`: checks size and hash, then lets every copy
    /// end after its last chunk. Returns the relay, which lives on until
    /// every copy has caught up.
    pub fn end(&mut self) -> Result<Relay, Failure> {
        if self.held.is_some() {
            self.release_held()?;
        }
        let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if self.received != self.size || digest != self.sha256 {
            let failure = Failure::new(
                ErrorCode::ChecksumMismatch,
                format!(
                    "received {} bytes with SHA-256 {digest}, offered {} bytes with {}",
                    self.received, self.size, self.sha256
                ),
            );
            return Err(failure);
        }
        self.relay.end();
        Ok(self.relay.clone())
    }

    /// Tells every remaining recipient the transfer is off.
    pub fn abort(&mut self, code: ErrorCode, message: &str) {
        self.relay.abort(code, message);
    }
}
