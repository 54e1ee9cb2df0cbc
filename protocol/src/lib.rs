//! Switchboard's native wire protocol, and the pieces every Switchboard crate
//! shares. `core-server`, `cli-client`, `web-gateway` and `bench` all speak
//! through this crate; none of them frames a byte itself. `PROTOCOL.md` (in
//! `core-server/`) is the description for people.
//!
//! # Layout
//! - `msg.rs`: the messages in memory ([`ClientMsg`], [`ServerMsg`], [`Event`]).
//! - `error_code.rs`: [`ErrorCode`], every refusal's reason, and its wire name.
//! - [`codec`]: bytes <-> frames; the only place that frames bytes.
//! - [`client`]: the client half of a connection: connect and hello with
//!   timeouts, the control-before-chunks writer, keep-alive, reconnect backoff.
//! - `name.rs`: the user-name rules. `image.rs`: image sniffing by magic bytes.
//! - `file_name.rs`: making a stranger's file name safe to show and to save.
//! - [`rate`]: the per-user rate limit and a client's self-pacing.
//! - `secret.rs`: comparing secrets in constant time.
//! - `size.rs`: sizes for people and from flags. `duration.rs`: durations on command lines.

pub mod client;
pub mod codec;
mod duration;
mod error_code;
mod file_name;
mod image;
mod msg;
mod name;
pub mod rate;
mod secret;
mod size;

pub use duration::{parse_duration, parse_millis};
pub use error_code::ErrorCode;
pub use file_name::{MAX_FILE_NAME, is_invisible_format, safe_file_name};
pub use image::{ImageType, SNIFF_LEN, sniff_image};
pub use msg::*;
pub use name::{MAX_NAME_LEN, NameError, RESERVED_NAMES, validate_name};
pub use secret::secrets_match;
pub use size::{human_size, parse_size};
