//! One session's uploads in flight: the ids used in `file_offer`, the file
//! names (for the notices about them) and the waiter of each upload's request
//! handler, woken by the core's first answer (`file_accepted` or
//! `file_failed`). Later answers (`file_delivered`, a failure for one
//! recipient) become notices on the session's sockets; `file_credit` feeds
//! the upload's [`SendCredit`], closed once the transfer is over.

use std::collections::HashMap;

use protocol::{ErrorCode, ServerMsg, client::SendCredit};
use tokio::sync::oneshot;

use crate::browser;

/// Uploads whose delivery notices we still remember, per session.
const MAX_REMEMBERED_UPLOADS: usize = 64;

/// What the core said about an upload's offer.
#[derive(Debug, Clone)]
pub enum UploadReply {
    Accepted,
    Failed { code: ErrorCode, message: String },
}

#[derive(Default)]
pub(super) struct Uploads {
    /// By the id used in `file_offer`; at most [`MAX_REMEMBERED_UPLOADS`],
    /// the oldest forgotten first.
    in_flight: HashMap<u32, Upload>,
    /// Last upload id handed out.
    last: u32,
}

struct Upload {
    /// The file name, for notices.
    name: String,
    /// The upload handler waiting for the core's first answer.
    waiter: Option<oneshot::Sender<UploadReply>>,
    /// What the core lets the upload send (flow control).
    credit: SendCredit,
    /// Recipients not yet answered for (from `file_accepted`): at 0 nobody
    /// is left to send to and the credit is closed.
    waiting: Option<usize>,
}

impl Drop for Upload {
    fn drop(&mut self) {
        // A forgotten upload must not leave its sender waiting.
        self.credit.close();
    }
}

impl Uploads {
    /// Reserves an upload id for a `file_offer`; the receiver gets the core's
    /// accept or refusal.
    pub(super) fn begin(
        &mut self,
        name: &str,
        window: u64,
    ) -> (u32, oneshot::Receiver<UploadReply>, SendCredit) {
        self.last = self.last.wrapping_add(1).max(1);
        let upload = self.last;
        let (tx, rx) = oneshot::channel();
        if self.in_flight.len() >= MAX_REMEMBERED_UPLOADS
            && let Some(oldest) = self.in_flight.keys().min().copied()
        {
            self.in_flight.remove(&oldest);
        }
        let credit = SendCredit::new(window);
        self.in_flight.insert(
            upload,
            Upload {
                name: name.to_string(),
                waiter: Some(tx),
                credit: credit.clone(),
                waiting: None,
            },
        );
        (upload, rx, credit)
    }

    /// The core answered about an upload: wakes its waiter, or else returns
    /// the notice to show the session's browsers.
    pub(super) fn on_answer(&mut self, msg: &ServerMsg) -> Option<String> {
        if let Some(id) = upload_id(msg)
            && let Some(entry) = self.in_flight.get_mut(&id)
        {
            entry.account(msg);
        }
        let (upload, reply) = match msg {
            ServerMsg::FileAccepted { id, .. } => (*id, Some(UploadReply::Accepted)),
            ServerMsg::FileFailed {
                id, code, message, ..
            } => (
                *id,
                Some(UploadReply::Failed {
                    code: *code,
                    message: message.clone(),
                }),
            ),
            ServerMsg::FileDelivered { id, .. } => (*id, None),
            // Taken in by `account`; nothing to show.
            _ => return None,
        };
        let entry = self.in_flight.get_mut(&upload)?;
        if let Some(reply) = reply
            && let Some(waiter) = entry.waiter.take()
        {
            // The uploader reports an early refusal itself.
            if waiter.send(reply).is_ok() {
                return None;
            }
        }
        browser::upload_notice(&entry.name, msg)
    }

    /// The link dropped: the waiters see their senders dropped (the upload
    /// failed); the names stay for late notices.
    pub(super) fn abandon_waiters(&mut self) {
        for upload in self.in_flight.values_mut() {
            upload.waiter = None;
            upload.credit.close();
        }
    }
}

fn upload_id(msg: &ServerMsg) -> Option<u32> {
    match msg {
        ServerMsg::FileAccepted { id, .. }
        | ServerMsg::FileCredit { id, .. }
        | ServerMsg::FileDelivered { id, .. }
        | ServerMsg::FileFailed { id, .. } => Some(*id),
        _ => None,
    }
}

impl Upload {
    /// Flow control: credit in, and the end of the transfer (a failure of the
    /// whole, or every recipient answered) closes it.
    fn account(&mut self, msg: &ServerMsg) {
        match msg {
            ServerMsg::FileAccepted { recipients, .. } => self.waiting = Some(recipients.len()),
            ServerMsg::FileCredit { bytes, .. } => self.credit.grant(*bytes),
            ServerMsg::FileFailed { to: None, .. } => self.credit.close(),
            ServerMsg::FileDelivered { .. } | ServerMsg::FileFailed { to: Some(_), .. } => {
                if let Some(n) = &mut self.waiting {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.credit.close();
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(id: u32) -> ServerMsg {
        ServerMsg::FileDelivered {
            id,
            to: "bob".into(),
        }
    }

    #[test]
    fn the_first_answer_wakes_the_waiter_later_ones_are_notices() {
        let mut uploads = Uploads::default();
        let (id, mut rx, _credit) = uploads.begin("cat.png", 1 << 20);
        assert_eq!(
            uploads.on_answer(&ServerMsg::FileAccepted {
                id,
                transfer: 1,
                recipients: vec!["bob".into()],
            }),
            None
        );
        assert!(matches!(rx.try_recv(), Ok(UploadReply::Accepted)));
        assert_eq!(
            uploads.on_answer(&delivered(id)).as_deref(),
            Some("cat.png was delivered to bob")
        );
        assert_eq!(uploads.on_answer(&delivered(id + 1)), None);
    }

    #[test]
    fn only_the_latest_uploads_are_remembered() {
        let mut uploads = Uploads::default();
        let (first, _rx, _credit) = uploads.begin("first", 1 << 20);
        for _ in 0..MAX_REMEMBERED_UPLOADS {
            uploads.begin("more", 1 << 20);
        }
        assert_eq!(uploads.on_answer(&delivered(first)), None);
        assert!(uploads.on_answer(&delivered(first + 1)).is_some());
    }
}
