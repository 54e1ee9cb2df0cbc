//! The state of one connected period: who is here, our offers waiting for
//! receipts, files arriving; and what each command and each server frame
//! does to it. `session.rs` runs the loop around it.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    time::Duration,
};

use indicatif::ProgressBar;
use protocol::{
    ClientMsg, ErrorCode, EventBody, Limits, ServerMsg, Target, UserInfo, client::Outbox,
    codec::Frame, rate::Pacer,
};
use tokio::{sync::mpsc, task::JoinHandle, time::Instant};

use crate::{
    command::{self, Command, Recipient},
    render::Output,
    transfer_in::{Announced, Incoming},
    transfer_out::{self, Prepared, Progress},
    ui::Ui,
    view::{DRAIN_NONCE, ViewHandle},
};

/// Frames per second left to the server's limit for what is not paced
/// (pongs, pings, file offers and cancels).
const HEADROOM_RATE: u32 = 2;
/// The same, of the server's burst.
const HEADROOM_BURST: u32 = 4;

/// At the end of input, how long to wait for delivery receipts after the
/// last sign of progress before giving up on them.
const RECEIPT_PATIENCE: Duration = Duration::from_secs(30);

/// An offer of ours still in progress.
struct Outgoing {
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
    task: JoinHandle<()>,
}

/// State of one connected period.
pub struct Room {
    ui: Ui,
    view: ViewHandle,
    download_dir: PathBuf,
    me: String,
    limits: Limits,
    /// Keeps what the user sends within the server's rate limit.
    pacer: Pacer,
    /// Everyone else, by lower-case name (names are unique ignoring case).
    users: BTreeMap<String, UserInfo>,
    outbox: Outbox,
    /// Given to transfer tasks so they can report back.
    progress_tx: mpsc::Sender<Progress>,
    incoming: HashMap<u64, Incoming>,
    /// Incoming transfers we already gave up on: their chunks are dropped.
    ignored: HashSet<u64>,
    outgoing: HashMap<u32, Outgoing>,
    /// Last delivery receipt or transfer progress (see `RECEIPT_PATIENCE`).
    last_receipt: Instant,
    /// The pong to our leaving ping came: every reply before it is in.
    drained: bool,
}

impl Room {
    pub fn new(
        ui: Ui,
        view: ViewHandle,
        download_dir: PathBuf,
        me: String,
        limits: Limits,
        outbox: Outbox,
        progress_tx: mpsc::Sender<Progress>,
    ) -> Room {
        Room {
            ui,
            view,
            download_dir,
            me,
            pacer: Pacer::below(
                limits.rate_per_sec,
                limits.rate_burst,
                HEADROOM_RATE,
                HEADROOM_BURST,
            ),
            limits,
            users: BTreeMap::new(),
            outbox,
            progress_tx,
            incoming: HashMap::new(),
            ignored: HashSet::new(),
            outgoing: HashMap::new(),
            last_receipt: Instant::now(),
            drained: false,
        }
    }

    /// Some of our offers are not finished yet.
    pub fn has_outgoing(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// The pong to our leaving ping came.
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Sends something the user asked for, paced to the rate limit.
    pub async fn send_paced(&mut self, msg: ClientMsg) {
        self.pacer.wait().await;
        self.send(msg).await;
    }

    pub async fn send(&self, msg: ClientMsg) {
        self.send_frame(Frame::new(msg)).await;
    }

    pub async fn send_frame(&self, frame: Frame<ClientMsg>) {
        // If the writer is gone the connection is lost; the main loop notices.
        let _ = self.outbox.control.send(frame).await;
    }

    /// The writer's control queue, for frames sent from where nothing can
    /// await (the keep-alive's callback).
    pub fn control(&self) -> mpsc::Sender<Frame<ClientMsg>> {
        self.outbox.control.clone()
    }

    pub fn others(&self) -> Vec<UserInfo> {
        self.users.values().cloned().collect()
    }

    pub fn set_users(&mut self, users: &[UserInfo]) {
        self.users = users
            .iter()
            .filter(|u| !u.name.eq_ignore_ascii_case(&self.me))
            .map(|u| (u.name.to_ascii_lowercase(), u.clone()))
            .collect();
        self.publish_users();
    }

    fn publish_users(&self) {
        let names: Vec<String> = self.users.values().map(|u| u.name.clone()).collect();
        self.view.update(|v| v.users = names);
    }

    fn error(&self, code: &str, text: String) {
        self.ui.emit(Output::Error {
            code: code.into(),
            text,
        });
    }

    /// Runs one command. Returns true if it used the transfer id `id`.
    pub async fn on_command(&mut self, command: Command, id: u32) -> bool {
        match command {
            Command::Say(text) => {
                if self.text_fits(&text) {
                    self.send_paced(ClientMsg::Say { text }).await;
                }
            }
            Command::Private { to, text } => {
                if self.text_fits(&text) {
                    self.send_paced(ClientMsg::Private { to, text }).await;
                }
            }
            Command::Users => self.send_paced(ClientMsg::Users).await,
            Command::Help => self.ui.emit(Output::Info(command::help())),
            Command::Quit => {}
            Command::SendFile { to, path, kind } => {
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
                let task = tokio::spawn(transfer_out::send(
                    id,
                    file.clone(),
                    target.clone(),
                    self.outbox.files.clone(),
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
                        task,
                    },
                );
                self.last_receipt = Instant::now();
                return true;
            }
        }
        false
    }

    /// Checks a text against the server's limit before sending it.
    fn text_fits(&self, text: &str) -> bool {
        let max = self.limits.max_message as usize;
        if text.len() > max {
            self.error(
                "message_too_long",
                format!(
                    "message is {} bytes; the limit is {max}; not sent",
                    text.len()
                ),
            );
            return false;
        }
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

    /// Forgets an outgoing transfer once its bytes are sent and every
    /// expected recipient has answered.
    fn maybe_done(&mut self, id: u32) {
        if self
            .outgoing
            .get(&id)
            .is_some_and(|o| o.all_sent && o.waiting.is_empty())
        {
            self.outgoing.remove(&id);
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

    /// Handles one frame; returns a reason if the connection is over.
    pub async fn on_frame(&mut self, frame: Frame<ServerMsg>) -> Option<String> {
        match frame.msg {
            ServerMsg::Event(event) => match &event.event {
                EventBody::File {
                    from,
                    to,
                    transfer,
                    name,
                    size,
                    sha256,
                    kind,
                } => {
                    let announced = Announced {
                        seq: event.seq,
                        ts: event.ts,
                        from: from.clone(),
                        to: to.clone(),
                        transfer: *transfer,
                        name: name.clone(),
                        size: *size,
                        sha256: sha256.clone(),
                        kind: *kind,
                    };
                    self.file_announced(announced).await;
                }
                EventBody::Joined { user } => {
                    if !user.name.eq_ignore_ascii_case(&self.me) {
                        self.users
                            .insert(user.name.to_ascii_lowercase(), user.clone());
                        self.publish_users();
                    }
                    self.ui.emit(Output::Event {
                        event,
                        history: false,
                    });
                }
                EventBody::Left { name } => {
                    let key = name.to_ascii_lowercase();
                    self.users.remove(&key);
                    self.publish_users();
                    // Before the server named the recipients of a room-wide
                    // offer, do not wait for one who left (after, the server
                    // answers for every recipient itself).
                    let ids: Vec<u32> = self.outgoing.keys().copied().collect();
                    for id in ids {
                        if let Some(out) = self.outgoing.get_mut(&id)
                            && out.to == Target::Room
                            && !out.accepted
                        {
                            out.waiting.remove(&key);
                        }
                        self.maybe_done(id);
                    }
                    self.ui.emit(Output::Event {
                        event,
                        history: false,
                    });
                }
                EventBody::Message { .. } | EventBody::Private { .. } => {
                    self.ui.emit(Output::Event {
                        event,
                        history: false,
                    });
                }
            },
            ServerMsg::FileChunk { transfer } => {
                if let Some(incoming) = self.incoming.get_mut(&transfer)
                    && let Err(e) = incoming.chunk(&frame.payload).await
                {
                    let incoming = self.incoming.remove(&transfer).expect("present");
                    let announced = incoming.announced.clone();
                    incoming.discard().await;
                    self.ignored.insert(transfer);
                    self.receive_failed(&announced, e.code(), e.to_string());
                }
            }
            ServerMsg::FileEnd { transfer } => {
                if let Some(incoming) = self.incoming.remove(&transfer) {
                    let announced = incoming.announced.clone();
                    match incoming.finish(&self.download_dir).await {
                        Ok(path) => self.ui.emit(Output::FileReceived {
                            seq: announced.seq,
                            ts: announced.ts,
                            from: announced.from,
                            to: announced.to,
                            name: announced.name,
                            path,
                            size: announced.size,
                            sha256: announced.sha256,
                            kind: announced.kind,
                        }),
                        Err(e) => self.receive_failed(&announced, e.code(), e.to_string()),
                    }
                }
                self.ignored.remove(&transfer);
            }
            ServerMsg::FileAbort {
                transfer,
                code,
                message,
            } => {
                if let Some(incoming) = self.incoming.remove(&transfer) {
                    let announced = incoming.announced.clone();
                    incoming.discard().await;
                    self.receive_failed(&announced, code.as_str(), message);
                }
                self.ignored.remove(&transfer);
            }
            ServerMsg::FileAccepted { id, recipients, .. } => {
                if let Some(out) = self.outgoing.get_mut(&id) {
                    out.accepted = true;
                    out.waiting = recipients.iter().map(|r| r.to_ascii_lowercase()).collect();
                    self.maybe_done(id);
                }
            }
            ServerMsg::FileDelivered { id, to } => {
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
            ServerMsg::FileFailed {
                id,
                to,
                code,
                message,
            } => {
                self.last_receipt = Instant::now();
                self.send_failed(id, to, code, message);
            }
            ServerMsg::Users { users } => {
                self.set_users(&users);
                self.ui.emit(Output::Users {
                    users,
                    me: self.me.clone(),
                });
            }
            ServerMsg::Error { code, message } => self.error(code.as_str(), message),
            // The session's KeepAlive answers pings; none reach here.
            ServerMsg::Ping { nonce } => self.send(ClientMsg::Pong { nonce }).await,
            ServerMsg::Bye { message, .. } => return Some(format!("the server said: {message}")),
            ServerMsg::Pong { nonce } => {
                if nonce == DRAIN_NONCE {
                    self.drained = true;
                }
            }
            ServerMsg::Hello { .. } | ServerMsg::Welcome { .. } => {}
        }
        None
    }

    /// The server's `file_failed` for one of our offers.
    fn send_failed(&mut self, id: u32, to: Option<String>, code: ErrorCode, message: String) {
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

    async fn file_announced(&mut self, announced: Announced) {
        if announced.from.eq_ignore_ascii_case(&self.me) {
            return;
        }
        self.ui.emit(Output::FileIncoming {
            seq: announced.seq,
            ts: announced.ts,
            from: announced.from.clone(),
            to: announced.to.clone(),
            name: announced.name.clone(),
            size: announced.size,
            sha256: announced.sha256.clone(),
            kind: announced.kind,
        });
        let label = format!("{} <- {}", announced.name, announced.from);
        let bar = self.ui.bar(announced.size, &label);
        let transfer = announced.transfer;
        match Incoming::start(&self.download_dir, announced.clone(), bar).await {
            Ok(incoming) => {
                self.incoming.insert(transfer, incoming);
            }
            Err(e) => {
                self.ignored.insert(transfer);
                self.receive_failed(&announced, e.code(), e.to_string());
            }
        }
    }

    fn receive_failed(&self, announced: &Announced, code: &str, text: String) {
        self.ui.emit(Output::FileFailed {
            from: Some(announced.from.clone()),
            to: None,
            name: announced.name.clone(),
            path: None,
            code: code.into(),
            text: format!("not saved: {text}"),
        });
    }

    /// Ends the connected period: unfinished transfers fail, partial files
    /// are removed.
    pub async fn close(&mut self) {
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
        for (_, incoming) in self.incoming.drain() {
            let announced = incoming.announced.clone();
            incoming.discard().await;
            self.ui.emit(Output::FileFailed {
                from: Some(announced.from),
                to: None,
                name: announced.name,
                path: None,
                code: "disconnected".into(),
                text: "the connection ended before the file arrived; nothing saved".into(),
            });
        }
    }
}
