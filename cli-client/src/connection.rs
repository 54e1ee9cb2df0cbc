//! One connection to the core server, through core-server's codec (this
//! crate frames no bytes itself): connect, the hello handshake, joining under
//! a name, and the writer task that sends chat frames before file chunks.

use std::time::Duration;

use core_server::{
    codec::{ClientCodec, CodecError, Frame},
    protocol::{ClientMsg, ErrorCode, Event, Limits, PROTOCOL_VERSION, Seq, ServerMsg, UserInfo},
};
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use tokio::{net::TcpStream, sync::mpsc, time::timeout};
use tokio_util::codec::Framed;

/// A framed connection to the server.
pub type Conn = Framed<TcpStream, ClientCodec>;

/// How long connecting, and each handshake step, may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection could not be set up (or was lost during setup).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {server}: {source}")]
    Connect {
        server: String,
        source: std::io::Error,
    },
    #[error("no answer from {0} within {HANDSHAKE_TIMEOUT:?}")]
    Timeout(String),
    #[error("the server closed the connection")]
    Closed,
    #[error("the server said goodbye: {0}")]
    Bye(String),
    #[error("protocol error: {0}")]
    Codec(#[from] CodecError),
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
}

/// What the server said in its hello.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Limits to check before sending (message length, file size).
    pub limits: Limits,
}

/// What the server said in its welcome.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub name: String,
    pub users: Vec<UserInfo>,
    pub history: Vec<Event>,
    pub last_seq: Seq,
}

/// The answer to a `join`.
#[derive(Debug)]
pub enum Joined {
    Welcome(Welcome),
    /// `name_taken`, `name_invalid`, …: the same connection may try again.
    Refused {
        code: ErrorCode,
        message: String,
    },
}

/// Connects and does the hello handshake.
pub async fn connect(server: &str) -> Result<(Conn, ServerInfo), ConnectError> {
    let stream = match timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(server)).await {
        Err(_) => return Err(ConnectError::Timeout(server.to_string())),
        Ok(Err(source)) => {
            return Err(ConnectError::Connect {
                server: server.to_string(),
                source,
            });
        }
        Ok(Ok(stream)) => stream,
    };
    tracing::debug!(server, "connected");
    // Chat lines are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let mut conn = Framed::new(stream, ClientCodec::client());
    conn.send(Frame::new(ClientMsg::Hello {
        protocol: PROTOCOL_VERSION,
        client: concat!("switchboard-cli/", env!("CARGO_PKG_VERSION")).to_string(),
        gateway_token: None,
    }))
    .await?;
    match next(&mut conn, server).await? {
        ServerMsg::Hello { limits, .. } => Ok((conn, ServerInfo { limits })),
        other => Err(ConnectError::Unexpected(format!("{other:?}"))),
    }
}

/// Asks to join under `name`.
pub async fn join(conn: &mut Conn, server: &str, name: &str) -> Result<Joined, ConnectError> {
    conn.send(Frame::new(ClientMsg::Join {
        name: name.to_string(),
        since: None,
    }))
    .await?;
    loop {
        match next(conn, server).await? {
            ServerMsg::Welcome {
                name,
                users,
                history,
                last_seq,
            } => {
                return Ok(Joined::Welcome(Welcome {
                    name,
                    users,
                    history,
                    last_seq,
                }));
            }
            ServerMsg::Error { code, message } => return Ok(Joined::Refused { code, message }),
            // Nothing else is meant for us before the welcome.
            _ => continue,
        }
    }
}

/// The next message during the handshake; pings are answered here, a `bye`
/// or a closed connection is an error.
async fn next(conn: &mut Conn, server: &str) -> Result<ServerMsg, ConnectError> {
    loop {
        let frame = match timeout(HANDSHAKE_TIMEOUT, conn.next()).await {
            Err(_) => return Err(ConnectError::Timeout(server.to_string())),
            Ok(None) => return Err(ConnectError::Closed),
            Ok(Some(frame)) => frame?,
        };
        match frame.msg {
            ServerMsg::Ping { nonce } => conn.send(Frame::new(ClientMsg::Pong { nonce })).await?,
            ServerMsg::Bye { message, .. } => return Err(ConnectError::Bye(message)),
            msg => return Ok(msg),
        }
    }
}

/// Where the session queues frames for the writer task.
#[derive(Clone)]
pub struct Outbox {
    /// Chat and control frames: always sent first.
    pub control: mpsc::Sender<Frame<ClientMsg>>,
    /// File offers, chunks and ends. Small on purpose: senders wait here, so
    /// a file never sits in memory, and chat never waits behind many chunks.
    pub files: mpsc::Sender<Frame<ClientMsg>>,
}

/// Capacity of the control queue (frames).
const CONTROL_QUEUE: usize = 256;
/// Capacity of the file queue (chunks of `CHUNK_SIZE`).
const FILE_QUEUE: usize = 4;

/// Starts the writer task for the sending half of `conn`. The task ends when
/// every [`Outbox`] control sender is dropped (after flushing what is
/// queued) or when writing fails.
pub fn spawn_writer(
    sink: SplitSink<Conn, Frame<ClientMsg>>,
) -> (Outbox, tokio::task::JoinHandle<Result<(), CodecError>>) {
    let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let (files, files_rx) = mpsc::channel(FILE_QUEUE);
    let task = tokio::spawn(write_frames(sink, control_rx, files_rx));
    (Outbox { control, files }, task)
}

async fn write_frames(
    mut sink: SplitSink<Conn, Frame<ClientMsg>>,
    mut control: mpsc::Receiver<Frame<ClientMsg>>,
    mut files: mpsc::Receiver<Frame<ClientMsg>>,
) -> Result<(), CodecError> {
    loop {
        let frame = tokio::select! {
            // Chat first: a message typed during a big upload goes out now.
            biased;
            frame = control.recv() => match frame {
                Some(frame) => frame,
                None => break,
            },
            Some(frame) = files.recv() => frame,
        };
        sink.feed(frame).await?;
        // Write in batches while more is queued, flush when idle.
        if control.is_empty() && files.is_empty() {
            sink.flush().await?;
        }
    }
    sink.close().await
}
