//! File frames: a sender's offers (checked against the limits), chunks and
//! ends fed to its `Transfer`, the ids of failed transfers (their late chunks
//! are dropped quietly); and a recipient's credit, handed to the transfer's
//! relay. Nothing here waits.

use tracing::{debug, info};

use protocol::{ErrorCode, ServerMsg, SessionId};

use super::Connection;
use crate::{
    room::Offer,
    transfer::{Failure, Transfer},
};

/// Longest file name accepted in an offer, in bytes.
const MAX_FILE_NAME: usize = 255;
/// How many refused/failed transfer ids a session remembers, to drop their
/// remaining chunks silently.
const MAX_DEAD_TRANSFERS: usize = 256;

impl Connection {
    fn file_failed(
        &self,
        session: SessionId,
        id: u32,
        code: ErrorCode,
        message: impl Into<String>,
    ) {
        self.reply(
            session,
            ServerMsg::FileFailed {
                id,
                to: None,
                code,
                message: message.into(),
            },
        );
    }

    fn mark_dead(&mut self, session: SessionId, id: u32) {
        let s = self.sessions.get_mut(&session).expect("joined");
        if s.dead.len() >= MAX_DEAD_TRANSFERS {
            s.dead.clear();
        }
        s.dead.insert(id);
    }

    pub(super) fn offer(&mut self, session: SessionId, from: &str, id: u32, offer: Offer) {
        let refusal = {
            let s = self.sessions.get_mut(&session).expect("joined");
            // Transfers whose copies are all finished no longer count.
            s.transfers.retain(|_, t| !t.is_done());
            s.draining.retain(|r| !r.is_done());
            let open = s.transfers.len() + s.draining.len();
            if s.transfers.contains_key(&id) {
                Some((
                    ErrorCode::BadFrame,
                    format!("transfer id {id} is already open"),
                ))
            } else if open >= self.config.max_transfers {
                Some((
                    ErrorCode::TooManyTransfers,
                    format!("at most {} files at once", self.config.max_transfers),
                ))
            } else if offer.size > self.config.max_file {
                Some((
                    ErrorCode::FileTooLarge,
                    format!(
                        "files are at most {} bytes; this one is {}",
                        self.config.max_file, offer.size
                    ),
                ))
            } else if offer.sha256.len() != 64
                || !offer.sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                Some((
                    ErrorCode::BadFrame,
                    "sha256 must be 64 hex digits".to_string(),
                ))
            } else if offer.name.is_empty()
                || offer.name.len() > MAX_FILE_NAME
                || offer.name.chars().any(char::is_control)
            {
                Some((
                    ErrorCode::BadFrame,
                    format!("a file name is 1 to {MAX_FILE_NAME} bytes without control characters"),
                ))
            } else {
                None
            }
        };
        if let Some((code, message)) = refusal {
            // Do not kill an open transfer that reuses its id by mistake.
            if code != ErrorCode::BadFrame || !self.sessions[&session].transfers.contains_key(&id) {
                self.mark_dead(session, id);
            }
            self.file_failed(session, id, code, message);
            return;
        }
        match self
            .room
            .offer_file(from, id, self.config.file_window, &offer)
        {
            Ok((transfer, recipients, relay)) => {
                info!(
                    from,
                    transfer,
                    file = offer.name,
                    size = offer.size,
                    "file offered"
                );
                self.reply(
                    session,
                    ServerMsg::FileAccepted {
                        id,
                        transfer,
                        recipients,
                    },
                );
                let t = Transfer::new(id, transfer, offer.kind, offer.size, offer.sha256, relay);
                let s = self.sessions.get_mut(&session).expect("joined");
                s.dead.remove(&id);
                s.transfers.insert(id, t);
            }
            Err((code, message)) => {
                self.mark_dead(session, id);
                self.file_failed(session, id, code, message);
            }
        }
    }

    fn unknown_transfer(&mut self, session: SessionId, id: u32) {
        let s = self.sessions.get_mut(&session).expect("joined");
        if s.dead.contains(&id) {
            return; // the sender was already told this transfer failed
        }
        // Unknown ids are counted against the rate limit so they cannot flood.
        if s.bucket.try_take() {
            self.error(
                session,
                ErrorCode::UnknownTransfer,
                format!("no open transfer with id {id}"),
            );
        }
    }

    pub(super) fn chunk(&mut self, session: SessionId, id: u32, payload: bytes::Bytes) {
        let Some(mut transfer) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.transfers.remove(&id))
        else {
            return self.unknown_transfer(session, id);
        };
        if transfer.is_done() {
            // Every recipient is answered for: the sender will stop.
            self.mark_dead(session, id);
            return;
        }
        match transfer.chunk(payload) {
            Ok(()) => {
                let s = self.sessions.get_mut(&session).expect("joined");
                s.transfers.insert(id, transfer);
            }
            Err(failure) => self.fail_transfer(session, transfer, failure),
        }
    }

    pub(super) fn end(&mut self, session: SessionId, id: u32) {
        let Some(mut transfer) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.transfers.remove(&id))
        else {
            let s = self.sessions.get_mut(&session).expect("joined");
            if s.dead.remove(&id) {
                return;
            }
            return self.unknown_transfer(session, id);
        };
        let number = transfer.transfer;
        match transfer.end() {
            Ok(relay) => {
                debug!(transfer = number, "file received whole");
                let s = self.sessions.get_mut(&session).expect("joined");
                s.draining.push(relay);
            }
            Err(failure) => {
                self.fail_transfer(session, transfer, failure);
                // The end was its last frame: nothing more will come for it.
                self.sessions
                    .get_mut(&session)
                    .expect("joined")
                    .dead
                    .remove(&id);
            }
        }
    }

    /// A recipient's `file_credit` for a transfer it receives on `session`
    /// (0 for a room-wide copy on a gateway link). Credit for a transfer
    /// that is over, or not for this recipient, is ignored: it may cross an
    /// abort.
    pub(super) fn credit(&mut self, session: SessionId, transfer: u64, bytes: u64) {
        if let Some(relay) = self.room.relay(transfer)
            && !relay.credit(&self.outbox, session, bytes)
        {
            debug!(transfer, session, "credit for a copy that is not here");
        }
    }

    /// Every so often: aborts this connection's transfers whose sender went
    /// quiet, and the copies (of open and draining transfers) whose recipient
    /// stopped crediting, so nobody holds a transfer by saying nothing.
    pub(super) fn expire_idle_transfers(&mut self) {
        let timeout = self.config.transfer_idle_timeout;
        let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        for session in sessions {
            let s = self.sessions.get_mut(&session).expect("listed");
            for relay in &s.draining {
                relay.expire_idle_copies(timeout);
            }
            s.draining.retain(|r| !r.is_done());
            let idle: Vec<u32> = s
                .transfers
                .iter()
                .filter(|(_, t)| {
                    t.expire_idle_copies(timeout);
                    t.sender_idle(timeout)
                })
                .map(|(&id, _)| id)
                .collect();
            for id in idle {
                let s = self.sessions.get_mut(&session).expect("listed");
                let transfer = s.transfers.remove(&id).expect("listed");
                let failure = Failure {
                    code: ErrorCode::TransferIdle,
                    message: format!(
                        "nothing sent for {timeout:?} though credit was there: transfer aborted"
                    ),
                };
                self.fail_transfer(session, transfer, failure);
            }
        }
    }

    fn fail_transfer(&mut self, session: SessionId, mut transfer: Transfer, failure: Failure) {
        info!(transfer = transfer.transfer, code = ?failure.code, "file failed: {}", failure.message);
        transfer.abort(failure.code, &failure.message);
        self.mark_dead(session, transfer.id);
        self.file_failed(session, transfer.id, failure.code, failure.message);
    }
}
