//! The session table: who is behind which cookie, where each session stands
//! with the core ([`Phase`]), idle expiry, the one-shot flash notice for the
//! next page render, and the mirror of the room's user list.
//!
//! A [`Session`] is assembled from the parts other modules own: its sockets
//! and replay ring ([`Outbox`], `outbox.rs`) and its uploads in flight
//! ([`Uploads`], `uploads.rs`). This module only creates, finds and removes
//! sessions; what happens to them on core events is `fanout.rs` and
//! `rejoin.rs`.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use protocol::{ErrorCode, Seq, SessionId, UserInfo};
use tokio::sync::oneshot;

use super::{outbox::Outbox, uploads::Uploads};
use crate::browser::{self, Control};

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

/// A random 128-bit token, hex encoded (session cookies, CSRF tokens, file URLs).
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Where a session stands with the core.
pub(super) enum Phase {
    /// `join` sent, waiting for welcome or error; the handler waits on this.
    Joining(oneshot::Sender<Result<(), JoinError>>),
    /// In the room.
    Attached,
    /// The link dropped; the session will be re-attached when it is back.
    /// The retry bookkeeping of `rejoin.rs` lives here because it means
    /// nothing in the other phases.
    Rejoining {
        /// When re-attaching began (set by `rejoin_list`); retries of a
        /// refused re-attach stop after `REJOIN_PATIENCE`.
        started: Option<Instant>,
        /// Re-attaches refused so far (the retry delay doubles with each).
        attempts: u32,
    },
}

pub(super) struct Session {
    /// The user's name in the room (also used to re-attach it).
    pub(super) name: String,
    /// The session cookie's value (to unregister it from `by_cookie`).
    cookie: String,
    /// The token forms must echo back.
    csrf: String,
    /// Where it stands with the core.
    pub(super) phase: Phase,
    /// Largest core seq this session has seen: re-attaching asks the core for
    /// what came after it, and anything not newer is a duplicate.
    pub(super) last_core_seq: Seq,
    /// Its browser sockets and recent timeline.
    pub(super) outbox: Outbox,
    /// Since when the session has had no socket and no request (idle expiry).
    pub(super) idle_since: Option<Instant>,
    /// A one-shot notice for the next page render (the upload form without JS).
    flash: Option<String>,
    /// Its uploads in flight.
    pub(super) uploads: Uploads,
    /// The browser's address when it joined: the core's per-address limits
    /// see it on every join and re-attach (`join.addr`).
    pub(super) addr: Option<String>,
}

impl Session {
    pub(super) fn attached(&self) -> bool {
        matches!(self.phase, Phase::Attached)
    }

    pub(super) fn joining(&self) -> bool {
        matches!(self.phase, Phase::Joining(_))
    }

    /// Appends to the timeline and queues to every socket; drops slow sockets.
    pub(super) fn push(&mut self, seq: u64, text: Utf8Bytes, replay: usize) {
        self.outbox.push(&self.name, seq, text, replay);
    }

    /// Queues a message to every socket (not kept for replay).
    pub(super) fn send(&mut self, text: &Utf8Bytes) {
        self.outbox.send(&self.name, text);
    }

    /// Tells the sockets the session is over and lets them go.
    pub(super) fn end(&mut self, reason: &str) {
        self.send(&browser::control(&Control::Ended { reason }));
        self.outbox.close_all();
    }
}

/// Every session, by id and by cookie.
#[derive(Default)]
pub(super) struct Registry {
    /// The sessions, by the id the link frames carry.
    sessions: HashMap<SessionId, Session>,
    /// The session behind each cookie value (every request and socket).
    by_cookie: HashMap<String, SessionId>,
    /// Last session id handed out; ids are never reused.
    last_session: SessionId,
}

impl Registry {
    /// Creates a session in the `Joining` phase, unless `max` are open.
    pub(super) fn begin_join(
        &mut self,
        name: &str,
        addr: Option<String>,
        max: usize,
    ) -> Result<PendingJoin, JoinError> {
        if self.sessions.len() >= max {
            return Err(JoinError::Full);
        }
        self.last_session = self.last_session.checked_add(1).unwrap_or(1);
        let id = self.last_session;
        let (tx, rx) = oneshot::channel();
        let cookie = random_token();
        let csrf = random_token();
        self.by_cookie.insert(cookie.clone(), id);
        self.sessions.insert(
            id,
            Session {
                name: name.to_string(),
                cookie: cookie.clone(),
                csrf: csrf.clone(),
                phase: Phase::Joining(tx),
                last_core_seq: 0,
                outbox: Outbox::default(),
                idle_since: Some(Instant::now()),
                flash: None,
                uploads: Uploads::default(),
                addr,
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

    /// The session behind a cookie, unless it is still joining. Counts as
    /// activity for idle expiry.
    pub(super) fn lookup(&mut self, cookie: &str) -> Option<SessionInfo> {
        let id = *self.by_cookie.get(cookie)?;
        let session = self.sessions.get_mut(&id)?;
        if session.joining() {
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

    pub(super) fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub(super) fn get_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut(&id)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (SessionId, &Session)> {
        self.sessions.iter().map(|(id, s)| (*id, s))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (SessionId, &mut Session)> {
        self.sessions.iter_mut().map(|(id, s)| (*id, s))
    }

    pub(super) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Unregisters a session and its cookie; the caller decides how it ends.
    pub(super) fn remove(&mut self, id: SessionId) -> Option<Session> {
        let session = self.sessions.remove(&id)?;
        self.by_cookie.remove(&session.cookie);
        Some(session)
    }

    /// Ends a session. Returns whether the core knows it (and so must be
    /// told `quit`).
    pub(super) fn end(&mut self, id: SessionId, reason: &str) -> Option<bool> {
        let mut session = self.remove(id)?;
        session.end(reason);
        Some(session.attached())
    }

    /// Ends the sessions idle (no socket, no request) for `grace` or longer.
    /// Returns those the core must be told about.
    pub(super) fn expire_idle(&mut self, grace: Duration) -> Vec<SessionId> {
        let now = Instant::now();
        let expired: Vec<SessionId> = self
            .iter()
            .filter(|(_, s)| {
                !s.joining() && s.idle_since.is_some_and(|t| now.duration_since(t) >= grace)
            })
            .map(|(id, _)| id)
            .collect();
        let mut attached = Vec::new();
        for id in expired {
            if let Some(mut session) = self.remove(id) {
                tracing::info!(user = %session.name, "web session expired");
                session.end("session expired");
                if session.attached() {
                    attached.push(id);
                }
            }
        }
        attached
    }

    pub(super) fn set_flash(&mut self, id: SessionId, text: String) {
        if let Some(session) = self.get_mut(id) {
            session.flash = Some(text);
        }
    }

    pub(super) fn take_flash(&mut self, id: SessionId) -> Option<String> {
        self.get_mut(id)?.flash.take()
    }

    pub(super) fn is_attached(&self, id: SessionId) -> bool {
        self.get(id).is_some_and(Session::attached)
    }

    /// Sessions in the room now, except the one named `sender`.
    pub(super) fn attached_except(&self, sender: &str) -> Vec<SessionId> {
        self.iter()
            .filter(|(_, s)| s.attached() && !s.name.eq_ignore_ascii_case(sender))
            .map(|(id, _)| id)
            .collect()
    }
}

/// Everyone in the room as the core last told us, sorted by name (ASCII
/// case-insensitively, as the core compares names).
#[derive(Default)]
pub(super) struct UserList {
    /// Sorted, so lookups are a binary search and the hello lists names in order.
    users: Vec<UserInfo>,
}

impl UserList {
    pub(super) fn as_slice(&self) -> &[UserInfo] {
        &self.users
    }

    /// Adds a user unless one of that name is there.
    pub(super) fn add(&mut self, user: UserInfo) {
        if let Err(at) = self.find(&user.name) {
            self.users.insert(at, user);
        }
    }

    pub(super) fn remove(&mut self, name: &str) {
        if let Ok(at) = self.find(name) {
            self.users.remove(at);
        }
    }

    /// Replaces the whole list.
    pub(super) fn set(&mut self, users: Vec<UserInfo>) {
        self.users.clear();
        for user in users {
            self.add(user);
        }
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        let key = name.to_ascii_lowercase();
        self.users
            .binary_search_by(|u| u.name.to_ascii_lowercase().cmp(&key))
    }
}

#[cfg(test)]
mod tests {
    use protocol::ClientKind;

    use super::*;

    #[test]
    fn the_user_list_is_sorted_and_names_are_unique_ignoring_case() {
        let user = |name: &str| UserInfo {
            name: name.into(),
            kind: ClientKind::Web,
        };
        let mut list = UserList::default();
        list.set(vec![
            user("carol"),
            user("Alice"),
            user("bob"),
            user("ALICE"),
        ]);
        list.add(user("Bob"));
        list.remove("CAROL");
        let names: Vec<&str> = list.as_slice().iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["Alice", "bob"]);
    }

    #[test]
    fn a_joining_session_is_neither_found_nor_expired() {
        let mut registry = Registry::default();
        let pending = registry.begin_join("web", None, 1).unwrap();
        assert!(matches!(
            registry.begin_join("more", None, 1),
            Err(JoinError::Full)
        ));
        assert!(registry.lookup(&pending.cookie).is_none());
        assert!(registry.expire_idle(Duration::ZERO).is_empty());
        assert_eq!(registry.len(), 1);
        registry.get_mut(pending.info.id).unwrap().phase = Phase::Attached;
        let found = registry.lookup(&pending.cookie).unwrap();
        assert_eq!((found.id, found.name), (pending.info.id, "web".into()));
        assert_eq!(registry.expire_idle(Duration::ZERO), [pending.info.id]);
        assert!(registry.lookup(&pending.cookie).is_none());
    }
}
