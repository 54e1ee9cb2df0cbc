//! A connection's outbound side: two bounded queues and the writer task that
//! drains them onto the socket.
//!
//! - The **chat queue** carries everything but file bytes: events, replies,
//!   pings, aborts. It is bounded; when it is full the peer has stopped reading,
//!   and the connection is killed (`slow_consumer`) rather than let it stall the
//!   sender or grow memory. Senders only ever `try_send` into it, so nobody waits
//!   on a slow reader (and it is safe under the room's mutex).
//! - The **chunk queue** carries file chunks and file ends. Nobody ever waits
//!   on it: what a transfer may queue for one recipient is bounded by that
//!   recipient's credit (at most `--file-window` bytes per transfer, see
//!   `transfer/relay.rs`), not by the queue.
//!
//! The writer always empties the chat queue before taking a chunk, so a chat
//! message overtakes a file in flight instead of queueing behind it.
//!
//! Here: the queues and the [`Outbox`] handle. `outbox/writer.rs`: the writer
//! task. `outbox/delivery.rs`: the notice a queued `file_end` carries back to
//! its sender.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use protocol::{
    ErrorCode, ServerMsg,
    codec::{Encoded, encode},
};

mod delivery;
mod writer;

pub use delivery::Delivery;
pub use writer::write_loop;

/// A frame for the chat queue.
#[derive(Debug)]
pub enum ChatItem {
    /// Any frame.
    Frame(Encoded),
    /// A `file_abort`: once written, chunks of `transfer` still queued are
    /// skipped, so the peer never sees bytes of an aborted transfer after it.
    Abort { transfer: u64, frame: Encoded },
}

/// A frame for the chunk queue: a `file_chunk` or `file_end` of one transfer.
#[derive(Debug)]
pub struct ChunkItem {
    /// Which transfer this belongs to (to skip it after an abort).
    pub transfer: u64,
    pub frame: Encoded,
    /// Set on a `file_end`: tells the sender once the end is written. Boxed
    /// to keep queue slots small (the queue allocates slots in blocks).
    pub delivery: Option<Box<Delivery>>,
}

/// The sending half of a connection's queues: a cheap clone that the room, and
/// transfers that relay to this connection, hold.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// Chat and control frames (bounded; full means the peer is not reading).
    chat: Arc<ChatQueue>,
    /// File chunks and ends (bounded in bytes by each transfer's credit).
    chunks: mpsc::UnboundedSender<ChunkItem>,
    /// Cancelled when the connection must end at once: its peer stopped reading
    /// or its socket failed. Both the reader and the writer watch it.
    kill: CancellationToken,
    /// Why `kill` was cancelled, if the peer should be told (first reason wins).
    kill_reason: Arc<OnceLock<ErrorCode>>,
    /// How many chat frames may wait before the peer counts as not reading.
    /// A gateway link gets a larger bound, set when its hello is accepted.
    chat_bound: usize,
}

/// The receiving half, owned by the writer task.
#[derive(Debug)]
pub struct Queues {
    /// Chat and control frames, drained first.
    pub(crate) chat: Arc<ChatQueue>,
    /// File chunks and ends, drained when chat is empty.
    pub(crate) chunks: mpsc::UnboundedReceiver<ChunkItem>,
}

/// The chat queue: a bounded FIFO shared by the senders and the writer.
///
/// Not a tokio `mpsc`: that one keeps the memory of its largest backlog for
/// the life of the channel, so every connection would keep what a burst (say,
/// a thousand users joining at once) once queued. This one gives its memory
/// back whenever the writer has emptied it.
#[derive(Debug, Default)]
pub struct ChatQueue {
    /// The frames, and whether the writer is gone. A std mutex: held only to
    /// push or pop, never across an `.await`.
    state: Mutex<ChatState>,
    /// Wakes the writer when a frame is queued (a stored permit means no
    /// wake-up is lost between its check and its wait).
    ready: Notify,
}

#[derive(Debug, Default)]
struct ChatState {
    items: VecDeque<ChatItem>,
    /// Set when the writer has stopped: nothing queued would be sent.
    closed: bool,
}

/// Keep a drained queue's buffer only if it is this small.
const KEEP_CAPACITY: usize = 16;

impl ChatQueue {
    fn lock(&self) -> MutexGuard<'_, ChatState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next frame, if one is queued.
    pub(crate) fn try_recv(&self) -> Option<ChatItem> {
        let mut state = self.lock();
        let item = state.items.pop_front();
        if state.items.is_empty() && state.items.capacity() > KEEP_CAPACITY {
            state.items = VecDeque::new();
        }
        item
    }

    /// Waits for the next frame. Cancel-safe: a frame is only taken in the
    /// same poll that returns it.
    async fn recv(&self) -> ChatItem {
        loop {
            if let Some(item) = self.try_recv() {
                return item;
            }
            self.ready.notified().await;
        }
    }

    fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }
}

impl Drop for Queues {
    fn drop(&mut self) {
        let mut state = self.chat.lock();
        state.closed = true;
        state.items = VecDeque::new();
    }
}

/// Creates a connection's queues with the chat queue's bound (in frames).
pub fn channel(chat_bound: usize) -> (Outbox, Queues) {
    let chat = Arc::new(ChatQueue::default());
    let (chunk_tx, chunk_rx) = mpsc::unbounded_channel();
    let outbox = Outbox {
        chat: chat.clone(),
        chunks: chunk_tx,
        kill: CancellationToken::new(),
        kill_reason: Arc::new(OnceLock::new()),
        chat_bound,
    };
    let queues = Queues {
        chat,
        chunks: chunk_rx,
    };
    (outbox, queues)
}

impl Outbox {
    /// Queues a chat/control frame without waiting. If the queue is full the
    /// peer is not reading: it is killed with `slow_consumer`. Returns whether
    /// the frame was queued.
    pub fn send(&self, frame: Encoded) -> bool {
        self.send_item(ChatItem::Frame(frame))
    }

    /// Queues a message for one session (encodes it for this connection only).
    pub fn send_msg(&self, session: u32, msg: &ServerMsg) -> bool {
        self.send(encode(session, msg, &[]))
    }

    /// Queues a `file_abort` (see [`ChatItem::Abort`]).
    pub fn send_abort(&self, session: u32, transfer: u64, code: ErrorCode, message: &str) -> bool {
        let msg = ServerMsg::FileAbort {
            transfer,
            code,
            message: message.to_string(),
        };
        self.send_item(ChatItem::Abort {
            transfer,
            frame: encode(session, &msg, &[]),
        })
    }

    /// Changes the chat queue's bound. Only for the connection's own handle,
    /// before it is shared.
    pub fn set_chat_bound(&mut self, bound: usize) {
        self.chat_bound = bound;
    }

    fn send_item(&self, item: ChatItem) -> bool {
        let mut state = self.chat.lock();
        if state.closed {
            return false;
        }
        if state.items.len() >= self.chat_bound {
            drop(state);
            self.kill(ErrorCode::SlowConsumer);
            return false;
        }
        state.items.push_back(item);
        drop(state);
        self.chat.ready.notify_one();
        true
    }

    /// Queues a file chunk or end without waiting (the transfer's credit is
    /// what bounds it). Returns whether the connection still takes frames.
    pub fn send_chunk(&self, item: ChunkItem) -> bool {
        match self.chunks.send(item) {
            Ok(()) => true,
            Err(mpsc::error::SendError(item)) => {
                if let Some(delivery) = item.delivery {
                    (*delivery).disarm();
                }
                false
            }
        }
    }

    /// Whether `other` is a handle to the same connection's queues.
    pub fn same(&self, other: &Outbox) -> bool {
        Arc::ptr_eq(&self.chat, &other.chat)
    }

    /// Ends the connection at once, telling the peer `code` if the socket lets.
    pub fn kill(&self, code: ErrorCode) {
        let _ = self.kill_reason.set(code);
        self.kill.cancel();
    }

    /// Why the connection was killed, if it was and the peer is told.
    pub fn kill_reason(&self) -> Option<ErrorCode> {
        self.kill_reason.get().copied()
    }

    /// Resolves when the connection has been killed.
    pub async fn killed(&self) {
        self.kill.cancelled().await
    }
}
