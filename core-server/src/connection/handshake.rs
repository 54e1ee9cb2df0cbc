//! The handshake and sessions coming and going: the `hello` (protocol
//! version, gateway token, registering the link with the room), a `join`, and
//! a gateway session's `quit`.

use std::collections::{HashMap, HashSet};

use tracing::info;

use protocol::{
    ClientKind, ClientMsg, ErrorCode, LINK_SESSION, PROTOCOL_VERSION, ServerMsg, SessionId,
    rate::RateLimit, secrets_match,
};

use super::{Connection, Flow, Session};

impl Connection {
    pub(super) fn before_hello(&mut self, session: SessionId, msg: ClientMsg) -> Flow {
        match msg {
            ClientMsg::Hello {
                protocol,
                client,
                gateway_token,
            } => {
                if protocol != PROTOCOL_VERSION {
                    return Flow::Close(Some(ErrorCode::UnsupportedVersion));
                }
                if let Some(token) = gateway_token {
                    let expected = self.config.gateway_token.as_deref();
                    if !expected.is_some_and(|e| secrets_match(token.as_bytes(), e.as_bytes())) {
                        info!(client, "gateway link refused: wrong token");
                        return Flow::Close(Some(ErrorCode::Unauthorized));
                    }
                    self.gateway = true;
                    self.logged_in = true;
                    self.outbox.set_chat_bound(self.config.gateway_queue);
                }
                info!(client, gateway = self.gateway, "hello");
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
            _ => {
                if !self.link_bucket.try_take() {
                    return Flow::Continue;
                }
                self.error(session, ErrorCode::NotJoined, "send hello first")
            }
        }
        Flow::Continue
    }

    pub(super) fn join(&mut self, session: SessionId, name: &str, since: Option<u64>) {
        if self.sessions.contains_key(&session) {
            self.error(session, ErrorCode::AlreadyJoined, "already in the room");
            return;
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
