//! What the client tells its user: one [`Output`] per event, rendered as a
//! readable line (`text.rs`: timestamps, a colour per user, marked private,
//! error and history lines) or as one JSON object per line (`json.rs`,
//! `--json`, documented in README.md; keep it stable, scripts and the e2e
//! tests parse it). `controls.rs` makes text others chose safe and honest to
//! print: control and bidi characters are shown as `<U+202E>`, and `--json`
//! escapes them as `\u202e`.

mod controls;
mod json;
mod text;

use std::path::PathBuf;

use protocol::{Event, FileKind, Millis, Seq, Target, UserInfo};

pub use controls::{must_escape, show_controls};
pub use json::json_line;
pub use text::TextStyle;

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
