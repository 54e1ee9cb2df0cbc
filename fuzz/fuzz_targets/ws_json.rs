#![no_main]
//! See `switchboard_fuzz::ws_json`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::ws_json(data));
