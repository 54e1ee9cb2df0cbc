//! Client-side pacing: the server drops frames beyond its per-user token
//! bucket (`error rate_limited`), so a pasted block of lines or a script
//! would lose messages. The client keeps its own, slightly smaller, bucket
//! from the limits the server announced and waits instead of being refused.

use std::time::Duration;

use core_server::protocol::Limits;
use tokio::time::{Instant, sleep};

/// Frames left to the server's bucket for what is not paced here (pongs,
/// pings, file offers and cancels).
const HEADROOM_BURST: f64 = 4.0;
/// The same, for the sustained rate (frames per second).
const HEADROOM_RATE: f64 = 2.0;

/// A token bucket that waits for a token instead of refusing.
#[derive(Debug)]
pub struct Pacer {
    /// Tokens available now.
    tokens: f64,
    /// Most tokens at once.
    burst: f64,
    /// Refill rate, tokens per second.
    per_sec: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

impl Pacer {
    pub fn new(limits: &Limits) -> Pacer {
        let burst = (f64::from(limits.rate_burst) - HEADROOM_BURST).max(1.0);
        let per_sec = (f64::from(limits.rate_per_sec) - HEADROOM_RATE).max(0.5);
        Pacer {
            tokens: burst,
            burst,
            per_sec,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_sec)
            .min(self.burst);
        self.last = now;
    }

    /// Takes a token, waiting for one if the bucket is empty.
    pub async fn wait(&mut self) {
        self.refill();
        if self.tokens < 1.0 {
            sleep(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec)).await;
            self.refill();
        }
        self.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate_per_sec: u32, rate_burst: u32) -> Limits {
        Limits {
            max_frame: 1 << 20,
            max_message: 4096,
            max_file: 1 << 20,
            rate_per_sec,
            rate_burst,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_the_rate_holds() {
        // 10 per second with headroom 2 -> 8/s; burst 14 with headroom 4 -> 10.
        let mut pacer = Pacer::new(&limits(10, 14));
        let start = Instant::now();
        for _ in 0..10 {
            pacer.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..8 {
            pacer.wait().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.99..1.01).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn tiny_limits_still_make_progress() {
        let mut pacer = Pacer::new(&limits(1, 1));
        pacer.wait().await;
        pacer.wait().await;
        assert!(Instant::now().elapsed() < Duration::from_secs(5));
    }
}
