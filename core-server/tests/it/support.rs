//! The shared test kit (`testkit`): a core on a loopback port, a raw client.

pub use testkit::{RawClient, TOKEN, TestCore, WAIT, config, png_bytes, sha256, test_bytes, user};
