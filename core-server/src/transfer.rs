//! One file being relayed, seen from its sender's connection: counting and
//! hashing the bytes as they pass, checking an image's magic bytes, and handing
//! each chunk to every recipient's chunk queue with backpressure.
//!
//! The server never holds a file: a chunk is encoded once (per session id; a
//! room-wide chunk once for all links) and its `Bytes` shared by the queues.
//! When a recipient's chunk queue is full, the sender's reader waits (it reads
//! no more frames from that connection) up to `file_stall_timeout`; then only
//! that recipient's copy is aborted, so one stuck reader cannot hold a transfer.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::{sync::mpsc::error::TrySendError, time::Instant};
use tokio_util::sync::CancellationToken;

use protocol::{
    ErrorCode, FileKind, SNIFF_LEN, ServerMsg, SessionId,
    codec::{Encoded, encode},
    sniff_image,
};

use crate::{
    notice::failed,
    outbox::{ChunkItem, Delivery, Outbox},
};

/// One copy of a file being relayed: a connection, the session id to stamp on
/// its frames and the members it reaches. The room picks them (`offer_file`);
/// the transfer relays to them.
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

/// What a relaying transfer needs from its connection.
pub struct Ctx<'a> {
    /// The sender's own queue, for per-recipient notices.
    pub sender: &'a Outbox,
    /// The sender's session.
    pub session: SessionId,
    /// How long one chunk may wait for full recipient queues.
    pub stall_timeout: std::time::Duration,
    /// Cancelled when the sender's connection ends (shutdown or kill): stop
    /// waiting on recipients.
    pub stop: &'a CancellationToken,
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
    /// The copies still being relayed.
    copies: Vec<RecipientCopy>,
}

impl Transfer {
    pub fn new(
        id: u32,
        transfer: u64,
        kind: FileKind,
        size: u64,
        sha256: String,
        copies: Vec<RecipientCopy>,
    ) -> Transfer {
        Transfer {
            id,
            transfer,
            size,
            sha256,
            received: 0,
            hasher: Sha256::new(),
            held: (kind == FileKind::Image).then(Vec::new),
            copies,
        }
    }

    /// Relays one chunk (or holds it while an image's kind is undecided).
    pub async fn chunk(&mut self, bytes: Bytes, ctx: &Ctx<'_>) -> Result<(), Failure> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.received += bytes.len() as u64;
        if self.received > self.size {
            return Err(Failure::new(
                ErrorCode::ChecksumMismatch,
                format!("more bytes than the offered {}", self.size),
            ));
        }
        self.hasher.update(&bytes);
        match &mut self.held {
            None => self.relay_chunk(bytes, ctx).await,
            Some(held) => {
                held.push(bytes);
                let held_len: usize = held.iter().map(Bytes::len).sum();
                if held_len >= SNIFF_LEN {
                    self.release_held(ctx).await
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Checks the held head of an image, then relays what was held.
    async fn release_held(&mut self, ctx: &Ctx<'_>) -> Result<(), Failure> {
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
            self.relay_chunk(bytes, ctx).await?;
        }
        Ok(())
    }

    async fn relay_chunk(&mut self, bytes: Bytes, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let transfer = self.transfer;
        let msg = ServerMsg::FileChunk { transfer };
        self.relay(ctx, |session| encode(session, &msg, &bytes), |_| None)
            .await;
        Ok(())
    }

    /// The sender's `file_end`: checks size and hash, then queues the end
    /// behind the chunks of every copy.
    pub async fn end(mut self, ctx: &Ctx<'_>) -> Result<(), (Failure, Transfer)> {
        if self.held.is_some()
            && let Err(f) = self.release_held(ctx).await
        {
            return Err((f, self));
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
            return Err((failure, self));
        }
        let transfer = self.transfer;
        let msg = ServerMsg::FileEnd { transfer };
        let (id, sender) = (self.id, ctx.sender.clone());
        self.relay(
            ctx,
            |session| encode(session, &msg, &[]),
            |copy| {
                Some(Box::new(Delivery::new(
                    sender.clone(),
                    ctx.session,
                    id,
                    copy.names.clone(),
                )))
            },
        )
        .await;
        Ok(())
    }

    /// Tells every remaining recipient the transfer is off.
    pub fn abort(&mut self, code: ErrorCode, message: &str) {
        for copy in self.copies.drain(..) {
            copy.outbox
                .send_abort(copy.session, self.transfer, code, message);
        }
    }

    /// Queues one frame to every copy, waiting (backpressure) on full queues
    /// until a shared deadline. Copies whose members all left, whose connection
    /// closed, or that stayed full past the deadline are dropped, and the sender
    /// is told for each name.
    async fn relay(
        &mut self,
        ctx: &Ctx<'_>,
        frame_for: impl Fn(SessionId) -> Encoded,
        delivery_for: impl Fn(&RecipientCopy) -> Option<Box<Delivery>>,
    ) {
        let deadline = Instant::now() + ctx.stall_timeout;
        // Encode once per session id: a room-wide chunk (session 0) once for all.
        let mut encoded: Vec<(SessionId, Encoded)> = Vec::with_capacity(1);
        let mut i = 0;
        while i < self.copies.len() {
            let copy = &mut self.copies[i];
            // Members that left are told about now.
            copy.names.retain(|(name, left)| {
                let gone = left.is_cancelled();
                if gone {
                    ctx.sender.send_msg(
                        ctx.session,
                        &failed(self.id, name, ErrorCode::RecipientLeft),
                    );
                }
                !gone
            });
            if copy.names.is_empty() {
                let copy = self.copies.swap_remove(i);
                copy.outbox.send_abort(
                    copy.session,
                    self.transfer,
                    ErrorCode::RecipientLeft,
                    "you left",
                );
                continue;
            }
            let frame = match encoded.iter().find(|(s, _)| *s == copy.session) {
                Some((_, f)) => f.clone(),
                None => {
                    let f = frame_for(copy.session);
                    encoded.push((copy.session, f.clone()));
                    f
                }
            };
            let item = ChunkItem {
                transfer: self.transfer,
                frame,
                delivery: delivery_for(copy),
            };
            let outcome = match copy.outbox.chunks().try_send(item) {
                Ok(()) => Outcome::Queued,
                Err(TrySendError::Closed(item)) => {
                    disarm(item);
                    Outcome::Gone
                }
                Err(TrySendError::Full(item)) => {
                    // Backpressure: wait for room, but not past the deadline.
                    // `reserve` keeps the item here, so a give-up can disarm it.
                    let single_left = (copy.names.len() == 1).then(|| copy.names[0].1.clone());
                    let chunks = copy.outbox.chunks();
                    tokio::select! {
                        reserved = tokio::time::timeout_at(deadline, chunks.reserve()) => {
                            match reserved {
                                Ok(Ok(permit)) => {
                                    permit.send(item);
                                    Outcome::Queued
                                }
                                Ok(Err(_closed)) => {
                                    disarm(item);
                                    Outcome::Gone
                                }
                                Err(_elapsed) => {
                                    disarm(item);
                                    Outcome::Stalled
                                }
                            }
                        }
                        _ = async { match &single_left {
                            Some(left) => left.cancelled().await,
                            None => std::future::pending().await,
                        }} => {
                            disarm(item);
                            Outcome::Gone
                        }
                        _ = ctx.stop.cancelled() => {
                            disarm(item);
                            return;
                        }
                        _ = ctx.sender.killed() => {
                            disarm(item);
                            return;
                        }
                    }
                }
            };
            match outcome {
                Outcome::Queued => i += 1,
                Outcome::Gone => {
                    let copy = self.copies.swap_remove(i);
                    for (name, _) in &copy.names {
                        ctx.sender.send_msg(
                            ctx.session,
                            &failed(self.id, name, ErrorCode::RecipientLeft),
                        );
                    }
                    copy.outbox.send_abort(
                        copy.session,
                        self.transfer,
                        ErrorCode::TransferAborted,
                        "the recipient left",
                    );
                }
                Outcome::Stalled => {
                    let copy = self.copies.swap_remove(i);
                    tracing::info!(
                        transfer = self.transfer,
                        "recipient copy stalled; aborting it"
                    );
                    for (name, _) in &copy.names {
                        ctx.sender
                            .send_msg(ctx.session, &failed(self.id, name, ErrorCode::SlowConsumer));
                    }
                    copy.outbox.send_abort(
                        copy.session,
                        self.transfer,
                        ErrorCode::SlowConsumer,
                        "you did not read the file in time",
                    );
                }
            }
        }
    }
}

/// Drops an item that will not be queued without its delivery notice: the
/// caller tells the sender why instead.
fn disarm(item: ChunkItem) {
    if let Some(delivery) = item.delivery {
        (*delivery).disarm();
    }
}

enum Outcome {
    Queued,
    Gone,
    Stalled,
}
