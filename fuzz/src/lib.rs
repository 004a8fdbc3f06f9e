//! The fuzz targets' logic, as a library: the `cargo fuzz` binaries in `fuzz_targets/` only
//! hand their input to a `check` function here, so that a plain `cargo test` (stable) can
//! replay every seed and reproducer through the same checks (`tests/replay_corpus.rs`).
//! Nothing here is part of ftpgate itself; it never touches files, sockets or the clock.

/// The `ftp_line` target's checks live in the test kit, which the parsers' property tests
/// (`tests/ftp_line_props.rs`) share.
pub use ftpgate_testkit::ftp_line;
pub mod ftp_session;
