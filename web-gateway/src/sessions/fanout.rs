//! Who gets what: the gateway's timeline seqs, browser sockets attaching
//! (hello plus replay) and detaching, and the fan-out of room events, private
//! events, completed files, notices and user lists to the sessions' outboxes.
//!
//! A timeline event is given one gateway seq and serialised ONCE (by
//! `browser::render`); that reference-counted value is what every outbox gets.
//! Events are deduplicated per session by the core's seq (`last_core_seq`):
//! after a re-attach the welcome's history and the live stream may overlap.

use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use protocol::{Event, EventBody, SessionId, UserInfo};
use tokio::sync::mpsc;

use super::State;
use crate::browser::{self, Control, TimelineEvent};

/// The gateway seqs and socket ids handed out so far.
#[derive(Default)]
pub(super) struct Timeline {
    /// Last gateway seq handed out (see `browser`): strictly increasing for
    /// the gateway's lifetime, across core restarts.
    last_seq: u64,
    /// Last socket id handed out.
    last_socket: u64,
}

impl Timeline {
    pub(super) fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    fn next_socket(&mut self) -> u64 {
        self.last_socket += 1;
        self.last_socket
    }
}

/// Registers a browser socket of session `id` with a queue of `capacity`;
/// see [`super::Hub::attach_socket`].
pub(super) fn attach_socket(
    st: &mut State,
    capacity: usize,
    id: SessionId,
    since: u64,
    (max_upload, max_message): (u64, u32),
) -> Option<(u64, mpsc::Receiver<Utf8Bytes>)> {
    let socket = st.timeline.next_socket();
    let session = st.sessions.get_mut(id)?;
    let hello = browser::control(&Control::Hello {
        you: &session.name,
        connected: session.attached(),
        users: st.users.as_slice(),
        max_upload,
        max_message,
    });
    let rx = session.outbox.attach(socket, capacity, hello, since);
    session.idle_since = None;
    Some((socket, rx))
}

/// Unregisters a socket; a session left without any starts its idle clock.
pub(super) fn detach_socket(st: &mut State, id: SessionId, socket: u64) {
    if let Some(session) = st.sessions.get_mut(id)
        && session.outbox.detach(socket)
    {
        session.idle_since = Some(Instant::now());
    }
}

/// A message to one session's sockets.
pub(super) fn send(st: &mut State, id: SessionId, text: &Utf8Bytes) {
    if let Some(session) = st.sessions.get_mut(id) {
        session.send(text);
    }
}

/// The user list to one session's sockets.
pub(super) fn send_users(st: &mut State, id: SessionId) {
    let text = browser::control(&Control::Users {
        users: st.users.as_slice(),
    });
    send(st, id, &text);
}

/// A new user list from the core, mirrored and sent to every session.
pub(super) fn set_users(st: &mut State, users: Vec<UserInfo>) {
    st.users.set(users);
    let text = browser::control(&Control::Users {
        users: st.users.as_slice(),
    });
    for (_, session) in st.sessions.iter_mut() {
        session.send(&text);
    }
}

/// A room-wide event (crossed the link once): serialised once, pushed to
/// every attached session that has not seen it, except a user's own join.
pub(super) fn room_event(st: &mut State, replay: usize, ev: &Event) {
    let Some(tl) = browser::timeline(ev, false) else {
        return;
    };
    match &ev.event {
        EventBody::Joined { user } => st.users.add(user.clone()),
        EventBody::Left { name } => st.users.remove(name),
        _ => {}
    }
    let seq = st.timeline.next_seq();
    let text = browser::render(seq, &tl);
    let own_join = match &ev.event {
        EventBody::Joined { user } => Some(user.name.as_str()),
        _ => None,
    };
    for (_, session) in st.sessions.iter_mut() {
        if !session.attached() || ev.seq <= session.last_core_seq {
            continue;
        }
        session.last_core_seq = ev.seq;
        if own_join.is_some_and(|n| n.eq_ignore_ascii_case(&session.name)) {
            continue;
        }
        session.push(seq, text.clone(), replay);
    }
}

/// An event for one session (a private message), unless it has seen it.
pub(super) fn session_event(st: &mut State, replay: usize, id: SessionId, ev: &Event) {
    let Some(tl) = browser::timeline(ev, false) else {
        return;
    };
    let seq = st.timeline.next_seq();
    let Some(session) = st.sessions.get_mut(id) else {
        return;
    };
    if ev.seq <= session.last_core_seq {
        return;
    }
    session.last_core_seq = ev.seq;
    session.push(seq, browser::render(seq, &tl), replay);
}

/// A completed file for the sessions allowed to fetch it: one seq, one
/// serialisation.
pub(super) fn deliver_file(
    st: &mut State,
    replay: usize,
    grants: &[SessionId],
    tl: &TimelineEvent,
) {
    let seq = st.timeline.next_seq();
    let text = browser::render(seq, tl);
    for id in grants {
        if let Some(session) = st.sessions.get_mut(*id) {
            session.push(seq, text.clone(), replay);
        }
    }
}

/// The same message to several sessions.
pub(super) fn send_many(st: &mut State, ids: &[SessionId], text: &Utf8Bytes) {
    for id in ids {
        send(st, *id, text);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{drain, hub, joined, message};

    #[test]
    fn a_slow_browser_is_dropped_and_the_others_keep_receiving() {
        let hub = hub(8);
        let slow = joined(&hub, "slow");
        let fast = joined(&hub, "fast");
        let (_, mut slow_rx) = hub.attach_socket(slow, 0, (1, 1)).unwrap();
        let (_, mut fast_rx) = hub.attach_socket(fast, 0, (1, 1)).unwrap();
        for seq in 1..=20 {
            hub.on_room_event(&message(seq, &format!("m{seq}")));
            drain(&mut fast_rx);
        }
        // The slow socket got what fit, then its queue was closed.
        let got = drain(&mut slow_rx);
        assert_eq!(got.len(), 8);
        assert!(slow_rx.is_closed() || slow_rx.try_recv().is_err());
        hub.on_room_event(&message(21, "after"));
        assert!(drain(&mut fast_rx)[0].contains("after"));
        assert!(drain(&mut slow_rx).is_empty());
    }

    #[test]
    fn a_broadcast_is_serialised_once_and_shared() {
        let hub = hub(8);
        let one = joined(&hub, "one");
        let two = joined(&hub, "two");
        let (_, mut rx1) = hub.attach_socket(one, 0, (1, 1)).unwrap();
        let (_, mut rx2) = hub.attach_socket(two, 0, (1, 1)).unwrap();
        let (_, mut rx3) = hub.attach_socket(two, 0, (1, 1)).unwrap();
        drain(&mut rx1);
        drain(&mut rx2);
        drain(&mut rx3);
        hub.on_room_event(&message(1, "shared"));
        let (a, b, c) = (
            rx1.try_recv().unwrap(),
            rx2.try_recv().unwrap(),
            rx3.try_recv().unwrap(),
        );
        // The same bytes in memory, not three copies.
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
        assert_eq!(a.as_str().as_ptr(), c.as_str().as_ptr());
    }

    #[test]
    fn replay_and_dedup() {
        let hub = hub(64);
        let id = joined(&hub, "web");
        hub.on_room_event(&message(5, "a"));
        hub.on_room_event(&message(5, "a again"));
        hub.on_room_event(&message(6, "b"));
        let (_, mut rx) = hub.attach_socket(id, 0, (1, 1)).unwrap();
        let got = drain(&mut rx);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[1].contains(r#""seq":1"#) && got[1].contains(r#""text":"a""#));
        assert!(got[2].contains(r#""text":"b""#));
        // A socket resuming after seq 1 gets only seq 2.
        let (_, mut rx) = hub.attach_socket(id, 1, (1, 1)).unwrap();
        let got = drain(&mut rx);
        assert_eq!(got.len(), 2);
        assert!(got[1].contains(r#""text":"b""#));
    }
}
