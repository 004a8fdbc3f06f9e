//! Rule files: YAML in, validated [`EngineSettings`] out.
//!
//! Owns the rule-file format and its errors. [`load_file`] and [`load_str`] parse a file,
//! check it, and build engine settings; every error names the file, line and column of the
//! value that is wrong ([`ConfigError`]). [`describe`] renders compiled settings for
//! `ftpgate check`. This is the only code that knows YAML; the engine only sees the typed
//! settings. Nothing here touches the network or the clock.
//!
//! Inside: `schema` mirrors the YAML (serde, unknown keys refused), `value` holds loosely typed
//! leaves with their positions, `parse` reads the value syntaxes (CIDRs, ports, durations),
//! `compile`, `forwards`, `rules` and `ftp` validate and convert, `describe` renders, `error`
//! reports.

mod compile;
mod describe;
mod error;
mod forwards;
mod ftp;
mod limits;
mod operations;
mod parse;
mod rules;
mod schema;
mod tun;
mod value;

use std::path::Path;

pub use describe::describe;
pub use error::{ConfigError, Problem};
pub use operations::{Interfaces, OperationsSettings, DEFAULT_CONTROL_SOCKET};
pub use tun::TunSettings;

use crate::engine::settings::EngineSettings;

/// Reads, checks and compiles the rule file at `path`. Errors name the path as given.
pub fn load_file(path: &Path) -> Result<EngineSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_str(&path.display().to_string(), &text)
}

/// Checks and compiles rule-file `text`; `source_name` names it in errors and rule origins.
pub fn load_str(source_name: &str, text: &str) -> Result<EngineSettings, ConfigError> {
    compile::compile(source_name, &parse_spec(source_name, text)?)
}

/// What `ftpgate run` needs from a rule file: the engine's settings and the TUN device.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    /// The engine's settings.
    pub engine: EngineSettings,
    /// The TUN device to open.
    pub tun: TunSettings,
    /// Steering, control socket and metrics.
    pub operations: OperationsSettings,
}

/// Reads, checks and compiles the rule file at `path` for a running gateway.
pub fn load_gateway(path: &Path) -> Result<Gateway, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_gateway_str(&path.display().to_string(), &text)
}

/// As [`load_gateway`], from text.
pub fn load_gateway_str(source_name: &str, text: &str) -> Result<Gateway, ConfigError> {
    compile::compile_gateway(source_name, &parse_spec(source_name, text)?)
}

fn parse_spec(source_name: &str, text: &str) -> Result<schema::RuleFile, ConfigError> {
    // Snippets off: errors are rendered as one `FILE:LINE:COLUMN: message` line by us.
    // Strict booleans: `log: yes` is an error rather than YAML 1.1's true.
    let options = serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
    };
    serde_saphyr::from_str_with_options(text, options)
        .map_err(|err| ConfigError::from_yaml(source_name, &err))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn missing_file_names_the_file() {
        let err = load_file(Path::new("/nonexistent/ftpgate/rules.yaml"));
        let text = err.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(
            text.starts_with("/nonexistent/ftpgate/rules.yaml: cannot read rule file"),
            "{text}"
        );
    }

    #[test]
    fn file_name_appears_in_origins() {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(err) => panic!("tempdir: {err}"),
        };
        let path = dir.path().join("r.yaml");
        if let Err(err) = std::fs::write(&path, "rules:\n  - action: accept\n") {
            panic!("write: {err}");
        }
        let settings = match load_file(&path) {
            Ok(settings) => settings,
            Err(err) => panic!("{err}"),
        };
        assert_eq!(
            settings.policy.rules[0].origin,
            format!("{}:2:5", path.display())
        );
    }

    #[test]
    fn yaml_errors_carry_positions() {
        let err = load_str("s.yaml", "inside: \"abc\n");
        let text = err.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(text.starts_with("s.yaml:1:9: invalid YAML"), "{text}");
    }
}
