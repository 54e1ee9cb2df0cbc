//! Browser sessions: the session cookie -> one user attached on the core link,
//! with its open WebSockets, a replay buffer of its recent timeline, and its
//! pending uploads. [`Hub`] is the one place that fans events out to browsers.
//!
//! Fan-out: a timeline event is serialised ONCE into a [`Utf8Bytes`] and that
//! (reference-counted) value is cloned into every socket's bounded queue. A
//! socket whose queue is full is a slow browser: it is dropped on the spot (its
//! sender is removed, its send task sees the channel close and closes the
//! WebSocket); it may reconnect with `since` and catch up from the replay buffer.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use protocol::{ClientKind, ErrorCode, Event, EventBody, Seq, ServerMsg, SessionId, UserInfo};
use tokio::sync::{mpsc, oneshot};

/// Re-exported for the link, which names it from here.
pub use crate::browser::target_name;
use crate::browser::{self, Control, TimelineEvent, timeline};

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

/// Why a join did not produce a session.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JoinError {
    #[error("the chat server refused the name: {message}")]
    Refused { code: ErrorCode, message: String },
    #[error("the connection to the chat server dropped; try again")]
    LinkDown,
    #[error("too many web users are connected; try again later")]
    Full,
}

/// What the core said about an upload's offer.
#[derive(Debug, Clone)]
pub enum UploadReply {
    Accepted,
    Failed { code: ErrorCode, message: String },
}

/// What a request handler needs to know about the session behind a cookie.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: SessionId,
    pub name: String,
    /// The token forms must echo back (CSRF protection).
    pub csrf: String,
}

/// A new session waiting for the core's welcome.
pub struct PendingJoin {
    pub info: SessionInfo,
    /// The value of the session cookie.
    pub cookie: String,
    pub welcome: oneshot::Receiver<Result<(), JoinError>>,
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

#[derive(Default)]
struct State {
    sessions: HashMap<SessionId, Session>,
    by_cookie: HashMap<String, SessionId>,
    /// Everyone in the room as the core last told us, sorted by name.
    users: Vec<UserInfo>,
    /// Last gateway seq handed out (see `browser`).
    last_seq: u64,
    /// Last session id handed out; ids are never reused.
    last_session: SessionId,
    /// Last socket id handed out.
    last_socket: u64,
    /// Re-attaches refused with `name_taken` and retried, in all (monitoring).
    rejoin_retries: u64,
}

enum Phase {
    /// `join` sent, waiting for welcome or error; the handler waits on this.
    Joining(oneshot::Sender<Result<(), JoinError>>),
    /// In the room.
    Attached,
    /// The link dropped; the session will be re-attached when it is back.
    Rejoining,
}

struct Session {
    /// The user's name in the room (also used to re-attach it).
    name: String,
    /// The session cookie's value (to unregister it from `by_cookie`).
    cookie: String,
    /// The token forms must echo back.
    csrf: String,
    /// Where it stands with the core.
    phase: Phase,
    /// Largest core seq this session has seen: re-attaching asks the core for
    /// what came after it, and anything not newer is a duplicate.
    last_core_seq: Seq,
    /// Recent timeline (gateway seq, serialised event) for reconnecting sockets.
    ring: VecDeque<(u64, Utf8Bytes)>,
    /// The browser sockets (tabs) of this session.
    sockets: Vec<(u64, mpsc::Sender<Utf8Bytes>)>,
    /// Since when the session has had no socket and no request (idle expiry).
    idle_since: Option<Instant>,
    /// A one-shot notice for the next page render (the upload form without JS).
    flash: Option<String>,
    /// Uploads in flight, by the id used in `file_offer`: the file name, for
    /// notices, and the waiter for the core's first answer.
    uploads: HashMap<u32, Upload>,
    /// Last upload id handed out.
    last_upload: u32,
    /// When re-attaching began (retries of a refused re-attach stop after
    /// [`REJOIN_PATIENCE`]), and how many were refused so far.
    rejoin_started: Option<Instant>,
    rejoin_attempts: u32,
}

struct Upload {
    name: String,
    waiter: Option<oneshot::Sender<UploadReply>>,
}

/// How long a session being re-attached keeps retrying a `join` refused with
/// `name_taken`. The core frees the names of a link that vanished silently
/// only after its ping timeout (60 s by default), so this is longer.
pub const REJOIN_PATIENCE: Duration = Duration::from_secs(75);
/// First delay before retrying such a join; doubles up to the maximum.
const REJOIN_FIRST_DELAY: Duration = Duration::from_millis(100);
const REJOIN_MAX_DELAY: Duration = Duration::from_secs(2);

/// A re-attach to try again after `delay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryJoin {
    pub name: String,
    pub since: Option<Seq>,
    pub delay: Duration,
}

/// Uploads whose delivery notices we still remember, per session.
const MAX_REMEMBERED_UPLOADS: usize = 64;

impl Session {
    fn attached(&self) -> bool {
        matches!(self.phase, Phase::Attached)
    }

    /// Appends to the timeline and queues to every socket; drops slow sockets.
    fn push(&mut self, seq: u64, text: Utf8Bytes, replay: usize) {
        if self.ring.len() == replay {
            self.ring.pop_front();
        }
        self.ring.push_back((seq, text.clone()));
        self.send(&text);
    }

    /// Queues a message to every socket (not kept for replay).
    fn send(&mut self, text: &Utf8Bytes) {
        let name = &self.name;
        self.sockets.retain(|(id, tx)| match tx.try_send(text.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(user = %name, socket = id, "browser too slow: dropping its socket");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    fn end(&mut self, reason: &str) {
        self.send(&browser::control(&Control::Ended { reason }));
        self.sockets.clear();
    }
}

impl State {
    fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    fn remove(&mut self, id: SessionId) -> Option<Session> {
        let session = self.sessions.remove(&id)?;
        self.by_cookie.remove(&session.cookie);
        Some(session)
    }

    fn add_user(&mut self, user: UserInfo) {
        if let Err(at) = self.find_user(&user.name) {
            self.users.insert(at, user);
        }
    }

    fn remove_user(&mut self, name: &str) {
        if let Ok(at) = self.find_user(name) {
            self.users.remove(at);
        }
    }

    fn find_user(&self, name: &str) -> Result<usize, usize> {
        let key = name.to_ascii_lowercase();
        self.users
            .binary_search_by(|u| u.name.to_ascii_lowercase().cmp(&key))
    }

    fn set_users(&mut self, users: Vec<UserInfo>) {
        self.users.clear();
        for user in users {
            self.add_user(user);
        }
    }
}

/// A random 128-bit token, hex encoded (session cookies, CSRF tokens, file URLs).
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
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

    // ---- sessions, for the request handlers ----

    /// Creates a session in the `Joining` phase. The caller sends the `join`
    /// frame and waits on [`PendingJoin::welcome`].
    pub fn begin_join(&self, name: &str) -> Result<PendingJoin, JoinError> {
        let mut st = self.state();
        if st.sessions.len() >= self.inner.config.max_sessions {
            return Err(JoinError::Full);
        }
        st.last_session = st.last_session.checked_add(1).unwrap_or(1);
        let id = st.last_session;
        let (tx, rx) = oneshot::channel();
        let cookie = random_token();
        let csrf = random_token();
        st.by_cookie.insert(cookie.clone(), id);
        st.sessions.insert(
            id,
            Session {
                name: name.to_string(),
                cookie: cookie.clone(),
                csrf: csrf.clone(),
                phase: Phase::Joining(tx),
                last_core_seq: 0,
                ring: VecDeque::new(),
                sockets: Vec::new(),
                idle_since: Some(Instant::now()),
                flash: None,
                uploads: HashMap::new(),
                last_upload: 0,
                rejoin_started: None,
                rejoin_attempts: 0,
            },
        );
        Ok(PendingJoin {
            info: SessionInfo {
                id,
                name: name.to_string(),
                csrf,
            },
            cookie,
            welcome: rx,
        })
    }

    /// The session behind a cookie, if it is in the room (or being re-attached).
    /// Counts as activity for idle expiry.
    pub fn lookup(&self, cookie: &str) -> Option<SessionInfo> {
        let mut st = self.state();
        let id = *st.by_cookie.get(cookie)?;
        let session = st.sessions.get_mut(&id)?;
        if matches!(session.phase, Phase::Joining(_)) {
            return None;
        }
        if session.idle_since.is_some() {
            session.idle_since = Some(Instant::now());
        }
        Some(SessionInfo {
            id,
            name: session.name.clone(),
            csrf: session.csrf.clone(),
        })
    }

    /// Ends a session (leave, expiry, abandoned join). Returns whether the core
    /// knows it (and so must be told `quit`).
    pub fn end_session(&self, id: SessionId, reason: &str) -> Option<bool> {
        let mut session = self.state().remove(id)?;
        session.end(reason);
        Some(session.attached())
    }

    /// Sessions idle (no socket, no request) for longer than `grace`; they are
    /// ended. Returns those the core must be told about.
    pub fn expire_idle(&self, grace: Duration) -> Vec<SessionId> {
        let mut st = self.state();
        let now = Instant::now();
        let expired: Vec<SessionId> = st
            .sessions
            .iter()
            .filter(|(_, s)| {
                !matches!(s.phase, Phase::Joining(_))
                    && s.idle_since.is_some_and(|t| now.duration_since(t) >= grace)
            })
            .map(|(id, _)| *id)
            .collect();
        let mut attached = Vec::new();
        for id in expired {
            if let Some(mut session) = st.remove(id) {
                tracing::info!(user = %session.name, "web session expired");
                session.end("session expired");
                if session.attached() {
                    attached.push(id);
                }
            }
        }
        attached
    }

    pub fn set_flash(&self, id: SessionId, text: String) {
        if let Some(session) = self.state().sessions.get_mut(&id) {
            session.flash = Some(text);
        }
    }

    pub fn take_flash(&self, id: SessionId) -> Option<String> {
        self.state().sessions.get_mut(&id)?.flash.take()
    }

    pub fn users(&self) -> Vec<UserInfo> {
        self.state().users.clone()
    }

    pub fn is_attached(&self, id: SessionId) -> bool {
        self.state()
            .sessions
            .get(&id)
            .is_some_and(Session::attached)
    }

    /// Re-attaches refused with `name_taken` and retried so far.
    pub fn rejoin_retries(&self) -> u64 {
        self.state().rejoin_retries
    }

    pub fn session_count(&self) -> usize {
        self.state().sessions.len()
    }

    // ---- sockets ----

    /// Registers a browser socket: queues the hello and every kept timeline
    /// event with a seq above `since`, atomically with joining the fan-out, so
    /// nothing is missed or doubled.
    pub fn attach_socket(
        &self,
        id: SessionId,
        since: u64,
        limits: (u64, u32),
    ) -> Option<(u64, mpsc::Receiver<Utf8Bytes>)> {
        let mut st = self.state();
        st.last_socket += 1;
        let socket = st.last_socket;
        let users = st.users.clone();
        let session = st.sessions.get_mut(&id)?;
        let (tx, rx) = mpsc::channel(self.inner.config.browser_queue);
        let hello = browser::control(&Control::Hello {
            you: &session.name,
            connected: session.attached(),
            users: &users,
            max_upload: limits.0,
            max_message: limits.1,
        });
        // Capacity is at least replay + 2, so these cannot fail.
        let _ = tx.try_send(hello);
        for (_, text) in session.ring.iter().filter(|(seq, _)| *seq > since) {
            let _ = tx.try_send(text.clone());
        }
        session.sockets.push((socket, tx));
        session.idle_since = None;
        Some((socket, rx))
    }

    pub fn detach_socket(&self, id: SessionId, socket: u64) {
        if let Some(session) = self.state().sessions.get_mut(&id) {
            session.sockets.retain(|(s, _)| *s != socket);
            if session.sockets.is_empty() {
                session.idle_since = Some(Instant::now());
            }
        }
    }

    /// A control message to one session's sockets.
    pub fn send_control(&self, id: SessionId, msg: &Control<'_>) {
        if let Some(session) = self.state().sessions.get_mut(&id) {
            session.send(&browser::control(msg));
        }
    }

    /// Sends the user list to one session's sockets.
    pub fn send_users(&self, id: SessionId) {
        let mut st = self.state();
        let text = browser::control(&Control::Users { users: &st.users });
        if let Some(session) = st.sessions.get_mut(&id) {
            session.send(&text);
        }
    }

    // ---- uploads ----

    /// Reserves an upload id for a `file_offer`; the receiver gets the core's
    /// accept or refusal.
    pub fn begin_upload(
        &self,
        id: SessionId,
        name: &str,
    ) -> Option<(u32, oneshot::Receiver<UploadReply>)> {
        let mut st = self.state();
        let session = st.sessions.get_mut(&id)?;
        if !session.attached() {
            return None;
        }
        session.last_upload = session.last_upload.wrapping_add(1).max(1);
        let upload = session.last_upload;
        let (tx, rx) = oneshot::channel();
        if session.uploads.len() >= MAX_REMEMBERED_UPLOADS
            && let Some(oldest) = session.uploads.keys().min().copied()
        {
            session.uploads.remove(&oldest);
        }
        session.uploads.insert(
            upload,
            Upload {
                name: name.to_string(),
                waiter: Some(tx),
            },
        );
        Some((upload, rx))
    }

    /// The core answered about an upload: wake its waiter, tell the browsers.
    pub fn on_upload_reply(&self, id: SessionId, msg: &ServerMsg) {
        let mut st = self.state();
        let Some(session) = st.sessions.get_mut(&id) else {
            return;
        };
        let (upload, reply) = match msg {
            ServerMsg::FileAccepted { id, .. } => (*id, Some(UploadReply::Accepted)),
            ServerMsg::FileFailed {
                id, code, message, ..
            } => (
                *id,
                Some(UploadReply::Failed {
                    code: *code,
                    message: message.clone(),
                }),
            ),
            ServerMsg::FileDelivered { id, .. } => (*id, None),
            _ => return,
        };
        let Some(entry) = session.uploads.get_mut(&upload) else {
            return;
        };
        if let Some(reply) = reply
            && let Some(waiter) = entry.waiter.take()
        {
            // The uploader reports an early refusal itself.
            if waiter.send(reply).is_ok() {
                return;
            }
        }
        let Some(text) = browser::upload_notice(&entry.name, msg) else {
            return;
        };
        session.send(&browser::control(&Control::Notice { text: &text }));
    }

    // ---- events from the core link ----

    /// The link dropped: pending joins fail, sessions wait to be re-attached,
    /// browsers are told.
    pub fn link_down(&self) {
        let mut st = self.state();
        let text = browser::control(&Control::Link {
            state: "reconnecting",
        });
        let joining: Vec<SessionId> = st
            .sessions
            .iter()
            .filter(|(_, s)| matches!(s.phase, Phase::Joining(_)))
            .map(|(id, _)| *id)
            .collect();
        for id in joining {
            if let Some(Session {
                phase: Phase::Joining(tx),
                ..
            }) = st.remove(id)
            {
                let _ = tx.send(Err(JoinError::LinkDown));
            }
        }
        for session in st.sessions.values_mut() {
            if session.attached() {
                session.phase = Phase::Rejoining;
                session.send(&text);
            }
            // Waiters see their sender dropped: the upload failed.
            for upload in session.uploads.values_mut() {
                upload.waiter = None;
            }
        }
    }

    /// The link is back: every live session, with the `since` to ask for. A new
    /// core instance restarted its seqs, so nothing can be asked `since`.
    pub fn rejoin_list(&self, same_instance: bool) -> Vec<(SessionId, String, Option<Seq>)> {
        let mut st = self.state();
        st.sessions
            .iter_mut()
            .filter(|(_, s)| matches!(s.phase, Phase::Rejoining))
            .map(|(id, s)| {
                if !same_instance {
                    s.last_core_seq = 0;
                }
                s.rejoin_started = Some(Instant::now());
                s.rejoin_attempts = 0;
                let since = same_instance.then_some(s.last_core_seq);
                (*id, s.name.clone(), since)
            })
            .collect()
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
        let replay = self.inner.config.replay;
        let mut st = self.state();
        let Some(name) = st.sessions.get(&id).map(|s| s.name.clone()) else {
            return false;
        };
        st.set_users(users);
        st.add_user(UserInfo {
            name,
            kind: ClientKind::Web,
        });
        // History from the first join is "before you came"; history after a
        // re-attach is what this user missed while the link was down.
        let first = matches!(st.sessions[&id].phase, Phase::Joining(_));
        let since = st.sessions[&id].last_core_seq;
        let mut rendered = Vec::new();
        for ev in history.iter().filter(|ev| ev.seq > since) {
            if let Some(tl) = timeline(ev, first) {
                let seq = st.next_seq();
                rendered.push((seq, browser::render(seq, &tl)));
            }
        }
        let users_text = browser::control(&Control::Users { users: &st.users });
        let session = st.sessions.get_mut(&id).expect("checked above");
        for (seq, text) in rendered {
            session.push(seq, text, replay);
        }
        session.last_core_seq = session.last_core_seq.max(last_seq);
        match std::mem::replace(&mut session.phase, Phase::Attached) {
            Phase::Joining(tx) => {
                if tx.send(Ok(())).is_err() {
                    // The join page gave up waiting; nobody holds the cookie.
                    st.remove(id);
                    return false;
                }
            }
            Phase::Rejoining | Phase::Attached => {
                session.send(&browser::control(&Control::Link { state: "connected" }));
                session.send(&users_text);
            }
        }
        true
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
        let mut st = self.state();
        let session = st.sessions.get_mut(&id)?;
        if matches!(session.phase, Phase::Rejoining)
            && code == ErrorCode::NameTaken
            && session
                .rejoin_started
                .is_some_and(|t| t.elapsed() < REJOIN_PATIENCE)
        {
            session.rejoin_attempts += 1;
            let name = session.name.clone();
            let since = Some(session.last_core_seq).filter(|s| *s > 0);
            let attempts = session.rejoin_attempts;
            st.rejoin_retries += 1;
            let delay = REJOIN_FIRST_DELAY
                .saturating_mul(1 << attempts.min(8))
                .min(REJOIN_MAX_DELAY);
            return Some(RetryJoin { name, since, delay });
        }
        let refused = matches!(code, ErrorCode::NameTaken | ErrorCode::NameInvalid);
        match session.phase {
            Phase::Joining(_) => {
                if let Some(Session {
                    phase: Phase::Joining(tx),
                    ..
                }) = st.remove(id)
                {
                    let _ = tx.send(Err(JoinError::Refused {
                        code,
                        message: message.to_string(),
                    }));
                }
            }
            Phase::Rejoining if refused => {
                let mut session = st.remove(id).expect("present");
                tracing::info!(user = %session.name, "name lost while reconnecting");
                session.end(&format!(
                    "while reconnecting, the name {} could not be taken back: {message}",
                    session.name
                ));
            }
            _ => {
                session.send(&browser::control(&Control::Error {
                    code: code.as_str(),
                    message,
                }));
            }
        }
        None
    }

    /// The core ended one session (`bye` with its id).
    pub fn on_session_bye(&self, id: SessionId, message: &str) {
        if let Some(mut session) = self.state().remove(id) {
            session.end(message);
        }
    }

    /// A room-wide event (crossed the link once): serialised once, cloned to
    /// every attached session that has not seen it.
    pub fn on_room_event(&self, ev: &Event) {
        let Some(tl) = timeline(ev, false) else {
            return;
        };
        let replay = self.inner.config.replay;
        let mut st = self.state();
        match &ev.event {
            EventBody::Joined { user } => st.add_user(user.clone()),
            EventBody::Left { name } => st.remove_user(name),
            _ => {}
        }
        let seq = st.next_seq();
        let text = browser::render(seq, &tl);
        let own_join = match &ev.event {
            EventBody::Joined { user } => Some(user.name.as_str()),
            _ => None,
        };
        for session in st.sessions.values_mut() {
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

    /// An event for one session (a private message).
    pub fn on_session_event(&self, id: SessionId, ev: &Event) {
        let Some(tl) = timeline(ev, false) else {
            return;
        };
        let replay = self.inner.config.replay;
        let mut st = self.state();
        let seq = st.next_seq();
        let Some(session) = st.sessions.get_mut(&id) else {
            return;
        };
        if ev.seq <= session.last_core_seq {
            return;
        }
        session.last_core_seq = ev.seq;
        session.push(seq, browser::render(seq, &tl), replay);
    }

    /// The user list from the core.
    pub fn set_users(&self, users: Vec<UserInfo>) {
        let mut st = self.state();
        st.set_users(users);
        let text = browser::control(&Control::Users { users: &st.users });
        for session in st.sessions.values_mut() {
            session.send(&text);
        }
    }

    /// Sessions in the room now, except the sender (who gets a room-wide file).
    pub fn attached_sessions_except(&self, sender: &str) -> Vec<SessionId> {
        self.state()
            .sessions
            .iter()
            .filter(|(_, s)| s.attached() && !s.name.eq_ignore_ascii_case(sender))
            .map(|(id, _)| *id)
            .collect()
    }

    /// A completed file for the sessions allowed to fetch it: one seq, one
    /// serialisation.
    pub fn deliver_file(&self, grants: &[SessionId], tl: &TimelineEvent) {
        let replay = self.inner.config.replay;
        let mut st = self.state();
        let seq = st.next_seq();
        let text = browser::render(seq, tl);
        for id in grants {
            if let Some(session) = st.sessions.get_mut(id) {
                session.push(seq, text.clone(), replay);
            }
        }
    }

    /// A notice to several sessions.
    pub fn notice(&self, ids: &[SessionId], text: &str) {
        let msg = browser::control(&Control::Notice { text });
        let mut st = self.state();
        for id in ids {
            if let Some(session) = st.sessions.get_mut(id) {
                session.send(&msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(queue: usize) -> Hub {
        Hub::new(HubConfig {
            browser_queue: queue,
            replay: 100,
            max_sessions: 10,
        })
    }

    fn message(seq: Seq, text: &str) -> Event {
        Event {
            seq,
            ts: 1,
            event: EventBody::Message {
                from: "terry".into(),
                text: text.into(),
            },
        }
    }

    fn joined(hub: &Hub, name: &str) -> SessionId {
        let pending = hub.begin_join(name).unwrap();
        assert!(hub.on_welcome(pending.info.id, vec![], vec![], 0));
        pending.info.id
    }

    fn drain(rx: &mut mpsc::Receiver<Utf8Bytes>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(text) = rx.try_recv() {
            out.push(text.to_string());
        }
        out
    }

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

    #[test]
    fn rejoin_fills_the_gap_once() {
        let hub = hub(64);
        let id = joined(&hub, "web");
        hub.on_room_event(&message(5, "before"));
        hub.link_down();
        let list = hub.rejoin_list(true);
        assert_eq!(list, vec![(id, "web".to_string(), Some(5))]);
        // The welcome's history overlaps what was seen.
        let history = vec![message(4, "old"), message(5, "before"), message(6, "gap")];
        hub.on_welcome(id, vec![], history, 6);
        hub.on_room_event(&message(6, "gap"));
        hub.on_room_event(&message(7, "after"));
        let (_, mut rx) = hub.attach_socket(id, 0, (1, 1)).unwrap();
        let texts: Vec<String> = drain(&mut rx).into_iter().skip(1).collect();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(texts[0].contains("before"));
        assert!(texts[1].contains("gap"));
        assert!(texts[2].contains("after"));
    }
}
