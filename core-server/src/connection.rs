//! One client connection (a terminal client or a gateway link): the reader
//! loop that decodes frames and acts on them, plus the writer task it spawns.
//!
//! The reader owns everything private to the connection (its sessions, their
//! rate limits and open transfers), so only room-wide state needs the lock.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use futures_util::StreamExt;
use tokio::{
    io::AsyncReadExt,
    net::{TcpStream, tcp::OwnedReadHalf},
    time::{Instant, MissedTickBehavior},
};
use tokio_util::{codec::FramedRead, sync::CancellationToken};
use tracing::{debug, info};

use protocol::{
    ClientKind, ClientMsg, ErrorCode, LINK_SESSION, PROTOCOL_VERSION, ServerMsg, SessionId,
    codec::{CodecError, Frame, ServerCodec},
    rate::RateLimit,
    secrets_match,
};

use crate::{
    config::Config,
    notice::bye_msg,
    outbox::{self, Outbox},
    room::{LinkId, Offer, Room},
    transfer::{Ctx, Failure, Transfer},
};

/// Longest file name accepted in an offer, in bytes.
const MAX_FILE_NAME: usize = 255;
/// How many refused/failed transfer ids a session remembers, to drop their
/// remaining chunks silently.
const MAX_DEAD_TRANSFERS: usize = 256;

/// A user on this connection: the one user of a direct connection, or one
/// attached session of a gateway link.
struct Session {
    /// The name it joined with.
    name: String,
    /// The per-user rate limit.
    bucket: RateLimit,
    /// Files it is sending, by its own id.
    transfers: HashMap<u32, Transfer>,
    /// Ids of its transfers that were refused or failed: their late chunks are
    /// dropped without a reply, since the sender was already told.
    dead: HashSet<u32>,
}

/// What the reader decides after a frame.
enum Flow {
    Continue,
    /// Close the connection, telling the peer why (or not, e.g. after `quit`).
    Close(Option<ErrorCode>),
}

/// The reader's state.
struct Connection {
    room: Room,
    config: Arc<Config>,
    /// This connection's own queues.
    outbox: Outbox,
    /// Cancelled when this connection must stop (killed or server shutdown);
    /// transfers waiting on recipients watch it.
    stop: CancellationToken,
    /// Set once the hello is accepted.
    link: Option<LinkId>,
    /// Whether the hello carried the right gateway token.
    gateway: bool,
    /// Joined users on this connection, by session id (0 on a direct one).
    sessions: HashMap<SessionId, Session>,
    /// Rate limit for frames not from a joined user (before join, and a gateway
    /// link's own session 0).
    link_bucket: RateLimit,
    /// Whether the login is done: a direct connection joined, or a gateway
    /// link's hello was accepted.
    logged_in: bool,
    /// Counter for server pings.
    ping_nonce: u64,
}

/// Serves one accepted connection until it ends; returns after its writer has
/// drained (bounded by the drain timeout).
pub async fn run(socket: TcpStream, room: Room, config: Arc<Config>, shutdown: CancellationToken) {
    let peer = socket.peer_addr().ok();
    let _ = socket.set_nodelay(true);
    let (reader, writer) = socket.into_split();
    let (outbox, queues) = outbox::channel(config.outbound_queue, config.file_queue);
    let close = CancellationToken::new();
    let writer = tokio::spawn(outbox::write_loop(
        writer,
        queues,
        outbox.clone(),
        close.clone(),
        config.drain_timeout,
    ));
    let stop = shutdown.child_token();
    let mut conn = Connection {
        room,
        link_bucket: RateLimit::new(config.rate_per_sec, config.rate_burst),
        config,
        outbox,
        stop: stop.clone(),
        link: None,
        gateway: false,
        sessions: HashMap::new(),
        logged_in: false,
        ping_nonce: 0,
    };
    // A small first read buffer: most connections are idle chat clients; the
    // codec reserves room for a big frame once its length is known.
    let codec = ServerCodec::new(conn.config.max_frame as usize);
    let mut frames = FramedRead::with_capacity(reader, codec, 1024);
    let bye = conn.read_loop(&mut frames, &shutdown).await;
    let names: Vec<&str> = conn.sessions.values().map(|s| s.name.as_str()).collect();
    match conn.outbox.kill_reason() {
        Some(code) => info!(?peer, ?names, ?code, "dropping connection"),
        None if bye.is_some_and(|c| c != ErrorCode::ShuttingDown) => {
            info!(?peer, ?names, code = ?bye, "closing connection")
        }
        None => debug!(?peer, ?names, ?bye, "connection ending"),
    }
    stop.cancel();
    conn.finish(shutdown.is_cancelled());
    if let Some(code) = bye {
        conn.outbox.send_msg(LINK_SESSION, &bye_msg(code));
    }
    close.cancel();
    let drain = conn.config.drain_timeout;
    let mut writer = writer;
    if tokio::time::timeout(drain, &mut writer).await.is_err() {
        writer.abort();
    }
    linger(frames.into_inner(), drain).await;
}

/// After our side is closed, reads and discards what the peer still sends for
/// a moment, so closing with unread input does not reset the connection and
/// destroy the `bye` the peer has not read yet. An idle peer ends it at once
/// (closing with nothing unread sends no reset).
async fn linger(mut reader: OwnedReadHalf, limit: std::time::Duration) {
    const QUIET: std::time::Duration = std::time::Duration::from_millis(50);
    let limit = limit.min(std::time::Duration::from_secs(2));
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(limit, async {
        while let Ok(Ok(n)) = tokio::time::timeout(QUIET, reader.read(&mut scratch)).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

impl Connection {
    /// Reads frames until the connection should end; returns the `bye` to send.
    async fn read_loop(
        &mut self,
        frames: &mut FramedRead<OwnedReadHalf, ServerCodec>,
        shutdown: &CancellationToken,
    ) -> Option<ErrorCode> {
        let login_deadline = tokio::time::sleep(self.config.login_timeout);
        tokio::pin!(login_deadline);
        let silence = tokio::time::sleep(self.config.ping_timeout);
        tokio::pin!(silence);
        let interval = self.config.ping_interval;
        let mut ping_tick = tokio::time::interval_at(Instant::now() + interval, interval);
        ping_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Some(ErrorCode::ShuttingDown),
                _ = self.outbox.killed() => return None, // the writer says bye
                _ = &mut login_deadline, if !self.logged_in => return Some(ErrorCode::LoginTimeout),
                _ = &mut silence => return Some(ErrorCode::PingTimeout),
                _ = ping_tick.tick() => {
                    if last_heard.elapsed() >= interval {
                        self.ping_nonce += 1;
                        self.outbox.send_msg(LINK_SESSION, &ServerMsg::Ping { nonce: self.ping_nonce });
                    }
                }
                frame = frames.next() => {
                    let frame = match frame {
                        None => return None,
                        Some(Ok(frame)) => frame,
                        Some(Err(CodecError::Io(e))) => {
                            debug!(error = %e, "read failed");
                            return None;
                        }
                        Some(Err(e)) => {
                            info!(error = %e, "refusing a bad frame; closing");
                            return Some(e.code());
                        }
                    };
                    match self.handle(frame).await {
                        Flow::Continue => {}
                        Flow::Close(bye) => return bye,
                    }
                    // Measured after handling: a frame that waited on
                    // backpressure was our delay, not the peer's silence.
                    last_heard = Instant::now();
                    silence.as_mut().reset(last_heard + self.config.ping_timeout);
                }
            }
        }
    }

    /// Leaves the room and aborts this connection's outgoing transfers.
    fn finish(&mut self, shutting_down: bool) {
        for session in self.sessions.values_mut() {
            for (_, mut transfer) in session.transfers.drain() {
                transfer.abort(ErrorCode::TransferAborted, "the sender left");
            }
        }
        if let Some(link) = self.link {
            let names = self.room.remove_link(link, !shutting_down);
            if !names.is_empty() {
                info!(?names, "left");
            }
        }
    }

    fn reply(&self, session: SessionId, msg: ServerMsg) {
        self.outbox.send_msg(session, &msg);
    }

    fn error(&self, session: SessionId, code: ErrorCode, message: impl Into<String>) {
        self.reply(
            session,
            ServerMsg::Error {
                code,
                message: message.into(),
            },
        );
    }

    async fn handle(&mut self, frame: Frame<ClientMsg>) -> Flow {
        let Frame {
            session,
            msg,
            payload,
        } = frame;
        if self.link.is_none() {
            return self.before_hello(session, msg);
        }
        if !self.gateway && session != LINK_SESSION {
            // Counted, so a flood of these cannot buy unlimited replies.
            if self.link_bucket.try_take() {
                self.error(
                    session,
                    ErrorCode::Unauthorized,
                    "session ids are only for gateway links",
                );
            }
            return Flow::Continue;
        }
        if self.gateway && session == LINK_SESSION {
            return self.link_frame(msg);
        }
        // Rate limit: per joined user; file bytes are not counted.
        let counted = !matches!(msg, ClientMsg::FileChunk { .. } | ClientMsg::FileEnd { .. });
        if counted {
            let allowed = match self.sessions.get_mut(&session) {
                Some(s) => s.bucket.try_take(),
                // Not joined yet: the connection's bucket. A gateway link is
                // authenticated, and re-attaches many sessions at once.
                None => self.gateway || self.link_bucket.try_take(),
            };
            if !allowed {
                self.error(
                    session,
                    ErrorCode::RateLimited,
                    format!(
                        "slow down: at most {} frames per second (burst {})",
                        self.config.rate_per_sec, self.config.rate_burst
                    ),
                );
                return Flow::Continue;
            }
        }
        match msg {
            ClientMsg::Hello { .. } => {
                self.error(session, ErrorCode::AlreadyJoined, "hello was already sent")
            }
            ClientMsg::Join { name, since } => self.join(session, &name, since),
            ClientMsg::Ping { nonce } => self.reply(session, ServerMsg::Pong { nonce }),
            ClientMsg::Pong { .. } => {}
            ClientMsg::Quit => {
                if !self.gateway {
                    return Flow::Close(None);
                }
                self.detach(session);
            }
            msg => {
                if !self.sessions.contains_key(&session) {
                    self.error(session, ErrorCode::NotJoined, "join the room first");
                    return Flow::Continue;
                }
                self.member_frame(session, msg, payload).await;
            }
        }
        Flow::Continue
    }

    fn before_hello(&mut self, session: SessionId, msg: ClientMsg) -> Flow {
        match msg {
            ClientMsg::Hello {
                protocol,
                client,
                gateway_token,
            } => {
                if protocol != PROTOCOL_VERSION {
                    return Flow::Close(Some(ErrorCode::UnsupportedVersion));
                }
                if let Some(token) = gateway_token {
                    let expected = self.config.gateway_token.as_deref();
                    if !expected.is_some_and(|e| secrets_match(token.as_bytes(), e.as_bytes())) {
                        info!(client, "gateway link refused: wrong token");
                        return Flow::Close(Some(ErrorCode::Unauthorized));
                    }
                    self.gateway = true;
                    self.logged_in = true;
                    self.outbox.set_chat_bound(self.config.gateway_queue);
                }
                info!(client, gateway = self.gateway, "hello");
                self.link = Some(self.room.add_link(self.outbox.clone()));
                self.reply(
                    LINK_SESSION,
                    ServerMsg::Hello {
                        protocol: PROTOCOL_VERSION,
                        server: concat!("switchboard/", env!("CARGO_PKG_VERSION")).into(),
                        instance: self.room.instance().to_string(),
                        gateway: self.gateway,
                        limits: self.config.limits(),
                    },
                );
            }
            ClientMsg::Ping { nonce } => self.reply(session, ServerMsg::Pong { nonce }),
            ClientMsg::Pong { .. } => {}
            ClientMsg::Quit => return Flow::Close(None),
            _ => {
                if !self.link_bucket.try_take() {
                    return Flow::Continue;
                }
                self.error(session, ErrorCode::NotJoined, "send hello first")
            }
        }
        Flow::Continue
    }

    /// A frame with session 0 on a gateway link: about the link itself.
    fn link_frame(&mut self, msg: ClientMsg) -> Flow {
        match msg {
            ClientMsg::Ping { nonce } => self.reply(LINK_SESSION, ServerMsg::Pong { nonce }),
            ClientMsg::Pong { .. } => {}
            ClientMsg::Users => self.reply(
                LINK_SESSION,
                ServerMsg::Users {
                    users: self.room.users(),
                },
            ),
            ClientMsg::Quit => return Flow::Close(None),
            ClientMsg::Hello { .. } => self.error(
                LINK_SESSION,
                ErrorCode::AlreadyJoined,
                "hello was already sent",
            ),
            _ => self.error(
                LINK_SESSION,
                ErrorCode::BadFrame,
                "on a gateway link, user frames need a non-zero session id",
            ),
        }
        Flow::Continue
    }

    fn join(&mut self, session: SessionId, name: &str, since: Option<u64>) {
        if self.sessions.contains_key(&session) {
            self.error(session, ErrorCode::AlreadyJoined, "already in the room");
            return;
        }
        let kind = if self.gateway {
            ClientKind::Web
        } else {
            ClientKind::Terminal
        };
        let link = self.link.expect("joined after hello");
        match self.room.join(link, session, kind, name, since) {
            Ok(_left) => {
                info!(name, session, ?kind, "joined");
                self.logged_in = true;
                self.sessions.insert(
                    session,
                    Session {
                        name: name.to_string(),
                        bucket: RateLimit::new(self.config.rate_per_sec, self.config.rate_burst),
                        transfers: HashMap::new(),
                        dead: HashSet::new(),
                    },
                );
            }
            Err((code, message)) => self.error(session, code, message),
        }
    }

    /// A gateway session quits: it leaves; the link stays.
    fn detach(&mut self, session: SessionId) {
        if let Some(mut s) = self.sessions.remove(&session) {
            for (_, mut transfer) in s.transfers.drain() {
                transfer.abort(ErrorCode::TransferAborted, "the sender left");
            }
            self.room.leave(&s.name);
            info!(name = s.name, session, "detached");
        }
    }

    fn check_text(&self, session: SessionId, text: &str) -> bool {
        if text.len() > self.config.max_message as usize {
            self.error(
                session,
                ErrorCode::MessageTooLong,
                format!(
                    "messages are at most {} bytes; this one is {}",
                    self.config.max_message,
                    text.len()
                ),
            );
            return false;
        }
        if text.trim().is_empty() {
            self.error(session, ErrorCode::EmptyMessage, "empty message");
            return false;
        }
        true
    }

    /// Frames from a joined user.
    async fn member_frame(&mut self, session: SessionId, msg: ClientMsg, payload: bytes::Bytes) {
        let name = self.sessions[&session].name.clone();
        match msg {
            ClientMsg::Say { text } => {
                if self.check_text(session, &text) {
                    self.room.say(&name, &text);
                }
            }
            ClientMsg::Private { to, text } => {
                if !self.check_text(session, &text) {
                    return;
                }
                if let Err((code, message)) = self.room.private(&name, &to, &text) {
                    self.error(session, code, message);
                }
            }
            ClientMsg::Users => self.reply(
                session,
                ServerMsg::Users {
                    users: self.room.users(),
                },
            ),
            ClientMsg::FileOffer {
                id,
                to,
                name: file_name,
                size,
                sha256,
                kind,
            } => {
                let offer = Offer {
                    to,
                    name: file_name,
                    size,
                    sha256: sha256.to_ascii_lowercase(),
                    kind,
                };
                self.offer(session, &name, id, offer);
            }
            ClientMsg::FileChunk { id } => self.chunk(session, id, payload).await,
            ClientMsg::FileEnd { id } => self.end(session, id).await,
            ClientMsg::FileCancel { id } => {
                let s = self.sessions.get_mut(&session).expect("joined");
                s.dead.remove(&id);
                if let Some(mut transfer) = s.transfers.remove(&id) {
                    transfer.abort(ErrorCode::TransferAborted, "the sender cancelled");
                }
            }
            // Handled before a session is needed.
            ClientMsg::Hello { .. }
            | ClientMsg::Join { .. }
            | ClientMsg::Ping { .. }
            | ClientMsg::Pong { .. }
            | ClientMsg::Quit => {}
        }
    }

    fn file_failed(
        &self,
        session: SessionId,
        id: u32,
        code: ErrorCode,
        message: impl Into<String>,
    ) {
        self.reply(
            session,
            ServerMsg::FileFailed {
                id,
                to: None,
                code,
                message: message.into(),
            },
        );
    }

    fn mark_dead(&mut self, session: SessionId, id: u32) {
        let s = self.sessions.get_mut(&session).expect("joined");
        if s.dead.len() >= MAX_DEAD_TRANSFERS {
            s.dead.clear();
        }
        s.dead.insert(id);
    }

    fn offer(&mut self, session: SessionId, from: &str, id: u32, offer: Offer) {
        let refusal = {
            let s = &self.sessions[&session];
            if s.transfers.contains_key(&id) {
                Some((
                    ErrorCode::BadFrame,
                    format!("transfer id {id} is already open"),
                ))
            } else if s.transfers.len() >= self.config.max_transfers {
                Some((
                    ErrorCode::TooManyTransfers,
                    format!("at most {} files at once", self.config.max_transfers),
                ))
            } else if offer.size > self.config.max_file {
                Some((
                    ErrorCode::FileTooLarge,
                    format!(
                        "files are at most {} bytes; this one is {}",
                        self.config.max_file, offer.size
                    ),
                ))
            } else if offer.sha256.len() != 64
                || !offer.sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                Some((
                    ErrorCode::BadFrame,
                    "sha256 must be 64 hex digits".to_string(),
                ))
            } else if offer.name.is_empty()
                || offer.name.len() > MAX_FILE_NAME
                || offer.name.chars().any(char::is_control)
            {
                Some((
                    ErrorCode::BadFrame,
                    format!("a file name is 1 to {MAX_FILE_NAME} bytes without control characters"),
                ))
            } else {
                None
            }
        };
        if let Some((code, message)) = refusal {
            // Do not kill an open transfer that reuses its id by mistake.
            if code != ErrorCode::BadFrame || !self.sessions[&session].transfers.contains_key(&id) {
                self.mark_dead(session, id);
            }
            self.file_failed(session, id, code, message);
            return;
        }
        match self.room.offer_file(from, &offer) {
            Ok((transfer, copies)) => {
                let recipients = copies
                    .iter()
                    .flat_map(|c| c.names.iter().map(|(n, _)| n.clone()))
                    .collect();
                info!(
                    from,
                    transfer,
                    file = offer.name,
                    size = offer.size,
                    "file offered"
                );
                self.reply(
                    session,
                    ServerMsg::FileAccepted {
                        id,
                        transfer,
                        recipients,
                    },
                );
                let t = Transfer::new(id, transfer, offer.kind, offer.size, offer.sha256, copies);
                let s = self.sessions.get_mut(&session).expect("joined");
                s.dead.remove(&id);
                s.transfers.insert(id, t);
            }
            Err((code, message)) => {
                self.mark_dead(session, id);
                self.file_failed(session, id, code, message);
            }
        }
    }

    fn unknown_transfer(&mut self, session: SessionId, id: u32) {
        let s = self.sessions.get_mut(&session).expect("joined");
        if s.dead.contains(&id) {
            return; // the sender was already told this transfer failed
        }
        // Unknown ids are counted against the rate limit so they cannot flood.
        if s.bucket.try_take() {
            self.error(
                session,
                ErrorCode::UnknownTransfer,
                format!("no open transfer with id {id}"),
            );
        }
    }

    async fn chunk(&mut self, session: SessionId, id: u32, payload: bytes::Bytes) {
        let Some(mut transfer) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.transfers.remove(&id))
        else {
            return self.unknown_transfer(session, id);
        };
        let ctx = Ctx {
            sender: &self.outbox,
            session,
            stall_timeout: self.config.file_stall_timeout,
            stop: &self.stop,
        };
        match transfer.chunk(payload, &ctx).await {
            Ok(()) => {
                let s = self.sessions.get_mut(&session).expect("joined");
                s.transfers.insert(id, transfer);
            }
            Err(failure) => self.fail_transfer(session, transfer, failure),
        }
    }

    async fn end(&mut self, session: SessionId, id: u32) {
        let Some(transfer) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.transfers.remove(&id))
        else {
            let s = self.sessions.get_mut(&session).expect("joined");
            if s.dead.remove(&id) {
                return;
            }
            return self.unknown_transfer(session, id);
        };
        let ctx = Ctx {
            sender: &self.outbox,
            session,
            stall_timeout: self.config.file_stall_timeout,
            stop: &self.stop,
        };
        let number = transfer.transfer;
        match transfer.end(&ctx).await {
            Ok(()) => debug!(transfer = number, "file relayed"),
            Err((failure, transfer)) => {
                self.fail_transfer(session, transfer, failure);
                // The end was its last frame: nothing more will come for it.
                self.sessions
                    .get_mut(&session)
                    .expect("joined")
                    .dead
                    .remove(&id);
            }
        }
    }

    fn fail_transfer(&mut self, session: SessionId, mut transfer: Transfer, failure: Failure) {
        info!(transfer = transfer.transfer, code = ?failure.code, "file failed: {}", failure.message);
        transfer.abort(failure.code, &failure.message);
        self.mark_dead(session, transfer.id);
        self.file_failed(session, transfer.id, failure.code, failure.message);
    }
}
