//! Replays every committed seed and reproducer of each fuzz target (`ftp_line`, `ftp_session`)
//! through the target's checks
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

/// The names of the inputs of `kind` (`seeds` or `artifacts`) for `target` that fail its
/// `check`, and of those that pass.
fn replay(kind: &str, target: &str, check: Check) -> (Vec<String>, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target);
    let (mut failed, mut passed) = (Vec::new(), Vec::new());
    for (name, bytes) in inputs(&dir) {
        match std::panic::catch_unwind(|| check(&bytes)) {
            Ok(()) => passed.push(name),
            Err(_) => failed.push(name),
        }
    }
    (failed, passed)
}

#[test]
fn every_ftp_session_seed_passes_the_checks() {
    let (failed, _) = replay("seeds", "ftp_session", TARGETS[1].1);
    assert!(
        failed.is_empty(),
        "seeds that fail a check (read one with FTP_SESSION_TRACE=1 cargo run --example \
         replay -- seeds/ftp_session/NAME): {failed:?}"
    );
}

#[test]
fn every_ftp_line_seed_passes_the_checks() {
    let (failed, passed) = replay("seeds", "ftp_line", TARGETS[0].1);
    assert!(
        failed.is_empty(),
        "ftp_line seeds that fail a check: {failed:?}"
    );
    assert!(!passed.is_empty());
}

/// A fuzz target's checks: panics on the first that fails.
type Check = fn(&[u8]);

/// Each fuzz target and its checks. A target with no `artifacts/` directory has no finding
/// on record.
const TARGETS: [(&str, Check); 2] = [
    ("ftp_line", ftpgate_fuzz::ftp_line::check),
    ("ftp_session", ftpgate_fuzz::ftp_session::check),
];

#[test]
fn every_fixed_reproducer_passes_and_every_open_one_still_fails() {
    let (mut failed, mut passed) = (Vec::new(), Vec::new());
    for (target, check) in TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("artifacts")
            .join(target);
        if dir.is_dir() {
            let (f, p) = replay("artifacts", target, check);
            failed.extend(f.into_iter().map(|name| format!("{target}/{name}")));
            passed.extend(p.into_iter().map(|name| format!("{target}/{name}")));
        }
    }
    assert!(
        !passed.is_empty() || !failed.is_empty(),
        "no reproducer found"
    );
    let is_open = |n: &&String| n.rsplit('/').next().is_some_and(|f| f.starts_with(OPEN));
    let regressed: Vec<_> = failed.iter().filter(|n| !is_open(n)).collect();
    assert!(
        regressed.is_empty(),
        "reproducers of fixed findings that fail again: {regressed:?}"
    );
    let fixed: Vec<_> = passed.iter().filter(is_open).collect();
    assert!(
        fixed.is_empty(),
        "open findings that now pass (fixed? drop the `{OPEN}` prefix and the README entry): \
         {fixed:?}"
    );
}
