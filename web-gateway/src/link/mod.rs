//! The gateway link: ONE task owns the single multiplexed TCP connection to the
//! core (`PROTOCOL.md`, "Gateway links") and carries every browser session on it.
//!
//! - `mod.rs` (this file): the [`Link`] handle the handlers hold: its two
//!   outgoing queues, whether it is up, and [`LinkSession`], the handle on one
//!   connection.
//! - `connection.rs`: the task: connect and say hello, re-attach every live
//!   session, serve the connection (writer and keep-alive reader), reconnect
//!   with backoff. The client half of the protocol comes from
//!   `protocol::client`; only what is particular to a gateway is here.
//! - `routing.rs`: where each frame from the core goes (the hub, the spool
//!   writer of an incoming file, the upload waiting for a reply).
//!
//! Frames go out through two bounded queues, control (joins, messages, offers)
//! and file chunks; the writer drains control first so chat never waits behind
//! an upload. The queues outlive connections: what is queued while the link is
//! down goes out on the next one.
//!
//! Frames made for one connection must not leak onto the next (a file chunk
//! for a transfer the new connection never opened, a join for a session the
//! re-attach already covers). So whatever belongs to one connection is sent
//! through a [`LinkSession`] taken from [`Link::session`]: it remembers the
//! connection (its generation, which no handler sees), its sends fail with
//! [`LinkError::Changed`] or [`LinkError::Down`] once that connection is
//! gone, and the writer drops what was queued for it just before.

mod connection;
mod routing;

use std::time::Duration;

use bytes::Bytes;
use protocol::{ClientMsg, Limits, SessionId, codec::Frame};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use crate::{sessions::Hub, spool::Spool};

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

/// Why a frame could not be queued for the core.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the gateway is reconnecting to the chat server; try again in a moment")]
    Down,
    #[error("the gateway is overloaded; try again")]
    Busy,
    #[error("the connection to the chat server changed during the upload")]
    Changed,
}

/// Whether the link is usable, and what the core announced.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LinkStatus {
    Down,
    Up {
        /// Increases with every new connection.
        generation: u64,
        limits: Limits,
    },
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
        let task = connection::LinkTask {
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

    /// The core's limits, while the link is up.
    pub fn limits(&self) -> Option<Limits> {
        match &*self.status.borrow() {
            LinkStatus::Up { limits, .. } => Some(limits.clone()),
            LinkStatus::Down => None,
        }
    }

    /// The current connection, if the link is up: for frames that make sense
    /// on this connection only.
    pub fn session(&self) -> Option<LinkSession> {
        match &*self.status.borrow() {
            LinkStatus::Up { generation, .. } => Some(self.bound_to(*generation)),
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
    /// Not bound to a connection: queued while the link is up, it goes out on
    /// whichever connection is up by the time the writer gets to it.
    pub fn send(&self, session: SessionId, msg: ClientMsg) -> Result<(), LinkError> {
        if self.session().is_none() {
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

    /// A handle on connection `generation` (the link task's own, and
    /// [`Link::session`]'s).
    fn bound_to(&self, generation: u64) -> LinkSession {
        LinkSession {
            link: self.clone(),
            generation,
        }
    }
}

/// One connection of the link, as the handlers see it: what they send through
/// it goes out on that connection or not at all. Cheap to clone.
#[derive(Clone)]
pub struct LinkSession {
    link: Link,
    /// The connection it is bound to; only this module looks at it.
    generation: u64,
}

impl LinkSession {
    /// Queues a control frame (a join, an offer, a cancel) for `session`;
    /// waits while the control queue is full.
    pub async fn send(&self, session: SessionId, msg: ClientMsg) -> Result<(), LinkError> {
        self.still_up()?;
        self.link
            .control
            .send(self.outgoing(Frame::new(msg).with_session(session)))
            .await
            .map_err(|_| LinkError::Down)
    }

    /// Queues a file chunk (or the `file_end` after the chunks) of `session`;
    /// waits while the chunk queue is full, which is how uploads are paced.
    pub async fn send_chunk(
        &self,
        session: SessionId,
        msg: ClientMsg,
        payload: Bytes,
    ) -> Result<(), LinkError> {
        self.still_up()?;
        self.link
            .chunks
            .send(self.outgoing(Frame::new(msg).with_session(session).with_payload(payload)))
            .await
            .map_err(|_| LinkError::Down)
    }

    /// Queues a frame of the link's own (a pong, a keep-alive ping, a quit for
    /// an unknown session) without waiting; dropped if the queue is full.
    fn queue(&self, frame: Frame<ClientMsg>) {
        let _ = self.link.control.try_send(self.outgoing(frame));
    }

    /// Whether this connection is still the one that is up.
    fn still_up(&self) -> Result<(), LinkError> {
        match &*self.link.status.borrow() {
            LinkStatus::Up { generation, .. } if *generation == self.generation => Ok(()),
            LinkStatus::Up { .. } => Err(LinkError::Changed),
            LinkStatus::Down => Err(LinkError::Down),
        }
    }

    fn outgoing(&self, frame: Frame<ClientMsg>) -> Outgoing {
        Outgoing {
            generation: Some(self.generation),
            frame,
        }
    }
}
