//! The link task's life: connect and say hello as a gateway, re-attach every
//! live session, serve the connection until it fails, tell the browsers, wait
//! and start over.
//!
//! The generic client half comes from `protocol::client`: [`Dialer`] (connect
//! and hello with timeouts, the gateway token), [`write_queued`] (control
//! before chunks; it borrows the queues, so they survive the connection),
//! [`KeepAlive`] (answer pings, ping a quiet core, give up on a dead one) and
//! [`Backoff`]. What is the gateway's own is here: the re-attach with `since`
//! after a reconnect, and the generation that keeps one connection's frames
//! off the next.

use futures_util::{SinkExt, StreamExt};
use protocol::{
    ClientMsg, Limits,
    client::{Backoff, Conn, ConnectError, Dialer, KeepAlive, ReadError, write_queued},
    codec::{CodecError, Frame},
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Link, LinkConfig, LinkStatus, Outgoing, routing::Inbound};
use crate::{sessions::Hub, spool::Spool};

/// What we call ourselves in the hello (the core logs it).
const CLIENT_NAME: &str = concat!("switchboard-web/", env!("CARGO_PKG_VERSION"));

/// The link task: everything one connection after another needs.
pub(super) struct LinkTask {
    pub(super) config: LinkConfig,
    /// Where events for browsers go.
    pub(super) hub: Hub,
    /// Where incoming files go.
    pub(super) spool: Spool,
    /// For the task's own frames (pongs, pings, quits for unknown sessions).
    pub(super) link: Link,
    /// The queues' receiving ends outlive connections: what is queued while
    /// the link is down goes out on the next one (unless bound to a generation).
    pub(super) control_rx: mpsc::Receiver<Outgoing>,
    pub(super) chunks_rx: mpsc::Receiver<Outgoing>,
    /// Tells handlers whether the link is up.
    pub(super) status_tx: watch::Sender<LinkStatus>,
    pub(super) shutdown: CancellationToken,
}

/// Why a connection could not be set up, or ended.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the core did not accept the gateway token")]
    NotGateway,
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Write(#[from] CodecError),
    #[error("the core closed the link: {0}")]
    Refused(String),
    #[error("the link is shutting down")]
    Closed,
}

impl LinkTask {
    pub(super) async fn run(mut self) {
        let dialer = Dialer {
            gateway_token: Some(self.config.token.clone()),
            ..Dialer::new(self.config.addr.clone(), CLIENT_NAME)
        };
        let mut backoff = Backoff::new(self.config.backoff_min, self.config.backoff_max);
        // Changes when the core restarts: its seqs started again.
        let mut instance: Option<String> = None;
        let mut generation = 0u64;
        loop {
            let attempt = tokio::select! {
                r = dialer.connect() => r,
                _ = self.shutdown.cancelled() => return,
            };
            let lost = match attempt {
                Ok((conn, hello)) if hello.gateway => {
                    generation += 1;
                    backoff.reset();
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
                    Ok(reason)
                }
                Ok(_) => Err(ConnError::NotGateway),
                Err(e) => Err(e.into()),
            };
            let delay = backoff.next_delay();
            match lost {
                Ok(reason) => {
                    tracing::warn!(reason = %reason, retry_in = ?delay, "core link down; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(addr = %self.config.addr, error = %e, retry_in = ?delay, "cannot reach the core");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Runs one connection until it fails; returns why.
    async fn serve(
        &mut self,
        mut conn: Conn,
        generation: u64,
        limits: Limits,
        same_instance: bool,
    ) -> ConnError {
        // Re-attach every live session before anything else is written.
        let rejoin = self.hub.rejoin_list(same_instance);
        let count = rejoin.len();
        for rejoin in rejoin {
            if let Err(e) = conn
                .feed(
                    Frame::new(ClientMsg::Join {
                        name: rejoin.name,
                        since: rejoin.since,
                        addr: rejoin.addr,
                    })
                    .with_session(rejoin.id),
                )
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
        let session = self.link.bound_to(generation);
        let writer = write_queued(
            &mut sink,
            &mut self.control_rx,
            &mut self.chunks_rx,
            // Frames bound to an earlier connection are dropped here.
            |out: Outgoing| {
                out.generation
                    .is_none_or(|g| g == generation)
                    .then_some(out.frame)
            },
        );
        let mut keepalive = KeepAlive::new(self.config.ping_every);
        let mut inbound = Inbound::new(&self.hub, &self.spool, session.clone());
        let reader = async {
            loop {
                let frame = match keepalive
                    .next(&mut stream, |frame| session.queue(frame))
                    .await
                {
                    Ok(frame) => frame,
                    Err(e) => return ConnError::from(e),
                };
                if let Err(bye) = inbound.route(frame).await {
                    return ConnError::Refused(bye.0);
                }
            }
        };
        tokio::select! {
            r = writer => match r {
                Ok(()) => ConnError::Closed,
                Err(e) => e.into(),
            },
            e = reader => e,
            _ = self.shutdown.cancelled() => ConnError::Closed,
        }
    }
}
