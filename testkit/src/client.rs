//! A raw protocol client for tests: every frame by hand through the real
//! codec, so a test can send what no well-behaved client would.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use protocol::{
    CHUNK_SIZE, ClientMsg, DEFAULT_FILE_WINDOW, ErrorCode, Event, EventBody, FileKind,
    PROTOCOL_VERSION, ServerMsg, SessionId, Target, UserInfo,
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
///
/// It keeps to flow control by default, as every real client must, so tests
/// about something else need not: as a recipient it returns credit for each
/// chunk it reads (`file_credit`), and as a sender [`RawClient::chunks`] waits
/// for credit, keeping frames that arrive meanwhile for the next `recv`. The
/// `file_credit` frames it gets are absorbed. With `auto_credit` off it does
/// none of that: credit frames reach the test and chunks are not credited.
pub struct RawClient {
    pub framed: Framed<TcpStream, ClientCodec>,
    /// Play by the flow-control rules without the test's help.
    pub auto_credit: bool,
    /// Frames read while waiting for credit, for the next `recv`.
    backlog: VecDeque<Frame<ServerMsg>>,
    /// Credit left per outgoing transfer id.
    credit: HashMap<u32, u64>,
    /// Recipients not yet answered for, per outgoing transfer id (from
    /// `file_accepted`): at 0 the transfer is over and sending stops.
    pending: HashMap<u32, usize>,
    /// The server's `limits.file_window` (from its hello).
    window: u64,
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
            auto_credit: true,
            backlog: VecDeque::new(),
            credit: HashMap::new(),
            pending: HashMap::new(),
            window: DEFAULT_FILE_WINDOW,
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
        let ServerMsg::Hello { limits, .. } = &reply else {
            panic!("expected hello, got {reply:?}");
        };
        self.window = limits.file_window;
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
        if let Some(frame) = self.backlog.pop_front() {
            return frame;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(e))) => panic!("decode error: {e}"),
                Ok(None) => panic!("connection closed"),
                Err(_) => panic!("nothing received within {WAIT:?}"),
            };
            if let Some(frame) = self.absorb(frame).await {
                return frame;
            }
        }
    }

    /// Flow control done for the test (see [`RawClient`]): takes in credit
    /// frames, credits chunks. Returns the frame unless it was absorbed.
    async fn absorb(&mut self, frame: Frame<ServerMsg>) -> Option<Frame<ServerMsg>> {
        if !self.auto_credit {
            return Some(frame);
        }
        match frame.msg {
            ServerMsg::FileCredit { id, bytes } => {
                *self.credit.entry(id).or_default() += bytes;
                None
            }
            ServerMsg::FileAccepted {
                id, ref recipients, ..
            } => {
                self.pending.insert(id, recipients.len());
                Some(frame)
            }
            ServerMsg::FileDelivered { id, .. }
            | ServerMsg::FileFailed {
                id, to: Some(_), ..
            } => {
                if let Some(n) = self.pending.get_mut(&id) {
                    *n = n.saturating_sub(1);
                }
                Some(frame)
            }
            ServerMsg::FileChunk { transfer } => {
                let credit = ClientMsg::FileCredit {
                    transfer,
                    bytes: frame.payload.len() as u64,
                };
                self.send_frame(Frame::new(credit).with_session(frame.session))
                    .await;
                Some(frame)
            }
            _ => Some(frame),
        }
    }

    /// Waits until `len` bytes of credit are left for `id`, keeping other
    /// frames for later. False if the transfer failed as a whole meanwhile.
    async fn wait_credit(&mut self, id: u32, len: u64) -> bool {
        let mut kept = VecDeque::new();
        let ok = loop {
            if self.credit.get(&id).copied().unwrap_or(0) >= len {
                break true;
            }
            if self.pending.get(&id) == Some(&0) {
                break false; // every recipient is answered for
            }
            let frame = match tokio::time::timeout(WAIT, self.framed.next()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(e))) => panic!("decode error: {e}"),
                Ok(None) => panic!("connection closed while waiting for credit"),
                Err(_) => panic!("no credit for transfer {id} within {WAIT:?}"),
            };
            if let Some(frame) = self.absorb(frame).await {
                let over = matches!(
                    &frame.msg,
                    ServerMsg::FileFailed { id: i, to: None, .. } if *i == id
                );
                kept.push_back(frame);
                if over {
                    break false;
                }
            }
        };
        self.backlog.extend(kept);
        ok
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
            let frame = tokio::time::timeout_at(deadline, self.recv())
                .await
                .expect("expected frame within the wait");
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
        self.credit.insert(id, self.window);
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

    /// Sends `bytes` as chunks of transfer `id`, each once there is credit for
    /// it (unless `auto_credit` is off). Stops early if the transfer failed.
    pub async fn chunks(&mut self, id: u32, bytes: &[u8]) {
        for chunk in bytes.chunks(CHUNK_SIZE) {
            // Only our own offers are paced: chunks for an id never offered
            // are a test of the server's answer.
            if self.auto_credit && self.credit.contains_key(&id) {
                let len = chunk.len() as u64;
                if self.credit.get(&id).copied().unwrap_or(0) < len {
                    SinkExt::<Frame<ClientMsg>>::flush(&mut self.framed)
                        .await
                        .unwrap();
                    if !self.wait_credit(id, len).await {
                        return;
                    }
                }
                if let Some(left) = self.credit.get_mut(&id) {
                    *left = left.saturating_sub(len);
                }
            }
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
