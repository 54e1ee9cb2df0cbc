#![no_main]
//! See `switchboard_fuzz::file_name`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::file_name(data));
