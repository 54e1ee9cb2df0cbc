//! The room stream: ONE ring of already-encoded room-wide frames (messages,
//! joins, leaves) that every member's writer reads with its own cursor, at the
//! pace of its own socket.
//!
//! Why: with a queue per member, a burst of N room frames costs N slots in
//! every member's queue, so a flood by strangers overflowed the queue of a
//! member that was reading as fast as it could. Here a room frame costs one
//! entry whoever reads it, memory is bounded by the ring (`--room-buffer`), not
//! by members × queue, and a member is dropped (`slow_consumer`) only when its
//! cursor falls behind the oldest retained entry: when it is more than the
//! buffer behind. A reader that keeps up is never dropped, whatever others send.
//!
//! A child of `outbox`: the writer is the ring's reader, and a reader that
//! falls behind is killed through its outbox's [`Kill`].

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::Notify;

use protocol::{ErrorCode, codec::Encoded};

use super::Kill;

/// Bytes each entry counts beyond its frame (the ring slot, the `Bytes` handle
/// and its shared header), so a flood of tiny frames is bounded too.
pub const ENTRY_OVERHEAD: usize = 64;

/// Identifies one reader (one connection's writer) of the stream.
pub type ReaderId = u64;

/// A cursor value meaning "not reading the stream" (no member on the link).
const NOT_READING: u64 = u64::MAX;

/// The reader fell behind the oldest retained entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

/// Handle to the room's stream (cheap to clone).
#[derive(Debug, Clone)]
pub struct RoomStream {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The ring. A std mutex, held only to push, evict or copy out handles,
    /// never across an `.await`.
    ring: Mutex<Ring>,
    /// Position the next appended entry gets (readable without the lock, so an
    /// outbox can tag its own frames with "what of the room came before").
    end: AtomicU64,
    /// Wakes idle writers when an entry is appended.
    appended: Notify,
    /// Most bytes the ring retains (entries count [`ENTRY_OVERHEAD`] extra).
    budget: usize,
    /// Hands out reader ids.
    last_reader: AtomicU64,
}

#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Entry>,
    /// Position of `entries[0]`; positions count every entry ever appended.
    start: u64,
    /// Bytes retained, overhead included.
    bytes: usize,
    /// Bytes evicted since the last look for readers left behind.
    evicted_since_scan: usize,
    /// Every registered reader, to find those the eviction left behind (a
    /// writer blocked on a full socket does not look at the ring itself).
    readers: HashMap<ReaderId, Arc<ReaderState>>,
}

#[derive(Debug)]
struct Entry {
    frame: Encoded,
    /// A reader that must not get this frame: a direct connection does not
    /// get its own `joined`.
    skip: Option<ReaderId>,
}

/// What the ring knows of one reader.
#[derive(Debug)]
struct ReaderState {
    /// The next position it will read, or [`NOT_READING`].
    cursor: AtomicU64,
    /// How to drop it when it falls behind.
    kill: Kill,
}

impl RoomStream {
    /// A stream retaining at most `budget` bytes (at least the newest entry).
    pub fn new(budget: usize) -> RoomStream {
        RoomStream {
            shared: Arc::new(Shared {
                ring: Mutex::new(Ring::default()),
                end: AtomicU64::new(0),
                appended: Notify::new(),
                budget,
                last_reader: AtomicU64::new(0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        self.shared.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The position the next entry will get.
    pub fn end(&self) -> u64 {
        self.shared.end.load(Ordering::Acquire)
    }

    /// Appends a frame for every reader (but `skip`), evicting the oldest
    /// entries beyond the budget. Never waits.
    pub fn append(&self, frame: Encoded, skip: Option<ReaderId>) {
        let budget = self.shared.budget;
        let mut ring = self.lock();
        ring.bytes += frame.len() + ENTRY_OVERHEAD;
        ring.entries.push_back(Entry { frame, skip });
        let end = ring.start + ring.entries.len() as u64;
        self.shared.end.store(end, Ordering::Release);
        while ring.bytes > budget && ring.entries.len() > 1 {
            let old = ring.entries.pop_front().expect("not empty");
            let size = old.frame.len() + ENTRY_OVERHEAD;
            ring.bytes -= size;
            ring.evicted_since_scan += size;
            ring.start += 1;
        }
        // Looking at every reader costs O(readers): do it once per 1/16 of the
        // budget evicted, so a reader is dropped at most that much late.
        if ring.evicted_since_scan >= budget / 16 {
            ring.evicted_since_scan = 0;
            let start = ring.start;
            for reader in ring.readers.values() {
                let cursor = reader.cursor.load(Ordering::Acquire);
                if cursor != NOT_READING && cursor < start {
                    reader.kill.kill(ErrorCode::SlowConsumer);
                }
            }
        }
        drop(ring);
        self.shared.appended.notify_waiters();
    }

    /// Registers a reader (one per connection); it reads nothing until it is
    /// given a cursor.
    pub(super) fn register(&self, kill: Kill) -> Reader {
        let id = self.shared.last_reader.fetch_add(1, Ordering::Relaxed) + 1;
        let state = Arc::new(ReaderState {
            cursor: AtomicU64::new(NOT_READING),
            kill,
        });
        self.lock().readers.insert(id, state.clone());
        Reader {
            id,
            state,
            stream: self.clone(),
        }
    }

    /// Resolves after the next append (enable it, then check, then await, so
    /// no append is missed in between: see [`Notify::notified`]).
    pub(super) fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.shared.appended.notified()
    }

    /// Fresh reader ids, for outboxes that are never read (unit tests).
    pub(super) fn next_id(&self) -> ReaderId {
        self.shared.last_reader.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// One connection's place in the stream; deregisters when dropped.
#[derive(Debug)]
pub(super) struct Reader {
    pub(super) id: ReaderId,
    state: Arc<ReaderState>,
    stream: RoomStream,
}

impl Reader {
    /// Records where this reader is (or that it stopped reading: `None`).
    pub(super) fn set_cursor(&self, cursor: Option<u64>) {
        self.state
            .cursor
            .store(cursor.unwrap_or(NOT_READING), Ordering::Release);
    }

    /// Copies out the entries from `from` up to `until` (exclusive), at most
    /// about `max_bytes`, skipping those not meant for this reader. Returns the
    /// next position to read, or `Lagged` if `from` was already evicted.
    pub(super) fn read(
        &self,
        from: u64,
        until: u64,
        max_bytes: usize,
        out: &mut VecDeque<Encoded>,
    ) -> Result<u64, Lagged> {
        let ring = self.stream.lock();
        if from < ring.start {
            return Err(Lagged);
        }
        let end = ring.start + ring.entries.len() as u64;
        let mut pos = from;
        let mut taken = 0;
        while pos < until.min(end) && taken < max_bytes {
            let entry = &ring.entries[(pos - ring.start) as usize];
            if entry.skip != Some(self.id) {
                taken += entry.frame.len();
                out.push_back(entry.frame.clone());
            }
            pos += 1;
        }
        Ok(pos)
    }

    pub(super) fn stream(&self) -> &RoomStream {
        &self.stream
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stream.lock().readers.remove(&self.id);
    }
}
