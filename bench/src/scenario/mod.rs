//! The benchmark scenarios (issue 6), one file each, and the load phases they
//! share: closed-loop senders (a bounded window of messages in flight, each
//! done when every recipient has it) and open-loop senders (a fixed rate).
//!
//! Every phase is bounded in time and count, and ends with a drain: we wait
//! until every expected delivery arrived (or nothing arrived for a while), so
//! losses are counted, never assumed away.

pub mod broadcast;
pub mod fanout;
pub mod files;
pub mod gateway;
pub mod idle;
pub mod private;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::task::JoinSet;

use crate::{
    client::Command,
    metrics::{Kind, Latency},
    procfs::{Sample, Server},
    report::Report,
    swarm::Swarm,
};

/// How long a closed-loop sender waits for one message to reach everyone
/// before it gives up (the message is then counted as lost or late).
const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The drain ends when nothing arrived for this long...
const DRAIN_QUIET: Duration = Duration::from_secs(3);
/// ...or after this long in any case.
const DRAIN_MAX: Duration = Duration::from_secs(60);

/// Where senders send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// To the room: every other member is a recipient.
    Room,
    /// Privately to the partner: client `i` and `i ^ 1` form a pair.
    Partner,
}

/// The shape of a load.
#[derive(Debug, Clone)]
pub struct Load {
    /// Clients that send (indices into the swarm).
    pub senders: Vec<u32>,
    pub dest: Dest,
    /// Message body size in bytes.
    pub size: usize,
    /// How long senders keep sending.
    pub duration: Duration,
    /// Most messages one sender sends in the phase.
    pub max_per_sender: u64,
    /// Clients that are in the room but not expected to receive (the
    /// deliberately stalled client).
    pub excluded: Vec<u32>,
}

/// What one load phase measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Measured messages sent, per client.
    pub sent: Vec<u64>,
    /// First send to the end of the drain.
    pub elapsed: Duration,
    pub expected: u64,
    pub received: u64,
    /// Deliveries that never arrived.
    pub lost: u64,
    /// Deliveries beyond what was expected (duplicates).
    pub extra: u64,
    pub clients_with_loss: usize,
    pub disconnected: usize,
    /// Closed-loop senders that gave up waiting for a message to complete.
    pub stalled_senders: usize,
    pub delivery: Latency,
    pub fanout: Latency,
    /// Server CPU seconds used during the phase.
    pub cpu_secs: Option<f64>,
    pub rss_after: Option<Sample>,
}

impl Outcome {
    pub fn sent_total(&self) -> u64 {
        self.sent.iter().sum()
    }

    pub fn deliveries_per_sec(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU seconds per million deliveries.
    pub fn cpu_per_million(&self) -> Option<f64> {
        let cpu = self.cpu_secs?;
        (self.received > 0).then(|| cpu / (self.received as f64 / 1e6))
    }

    /// Adds the figures every load phase reports.
    pub fn add_to(&self, report: &mut Report, with_fanout: bool) {
        report
            .figure("messages sent", self.sent_total() as f64)
            .figure("deliveries/s", self.deliveries_per_sec())
            .figure("latency p50 ms", self.delivery.p50_ms)
            .figure("latency p95 ms", self.delivery.p95_ms)
            .figure("latency p99 ms", self.delivery.p99_ms)
            .figure("latency max ms", self.delivery.max_ms);
        if with_fanout {
            report.figure("fan-out p95 ms (last recipient)", self.fanout.p95_ms);
        }
        report
            .figure("lost deliveries", self.lost as f64)
            .figure("server CPU s per 1M deliveries", self.cpu_per_million())
            .figure(
                "server RSS MiB",
                self.rss_after.map(|s| s.rss_kib as f64 / 1024.0),
            );
        if self.lost > 0 || self.extra > 0 {
            report.note(format!(
                "{} of {} deliveries lost ({} clients short), {} extra",
                self.lost, self.expected, self.clients_with_loss, self.extra
            ));
        }
        if self.disconnected > 0 {
            report.note(format!(
                "{} clients were disconnected by the server",
                self.disconnected
            ));
        }
        if self.stalled_senders > 0 {
            report.note(format!(
                "{} senders stopped: a message did not reach everyone within {:?}",
                self.stalled_senders, STALL_TIMEOUT
            ));
        }
    }
}

/// Whom client `i` sends to, for [`Dest::Partner`].
fn partner(i: u32) -> u32 {
    i ^ 1
}

/// What each client should have received, given what each sent.
fn expected_per_client(load: &Load, sent: &[u64]) -> Vec<u64> {
    let total: u64 = sent.iter().sum();
    (0..sent.len() as u32)
        .map(|i| {
            if load.excluded.contains(&i) {
                0
            } else {
                match load.dest {
                    Dest::Room => total - sent[i as usize],
                    Dest::Partner => sent.get(partner(i) as usize).copied().unwrap_or(0),
                }
            }
        })
        .collect()
}

/// Sends `load` from each sender, either closed-loop (`window` messages in
/// flight, each waiting until all recipients have it) or open-loop at
/// `rate_per_sender` messages per second; then drains and measures.
pub async fn run_load(swarm: &Swarm, load: &Load, pace: Pace, server: &Server) -> Outcome {
    let rec = swarm.rec.clone();
    let n = swarm.len();
    if let Pace::Window(window) = pace {
        let recipients = match load.dest {
            Dest::Room => (n - 1 - load.excluded.len()) as u64,
            Dest::Partner => 1,
        };
        rec.track(recipients, window, load.senders.iter().copied());
    }
    let before = server.sample();
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for &sender in &load.senders {
        let commands = swarm.clients[sender as usize].commands();
        let to = match load.dest {
            Dest::Room => None,
            Dest::Partner => Some(swarm.clients[partner(sender) as usize].name.clone()),
        };
        let rec = rec.clone();
        let load = load.clone();
        tasks.spawn(async move {
            let mut sent = 0u64;
            let mut stalled = false;
            let deadline = start + load.duration;
            while sent < load.max_per_sender && Instant::now() < deadline {
                match pace {
                    Pace::Window(_) => {
                        if !rec.begin(sender, sent, STALL_TIMEOUT).await {
                            stalled = true;
                            break;
                        }
                    }
                    Pace::Rate(rate) => {
                        let due = start + Duration::from_secs_f64(sent as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                    }
                }
                let text = rec.stamp(sender, sent, Kind::Measured, load.size);
                let command = match &to {
                    None => Command::Room(text),
                    Some(to) => Command::Private {
                        to: to.clone(),
                        text,
                    },
                };
                if commands.send(command).await.is_err() {
                    break;
                }
                sent += 1;
            }
            (sender, sent, stalled)
        });
    }
    let mut sent = vec![0u64; n];
    let mut stalled_senders = 0;
    while let Some(done) = tasks.join_next().await {
        let (sender, count, stalled) = done.expect("sender task does not panic");
        sent[sender as usize] = count;
        stalled_senders += usize::from(stalled);
    }
    let expected = expected_per_client(load, &sent);
    let expected_total: u64 = expected.iter().sum();
    rec.drain(expected_total, DRAIN_QUIET, DRAIN_MAX).await;
    let elapsed = start.elapsed();
    let after = server.sample();
    let mut lost = 0;
    let mut extra = 0;
    let mut clients_with_loss = 0;
    for (i, want) in expected.iter().enumerate() {
        let got = rec.received(i as u32);
        if got < *want {
            lost += want - got;
            clients_with_loss += 1;
        } else {
            extra += got - want;
        }
    }
    Outcome {
        sent,
        elapsed,
        expected: expected_total,
        received: rec.received_total(),
        lost,
        extra,
        clients_with_loss,
        disconnected: rec.disconnected_count(),
        stalled_senders,
        delivery: rec.delivery(),
        fanout: rec.fanout(),
        cpu_secs: before.zip(after).map(|(b, a)| a.cpu_secs - b.cpu_secs),
        rss_after: after,
    }
}

/// How senders pace themselves.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Closed loop: at most this many messages in flight per sender.
    Window(usize),
    /// Open loop: messages per second, per sender.
    Rate(f64),
}

/// Samples the server's RSS every 100 ms until dropped; the peak and the
/// series tell whether memory stayed flat.
pub struct RssWatch {
    samples: Arc<std::sync::Mutex<Vec<u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssWatch {
    pub fn start(server: &Server) -> Self {
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let server = server.clone();
        let out = samples.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(s) = server.sample() {
                    out.lock().expect("rss samples").push(s.rss_kib);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        RssWatch { samples, task }
    }

    /// (first, peak, last) RSS in KiB, if anything was sampled.
    pub fn stop(self) -> Option<(u64, u64, u64)> {
        self.task.abort();
        let samples = self.samples.lock().expect("rss samples");
        Some((*samples.first()?, *samples.iter().max()?, *samples.last()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_per_destination() {
        let mut load = Load {
            senders: vec![0, 1],
            dest: Dest::Room,
            size: 10,
            duration: Duration::ZERO,
            max_per_sender: 1,
            excluded: vec![3],
        };
        // Room: everyone but the sender gets everything; the excluded nothing.
        assert_eq!(expected_per_client(&load, &[5, 2, 0, 0]), vec![2, 5, 7, 0]);
        load.dest = Dest::Partner;
        load.excluded.clear();
        assert_eq!(expected_per_client(&load, &[5, 2, 4, 1]), vec![2, 5, 1, 4]);
    }
}
