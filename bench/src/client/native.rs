//! A user on Switchboard's native protocol. Every byte goes through
//! the `protocol` crate (`ClientCodec`, `Frame`): the load generator frames
//! nothing itself.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use protocol::{
    ClientMsg, EventBody, PROTOCOL_VERSION, ServerMsg,
    codec::{ClientCodec, Frame},
};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::mpsc,
};
use tokio_util::codec::Framed;

use super::{Command, End};
use crate::{Error, metrics::Recorder};

/// A connection that has said hello (and, after [`join`], joined).
pub type Conn = Framed<TcpStream, ClientCodec>;

/// How long a client that stopped reading is given, at the end, to find the
/// server's goodbye in what it never read.
pub const STALLED_READ_BACK: Duration = Duration::from_secs(2);

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

/// Connects and says hello.
pub async fn hello(addr: SocketAddr) -> Result<Conn, Error> {
    hello_on(dial(addr, None).await?).await
}

/// Says hello on a connected stream.
pub async fn hello_on(stream: TcpStream) -> Result<Conn, Error> {
    let mut conn = Framed::new(stream, ClientCodec::client());
    conn.send(Frame::new(ClientMsg::Hello {
        protocol: PROTOCOL_VERSION,
        client: "switchboard-bench/0.1".into(),
        gateway_token: None,
    }))
    .await?;
    match next(&mut conn, "hello").await? {
        ServerMsg::Hello { .. } => Ok(conn),
        other => Err(refusal(other)),
    }
}

/// Connects, says hello and joins the room as `name`.
pub async fn join(addr: SocketAddr, name: &str) -> Result<Conn, Error> {
    join_on(dial(addr, None).await?, name).await
}

/// Says hello and joins on a connected stream.
pub async fn join_on(stream: TcpStream, name: &str) -> Result<Conn, Error> {
    let mut conn = hello_on(stream).await?;
    conn.send(Frame::new(ClientMsg::Join {
        name: name.to_string(),
        since: None,
    }))
    .await?;
    loop {
        match next(&mut conn, "join").await? {
            ServerMsg::Welcome { .. } => return Ok(conn),
            ServerMsg::Ping { nonce } => conn.send(Frame::new(ClientMsg::Pong { nonce })).await?,
            ServerMsg::Event(_) => {}
            other => return Err(refusal(other)),
        }
    }
}

/// The next message, answering nothing; `Closed` at end of stream.
pub async fn next(conn: &mut Conn, during: &'static str) -> Result<ServerMsg, Error> {
    match conn.next().await {
        Some(frame) => Ok(frame?.msg),
        None => Err(Error::Closed(during)),
    }
}

/// Turns an unexpected server message into an error that says what it was.
pub fn refusal(msg: ServerMsg) -> Error {
    match msg {
        ServerMsg::Error { code, message } | ServerMsg::Bye { code, message } => {
            Error::Refused(format!("{code:?}: {message}"))
        }
        other => Error::Refused(format!("unexpected {other:?}")),
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
