//! Replays every committed `ftp_session` seed and reproducer through the fuzz target's checks
//! on stable Rust (no cargo-fuzz needed): a fixed engine bug stays fixed, a hole still open
//! stays documented, and a seed that stops passing a check is noticed by `cargo test` in CI.
//! Reads only files under this crate's `seeds/` and `artifacts/`; never writes.

use std::fs;
use std::path::Path;

/// Prefix of a reproducer for a hole the engine still has (listed in the README): it must
/// keep failing until the engine is fixed, then lose the prefix.
const OPEN: &str = "open-";

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

/// The names of the inputs of `kind` (`seeds` or `artifacts`) that fail a check, and of those
/// that pass.
fn replay(kind: &str) -> (Vec<String>, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join("ftp_session");
    let (mut failed, mut passed) = (Vec::new(), Vec::new());
    for (name, bytes) in inputs(&dir) {
        match std::panic::catch_unwind(|| ftpgate_fuzz::ftp_session::check(&bytes)) {
            Ok(()) => passed.push(name),
            Err(_) => failed.push(name),
        }
    }
    (failed, passed)
}

#[test]
fn every_seed_passes_the_checks() {
    let (failed, _) = replay("seeds");
    assert!(
        failed.is_empty(),
        "seeds that fail a check (read one with FTP_SESSION_TRACE=1 cargo run --example \
         replay -- seeds/ftp_session/NAME): {failed:?}"
    );
}

#[test]
fn every_fixed_reproducer_passes_and_every_open_one_still_fails() {
    let (failed, passed) = replay("artifacts");
    let regressed: Vec<_> = failed.iter().filter(|n| !n.starts_with(OPEN)).collect();
    assert!(
        regressed.is_empty(),
        "reproducers of fixed findings that fail again: {regressed:?}"
    );
    let fixed: Vec<_> = passed.iter().filter(|n| n.starts_with(OPEN)).collect();
    assert!(
        fixed.is_empty(),
        "open findings that now pass (fixed? drop the `{OPEN}` prefix and the README entry): \
         {fixed:?}"
    );
}
