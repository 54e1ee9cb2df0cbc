//! The sessions' life across the core link going down and coming back: the
//! welcome that attaches a session (first join or re-attach), failing pending
//! joins when the link drops, the list of sessions to re-attach (and the
//! `since` to ask for), and the retry policy for a re-attach refused with
//! `name_taken`.
//!
//! Why retry: the core frees the names of a link that vanished silently only
//! after its ping timeout, so right after a reconnect our own old link may
//! still hold them. A different refusal, or one after [`REJOIN_PATIENCE`],
//! ends the session.

use std::time::{Duration, Instant};

use protocol::{ClientKind, ErrorCode, Event, Seq, SessionId, UserInfo};

use super::{
    State,
    registry::{JoinError, Phase},
};
use crate::browser::{self, Control};

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
    /// The name to take back.
    pub name: String,
    /// The last core seq the session saw, if any: the `since` of the join.
    pub since: Option<Seq>,
    /// How long to wait first (doubles with each refusal, up to 2 s).
    pub delay: Duration,
    /// The browser's address, for the join's `addr`.
    pub addr: Option<String>,
}

/// A session to re-attach on a new link connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejoin {
    pub id: SessionId,
    pub name: String,
    /// The `since` of the join (none after a core restart).
    pub since: Option<Seq>,
    /// The browser's address, for the join's `addr`.
    pub addr: Option<String>,
}

/// The link dropped: pending joins fail, attached sessions wait to be
/// re-attached and their browsers are told, upload waiters give up.
pub(super) fn link_down(st: &mut State) {
    let text = browser::control(&Control::Link {
        state: "reconnecting",
    });
    let joining: Vec<SessionId> = st
        .sessions
        .iter()
        .filter(|(_, s)| s.joining())
        .map(|(id, _)| id)
        .collect();
    for id in joining {
        if let Some(session) = st.sessions.remove(id)
            && let Phase::Joining(tx) = session.phase
        {
            let _ = tx.send(Err(JoinError::LinkDown));
        }
    }
    for (_, session) in st.sessions.iter_mut() {
        if session.attached() {
            session.phase = Phase::Rejoining {
                started: None,
                attempts: 0,
            };
            session.send(&text);
        }
        session.uploads.abandon_waiters();
    }
}

/// The link is back: every session waiting to be re-attached, with the
/// `since` to ask for; their retry clocks start now. A new core instance
/// restarted its seqs, so nothing can be asked `since`.
pub(super) fn rejoin_list(st: &mut State, same_instance: bool) -> Vec<Rejoin> {
    st.sessions
        .iter_mut()
        .filter_map(|(id, s)| {
            let Phase::Rejoining { started, attempts } = &mut s.phase else {
                return None;
            };
            if !same_instance {
                s.last_core_seq = 0;
            }
            *started = Some(Instant::now());
            *attempts = 0;
            let since = same_instance.then_some(s.last_core_seq);
            Some(Rejoin {
                id,
                name: s.name.clone(),
                since,
                addr: s.addr.clone(),
            })
        })
        .collect()
}

/// A welcome for a session; see [`super::Hub::on_welcome`].
pub(super) fn on_welcome(
    st: &mut State,
    replay: usize,
    id: SessionId,
    users: Vec<UserInfo>,
    history: Vec<Event>,
    last_seq: Seq,
) -> bool {
    let Some(session) = st.sessions.get(id) else {
        return false;
    };
    // History from the first join is "before you came"; history after a
    // re-attach is what this user missed while the link was down.
    let (name, first, since) = (
        session.name.clone(),
        session.joining(),
        session.last_core_seq,
    );
    st.users.set(users);
    st.users.add(UserInfo {
        name,
        kind: ClientKind::Web,
    });
    let mut rendered = Vec::new();
    for ev in history.iter().filter(|ev| ev.seq > since) {
        if let Some(tl) = browser::timeline(ev, first) {
            let seq = st.timeline.next_seq();
            rendered.push((seq, browser::render(seq, &tl)));
        }
    }
    let users_text = browser::control(&Control::Users {
        users: st.users.as_slice(),
    });
    let session = st.sessions.get_mut(id).expect("checked above");
    for (seq, text) in rendered {
        session.push(seq, text, replay);
    }
    session.last_core_seq = session.last_core_seq.max(last_seq);
    match std::mem::replace(&mut session.phase, Phase::Attached) {
        Phase::Joining(tx) => {
            if tx.send(Ok(())).is_err() {
                // The join page gave up waiting; nobody holds the cookie.
                st.sessions.remove(id);
                return false;
            }
        }
        Phase::Rejoining { .. } | Phase::Attached => {
            session.send(&browser::control(&Control::Link { state: "connected" }));
            session.send(&users_text);
        }
    }
    true
}

/// An error for a session; see [`super::Hub::on_session_error`].
pub(super) fn on_session_error(
    st: &mut State,
    id: SessionId,
    code: ErrorCode,
    message: &str,
) -> Option<RetryJoin> {
    let session = st.sessions.get_mut(id)?;
    if let Phase::Rejoining { started, attempts } = &mut session.phase
        && code == ErrorCode::NameTaken
        && started.is_some_and(|t| t.elapsed() < REJOIN_PATIENCE)
    {
        *attempts += 1;
        let attempts = *attempts;
        let name = session.name.clone();
        let since = Some(session.last_core_seq).filter(|s| *s > 0);
        st.rejoin_retries += 1;
        let delay = REJOIN_FIRST_DELAY
            .saturating_mul(1 << attempts.min(8))
            .min(REJOIN_MAX_DELAY);
        return Some(RetryJoin {
            name,
            since,
            delay,
            addr: session.addr.clone(),
        });
    }
    let refused = matches!(code, ErrorCode::NameTaken | ErrorCode::NameInvalid);
    match session.phase {
        Phase::Joining(_) => {
            if let Some(session) = st.sessions.remove(id)
                && let Phase::Joining(tx) = session.phase
            {
                let _ = tx.send(Err(JoinError::Refused {
                    code,
                    message: message.to_string(),
                }));
            }
        }
        Phase::Rejoining { .. } if refused => {
            let mut session = st.sessions.remove(id).expect("present");
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

#[cfg(test)]
mod tests {
    use protocol::ErrorCode;

    use super::super::testing::{drain, hub, joined, message};

    #[test]
    fn rejoin_fills_the_gap_once() {
        let hub = hub(64);
        let id = joined(&hub, "web");
        hub.on_room_event(&message(5, "before"));
        hub.link_down();
        let list = hub.rejoin_list(true);
        let names: Vec<_> = list
            .iter()
            .map(|r| (r.id, r.name.as_str(), r.since))
            .collect();
        assert_eq!(names, vec![(id, "web", Some(5))]);
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

    #[test]
    fn a_re_attach_refused_with_name_taken_is_retried_ever_more_slowly() {
        let hub = hub(64);
        let id = joined(&hub, "web");
        hub.on_room_event(&message(3, "seen"));
        hub.link_down();
        hub.rejoin_list(true);
        let retry = |hub: &super::super::Hub| {
            hub.on_session_error(id, ErrorCode::NameTaken, "taken")
                .unwrap()
        };
        let first = retry(&hub);
        assert_eq!((first.name.as_str(), first.since), ("web", Some(3)));
        let second = retry(&hub);
        assert!(second.delay > first.delay, "{first:?} {second:?}");
        assert_eq!(hub.rejoin_retries(), 2);
        // Any other refusal ends the session.
        assert!(
            hub.on_session_error(id, ErrorCode::NameInvalid, "no")
                .is_none()
        );
        assert_eq!(hub.session_count(), 0);
    }

    #[test]
    fn an_error_for_an_attached_session_is_shown_to_its_browsers() {
        let hub = hub(64);
        let id = joined(&hub, "web");
        let (_, mut rx) = hub.attach_socket(id, 0, (1, 1)).unwrap();
        drain(&mut rx);
        assert!(
            hub.on_session_error(id, ErrorCode::NameTaken, "taken")
                .is_none()
        );
        let got = drain(&mut rx);
        assert_eq!(got.len(), 1);
        assert!(got[0].contains(r#""type":"error""#) && got[0].contains("name_taken"));
        assert_eq!(hub.session_count(), 1);
    }
}
