//! Who is asking: the session cookie, the Origin check, the CSRF token.

use axum::http::{HeaderMap, header};

use crate::{AppState, sessions::SessionInfo};

/// Name of the session cookie.
pub const COOKIE: &str = "switchboard_session";

/// The session behind the request's cookie.
pub fn session(state: &AppState, headers: &HeaderMap) -> Option<SessionInfo> {
    let token = cookie_value(headers, COOKIE)?;
    state.hub.lookup(&token)
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value that starts a session.
pub fn set_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that ends one.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Same-origin (the Origin names the Host we were reached at) or explicitly
/// allowed. A request without Origin is not from a browser page (browsers send
/// it on WebSocket handshakes and cross-origin POSTs), so it passes: the session
/// cookie still has to be presented.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

/// Compares a submitted CSRF token without leaking where it differs.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    protocol::secrets_match(given.as_bytes(), expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn origins() {
        let check = |pairs: &[(&str, &str)], allowed: &[&str], ok: bool| {
            let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
            assert_eq!(origin_allowed(&headers(pairs), &allowed), ok, "{pairs:?}");
        };
        check(&[("host", "a:1"), ("origin", "http://a:1")], &[], true);
        check(&[("host", "a:1"), ("origin", "https://a:1")], &[], true);
        check(&[("host", "a:1"), ("origin", "http://evil:1")], &[], false);
        check(&[("host", "a:1"), ("origin", "http://a:2")], &[], false);
        check(&[("host", "a:1"), ("origin", "null")], &[], false);
        check(
            &[("host", "a:1"), ("origin", "http://b")],
            &["http://b"],
            true,
        );
        check(&[("host", "a:1")], &[], true);
    }

    #[test]
    fn cookies() {
        let h = headers(&[("cookie", "x=1; switchboard_session=abc; y=2")]);
        assert_eq!(cookie_value(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie_value(&headers(&[]), COOKIE), None);
        assert!(csrf_matches("abcd", "abcd"));
        assert!(!csrf_matches("abcd", "abce"));
        assert!(!csrf_matches("abcd", "abc"));
    }
}
