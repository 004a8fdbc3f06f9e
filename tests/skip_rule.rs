//! The skip rule of testkit/src/skip.rs: a test that cannot run here prints why and passes,
//! except under `CI=true`, where it fails with the reason.

use ftpgate_testkit::skip;

use skip::skip_under;

#[test]
fn a_skip_outside_ci_prints_and_returns() {
    skip_under(None, "some_test", "no root");
    skip_under(Some("false"), "some_test", "no root");
    skip_under(Some("1"), "some_test", "no root");
}

#[test]
fn a_skip_under_ci_true_fails_with_the_reason() {
    let result = std::panic::catch_unwind(|| skip_under(Some("true"), "some_test", "no root"));
    let err = result.expect_err("CI=true must turn a skip into a failure");
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("some_test"), "{message}");
    assert!(message.contains("no root"), "{message}");
}
