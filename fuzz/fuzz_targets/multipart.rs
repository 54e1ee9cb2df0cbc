#![no_main]
//! See `switchboard_fuzz::multipart`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::multipart(data));
