//! The machine-readable error codes every refusal names, and their wire names.

use serde::{Deserialize, Serialize};

/// Machine-readable error codes. Every refusal names one.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame could not be decoded (bad length, bad JSON, unknown type).
    BadFrame,
    /// A frame was longer than the server's frame limit.
    FrameTooLarge,
    /// The hello named a protocol version the server does not speak.
    UnsupportedVersion,
    /// Something other than hello/join/ping was sent before joining.
    NotJoined,
    /// Join was sent twice on the same session.
    AlreadyJoined,
    /// The name is already used by someone (case-insensitive).
    NameTaken,
    /// The name breaks the name rules or is reserved.
    NameInvalid,
    /// A message text is empty or longer than the message limit.
    MessageTooLong,
    /// A message text was empty (only whitespace).
    EmptyMessage,
    /// A file offer is larger than the file size limit.
    FileTooLarge,
    /// Too many frames too fast (token bucket); the frame was dropped.
    RateLimited,
    /// The named recipient is not in the room.
    NoSuchUser,
    /// A transfer offered as an image is not a png, jpeg, gif or webp.
    NotAnImage,
    /// The gateway token was wrong, or a session id was used on a direct connection.
    Unauthorized,
    /// The connection did not keep up with what was sent to it and was dropped.
    SlowConsumer,
    /// No hello and join within the login timeout.
    LoginTimeout,
    /// Nothing was heard from the peer within the ping timeout.
    PingTimeout,
    /// The connection limit is reached.
    ServerFull,
    /// The server is shutting down.
    ShuttingDown,
    /// A chunk or end named a transfer that is not open.
    UnknownTransfer,
    /// A transfer's bytes did not match its size or SHA-256.
    ChecksumMismatch,
    /// The sender left, cancelled or failed mid-transfer.
    TransferAborted,
    /// The recipient left before the transfer completed.
    RecipientLeft,
    /// Too many transfers open at once on one connection.
    TooManyTransfers,
    /// A sender sent more of a file than its credit allowed.
    CreditExceeded,
    /// Too many simultaneous connections from one address.
    TooManyConnections,
    /// A transfer's sender sent nothing, or a recipient granted no credit it
    /// owed, for `--transfer-idle-timeout`.
    TransferIdle,
}

impl ErrorCode {
    /// Every code, in the order of the enum (for documentation and tests).
    pub const ALL: &[ErrorCode] = &[
        ErrorCode::BadFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::UnsupportedVersion,
        ErrorCode::NotJoined,
        ErrorCode::AlreadyJoined,
        ErrorCode::NameTaken,
        ErrorCode::NameInvalid,
        ErrorCode::MessageTooLong,
        ErrorCode::EmptyMessage,
        ErrorCode::FileTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::NoSuchUser,
        ErrorCode::NotAnImage,
        ErrorCode::Unauthorized,
        ErrorCode::SlowConsumer,
        ErrorCode::LoginTimeout,
        ErrorCode::PingTimeout,
        ErrorCode::ServerFull,
        ErrorCode::ShuttingDown,
        ErrorCode::UnknownTransfer,
        ErrorCode::ChecksumMismatch,
        ErrorCode::TransferAborted,
        ErrorCode::RecipientLeft,
        ErrorCode::TooManyTransfers,
        ErrorCode::CreditExceeded,
        ErrorCode::TooManyConnections,
        ErrorCode::TransferIdle,
    ];

    /// The code's name on the wire (`"name_taken"`), as clients print it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::NameInvalid => "name_invalid",
            ErrorCode::MessageTooLong => "message_too_long",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::FileTooLarge => "file_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NoSuchUser => "no_such_user",
            ErrorCode::NotAnImage => "not_an_image",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::LoginTimeout => "login_timeout",
            ErrorCode::PingTimeout => "ping_timeout",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::UnknownTransfer => "unknown_transfer",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::TransferAborted => "transfer_aborted",
            ErrorCode::RecipientLeft => "recipient_left",
            ErrorCode::TooManyTransfers => "too_many_transfers",
            ErrorCode::CreditExceeded => "credit_exceeded",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::TransferIdle => "transfer_idle",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_serde_names() {
        for &code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
