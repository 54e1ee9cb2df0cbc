//! The messages of the native protocol as they are in memory. `codec.rs` turns
//! them into bytes.
//!
//! Every frame carries a JSON header (one of the enums below, tagged by
//! `"type"`) and an optional raw payload (file chunks only). See `PROTOCOL.md`.

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// Version named in the hello/welcome handshake. Bumped on incompatible change.
pub const PROTOCOL_VERSION: u32 = 2;

/// Which attached user a frame on a gateway link belongs to. `0` means the
/// connection itself: every frame on a direct (terminal) connection, and room
/// broadcasts on a gateway link, which cross the link once for all sessions.
pub type SessionId = u32;

/// The session id of frames that are not about one attached session.
pub const LINK_SESSION: SessionId = 0;

/// Server-assigned, strictly increasing id of a room or private event.
pub type Seq = u64;

/// Milliseconds since the Unix epoch, stamped by the server.
pub type Millis = u64;

/// Size of the file chunks clients send (the server accepts any size that fits
/// in a frame; this is what well-behaved clients use).
pub const CHUNK_SIZE: usize = 64 * 1024;

/// The default per-transfer credit window (`limits.file_window`): bytes a
/// sender may send, and the server may send a recipient, before credit comes
/// back. At least [`CHUNK_SIZE`].
pub const DEFAULT_FILE_WINDOW: u64 = 256 * 1024;

/// Largest frame body the server accepts before a login (a direct client's
/// welcome, a gateway link's accepted hello): enough for a hello with the
/// longest client string and gateway token and a join with the longest name,
/// even fully JSON-escaped; far too small to make a stranger worth holding.
pub const PRE_LOGIN_MAX_FRAME: usize = 4096;

/// Longest `client` string a hello may carry, in bytes (it is only for logs).
pub const MAX_CLIENT_LEN: usize = 100;

/// Longest gateway token a server may be configured with, in bytes, so a
/// hello carrying it fits in [`PRE_LOGIN_MAX_FRAME`].
pub const MAX_TOKEN_LEN: usize = 256;

/// Shortest gateway token a server accepts as configuration, in bytes: a
/// shorter one could be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

/// Who a file (or in future, anything addressable) is for.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Everyone in the room (the sender excluded).
    Room,
    /// One user, by name (case-insensitive).
    User(String),
}

/// Whether a transfer is a plain file or an image. An image must really be one
/// (see [`sniff_image`]); the server refuses it otherwise.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    Image,
}

/// Where a user is connected from. The user list shows it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// A direct TCP connection (the terminal client, or any native client).
    Terminal,
    /// A session attached through a gateway link (a browser user).
    Web,
}

/// One member of the room.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserInfo {
    /// The name as the user spelled it (unique case-insensitively).
    pub name: String,
    /// Terminal or web, so clients can show where someone is.
    pub kind: ClientKind,
}

/// A frame sent by a client (terminal client, gateway) to the server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First frame on every connection. A gateway presents its token here.
    Hello {
        protocol: u32,
        /// Free-form client name and version, for logs.
        client: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway_token: Option<String>,
    },
    /// Take a name and enter the room. On a gateway link, the frame's session
    /// id names the new session (chosen by the gateway, never 0). May be sent
    /// again after `name_taken`/`name_invalid`.
    Join {
        name: String,
        /// Only room events with a larger seq go into the welcome's history
        /// (used by a gateway re-attaching after a link drop).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Seq>,
        /// The person's network address (an IP address as text), sent by a
        /// gateway for each browser so per-address limits apply to people,
        /// not to the gateway. Ignored on a direct connection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        addr: Option<String>,
    },
    /// A message to the whole room.
    Say {
        text: String,
    },
    /// A private message to one user.
    Private {
        to: String,
        text: String,
    },
    /// Ask for the user list; answered with `users`.
    Users,
    /// Start sending a file. `id` is chosen by the sender, unique among its
    /// open transfers. Chunks may follow at once.
    FileOffer {
        id: u32,
        to: Target,
        name: String,
        size: u64,
        /// Lower-case hex SHA-256 of the whole file.
        sha256: String,
        kind: FileKind,
    },
    /// Part of a file; the bytes are the frame's payload.
    FileChunk {
        id: u32,
    },
    /// All chunks are sent.
    FileEnd {
        id: u32,
    },
    /// The sender gives up on a transfer.
    FileCancel {
        id: u32,
    },
    /// A recipient consumed `bytes` more of incoming `transfer` (written them
    /// out): the server may send that many more bytes of it.
    FileCredit {
        transfer: u64,
        bytes: u64,
    },
    Ping {
        nonce: u64,
    },
    Pong {
        nonce: u64,
    },
    /// Leave the room (on a gateway link: detach that session) and, on a
    /// direct connection, close it.
    Quit,
}

/// A frame sent by the server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to `hello`.
    Hello {
        protocol: u32,
        /// Server name and version.
        server: String,
        /// Random id of this server process: a different one after a restart
        /// means sequence ids started again.
        instance: String,
        /// Whether this connection is a gateway link.
        gateway: bool,
        limits: Limits,
    },
    /// Answer to a successful `join`: you are in.
    Welcome {
        name: String,
        users: Vec<UserInfo>,
        /// Recent room events from before you joined, oldest first.
        history: Vec<Event>,
        /// The seq of the newest event in the room when you joined.
        last_seq: Seq,
    },
    /// Something happened in the room, or privately to you.
    Event(Event),
    /// Answer to `users`.
    Users {
        users: Vec<UserInfo>,
    },
    /// A chunk of an incoming transfer (announced by a `file` event); the
    /// bytes are the frame's payload.
    FileChunk {
        transfer: u64,
    },
    /// The transfer is complete; size and SHA-256 were checked by the server.
    FileEnd {
        transfer: u64,
    },
    /// The transfer will not complete: discard what was received.
    FileAbort {
        transfer: u64,
        code: ErrorCode,
        message: String,
    },
    /// To a sender: the offer was accepted and relayed; `transfer` is the id
    /// recipients see.
    FileAccepted {
        id: u32,
        transfer: u64,
        /// Who will get the file (for a room-wide transfer: everyone else in
        /// the room when it was offered). The sender hears back exactly one
        /// `file_delivered` or `file_failed` with `to` per name here, unless a
        /// `file_failed` without `to` ends the whole transfer first.
        #[serde(default)]
        recipients: Vec<String>,
    },
    /// To a sender: it may send `bytes` more of its transfer `id` (flow
    /// control; the offer itself grants `limits.file_window`).
    FileCredit {
        id: u32,
        bytes: u64,
    },
    /// To a sender: one recipient has received the whole file.
    FileDelivered {
        id: u32,
        to: String,
    },
    /// To a sender: the transfer failed, for one recipient (`to`) or all.
    FileFailed {
        id: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        code: ErrorCode,
        message: String,
    },
    /// A refusal. The connection stays open unless a `bye` follows.
    Error {
        code: ErrorCode,
        message: String,
    },
    Ping {
        nonce: u64,
    },
    Pong {
        nonce: u64,
    },
    /// The server is closing this connection (or session), and why.
    Bye {
        code: ErrorCode,
        message: String,
    },
}

/// A sequenced room or private event.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Orders events and lets a reconnecting gateway ask only for what it missed.
    pub seq: Seq,
    /// When the server saw it; clients show it.
    pub ts: Millis,
    /// What happened.
    pub event: EventBody,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A room message.
    Message {
        from: String,
        text: String,
    },
    /// A private message; sent to the recipient and echoed to the sender.
    Private {
        from: String,
        to: String,
        text: String,
    },
    Joined {
        user: UserInfo,
    },
    Left {
        name: String,
    },
    /// A file or image is coming: `file_chunk` frames with this `transfer` id
    /// follow, then `file_end` or `file_abort`.
    File {
        from: String,
        to: Target,
        transfer: u64,
        name: String,
        size: u64,
        sha256: String,
        kind: FileKind,
    },
}

/// The limits a server enforces, announced in its hello so clients can check
/// before sending.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame body in bytes (the 4-byte length prefix excluded).
    pub max_frame: u32,
    /// Longest message text in bytes of UTF-8.
    pub max_message: u32,
    /// Largest file in bytes.
    pub max_file: u64,
    /// Sustained frames per second per user (token bucket refill rate).
    pub rate_per_sec: u32,
    /// Token bucket size (burst).
    pub rate_burst: u32,
    /// Per-transfer credit window in bytes: what a sender may send of a file
    /// before the server grants more, and what the server sends a recipient
    /// before it credits back (see PROTOCOL.md, flow control).
    pub file_window: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_the_documented_one() {
        let msg = ServerMsg::Event(Event {
            seq: 7,
            ts: 1,
            event: EventBody::Message {
                from: "alice".into(),
                text: "hi".into(),
            },
        });
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"type":"event","seq":7,"ts":1,"event":{"type":"message","from":"alice","text":"hi"}}"#
        );
        let offer = ClientMsg::FileOffer {
            id: 1,
            to: Target::User("bob".into()),
            name: "a.png".into(),
            size: 3,
            sha256: "00".into(),
            kind: FileKind::Image,
        };
        assert_eq!(
            serde_json::to_string(&offer).unwrap(),
            r#"{"type":"file_offer","id":1,"to":{"user":"bob"},"name":"a.png","size":3,"sha256":"00","kind":"image"}"#
        );
    }
}
