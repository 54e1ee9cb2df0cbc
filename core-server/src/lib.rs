//! Switchboard's core: the TCP chat server and the native protocol.
//!
//! # Layout
//! - [`protocol`]: the messages in memory, name rules, image sniffing.
//! - [`codec`]: bytes <-> frames; the only place that frames bytes. The
//!   terminal client and the web gateway use it too.

pub mod codec;
pub mod protocol;
