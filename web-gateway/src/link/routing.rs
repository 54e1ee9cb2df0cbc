//! Where each frame from the core goes: room-wide events (session 0, once per
//! link) to [`Hub::on_room_event`], which fans them out; per-session frames to
//! that session; incoming files to a spool writer, their chunks after them;
//! replies to uploads to the upload waiting for them.

use std::collections::HashMap;

use protocol::{ClientMsg, EventBody, LINK_SESSION, ServerMsg, codec::Frame};

use super::LinkSession;
use crate::{
    sessions::Hub,
    spool::{FileWriter, Spool},
};

/// The core ended the whole link (a `bye` on session 0); the reason.
pub(super) struct LinkBye(pub(super) String);

/// The routing state of one connection: it ends with the connection, and so
/// do the transfers it was receiving.
pub(super) struct Inbound<'a> {
    /// Where events for browsers go.
    hub: &'a Hub,
    /// Where incoming files go.
    spool: &'a Spool,
    /// This connection, for replies (a `quit` to a welcome nobody waits for,
    /// a retried re-attach).
    session: LinkSession,
    /// The writers of incoming files by transfer id, to hand their chunks over.
    transfers: HashMap<u64, FileWriter>,
}

impl<'a> Inbound<'a> {
    pub(super) fn new(hub: &'a Hub, spool: &'a Spool, session: LinkSession) -> Inbound<'a> {
        Inbound {
            hub,
            spool,
            session,
            transfers: HashMap::new(),
        }
    }

    /// Handles one frame from the core. Returns an error only when the link
    /// must be dropped.
    pub(super) async fn route(&mut self, frame: Frame<ServerMsg>) -> Result<(), LinkBye> {
        let hub = self.hub;
        let session = frame.session;
        let reply = |msg: ClientMsg| self.session.queue(Frame::new(msg).with_session(session));
        match frame.msg {
            // `KeepAlive` answers the core's pings before frames get here;
            // this arm only keeps the match whole.
            ServerMsg::Ping { nonce } => reply(ClientMsg::Pong { nonce }),
            ServerMsg::Pong { .. } | ServerMsg::Hello { .. } => {}
            ServerMsg::Event(ev) => {
                if let EventBody::File { from, .. } = &ev.event {
                    let grants = if session == LINK_SESSION {
                        // A room-wide file is not for its sender.
                        hub.attached_sessions_except(from)
                    } else {
                        vec![session]
                    };
                    let link = self.session.clone();
                    if let Some((transfer, file)) =
                        FileWriter::start(&ev, grants, hub, self.spool, link, session)
                    {
                        self.transfers.insert(transfer, file);
                    }
                } else if session == LINK_SESSION {
                    hub.on_room_event(&ev);
                } else {
                    hub.on_session_event(session, &ev);
                }
            }
            ServerMsg::Welcome {
                users,
                history,
                last_seq,
                ..
            } => {
                if !hub.on_welcome(session, users, history, last_seq) {
                    reply(ClientMsg::Quit);
                }
            }
            ServerMsg::Users { users } => hub.set_users(users),
            ServerMsg::FileChunk { transfer } => {
                if let Some(file) = self.transfers.get(&transfer)
                    && !file.chunk(frame.payload)
                {
                    self.transfers.remove(&transfer);
                }
            }
            ServerMsg::FileEnd { transfer } => {
                if let Some(file) = self.transfers.remove(&transfer) {
                    file.end();
                }
            }
            ServerMsg::FileAbort {
                transfer, message, ..
            } => {
                // Dropping the file makes its writer discard the partial file.
                if self.transfers.remove(&transfer).is_some() {
                    tracing::debug!(transfer, %message, "incoming file aborted");
                }
            }
            msg @ (ServerMsg::FileAccepted { .. }
            | ServerMsg::FileCredit { .. }
            | ServerMsg::FileDelivered { .. }
            | ServerMsg::FileFailed { .. }) => hub.on_upload_reply(session, &msg),
            ServerMsg::Error { code, message } => {
                if session == LINK_SESSION {
                    tracing::warn!(?code, %message, "core error on the link");
                } else if let Some(retry) = hub.on_session_error(session, code, &message) {
                    tracing::info!(user = %retry.name, delay = ?retry.delay, "name still held by the old link; retrying the re-attach");
                    let link = self.session.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(retry.delay).await;
                        let join = ClientMsg::Join {
                            name: retry.name,
                            since: retry.since,
                            addr: retry.addr,
                        };
                        // Refused if the connection changed meanwhile; the
                        // next one re-attaches the session anyway.
                        let _ = link.send(session, join).await;
                    });
                }
            }
            ServerMsg::Bye { code, message } => {
                if session == LINK_SESSION {
                    return Err(LinkBye(format!("{code:?}: {message}")));
                }
                hub.on_session_bye(session, &message);
            }
        }
        Ok(())
    }
}
