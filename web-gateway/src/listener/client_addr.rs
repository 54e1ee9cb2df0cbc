//! Who a request is from, for per-address limits and the core's `join.addr`.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The client's address: the TCP peer, or, when the peer is the
/// `--trusted-proxy`, the last address in its `X-Forwarded-For` (the one that
/// proxy itself appended; earlier ones are the client's word and ignored).
/// An extension on every request the accept loop serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    pub fn of(peer: SocketAddr, trusted_proxy: Option<IpAddr>, headers: &HeaderMap) -> ClientAddr {
        if trusted_proxy == Some(peer.ip())
            && let Some(addr) = forwarded_for(headers)
        {
            return ClientAddr(addr);
        }
        ClientAddr(peer.ip())
    }

    /// Whether per-address limits apply (loopback is exempt unless
    /// `--limit-loopback`).
    pub fn limited(&self, limit_loopback: bool) -> bool {
        limit_loopback || !self.0.is_loopback()
    }
}

/// The last entry of the last `X-Forwarded-For` header, if it is an address.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
    entry.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_only_from_the_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.1".parse().unwrap(),
        );
        let proxy: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let other: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let trusted = Some("10.0.0.1".parse().unwrap());
        assert_eq!(
            ClientAddr::of(proxy, trusted, &h).0.to_string(),
            "198.51.100.1"
        );
        assert_eq!(ClientAddr::of(other, trusted, &h).0.to_string(), "10.0.0.2");
        assert_eq!(ClientAddr::of(proxy, None, &h).0.to_string(), "10.0.0.1");
        let mut bad = HeaderMap::new();
        bad.append("x-forwarded-for", "nonsense".parse().unwrap());
        assert_eq!(
            ClientAddr::of(proxy, trusted, &bad).0.to_string(),
            "10.0.0.1"
        );
    }
}
