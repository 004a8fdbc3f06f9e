//! Rule-file errors as the tests expect them: `FILE:LINE:COLUMN: message`. Owns the one
//! assertion that a text is refused at a position; it never writes a file.

use ftpgate::config::{self, ConfigError};

/// Loads `yaml` as `t.yaml`, expecting an error at `line`:`column` (1-based) whose text
/// contains `fragment`. Returns the error for further checks.
pub fn expect_error(yaml: &str, line: u64, column: u64, fragment: &str) -> ConfigError {
    let err = match config::load_str("t.yaml", yaml) {
        Ok(settings) => panic!("expected an error, got {settings:#?}"),
        Err(err) => err,
    };
    let text = err.to_string();
    let prefix = format!("t.yaml:{line}:{column}: ");
    assert!(text.starts_with(&prefix), "want {prefix:?}, got {text:?}");
    assert!(text.contains(fragment), "want {fragment:?} in {text:?}");
    assert_eq!(err.position(), Some((line, column)));
    err
}
