//! One session's way out to its browsers: the bounded queue of each open
//! socket (tab) and the ring of recent timeline events a reconnecting socket
//! is replayed from.
//!
//! A message arrives here already serialised, as a reference-counted
//! [`Utf8Bytes`]; queuing it to a socket is a clone of that handle, not of the
//! bytes. A socket whose queue is full is a slow browser: its sender is
//! dropped on the spot (its send task in `ws.rs` sees the channel close and
//! closes the WebSocket with 4000), and it may reconnect with `since` and
//! catch up from the ring.

use std::collections::VecDeque;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;

#[derive(Default)]
pub(super) struct Outbox {
    /// Recent timeline (gateway seq, serialised event) for reconnecting sockets.
    ring: VecDeque<(u64, Utf8Bytes)>,
    /// The browser sockets (tabs), by socket id.
    sockets: Vec<(u64, mpsc::Sender<Utf8Bytes>)>,
}

impl Outbox {
    /// Appends to the ring (keeping at most `replay`) and queues to every
    /// socket. `user` names the session in logs.
    pub(super) fn push(&mut self, user: &str, seq: u64, text: Utf8Bytes, replay: usize) {
        if self.ring.len() == replay {
            self.ring.pop_front();
        }
        self.ring.push_back((seq, text.clone()));
        self.send(user, &text);
    }

    /// Queues a message to every socket (not kept for replay); drops the
    /// sockets that are full or gone.
    pub(super) fn send(&mut self, user: &str, text: &Utf8Bytes) {
        self.sockets.retain(|(id, tx)| match tx.try_send(text.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(user = %user, socket = id, "browser too slow: dropping its socket");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    /// Adds a socket with a queue of `capacity`: `hello` first, then every
    /// kept event with a seq above `since`. The caller holds the hub's lock,
    /// so this is atomic with the fan-out: nothing is missed or doubled.
    /// `capacity` must exceed the ring's size by one (the hub ensures it).
    pub(super) fn attach(
        &mut self,
        socket: u64,
        capacity: usize,
        hello: Utf8Bytes,
        since: u64,
    ) -> mpsc::Receiver<Utf8Bytes> {
        let (tx, rx) = mpsc::channel(capacity);
        // Capacity is at least replay + 2, so these cannot fail.
        let _ = tx.try_send(hello);
        for (_, text) in self.ring.iter().filter(|(seq, _)| *seq > since) {
            let _ = tx.try_send(text.clone());
        }
        self.sockets.push((socket, tx));
        rx
    }

    /// Removes a socket; returns whether none is left.
    pub(super) fn detach(&mut self, socket: u64) -> bool {
        self.sockets.retain(|(s, _)| *s != socket);
        self.sockets.is_empty()
    }

    /// Drops every socket's sender: their send tasks close the WebSockets.
    pub(super) fn close_all(&mut self) {
        self.sockets.clear();
    }
}
