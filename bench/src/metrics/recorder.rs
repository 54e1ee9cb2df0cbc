//! The run's [`Recorder`]: one per run, shared by every client (behind an
//! `Arc`), written to from every receiving task at once. Counters are atomics
//! and latency histograms are sharded, so receivers rarely wait on each other.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{
    Latency,
    barrier::Barrier,
    latency::histogram,
    stamp::{Kind, Stamp, body, parse},
    window::Windows,
};

/// Histograms are split so receivers on different threads rarely share a lock.
const SHARDS: usize = 16;

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
    /// Which measured messages are complete, per sender.
    windows: Windows,
    /// The sync barrier in progress and how many recipients have seen it.
    barrier: Barrier,
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
            windows: Windows::new(clients),
            barrier: Barrier::new(),
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
            Kind::Sync => self.barrier.ack(stamp.seq),
            Kind::Measured => {
                let latency = now.saturating_sub(stamp.micros).max(1);
                if let Some(count) = self.received.get(receiver as usize) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                self.delivery[receiver as usize % SHARDS]
                    .lock()
                    .expect("histogram lock")
                    .saturating_record(latency);
                self.windows.ack(stamp.sender, stamp.seq, || {
                    self.fanout
                        .lock()
                        .expect("histogram lock")
                        .saturating_record(now.saturating_sub(stamp.micros).max(1));
                });
            }
        }
    }

    /// Tracks completion of measured messages: each needs `recipients` acks,
    /// and every sender may have `window` of them in flight.
    pub fn track(&self, recipients: u64, window: usize, senders: impl Iterator<Item = u32>) {
        self.windows.track(recipients, window, senders);
    }

    /// Waits (at most `timeout`) until `sender` may send another message, and
    /// arms the slot for `seq`. `false` means a message never completed.
    pub async fn begin(&self, sender: u32, seq: u64, timeout: Duration) -> bool {
        self.windows.begin(sender, seq, timeout).await
    }

    /// Starts a sync barrier; returns its id (the `seq` of the sync message).
    pub fn start_sync(&self) -> u64 {
        self.barrier.start()
    }

    /// Waits until `recipients` clients have seen the current sync message.
    pub async fn wait_sync(&self, recipients: u64, timeout: Duration) -> bool {
        self.barrier.wait(recipients, timeout).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MAX_WINDOW;

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
            rec.windows.permits[0].add_permits(1);
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
