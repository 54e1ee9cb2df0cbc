//! Our offers: a transfer task per file, the recipients we still expect a
//! receipt from, and what the server's receipts and the tasks' progress do
//! to them.

use std::{collections::HashSet, path::PathBuf, time::Duration};

use indicatif::ProgressBar;
use protocol::{ClientMsg, ErrorCode, FileKind, Target, client::SendCredit};
use tokio::{task::JoinHandle, time::Instant};

use super::Room;
use crate::{
    command::Recipient,
    render::Output,
    transfer_out::{self, Prepared, Progress},
};

/// At the end of input, how long to wait for delivery receipts after the
/// last sign of progress before giving up on them.
const RECEIPT_PATIENCE: Duration = Duration::from_secs(30);

/// An offer of ours still in progress.
pub(super) struct Outgoing {
    file: Prepared,
    to: Target,
    /// Known once hashed.
    sha256: Option<String>,
    /// Recipients (lower-case names) we still expect a receipt from: the
    /// server's list once it accepted the offer; before that our guess (the
    /// one user, or everyone in the room).
    waiting: HashSet<String>,
    /// The server accepted the offer and named the recipients.
    accepted: bool,
    /// Every byte is queued for the server.
    all_sent: bool,
    bar: ProgressBar,
    /// What the server lets the task send (flow control).
    credit: SendCredit,
    task: JoinHandle<()>,
}

impl Room {
    /// `/sendfile` and `/sendimage`: checks the file and starts streaming it
    /// as transfer `id`. Returns true if it used the id.
    pub(super) async fn send_file(
        &mut self,
        id: u32,
        to: Recipient,
        path: PathBuf,
        kind: FileKind,
    ) -> bool {
        let file = match transfer_out::prepare(&path, kind, self.limits.max_file).await {
            Ok(file) => file,
            Err(e) => {
                self.error(e.code(), e.to_string());
                return false;
            }
        };
        let (target, waiting) = match to {
            Recipient::All => (
                Target::Room,
                self.users.keys().cloned().collect::<HashSet<_>>(),
            ),
            Recipient::User(user) => {
                let key = user.to_ascii_lowercase();
                (Target::User(user), HashSet::from([key]))
            }
        };
        let who = match &target {
            Target::Room => "all".to_string(),
            Target::User(u) => u.clone(),
        };
        let bar = self.ui.bar(file.size, &format!("{} -> {who}", file.name));
        let credit = SendCredit::new(self.limits.file_window);
        let task = tokio::spawn(transfer_out::send(
            id,
            file.clone(),
            target.clone(),
            self.outbox.files.clone(),
            credit.clone(),
            bar.clone(),
            self.progress_tx.clone(),
        ));
        self.outgoing.insert(
            id,
            Outgoing {
                file,
                to: target,
                sha256: None,
                waiting,
                accepted: false,
                all_sent: false,
                bar,
                credit,
                task,
            },
        );
        self.last_receipt = Instant::now();
        true
    }

    pub async fn on_progress(&mut self, progress: Progress) {
        self.last_receipt = Instant::now();
        match progress {
            Progress::Offered { id, sha256 } => {
                if let Some(out) = self.outgoing.get_mut(&id) {
                    out.sha256 = Some(sha256);
                }
            }
            Progress::AllSent { id } => {
                if let Some(out) = self.outgoing.get_mut(&id) {
                    out.all_sent = true;
                    out.bar.finish_and_clear();
                }
                self.maybe_done(id);
            }
            Progress::Failed { id, error } => {
                if let Some(out) = self.outgoing.remove(&id) {
                    out.bar.finish_and_clear();
                    if out.sha256.is_some() {
                        self.send(ClientMsg::FileCancel { id }).await;
                    }
                    self.ui.emit(Output::FileFailed {
                        from: None,
                        to: None,
                        name: out.file.name,
                        path: Some(out.file.path),
                        code: error.code().into(),
                        text: error.to_string(),
                    });
                }
            }
        }
    }

    /// Forgets an outgoing transfer once every expected recipient has
    /// answered (after the server named them, or once every byte is sent):
    /// there is nobody left to send to, so a task still streaming stops.
    fn maybe_done(&mut self, id: u32) {
        if self
            .outgoing
            .get(&id)
            .is_some_and(|o| (o.all_sent || o.accepted) && o.waiting.is_empty())
            && let Some(out) = self.outgoing.remove(&id)
        {
            out.credit.close();
            if !out.all_sent {
                out.task.abort();
                out.bar.finish_and_clear();
            }
        }
    }

    /// The server's `file_credit`: the transfer task may send more.
    pub(super) fn file_credit(&mut self, id: u32, bytes: u64) {
        if let Some(out) = self.outgoing.get(&id) {
            out.credit.grant(bytes);
        }
    }

    /// At the end of input: if every byte is sent but some recipients have
    /// not answered for `RECEIPT_PATIENCE`, stop waiting for them.
    pub fn give_up_stale_receipts(&mut self) {
        let all_sent = self.outgoing.values().all(|o| o.all_sent);
        if !all_sent || self.last_receipt.elapsed() <= RECEIPT_PATIENCE {
            return;
        }
        for (_, out) in self.outgoing.drain() {
            for who in out.waiting {
                self.ui.emit(Output::FileFailed {
                    from: None,
                    to: Some(who),
                    name: out.file.name.clone(),
                    path: Some(out.file.path.clone()),
                    code: "no_receipt".into(),
                    text: format!(
                        "no delivery receipt within {} s",
                        RECEIPT_PATIENCE.as_secs()
                    ),
                });
            }
        }
    }

    /// `key` (a lower-case name) left the room. Before the server named the
    /// recipients of a room-wide offer, do not wait for one who left (after,
    /// the server answers for every recipient itself).
    pub(super) fn recipient_left(&mut self, key: &str) {
        let ids: Vec<u32> = self.outgoing.keys().copied().collect();
        for id in ids {
            if let Some(out) = self.outgoing.get_mut(&id)
                && out.to == Target::Room
                && !out.accepted
            {
                out.waiting.remove(key);
            }
            self.maybe_done(id);
        }
    }

    /// The server's `file_accepted`: from now on, wait for the recipients it
    /// named.
    pub(super) fn file_accepted(&mut self, id: u32, recipients: &[String]) {
        if let Some(out) = self.outgoing.get_mut(&id) {
            out.accepted = true;
            out.waiting = recipients.iter().map(|r| r.to_ascii_lowercase()).collect();
            self.maybe_done(id);
        }
    }

    /// The server's `file_delivered`: one recipient has it whole.
    pub(super) fn file_delivered(&mut self, id: u32, to: String) {
        self.last_receipt = Instant::now();
        if let Some(out) = self.outgoing.get_mut(&id) {
            out.waiting.remove(&to.to_ascii_lowercase());
            self.ui.emit(Output::FileSent {
                to,
                name: out.file.name.clone(),
                path: out.file.path.clone(),
                size: out.file.size,
                sha256: out.sha256.clone().unwrap_or_default(),
                kind: out.file.kind,
            });
            self.maybe_done(id);
        }
    }

    /// The server's `file_failed` for one of our offers.
    pub(super) fn send_failed(
        &mut self,
        id: u32,
        to: Option<String>,
        code: ErrorCode,
        message: String,
    ) {
        self.last_receipt = Instant::now();
        let Some(out) = self.outgoing.get_mut(&id) else {
            return;
        };
        let (name, path) = (out.file.name.clone(), out.file.path.clone());
        match &to {
            Some(who) => {
                out.waiting.remove(&who.to_ascii_lowercase());
                self.maybe_done(id);
            }
            None => {
                let out = self.outgoing.remove(&id).expect("present");
                out.task.abort();
                out.bar.finish_and_clear();
            }
        }
        self.ui.emit(Output::FileFailed {
            from: None,
            to,
            name,
            path: Some(path),
            code: code.as_str().to_string(),
            text: message,
        });
    }

    /// The connection ended: every unfinished offer fails.
    pub(super) fn close_outgoing(&mut self) {
        for (_, out) in self.outgoing.drain() {
            out.task.abort();
            out.bar.finish_and_clear();
            self.ui.emit(Output::FileFailed {
                from: None,
                to: None,
                name: out.file.name,
                path: Some(out.file.path),
                code: "disconnected".into(),
                text: "the connection ended before the file was delivered".into(),
            });
        }
    }
}
