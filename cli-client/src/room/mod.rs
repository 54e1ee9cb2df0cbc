//! The state of one connected period: who is here, our offers waiting for
//! receipts (`outgoing.rs`), files arriving (`incoming.rs`); and what each
//! command and each server frame does to it. `session` runs the loop around
//! it.

mod incoming;
mod outgoing;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
};

use protocol::{
    ClientMsg, EventBody, Limits, ServerMsg, UserInfo, client::Outbox, codec::Frame, rate::Pacer,
};
use tokio::{sync::mpsc, time::Instant};

use crate::{
    command::{self, Command},
    render::Output,
    transfer_in::{Announced, Incoming},
    transfer_out::Progress,
    ui::Ui,
    view::{DRAIN_NONCE, ViewHandle},
};
use outgoing::Outgoing;

/// Frames per second left to the server's limit for what is not paced
/// (pongs, pings, file offers and cancels).
const HEADROOM_RATE: u32 = 2;
/// The same, of the server's burst.
const HEADROOM_BURST: u32 = 4;

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
                return self.send_file(id, to, path, kind).await;
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
                    self.recipient_left(&key);
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
            ServerMsg::FileChunk { transfer } => self.file_chunk(transfer, &frame.payload).await,
            ServerMsg::FileEnd { transfer } => self.file_end(transfer).await,
            ServerMsg::FileAbort {
                transfer,
                code,
                message,
            } => self.file_abort(transfer, code.as_str(), message).await,
            ServerMsg::FileAccepted { id, recipients, .. } => self.file_accepted(id, &recipients),
            ServerMsg::FileDelivered { id, to } => self.file_delivered(id, to),
            ServerMsg::FileCredit { id, bytes } => self.file_credit(id, bytes),
            ServerMsg::FileFailed {
                id,
                to,
                code,
                message,
            } => self.send_failed(id, to, code, message),
            ServerMsg::Users { users } => {
                self.set_users(&users);
                self.ui.emit(Output::Users {
                    users,
                    me: self.me.clone(),
                });
            }
            ServerMsg::Error { code, message } => self.error(code.as_str(), message),
            // The session's KeepAlive answers pings before they get here;
            // should one ever come this way, it is answered all the same.
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

    /// Ends the connected period: unfinished transfers fail, partial files
    /// are removed.
    pub async fn close(&mut self) {
        self.close_outgoing();
        self.close_incoming().await;
    }
}
