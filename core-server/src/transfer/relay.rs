//! The shared half of one transfer: the bytes received but not yet sent to
//! every copy (at most the credit window), each copy's position and credit,
//! and the credit granted to the sender.
//!
//! Both ends touch it without waiting: the sender's connection appends chunks,
//! each recipient's connection returns credit (`file_credit`), and whichever
//! did so sends what the credit now allows and grants the sender what the
//! slowest copy has made room for. Nothing here awaits, so no connection ever
//! stops reading because of a file. A std mutex, never held across `.await`.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use bytes::Bytes;
use protocol::{
    ErrorCode, ServerMsg, SessionId,
    codec::{Encoded, encode},
};

use super::RecipientCopy;
use crate::{
    notice::failed,
    outbox::{ChunkItem, Delivery, Outbox},
};

/// Handle to one transfer's relay state; cheap to clone (the sender's
/// `Transfer` and the room's registry hold it).
#[derive(Debug, Clone)]
pub struct Relay {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    /// The server's id for the transfer (as recipients know it).
    transfer: u64,
    /// The sender's id for it, its session and its queue (credit, notices).
    id: u32,
    session: SessionId,
    sender: Outbox,
    /// The credit window: a copy is sent at most this much beyond what it
    /// credited back; the sender may be at most this far ahead of the slowest copy.
    window: u64,
    /// Session id stamped on chunk frames: all copies of a transfer share it
    /// (a private file has one copy; a room-wide file's copies all use 0), so
    /// each chunk is encoded once.
    frame_session: SessionId,
    /// Chunks not yet sent to every copy, oldest first, each with its offset.
    pieces: VecDeque<Piece>,
    /// Bytes appended so far (the end offset of the last piece).
    received: u64,
    /// Total bytes the sender may send (the window, plus every grant).
    granted: u64,
    /// When the sender was last granted credit (or the transfer opened): a
    /// sender waiting for credit is not idle, so its clock starts here.
    granted_at: Instant,
    /// The sender's end was checked: copies get `file_end` once caught up.
    ended: bool,
    /// Copies still receiving.
    copies: Vec<Copy>,
}

#[derive(Debug)]
struct Piece {
    start: u64,
    len: u64,
    frame: Encoded,
}

#[derive(Debug)]
struct Copy {
    to: RecipientCopy,
    /// Bytes queued for this recipient.
    sent: u64,
    /// Bytes it may be sent in all: the window plus what it credited. The
    /// slowest copy's limit is also the sender's.
    limit: u64,
    /// Since when this recipient has owed credit (been sent bytes it has not
    /// credited back) without crediting any; `None` while it owes nothing.
    owed_since: Option<Instant>,
}

impl Copy {
    /// Bytes sent to it that it has not credited back.
    fn owed(&self, window: u64) -> bool {
        self.sent > self.limit - window
    }
}

impl Relay {
    pub fn new(
        transfer: u64,
        id: u32,
        session: SessionId,
        sender: Outbox,
        window: u64,
        copies: Vec<RecipientCopy>,
    ) -> Relay {
        let frame_session = copies.first().map_or(0, |c| c.session);
        let copies = copies
            .into_iter()
            .map(|to| Copy {
                to,
                sent: 0,
                limit: window,
                owed_since: None,
            })
            .collect();
        Relay {
            state: Arc::new(Mutex::new(State {
                transfer,
                id,
                session,
                sender,
                window,
                frame_session,
                pieces: VecDeque::new(),
                received: 0,
                granted: window,
                granted_at: Instant::now(),
                ended: false,
                copies,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Total bytes the sender may have sent by now.
    pub fn granted(&self) -> u64 {
        self.lock().granted
    }

    /// When the sender was last granted credit.
    pub fn granted_at(&self) -> Instant {
        self.lock().granted_at
    }

    /// Aborts each copy whose recipient has owed credit for `timeout` without
    /// crediting any (`transfer_idle`; the sender is told for each of its
    /// names). The other copies go on, and may now get the sender more credit.
    pub fn expire_idle_copies(&self, timeout: Duration) {
        let mut st = self.lock();
        let (transfer, id, session) = (st.transfer, st.id, st.session);
        let before = st.copies.len();
        let State { copies, sender, .. } = &mut *st;
        copies.retain(|copy| {
            let idle = copy.owed_since.is_some_and(|t| t.elapsed() >= timeout);
            if idle {
                copy.to.outbox.send_abort(
                    copy.to.session,
                    transfer,
                    ErrorCode::TransferIdle,
                    "no credit for this file within the transfer idle timeout",
                );
                for (name, _) in &copy.to.names {
                    sender.send_msg(session, &failed(id, name, ErrorCode::TransferIdle));
                }
            }
            !idle
        });
        if st.copies.len() != before {
            st.pump_all();
        }
    }

    /// Every copy is finished (delivered, failed or aborted).
    pub fn is_done(&self) -> bool {
        self.lock().copies.is_empty()
    }

    /// The sender's next (checked) bytes: sent on to every copy with credit.
    pub fn push(&self, bytes: Bytes) {
        let mut st = self.lock();
        let msg = ServerMsg::FileChunk {
            transfer: st.transfer,
        };
        let frame = encode(st.frame_session, &msg, &bytes);
        let (start, len) = (st.received, bytes.len() as u64);
        st.pieces.push_back(Piece { start, len, frame });
        st.received += len;
        st.pump_all();
    }

    /// The sender's end was checked: each copy gets `file_end` after its last
    /// chunk.
    pub fn end(&self) {
        let mut st = self.lock();
        st.ended = true;
        st.pump_all();
    }

    /// A recipient returned `bytes` of credit on `outbox`/`session`. Returns
    /// false if no copy of this transfer is for it.
    pub fn credit(&self, outbox: &Outbox, session: SessionId, bytes: u64) -> bool {
        let mut st = self.lock();
        let Some(i) = st
            .copies
            .iter()
            .position(|c| c.to.session == session && c.to.outbox.same(outbox))
        else {
            return false;
        };
        let window = st.window;
        let copy = &mut st.copies[i];
        // Credit for bytes never sent is ignored: a recipient cannot make the
        // server queue more than the window for it.
        copy.limit = copy.limit.saturating_add(bytes).min(copy.sent + window);
        if bytes > 0 {
            copy.owed_since = copy.owed(window).then(Instant::now);
        }
        st.pump_all();
        true
    }

    /// Members who left since are dropped (the sender is told); copies with
    /// nobody left end.
    pub fn prune_left(&self) {
        let mut st = self.lock();
        st.pump_all();
    }

    /// The whole transfer is off: every remaining copy is aborted.
    pub fn abort(&self, code: ErrorCode, message: &str) {
        let mut st = self.lock();
        let transfer = st.transfer;
        for copy in st.copies.drain(..) {
            copy.to
                .outbox
                .send_abort(copy.to.session, transfer, code, message);
        }
        st.pieces.clear();
    }
}

impl State {
    /// Sends each copy what its credit allows, drops finished copies, frees
    /// the pieces every copy has, and grants the sender the room made.
    fn pump_all(&mut self) {
        let mut i = 0;
        while i < self.copies.len() {
            if self.pump(i) {
                i += 1;
            } else {
                self.copies.swap_remove(i);
            }
        }
        let slowest = self
            .copies
            .iter()
            .map(|c| c.sent)
            .min()
            .unwrap_or(self.received);
        while self
            .pieces
            .front()
            .is_some_and(|p| p.start + p.len <= slowest)
        {
            self.pieces.pop_front();
        }
        // The sender may be a window ahead of what the slowest copy has
        // consumed (credited), so the server holds at most a window per copy
        // (queued for the recipient or waiting here).
        let allowed = self
            .copies
            .iter()
            .map(|c| c.limit)
            .min()
            .unwrap_or(self.granted);
        if !self.ended && !self.copies.is_empty() && allowed > self.granted {
            let bytes = allowed - self.granted;
            self.granted = allowed;
            self.granted_at = Instant::now();
            self.sender
                .send_msg(self.session, &ServerMsg::FileCredit { id: self.id, bytes });
        }
    }

    /// Sends copy `i` what it may get; false when the copy is finished (its
    /// end was queued, or nobody it was for is there any more).
    fn pump(&mut self, i: usize) -> bool {
        let (transfer, id, session) = (self.transfer, self.id, self.session);
        let copy = &mut self.copies[i];
        let sender = &self.sender;
        copy.to.names.retain(|(name, left)| {
            let gone = left.is_cancelled();
            if gone {
                sender.send_msg(session, &failed(id, name, ErrorCode::RecipientLeft));
            }
            !gone
        });
        if copy.to.names.is_empty() {
            copy.to.outbox.send_abort(
                copy.to.session,
                transfer,
                ErrorCode::RecipientLeft,
                "you left",
            );
            return false;
        }
        // Pieces start at chunk boundaries every copy shares.
        let first = self.pieces.front().map_or(self.received, |p| p.start);
        let mut index = self
            .pieces
            .iter()
            .position(|p| p.start == copy.sent)
            .unwrap_or(self.pieces.len());
        debug_assert!(copy.sent >= first);
        while let Some(piece) = self.pieces.get(index) {
            if piece.start + piece.len > copy.limit {
                return true; // waits for credit
            }
            let item = ChunkItem {
                transfer,
                frame: piece.frame.clone(),
                delivery: None,
            };
            if !copy.to.outbox.send_chunk(item) {
                return self.gone(i);
            }
            copy.sent += piece.len;
            // Its clock starts with the first byte it owes.
            copy.owed_since.get_or_insert_with(Instant::now);
            index += 1;
        }
        if self.ended && copy.sent == self.received {
            let delivery = Delivery::new(self.sender.clone(), session, id, copy.to.names.clone());
            let item = ChunkItem {
                transfer,
                frame: encode(copy.to.session, &ServerMsg::FileEnd { transfer }, &[]),
                delivery: Some(Box::new(delivery)),
            };
            // A failed send disarms the delivery: tell the sender here.
            if !copy.to.outbox.send_chunk(item) {
                return self.gone(i);
            }
            return false;
        }
        true
    }

    /// Copy `i`'s connection closed: the sender hears for each name.
    fn gone(&self, i: usize) -> bool {
        for (name, _) in &self.copies[i].to.names {
            self.sender.send_msg(
                self.session,
                &failed(self.id, name, ErrorCode::RecipientLeft),
            );
        }
        false
    }
}
