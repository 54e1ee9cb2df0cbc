//! One user's life in the room, the same for both front-ends: connect, join
//! under a name (asking again when allowed), then relay between typed
//! commands and the server's frames until `/quit` or the end of input; when
//! the connection drops, say so and reconnect with backoff under the same
//! name.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use core_server::{
    codec::Frame,
    protocol::{
        ClientMsg, ErrorCode, EventBody, Limits, ServerMsg, Target, UserInfo, validate_name,
    },
};
use futures_util::StreamExt;
use indicatif::ProgressBar;
use tokio::{
    sync::mpsc,
    task::JoinHandle,
    time::{Instant, interval, sleep},
};

use crate::{
    command::{self, Command, Recipient},
    connection::{self, Conn, Joined, Outbox, Welcome},
    pace::Pacer,
    render::{ConnectionState, Output},
    transfer_in::{Announced, Incoming},
    transfer_out::{self, Prepared, Progress},
    ui::Ui,
};

/// A line from the user, or the end of their input.
#[derive(Debug)]
pub enum Input {
    Line(String),
    Eof,
}

/// What the session needs from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub server: String,
    pub name: Option<String>,
    /// Absolute, so reported paths are too.
    pub download_dir: PathBuf,
    /// Failed reconnection attempts in a row before giving up; 0 = never.
    pub reconnect_attempts: u32,
}

/// What the front-end shows around the prompt: kept up to date by the
/// session. A std `Mutex`, never held across an `.await`.
#[derive(Debug, Default, Clone)]
pub struct View {
    /// Our name once joined (the prompt shows it), `None` while choosing.
    pub name: Option<String>,
    pub connected: bool,
    /// Everyone else in the room, for Tab completion.
    pub users: Vec<String>,
    /// The input has ended; the client leaves once its transfers are done.
    pub leaving: bool,
}

/// A shared [`View`] plus a hook that tells the front-end to redraw.
#[derive(Clone)]
pub struct ViewHandle {
    view: Arc<Mutex<View>>,
    changed: Arc<dyn Fn() + Send + Sync>,
}

impl ViewHandle {
    pub fn new(changed: Arc<dyn Fn() + Send + Sync>) -> ViewHandle {
        ViewHandle {
            view: Arc::default(),
            changed,
        }
    }

    pub fn get(&self) -> View {
        self.view.lock().expect("view lock").clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut View)) {
        f(&mut self.view.lock().expect("view lock"));
        (self.changed)();
    }
}

/// Silence from the server after which we ping it.
const PING_AFTER: Duration = Duration::from_secs(15);
/// Silence after which the connection is considered dead.
const DEAD_AFTER: Duration = Duration::from_secs(45);
/// At the end of input, how long to wait for delivery receipts after the
/// last sign of progress before giving up on them.
const RECEIPT_PATIENCE: Duration = Duration::from_secs(30);
/// The nonce of the ping sent before leaving at the end of input.
const DRAIN_NONCE: u64 = 0x5157_0bad;
/// How long to wait for its pong.
const DRAIN_PATIENCE: Duration = Duration::from_secs(5);
/// First and longest pause between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Why a connection attempt did not end in the room.
enum Setback {
    /// Give up with this error (non-zero exit).
    Fatal(anyhow::Error),
    /// The user quit (or input ended) while we were not in the room.
    Quit,
    /// Try again later.
    Retry(String),
}

/// How a connected period ended.
enum Ended {
    Quit,
    Lost(String),
}

/// Runs the client until the user quits (Ok) or it cannot go on (Err).
pub async fn run(
    opts: Options,
    ui: Ui,
    view: ViewHandle,
    input: mpsc::Receiver<Input>,
) -> anyhow::Result<()> {
    let mut session = Session {
        name: opts.name.clone(),
        opts,
        ui,
        view,
        input,
        eof: false,
        next_id: 1,
    };
    let mut failures = 0u32;
    let mut joined_before = false;
    let mut last_failure = None;
    loop {
        match session.connect_and_join(joined_before).await {
            Ok((conn, limits, welcome)) => {
                failures = 0;
                let reconnect = joined_before;
                joined_before = true;
                match session.in_room(conn, limits, welcome, reconnect).await {
                    Ended::Quit => return Ok(()),
                    Ended::Lost(reason) => {
                        tracing::info!(%reason, "connection lost");
                        session.view.update(|v| v.connected = false);
                        session.ui.emit(Output::Connection {
                            kind: ConnectionState::Disconnected,
                            text: format!("connection lost: {reason}"),
                        });
                    }
                }
            }
            Err(Setback::Fatal(e)) => return Err(e),
            Err(Setback::Quit) => return Ok(()),
            Err(Setback::Retry(reason)) => {
                failures += 1;
                tracing::debug!(%reason, failures, "reconnect attempt failed");
                let limit = session.opts.reconnect_attempts;
                if limit != 0 && failures >= limit {
                    anyhow::bail!("gave up reconnecting after {failures} attempts: {reason}");
                }
                last_failure = Some(reason);
            }
        }
        let delay = (BACKOFF_MIN * 2u32.saturating_pow(failures)).min(BACKOFF_MAX);
        let why = last_failure
            .take()
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default();
        session.ui.emit(Output::Connection {
            kind: ConnectionState::Reconnecting,
            text: format!("reconnecting in {:.1} s…{why}", delay.as_secs_f32()),
        });
        if session.wait_offline(delay).await {
            return Ok(());
        }
    }
}

/// State that outlives a connection.
struct Session {
    opts: Options,
    ui: Ui,
    view: ViewHandle,
    input: mpsc::Receiver<Input>,
    /// Our name: from `--name`, typed, and kept for reconnecting.
    name: Option<String>,
    /// The input has ended: finish outgoing transfers, then quit.
    eof: bool,
    /// Next transfer id for our offers (unique for the process).
    next_id: u32,
}

impl Session {
    /// Waits out a reconnection delay while still reading input, so `/quit`
    /// works. Returns true if the user quit.
    async fn wait_offline(&mut self, delay: Duration) -> bool {
        let deadline = sleep(delay);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return false,
                input = self.input.recv(), if !self.eof => match input {
                    None | Some(Input::Eof) => {
                        self.eof = true;
                        // Nothing is pending while we are offline: stop here.
                        return true;
                    }
                    Some(Input::Line(line)) => match command::parse(&line) {
                        Ok(Some(Command::Quit)) => return true,
                        Ok(None) => {}
                        _ => self.ui.emit(Output::Error {
                            code: "not_connected".into(),
                            text: format!("not connected, not sent: {line}"),
                        }),
                    },
                },
            }
        }
    }

    /// Reads the next line as a name. `None` if the input ended.
    async fn ask_name(&mut self) -> Option<String> {
        self.view.update(|v| v.name = None);
        self.ui.emit(Output::Info(
            "Choose a name (1-32 letters, digits, '_' or '-'):".into(),
        ));
        loop {
            match self.input.recv().await {
                None | Some(Input::Eof) => {
                    self.eof = true;
                    return None;
                }
                Some(Input::Line(line)) => {
                    let name = line.trim();
                    if !name.is_empty() {
                        return Some(name.to_string());
                    }
                }
            }
        }
    }

    /// A name problem: ask again when a person is there, else give up.
    async fn name_refused(&mut self, text: String) -> Result<String, Setback> {
        if !self.ui.is_interactive() {
            return Err(Setback::Fatal(anyhow::anyhow!(text)));
        }
        self.ui.emit(Output::Error {
            code: "name_refused".into(),
            text,
        });
        self.ask_name().await.ok_or(Setback::Quit)
    }

    async fn connect_and_join(
        &mut self,
        joined_before: bool,
    ) -> Result<(Conn, Limits, Welcome), Setback> {
        let server = self.opts.server.clone();
        let (mut conn, info) = match connection::connect(&server).await {
            Ok(ok) => ok,
            // The first time, an unreachable server is the user's problem to
            // fix (wrong address, server not started): say so and stop.
            Err(e) if !joined_before => return Err(Setback::Fatal(e.into())),
            Err(e) => return Err(Setback::Retry(e.to_string())),
        };
        let mut name = match self.name.clone() {
            Some(name) => name,
            None => match self.ask_name().await {
                Some(name) => name,
                None if self.ui.is_interactive() => return Err(Setback::Quit),
                None => {
                    return Err(Setback::Fatal(anyhow::anyhow!(
                        "no name given (use --name, or write it as the first input line)"
                    )));
                }
            },
        };
        loop {
            if let Err(e) = validate_name(&name) {
                name = self
                    .name_refused(format!("invalid name {name:?}: {e}"))
                    .await?;
                continue;
            }
            let joined = connection::join(&mut conn, &server, &name).await;
            match joined {
                Ok(Joined::Welcome(welcome)) => {
                    self.name = Some(welcome.name.clone());
                    return Ok((conn, info.limits, welcome));
                }
                Ok(Joined::Refused { message, .. }) if joined_before => {
                    // Usually our old session, not yet timed out: wait.
                    return Err(Setback::Retry(message));
                }
                Ok(Joined::Refused { code, message }) => {
                    let text = match code {
                        ErrorCode::NameTaken => format!("the name {name:?} is taken: {message}"),
                        ErrorCode::NameInvalid => format!("invalid name {name:?}: {message}"),
                        _ => format!("cannot join as {name:?}: {message}"),
                    };
                    name = self.name_refused(text).await?;
                }
                Err(e) if !joined_before => return Err(Setback::Fatal(e.into())),
                Err(e) => return Err(Setback::Retry(e.to_string())),
            }
        }
    }

    /// The connected period: until quit or the connection is lost.
    async fn in_room(
        &mut self,
        conn: Conn,
        limits: Limits,
        welcome: Welcome,
        reconnect: bool,
    ) -> Ended {
        tracing::info!(name = %welcome.name, users = welcome.users.len(), history = welcome.history.len(), "joined");
        let (sink, mut stream) = conn.split();
        let (outbox, mut writer) = connection::spawn_writer(sink);
        let (progress_tx, mut progress_rx) = mpsc::channel(64);
        let me = welcome.name.clone();
        let mut room = Room {
            ui: self.ui.clone(),
            view: self.view.clone(),
            download_dir: self.opts.download_dir.clone(),
            me: me.clone(),
            pacer: Pacer::new(&limits),
            limits,
            users: BTreeMap::new(),
            outbox,
            progress_tx,
            incoming: HashMap::new(),
            ignored: HashSet::new(),
            outgoing: HashMap::new(),
            last_receipt: Instant::now(),
            drained: false,
        };
        room.set_users(&welcome.users);
        self.view.update(|v| {
            v.name = Some(me.clone());
            v.connected = true;
        });
        self.ui.emit(Output::Welcome {
            name: me,
            server: self.opts.server.clone(),
            users: room.others(),
            last_seq: welcome.last_seq,
            reconnect,
        });
        for event in welcome.history {
            self.ui.emit(Output::Event {
                event,
                history: true,
            });
        }

        let mut ticker = interval(Duration::from_secs(1));
        let mut last_heard = Instant::now();
        let mut pinged = false;
        let mut drain_deadline = None;
        let ended = loop {
            if self.eof && room.outgoing.is_empty() {
                // Before leaving, a ping: the server answers in order, so its
                // pong comes after every reply to what we sent (echoes,
                // errors, the user list), which scripts then get to see.
                match drain_deadline {
                    None => {
                        room.send_paced(ClientMsg::Ping { nonce: DRAIN_NONCE })
                            .await;
                        drain_deadline = Some(Instant::now() + DRAIN_PATIENCE);
                    }
                    Some(deadline) if room.drained || Instant::now() >= deadline => {
                        break Ended::Quit;
                    }
                    Some(_) => {}
                }
            }
            tokio::select! {
                // A transfer task reports its SHA-256 before it queues the
                // offer, so polling reports first guarantees it is known when
                // the server's receipts for that offer are handled.
                biased;
                Some(progress) = progress_rx.recv() => room.on_progress(progress).await,
                frame = stream.next() => {
                    last_heard = Instant::now();
                    pinged = false;
                    match frame {
                        Some(Ok(frame)) => {
                            if let Some(reason) = room.on_frame(frame).await {
                                break Ended::Lost(reason);
                            }
                        }
                        Some(Err(e)) => break Ended::Lost(e.to_string()),
                        None => break Ended::Lost("the server closed the connection".into()),
                    }
                }
                input = self.input.recv(), if !self.eof => match input {
                    None | Some(Input::Eof) => self.eof = true,
                    Some(Input::Line(line)) => match command::parse(&line) {
                        Ok(None) => {}
                        Ok(Some(Command::Quit)) => break Ended::Quit,
                        Ok(Some(command)) => {
                            let id = self.next_id;
                            if room.on_command(command, id).await {
                                self.next_id += 1;
                            }
                        }
                        Err(e) => room.ui.emit(Output::Error {
                            code: "bad_command".into(),
                            text: e.to_string(),
                        }),
                    },
                },
                _ = ticker.tick() => {
                    let silent = last_heard.elapsed();
                    if silent > DEAD_AFTER {
                        break Ended::Lost(format!("nothing heard from the server for {} s", silent.as_secs()));
                    }
                    if silent > PING_AFTER && !pinged {
                        pinged = true;
                        room.send(ClientMsg::Ping { nonce: 1 }).await;
                    }
                    if self.eof && room.all_sent() && room.last_receipt.elapsed() > RECEIPT_PATIENCE {
                        room.give_up_receipts();
                    }
                }
                result = &mut writer => {
                    let reason = match result {
                        Ok(Err(e)) => e.to_string(),
                        _ => "the connection closed".into(),
                    };
                    break Ended::Lost(reason);
                }
            }
        };
        match &ended {
            Ended::Quit => {
                room.send(ClientMsg::Quit).await;
                room.close().await;
                drop(room);
                // Everything queued (the last messages, the quit) is written
                // before the connection closes.
                let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
            }
            Ended::Lost(_) => {
                writer.abort();
                room.close().await;
            }
        }
        ended
    }
}

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
struct Room {
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
    /// Sends something the user asked for, paced to the rate limit.
    async fn send_paced(&mut self, msg: ClientMsg) {
        self.pacer.wait().await;
        self.send(msg).await;
    }

    async fn send(&self, msg: ClientMsg) {
        // If the writer is gone the connection is lost; the main loop notices.
        let _ = self.outbox.control.send(Frame::new(msg)).await;
    }

    fn others(&self) -> Vec<UserInfo> {
        self.users.values().cloned().collect()
    }

    fn set_users(&mut self, users: &[UserInfo]) {
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
    async fn on_command(&mut self, command: Command, id: u32) -> bool {
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

    async fn on_progress(&mut self, progress: Progress) {
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

    fn all_sent(&self) -> bool {
        self.outgoing.values().all(|o| o.all_sent)
    }

    /// End of input, bytes sent, but some recipients never answered.
    fn give_up_receipts(&mut self) {
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
    async fn on_frame(&mut self, frame: Frame<ServerMsg>) -> Option<String> {
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
                    self.receive_failed(&announced, &code_str(code), message);
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
            ServerMsg::Error { code, message } => self.error(&code_str(code), message),
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
            code: code_str(code),
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
    async fn close(&mut self) {
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

/// The protocol's snake_case name of an error code.
fn code_str(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{code:?}"))
}
