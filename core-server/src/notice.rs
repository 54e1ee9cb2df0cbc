//! The words the server puts in front of people: why a connection is being
//! closed (`bye`) and why one recipient's copy of a file failed.
//!
//! A leaf: it knows only the protocol's messages, so the outbox, its writer
//! and the transfers can all use it without depending on each other.

use protocol::{ErrorCode, ServerMsg};

/// The `bye` for a reason, with a human-readable message.
pub fn bye_msg(code: ErrorCode) -> ServerMsg {
    let message = match code {
        ErrorCode::ShuttingDown => "the server is shutting down",
        ErrorCode::SlowConsumer => "you were not reading fast enough",
        ErrorCode::LoginTimeout => "no hello and join within the login timeout",
        ErrorCode::PingTimeout => "nothing heard from you within the ping timeout",
        ErrorCode::ServerFull => "the server has reached its connection limit",
        ErrorCode::FrameTooLarge => "a frame exceeded the frame size limit",
        ErrorCode::BadFrame => "a frame could not be decoded",
        ErrorCode::Unauthorized => "wrong or missing gateway token",
        ErrorCode::UnsupportedVersion => {
            "this server speaks protocol version 2 (per-transfer flow control); upgrade the client"
        }
        _ => "closing",
    };
    ServerMsg::Bye {
        code,
        message: message.to_string(),
    }
}

/// The `file_failed` telling a sender that the copy of its file `id` for `to`
/// failed, and why.
pub fn failed(id: u32, to: &str, code: ErrorCode) -> ServerMsg {
    let message = match code {
        ErrorCode::RecipientLeft => format!("{to} left before the file was complete"),
        ErrorCode::SlowConsumer => format!("{to} did not read the file in time"),
        _ => format!("the file could not be delivered to {to}"),
    };
    ServerMsg::FileFailed {
        id,
        to: Some(to.to_string()),
        code,
        message,
    }
}
