//! Feeds arbitrary bytes, as one control-connection line, to every FTP line parser: see
//! `ftpgate_testkit::ftp_line` for the checks.
//!
//! Run: `cargo +nightly fuzz run ftp_line -- -dict=fuzz/ftp_line.dict -max_len=600`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| ftpgate_fuzz::ftp_line::check(line));
