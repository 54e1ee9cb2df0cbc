//! What a run measures: delivery latency from timestamps the load generator
//! puts in each message body, per-client counts of what arrived, and which
//! messages have reached all their recipients (closed-loop senders wait on it).
//!
//! Every message body starts with `sb <sender> <seq> <micros> <kind> ` and is
//! padded with `x` to the wanted size. `micros` is read from the recorder's own
//! monotonic clock: sender and receivers live in the same process, so one
//! clock measures the whole trip without any clock synchronisation.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};

/// Longest latency the histograms hold (larger values are clamped to it).
const MAX_MICROS: u64 = 120_000_000;
/// Histograms are split so receivers on different threads rarely share a lock.
const SHARDS: usize = 16;
/// Slots per sender for in-flight messages; a sender's window never exceeds it.
pub const MAX_WINDOW: usize = 64;

/// Whether a message is part of the measurement or a barrier between phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Counted and timed.
    Measured,
    /// Only proves that everything sent before it has been delivered.
    Sync,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Measured => 'M',
            Kind::Sync => 'S',
        }
    }
}

/// The fields the load generator stamps into a message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub sender: u32,
    pub seq: u64,
    pub micros: u64,
    pub kind: Kind,
}

/// Builds a body of exactly `size` bytes (or the stamp's length, if longer).
pub fn body(stamp: Stamp, size: usize) -> String {
    let mut text = format!(
        "sb {} {} {} {} ",
        stamp.sender,
        stamp.seq,
        stamp.micros,
        stamp.kind.letter()
    );
    if text.len() < size {
        text.extend(std::iter::repeat_n('x', size - text.len()));
    }
    text
}

/// Reads the stamp back; `None` for text the load generator did not write.
pub fn parse(text: &str) -> Option<Stamp> {
    let mut parts = text.strip_prefix("sb ")?.splitn(5, ' ');
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let micros = parts.next()?.parse().ok()?;
    let kind = match parts.next()? {
        "M" => Kind::Measured,
        "S" => Kind::Sync,
        _ => return None,
    };
    Some(Stamp {
        sender,
        seq,
        micros,
        kind,
    })
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_max(MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Shared by every client of a run: they report what they receive here.
pub struct Recorder {
    /// The clock all stamps are read from.
    start: Instant,
    /// Delivery latency (send -> one recipient), in microseconds.
    delivery: Vec<Mutex<Histogram<u64>>>,
    /// Fan-out latency (send -> the last recipient), in microseconds.
    fanout: Mutex<Histogram<u64>>,
    /// Measured messages each client received (echoes of its own excluded).
    received: Vec<AtomicU64>,
    /// Clients whose connection ended while they should have been listening.
    disconnected: Vec<AtomicBool>,
    /// How many recipients complete a message (0: completion is not tracked).
    expected: AtomicU64,
    /// Per sender, [`MAX_WINDOW`] slots of `(seq as u32) << 32 | acks`.
    slots: Vec<AtomicU64>,
    /// Per sender, one permit per message it may still have in flight.
    windows: Vec<Semaphore>,
    /// The sync barrier in progress and how many recipients have seen it.
    sync_id: AtomicU64,
    sync_acks: AtomicU64,
    sync_done: Notify,
}

impl Recorder {
    /// A recorder for `clients` clients.
    pub fn new(clients: usize) -> Self {
        Recorder {
            start: Instant::now(),
            delivery: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            fanout: Mutex::new(histogram()),
            received: (0..clients).map(|_| AtomicU64::new(0)).collect(),
            disconnected: (0..clients).map(|_| AtomicBool::new(false)).collect(),
            expected: AtomicU64::new(0),
            slots: (0..clients * MAX_WINDOW)
                .map(|_| AtomicU64::new(0))
                .collect(),
            windows: (0..clients).map(|_| Semaphore::new(0)).collect(),
            sync_id: AtomicU64::new(u64::MAX),
            sync_acks: AtomicU64::new(0),
            sync_done: Notify::new(),
        }
    }

    pub fn clients(&self) -> usize {
        self.received.len()
    }

    /// Microseconds on the recorder's clock.
    pub fn now_micros(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// A body stamped now.
    pub fn stamp(&self, sender: u32, seq: u64, kind: Kind, size: usize) -> String {
        body(
            Stamp {
                sender,
                seq,
                micros: self.now_micros(),
                kind,
            },
            size,
        )
    }

    /// Called by client `receiver` for every chat text it gets (room or
    /// private). Echoes of a client's own messages are ignored.
    pub fn on_text(&self, receiver: u32, text: &str) {
        let now = self.now_micros();
        let Some(stamp) = parse(text) else { return };
        if stamp.sender == receiver {
            return;
        }
        match stamp.kind {
            Kind::Sync => {
                if stamp.seq == self.sync_id.load(Ordering::Acquire) {
                    self.sync_acks.fetch_add(1, Ordering::AcqRel);
                    self.sync_done.notify_waiters();
                }
            }
            Kind::Measured => {
                let latency = now.saturating_sub(stamp.micros).max(1);
                if let Some(count) = self.received.get(receiver as usize) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                self.delivery[receiver as usize % SHARDS]
                    .lock()
                    .expect("histogram lock")
                    .saturating_record(latency);
                self.ack(stamp, now);
            }
        }
    }

    /// Counts one recipient of a tracked message; the last one completes it.
    fn ack(&self, stamp: Stamp, now: u64) {
        let expected = self.expected.load(Ordering::Relaxed);
        if expected == 0 {
            return;
        }
        let sender = stamp.sender as usize;
        let Some(slot) = self
            .slots
            .get(sender * MAX_WINDOW + (stamp.seq as usize % MAX_WINDOW))
        else {
            return;
        };
        let mut current = slot.load(Ordering::Acquire);
        loop {
            // A slot reused for a later message (this one timed out) is left alone.
            if current >> 32 != stamp.seq & 0xFFFF_FFFF {
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
            self.fanout
                .lock()
                .expect("histogram lock")
                .saturating_record(now.saturating_sub(stamp.micros).max(1));
            self.windows[sender].add_permits(1);
        }
    }

    /// Tracks completion of measured messages: each needs `recipients` acks,
    /// and every sender may have `window` of them in flight.
    pub fn track(&self, recipients: u64, window: usize, senders: impl Iterator<Item = u32>) {
        assert!((1..=MAX_WINDOW).contains(&window), "window out of range");
        self.expected.store(recipients, Ordering::Relaxed);
        for sender in senders {
            let permits = &self.windows[sender as usize];
            let _ = permits.try_acquire_many(permits.available_permits() as u32);
            permits.add_permits(window);
        }
    }

    /// Waits (at most `timeout`) until `sender` may send another message, and
    /// arms the slot for `seq`. `false` means a message never completed.
    pub async fn begin(&self, sender: u32, seq: u64, timeout: Duration) -> bool {
        if self.expected.load(Ordering::Relaxed) == 0 {
            return true;
        }
        match tokio::time::timeout(timeout, self.windows[sender as usize].acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => return false,
        }
        self.slots[sender as usize * MAX_WINDOW + (seq as usize % MAX_WINDOW)]
            .store((seq & 0xFFFF_FFFF) << 32, Ordering::Release);
        true
    }

    /// Starts a sync barrier; returns its id (the `seq` of the sync message).
    pub fn start_sync(&self) -> u64 {
        let id = self.sync_id.load(Ordering::Acquire).wrapping_add(1);
        self.sync_acks.store(0, Ordering::Release);
        self.sync_id.store(id, Ordering::Release);
        id
    }

    /// Waits until `recipients` clients have seen the current sync message.
    pub async fn wait_sync(&self, recipients: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.sync_done.notified();
            if self.sync_acks.load(Ordering::Acquire) >= recipients {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.sync_acks.load(Ordering::Acquire) >= recipients;
            }
        }
    }

    pub fn mark_disconnected(&self, client: u32) {
        if let Some(flag) = self.disconnected.get(client as usize) {
            flag.store(true, Ordering::Relaxed);
        }
    }

    pub fn received(&self, client: u32) -> u64 {
        self.received[client as usize].load(Ordering::Relaxed)
    }

    pub fn received_total(&self) -> u64 {
        self.received
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    pub fn disconnected_count(&self) -> usize {
        self.disconnected
            .iter()
            .filter(|d| d.load(Ordering::Relaxed))
            .count()
    }

    /// Delivery latency summary of everything recorded so far.
    pub fn delivery(&self) -> Latency {
        let mut merged = histogram();
        for shard in &self.delivery {
            merged
                .add(&*shard.lock().expect("histogram lock"))
                .expect("same bounds");
        }
        Latency::of(&merged)
    }

    /// Fan-out (last recipient) latency summary.
    pub fn fanout(&self) -> Latency {
        Latency::of(&self.fanout.lock().expect("histogram lock"))
    }

    /// Forgets counts and latencies (between the steps of a rising load,
    /// once nothing is in flight).
    pub fn reset(&self) {
        for shard in &self.delivery {
            shard.lock().expect("histogram lock").reset();
        }
        self.fanout.lock().expect("histogram lock").reset();
        for count in &self.received {
            count.store(0, Ordering::Relaxed);
        }
    }

    /// Waits until `expected` measured deliveries have arrived in total, or
    /// until nothing new arrived for `quiet`, or `max` passed. Returns whether
    /// everything arrived.
    pub async fn drain(&self, expected: u64, quiet: Duration, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        let mut last = self.received_total();
        let mut last_change = Instant::now();
        loop {
            let now_total = self.received_total();
            if now_total >= expected {
                return true;
            }
            if now_total != last {
                last = now_total;
                last_change = Instant::now();
            }
            if last_change.elapsed() >= quiet || Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_at_the_asked_size() {
        let stamp = Stamp {
            sender: 3,
            seq: 77,
            micros: 123_456,
            kind: Kind::Measured,
        };
        let text = body(stamp, 256);
        assert_eq!(text.len(), 256);
        assert_eq!(parse(&text), Some(stamp));
        let sync = Stamp {
            kind: Kind::Sync,
            ..stamp
        };
        assert_eq!(parse(&body(sync, 0)), Some(sync));
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("sb 1 2 x M "), None);
        assert_eq!(parse("sb 1 2 3 Q "), None);
    }

    #[test]
    fn a_message_completes_when_every_recipient_has_it() {
        let rec = Recorder::new(4);
        rec.track(3, 1, [0].into_iter());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            assert!(rec.begin(0, 0, Duration::from_millis(10)).await);
            // The window is full until all three others have the message.
            assert!(!rec.begin(0, 1, Duration::from_millis(10)).await);
            let text = rec.stamp(0, 0, Kind::Measured, 64);
            rec.on_text(0, &text); // the sender's own echo does not count
            rec.on_text(1, &text);
            rec.on_text(2, &text);
            assert!(!rec.begin(0, 1, Duration::from_millis(10)).await);
            rec.on_text(3, &text);
            assert!(rec.begin(0, 1, Duration::from_millis(10)).await);
        });
        assert_eq!(rec.received_total(), 3);
        assert_eq!(rec.received(0), 0);
        assert_eq!(rec.delivery().count, 3);
        assert_eq!(rec.fanout().count, 1);
    }

    #[test]
    fn late_acks_of_a_timed_out_message_are_ignored() {
        let rec = Recorder::new(2);
        rec.track(1, 1, [0].into_iter());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            assert!(rec.begin(0, 0, Duration::from_millis(10)).await);
            // Seq 64 reuses seq 0's slot; an ack for 0 must not complete it.
            rec.windows[0].add_permits(1);
            assert!(
                rec.begin(0, MAX_WINDOW as u64, Duration::from_millis(10))
                    .await
            );
            rec.on_text(1, &rec.stamp(0, 0, Kind::Measured, 0));
            assert!(!rec.begin(0, 65, Duration::from_millis(10)).await);
        });
        assert_eq!(rec.fanout().count, 0);
    }
}
