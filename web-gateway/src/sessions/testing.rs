//! Helpers for the hub's unit tests (`fanout.rs`, `rejoin.rs`): they drive a
//! real [`Hub`] through its public methods, as the link and the sockets do.

use axum::extract::ws::Utf8Bytes;
use protocol::{Event, EventBody, Seq, SessionId};
use tokio::sync::mpsc;

use super::{Hub, HubConfig};

pub(super) fn hub(queue: usize) -> Hub {
    Hub::new(HubConfig {
        browser_queue: queue,
        replay: 100,
        max_sessions: 10,
    })
}

pub(super) fn message(seq: Seq, text: &str) -> Event {
    Event {
        seq,
        ts: 1,
        event: EventBody::Message {
            from: "terry".into(),
            text: text.into(),
        },
    }
}

/// A session that joined and was welcomed.
pub(super) fn joined(hub: &Hub, name: &str) -> SessionId {
    let pending = hub.begin_join(name, None).unwrap();
    assert!(hub.on_welcome(pending.info.id, vec![], vec![], 0));
    pending.info.id
}

/// Everything queued to a socket so far.
pub(super) fn drain(rx: &mut mpsc::Receiver<Utf8Bytes>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(text) = rx.try_recv() {
        out.push(text.to_string());
    }
    out
}
