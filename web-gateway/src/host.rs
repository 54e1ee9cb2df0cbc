//! Which `Host` the gateway answers to: the defence against DNS rebinding.
//!
//! A page on `http://rebind.attacker.test:8080` whose name the attacker
//! re-points at 127.0.0.1 is, to the browser, same-origin with itself: its
//! requests carry `Host: rebind.attacker.test:8080` and a matching `Origin`,
//! so the Origin check alone lets it join and read the room. A name the
//! gateway was not configured under is therefore refused on every request
//! (pages, WebSocket, uploads, downloads) with `421 Misdirected Request`.
//!
//! Accepted host names (the port is not compared: a reverse proxy may publish
//! another one): the `--http` bind address; the hosts of `--public-url` and of
//! every `--allowed-origin`; `localhost` (and its subdomains, which browsers
//! resolve to loopback themselves) and the loopback IPs when the gateway is
//! bound to loopback or to every address; any IP literal when bound to every
//! address (an IP literal cannot be re-pointed, so it cannot be rebound).

use std::{net::IpAddr, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The host names requests may name. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AllowedHosts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Lower-case names (IPv6 without brackets).
    names: Vec<String>,
    /// The bind address is loopback or unspecified: `localhost` names and
    /// loopback IPs are ours.
    loopback: bool,
    /// The bind address is unspecified (`0.0.0.0`, `::`): any IP literal is.
    any_ip: bool,
}

impl AllowedHosts {
    /// From the bind address and the configured URLs/origins (each
    /// `scheme://host[:port]`; ones that do not parse add nothing: the
    /// options are validated where they are parsed).
    pub fn new<'a>(bind: IpAddr, urls: impl IntoIterator<Item = &'a str>) -> AllowedHosts {
        let mut names = vec![bind.to_string()];
        names.extend(urls.into_iter().filter_map(url_host));
        AllowedHosts {
            inner: Arc::new(Inner {
                names,
                loopback: bind.is_loopback() || bind.is_unspecified(),
                any_ip: bind.is_unspecified(),
            }),
        }
    }

    /// Whether `authority` (a Host header value, `name[:port]`) is ours.
    pub fn allows(&self, authority: &str) -> bool {
        let Some(name) = authority_host(authority) else {
            return false;
        };
        let inner = &self.inner;
        if inner.names.contains(&name) {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => inner.any_ip || (inner.loopback && ip.is_loopback()),
            Err(_) => inner.loopback && (name == "localhost" || name.ends_with(".localhost")),
        }
    }
}

/// The lower-case host of `scheme://host[:port][/…]`.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    authority_host(authority)
}

/// The lower-case host name of `host[:port]` (IPv6 `[::1]:80` → `::1`), or
/// `None` when it is not a plausible authority.
fn authority_host(authority: &str) -> Option<String> {
    let authority = authority.trim();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = if let Some(rest) = authority.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        ip
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            Some(_) => return None,
            None => authority,
        }
    };
    // A trailing dot names the same host (`localhost.`).
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Middleware: refuses a request whose Host (or HTTP/2 `:authority`) is not
/// ours with 421 and a short text, before any handler sees it.
pub async fn check(State(hosts): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host {
        Some(host) if hosts.allows(host) => next.run(request).await,
        _ => {
            tracing::info!(host = ?host, "request for a host name this gateway does not serve refused");
            (
                StatusCode::MISDIRECTED_REQUEST,
                "This gateway does not serve that host name (see --public-url).\n",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(bind: &str, urls: &[&str]) -> AllowedHosts {
        AllowedHosts::new(bind.parse().unwrap(), urls.iter().copied())
    }

    #[test]
    fn loopback_bind() {
        let h = hosts("127.0.0.1", &["https://Chat.Example.org"]);
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:8080",
            "LOCALHOST.",
            "app.localhost:1",
            "[::1]:8080",
            "127.0.0.2:8080",
            "chat.example.org",
            "chat.example.org:443",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "rebind.attacker.test:8080",
            "localhost.attacker.test",
            "10.0.0.1:8080",
            "",
            "user@127.0.0.1",
            "127.0.0.1:80x",
            "[::1]x",
            "example.org",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
    }

    #[test]
    fn public_bind() {
        let h = hosts("192.0.2.7", &["http://chat.example.org:8080/"]);
        assert!(h.allows("192.0.2.7:8080"));
        assert!(h.allows("chat.example.org:8080"));
        assert!(!h.allows("localhost:8080"));
        assert!(!h.allows("127.0.0.1:8080"));
        let any = hosts("0.0.0.0", &[]);
        assert!(any.allows("192.0.2.7:8080"));
        assert!(any.allows("[2001:db8::1]:8080"));
        assert!(any.allows("localhost"));
        assert!(!any.allows("rebind.attacker.test"));
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("https://a.b:1/x").as_deref(), Some("a.b"));
        assert_eq!(url_host("http://[::1]:8080").as_deref(), Some("::1"));
        assert_eq!(url_host("ftp://a.b"), None);
        assert_eq!(url_host("a.b"), None);
    }
}
