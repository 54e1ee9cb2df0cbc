//! Browser sessions: the session cookie -> one user attached on the core
//! link, with its open WebSockets, a replay buffer of its recent timeline and
//! its pending uploads. [`Hub`] is the one place that fans events out to
//! browsers.
//!
//! [`Hub`] is a small handle (an `Arc` around one lock) and a facade: each
//! method takes the lock once and hands the state to the module that owns
//! that concern. One lock for everything is deliberate: attaching a socket
//! must be atomic with the fan-out (so a reconnecting page misses nothing and
//! sees nothing twice), and a welcome touches the user list, the seqs and the
//! session at once.
//!
//! - `registry`: sessions by id and cookie, tokens, lookup, idle expiry, flash
//!   notices, the mirror of the room's user list.
//! - `outbox`: one session's socket queues and replay ring; slow sockets are
//!   dropped.
//! - `fanout`: gateway seqs, sockets attaching (hello + replay), who gets each
//!   event, file and notice.
//! - `rejoin`: welcomes, the link going down and coming back, retrying a
//!   re-attach refused with `name_taken`.
//! - `uploads`: uploads in flight and the core's answers about them.
//!
//! What a core event looks like to a browser is `crate::browser`'s business.
//!
//! Dependencies between these point one way (each may also use this module's
//! `State`): `rejoin` uses `fanout` (for seqs) and `registry`; `fanout` uses
//! `registry`; `registry` uses `outbox` and `uploads`, the parts a session is
//! made of; `outbox` and `uploads` use nothing here.

mod fanout;
mod outbox;
mod registry;
mod rejoin;
#[cfg(test)]
mod testing;
mod uploads;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::extract::ws::Utf8Bytes;
use protocol::{ErrorCode, Event, Seq, ServerMsg, SessionId, UserInfo, client::SendCredit};
use tokio::sync::{mpsc, oneshot};

pub use self::{
    registry::{JoinError, PendingJoin, SessionInfo, random_token},
    rejoin::{REJOIN_PATIENCE, Rejoin, RetryJoin},
    uploads::UploadReply,
};
/// Re-exported for the link, which names it from here.
pub use crate::browser::target_name;
use crate::browser::{self, Control, TimelineEvent};

/// Limits of the hub, from the command line.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Capacity, in messages, of each browser socket's outbound queue.
    pub browser_queue: usize,
    /// How many recent timeline events each session keeps to replay to a
    /// reconnecting socket (clamped below the queue capacity).
    pub replay: usize,
    /// Most sessions at once; the join page refuses more.
    pub max_sessions: usize,
}

/// Cheap to clone; shared by the link task, the request handlers and the
/// sockets.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    config: HubConfig,
    /// A std mutex: it is never held across an `.await`, and every critical
    /// section is a map lookup plus a few `try_send`s, so an async mutex would
    /// only add cost.
    state: Mutex<State>,
}

/// Everything behind the hub's lock; each field belongs to one module.
#[derive(Default)]
struct State {
    /// The sessions (`registry`).
    sessions: registry::Registry,
    /// Everyone in the room as the core last told us (`registry`).
    users: registry::UserList,
    /// Gateway seqs and socket ids handed out (`fanout`).
    timeline: fanout::Timeline,
    /// Re-attaches refused with `name_taken` and retried, in all (`rejoin`;
    /// monitoring).
    rejoin_retries: u64,
}

impl Hub {
    pub fn new(mut config: HubConfig) -> Hub {
        config.browser_queue = config.browser_queue.max(4);
        // The hello and the replay must fit in a fresh socket's queue.
        config.replay = config.replay.clamp(1, config.browser_queue - 2);
        Hub {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock is a bug; keep serving the others.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn replay(&self) -> usize {
        self.inner.config.replay
    }

    // ---- sessions, for the request handlers (registry) ----

    /// Creates a session in the `Joining` phase. The caller sends the `join`
    /// frame and waits on [`PendingJoin::welcome`].
    pub fn begin_join(&self, name: &str, addr: Option<String>) -> Result<PendingJoin, JoinError> {
        let max = self.inner.config.max_sessions;
        self.state().sessions.begin_join(name, addr, max)
    }

    /// The session behind a cookie, if it is in the room (or being re-attached).
    /// Counts as activity for idle expiry.
    pub fn lookup(&self, cookie: &str) -> Option<SessionInfo> {
        self.state().sessions.lookup(cookie)
    }

    /// Ends a session (leave, expiry, abandoned join). Returns whether the core
    /// knows it (and so must be told `quit`).
    pub fn end_session(&self, id: SessionId, reason: &str) -> Option<bool> {
        self.state().sessions.end(id, reason)
    }

    /// Sessions idle (no socket, no request) for longer than `grace`; they are
    /// ended. Returns those the core must be told about.
    pub fn expire_idle(&self, grace: Duration) -> Vec<SessionId> {
        self.state().sessions.expire_idle(grace)
    }

    pub fn set_flash(&self, id: SessionId, text: String) {
        self.state().sessions.set_flash(id, text);
    }

    pub fn take_flash(&self, id: SessionId) -> Option<String> {
        self.state().sessions.take_flash(id)
    }

    pub fn users(&self) -> Vec<UserInfo> {
        self.state().users.as_slice().to_vec()
    }

    pub fn is_attached(&self, id: SessionId) -> bool {
        self.state().sessions.is_attached(id)
    }

    /// Re-attaches refused with `name_taken` and retried so far.
    pub fn rejoin_retries(&self) -> u64 {
        self.state().rejoin_retries
    }

    pub fn session_count(&self) -> usize {
        self.state().sessions.len()
    }

    // ---- sockets (fanout) ----

    /// Registers a browser socket: queues the hello and every kept timeline
    /// event with a seq above `since`, atomically with joining the fan-out, so
    /// nothing is missed or doubled.
    pub fn attach_socket(
        &self,
        id: SessionId,
        since: u64,
        limits: (u64, u32),
    ) -> Option<(u64, mpsc::Receiver<Utf8Bytes>)> {
        let capacity = self.inner.config.browser_queue;
        fanout::attach_socket(&mut self.state(), capacity, id, since, limits)
    }

    pub fn detach_socket(&self, id: SessionId, socket: u64) {
        fanout::detach_socket(&mut self.state(), id, socket);
    }

    /// A control message to one session's sockets.
    pub fn send_control(&self, id: SessionId, msg: &Control<'_>) {
        fanout::send(&mut self.state(), id, &browser::control(msg));
    }

    /// Sends the user list to one session's sockets.
    pub fn send_users(&self, id: SessionId) {
        fanout::send_users(&mut self.state(), id);
    }

    // ---- uploads ----

    /// Reserves an upload id for a `file_offer`; the receiver gets the core's
    /// accept or refusal.
    pub fn begin_upload(
        &self,
        id: SessionId,
        name: &str,
        window: u64,
    ) -> Option<(u32, oneshot::Receiver<UploadReply>, SendCredit)> {
        let mut st = self.state();
        let session = st.sessions.get_mut(id)?;
        if !session.attached() {
            return None;
        }
        Some(session.uploads.begin(name, window))
    }

    /// The core answered about an upload: wake its waiter, tell the browsers.
    pub fn on_upload_reply(&self, id: SessionId, msg: &ServerMsg) {
        let mut st = self.state();
        if let Some(session) = st.sessions.get_mut(id)
            && let Some(text) = session.uploads.on_answer(msg)
        {
            session.send(&browser::control(&Control::Notice { text: &text }));
        }
    }

    // ---- events from the core link (rejoin, fanout) ----

    /// The link dropped: pending joins fail, sessions wait to be re-attached,
    /// browsers are told.
    pub fn link_down(&self) {
        rejoin::link_down(&mut self.state());
    }

    /// The link is back: every live session, with the `since` to ask for. A new
    /// core instance restarted its seqs, so nothing can be asked `since`.
    pub fn rejoin_list(&self, same_instance: bool) -> Vec<Rejoin> {
        rejoin::rejoin_list(&mut self.state(), same_instance)
    }

    /// A welcome for a session. Returns false if the session is unknown (the
    /// caller tells the core `quit`).
    pub fn on_welcome(
        &self,
        id: SessionId,
        users: Vec<UserInfo>,
        history: Vec<Event>,
        last_seq: Seq,
    ) -> bool {
        let replay = self.replay();
        rejoin::on_welcome(&mut self.state(), replay, id, users, history, last_seq)
    }

    /// An error for a session. A refused join fails the join page; a
    /// re-attach refused with `name_taken` is retried (the core may not have
    /// noticed yet that the old link is gone), and after [`REJOIN_PATIENCE`]
    /// the session ends; anything else is shown to the user.
    pub fn on_session_error(
        &self,
        id: SessionId,
        code: ErrorCode,
        message: &str,
    ) -> Option<RetryJoin> {
        rejoin::on_session_error(&mut self.state(), id, code, message)
    }

    /// The core ended one session (`bye` with its id).
    pub fn on_session_bye(&self, id: SessionId, message: &str) {
        self.state().sessions.end(id, message);
    }

    /// A room-wide event (crossed the link once): serialised once, cloned to
    /// every attached session that has not seen it.
    pub fn on_room_event(&self, ev: &Event) {
        let replay = self.replay();
        fanout::room_event(&mut self.state(), replay, ev);
    }

    /// An event for one session (a private message).
    pub fn on_session_event(&self, id: SessionId, ev: &Event) {
        let replay = self.replay();
        fanout::session_event(&mut self.state(), replay, id, ev);
    }

    /// The user list from the core.
    pub fn set_users(&self, users: Vec<UserInfo>) {
        fanout::set_users(&mut self.state(), users);
    }

    /// Sessions in the room now, except the sender (who gets a room-wide file).
    pub fn attached_sessions_except(&self, sender: &str) -> Vec<SessionId> {
        self.state().sessions.attached_except(sender)
    }

    /// A completed file for the sessions allowed to fetch it: one seq, one
    /// serialisation.
    pub fn deliver_file(&self, grants: &[SessionId], tl: &TimelineEvent) {
        let replay = self.replay();
        fanout::deliver_file(&mut self.state(), replay, grants, tl);
    }

    /// A notice to several sessions.
    pub fn notice(&self, ids: &[SessionId], text: &str) {
        let msg = browser::control(&Control::Notice { text });
        fanout::send_many(&mut self.state(), ids, &msg);
    }
}
