#![no_main]
//! See `switchboard_fuzz::codec`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::codec(data));
