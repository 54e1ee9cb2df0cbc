//! Connecting to a Switchboard server: TCP connect, the hello handshake and,
//! on a direct connection, joining under a name. Every step has a timeout.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::{net::TcpStream, time::timeout};
use tokio_util::codec::Framed;

use crate::{
    ClientMsg, ErrorCode, Event, Limits, PROTOCOL_VERSION, Seq, ServerMsg, UserInfo,
    codec::{ClientCodec, CodecError, Frame},
};

/// A framed connection to the server.
pub type Conn = Framed<TcpStream, ClientCodec>;

/// How to reach a server and introduce ourselves.
#[derive(Debug, Clone)]
pub struct Dialer {
    /// `host:port` of the server.
    pub addr: String,
    /// Our name and version, for the server's logs (`switchboard-cli/0.1.0`).
    pub client: String,
    /// Present to be a gateway link; `None` for a direct connection.
    pub gateway_token: Option<String>,
    /// How long the TCP connect may take.
    pub connect_timeout: Duration,
    /// How long each handshake step (hello, join) may wait for the answer.
    pub handshake_timeout: Duration,
}

impl Dialer {
    /// A direct client of `addr` with the usual timeouts (5 s, 10 s).
    pub fn new(addr: impl Into<String>, client: impl Into<String>) -> Dialer {
        Dialer {
            addr: addr.into(),
            client: client.into(),
            gateway_token: None,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// Connects and does the hello handshake.
    pub async fn connect(&self) -> Result<(Conn, ServerHello), ConnectError> {
        let stream = match timeout(self.connect_timeout, TcpStream::connect(&self.addr)).await {
            Err(_) => return Err(ConnectError::Timeout(self.addr.clone())),
            Ok(Err(source)) => {
                return Err(ConnectError::Connect {
                    server: self.addr.clone(),
                    source,
                });
            }
            Ok(Ok(stream)) => stream,
        };
        tracing::debug!(server = %self.addr, "connected");
        self.hello_on(stream).await
    }

    /// Does the hello handshake on a stream connected by the caller (one with
    /// socket options of its own, say).
    pub async fn hello_on(&self, stream: TcpStream) -> Result<(Conn, ServerHello), ConnectError> {
        hello(stream, self).await
    }

    /// Asks to join under `name` on a direct connection; `since` limits the
    /// welcome's history to newer events.
    pub async fn join(
        &self,
        conn: &mut Conn,
        name: &str,
        since: Option<Seq>,
    ) -> Result<Joined, ConnectError> {
        join_as(conn, self, name, since).await
    }
}

/// What the server said in its hello.
#[derive(Debug, Clone)]
pub struct ServerHello {
    /// Server name and version.
    pub server: String,
    /// Changes when the server restarts (its seqs start again).
    pub instance: String,
    /// Whether the server took us as a gateway link (the token was right).
    pub gateway: bool,
    /// Limits to check before sending (message length, file size, rate).
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

/// Why a connection could not be set up (or was lost during setup).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {server}: {source}")]
    Connect {
        server: String,
        source: std::io::Error,
    },
    #[error("no answer from {0} in time")]
    Timeout(String),
    #[error("the server closed the connection")]
    Closed,
    #[error("the server said goodbye: {message}")]
    Bye { code: ErrorCode, message: String },
    #[error("protocol error: {0}")]
    Codec(#[from] CodecError),
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
}

/// Says hello on `stream` as `dialer` describes.
async fn hello(stream: TcpStream, dialer: &Dialer) -> Result<(Conn, ServerHello), ConnectError> {
    // Chat lines are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let mut conn = Framed::new(stream, ClientCodec::client());
    conn.send(Frame::new(ClientMsg::Hello {
        protocol: PROTOCOL_VERSION,
        client: dialer.client.clone(),
        gateway_token: dialer.gateway_token.clone(),
    }))
    .await?;
    match next(&mut conn, dialer).await? {
        ServerMsg::Hello {
            server,
            instance,
            gateway,
            limits,
            ..
        } => Ok((
            conn,
            ServerHello {
                server,
                instance,
                gateway,
                limits,
            },
        )),
        ServerMsg::Error { code, message } => Err(ConnectError::Bye { code, message }),
        other => Err(ConnectError::Unexpected(format!("{other:?}"))),
    }
}

/// Asks to join under `name` and waits for the welcome or the refusal.
async fn join_as(
    conn: &mut Conn,
    dialer: &Dialer,
    name: &str,
    since: Option<Seq>,
) -> Result<Joined, ConnectError> {
    conn.send(Frame::new(ClientMsg::Join {
        name: name.to_string(),
        since,
        addr: None,
    }))
    .await?;
    loop {
        match next(conn, dialer).await? {
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
async fn next(conn: &mut Conn, dialer: &Dialer) -> Result<ServerMsg, ConnectError> {
    loop {
        let frame = match timeout(dialer.handshake_timeout, conn.next()).await {
            Err(_) => return Err(ConnectError::Timeout(dialer.addr.clone())),
            Ok(None) => return Err(ConnectError::Closed),
            Ok(Some(frame)) => frame?,
        };
        match frame.msg {
            ServerMsg::Ping { nonce } => conn.send(Frame::new(ClientMsg::Pong { nonce })).await?,
            ServerMsg::Bye { code, message } => return Err(ConnectError::Bye { code, message }),
            msg => return Ok(msg),
        }
    }
}
