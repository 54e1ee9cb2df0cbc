//! The room: who is here, on which connection, the recent history and the
//! sequence counter. A cheap `Clone` handle shared by every connection task.
//!
//! Everything that must be ordered (assigning a seq and queueing the event)
//! happens under one lock, so every connection sees events in seq order. A
//! room-wide event is appended once to the room stream (`outbox::RoomStream`),
//! which every connection carrying a member reads at its own pace; an event
//! for one member goes to its connection's own queue. Neither waits, so
//! holding the lock is short and never blocks on a slow client.
//!
//! Here: the state, joins, leaves and messages. `room/offer.rs`: file offers.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use tokio_util::sync::CancellationToken;

use protocol::{
    ClientKind, ErrorCode, Event, EventBody, LINK_SESSION, Millis, Seq, ServerMsg, SessionId,
    UserInfo, codec::encode, validate_name,
};

use crate::{
    outbox::{Outbox, RoomStream},
    transfer::Relay,
};

mod history;
mod offer;

use history::History;

pub use offer::Offer;

/// Identifies one connection (direct or gateway link) inside the room.
pub type LinkId = u64;

/// A refusal to tell the client: an error code and a readable message.
pub type Refusal = (ErrorCode, String);

/// Handle to the shared room state.
#[derive(Clone, Debug)]
pub struct Room {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The room. A std mutex, because every critical section is short and
    /// synchronous: it is never held across an `.await` (nothing under it waits,
    /// queues are `try_send`), so an async mutex would only add cost.
    state: Mutex<State>,
    /// Random per process, announced in hello: tells clients seqs restarted.
    instance: String,
}

#[derive(Debug)]
struct State {
    /// Room-wide frames, once for every member (bounded in bytes).
    stream: RoomStream,
    /// Last seq handed out; seqs are strictly increasing over the server's life.
    last_seq: Seq,
    /// Last server-side transfer id handed out.
    last_transfer: u64,
    /// Last connection id handed out.
    last_link: LinkId,
    /// Every connection that has said hello, with its queues: the fan-out list.
    links: HashMap<LinkId, LinkEntry>,
    /// Members by lower-cased name: names are unique case-insensitively.
    members: HashMap<String, Member>,
    /// The last room messages, oldest first, for joiners (bounded in count
    /// and bytes).
    history: History,
    /// Transfers being relayed, by server id, so a recipient's `file_credit`
    /// finds its copy. Registered at the offer (before anyone can know the
    /// id); finished ones are purged at the next offer.
    relays: HashMap<u64, Relay>,
}

#[derive(Debug)]
struct LinkEntry {
    /// Where frames for this connection go.
    outbox: Outbox,
    /// How many members this connection carries (0 or 1 direct, any on a
    /// gateway link): a room broadcast goes to a link only if one of its
    /// members is a recipient, and then only once.
    members: usize,
}

#[derive(Debug, Clone)]
struct Member {
    /// The name as the user spelled it.
    name: String,
    kind: ClientKind,
    /// Which connection carries this member.
    link: LinkId,
    /// Its session id on that connection (0 on a direct connection).
    session: SessionId,
    /// Cancelled when the member leaves, so transfers to it notice.
    left: CancellationToken,
}

fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

impl State {
    fn next_event(&mut self, event: EventBody) -> Event {
        self.last_seq += 1;
        Event {
            seq: self.last_seq,
            ts: now_millis(),
            event,
        }
    }

    /// Appends `msg` once to the room stream, for every link that carries a
    /// member other than `except` (encoded once, session 0). Links without a
    /// member do not read the stream.
    fn broadcast(&self, msg: &ServerMsg, except: Option<&Member>) {
        let frame = encode(LINK_SESSION, msg, &[]);
        let skip = except
            .and_then(|m| self.links.get(&m.link))
            .filter(|link| link.members <= 1)
            .map(|link| link.outbox.reader());
        self.stream.append(frame, skip);
    }

    fn send_to(&self, link: LinkId, session: SessionId, msg: &ServerMsg) {
        if let Some(entry) = self.links.get(&link) {
            entry.outbox.send_msg(session, msg);
        }
    }

    /// Everyone in the room, ordered by name ignoring ASCII case.
    fn users(&self) -> Vec<UserInfo> {
        // Sorted by the map's key, the lower-case name (unique): lowering the
        // names in every comparison made each welcome allocate 2 n log n
        // strings under the room lock (half of the 37 s a debug build took
        // to attach 5,000 gateway sessions; test link_reset).
        let mut members: Vec<(&String, &Member)> = self.members.iter().collect();
        members.sort_unstable_by_key(|(key, _)| *key);
        members
            .into_iter()
            .map(|(_, m)| UserInfo {
                name: m.name.clone(),
                kind: m.kind,
            })
            .collect()
    }

    fn remove_member(&mut self, key: &str, announce: bool) -> Option<Member> {
        let member = self.members.remove(key)?;
        member.left.cancel();
        if let Some(link) = self.links.get_mut(&member.link) {
            link.members -= 1;
            if link.members == 0 {
                link.outbox.unsubscribe();
            }
        }
        if announce {
            let event = self.next_event(EventBody::Left {
                name: member.name.clone(),
            });
            self.broadcast(&ServerMsg::Event(event), None);
        }
        Some(member)
    }
}

impl Room {
    /// A room keeping at most `history` messages and `history_bytes` bytes of
    /// them for joiners, and `room_buffer` bytes of room-wide frames for
    /// members that lag.
    pub fn new(history: usize, history_bytes: usize, room_buffer: usize) -> Room {
        let instance = format!("{:016x}", rand::random::<u64>());
        let state = State {
            stream: RoomStream::new(room_buffer),
            last_seq: 0,
            last_transfer: 0,
            last_link: 0,
            links: HashMap::new(),
            members: HashMap::new(),
            history: History::new(history, history_bytes),
            relays: HashMap::new(),
        };
        Room {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                instance,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug; the state is still usable
        // (every critical section leaves it consistent before it can panic).
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn instance(&self) -> &str {
        &self.shared.instance
    }

    /// The room stream, for a new connection's outbox.
    pub fn stream(&self) -> RoomStream {
        self.lock().stream.clone()
    }

    /// Registers a connection that finished its hello.
    pub fn add_link(&self, outbox: Outbox) -> LinkId {
        let mut state = self.lock();
        state.last_link += 1;
        let id = state.last_link;
        state.links.insert(id, LinkEntry { outbox, members: 0 });
        id
    }

    /// Removes a connection and all its members (announcing each `left` unless
    /// the server is shutting down).
    pub fn remove_link(&self, link: LinkId, announce: bool) -> Vec<String> {
        let (entry, names) = {
            let mut state = self.lock();
            let keys: Vec<String> = state
                .members
                .iter()
                .filter(|(_, m)| m.link == link)
                .map(|(k, _)| k.clone())
                .collect();
            let names = keys
                .iter()
                .filter_map(|k| state.remove_member(k, announce))
                .map(|m| m.name)
                .collect();
            (state.links.remove(&link), names)
        };
        // Dropped outside the lock: dropping the last handle to a queue drops
        // its queued items, whose delivery notices use other queues.
        drop(entry);
        names
    }

    /// Takes `name` for `session` on `link`, sends the welcome to it and
    /// announces the join to everyone else. Returns the member's `left` token.
    pub fn join(
        &self,
        link: LinkId,
        session: SessionId,
        kind: ClientKind,
        name: &str,
        since: Option<Seq>,
    ) -> Result<CancellationToken, Refusal> {
        validate_name(name).map_err(|e| (ErrorCode::NameInvalid, e.to_string()))?;
        let key = name.to_ascii_lowercase();
        let mut state = self.lock();
        if state.members.contains_key(&key) {
            return Err((ErrorCode::NameTaken, format!("'{name}' is already taken")));
        }
        let Some(entry) = state.links.get_mut(&link) else {
            return Err((ErrorCode::NotJoined, "connection is closing".into()));
        };
        entry.members += 1;
        let first = entry.members == 1;
        let welcome = ServerMsg::Welcome {
            name: name.to_string(),
            users: state.users(),
            history: state.history.since(since),
            last_seq: state.last_seq,
        };
        state.send_to(link, session, &welcome);
        if first {
            // After the welcome, before the `joined`: the stream from here on.
            state.links[&link].outbox.subscribe();
        }
        let member = Member {
            name: name.to_string(),
            kind,
            link,
            session,
            left: CancellationToken::new(),
        };
        let left = member.left.clone();
        let event = state.next_event(EventBody::Joined {
            user: UserInfo {
                name: name.to_string(),
                kind,
            },
        });
        state.broadcast(&ServerMsg::Event(event), Some(&member));
        state.members.insert(key, member);
        Ok(left)
    }

    /// A member leaves (quit, or its gateway session detached).
    pub fn leave(&self, name: &str) {
        self.lock().remove_member(&name.to_ascii_lowercase(), true);
    }

    /// A room message from `from` (already checked), to everyone.
    pub fn say(&self, from: &str, text: &str) {
        let mut state = self.lock();
        let event = state.next_event(EventBody::Message {
            from: from.to_string(),
            text: text.to_string(),
        });
        state.broadcast(&ServerMsg::Event(event.clone()), None);
        state.history.push(event);
    }

    /// A private message: to the recipient, and echoed to the sender.
    pub fn private(&self, from: &str, to: &str, text: &str) -> Result<(), Refusal> {
        let mut state = self.lock();
        let Some(recipient) = state.members.get(&to.to_ascii_lowercase()).cloned() else {
            return Err(no_such_user(to));
        };
        let Some(sender) = state.members.get(&from.to_ascii_lowercase()).cloned() else {
            return Err((ErrorCode::NotJoined, "join first".into()));
        };
        let event = state.next_event(EventBody::Private {
            from: sender.name.clone(),
            to: recipient.name.clone(),
            text: text.to_string(),
        });
        let msg = ServerMsg::Event(event);
        state.send_to(recipient.link, recipient.session, &msg);
        if (sender.link, sender.session) != (recipient.link, recipient.session) {
            state.send_to(sender.link, sender.session, &msg);
        }
        Ok(())
    }

    pub fn users(&self) -> Vec<UserInfo> {
        self.lock().users()
    }
}

fn no_such_user(name: &str) -> Refusal {
    (
        ErrorCode::NoSuchUser,
        format!("'{name}' is not in the room"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox;

    #[tokio::test]
    async fn a_broadcast_is_one_entry_in_the_room_stream_whoever_is_here() {
        let room = Room::new(10, 1 << 20, 1 << 20);
        let stream = room.stream();
        let mut queues = Vec::new();
        for name in ["alice", "bob", "carol"] {
            let (outbox, q) = outbox::unread_channel(&stream, 1 << 20);
            let link = room.add_link(outbox);
            room.join(link, 0, ClientKind::Terminal, name, None)
                .unwrap();
            queues.push(q);
        }
        let before = stream.end();
        room.say("alice", "hello");
        // One entry for the room, however many members read it.
        assert_eq!(stream.end(), before + 1);
    }
}
