//! The one way a test skips: `skip(test, reason)` prints `skipped: TEST: REASON` and lets the
//! caller return, except under `CI=true`, where a skip would hide a test that never ran, so it
//! panics with the same reason instead. Every skip point in tests/ goes through it (`.ci/run`
//! follows the same rule for its own steps); it must never decide on its own whether a test
//! can run (the callers probe), only how a skip ends.

/// Skips `test` because of `reason`: prints it, or panics when the environment variable `CI`
/// is `true`.
pub fn skip(test: &str, reason: &str) {
    skip_under(std::env::var("CI").ok().as_deref(), test, reason);
}

/// `skip` with the value of `CI` given (tests/skip_rule.rs checks both outcomes).
pub fn skip_under(ci: Option<&str>, test: &str, reason: &str) {
    if ci == Some("true") {
        panic!("{test} cannot run, and CI=true forbids skipping: {reason}");
    }
    println!("skipped: {test}: {reason}");
}
