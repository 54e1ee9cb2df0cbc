//! The `--json` lines: one object per [`Output`], `kind` first in meaning.

use std::io;

use protocol::{ClientKind, EventBody, Target, UserInfo};
use serde::Serialize;
use serde_json::{Value, json, ser::Formatter};

use super::{Output, kind_str, must_escape};

/// The `--json` line for `out`, as printed: [`to_json`] written compactly,
/// with every character [`must_escape`] names written as a `\u` escape.
/// serde_json escapes only C0 controls, so DEL, C1 controls (which some
/// terminals obey as escape sequences) and bidi overrides would otherwise
/// reach a consumer that prints a field as it is.
pub fn json_line(out: &Output) -> String {
    let mut line = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut line, EscapeUnsafe);
    to_json(out)
        .serialize(&mut ser)
        .expect("a Value always serialises into memory");
    String::from_utf8(line).expect("serde_json writes UTF-8")
}

/// serde_json's compact format, but escaping what [`must_escape`] names.
struct EscapeUnsafe;

impl Formatter for EscapeUnsafe {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if must_escape(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                // Every such character is in the Basic Multilingual Plane,
                // so one `\uXXXX` (no surrogate pair) is the whole escape.
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

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

/// The `--json` object for `out`, `kind` first in meaning. Text is passed
/// through exactly (parsed back, it is what was sent; [`json_line`] escapes
/// what a terminal would obey); paths are absolute.
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
    fn json_lines_escape_c1_del_and_bidi_characters() {
        let text = "invoice\u{202E}gnp.exe \u{85}\u{9B}2J\u{7F}\u{1b}[0m \u{2066}x\u{2069} 猫 👩\u{200D}💻";
        let out = Output::Event {
            event: Event {
                seq: 1,
                ts: 2,
                event: EventBody::Message {
                    from: "bob".into(),
                    text: text.into(),
                },
            },
            history: false,
        };
        let line = json_line(&out);
        assert_eq!(
            line,
            r#"{"from":"bob","kind":"message","seq":1,"text":"invoice\u202egnp.exe \u0085\u009b2J\u007f\u001b[0m \u2066x\u2069 猫 👩‍💻","ts":2}"#
        );
        assert!(!line.chars().any(must_escape), "{line:?}");
        // Parsed back, it is exactly what was sent.
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["text"], text);
    }

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
