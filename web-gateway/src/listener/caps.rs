//! Connection caps: in all (`--max-connections`) and per client address
//! (`--max-connections-per-addr`). A connection over either is answered with
//! a fixed `503` at once and closed, never held: idle connections from one
//! client must not lock everyone else out (issue 10 item 10).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Cheap to clone.
#[derive(Clone)]
pub struct ConnectionCaps {
    inner: Arc<Inner>,
}

struct Inner {
    /// One permit per open connection.
    total: Arc<Semaphore>,
    per_addr: usize,
    /// Loopback addresses are counted too (`--limit-loopback`).
    limit_loopback: bool,
    /// Open connections per address (entries removed at zero). A std mutex,
    /// never held across an `.await`.
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total,
    PerAddr,
}

/// Held for as long as the connection is open.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    /// The address it counts against (`None`: exempt).
    addr: Option<IpAddr>,
    caps: ConnectionCaps,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let Some(addr) = self.addr else { return };
        let mut open = self.caps.open();
        if let Some(n) = open.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                open.remove(&addr);
            }
        }
    }
}

impl ConnectionCaps {
    pub fn new(total: usize, per_addr: usize, limit_loopback: bool) -> ConnectionCaps {
        ConnectionCaps {
            inner: Arc::new(Inner {
                total: Arc::new(Semaphore::new(total.max(1))),
                per_addr: per_addr.max(1),
                limit_loopback,
                open: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.inner
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a connection against the total cap only (the trusted proxy).
    pub fn admit_exempt(&self) -> Result<Admitted, Refused> {
        let permit = self
            .inner
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Total)?;
        Ok(Admitted {
            _permit: permit,
            addr: None,
            caps: self.clone(),
        })
    }

    /// Counts a new connection from `addr`, or says why not.
    pub fn admit(&self, addr: IpAddr) -> Result<Admitted, Refused> {
        let mut admitted = self.admit_exempt()?;
        if self.inner.limit_loopback || !addr.is_loopback() {
            let mut open = self.open();
            let n = open.entry(addr).or_default();
            if *n >= self.inner.per_addr {
                // `admitted` has no address yet: dropping it frees only the
                // total permit.
                return Err(Refused::PerAddr);
            }
            *n += 1;
            admitted.addr = Some(addr);
        }
        Ok(admitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_and_release() {
        let caps = ConnectionCaps::new(3, 2, false);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = caps.admit(a).unwrap();
        let _a2 = caps.admit(a).unwrap();
        assert_eq!(caps.admit(a).err(), Some(Refused::PerAddr));
        let _b1 = caps.admit(b).unwrap();
        assert_eq!(caps.admit(b).err(), Some(Refused::Total));
        drop(a1);
        assert!(caps.admit(a).is_ok());
        // Loopback is exempt from the per-address cap unless asked.
        let caps = ConnectionCaps::new(10, 1, false);
        let lo: IpAddr = "127.0.0.2".parse().unwrap();
        let _l = (caps.admit(lo).unwrap(), caps.admit(lo).unwrap());
        let caps = ConnectionCaps::new(10, 1, true);
        let _l = caps.admit(lo).unwrap();
        assert_eq!(caps.admit(lo).err(), Some(Refused::PerAddr));
        assert!(caps.open().len() == 1);
    }
}
