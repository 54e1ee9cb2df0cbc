//! One client connection (a terminal client or a gateway link): the reader
//! loop that decodes frames and acts on them, plus the writer task it spawns.
//!
//! The reader owns everything private to the connection (its sessions, their
//! rate limits and open transfers), so only room-wide state needs the lock.
//!
//! Here: the connection's state and its serving loop (timeouts, pings,
//! reading frames, the orderly end). `connection/handshake.rs`: hello, join
//! and a gateway session's quit. `connection/dispatch.rs`: routing each frame
//! by session, the rate limit, chat commands. `connection/files.rs`: a
//! sender's offers, chunks and ends.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
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
    ErrorCode, LINK_SESSION, PRE_LOGIN_MAX_FRAME, ServerMsg, SessionId,
    codec::{CodecError, ServerCodec},
    rate::RateLimit,
};

use crate::{
    admission::Admission,
    config::Config,
    notice::Bye,
    outbox::{self, Outbox},
    room::{LinkId, Room},
    transfer::{Relay, Transfer},
};

mod dispatch;
mod files;
mod handshake;
mod token;

/// A user on this connection: the one user of a direct connection, or one
/// attached session of a gateway link.
struct Session {
    /// The name it joined with.
    name: String,
    /// The per-user rate limit.
    bucket: RateLimit,
    /// Files it is sending, by its own id.
    transfers: HashMap<u32, Transfer>,
    /// Its files received whole whose copies are still being sent: they count
    /// against `--max-transfers` until every copy has caught up.
    draining: Vec<Relay>,
    /// Ids of its transfers that were refused or failed: their late chunks are
    /// dropped without a reply, since the sender was already told.
    dead: HashSet<u32>,
}

/// What the reader decides after a frame.
enum Flow {
    Continue,
    /// Close the connection, telling the peer why (or not, e.g. after `quit`).
    Close(Option<Bye>),
}

/// The reader's state.
struct Connection {
    room: Room,
    /// Per-address limits (joins, failed gateway tokens).
    admission: Admission,
    /// The peer's address (`None` only if the socket could not tell).
    peer_ip: Option<IpAddr>,
    config: Arc<Config>,
    /// This connection's own queues.
    outbox: Outbox,
    /// Cancelled when this connection must stop (killed or server shutdown):
    /// the wrong-token delay does not outlive it.
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
pub async fn run(
    socket: TcpStream,
    room: Room,
    config: Arc<Config>,
    admission: Admission,
    shutdown: CancellationToken,
) {
    let peer = socket.peer_addr().ok();
    let _ = socket.set_nodelay(true);
    let (reader, writer) = socket.into_split();
    let (outbox, queues) = outbox::channel(&room.stream(), config.outbound_queue);
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
        admission,
        peer_ip: peer.map(|p| p.ip()),
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
    // codec reserves room for a big frame once its length is known. Until the
    // login only small frames are accepted, so a stranger who never says hello
    // cannot make us hold a big frame's worth of memory.
    let pre_login = PRE_LOGIN_MAX_FRAME.min(conn.config.max_frame as usize);
    let codec = ServerCodec::new(pre_login);
    let mut frames = FramedRead::with_capacity(reader, codec, 1024);
    let bye = conn.read_loop(&mut frames, &shutdown).await;
    let names: Vec<&str> = conn.sessions.values().map(|s| s.name.as_str()).collect();
    match conn.outbox.kill_reason() {
        Some(code) => info!(?peer, ?names, ?code, "dropping connection"),
        None if bye
            .as_ref()
            .is_some_and(|b| b.code != ErrorCode::ShuttingDown) =>
        {
            info!(?peer, ?names, code = ?bye.as_ref().map(|b| b.code), "closing connection")
        }
        None => debug!(?peer, ?names, code = ?bye.as_ref().map(|b| b.code), "connection ending"),
    }
    stop.cancel();
    conn.finish(shutdown.is_cancelled());
    if let Some(bye) = bye {
        conn.outbox.send_msg(LINK_SESSION, &bye.msg());
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
    ) -> Option<Bye> {
        let login_deadline = tokio::time::sleep(self.config.login_timeout);
        tokio::pin!(login_deadline);
        let silence = tokio::time::sleep(self.config.ping_timeout);
        tokio::pin!(silence);
        let interval = self.config.ping_interval;
        let mut ping_tick = tokio::time::interval_at(Instant::now() + interval, interval);
        ping_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        // Idle transfers are looked for a few times per timeout, so one is
        // aborted between 1 and 1.25 timeouts after it went quiet.
        let sweep = self.config.transfer_idle_timeout / 4;
        let mut transfer_tick = tokio::time::interval_at(Instant::now() + sweep, sweep);
        transfer_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Some(ErrorCode::ShuttingDown.into()),
                _ = self.outbox.killed() => return None, // the writer says bye
                _ = &mut login_deadline, if !self.logged_in => return Some(ErrorCode::LoginTimeout.into()),
                _ = &mut silence => return Some(ErrorCode::PingTimeout.into()),
                _ = ping_tick.tick() => {
                    if last_heard.elapsed() >= interval {
                        self.ping_nonce += 1;
                        self.outbox.send_msg(LINK_SESSION, &ServerMsg::Ping { nonce: self.ping_nonce });
                    }
                }
                _ = transfer_tick.tick() => self.expire_idle_transfers(),
                frame = frames.next() => {
                    let frame = match frame {
                        None => return None,
                        Some(Ok(frame)) => frame,
                        Some(Err(CodecError::Io(e))) => {
                            debug!(error = %e, "read failed");
                            return None;
                        }
                        Some(Err(e)) => {
                            info!(error = %e, logged_in = self.logged_in, "refusing a bad frame; closing");
                            return Some(self.bad_frame_bye(&e));
                        }
                    };
                    match self.handle(frame).await {
                        Flow::Continue => {}
                        Flow::Close(bye) => return bye,
                    }
                    // Logged in (joined, or an accepted gateway hello): from
                    // the next frame on, the full frame limit applies.
                    if self.logged_in && frames.decoder().max_frame() != self.config.max_frame as usize {
                        frames.decoder_mut().set_max_frame(self.config.max_frame as usize);
                    }
                    last_heard = Instant::now();
                    silence.as_mut().reset(last_heard + self.config.ping_timeout);
                }
            }
        }
    }

    /// The `bye` for an undecodable frame, naming the limit that applied.
    fn bad_frame_bye(&self, e: &CodecError) -> Bye {
        match e {
            CodecError::FrameTooLarge { max } if !self.logged_in => Bye::new(
                ErrorCode::FrameTooLarge,
                format!("before joining, frames are at most {max} bytes"),
            ),
            CodecError::FrameTooLarge { max } => Bye::new(
                ErrorCode::FrameTooLarge,
                format!("frames are at most {max} bytes"),
            ),
            _ => e.code().into(),
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
                self.room.prune_relays();
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
}
