//! The `--json` lines: one object per [`Output`], `kind` first in meaning.

use protocol::{ClientKind, EventBody, Target, UserInfo};
use serde_json::{Value, json};

use super::{Output, kind_str};

fn client_kind_str(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Terminal => "terminal",
        ClientKind::Web => "web",
    }
}

fn target_str(to: &Target) -> &str {
    match to {
        Target::Room => "all",
        Target::User(u) => u,
    }
}

fn users_json(users: &[UserInfo]) -> Value {
    users
        .iter()
        .map(|u| json!({"name": u.name, "kind": client_kind_str(u.kind)}))
        .collect()
}

/// The `--json` line for `out`: one object, `kind` first in meaning. Text is
/// passed through exactly (JSON escaping makes it safe); paths are absolute.
pub fn to_json(out: &Output) -> Value {
    match out {
        Output::Welcome {
            name,
            server,
            users,
            last_seq,
            reconnect,
        } => json!({
            "kind": "welcome", "name": name, "server": server, "users": users_json(users),
            "last_seq": last_seq, "reconnect": reconnect,
        }),
        Output::Event { event, history } => {
            let mut v = match &event.event {
                EventBody::Message { from, text } => {
                    json!({"kind": "message", "from": from, "text": text})
                }
                EventBody::Private { from, to, text } => {
                    json!({"kind": "private", "from": from, "to": to, "text": text})
                }
                EventBody::Joined { user } => json!({
                    "kind": "joined", "from": user.name, "user_kind": client_kind_str(user.kind),
                }),
                EventBody::Left { name } => json!({"kind": "left", "from": name}),
                EventBody::File {
                    from,
                    to,
                    name,
                    size,
                    sha256,
                    kind,
                    ..
                } => json!({
                    "kind": "file_incoming", "from": from, "to": target_str(to), "name": name,
                    "size": size, "sha256": sha256, "file_kind": kind_str(*kind),
                }),
            };
            if *history {
                // History lines keep what they were in `event`.
                v["event"] = v["kind"].clone();
                v["kind"] = json!("history");
            }
            v["seq"] = json!(event.seq);
            v["ts"] = json!(event.ts);
            v
        }
        Output::FileIncoming {
            seq,
            ts,
            from,
            to,
            name,
            size,
            sha256,
            kind,
        } => json!({
            "kind": "file_incoming", "from": from, "to": target_str(to), "name": name, "size": size,
            "sha256": sha256, "file_kind": kind_str(*kind), "seq": seq, "ts": ts,
        }),
        Output::FileReceived {
            seq,
            ts,
            from,
            to,
            name,
            path,
            size,
            sha256,
            kind,
        } => json!({
            "kind": "file_received", "from": from, "to": target_str(to), "name": name,
            "path": path, "size": size, "sha256": sha256, "file_kind": kind_str(*kind),
            "seq": seq, "ts": ts,
        }),
        Output::FileSent {
            to,
            name,
            path,
            size,
            sha256,
            kind,
        } => json!({
            "kind": "file_sent", "to": to, "name": name, "path": path, "size": size, "sha256": sha256,
            "file_kind": kind_str(*kind),
        }),
        Output::FileFailed {
            from,
            to,
            name,
            path,
            code,
            text,
        } => {
            let mut v = json!({"kind": "file_failed", "name": name, "code": code, "text": text});
            if let Some(from) = from {
                v["from"] = json!(from);
            }
            if let Some(to) = to {
                v["to"] = json!(to);
            }
            if let Some(path) = path {
                v["path"] = json!(path);
            }
            v
        }
        Output::Users { users, .. } => json!({"kind": "users", "users": users_json(users)}),
        Output::Error { code, text } => json!({"kind": "error", "code": code, "text": text}),
        Output::Connection { kind, text } => json!({"kind": kind.as_str(), "text": text}),
        Output::Info(text) => json!({"kind": "info", "text": text}),
    }
}

#[cfg(test)]
mod tests {
    use protocol::Event;

    use super::*;

    #[test]
    fn history_json_keeps_the_original_kind() {
        let event = Event {
            seq: 3,
            ts: 9,
            event: EventBody::Message {
                from: "bob".into(),
                text: "hi".into(),
            },
        };
        let live = to_json(&Output::Event {
            event: event.clone(),
            history: false,
        });
        assert_eq!(
            live,
            json!({"kind": "message", "from": "bob", "text": "hi", "seq": 3, "ts": 9})
        );
        let old = to_json(&Output::Event {
            event,
            history: true,
        });
        assert_eq!(
            old,
            json!({"kind": "history", "event": "message", "from": "bob", "text": "hi", "seq": 3, "ts": 9})
        );
    }
}
