//! The cost of the server under test, read from `/proc`: CPU seconds
//! (user + system) and resident memory, summed over the server's processes
//! (the gateway and its core may be two). Also raises our own open-file limit.

use std::{fs, io, time::Duration};

use serde::Serialize;

/// Clock ticks per second in `/proc/<pid>/stat`. Linux reports these in
/// USER_HZ, which is 100 on every architecture we run on, whatever the kernel's
/// internal HZ.
const TICKS_PER_SEC: f64 = 100.0;

/// One reading of a set of processes.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Sample {
    /// utime + stime, in seconds.
    pub cpu_secs: f64,
    /// VmRSS, in KiB.
    pub rss_kib: u64,
}

/// Reads CPU time and RSS of one process.
pub fn sample_pid(pid: u32) -> io::Result<Sample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: the
    // fields we want are counted from after the last ')'.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("malformed /proc stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ')' the first field is field 3 (state); utime is 14, stime is 15.
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed /proc stat"))
    };
    let cpu_secs = (ticks(14)? + ticks(15)?) as f64 / TICKS_PER_SEC;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    Ok(Sample { cpu_secs, rss_kib })
}

/// The server processes being measured; empty means "not measured".
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub pids: Vec<u32>,
    /// Whether to wait for the server to go idle between phases. Off when the
    /// server runs inside the load generator's own process (tests), which is
    /// never idle while other work runs there.
    pub settle: bool,
}

impl Server {
    /// Separate server processes: measured, and waited on between phases.
    pub fn new(pids: Vec<u32>) -> Self {
        Server { pids, settle: true }
    }

    /// A server inside this very process: measured (together with the load
    /// generator), never waited on.
    pub fn in_process() -> Self {
        Server {
            pids: vec![std::process::id()],
            settle: false,
        }
    }

    /// Sum over all pids; `None` when there is nothing to measure or a
    /// process is gone.
    pub fn sample(&self) -> Option<Sample> {
        if self.pids.is_empty() {
            return None;
        }
        let mut total = Sample::default();
        for &pid in &self.pids {
            let s = sample_pid(pid).ok()?;
            total.cpu_secs += s.cpu_secs;
            total.rss_kib += s.rss_kib;
        }
        Some(total)
    }

    /// Waits until the server has been idle (less than 2% of a core) for
    /// 300 ms, at most `max`: the previous phase's teardown (thousands of
    /// `left` events) must not be billed to the next one.
    pub async fn settle(&self, max: Duration) {
        if !self.settle {
            return;
        }
        let Some(mut last) = self.sample() else {
            return;
        };
        let deadline = tokio::time::Instant::now() + max;
        let step = Duration::from_millis(300);
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(step).await;
            let Some(now) = self.sample() else { return };
            if now.cpu_secs - last.cpu_secs < 0.02 * step.as_secs_f64() + 0.011 {
                return;
            }
            last = now;
        }
    }
}

/// Raises the soft open-file limit to the hard one: every client is a socket.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let s = sample_pid(std::process::id()).unwrap();
        assert!(s.rss_kib > 0);
        assert!(s.cpu_secs >= 0.0);
        assert!(Server::new(vec![]).sample().is_none());
        assert!(sample_pid(u32::MAX).is_err());
    }
}
