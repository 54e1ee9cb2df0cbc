//! Per-frame dispatch: which session a frame is for, the rate limit, and the
//! chat commands. File frames go on to `files.rs`, hello and join to
//! `handshake.rs`.

use protocol::{ClientMsg, ErrorCode, LINK_SESSION, ServerMsg, SessionId, codec::Frame};

use super::{Connection, Flow};
use crate::room::Offer;

impl Connection {
    pub(super) async fn handle(&mut self, frame: Frame<ClientMsg>) -> Flow {
        let Frame {
            session,
            msg,
            payload,
        } = frame;
        if self.link.is_none() {
            return self.before_hello(session, msg).await;
        }
        if !self.gateway && session != LINK_SESSION {
            // Counted, so a flood of these cannot buy unlimited replies.
            if self.link_bucket.try_take() {
                self.error(
                    session,
                    ErrorCode::Unauthorized,
                    "session ids are only for gateway links",
                );
            }
            return Flow::Continue;
        }
        if self.gateway && session == LINK_SESSION {
            return self.link_frame(msg);
        }
        // Before the welcome on a direct connection every frame counts, file
        // frames too, and a flood ends the connection: a stranger who has not
        // joined gets no unlimited stream of `not_joined` replies. A gateway
        // link is authenticated, and re-attaches many sessions at once.
        if !self.gateway && !self.sessions.contains_key(&session) {
            if !self.link_bucket.try_take() {
                return Flow::Close(Some(super::handshake::pre_login_flood()));
            }
        } else if !matches!(
            msg,
            ClientMsg::FileChunk { .. } | ClientMsg::FileEnd { .. } | ClientMsg::FileCredit { .. }
        ) {
            // Per joined user; file bytes and credit are not counted (flow
            // control paces them).
            let allowed = self
                .sessions
                .get_mut(&session)
                .is_none_or(|s| s.bucket.try_take());
            if !allowed {
                self.error(
                    session,
                    ErrorCode::RateLimited,
                    format!(
                        "slow down: at most {} frames per second (burst {})",
                        self.config.rate_per_sec, self.config.rate_burst
                    ),
                );
                return Flow::Continue;
            }
        }
        match msg {
            ClientMsg::Hello { .. } => {
                self.error(session, ErrorCode::AlreadyJoined, "hello was already sent")
            }
            ClientMsg::Join { name, since, addr } => {
                return self.join(session, &name, since, addr.as_deref());
            }
            ClientMsg::Ping { nonce } => self.reply(session, ServerMsg::Pong { nonce }),
            ClientMsg::Pong { .. } => {}
            ClientMsg::Quit => {
                if !self.gateway {
                    return Flow::Close(None);
                }
                self.detach(session);
            }
            msg => {
                if !self.sessions.contains_key(&session) {
                    self.error(session, ErrorCode::NotJoined, "join the room first");
                    return Flow::Continue;
                }
                self.member_frame(session, msg, payload);
            }
        }
        Flow::Continue
    }

    /// A frame with session 0 on a gateway link: about the link itself.
    fn link_frame(&mut self, msg: ClientMsg) -> Flow {
        match msg {
            ClientMsg::Ping { nonce } => self.reply(LINK_SESSION, ServerMsg::Pong { nonce }),
            ClientMsg::Pong { .. } => {}
            ClientMsg::Users => self.reply(
                LINK_SESSION,
                ServerMsg::Users {
                    users: self.room.users(),
                },
            ),
            ClientMsg::Quit => return Flow::Close(None),
            // Credit for room-wide copies, which cross the link on session 0.
            ClientMsg::FileCredit { transfer, bytes } => self.credit(LINK_SESSION, transfer, bytes),
            ClientMsg::Hello { .. } => self.error(
                LINK_SESSION,
                ErrorCode::AlreadyJoined,
                "hello was already sent",
            ),
            _ => self.error(
                LINK_SESSION,
                ErrorCode::BadFrame,
                "on a gateway link, user frames need a non-zero session id",
            ),
        }
        Flow::Continue
    }

    fn check_text(&self, session: SessionId, text: &str) -> bool {
        if text.len() > self.config.max_message as usize {
            self.error(
                session,
                ErrorCode::MessageTooLong,
                format!(
                    "messages are at most {} bytes; this one is {}",
                    self.config.max_message,
                    text.len()
                ),
            );
            return false;
        }
        if text.trim().is_empty() {
            self.error(session, ErrorCode::EmptyMessage, "empty message");
            return false;
        }
        true
    }

    /// Frames from a joined user.
    fn member_frame(&mut self, session: SessionId, msg: ClientMsg, payload: bytes::Bytes) {
        let name = self.sessions[&session].name.clone();
        match msg {
            ClientMsg::Say { text } => {
                if self.check_text(session, &text) {
                    self.room.say(&name, &text);
                }
            }
            ClientMsg::Private { to, text } => {
                if !self.check_text(session, &text) {
                    return;
                }
                if let Err((code, message)) = self.room.private(&name, &to, &text) {
                    self.error(session, code, message);
                }
            }
            ClientMsg::Users => self.reply(
                session,
                ServerMsg::Users {
                    users: self.room.users(),
                },
            ),
            ClientMsg::FileOffer {
                id,
                to,
                name: file_name,
                size,
                sha256,
                kind,
            } => {
                let offer = Offer {
                    to,
                    name: file_name,
                    size,
                    sha256: sha256.to_ascii_lowercase(),
                    kind,
                };
                self.offer(session, &name, id, offer);
            }
            ClientMsg::FileChunk { id } => self.chunk(session, id, payload),
            ClientMsg::FileEnd { id } => self.end(session, id),
            ClientMsg::FileCredit { transfer, bytes } => self.credit(session, transfer, bytes),
            ClientMsg::FileCancel { id } => {
                let s = self.sessions.get_mut(&session).expect("joined");
                s.dead.remove(&id);
                if let Some(mut transfer) = s.transfers.remove(&id) {
                    transfer.abort(ErrorCode::TransferAborted, "the sender cancelled");
                }
            }
            // Handled before a session is needed.
            ClientMsg::Hello { .. }
            | ClientMsg::Join { .. }
            | ClientMsg::Ping { .. }
            | ClientMsg::Pong { .. }
            | ClientMsg::Quit => {}
        }
    }
}
