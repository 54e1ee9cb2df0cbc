//! Readable lines for a person (or a plain-text script): timestamps, a
//! colour per user, private, error and history lines marked.

use chrono::{DateTime, Local, TimeZone};
use nu_ansi_term::{Color, Style};
use protocol::{ClientKind, EventBody, Millis, Target, UserInfo, human_size};

use super::{Output, kind_str, show_controls};

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
        let name = show_controls(name);
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
                    show_controls(server),
                    self.user(name),
                    self.users_list(users)
                )
            }
            Output::Event { event, history } => {
                let line = match &event.event {
                    EventBody::Message { from, text } => {
                        format!("<{}> {}", self.user(from), show_controls(text))
                    }
                    EventBody::Private { from, to, text } => format!(
                        "{} {} -> {}: {}",
                        self.paint(private, "[private]"),
                        self.user(from),
                        self.user(to),
                        self.paint(Color::Magenta.normal(), &show_controls(text))
                    ),
                    EventBody::Joined { user } => {
                        let web = if user.kind == ClientKind::Web {
                            " (web)"
                        } else {
                            ""
                        };
                        self.paint(
                            notice,
                            &format!("* {}{web} joined", show_controls(&user.name)),
                        )
                    }
                    EventBody::Left { name } => {
                        self.paint(notice, &format!("* {} left", show_controls(name)))
                    }
                    EventBody::File {
                        from, name, size, ..
                    } => format!(
                        "{} is sending {:?} ({})",
                        self.user(from),
                        show_controls(name),
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
                    show_controls(name),
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
                    show_controls(name),
                    show_controls(text)
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
                show_controls(text)
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
    use protocol::Event;

    use super::*;

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
        assert!(
            line.ends_with("[private] a -> b: <U+001B>[2Jsecret"),
            "{line}"
        );
        assert!(!line.contains('\u{1b}'));
    }
}
