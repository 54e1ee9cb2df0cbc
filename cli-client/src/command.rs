//! What a typed line means: plain text for the room, or a `/command`.
//!
//! Parsing is pure (no I/O) so it is tested data-driven below; the session
//! decides what to do with a [`Command`].

use std::path::PathBuf;

use protocol::FileKind;

/// Every command: name, arguments, what it does; in the order `/help` lists
/// them. Tab completion offers these names.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "/private",
        "<user> <message>",
        "private message (also /msg, /w)",
    ),
    ("/msg", "<user> <message>", "same as /private"),
    ("/w", "<user> <message>", "same as /private"),
    (
        "/sendfile",
        "<user|all> <path>",
        "send a file to one user or everyone",
    ),
    (
        "/sendimage",
        "<user|all> <path>",
        "send an image (png, jpeg, gif, webp)",
    ),
    ("/users", "", "who is here (web users are marked)"),
    ("/help", "", "this list"),
    ("/quit", "", "leave (also Ctrl-D)"),
];

/// The `/help` text.
pub fn help() -> String {
    let usage = |name: &str, args: &str| format!("{name} {args}").trim_end().to_string();
    let width = COMMANDS
        .iter()
        .map(|(n, a, _)| usage(n, a).len())
        .max()
        .unwrap_or(0);
    let mut text = String::from("Type a message to talk to the room. Commands:");
    for (name, args, what) in COMMANDS {
        text.push_str(&format!("\n  {:width$}  {what}", usage(name, args)));
    }
    text.push_str(&format!(
        "\n  {:width$}  send text that starts with /",
        "//text"
    ));
    text
}

/// Who a file goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// Everyone in the room but you (`all`).
    All,
    User(String),
}

/// One parsed input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Text for the room.
    Say(String),
    Private {
        to: String,
        text: String,
    },
    SendFile {
        to: Recipient,
        path: PathBuf,
        kind: FileKind,
    },
    Users,
    Help,
    Quit,
}

/// Why a line is not a command we can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "unknown command {0}; type /help for the list (start a message with // to send a leading /)"
    )]
    Unknown(String),
    #[error("usage: {0}")]
    Usage(&'static str),
}

/// Parses one input line. A blank line is `Ok(None)`: nothing to do.
///
/// A line starting with `//` is room text starting with `/` (the escape), so
/// no text is ever lost to command parsing; any other line starting with `/`
/// is a command, and an unknown one is an error, never sent as text.
pub fn parse(line: &str) -> Result<Option<Command>, ParseError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Ok(None);
    }
    if let Some(escaped) = line.strip_prefix("//") {
        return Ok(Some(Command::Say(format!("/{escaped}"))));
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Some(Command::Say(line.to_string())));
    };
    // The command name starts right after the `/`: "/ hi" is not "/hi".
    let (name, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let command = match name.to_ascii_lowercase().as_str() {
        "private" | "msg" | "w" => {
            let (to, text) = split_word(args);
            if to.is_empty() || text.trim().is_empty() {
                return Err(ParseError::Usage("/private <user> <message>"));
            }
            Command::Private {
                to: to.to_string(),
                text: text.to_string(),
            }
        }
        "sendfile" => send_file(args, FileKind::File, "/sendfile <user|all> <path>")?,
        "sendimage" => send_file(args, FileKind::Image, "/sendimage <user|all> <path>")?,
        "users" | "who" => Command::Users,
        "help" | "?" => Command::Help,
        "quit" | "exit" => Command::Quit,
        _ => return Err(ParseError::Unknown(format!("/{name}"))),
    };
    Ok(Some(command))
}

fn send_file(args: &str, kind: FileKind, usage: &'static str) -> Result<Command, ParseError> {
    let (to, path) = split_word(args);
    let path = unquote(path.trim());
    if to.is_empty() || path.is_empty() {
        return Err(ParseError::Usage(usage));
    }
    let to = if to.eq_ignore_ascii_case("all") {
        Recipient::All
    } else {
        Recipient::User(to.to_string())
    };
    Ok(Command::SendFile {
        to,
        path: PathBuf::from(path),
        kind,
    })
}

/// Splits off the first whitespace-separated word; the rest keeps its inner
/// spacing (a message or a path may contain spaces) but loses leading spaces.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// A path may be quoted (as a shell user would) to keep its spaces visible.
fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Result<Option<Command>, ParseError>) {
        assert_eq!(parse(line), expected, "parsing {line:?}");
    }

    fn say(s: &str) -> Result<Option<Command>, ParseError> {
        Ok(Some(Command::Say(s.into())))
    }

    fn private(to: &str, text: &str) -> Result<Option<Command>, ParseError> {
        Ok(Some(Command::Private {
            to: to.into(),
            text: text.into(),
        }))
    }

    fn file(to: Recipient, path: &str, kind: FileKind) -> Result<Option<Command>, ParseError> {
        Ok(Some(Command::SendFile {
            to,
            path: path.into(),
            kind,
        }))
    }

    #[test]
    fn plain_text_and_blank_lines() {
        check("hello there", say("hello there"));
        check("  spaced  ", say("  spaced  "));
        check("hi\r\n", say("hi"));
        check("", Ok(None));
        check("   \t", Ok(None));
        check("//not a command", say("/not a command"));
        check("a /private b c", say("a /private b c"));
    }

    #[test]
    fn private_and_aliases() {
        check("/private bob hi there", private("bob", "hi there"));
        check("/msg bob  two  spaces", private("bob", "two  spaces"));
        check("/w bob x", private("bob", "x"));
        check("/PRIVATE bob x", private("bob", "x"));
        check(
            "/private bob",
            Err(ParseError::Usage("/private <user> <message>")),
        );
        check(
            "/private bob   ",
            Err(ParseError::Usage("/private <user> <message>")),
        );
        check(
            "/private",
            Err(ParseError::Usage("/private <user> <message>")),
        );
    }

    #[test]
    fn files() {
        let user = |u: &str| Recipient::User(u.into());
        check(
            "/sendfile bob a.txt",
            file(user("bob"), "a.txt", FileKind::File),
        );
        check(
            "/sendfile all /tmp/x y.bin",
            file(Recipient::All, "/tmp/x y.bin", FileKind::File),
        );
        check("/sendfile ALL x", file(Recipient::All, "x", FileKind::File));
        check(
            "/sendimage bob \"my cat.png\"",
            file(user("bob"), "my cat.png", FileKind::Image),
        );
        check(
            "/sendimage bob 'c.png'",
            file(user("bob"), "c.png", FileKind::Image),
        );
        check(
            "/sendfile bob",
            Err(ParseError::Usage("/sendfile <user|all> <path>")),
        );
        check(
            "/sendimage",
            Err(ParseError::Usage("/sendimage <user|all> <path>")),
        );
    }

    #[test]
    fn other_commands_and_unknown_ones() {
        check("/users", Ok(Some(Command::Users)));
        check("/help", Ok(Some(Command::Help)));
        check("/quit", Ok(Some(Command::Quit)));
        check("/quit now", Ok(Some(Command::Quit)));
        check("/nick bob", Err(ParseError::Unknown("/nick".into())));
        check("/", Err(ParseError::Unknown("/".into())));
        check("/ hello", Err(ParseError::Unknown("/".into())));
    }
}
