//! Per-address admission, as IRC servers such as ergo have it: simultaneous
//! connections per address, joins per minute per address, and failed gateway
//! tokens per address (past a limit the address is locked out for a while).
//!
//! An address is an IPv4 address or an IPv6 /64 (one subscriber's usual
//! allocation: a stranger has millions of IPv6 addresses, rarely more than one
//! /64). Loopback is exempt unless `--limit-loopback`, so local use and
//! benchmarks keep working. On a gateway link a session's address is the one
//! the gateway names in `join.addr` (the browser's), so limits apply to people.
//!
//! Every table is bounded: connections by `--max-connections`, the others by
//! [`MAX_TRACKED`] entries, which expire once they no longer limit anything.
//! A cheap `Clone` handle; the std mutex is never held across an `.await`.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use governor::{
    Quota, RateLimiter, middleware::NoOpMiddleware, state::keyed::DefaultKeyedStateStore,
};
use tokio::time::Instant;
use tracing::{info, warn};

use protocol::{
    ErrorCode,
    rate::{TokioClock, TokioInstant},
};

use crate::{config::Config, notice::Bye};

/// Most addresses remembered for joins or failed tokens. Beyond it (a flood
/// from very many addresses) joins are refused and failures still delayed.
pub const MAX_TRACKED: usize = 65_536;

type JoinLimiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, TokioClock, NoOpMiddleware<TokioInstant>>;

/// Handle to the per-address bookkeeping, shared by every connection.
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Inner>,
}

struct Inner {
    /// `--max-connections-per-addr`.
    max_connections: usize,
    /// `--max-auth-failures`.
    max_failures: u32,
    /// `--auth-lockout`: how long failures are counted, and a lockout lasts.
    lockout: Duration,
    /// `--limit-loopback`.
    limit_loopback: bool,
    /// Joins per minute per address (`--joins-per-minute`), GCRA per key.
    joins: JoinLimiter,
    /// Counters; a std mutex, every critical section is short and never waits.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Open connections per address; an entry goes at zero.
    connections: HashMap<IpAddr, usize>,
    /// Failed gateway tokens per address (exempt addresses too: for the log).
    failures: HashMap<IpAddr, Failures>,
}

struct Failures {
    /// Failures in the current window.
    count: u32,
    /// When the current window ends (counting starts again after it).
    window_end: Instant,
    /// Set when the address reached the limit: refused until then.
    locked_until: Option<Instant>,
}

impl Failures {
    fn expired(&self, now: Instant) -> bool {
        self.window_end <= now && self.locked_until.is_none_or(|t| t <= now)
    }
}

/// One open connection's place in its address's count; dropping it frees it.
pub struct Slot {
    admission: Admission,
    /// `None` for an exempt address (not counted).
    key: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut state = self.admission.lock();
            if let Some(n) = state.connections.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    state.connections.remove(&key);
                }
            }
        }
    }
}

/// The address limits count: IPv4 as is (also when IPv4-mapped), IPv6 by /64.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

impl Admission {
    pub fn new(config: &Config) -> Admission {
        let per_minute = NonZeroU32::new(config.joins_per_minute).unwrap_or(NonZeroU32::MIN);
        Admission {
            inner: Arc::new(Inner {
                max_connections: config.max_connections_per_addr,
                max_failures: config.max_auth_failures,
                lockout: config.auth_lockout,
                limit_loopback: config.limit_loopback,
                joins: RateLimiter::hashmap_with_clock(Quota::per_minute(per_minute), TokioClock),
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn exempt(&self, ip: IpAddr) -> bool {
        let loopback = match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        };
        !self.inner.limit_loopback && loopback
    }

    /// A new connection from `ip`: its slot, or the `bye` refusing it.
    pub fn connect(&self, ip: IpAddr) -> Result<Slot, Bye> {
        if self.exempt(ip) {
            return Ok(Slot {
                admission: self.clone(),
                key: None,
            });
        }
        let key = key(ip);
        let mut state = self.lock();
        let open = state.connections.entry(key).or_insert(0);
        if *open >= self.inner.max_connections {
            return Err(Bye::new(
                ErrorCode::TooManyConnections,
                format!(
                    "at most {} connections from one address",
                    self.inner.max_connections
                ),
            ));
        }
        *open += 1;
        Ok(Slot {
            admission: self.clone(),
            key: Some(key),
        })
    }

    /// A join from `ip`: allowed, or the message refusing it (`rate_limited`).
    pub fn join(&self, ip: IpAddr) -> Result<(), String> {
        if self.exempt(ip) {
            return Ok(());
        }
        let joins = &self.inner.joins;
        if joins.len() >= MAX_TRACKED {
            joins.retain_recent();
            if joins.len() >= MAX_TRACKED {
                warn!("too many addresses joining at once; refusing joins");
                return Err("the server is refusing joins for a moment; try again".into());
            }
        }
        joins
            .check_key(&key(ip))
            .map_err(|_| "too many joins from your address; wait a minute".to_string())
    }

    /// Whether `ip` is locked out after too many wrong gateway tokens.
    pub fn locked_out(&self, ip: IpAddr) -> bool {
        if self.exempt(ip) {
            return false;
        }
        let now = Instant::now();
        self.lock()
            .failures
            .get(&key(ip))
            .and_then(|f| f.locked_until)
            .is_some_and(|t| t > now)
    }

    /// A wrong gateway token from `ip`: counted, and logged once per address
    /// per window (not per attempt, so a flood of guesses cannot fill the log).
    pub fn auth_failed(&self, ip: IpAddr) {
        let (key, now, lockout) = (key(ip), Instant::now(), self.inner.lockout);
        let exempt = self.exempt(ip);
        let mut state = self.lock();
        if !state.failures.contains_key(&key) && state.failures.len() >= MAX_TRACKED {
            state.failures.retain(|_, f| !f.expired(now));
            if state.failures.len() >= MAX_TRACKED {
                warn!(addr = %key, "wrong gateway token (too many addresses to count it)");
                return;
            }
        }
        let failures = state.failures.entry(key).or_insert(Failures {
            count: 0,
            window_end: now,
            locked_until: None,
        });
        if failures.window_end <= now {
            failures.count = 0;
            failures.window_end = now + lockout;
            info!(
                addr = %key,
                window = ?lockout,
                "wrong gateway token; further failures from this address in this window are counted, not logged"
            );
        }
        failures.count += 1;
        if !exempt && failures.count == self.inner.max_failures {
            failures.locked_until = Some(now + lockout);
            warn!(addr = %key, failures = failures.count, lockout = ?lockout, "address locked out after wrong gateway tokens");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_per_ipv4_and_per_ipv6_64() {
        let k = |s: &str| key(s.parse().unwrap()).to_string();
        assert_eq!(k("192.0.2.7"), "192.0.2.7");
        assert_eq!(k("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(k("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(k("::1"), "::");
    }

    #[tokio::test]
    async fn loopback_is_exempt_unless_configured() {
        let one = Config {
            max_connections_per_addr: 1,
            ..Config::default()
        };
        let exempt = Admission::new(&one);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let _a = exempt.connect(ip).unwrap();
        let _b = exempt.connect(ip).unwrap();
        let limited = Admission::new(&Config {
            limit_loopback: true,
            ..one
        });
        let a = limited.connect(ip).unwrap();
        assert!(limited.connect(ip).is_err());
        drop(a);
        let _c = limited.connect(ip).unwrap();
        assert!(limited.lock().connections.len() == 1);
    }
}
