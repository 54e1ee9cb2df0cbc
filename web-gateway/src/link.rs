//! The gateway link: ONE task owns the single multiplexed TCP connection to the
//! core (`PROTOCOL.md`, "Gateway links") and carries every browser session on it.
//!
//! - Frames go out through two bounded queues: control (joins, messages, offers)
//!   and file chunks; the writer drains control first so chat never waits behind
//!   an upload.
//! - Frames come in and are routed: room-wide events (session 0, once per link)
//!   to [`Hub::on_room_event`], which fans them out; per-session frames to that
//!   session; file chunks to the spool.
//! - When the connection drops, browsers are told, and the task reconnects with
//!   exponential backoff, then re-attaches every live session under its name with
//!   `since` = the last core seq it saw, so the welcome's history fills exactly
//!   the gap (the hub drops anything already seen).
//!
//! Frames queued for one connection must not leak onto the next (a file chunk
//! for a transfer the new connection never opened): such frames carry the link
//! generation they were made for and the writer drops stale ones.

use std::{collections::HashMap, time::Duration};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use protocol::{
    ClientMsg, Event, EventBody, LINK_SESSION, Limits, PROTOCOL_VERSION, ServerMsg, SessionId,
    codec::{ClientCodec, CodecError, Frame},
};
use tokio::{
    net::TcpStream,
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tokio_util::{codec::Framed, sync::CancellationToken};

use crate::{
    browser::TimelineEvent,
    sessions::{Hub, target_name},
    spool::Spool,
};

/// How to reach the core.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// `host:port` of the core's TCP listener.
    pub addr: String,
    /// The core's gateway token.
    pub token: String,
    /// First delay before reconnecting; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Silence after which the gateway pings the core; twice that without any
    /// frame and the link is considered dead.
    pub ping_every: Duration,
}

/// Whether the link is usable, and what the core announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStatus {
    Down,
    Up {
        /// Increases with every new connection.
        generation: u64,
        limits: Limits,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the gateway is reconnecting to the chat server; try again in a moment")]
    Down,
    #[error("the gateway is overloaded; try again")]
    Busy,
    #[error("the connection to the chat server changed during the upload")]
    Changed,
}

/// A frame for the core. With a generation, it is only sent on that connection.
#[derive(Debug)]
struct Outgoing {
    /// The connection this frame was made for; `None`: whichever is up.
    generation: Option<u64>,
    frame: Frame<ClientMsg>,
}

/// Capacity of the control queue (browser messages, joins, offers).
const CONTROL_QUEUE: usize = 4096;
/// Capacity of the chunk queue: uploads wait when it is full.
const CHUNK_QUEUE: usize = 16;
/// Chunks buffered per incoming file between the link and the spool writer.
const SPOOL_QUEUE: usize = 32;
/// How long the core may take to answer the hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Handle to the link task. Cheap to clone.
#[derive(Clone)]
pub struct Link {
    /// Joins, messages, offers, pongs: written before any chunk.
    control: mpsc::Sender<Outgoing>,
    /// File chunks and `file_end`s of uploads; bounded small, so uploads wait.
    chunks: mpsc::Sender<Outgoing>,
    /// Up (with the generation and the core's limits) or down.
    status: watch::Receiver<LinkStatus>,
}

impl Link {
    /// Starts the link task; it runs until `shutdown`.
    pub fn spawn(
        config: LinkConfig,
        hub: Hub,
        spool: Spool,
        shutdown: CancellationToken,
    ) -> (Link, JoinHandle<()>) {
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let (chunks, chunks_rx) = mpsc::channel(CHUNK_QUEUE);
        let (status_tx, status) = watch::channel(LinkStatus::Down);
        let link = Link {
            control,
            chunks,
            status,
        };
        let task = LinkTask {
            config,
            hub,
            spool,
            link: link.clone(),
            control_rx,
            chunks_rx,
            status_tx,
            shutdown,
        };
        (link, tokio::spawn(task.run()))
    }

    pub fn status(&self) -> LinkStatus {
        self.status.borrow().clone()
    }

    /// The current connection's generation and limits, if it is up.
    pub fn up(&self) -> Option<(u64, Limits)> {
        match self.status() {
            LinkStatus::Up { generation, limits } => Some((generation, limits)),
            LinkStatus::Down => None,
        }
    }

    /// Waits until the link is up (or `timeout` passes).
    pub async fn wait_up(&self, timeout: Duration) -> bool {
        let mut status = self.status.clone();
        tokio::time::timeout(
            timeout,
            status.wait_for(|s| matches!(s, LinkStatus::Up { .. })),
        )
        .await
        .is_ok_and(|r| r.is_ok())
    }

    /// Queues a message for a session without waiting (chat from browsers).
    pub fn send(&self, session: SessionId, msg: ClientMsg) -> Result<(), LinkError> {
        if self.up().is_none() {
            return Err(LinkError::Down);
        }
        self.control
            .try_send(Outgoing {
                generation: None,
                frame: Frame::new(msg).with_session(session),
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => LinkError::Busy,
                mpsc::error::TrySendError::Closed(_) => LinkError::Down,
            })
    }

    /// Queues a control frame bound to connection `generation`.
    pub async fn send_on(
        &self,
        generation: u64,
        session: SessionId,
        msg: ClientMsg,
    ) -> Result<(), LinkError> {
        self.control
            .send(Outgoing {
                generation: Some(generation),
                frame: Frame::new(msg).with_session(session),
            })
            .await
            .map_err(|_| LinkError::Down)
    }

    /// Queues a file chunk (or the `file_end` after the chunks) bound to
    /// connection `generation`; waits while the chunk queue is full.
    pub async fn send_chunk(
        &self,
        generation: u64,
        session: SessionId,
        msg: ClientMsg,
        payload: Bytes,
    ) -> Result<(), LinkError> {
        match self.up() {
            Some((g, _)) if g == generation => {}
            Some(_) => return Err(LinkError::Changed),
            None => return Err(LinkError::Down),
        }
        self.chunks
            .send(Outgoing {
                generation: Some(generation),
                frame: Frame::new(msg).with_session(session).with_payload(payload),
            })
            .await
            .map_err(|_| LinkError::Down)
    }
}

type CoreConnection = Framed<TcpStream, ClientCodec>;

struct LinkTask {
    config: LinkConfig,
    /// Where events for browsers go.
    hub: Hub,
    /// Where incoming files go.
    spool: Spool,
    /// For the reader's own frames (pongs, pings, quits for unknown sessions).
    link: Link,
    /// The queues' receiving ends outlive connections: what is queued while
    /// the link is down goes out on the next one (unless bound to a generation).
    control_rx: mpsc::Receiver<Outgoing>,
    chunks_rx: mpsc::Receiver<Outgoing>,
    /// Tells handlers whether the link is up.
    status_tx: watch::Sender<LinkStatus>,
    shutdown: CancellationToken,
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("the core closed the connection")]
    Closed,
    #[error("the core refused the link: {0}")]
    Refused(String),
    #[error("the core said nothing for too long")]
    Silent,
    #[error("unexpected first frame from the core")]
    Unexpected,
}

/// What the hello told us.
struct Welcome {
    /// Changes when the core restarts: its seqs started again.
    instance: String,
    /// The core's limits, for uploads and the page.
    limits: Limits,
}

/// A piece of an incoming file, for its spool writer.
enum Piece {
    Chunk(Bytes),
    End,
}

impl LinkTask {
    async fn run(mut self) {
        let mut backoff = self.config.backoff_min;
        let mut instance: Option<String> = None;
        let mut generation = 0u64;
        loop {
            let attempt = tokio::select! {
                r = connect(&self.config) => r,
                _ = self.shutdown.cancelled() => return,
            };
            match attempt {
                Ok((conn, hello)) => {
                    generation += 1;
                    backoff = self.config.backoff_min;
                    let same_instance = instance.as_deref() == Some(hello.instance.as_str());
                    if instance.is_some() && !same_instance {
                        tracing::info!(
                            "the core restarted (new instance): re-attaching from scratch"
                        );
                    }
                    instance = Some(hello.instance);
                    let reason = self
                        .serve(conn, generation, hello.limits, same_instance)
                        .await;
                    self.status_tx.send_replace(LinkStatus::Down);
                    self.hub.link_down();
                    if self.shutdown.is_cancelled() {
                        return;
                    }
                    tracing::warn!(reason = %reason, "core link down; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(addr = %self.config.addr, error = %e, retry_in = ?backoff, "cannot reach the core");
                }
            }
            // Jitter spreads the reconnects of several gateways.
            let jitter = backoff.mul_f64(rand::random::<f64>() * 0.2);
            tokio::select! {
                _ = tokio::time::sleep(backoff + jitter) => {}
                _ = self.shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(self.config.backoff_max);
        }
    }

    /// Runs one connection until it fails; returns why.
    async fn serve(
        &mut self,
        mut conn: CoreConnection,
        generation: u64,
        limits: Limits,
        same_instance: bool,
    ) -> ConnError {
        // Re-attach every live session before anything else is written.
        let rejoin = self.hub.rejoin_list(same_instance);
        let count = rejoin.len();
        for (id, name, since) in rejoin {
            if let Err(e) = conn
                .feed(Frame::new(ClientMsg::Join { name, since }).with_session(id))
                .await
            {
                return e.into();
            }
        }
        if let Err(e) = SinkExt::<Frame<ClientMsg>>::flush(&mut conn).await {
            return e.into();
        }
        tracing::info!(addr = %self.config.addr, generation, sessions = count, "core link up");
        self.status_tx
            .send_replace(LinkStatus::Up { generation, limits });

        let (mut sink, mut stream) = conn.split();
        let control_rx = &mut self.control_rx;
        let chunks_rx = &mut self.chunks_rx;
        let writer = async {
            loop {
                let first = tokio::select! {
                    biased;
                    Some(out) = control_rx.recv() => out,
                    Some(out) = chunks_rx.recv() => out,
                    else => return ConnError::Closed,
                };
                let mut batch = Some(first);
                let mut fed = 0;
                while let Some(out) = batch.take() {
                    if out.generation.is_none_or(|g| g == generation) {
                        if let Err(e) = sink.feed(out.frame).await {
                            return e.into();
                        }
                        fed += 1;
                    }
                    if fed < 64 {
                        batch = control_rx.try_recv().or_else(|_| chunks_rx.try_recv()).ok();
                    }
                }
                if let Err(e) = sink.flush().await {
                    return e.into();
                }
            }
        };
        let hub = &self.hub;
        let spool = &self.spool;
        let link = &self.link;
        let ping_every = self.config.ping_every;
        let reader = async {
            let mut transfers: HashMap<u64, mpsc::Sender<Piece>> = HashMap::new();
            let mut pinged = false;
            loop {
                let frame = match tokio::time::timeout(ping_every, stream.next()).await {
                    Err(_) if pinged => return ConnError::Silent,
                    Err(_) => {
                        pinged = true;
                        let _ = link.control.try_send(Outgoing {
                            generation: Some(generation),
                            frame: Frame::new(ClientMsg::Ping { nonce: generation }),
                        });
                        continue;
                    }
                    Ok(None) => return ConnError::Closed,
                    Ok(Some(Err(e))) => return e.into(),
                    Ok(Some(Ok(frame))) => frame,
                };
                pinged = false;
                if let Some(err) = route(frame, hub, spool, link, generation, &mut transfers).await
                {
                    return err;
                }
            }
        };
        tokio::select! {
            e = writer => e,
            e = reader => e,
            _ = self.shutdown.cancelled() => ConnError::Closed,
        }
    }
}

/// Connects and does the hello handshake.
async fn connect(config: &LinkConfig) -> Result<(CoreConnection, Welcome), ConnError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&config.addr))
        .await
        .map_err(|_| ConnError::Timeout)?
        .map_err(ConnError::Connect)?;
    let _ = stream.set_nodelay(true);
    let mut conn = Framed::new(stream, ClientCodec::client());
    conn.send(Frame::new(ClientMsg::Hello {
        protocol: PROTOCOL_VERSION,
        client: concat!("switchboard-web/", env!("CARGO_PKG_VERSION")).to_string(),
        gateway_token: Some(config.token.clone()),
    }))
    .await?;
    let frame = tokio::time::timeout(HANDSHAKE_TIMEOUT, conn.next())
        .await
        .map_err(|_| ConnError::Timeout)?
        .ok_or(ConnError::Closed)??;
    match frame.msg {
        ServerMsg::Hello {
            gateway: true,
            instance,
            limits,
            ..
        } => Ok((conn, Welcome { instance, limits })),
        ServerMsg::Hello { gateway: false, .. } => Err(ConnError::Refused(
            "the core did not accept the gateway token".into(),
        )),
        ServerMsg::Bye { message, .. } | ServerMsg::Error { message, .. } => {
            Err(ConnError::Refused(message))
        }
        _ => Err(ConnError::Unexpected),
    }
}

/// Handles one frame from the core. Returns an error only when the link must
/// be dropped.
async fn route(
    frame: Frame<ServerMsg>,
    hub: &Hub,
    spool: &Spool,
    link: &Link,
    generation: u64,
    transfers: &mut HashMap<u64, mpsc::Sender<Piece>>,
) -> Option<ConnError> {
    let session = frame.session;
    let reply = |msg: ClientMsg| {
        let _ = link.control.try_send(Outgoing {
            generation: Some(generation),
            frame: Frame::new(msg).with_session(session),
        });
    };
    match frame.msg {
        ServerMsg::Ping { nonce } => reply(ClientMsg::Pong { nonce }),
        ServerMsg::Pong { .. } | ServerMsg::Hello { .. } => {}
        ServerMsg::Event(ev) => {
            if let EventBody::File { from, .. } = &ev.event {
                let grants = if session == LINK_SESSION {
                    // A room-wide file is not for its sender.
                    hub.attached_sessions_except(from)
                } else {
                    vec![session]
                };
                if let Some((transfer, tx)) = start_file(&ev, grants, hub, spool) {
                    transfers.insert(transfer, tx);
                }
            } else if session == LINK_SESSION {
                hub.on_room_event(&ev);
            } else {
                hub.on_session_event(session, &ev);
            }
        }
        ServerMsg::Welcome {
            users,
            history,
            last_seq,
            ..
        } => {
            if !hub.on_welcome(session, users, history, last_seq) {
                reply(ClientMsg::Quit);
            }
        }
        ServerMsg::Users { users } => hub.set_users(users),
        ServerMsg::FileChunk { transfer } => {
            if let Some(tx) = transfers.get(&transfer)
                && tx.send(Piece::Chunk(frame.payload)).await.is_err()
            {
                transfers.remove(&transfer);
            }
        }
        ServerMsg::FileEnd { transfer } => {
            if let Some(tx) = transfers.remove(&transfer) {
                let _ = tx.send(Piece::End).await;
            }
        }
        ServerMsg::FileAbort {
            transfer, message, ..
        } => {
            // Dropping the sender makes the writer discard the partial file.
            if transfers.remove(&transfer).is_some() {
                tracing::debug!(transfer, %message, "incoming file aborted");
            }
        }
        msg @ (ServerMsg::FileAccepted { .. }
        | ServerMsg::FileDelivered { .. }
        | ServerMsg::FileFailed { .. }) => hub.on_upload_reply(session, &msg),
        ServerMsg::Error { code, message } => {
            if session == LINK_SESSION {
                tracing::warn!(?code, %message, "core error on the link");
            } else {
                if let Some(retry) = hub.on_session_error(session, code, &message) {
                    tracing::info!(user = %retry.name, delay = ?retry.delay, "name still held by the old link; retrying the re-attach");
                    let link = link.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(retry.delay).await;
                        let join = ClientMsg::Join {
                            name: retry.name,
                            since: retry.since,
                        };
                        // Dropped if the link changed meanwhile; the next
                        // connection re-attaches the session anyway.
                        let _ = link.send_on(generation, session, join).await;
                    });
                }
            }
        }
        ServerMsg::Bye { code, message } => {
            if session == LINK_SESSION {
                return Some(ConnError::Refused(format!("{code:?}: {message}")));
            }
            hub.on_session_bye(session, &message);
        }
    }
    None
}

/// Starts a spool writer for an incoming file; returns where to send its chunks.
fn start_file(
    ev: &Event,
    grants: Vec<SessionId>,
    hub: &Hub,
    spool: &Spool,
) -> Option<(u64, mpsc::Sender<Piece>)> {
    let EventBody::File {
        from,
        to,
        transfer,
        name,
        size,
        sha256,
        kind,
    } = ev.event.clone()
    else {
        return None;
    };
    if grants.is_empty() {
        return None;
    }
    let (tx, mut rx) = mpsc::channel(SPOOL_QUEUE);
    let hub = hub.clone();
    let spool = spool.clone();
    let ts = ev.ts;
    tokio::spawn(async move {
        let fail = |e: &dyn std::fmt::Display| {
            hub.notice(
                &grants,
                &format!("the file {name} from {from} could not be received: {e}"),
            );
        };
        let mut incoming = match spool.begin(&name, size, grants.clone()).await {
            Ok(incoming) => incoming,
            Err(e) => return fail(&e),
        };
        while let Some(piece) = rx.recv().await {
            match piece {
                Piece::Chunk(bytes) => {
                    if let Err(e) = incoming.write(&bytes).await {
                        return fail(&e);
                    }
                }
                Piece::End => {
                    match incoming.finish(&sha256).await {
                        Ok(stored) => hub.deliver_file(
                            &grants,
                            &TimelineEvent::File {
                                ts,
                                from,
                                to: target_name(&to),
                                name,
                                size,
                                kind,
                                mime: stored.mime,
                                url: stored.url,
                                inline: stored.inline,
                            },
                        ),
                        Err(e) => fail(&e),
                    }
                    return;
                }
            }
        }
        // The transfer was aborted or the link dropped: `incoming` is dropped
        // and removes the partial file.
    });
    Some((transfer, tx))
}
