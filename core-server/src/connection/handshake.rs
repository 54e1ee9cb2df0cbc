//! The handshake and sessions coming and going: the `hello` (protocol
//! version, gateway token, registering the link with the room), a `join`, and
//! a gateway session's `quit`.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
};

use tracing::{debug, info};

use protocol::{
    ClientKind, ClientMsg, ErrorCode, LINK_SESSION, MAX_CLIENT_LEN, PROTOCOL_VERSION, ServerMsg,
    SessionId, rate::RateLimit,
};

use super::{Connection, Flow, Session};
use crate::notice::Bye;

/// The `bye` for a connection that sent more frames before joining than the
/// rate limit allows: nothing it could need takes that many.
pub(super) fn pre_login_flood() -> Bye {
    Bye::new(
        ErrorCode::RateLimited,
        "too many frames before joining the room",
    )
}

/// `text` fit for one log line: control characters (newlines, escapes, C1)
/// and invisible format characters (bidi overrides, zero-width) are written
/// as `\u{..}` escapes, so a stranger's string cannot forge or hide log text.
fn log_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_format(c) || c == '\\' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Unicode's invisible format characters that reorder or hide text.
fn is_format(c: char) -> bool {
    matches!(c, '\u{00ad}' | '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

impl Connection {
    pub(super) async fn before_hello(&mut self, session: SessionId, msg: ClientMsg) -> Flow {
        // Every frame before the login counts, so a stranger cannot buy an
        // unlimited stream of replies (PROTOCOL.md, "Rate limit").
        if !self.link_bucket.try_take() {
            return Flow::Close(Some(pre_login_flood()));
        }
        match msg {
            ClientMsg::Hello {
                protocol,
                client,
                gateway_token,
            } => {
                if client.len() > MAX_CLIENT_LEN {
                    info!(len = client.len(), "hello refused: client string too long");
                    return Flow::Close(Some(Bye::new(
                        ErrorCode::BadFrame,
                        format!("the hello's client string is at most {MAX_CLIENT_LEN} bytes"),
                    )));
                }
                // Only for the log, where it must not be able to forge lines
                // or hide text: control and format characters are escaped.
                let client = log_safe(&client);
                if protocol != PROTOCOL_VERSION {
                    return Flow::Close(Some(ErrorCode::UnsupportedVersion.into()));
                }
                if let Some(token) = gateway_token {
                    if let Err(bye) = self.check_token(&token).await {
                        debug!(%client, code = ?bye.code, "gateway link refused");
                        return Flow::Close(Some(bye));
                    }
                    self.gateway = true;
                    self.logged_in = true;
                    self.outbox.set_chat_bound(self.config.gateway_queue);
                }
                info!(%client, gateway = self.gateway, "hello");
                self.link = Some(self.room.add_link(self.outbox.clone()));
                self.reply(
                    LINK_SESSION,
                    ServerMsg::Hello {
                        protocol: PROTOCOL_VERSION,
                        server: concat!("switchboard/", env!("CARGO_PKG_VERSION")).into(),
                        instance: self.room.instance().to_string(),
                        gateway: self.gateway,
                        limits: self.config.limits(),
                    },
                );
            }
            ClientMsg::Ping { nonce } => self.reply(session, ServerMsg::Pong { nonce }),
            ClientMsg::Pong { .. } => {}
            ClientMsg::Quit => return Flow::Close(None),
            _ => self.error(session, ErrorCode::NotJoined, "send hello first"),
        }
        Flow::Continue
    }

    /// A `join`; `addr` is the person's address a gateway link names (ignored
    /// on a direct connection, where the peer's own address counts).
    pub(super) fn join(
        &mut self,
        session: SessionId,
        name: &str,
        since: Option<u64>,
        addr: Option<&str>,
    ) -> Flow {
        if self.sessions.contains_key(&session) {
            self.error(session, ErrorCode::AlreadyJoined, "already in the room");
            return Flow::Continue;
        }
        let ip = if self.gateway {
            match addr.map(str::parse::<IpAddr>) {
                None => None,
                Some(Ok(ip)) => Some(ip),
                Some(Err(_)) => {
                    self.error(
                        session,
                        ErrorCode::BadFrame,
                        "join.addr is not an IP address",
                    );
                    return Flow::Continue;
                }
            }
        } else {
            self.peer_ip
        };
        if let Some(Err(message)) = ip.map(|ip| self.admission.join(ip)) {
            info!(?ip, session, "join refused: too many from this address");
            if !self.gateway {
                return Flow::Close(Some(Bye::new(ErrorCode::RateLimited, message)));
            }
            self.error(session, ErrorCode::RateLimited, message);
            return Flow::Continue;
        }
        let kind = if self.gateway {
            ClientKind::Web
        } else {
            ClientKind::Terminal
        };
        let link = self.link.expect("joined after hello");
        match self.room.join(link, session, kind, name, since) {
            Ok(_left) => {
                info!(name, session, ?kind, "joined");
                self.logged_in = true;
                self.sessions.insert(
                    session,
                    Session {
                        name: name.to_string(),
                        bucket: RateLimit::new(self.config.rate_per_sec, self.config.rate_burst),
                        transfers: HashMap::new(),
                        draining: Vec::new(),
                        dead: HashSet::new(),
                    },
                );
            }
            Err((code, message)) => self.error(session, code, message),
        }
        Flow::Continue
    }

    /// A gateway session quits: it leaves; the link stays.
    pub(super) fn detach(&mut self, session: SessionId) {
        if let Some(mut s) = self.sessions.remove(&session) {
            for (_, mut transfer) in s.transfers.drain() {
                transfer.abort(ErrorCode::TransferAborted, "the sender left");
            }
            self.room.leave(&s.name);
            self.room.prune_relays();
            info!(name = s.name, session, "detached");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_safe;

    #[test]
    fn log_safe_escapes_what_could_forge_or_hide_log_text() {
        assert_eq!(log_safe("cli/1.0 é"), "cli/1.0 é");
        assert_eq!(log_safe("a\nb"), "a\\u{a}b");
        assert_eq!(log_safe("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(log_safe("x\u{202e}gnp"), "x\\u{202e}gnp");
        assert_eq!(log_safe("\u{85}"), "\\u{85}");
        assert_eq!(log_safe("a\\b"), "a\\u{5c}b");
    }
}
