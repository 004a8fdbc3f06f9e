//! Replays every committed `ftp_session` seed and reproducer through the fuzz target's checks
//! on stable Rust (no cargo-fuzz needed): a fixed engine bug stays fixed, and a seed that
//! stops passing a check is noticed by `cargo test` in CI.
//! Reads only files under this crate's `seeds/` and `artifacts/`; never writes.

use std::fs;
use std::path::Path;

/// Every regular file in `dir`, sorted by name; panics if `dir` is missing or empty.
fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).expect("readable input"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", dir.display());
    files
}

fn replay(kind: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join("ftp_session");
    let failed: Vec<String> = inputs(&dir)
        .into_iter()
        .filter(|(_, bytes)| {
            std::panic::catch_unwind(|| ftpgate_fuzz::ftp_session::check(bytes)).is_err()
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        failed.is_empty(),
        "{kind}/ftp_session inputs that fail a check (replay one with FTP_SESSION_TRACE=1 \
         cargo test): {failed:?}"
    );
}

#[test]
fn every_seed_passes_the_checks() {
    replay("seeds");
}

#[test]
fn every_reproducer_passes_the_checks() {
    replay("artifacts");
}
