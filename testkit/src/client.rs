//! A raw protocol client for tests: every frame by hand through the real
//! codec, so a test can send what no well-behaved client would.

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use protocol::{
    CHUNK_SIZE, ClientMsg, ErrorCode, Event, EventBody, FileKind, PROTOCOL_VERSION, ServerMsg,
    SessionId, Target, UserInfo,
    codec::{ClientCodec, Frame},
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpSocket, TcpStream},
};
use tokio_util::codec::Framed;

use crate::{WAIT, sha256};

/// What a successful join returned.
#[derive(Debug)]
pub struct Welcome {
    pub users: Vec<UserInfo>,
    pub history: Vec<Event>,
    pub last_seq: u64,
}

/// A test client over the real codec.
pub struct RawClient {
    pub framed: Framed<TcpStream, ClientCodec>,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).await.unwrap();
        RawClient::from_stream(stream)
    }

    /// A client from another loopback address (`127.0.0.2`, ...), so tests of
    /// per-address limits can be several strangers on one machine.
    pub async fn connect_from(addr: SocketAddr, local: std::net::IpAddr) -> RawClient {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(local, 0)).unwrap();
        RawClient::from_stream(socket.connect(addr).await.unwrap())
    }

    /// A client with a tiny receive buffer, so that not reading fills the
    /// server's queues quickly.
    pub async fn connect_small_buffer(addr: SocketAddr) -> RawClient {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        RawClient::from_stream(socket.connect(addr).await.unwrap())
    }

    fn from_stream(stream: TcpStream) -> RawClient {
        // As real clients do: without it, Nagle's algorithm and delayed ACKs
        // add ~40 ms to every frame written in more than one piece.
        stream.set_nodelay(true).unwrap();
        RawClient {
            framed: Framed::new(stream, ClientCodec::client()),
        }
    }

    pub async fn hello(&mut self) {
        self.hello_with(None).await;
    }

    pub async fn hello_with(&mut self, gateway_token: Option<&str>) -> ServerMsg {
        self.send(ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            client: "test".into(),
            gateway_token: gateway_token.map(str::to_string),
        })
        .await;
        let reply = self.recv_msg().await;
        assert!(matches!(reply, ServerMsg::Hello { .. }), "{reply:?}");
        reply
    }

    pub async fn join(&mut self, name: &str) -> Result<Welcome, ErrorCode> {
        self.join_session(0, name, None).await
    }

    pub async fn join_session(
        &mut self,
        session: SessionId,
        name: &str,
        since: Option<u64>,
    ) -> Result<Welcome, ErrorCode> {
        self.send_frame(
            Frame::new(ClientMsg::Join {
                name: name.into(),
                since,
                addr: None,
            })
            .with_session(session),
        )
        .await;
        let frame = self.recv().await;
        assert_eq!(frame.session, session);
        match frame.msg {
            ServerMsg::Welcome {
                users,
                history,
                last_seq,
                ..
            } => Ok(Welcome {
                users,
                history,
                last_seq,
            }),
            ServerMsg::Error { code, .. } => Err(code),
            other => panic!("expected welcome or error, got {other:?}"),
        }
    }

    pub async fn send(&mut self, msg: ClientMsg) {
        self.send_frame(Frame::new(msg)).await;
    }

    pub async fn send_frame(&mut self, frame: Frame<ClientMsg>) {
        self.framed.send(frame).await.unwrap();
    }

    /// Writes raw bytes, bypassing the codec.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.framed.get_mut().write_all(bytes).await.unwrap();
    }

    pub async fn say(&mut self, text: &str) {
        self.send(ClientMsg::Say { text: text.into() }).await;
    }

    pub async fn private(&mut self, to: &str, text: &str) {
        self.send(ClientMsg::Private {
            to: to.into(),
            text: text.into(),
        })
        .await;
    }

    /// The next frame; fails the test if none comes in time.
    pub async fn recv(&mut self) -> Frame<ServerMsg> {
        match tokio::time::timeout(WAIT, self.framed.next()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(e))) => panic!("decode error: {e}"),
            Ok(None) => panic!("connection closed"),
            Err(_) => panic!("nothing received within {WAIT:?}"),
        }
    }

    pub async fn recv_msg(&mut self) -> ServerMsg {
        self.recv().await.msg
    }

    /// The next event's body (fails on anything else).
    pub async fn event(&mut self) -> EventBody {
        match self.recv_msg().await {
            ServerMsg::Event(e) => e.event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The next room message as (from, text).
    pub async fn message(&mut self) -> (String, String) {
        match self.event().await {
            EventBody::Message { from, text } => (from, text),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The next error's code.
    pub async fn error(&mut self) -> ErrorCode {
        match self.recv_msg().await {
            ServerMsg::Error { code, .. } => code,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Skips frames until one matches; fails if none comes in time.
    pub async fn until<T>(&mut self, mut pick: impl FnMut(&Frame<ServerMsg>) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .expect("expected frame within the wait")
                .expect("connection open")
                .expect("decodable frame");
            if let Some(t) = pick(&frame) {
                return t;
            }
        }
    }

    /// Reads until the server closes the connection, then closes ours; returns
    /// the `bye` code if one came. Fails if the connection stays open.
    pub async fn closed(mut self) -> Option<ErrorCode> {
        let mut bye = None;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => panic!("connection still open after {WAIT:?}"),
                Ok(None) | Ok(Some(Err(_))) => return bye,
                Ok(Some(Ok(frame))) => {
                    if let ServerMsg::Bye { code, .. } = frame.msg {
                        bye = Some(code);
                    }
                }
            }
        }
    }

    /// Asks for the user list.
    pub async fn users(&mut self) -> Vec<UserInfo> {
        self.send(ClientMsg::Users).await;
        match self.recv_msg().await {
            ServerMsg::Users { users } => users,
            other => panic!("expected users, got {other:?}"),
        }
    }

    /// Offers a file and streams it in 64 KiB chunks, then ends it.
    pub async fn send_file(
        &mut self,
        id: u32,
        to: Target,
        name: &str,
        kind: FileKind,
        bytes: &[u8],
    ) {
        self.offer(id, to, name, kind, bytes.len() as u64, &sha256(bytes))
            .await;
        self.chunks(id, bytes).await;
        self.send(ClientMsg::FileEnd { id }).await;
    }

    pub async fn offer(
        &mut self,
        id: u32,
        to: Target,
        name: &str,
        kind: FileKind,
        size: u64,
        sha: &str,
    ) {
        self.send(ClientMsg::FileOffer {
            id,
            to,
            name: name.into(),
            size,
            sha256: sha.into(),
            kind,
        })
        .await;
    }

    pub async fn chunks(&mut self, id: u32, bytes: &[u8]) {
        for chunk in bytes.chunks(CHUNK_SIZE) {
            self.framed
                .feed(
                    Frame::new(ClientMsg::FileChunk { id })
                        .with_payload(Bytes::copy_from_slice(chunk)),
                )
                .await
                .unwrap();
        }
        SinkExt::<Frame<ClientMsg>>::flush(&mut self.framed)
            .await
            .unwrap();
    }

    /// Receives one whole incoming file: its `file` event, then chunks up to
    /// `file_end`. Returns (file event, bytes).
    pub async fn receive_file(&mut self) -> (EventBody, Vec<u8>) {
        let event = self.event().await;
        let EventBody::File { transfer, .. } = &event else {
            panic!("expected a file event, got {event:?}");
        };
        let bytes = self.file_bytes(*transfer).await.expect("file completes");
        (event, bytes)
    }

    /// Collects the chunks of `transfer` until its end (Ok) or abort (Err).
    pub async fn file_bytes(&mut self, transfer: u64) -> Result<Vec<u8>, ErrorCode> {
        let mut bytes = Vec::new();
        loop {
            let frame = self.recv().await;
            match frame.msg {
                ServerMsg::FileChunk { transfer: t } if t == transfer => {
                    bytes.extend_from_slice(&frame.payload)
                }
                ServerMsg::FileEnd { transfer: t } if t == transfer => return Ok(bytes),
                ServerMsg::FileAbort {
                    transfer: t, code, ..
                } if t == transfer => return Err(code),
                other => panic!("unexpected during a transfer: {other:?}"),
            }
        }
    }
}
