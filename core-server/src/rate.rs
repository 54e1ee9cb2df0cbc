//! A token bucket: the per-user rate limit.

use tokio::time::Instant;

/// Allows `burst` frames at once and `per_sec` per second after that.
/// Uses tokio's clock so tests can pause time.
#[derive(Debug)]
pub struct TokenBucket {
    /// Tokens available now, fractional so slow refills are not lost.
    tokens: f64,
    /// The bucket's size: the most frames that may arrive at once.
    burst: f64,
    /// Refill rate, tokens per second.
    per_sec: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

impl TokenBucket {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        TokenBucket {
            tokens: f64::from(burst),
            burst: f64::from(burst),
            per_sec: f64::from(per_sec),
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one; `false` means the frame must be refused.
    pub fn try_take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let mut bucket = TokenBucket::new(2, 3);
        assert!((0..3).all(|_| bucket.try_take()));
        assert!(!bucket.try_take());
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(bucket.try_take());
        assert!(!bucket.try_take());
        // Refill never exceeds the burst.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!((0..3).all(|_| bucket.try_take()));
        assert!(!bucket.try_take());
    }
}
