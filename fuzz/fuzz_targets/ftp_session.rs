//! The whole engine, driven by fuzzer bytes around one FTP control connection, with a model
//! server reading what the gateway forwards: see `src/ftp_session/mod.rs` for the input
//! format and every check.
//!
//! Run: `cargo +nightly fuzz run -s none ftp_session -- -max_len=2048`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ftpgate_fuzz::ftp_session::check(data));
