//! The WebSocket JSON protocol between the gateway and a browser (documented in
//! `web-gateway/WEBSOCKET.md`): what the browser sends, what it receives.
//!
//! Events that belong in the timeline carry a gateway-assigned `seq`, strictly
//! increasing for the life of the gateway process (the core's own seq restarts
//! with the core, so browsers never see it). A browser keeps the largest `seq` it
//! has shown and reconnects with `/ws?since=<seq>`: it then gets exactly what it
//! missed, nothing twice.
//!
//! The translation of what the core says (`protocol::Event`, the `ServerMsg`s
//! about uploads) into what a browser sees lives here too ([`timeline`],
//! [`target_name`], [`upload_notice`]), so the hub in `sessions` only decides
//! *who* gets a message, never what it looks like.

use axum::extract::ws::Utf8Bytes;
use protocol::{ClientKind, Event, EventBody, FileKind, Millis, ServerMsg, Target, UserInfo};
use serde::{Deserialize, Serialize};

/// Something for the timeline. Serialised together with its `seq` by [`render`].
#[derive(Serialize, Debug, Clone)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// A room message. `history` marks messages from before this session joined.
    Message {
        ts: Millis,
        from: String,
        text: String,
        history: bool,
    },
    /// A private message to or from this session's user.
    Private {
        ts: Millis,
        from: String,
        to: String,
        text: String,
        history: bool,
    },
    Joined {
        ts: Millis,
        name: String,
        kind: ClientKind,
    },
    Left {
        ts: Millis,
        name: String,
    },
    /// A file or image that arrived completely and can be fetched at `url` by
    /// this session only. `to` is absent for a file sent to the whole room.
    File {
        ts: Millis,
        from: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        name: String,
        size: u64,
        kind: FileKind,
        mime: String,
        url: String,
        /// Whether the bytes are a png, jpeg, gif or webp that may be shown inline.
        inline: bool,
    },
}

/// Messages to the browser that are not part of the timeline (no `seq`, never
/// replayed).
#[derive(Serialize, Debug, Clone)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control<'a> {
    /// First message on every WebSocket: who you are, who is here, the limits.
    Hello {
        you: &'a str,
        /// Whether this session is in the room right now (false while the
        /// gateway is reconnecting to the core).
        connected: bool,
        users: &'a [UserInfo],
        max_upload: u64,
        max_message: u32,
    },
    /// The whole user list (after a reconnect, or when asked).
    Users { users: &'a [UserInfo] },
    /// The gateway's link to the core went down (`"reconnecting"`) or this
    /// session is back in the room (`"connected"`).
    Link { state: &'a str },
    /// Something the user should read: upload delivered, file kept, ….
    Notice { text: &'a str },
    /// A refusal (rate limited, message too long, no such user, …).
    Error { code: &'a str, message: &'a str },
    /// The session is over (left, expired, name lost while reconnecting); the
    /// browser should go back to the join page.
    Ended { reason: &'a str },
}

/// What a browser may send.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromBrowser {
    /// A message to the room.
    Say { text: String },
    /// A private message.
    Private { to: String, text: String },
    /// Ask for the user list again.
    Users,
}

#[derive(Serialize)]
struct Sequenced<'a> {
    seq: u64,
    #[serde(flatten)]
    event: &'a TimelineEvent,
}

/// Serialises a timeline event with its seq, once; the result is cloned (not
/// copied) to every socket that gets it.
pub fn render(seq: u64, event: &TimelineEvent) -> Utf8Bytes {
    let json = serde_json::to_string(&Sequenced { seq, event }).expect("plain data serialises");
    Utf8Bytes::from(json)
}

/// Serialises a control message.
pub fn control(msg: &Control<'_>) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::to_string(msg).expect("plain data serialises"))
}

/// The timeline form of a core event; `None` for file offers, which become
/// timeline events only once the file is complete (see `spool`). `history`
/// marks messages from before the session joined.
pub fn timeline(ev: &Event, history: bool) -> Option<TimelineEvent> {
    let ts = ev.ts;
    Some(match &ev.event {
        EventBody::Message { from, text } => TimelineEvent::Message {
            ts,
            from: from.clone(),
            text: text.clone(),
            history,
        },
        EventBody::Private { from, to, text } => TimelineEvent::Private {
            ts,
            from: from.clone(),
            to: to.clone(),
            text: text.clone(),
            history,
        },
        EventBody::Joined { user } => TimelineEvent::Joined {
            ts,
            name: user.name.clone(),
            kind: user.kind,
        },
        EventBody::Left { name } => TimelineEvent::Left {
            ts,
            name: name.clone(),
        },
        EventBody::File { .. } => return None,
    })
}

/// Who a file is for, as the browser shows it.
pub fn target_name(to: &Target) -> Option<String> {
    match to {
        Target::Room => None,
        Target::User(name) => Some(name.clone()),
    }
}

/// The notice a browser gets for the core's later word about one of its
/// uploads, the file `file`: delivered, or not. `None` for anything else
/// (`file_accepted` is answered to the uploader itself, not as a notice).
pub fn upload_notice(file: &str, msg: &ServerMsg) -> Option<String> {
    let (to, message) = match msg {
        ServerMsg::FileDelivered { to, .. } => (Some(to), ""),
        ServerMsg::FileFailed { to, message, .. } => (to.as_ref(), message.as_str()),
        _ => return None,
    };
    Some(match to {
        // A failure with no reason reads as a delivery; kept as it always was.
        Some(to) if message.is_empty() => format!("{file} was delivered to {to}"),
        to => format!(
            "{file} could not be delivered{}: {message}",
            to.map(|t| format!(" to {t}")).unwrap_or_default()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_shape() {
        let ev = TimelineEvent::Message {
            ts: 5,
            from: "bob".into(),
            text: "<b>hi</b>".into(),
            history: false,
        };
        assert_eq!(
            render(3, &ev).as_str(),
            r#"{"seq":3,"type":"message","ts":5,"from":"bob","text":"<b>hi</b>","history":false}"#
        );
    }

    #[test]
    fn upload_notices() {
        let check = |msg: ServerMsg, expected: Option<&str>| {
            assert_eq!(upload_notice("a.png", &msg).as_deref(), expected, "{msg:?}");
        };
        check(
            ServerMsg::FileDelivered {
                id: 1,
                to: "bob".into(),
            },
            Some("a.png was delivered to bob"),
        );
        let failed = |to: Option<&str>, message: &str| ServerMsg::FileFailed {
            id: 1,
            to: to.map(String::from),
            code: protocol::ErrorCode::NoSuchUser,
            message: message.into(),
        };
        check(
            failed(Some("bob"), "gone"),
            Some("a.png could not be delivered to bob: gone"),
        );
        check(
            failed(None, "gone"),
            Some("a.png could not be delivered: gone"),
        );
        check(
            ServerMsg::FileAccepted {
                id: 1,
                transfer: 2,
                recipients: vec![],
            },
            None,
        );
    }

    #[test]
    fn parses_commands() {
        let check = |json: &str, expected: Option<FromBrowser>| {
            assert_eq!(
                serde_json::from_str::<FromBrowser>(json).ok(),
                expected,
                "{json}"
            );
        };
        check(
            r#"{"type":"say","text":"hi"}"#,
            Some(FromBrowser::Say { text: "hi".into() }),
        );
        check(
            r#"{"type":"private","to":"bob","text":"x"}"#,
            Some(FromBrowser::Private {
                to: "bob".into(),
                text: "x".into(),
            }),
        );
        check(r#"{"type":"users"}"#, Some(FromBrowser::Users));
        check(r#"{"type":"say"}"#, None);
        check(r#"{"type":"quit"}"#, None);
        check(r#"{"type":"say","text":"a","from":"mallory"}"#, None);
        check("not json", None);
    }
}
