//! One simulated user: a task that owns its connection, sends what it is told
//! and reports every chat text it receives to the run's [`Recorder`].
//!
//! The protocols differ (one module each); what a scenario sees does not:
//! [`connect`] returns a [`Client`] once the user is in the room.

pub mod http;
pub mod irc;
pub mod native;
pub mod ws;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{Stream, StreamExt};
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{Error, metrics::Recorder};

/// How long one user may take to connect and enter the room. Generous: with
/// thousands of users joining at once, each join is announced to all others.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Queue between a scenario and one client task; a full queue makes the
/// scenario wait (back-pressure), it never grows.
const COMMAND_QUEUE: usize = 256;

/// The system under load and how to reach it.
#[derive(Debug, Clone)]
pub enum Target {
    /// Switchboard's core over its native TCP protocol.
    Native { addr: SocketAddr },
    /// An IRC server; every user joins one channel.
    Irc { addr: SocketAddr },
    /// Switchboard's web gateway: join form for a session cookie, then `/ws`.
    /// `core` is the core server behind it, for the scenarios that compare
    /// or mix in direct TCP users.
    Gateway { base: String, core: SocketAddr },
    /// The reference Node `ws` broadcast server (`bench/peers/ws-server.js`).
    WsPeer { url: String },
}

impl Target {
    /// The system's name in reports.
    pub fn system(&self) -> &'static str {
        match self {
            Target::Native { .. } => "switchboard-tcp",
            Target::Irc { .. } => "ngircd-irc",
            Target::Gateway { .. } => "switchboard-ws",
            Target::WsPeer { .. } => "node-ws",
        }
    }
}

/// What a scenario asks a client to do.
#[derive(Debug)]
pub enum Command {
    /// Send a message to the whole room.
    Room(String),
    /// Send a private message.
    Private { to: String, text: String },
    /// Stop reading from the socket (but keep it open): the slow consumer.
    StopReading,
    /// Leave and close.
    Quit,
}

/// How a client's connection ended.
#[derive(Debug, Clone, Default)]
pub struct End {
    /// The server closed the connection (or said goodbye) before we quit.
    pub closed_by_server: bool,
    /// The server's reason, when it gave one (`bye` code, IRC `ERROR` text).
    pub reason: Option<String>,
}

/// After a slow consumer stops stalling: reads back what piled up (for at most
/// [`native::STALLED_READ_BACK`]) to learn whether the server dropped it, and
/// why. `goodbye` recognises the protocol's own "you are dropped" item (`bye`,
/// IRC `ERROR`, a WebSocket close) and returns its reason; a read error or the
/// end of the stream counts as a drop too.
async fn read_back<S, T, E>(
    mut conn: S,
    idx: u32,
    rec: &Recorder,
    goodbye: impl Fn(T) -> Option<Option<String>>,
) -> End
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: std::fmt::Display,
{
    let read = async {
        loop {
            let reason = match conn.next().await {
                Some(Ok(item)) => match goodbye(item) {
                    Some(reason) => reason,
                    None => continue,
                },
                Some(Err(e)) => Some(e.to_string()),
                None => None,
            };
            return End {
                closed_by_server: true,
                reason,
            };
        }
    };
    let end = tokio::time::timeout(native::STALLED_READ_BACK, read)
        .await
        .unwrap_or_default();
    if end.closed_by_server {
        rec.mark_disconnected(idx);
    }
    end
}

/// A connected user, in the room.
pub struct Client {
    pub idx: u32,
    pub name: String,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<End>,
}

impl Client {
    /// Queues a command; `false` if the client's connection is gone.
    pub async fn send(&self, command: Command) -> bool {
        self.commands.send(command).await.is_ok()
    }

    /// A handle for a sender task to queue commands on this client.
    pub fn commands(&self) -> mpsc::Sender<Command> {
        self.commands.clone()
    }

    /// Leaves and waits (at most `timeout`) for the connection to end.
    pub async fn quit(self, timeout: Duration) -> End {
        let _ = self.commands.send(Command::Quit).await;
        match tokio::time::timeout(timeout, self.task).await {
            Ok(Ok(end)) => end,
            Ok(Err(_)) | Err(_) => End {
                closed_by_server: false,
                reason: Some("did not finish in time".into()),
            },
        }
    }
}

/// Kernel receive buffer of the deliberately slow client: small, so its
/// backlog reaches the server's own queue quickly instead of hiding in
/// megabytes of socket buffers.
pub const SLOW_RECV_BUFFER: u32 = 4096;

/// Connects a user that will be told to stop reading: same as [`connect`],
/// with a small receive buffer where the protocol allows choosing it.
pub async fn connect_slow(
    target: &Target,
    idx: u32,
    name: String,
    rec: Arc<Recorder>,
) -> Result<Client, Error> {
    match target {
        Target::Native { addr } => {
            let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
            let stream = native::dial(*addr, Some(SLOW_RECV_BUFFER)).await?;
            let conn = tokio::time::timeout(JOIN_TIMEOUT, native::join_on(stream, &name))
                .await
                .map_err(|_| Error::Timeout(format!("{name} joining")))??;
            let task = tokio::spawn(native::run(conn, idx, rec, rx));
            Ok(Client {
                idx,
                name,
                commands,
                task,
            })
        }
        Target::Gateway { base, .. } => {
            let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
            let conn = tokio::time::timeout(
                JOIN_TIMEOUT,
                ws::join_gateway_with(base, &name, Some(SLOW_RECV_BUFFER)),
            )
            .await
            .map_err(|_| Error::Timeout(format!("{name} joining")))??;
            let task = tokio::spawn(ws::run(conn, ws::Dialect::Gateway, idx, rec, rx));
            Ok(Client {
                idx,
                name,
                commands,
                task,
            })
        }
        _ => connect(target, idx, name, rec).await,
    }
}

/// Connects user `idx` named `name` and enters the room; its texts go to `rec`.
pub async fn connect(
    target: &Target,
    idx: u32,
    name: String,
    rec: Arc<Recorder>,
) -> Result<Client, Error> {
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let task = match target {
        Target::Native { addr } => {
            let conn = tokio::time::timeout(JOIN_TIMEOUT, native::join(*addr, &name))
                .await
                .map_err(|_| Error::Timeout(format!("{name} joining")))??;
            tokio::spawn(native::run(conn, idx, rec, rx))
        }
        Target::Irc { addr } => {
            let conn = tokio::time::timeout(JOIN_TIMEOUT, irc::join(*addr, &name))
                .await
                .map_err(|_| Error::Timeout(format!("{name} joining")))??;
            tokio::spawn(irc::run(conn, idx, rec, rx))
        }
        Target::Gateway { base, .. } => {
            let conn = tokio::time::timeout(JOIN_TIMEOUT, ws::join_gateway(base, &name))
                .await
                .map_err(|_| Error::Timeout(format!("{name} joining")))??;
            tokio::spawn(ws::run(conn, ws::Dialect::Gateway, idx, rec, rx))
        }
        Target::WsPeer { url } => {
            let conn = tokio::time::timeout(JOIN_TIMEOUT, ws::join_peer(url, &name))
                .await
                .map_err(|_| Error::Timeout(format!("{name} joining")))??;
            tokio::spawn(ws::run(conn, ws::Dialect::Peer, idx, rec, rx))
        }
    };
    Ok(Client {
        idx,
        name,
        commands,
        task,
    })
}
