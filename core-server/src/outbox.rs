//! A connection's outbound side: what it reads of the room stream, its own
//! bounded queues, and the writer task that drains them onto the socket.
//!
//! - The **room stream** (`outbox/stream.rs`) carries room-wide frames once for
//!   everyone; each connection's writer reads it with its own cursor. Falling
//!   more than `--room-buffer` behind it is `slow_consumer`.
//! - The **own queue** carries what is for this connection only: replies,
//!   welcomes, private events, file events, pings, aborts. It is bounded in
//!   bytes (`--outbound-queue`, `--gateway-queue` for a link); over the bound
//!   the peer has stopped reading and is killed (`slow_consumer`) rather than
//!   let it stall anyone or grow memory. Senders never wait (safe under the
//!   room's mutex). Each frame is tagged with the stream's end when queued, and
//!   the writer merges the two in that order: nothing overtakes what was
//!   queued before it, so events keep their seq order.
//! - The **chunk queue** carries file chunks and file ends. Nobody ever waits
//!   on it: what a transfer may queue for one recipient is bounded by that
//!   recipient's credit (at most `--file-window` bytes per transfer, see
//!   `transfer/relay.rs`), not by the queue.
//!
//! The writer always empties the room stream and its own queue before taking
//! a chunk, so a chat message overtakes a file in flight instead of queueing
//! behind it.
//!
//! Here: the queues and the [`Outbox`] handle. `outbox/stream.rs`: the room
//! stream. `outbox/writer.rs`: the writer task. `outbox/delivery.rs`: the
//! notice a queued `file_end` carries back to its sender.

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
mod stream;
mod writer;

pub use delivery::Delivery;
pub use stream::{ENTRY_OVERHEAD, ReaderId, RoomStream};
pub use writer::write_loop;

/// A frame (or a marker) for the own queue.
#[derive(Debug)]
pub enum ChatItem {
    /// Any frame.
    Frame(Encoded),
    /// A `file_abort`: once written, chunks of `transfer` still queued are
    /// skipped, so the peer never sees bytes of an aborted transfer after it.
    Abort { transfer: u64, frame: Encoded },
    /// The connection now carries a member: read the room stream from here.
    Subscribe,
    /// It carries none any more: read the stream only up to here.
    Unsubscribe,
}

impl ChatItem {
    /// What it counts against the queue's bound.
    fn size(&self) -> usize {
        ENTRY_OVERHEAD
            + match self {
                ChatItem::Frame(f) | ChatItem::Abort { frame: f, .. } => f.len(),
                ChatItem::Subscribe | ChatItem::Unsubscribe => 0,
            }
    }
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

/// Ends a connection at once: the token both its reader and writer watch,
/// and why (the first reason wins; the writer tells the peer).
#[derive(Debug, Clone, Default)]
pub(crate) struct Kill {
    token: CancellationToken,
    reason: Arc<OnceLock<ErrorCode>>,
}

impl Kill {
    pub(crate) fn kill(&self, code: ErrorCode) {
        let _ = self.reason.set(code);
        self.token.cancel();
    }
}

/// The sending half of a connection's queues: a cheap clone that the room, and
/// transfers that relay to this connection, hold.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// Frames for this connection only (bounded; over it the peer is not reading).
    chat: Arc<ChatQueue>,
    /// File chunks and ends (bounded in bytes by each transfer's credit).
    chunks: mpsc::UnboundedSender<ChunkItem>,
    /// Cancelled when the connection must end at once: its peer stopped reading
    /// or its socket failed. Both the reader and the writer watch it.
    kill: Kill,
    /// How many bytes may wait in the own queue before the peer counts as not
    /// reading. A gateway link gets a larger bound, set when its hello is
    /// accepted.
    chat_bound: usize,
    /// The room stream, whose end tags every queued frame.
    stream: RoomStream,
    /// This connection's reader id in the stream (what a room frame names to
    /// skip it).
    reader: ReaderId,
}

/// The receiving half, owned by the writer task.
#[derive(Debug)]
pub struct Queues {
    /// The room stream and the own queue, merged in order.
    pub(crate) feed: Feed,
    /// File chunks and ends, drained when the feed is empty.
    pub(crate) chunks: mpsc::UnboundedReceiver<ChunkItem>,
}

/// What the writer reads before chunks: the room stream (while the connection
/// carries a member) merged with the own queue, in the order things were queued.
#[derive(Debug)]
pub(crate) struct Feed {
    chat: Arc<ChatQueue>,
    /// `None` for an outbox that is never read (a unit test's).
    reader: Option<stream::Reader>,
    /// Next stream position to read, while subscribed.
    cursor: Option<u64>,
    /// Stream frames already copied out, all due before anything still queued.
    pending: VecDeque<Encoded>,
}

/// The own queue: a byte-bounded FIFO shared by the senders and the writer.
///
/// Not a tokio `mpsc`: that one keeps the memory of its largest backlog for
/// the life of the channel, so every connection would keep what a burst once
/// queued. This one gives its memory back whenever the writer has emptied it.
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
    /// Each item with the room stream's end when it was queued: stream entries
    /// before that position go out before it.
    items: VecDeque<(u64, ChatItem)>,
    /// Bytes queued (sizes as [`ChatItem::size`]).
    bytes: usize,
    /// Set when the writer has stopped: nothing queued would be sent.
    closed: bool,
}

/// Keep a drained queue's buffer only if it is this small.
const KEEP_CAPACITY: usize = 16;

impl ChatQueue {
    fn lock(&self) -> MutexGuard<'_, ChatState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next item and its tag, if one is queued.
    fn try_recv(&self) -> Option<(u64, ChatItem)> {
        let mut state = self.lock();
        let item = state.items.pop_front();
        if let Some((_, item)) = &item {
            state.bytes -= item.size();
        }
        if state.items.is_empty() && state.items.capacity() > KEEP_CAPACITY {
            state.items = VecDeque::new();
        }
        item
    }

    /// The tag of the next item, if one is queued.
    fn front_tag(&self) -> Option<u64> {
        self.lock().items.front().map(|(tag, _)| *tag)
    }
}

/// Stream frames copied out at once (about; a batch of the writer's size).
const READ_BATCH: usize = 64 * 1024;

impl Feed {
    /// The next frame due, without waiting: stream entries queued before the
    /// own queue's next item first. `Err` when the connection fell more than
    /// the room buffer behind.
    pub(crate) fn try_next(&mut self) -> Result<Option<ChatItem>, stream::Lagged> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Ok(Some(ChatItem::Frame(frame)));
            }
            if let (Some(cursor), Some(reader)) = (self.cursor, &self.reader) {
                let until = self.chat.front_tag().unwrap_or(u64::MAX);
                if cursor < until {
                    let next = reader.read(cursor, until, READ_BATCH, &mut self.pending)?;
                    if next != cursor {
                        self.cursor = Some(next);
                        reader.set_cursor(self.cursor);
                        continue;
                    }
                }
            }
            match self.chat.try_recv() {
                None => return Ok(None),
                Some((tag, ChatItem::Subscribe)) => self.set_cursor(Some(tag)),
                Some((_, ChatItem::Unsubscribe)) => self.set_cursor(None),
                Some((_, item)) => return Ok(Some(item)),
            }
        }
    }

    fn set_cursor(&mut self, cursor: Option<u64>) {
        self.cursor = cursor;
        if let Some(reader) = &self.reader {
            reader.set_cursor(cursor);
        }
    }

    /// Waits for the next frame. Cancel-safe: what was taken stays in `self`.
    pub(crate) async fn next(&mut self) -> Result<ChatItem, stream::Lagged> {
        let chat = self.chat.clone();
        loop {
            // Only a subscribed writer is woken by the room's appends.
            let subscribed = self.cursor.is_some();
            let stream = self
                .reader
                .as_ref()
                .filter(|_| self.cursor.is_some())
                .map(|r| r.stream().clone());
            let appended = async {
                match &stream {
                    Some(stream) => {
                        let notified = stream.appended();
                        tokio::pin!(notified);
                        // Registered before looking, so an append in between
                        // still wakes us (`notify_waiters` stores no permit).
                        notified.as_mut().enable();
                        notified.await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(appended);
            // Poll once so the registration happens before the check below.
            let woken = futures_util::poll!(appended.as_mut()).is_ready();
            if let Some(item) = self.try_next()? {
                return Ok(item);
            }
            // A (un)subscribe just taken changes what must wake us: look again.
            if !woken && self.cursor.is_some() == subscribed {
                tokio::select! {
                    _ = chat.ready.notified() => {}
                    _ = appended => {}
                }
            }
        }
    }
}

impl Drop for Queues {
    fn drop(&mut self) {
        let mut state = self.feed.chat.lock();
        state.closed = true;
        state.items = VecDeque::new();
        state.bytes = 0;
    }
}

/// Creates a connection's queues: its own queue bounded to `chat_bound` bytes,
/// reading `stream` once it carries a member.
pub fn channel(stream: &RoomStream, chat_bound: usize) -> (Outbox, Queues) {
    let (outbox, mut queues) = unread_channel(stream, chat_bound);
    let reader = stream.register(outbox.kill.clone());
    // The unread id is replaced by the registered one.
    let outbox = Outbox {
        reader: reader.id,
        ..outbox
    };
    queues.feed.reader = Some(reader);
    (outbox, queues)
}

/// Like [`channel`], but the stream is never read (for unit tests of the own
/// queue and of what the room puts in the stream).
pub fn unread_channel(stream: &RoomStream, chat_bound: usize) -> (Outbox, Queues) {
    let chat = Arc::new(ChatQueue::default());
    let (chunk_tx, chunk_rx) = mpsc::unbounded_channel();
    let outbox = Outbox {
        chat: chat.clone(),
        chunks: chunk_tx,
        kill: Kill::default(),
        chat_bound,
        stream: stream.clone(),
        reader: stream.next_id(),
    };
    let queues = Queues {
        feed: Feed {
            chat,
            reader: None,
            cursor: None,
            pending: VecDeque::new(),
        },
        chunks: chunk_rx,
    };
    (outbox, queues)
}

impl Outbox {
    /// Queues a frame for this connection without waiting. If the queue is
    /// over its bound the peer is not reading: it is killed with
    /// `slow_consumer`. Returns whether the frame was queued.
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

    /// From the stream's current end on, this connection gets room frames
    /// (it carries a member now). Called under the room's lock.
    pub fn subscribe(&self) {
        self.send_item(ChatItem::Subscribe);
    }

    /// Room frames appended from now on are not for this connection (its last
    /// member left). Called under the room's lock.
    pub fn unsubscribe(&self) {
        self.send_item(ChatItem::Unsubscribe);
    }

    /// This connection's id in the room stream.
    pub fn reader(&self) -> ReaderId {
        self.reader
    }

    /// Changes the own queue's bound (bytes). Only for the connection's own
    /// handle, before it is shared.
    pub fn set_chat_bound(&mut self, bound: usize) {
        self.chat_bound = bound;
    }

    fn send_item(&self, item: ChatItem) -> bool {
        let mut state = self.chat.lock();
        if state.closed {
            return false;
        }
        // One frame always fits under the bound (a welcome may be bigger than
        // it); a queue already at its bound means the peer stopped reading.
        let marker = matches!(item, ChatItem::Subscribe | ChatItem::Unsubscribe);
        if !marker && state.bytes >= self.chat_bound {
            drop(state);
            self.kill(ErrorCode::SlowConsumer);
            return false;
        }
        // Tagged under the queue's lock, so tags never decrease along it.
        let tag = self.stream.end();
        state.bytes += item.size();
        state.items.push_back((tag, item));
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
        self.kill.kill(code);
    }

    /// Why the connection was killed, if it was and the peer is told.
    pub fn kill_reason(&self) -> Option<ErrorCode> {
        self.kill.reason.get().copied()
    }

    /// Resolves when the connection has been killed.
    pub async fn killed(&self) {
        self.kill.token.cancelled().await
    }
}
