//! Joins per minute per client address (`--joins-per-minute`): a stranger
//! cannot cycle through names, or fill `--max-sessions`, as fast as it likes.
//! Loopback is exempt unless `--limit-loopback`. A governor GCRA per address
//! (on tokio's clock, like every rate limit here); addresses that are back to
//! a full bucket are forgotten by [`JoinRate::forget_idle`].

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use governor::{Quota, RateLimiter, middleware::NoOpMiddleware, state::keyed::HashMapStateStore};
use protocol::rate::{TokioClock, TokioInstant};

type Limiter =
    RateLimiter<IpAddr, HashMapStateStore<IpAddr>, TokioClock, NoOpMiddleware<TokioInstant>>;

/// Cheap to clone.
#[derive(Clone)]
pub struct JoinRate {
    limiter: Arc<Limiter>,
    limit_loopback: bool,
}

impl JoinRate {
    /// `per_minute` joins, all of which may come at once; zero counts as one.
    pub fn new(per_minute: u32, limit_loopback: bool) -> JoinRate {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        JoinRate {
            limiter: Arc::new(RateLimiter::new(
                quota,
                HashMapStateStore::default(),
                TokioClock,
            )),
            limit_loopback,
        }
    }

    /// Counts a join from `addr`; false when it is over the limit.
    pub fn allow(&self, addr: IpAddr) -> bool {
        if !self.limit_loopback && addr.is_loopback() {
            return true;
        }
        self.limiter.check_key(&addr).is_ok()
    }

    /// Drops the state of addresses whose bucket is full again.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn per_address_and_refilling() {
        let rate = JoinRate::new(2, false);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(rate.allow(a) && rate.allow(a));
        assert!(!rate.allow(a));
        assert!(rate.allow(b));
        tokio::time::advance(std::time::Duration::from_secs(30)).await;
        assert!(rate.allow(a));
        assert!(!rate.allow(a));
        let lo: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..10).all(|_| rate.allow(lo)));
        let strict = JoinRate::new(1, true);
        assert!(strict.allow(lo));
        assert!(!strict.allow(lo));
    }
}
