//! The writer task: drains a connection's feed (room stream and own queue)
//! and then its chunks onto its socket, batching small frames so a burst of
//! events costs one write.
//!
//! A child of `outbox` because it is the queues' other end: it reads their
//! private state (the kill token and reason, the feed's wait).

use std::{collections::VecDeque, time::Duration};

use tokio::{io::AsyncWriteExt, net::tcp::OwnedWriteHalf};
use tokio_util::sync::CancellationToken;

use protocol::{
    ErrorCode, LINK_SESSION,
    codec::{Encoded, encode},
};

use super::{ChatItem, Outbox, Queues};
use crate::notice::bye_msg;

/// Frames written per turn of the loop before it looks at its other work.
const FRAMES_PER_TURN: usize = 256;

/// How many recently aborted transfers the writer remembers to skip chunks of.
const REMEMBERED_ABORTS: usize = 64;

/// Writer task: drains the queues onto the socket, the feed first, until
/// `close` (drain the feed, then stop) or a kill (try to say `bye`, then stop).
/// Everything it writes is a whole frame, so a `bye` is always at a boundary.
pub async fn write_loop(
    socket: OwnedWriteHalf,
    mut queues: Queues,
    outbox: Outbox,
    close: CancellationToken,
    bye_timeout: Duration,
) {
    let mut out = Out {
        socket,
        batch: Vec::new(),
    };
    let mut aborted: VecDeque<u64> = VecDeque::new();
    let result: std::io::Result<()> = async {
        loop {
            tokio::select! {
                biased;
                _ = outbox.kill.token.cancelled() => {
                    if let Some(code) = outbox.kill.reason.get() {
                        let bye = encode(LINK_SESSION, &bye_msg(*code), &[]);
                        // The peer may not be reading: try briefly, then give up.
                        let _ = tokio::time::timeout(bye_timeout, async {
                            out.put(&bye).await?;
                            out.flush().await
                        })
                        .await;
                    }
                    return Ok(());
                }
                _ = close.cancelled() => {
                    // The connection has left the room: its feed ends.
                    while let Ok(Some(item)) = queues.feed.try_next() {
                        write_chat(&mut out, item, &mut aborted).await?;
                    }
                    out.flush().await?;
                    return out.socket.shutdown().await;
                }
                item = queues.feed.next() => {
                    // Then whatever else is due at once, in one batch; a turn
                    // is bounded so a flood still lets kill, close and chunks in.
                    let mut item = item;
                    for turn in 1.. {
                        match item {
                            Ok(chat) => write_chat(&mut out, chat, &mut aborted).await?,
                            // More than the room buffer behind: dropped (the
                            // kill branch says `bye` on the next turn).
                            Err(_) => {
                                outbox.kill(ErrorCode::SlowConsumer);
                                break;
                            }
                        }
                        if turn == FRAMES_PER_TURN {
                            // Send what this turn batched: if nothing more
                            // arrives, the next turn waits, and these frames
                            // must not wait with it.
                            out.flush().await?;
                            break;
                        }
                        item = match queues.feed.try_next() {
                            Ok(Some(chat)) => Ok(chat),
                            Ok(None) => {
                                // Nothing more is due now: send the batch.
                                if queues.chunks.is_empty() {
                                    out.flush().await?;
                                    out.release();
                                }
                                break;
                            }
                            Err(lagged) => Err(lagged),
                        };
                    }
                }
                Some(item) = queues.chunks.recv() => {
                    // Anything queued for chat before this chunk goes first: this
                    // also keeps a `file` event ahead of its first chunk.
                    loop {
                        match queues.feed.try_next() {
                            Ok(Some(chat)) => write_chat(&mut out, chat, &mut aborted).await?,
                            Ok(None) => break,
                            Err(_) => {
                                outbox.kill(ErrorCode::SlowConsumer);
                                break;
                            }
                        }
                    }
                    // A chunk of an aborted transfer is dropped (and with it
                    // its delivery, which tells the sender it failed).
                    if !aborted.contains(&item.transfer) {
                        out.put(&item.frame).await?;
                        if let Some(delivery) = item.delivery {
                            out.flush().await?;
                            (*delivery).written();
                        }
                    }
                    if queues.chunks.is_empty() {
                        out.flush().await?;
                        out.release();
                    }
                }
                else => return out.socket.shutdown().await,
            }
        }
    }
    .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "write failed");
        outbox.kill.token.cancel();
    }
}

async fn write_chat(
    out: &mut Out,
    item: ChatItem,
    aborted: &mut VecDeque<u64>,
) -> std::io::Result<()> {
    match item {
        ChatItem::Frame(frame) => out.put(&frame).await,
        ChatItem::Abort { transfer, frame } => {
            if aborted.len() == REMEMBERED_ABORTS {
                aborted.pop_front();
            }
            aborted.push_back(transfer);
            out.put(&frame).await
        }
        // Taken by the feed itself.
        ChatItem::Subscribe | ChatItem::Unsubscribe => Ok(()),
    }
}

/// Frames at least this long are written directly instead of being copied into
/// the batch (file chunks, big welcomes).
const DIRECT_WRITE: usize = 16 * 1024;
/// A batch this long is written out even if more frames are waiting.
const BATCH: usize = 64 * 1024;

/// The socket plus a batch of small frames, so a burst of events costs one
/// write. Unlike a `BufWriter`, the batch is allocated only while there is
/// something to send and released when the queues are idle: an idle
/// connection costs no write buffer.
struct Out {
    socket: OwnedWriteHalf,
    /// Small frames waiting to be written together; only whole frames.
    batch: Vec<u8>,
}

impl Out {
    async fn put(&mut self, frame: &Encoded) -> std::io::Result<()> {
        if frame.len() >= DIRECT_WRITE {
            self.flush().await?;
            return self.socket.write_all(&frame.0).await;
        }
        self.batch.extend_from_slice(&frame.0);
        if self.batch.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.batch.is_empty() {
            self.socket.write_all(&self.batch).await?;
            self.batch.clear();
        }
        Ok(())
    }

    /// Gives the batch's memory back (called when idle).
    fn release(&mut self) {
        if self.batch.capacity() > 4096 {
            self.batch = Vec::new();
        }
    }
}
