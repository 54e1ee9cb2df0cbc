//! The notice a sender gets for one copy of its file: it rides in the copy's
//! `file_end` on the recipient's chunk queue, and is sent back through the
//! sender's own outbox once the writer has written that end.
//!
//! A child of `outbox` because the types are recursive by nature: an
//! [`Outbox`] queues [`ChunkItem`](super::ChunkItem)s, a chunk item may carry a
//! `Delivery`, and a delivery holds the sender's `Outbox`. Keeping all three
//! in one module is what keeps the crate's modules free of cycles.

use tokio_util::sync::CancellationToken;

use protocol::{ErrorCode, ServerMsg, SessionId};

use super::Outbox;
use crate::notice::failed;

/// Tells a sender how one copy ended. Sent when the writer has written the
/// copy's `file_end`; if it is dropped unwritten (the recipient's connection
/// closed), the sender hears `recipient_left` instead.
#[derive(Debug)]
pub struct Delivery {
    /// The sender's queue (not the room: this may run where the room is locked).
    sender: Outbox,
    /// The sender's session and its id for the transfer.
    session: SessionId,
    id: u32,
    /// The members this copy reached.
    names: Vec<(String, CancellationToken)>,
    /// Whether the notice was sent.
    done: bool,
}

impl Delivery {
    /// A notice for the copy of transfer `id` (the sender's id) that reaches
    /// `names`, to be sent to `session` on `sender`.
    pub fn new(
        sender: Outbox,
        session: SessionId,
        id: u32,
        names: Vec<(String, CancellationToken)>,
    ) -> Delivery {
        Delivery {
            sender,
            session,
            id,
            names,
            done: false,
        }
    }

    /// The `file_end` was written to the recipient's socket.
    pub fn written(mut self) {
        self.done = true;
        for (name, left) in &self.names {
            let msg = if left.is_cancelled() {
                failed(self.id, name, ErrorCode::RecipientLeft)
            } else {
                ServerMsg::FileDelivered {
                    id: self.id,
                    to: name.clone(),
                }
            };
            self.sender.send_msg(self.session, &msg);
        }
    }

    /// Drops the notice unsent: the caller tells the sender why instead.
    pub fn disarm(mut self) {
        self.done = true;
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.done {
            for (name, _) in &self.names {
                self.sender.send_msg(
                    self.session,
                    &failed(self.id, name, ErrorCode::RecipientLeft),
                );
            }
        }
    }
}
