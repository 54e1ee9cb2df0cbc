//! One user's life in the room, the same for both front-ends: connect, join
//! under a name (asking again when allowed), then relay between typed
//! commands and the server's frames until `/quit` or the end of input; when
//! the connection drops, say so and reconnect with backoff under the same
//! name.
//!
//! - `join.rs`: connecting and joining under a name, asking for another one
//!   when a person is there to answer.
//! - `connected.rs`: the connected period, relaying between input, the
//!   server and the transfer tasks, with the keep-alive and the drain ping.

mod connected;
mod join;

use std::{path::PathBuf, time::Duration};

use protocol::client::Backoff;
use tokio::{sync::mpsc, time::sleep};
use tokio_util::sync::CancellationToken;

use crate::{
    command::{self, Command},
    render::{ConnectionState, Output},
    ui::Ui,
    view::ViewHandle,
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
}
