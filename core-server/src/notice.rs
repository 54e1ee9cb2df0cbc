//! The words the server puts in front of people: why a connection is being
//! closed (`bye`) and why one recipient's copy of a file failed.
//!
//! A leaf: it knows only the protocol's messages, so the outbox, its writer
//! and the transfers can all use it without depending on each other.

use protocol::{ErrorCode, ServerMsg};

/// Why the server closes a connection: the code, and what the person is told
/// (the code's usual text, or a more precise one such as which limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bye {
    pub code: ErrorCode,
    pub message: String,
}

impl Bye {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Bye {
        Bye {
            code,
            message: message.into(),
        }
    }

    pub fn msg(&self) -> ServerMsg {
        ServerMsg::Bye {
            code: self.code,
            message: self.message.clone(),
        }
    }
}

impl From<ErrorCode> for Bye {
    fn from(code: ErrorCode) -> Bye {
        Bye::new(code, usual_text(code))
    }
}

/// The `bye` for a reason, with its usual human-readable message.
pub fn bye_msg(code: ErrorCode) -> ServerMsg {
    Bye::from(code).msg()
}

fn usual_text(code: ErrorCode) -> &'static str {
    match code {
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
