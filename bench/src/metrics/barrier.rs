//! The barrier between a run's phases: one sync message, and a count of the
//! clients that have seen it. Each connection delivers in order, so a client
//! that has the sync message has everything sent to it before.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::sync::Notify;

/// One barrier at a time; receivers on any thread ack into it.
pub(super) struct Barrier {
    /// The id (the sync message's `seq`) of the barrier in progress.
    id: AtomicU64,
    /// How many recipients have seen it.
    acks: AtomicU64,
    /// Wakes the waiter on every ack.
    done: Notify,
}

impl Barrier {
    pub(super) fn new() -> Self {
        Barrier {
            id: AtomicU64::new(u64::MAX),
            acks: AtomicU64::new(0),
            done: Notify::new(),
        }
    }

    /// Starts a barrier; returns its id (the `seq` of the sync message).
    pub(super) fn start(&self) -> u64 {
        let id = self.id.load(Ordering::Acquire).wrapping_add(1);
        self.acks.store(0, Ordering::Release);
        self.id.store(id, Ordering::Release);
        id
    }

    /// One recipient saw sync message `seq` (ignored unless it is the
    /// current barrier's).
    pub(super) fn ack(&self, seq: u64) {
        if seq == self.id.load(Ordering::Acquire) {
            self.acks.fetch_add(1, Ordering::AcqRel);
            self.done.notify_waiters();
        }
    }

    /// Waits until `recipients` clients have seen the current sync message.
    pub(super) async fn wait(&self, recipients: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.done.notified();
            if self.acks.load(Ordering::Acquire) >= recipients {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.acks.load(Ordering::Acquire) >= recipients;
            }
        }
    }
}
