//! Closed-loop senders: a measured message is complete once every one of its
//! recipients has it, and each sender may have at most a window of
//! incomplete messages in flight.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::sync::Semaphore;

/// Slots per sender for in-flight messages; a sender's window never exceeds it.
pub const MAX_WINDOW: usize = 64;

/// Every sender's window, lock-free: receivers on any thread ack into it.
pub(super) struct Windows {
    /// How many recipients complete a message (0: completion is not tracked).
    expected: AtomicU64,
    /// Per sender, [`MAX_WINDOW`] slots of `(seq as u32) << 32 | acks`.
    slots: Vec<AtomicU64>,
    /// Per sender, one permit per message it may still have in flight.
    pub(super) permits: Vec<Semaphore>,
}

impl Windows {
    /// Windows for senders `0..clients`, none tracked yet.
    pub(super) fn new(clients: usize) -> Self {
        Windows {
            expected: AtomicU64::new(0),
            slots: (0..clients * MAX_WINDOW)
                .map(|_| AtomicU64::new(0))
                .collect(),
            permits: (0..clients).map(|_| Semaphore::new(0)).collect(),
        }
    }

    /// Tracks completion of measured messages: each needs `recipients` acks,
    /// and every sender may have `window` of them in flight.
    pub(super) fn track(&self, recipients: u64, window: usize, senders: impl Iterator<Item = u32>) {
        assert!((1..=MAX_WINDOW).contains(&window), "window out of range");
        self.expected.store(recipients, Ordering::Relaxed);
        for sender in senders {
            let permits = &self.permits[sender as usize];
            let _ = permits.try_acquire_many(permits.available_permits() as u32);
            permits.add_permits(window);
        }
    }

    /// Waits (at most `timeout`) until `sender` may send another message, and
    /// arms the slot for `seq`. `false` means a message never completed.
    pub(super) async fn begin(&self, sender: u32, seq: u64, timeout: Duration) -> bool {
        if self.expected.load(Ordering::Relaxed) == 0 {
            return true;
        }
        match tokio::time::timeout(timeout, self.permits[sender as usize].acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => return false,
        }
        self.slots[sender as usize * MAX_WINDOW + (seq as usize % MAX_WINDOW)]
            .store((seq & 0xFFFF_FFFF) << 32, Ordering::Release);
        true
    }

    /// Counts one recipient of `sender`'s message `seq`. The last one
    /// completes it: `on_complete` runs (to time the fan-out), then the
    /// sender gets its window slot back.
    pub(super) fn ack(&self, sender: u32, seq: u64, on_complete: impl FnOnce()) {
        let expected = self.expected.load(Ordering::Relaxed);
        if expected == 0 {
            return;
        }
        let sender = sender as usize;
        let Some(slot) = self
            .slots
            .get(sender * MAX_WINDOW + (seq as usize % MAX_WINDOW))
        else {
            return;
        };
        let mut current = slot.load(Ordering::Acquire);
        loop {
            // A slot reused for a later message (this one timed out) is left alone.
            if current >> 32 != seq & 0xFFFF_FFFF {
                return;
            }
            match slot.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        if (current & 0xFFFF_FFFF) + 1 == expected {
            on_complete();
            self.permits[sender].add_permits(1);
        }
    }
}
