//! A user on Switchboard's native protocol. Every byte goes through
//! the `protocol` crate: the handshake is `protocol::client::Dialer`'s (the
//! one every client uses), the frames are `ClientCodec`'s; the load generator
//! frames nothing itself.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use protocol::{
    ClientMsg, EventBody, Limits, ServerMsg,
    client::{ConnectError, Dialer, Joined},
    codec::Frame,
};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::mpsc,
};

use super::{Command, End};
use crate::{Error, metrics::Recorder};

/// A connection that has said hello (and, after [`join`], joined).
pub use protocol::client::Conn;

/// How long a client that stopped reading is given, at the end, to find the
/// server's goodbye in what it never read.
pub const STALLED_READ_BACK: Duration = Duration::from_secs(2);

/// How long each handshake step (hello, join) may wait for its answer. Long,
/// like [`super::JOIN_TIMEOUT`]: the load generator opens thousands of
/// connections at once and every join is announced to every member, so a
/// loaded server answers late without being broken. (The `Dialer`'s usual
/// 10 s would turn a slow join storm into failed runs.)
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the load generator calls itself in the server's logs.
const CLIENT: &str = "switchboard-bench/0.1";

/// The load generator's dialer for a connected `stream`. Only its handshake
/// is used: the TCP connect is [`dial`]'s, which can shrink the receive
/// buffer. The address only names the server in a timeout's error.
fn dialer_for(stream: &TcpStream) -> Dialer {
    let server = stream
        .peer_addr()
        .map_or_else(|_| "the server".to_string(), |addr| addr.to_string());
    Dialer {
        handshake_timeout: HANDSHAKE_TIMEOUT,
        ..Dialer::new(server, CLIENT)
    }
}

/// Connects; a small `recv_buffer` makes a client whose kernel buffer fills
/// quickly (the slow consumer), `None` keeps the system's default.
pub async fn dial(addr: SocketAddr, recv_buffer: Option<u32>) -> Result<TcpStream, Error> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Connects, says hello and joins the room as `name`.
pub async fn join(addr: SocketAddr, name: &str) -> Result<Conn, Error> {
    join_on(dial(addr, None).await?, name).await
}

/// Says hello and joins on a connected stream.
pub async fn join_on(stream: TcpStream, name: &str) -> Result<Conn, Error> {
    Ok(join_on_with_limits(stream, name).await?.0)
}

/// Connects, says hello and joins as `name`; also returns the server's limits
/// (a file sender needs its credit window).
pub async fn join_with_limits(addr: SocketAddr, name: &str) -> Result<(Conn, Limits), Error> {
    join_on_with_limits(dial(addr, None).await?, name).await
}

async fn join_on_with_limits(stream: TcpStream, name: &str) -> Result<(Conn, Limits), Error> {
    let dialer = dialer_for(&stream);
    let (mut conn, hello) = dialer
        .hello_on(stream)
        .await
        .map_err(|e| setup_error(e, "hello"))?;
    match dialer.join(&mut conn, name, None).await {
        Ok(Joined::Welcome(_)) => Ok((conn, hello.limits)),
        Ok(Joined::Refused { code, message }) => {
            Err(Error::Refused(format!("{code:?}: {message}")))
        }
        Err(e) => Err(setup_error(e, "join")),
    }
}

/// The load generator's error for a failed handshake step (`during`), worded
/// as before the handshake moved to the `protocol` crate.
fn setup_error(e: ConnectError, during: &'static str) -> Error {
    match e {
        ConnectError::Connect { source, .. } => Error::Io(source),
        ConnectError::Timeout(server) => Error::Timeout(format!("{during} with {server}")),
        ConnectError::Closed => Error::Closed(during),
        ConnectError::Bye { code, message } => Error::Refused(format!("{code:?}: {message}")),
        ConnectError::Codec(e) => Error::Codec(e),
        ConnectError::Unexpected(what) => Error::Refused(format!("unexpected {what}")),
    }
}

/// Sends what the scenario asks and reports what arrives, until told to quit
/// or the server closes.
pub async fn run(
    mut conn: Conn,
    idx: u32,
    rec: Arc<Recorder>,
    mut commands: mpsc::Receiver<Command>,
) -> End {
    loop {
        tokio::select! {
            command = commands.recv() => {
                let msg = match command {
                    Some(Command::Room(text)) => ClientMsg::Say { text },
                    Some(Command::Private { to, text }) => ClientMsg::Private { to, text },
                    Some(Command::StopReading) => return stalled(conn, idx, &rec, commands).await,
                    Some(Command::Quit) | None => {
                        let _ = conn.send(Frame::new(ClientMsg::Quit)).await;
                        return End::default();
                    }
                };
                if conn.send(Frame::new(msg)).await.is_err() {
                    rec.mark_disconnected(idx);
                    return End { closed_by_server: true, reason: Some("write failed".into()) };
                }
            }
            frame = conn.next() => {
                let msg = match frame {
                    Some(Ok(frame)) => frame.msg,
                    Some(Err(e)) => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: Some(e.to_string()) };
                    }
                    None => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: None };
                    }
                };
                match msg {
                    ServerMsg::Event(event) => match event.event {
                        EventBody::Message { text, .. } | EventBody::Private { text, .. } => {
                            rec.on_text(idx, &text);
                        }
                        _ => {}
                    },
                    ServerMsg::Ping { nonce } => {
                        let _ = conn.send(Frame::new(ClientMsg::Pong { nonce })).await;
                    }
                    ServerMsg::Bye { code, .. } => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: Some(format!("{code:?}")) };
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The slow consumer: never reads again until told to quit, then reads back
/// what piled up to learn whether the server dropped it, and why.
async fn stalled(
    conn: Conn,
    idx: u32,
    rec: &Recorder,
    mut commands: mpsc::Receiver<Command>,
) -> End {
    while let Some(command) = commands.recv().await {
        if matches!(command, Command::Quit) {
            break;
        }
    }
    super::read_back(conn, idx, rec, |frame: Frame<ServerMsg>| match frame.msg {
        ServerMsg::Bye { code, .. } => Some(Some(format!("{code:?}"))),
        _ => None,
    })
    .await
}
