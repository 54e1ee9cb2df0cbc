//! Rate limits: the server's per-user limit ([`RateLimit`], refuses) and a
//! client's self-pacing ([`Pacer`], waits), both on `governor`'s GCRA (a token
//! bucket in one atomic word).
//!
//! Both run on tokio's clock rather than the system's, so tests that pause
//! time (`tokio::time::pause`) see the limits refill exactly as they advance it.

use std::{num::NonZeroU32, ops::Add, time::Duration};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, Reference},
    middleware::NoOpMiddleware,
    nanos::Nanos,
    state::{InMemoryState, NotKeyed},
};

/// An instant of tokio's clock, as governor wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokioInstant(tokio::time::Instant);

impl Add<Nanos> for TokioInstant {
    type Output = TokioInstant;

    fn add(self, other: Nanos) -> TokioInstant {
        TokioInstant(self.0 + Duration::from(other))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        Nanos::from(self.0.saturating_duration_since(earlier.0))
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        TokioInstant(
            self.0
                .checked_sub(Duration::from(duration))
                .unwrap_or(self.0),
        )
    }
}

/// tokio's clock (paused in tests), for governor.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(tokio::time::Instant::now())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

/// `per_sec` sustained with bursts of `burst`; zeros count as one.
fn quota(per_sec: u32, burst: u32) -> Quota {
    let one = NonZeroU32::MIN;
    Quota::per_second(NonZeroU32::new(per_sec).unwrap_or(one))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(one))
}

/// Allows `burst` frames at once and `per_sec` per second after that; what
/// is beyond is refused (the caller answers `rate_limited`).
#[derive(Debug)]
pub struct RateLimit {
    /// One word of state; cheap enough for every connection and session.
    limiter: Limiter,
}

impl RateLimit {
    pub fn new(per_sec: u32, burst: u32) -> RateLimit {
        RateLimit {
            limiter: RateLimiter::direct_with_clock(quota(per_sec, burst), TokioClock),
        }
    }

    /// Takes one token if there is one; `false` means the frame must be refused.
    pub fn try_take(&self) -> bool {
        self.limiter.check().is_ok()
    }
}

/// A limit that waits for a token instead of refusing: a client keeps itself
/// under the server's limit so a pasted block of lines or a script loses
/// nothing to `rate_limited`.
#[derive(Debug)]
pub struct Pacer {
    limiter: Limiter,
}

impl Pacer {
    /// A pacer `headroom_rate` per second and `headroom_burst` below the
    /// server's announced limit, leaving those frames to what the caller does
    /// not pace (pongs, pings, offers); never below one frame per two seconds
    /// or a burst of one.
    pub fn below(per_sec: u32, burst: u32, headroom_rate: u32, headroom_burst: u32) -> Pacer {
        let burst = burst.saturating_sub(headroom_burst).max(1);
        let per_sec = per_sec.saturating_sub(headroom_rate);
        let quota = if per_sec == 0 {
            Quota::with_period(Duration::from_secs(2))
                .expect("a non-zero period")
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
        } else {
            quota(per_sec, burst)
        };
        Pacer {
            limiter: RateLimiter::direct_with_clock(quota, TokioClock),
        }
    }

    /// Takes a token, waiting for one if there is none.
    pub async fn wait(&self) {
        while let Err(not_until) = self.limiter.check() {
            tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let bucket = RateLimit::new(2, 3);
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

    #[tokio::test(start_paused = true)]
    async fn a_paced_burst_goes_at_once_then_the_rate_holds() {
        // 10 per second with headroom 2 -> 8/s; burst 14 with headroom 4 -> 10.
        let pacer = Pacer::below(10, 14, 2, 4);
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
        let pacer = Pacer::below(1, 1, 2, 4);
        pacer.wait().await;
        pacer.wait().await;
        assert!(Instant::now().elapsed() < Duration::from_secs(5));
    }
}
