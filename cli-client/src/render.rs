//! What the client tells its user, and how: one [`Output`] per event, rendered
//! as a readable line (timestamps, a colour per user, marked private, error
//! and history lines) or as one JSON object per line (`--json`, documented in
//! README.md; keep it stable, scripts and the e2e tests parse it).

use std::path::PathBuf;

use chrono::{DateTime, Local, TimeZone};
use nu_ansi_term::{Color, Style};
use protocol::{ClientKind, Event, EventBody, FileKind, Millis, Seq, Target, UserInfo, human_size};
use serde_json::{Value, json};

/// Something to show. Events from the server keep their seq and time.
#[derive(Debug, Clone)]
pub enum Output {
    /// We are in the room (again, after a reconnect).
    Welcome {
        name: String,
        server: String,
        users: Vec<UserInfo>,
        last_seq: Seq,
        reconnect: bool,
    },
    /// A room message, private message, join or leave. `history` marks events
    /// from before we joined (sent in the welcome).
    Event { event: Event, history: bool },
    /// A file or image has started to arrive.
    FileIncoming {
        seq: Seq,
        ts: Millis,
        from: String,
        to: Target,
        name: String,
        size: u64,
        sha256: String,
        kind: FileKind,
    },
    /// A file arrived whole, matched its size and SHA-256, and is saved.
    FileReceived {
        seq: Seq,
        ts: Millis,
        from: String,
        to: Target,
        name: String,
        path: PathBuf,
        size: u64,
        sha256: String,
        kind: FileKind,
    },
    /// A file we sent reached one recipient whole.
    FileSent {
        to: String,
        /// The base name recipients saw.
        name: String,
        path: PathBuf,
        size: u64,
        sha256: String,
        kind: FileKind,
    },
    /// A transfer in either direction failed. `from` is set for incoming
    /// files, `to` for outgoing ones (absent when it failed for everyone).
    FileFailed {
        from: Option<String>,
        to: Option<String>,
        name: String,
        path: Option<PathBuf>,
        code: String,
        text: String,
    },
    /// Answer to `/users`: everyone, `me` included.
    Users { users: Vec<UserInfo>, me: String },
    /// A refusal by the server or a local error. `code` is the protocol's
    /// error code when there is one, else a local code such as `not_an_image`.
    Error { code: String, text: String },
    /// The connection is lost, or is being re-established.
    Connection { kind: ConnectionState, text: String },
    /// Help and other information for the user, one or more lines.
    Info(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    Disconnected,
    Reconnecting,
}

impl ConnectionState {
    fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Reconnecting => "reconnecting",
        }
    }
}

impl Output {
    /// Whether this is an error (also written to stderr in scripted mode).
    pub fn is_error(&self) -> bool {
        matches!(self, Output::Error { .. } | Output::FileFailed { .. })
    }
}

fn kind_str(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Image => "image",
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

/// Removes terminal control sequences and control characters from text that
/// others chose, so it cannot move the cursor, retitle the window, hide text
/// or ring bells. Escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL`
/// or `ESC \`) are dropped whole; other control characters, C1 included, are
/// dropped; newlines and tabs become spaces so one event stays one line.
pub fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, up to the final byte.
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') | Some('P') | Some('_') | Some('^') | Some('X') => {
                    // String sequences end at BEL or ST (ESC \).
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\n' | '\t' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders outputs as text lines for a person (or a plain-text script).
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    /// Colours on (a terminal, and neither NO_COLOR nor --no-color).
    pub color: bool,
}

/// Colours users are told apart by; picked by a hash of the name so a user
/// keeps their colour across lines and sessions.
const USER_COLORS: &[Color] = &[
    Color::Cyan,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::LightMagenta,
    Color::LightCyan,
    Color::LightGreen,
    Color::LightBlue,
];

impl TextStyle {
    fn paint(&self, style: Style, s: &str) -> String {
        if self.color {
            style.paint(s).to_string()
        } else {
            s.to_string()
        }
    }

    fn user(&self, name: &str) -> String {
        let name = strip_controls(name);
        let hash = name
            .to_ascii_lowercase()
            .bytes()
            .fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
        let color = USER_COLORS[hash as usize % USER_COLORS.len()];
        self.paint(color.bold(), &name)
    }

    fn time(&self, ts: Option<Millis>) -> String {
        let time: DateTime<Local> = ts
            .and_then(|ms| Local.timestamp_millis_opt(ms as i64).single())
            .unwrap_or_else(Local::now);
        self.paint(Style::new().dimmed(), &time.format("%H:%M:%S").to_string())
    }

    fn users_list(&self, users: &[UserInfo]) -> String {
        if users.is_empty() {
            return "nobody else".to_string();
        }
        users
            .iter()
            .map(|u| match u.kind {
                ClientKind::Web => format!("{} (web)", self.user(&u.name)),
                ClientKind::Terminal => self.user(&u.name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One line (help may span several) for `out`.
    pub fn render(&self, out: &Output) -> String {
        let private = Color::Magenta.bold();
        let error = Color::Red.bold();
        let notice = Style::new().dimmed();
        match out {
            Output::Welcome {
                name,
                server,
                users,
                reconnect,
                ..
            } => {
                let verb = if *reconnect { "back in" } else { "joined" };
                format!(
                    "{} {} the room at {} as {}; here: {}",
                    self.time(None),
                    verb,
                    strip_controls(server),
                    self.user(name),
                    self.users_list(users)
                )
            }
            Output::Event { event, history } => {
                let line = match &event.event {
                    EventBody::Message { from, text } => {
                        format!("<{}> {}", self.user(from), strip_controls(text))
                    }
                    EventBody::Private { from, to, text } => format!(
                        "{} {} -> {}: {}",
                        self.paint(private, "[private]"),
                        self.user(from),
                        self.user(to),
                        self.paint(Color::Magenta.normal(), &strip_controls(text))
                    ),
                    EventBody::Joined { user } => {
                        let web = if user.kind == ClientKind::Web {
                            " (web)"
                        } else {
                            ""
                        };
                        self.paint(
                            notice,
                            &format!("* {}{web} joined", strip_controls(&user.name)),
                        )
                    }
                    EventBody::Left { name } => {
                        self.paint(notice, &format!("* {} left", strip_controls(name)))
                    }
                    EventBody::File {
                        from, name, size, ..
                    } => format!(
                        "{} is sending {:?} ({})",
                        self.user(from),
                        strip_controls(name),
                        human_size(*size)
                    ),
                };
                let mark = if *history {
                    format!("{} ", self.paint(notice, "[history]"))
                } else {
                    String::new()
                };
                format!("{} {mark}{line}", self.time(Some(event.ts)))
            }
            Output::FileIncoming {
                ts,
                from,
                to,
                name,
                size,
                kind,
                ..
            } => {
                let what = kind_str(*kind);
                let privately = if matches!(to, Target::User(_)) {
                    format!("{} ", self.paint(private, "[private]"))
                } else {
                    String::new()
                };
                format!(
                    "{} {privately}{} is sending the {what} {:?} ({})",
                    self.time(Some(*ts)),
                    self.user(from),
                    strip_controls(name),
                    human_size(*size)
                )
            }
            Output::FileReceived {
                ts,
                from,
                path,
                size,
                kind,
                ..
            } => format!(
                "{} {} {} from {} saved to {} ({}, SHA-256 checked)",
                self.time(Some(*ts)),
                self.paint(Color::Green.bold(), "received"),
                kind_str(*kind),
                self.user(from),
                path.display(),
                human_size(*size)
            ),
            Output::FileSent { to, path, size, .. } => format!(
                "{} {} {} ({}) to {}",
                self.time(None),
                self.paint(Color::Green.bold(), "delivered"),
                path.display(),
                human_size(*size),
                self.user(to)
            ),
            Output::FileFailed {
                from,
                to,
                name,
                text,
                ..
            } => {
                let who = match (from, to) {
                    (Some(f), _) => format!(" from {}", self.user(f)),
                    (None, Some(t)) => format!(" to {}", self.user(t)),
                    (None, None) => String::new(),
                };
                format!(
                    "{} {} {:?}{who}: {}",
                    self.time(None),
                    self.paint(error, "transfer failed:"),
                    strip_controls(name),
                    strip_controls(text)
                )
            }
            Output::Users { users, me } => {
                let list = users
                    .iter()
                    .map(|u| {
                        let mut entry = self.user(&u.name);
                        if u.kind == ClientKind::Web {
                            entry.push_str(" (web)");
                        }
                        if u.name.eq_ignore_ascii_case(me) {
                            entry.push_str(" (you)");
                        }
                        entry
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("{} here ({}): {list}", self.time(None), users.len())
            }
            Output::Error { text, .. } => format!(
                "{} {} {}",
                self.time(None),
                self.paint(error, "error:"),
                strip_controls(text)
            ),
            Output::Connection { text, .. } => format!(
                "{} {}",
                self.time(None),
                self.paint(Color::Yellow.bold(), text)
            ),
            Output::Info(text) => text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_stripped() {
        let check = |input: &str, expected: &str| {
            assert_eq!(strip_controls(input), expected, "stripping {input:?}");
        };
        check("plain text", "plain text");
        check("\u{1b}[31mred\u{1b}[0m", "red");
        check("\u{1b}[2J\u{1b}[Hwiped", "wiped");
        check("\u{1b}]0;new title\u{7}after", "after");
        check("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link");
        check("bell\u{7}s\u{8}", "bells");
        check("two\nlines\r\n", "two lines  ");
        check("c1\u{9b}31mcsi", "c131mcsi");
        check("ünï 猫 🐈", "ünï 猫 🐈");
        check("trailing escape\u{1b}", "trailing escape");
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

    #[test]
    fn text_lines_without_colour_are_plain() {
        let style = TextStyle { color: false };
        let line = style.render(&Output::Event {
            event: Event {
                seq: 1,
                ts: 0,
                event: EventBody::Private {
                    from: "a".into(),
                    to: "b".into(),
                    text: "\u{1b}[2Jsecret".into(),
                },
            },
            history: false,
        });
        assert!(line.ends_with("[private] a -> b: secret"), "{line}");
        assert!(!line.contains('\u{1b}'));
    }
}
