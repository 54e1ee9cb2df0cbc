//! The shared test kit (`testkit`): a core on a loopback port, a raw client;
//! plus the file tests' own helpers (`support/files.rs`).

pub use testkit::{
    RawClient, TOKEN, TestCore, WAIT, config, png_bytes, sha256, test_bytes, user, within,
};

mod files;

pub use files::{accepted, outcomes, room_of, whole_failure};
