//! One user's life in the room, the same for both front-ends: connect, join
//! under a name (asking again when allowed), then relay between typed
//! commands and the server's frames until `/quit` or the end of input; when
//! the connection drops, say so and reconnect with backoff under the same
//! name.

use std::{path::PathBuf, time::Duration};

use futures_util::StreamExt;
use protocol::{
    ClientMsg, ErrorCode, Limits,
    client::{Backoff, Conn, Dialer, Joined, KeepAlive, ReadError, Welcome, spawn_writer},
    validate_name,
};
use tokio::{
    sync::mpsc::{self, error::TrySendError},
    time::{Instant, interval, sleep, timeout},
};
use tokio_util::sync::CancellationToken;

use crate::{
    command::{self, Command},
    render::{ConnectionState, Output},
    room::Room,
    ui::Ui,
    view::{DRAIN_NONCE, ViewHandle},
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

/// Capacity of the writer's control queue (frames).
const CONTROL_QUEUE: usize = 256;
/// Capacity of its file queue (chunks of `CHUNK_SIZE`): small, so a file
/// never sits in memory and chat never waits behind many chunks.
const FILE_QUEUE: usize = 4;

/// Silence after which the connection is considered dead. The shared
/// [`KeepAlive`] pings after half of it and gives up after all of it.
const DEAD_AFTER: Duration = Duration::from_secs(45);
/// At the end of input, how long to wait for the pong to the drain ping.
const DRAIN_PATIENCE: Duration = Duration::from_secs(5);
/// First and longest pause between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How long leaving waits to queue the quit frame, then to write what is
/// queued: a server that stopped reading must not keep us.
const QUIT_PATIENCE: Duration = Duration::from_secs(5);

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
/// Cancelling `quit` leaves now, as `/quit` does, whatever is going on.
pub async fn run(
    opts: Options,
    ui: Ui,
    view: ViewHandle,
    input: mpsc::Receiver<Input>,
    quit: CancellationToken,
) -> anyhow::Result<()> {
    let mut session = Session {
        name: opts.name.clone(),
        opts,
        ui,
        view,
        input,
        quit: quit.clone(),
        eof: false,
        next_id: 1,
    };
    let mut failures = 0u32;
    let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
    let mut joined_before = false;
    let mut last_failure = None;
    loop {
        let attempt = tokio::select! {
            biased;
            _ = quit.cancelled() => Err(Setback::Quit),
            attempt = session.connect_and_join(joined_before) => attempt,
        };
        match attempt {
            Ok((conn, limits, welcome)) => {
                failures = 0;
                backoff.reset();
                let reconnect = joined_before;
                joined_before = true;
                match session.in_room(conn, limits, welcome, reconnect).await {
                    Ended::Quit => return Ok(()),
                    // The input is over and so is the connection: there is
                    // nothing left to reconnect for, but what was pending
                    // did not finish, so say so with the exit code.
                    Ended::Lost(reason) if session.eof => {
                        anyhow::bail!("connection lost after the end of input: {reason}");
                    }
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
        let delay = backoff.next_delay();
        let why = last_failure
            .take()
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default();
        session.ui.emit(Output::Connection {
            kind: ConnectionState::Reconnecting,
            text: format!("reconnecting in {:.1} s…{why}", delay.as_secs_f32()),
        });
        if session.wait_offline(delay).await {
            if session.eof && !session.ui.is_interactive() {
                anyhow::bail!(
                    "the input ended while disconnected from {}",
                    session.opts.server
                );
            }
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
    /// Leave now: a signal, or the terminal went away. Unlike input, it is
    /// heard even after the input ended (while transfers finish).
    quit: CancellationToken,
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
                _ = self.quit.cancelled() => return true,
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
                    if let Ok(Some(Command::Quit)) = command::parse(&line) {
                        return None;
                    }
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
        let dialer = Dialer::new(
            server,
            concat!("switchboard-cli/", env!("CARGO_PKG_VERSION")),
        );
        let (mut conn, info) = match dialer.connect().await {
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
            let joined = dialer.join(&mut conn, &name, None).await;
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
        let (outbox, mut writer) = spawn_writer(sink, CONTROL_QUEUE, FILE_QUEUE);
        let (progress_tx, mut progress_rx) = mpsc::channel(64);
        let me = welcome.name.clone();
        let mut room = Room::new(
            self.ui.clone(),
            self.view.clone(),
            self.opts.download_dir.clone(),
            me.clone(),
            limits,
            outbox,
            progress_tx,
        );
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
        let mut keepalive = KeepAlive::new(DEAD_AFTER / 2);
        // The keep-alive's pings and pongs go straight to the writer's control
        // queue; only when it is full do they wait here, for an awaited send
        // after the `select!` (the keep-alive's callback cannot await).
        let control = room.control();
        let mut replies = Vec::new();
        let mut drain_deadline = None;
        let ended = loop {
            for frame in replies.drain(..) {
                room.send_frame(frame).await;
            }
            if self.eof && !room.has_outgoing() {
                // Before leaving, a ping: the server answers in order, so its
                // pong comes after every reply to what we sent (echoes,
                // errors, the user list), which scripts then get to see.
                match drain_deadline {
                    None => {
                        room.send_paced(ClientMsg::Ping { nonce: DRAIN_NONCE })
                            .await;
                        drain_deadline = Some(Instant::now() + DRAIN_PATIENCE);
                    }
                    Some(deadline) if room.drained() || Instant::now() >= deadline => {
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
                _ = self.quit.cancelled() => break Ended::Quit,
                Some(progress) = progress_rx.recv() => room.on_progress(progress).await,
                // Pings (the server's, answered) and pongs to our keep-alive
                // pings stay inside; the pong to the drain ping comes out.
                frame = keepalive.next(&mut stream, |frame| {
                    if let Err(TrySendError::Full(frame)) = control.try_send(frame) {
                        replies.push(frame);
                    }
                }) => match frame {
                    Ok(frame) => {
                        if let Some(reason) = room.on_frame(frame).await {
                            break Ended::Lost(reason);
                        }
                    }
                    Err(ReadError::Silent) => break Ended::Lost(format!(
                        "nothing heard from the server for {} s",
                        DEAD_AFTER.as_secs()
                    )),
                    Err(e) => break Ended::Lost(e.to_string()),
                },
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
                        Err(e) => self.ui.emit(Output::Error {
                            code: "bad_command".into(),
                            text: e.to_string(),
                        }),
                    },
                },
                _ = ticker.tick() => {
                    if self.eof {
                        room.give_up_stale_receipts();
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
                let _ = timeout(QUIT_PATIENCE, room.send(ClientMsg::Quit)).await;
                room.close().await;
                // The writer ends once every sender of its control queue is
                // gone; then everything queued (the last messages, the quit)
                // is written before the connection closes.
                drop((room, control));
                let _ = timeout(QUIT_PATIENCE, writer).await;
            }
            Ended::Lost(_) => {
                writer.abort();
                room.close().await;
            }
        }
        ended
    }
}
