//! Compilation of the `ftp` section into [`FtpSettings`].
//!
//! Owns the FTP ALG checks: control ports are single real ports (1-65535), each listed once,
//! and an empty list turns the ALG off; the pinhole timeout is non-zero and at most netfilter's
//! expectation timeout (300 s); `max_pinholes`, `max_line`, `mtu` and `min_data_port` are whole
//! numbers within their ranges. `allow_fxp` and `require_login` are booleans and `tls` and
//! `on_violation` are choice words, both checked by the schema, and so is `non_ftp`;
//! `fix_pasv_address` is a boolean. Keys the file omits keep their
//! defaults. It looks at no other section.

use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::compile::{whole_number, Bounds, Cx, MTU};
use super::error::{ConfigError, Problem};
use super::parse;
use super::schema::{FtpSpec, NonFtpSpec, TlsSpec, ViolationSpec};
use super::value::{Items, Scalar};
use crate::engine::settings::{FtpSettings, NonFtpPolicy, TlsPolicy, ViolationOutcome};

/// The longest pinhole timeout: netfilter's FTP expectation timeout.
const MAX_PINHOLE_TIMEOUT: Duration = Duration::from_secs(300);

/// `max_pinholes`: per control connection.
const MAX_PINHOLES: Bounds = Bounds {
    key: "max_pinholes",
    min: 1,
    max: 64,
    unit: "",
    expected: "a whole number",
};

/// `max_line`: long enough for any PORT/EPRT/227/229 line, short enough to bound buffering.
const MAX_LINE: Bounds = Bounds {
    key: "max_line",
    min: 64,
    max: 4096,
    unit: " bytes",
    expected: "a whole number of bytes",
};

/// `min_data_port`: any real port; 1024 (the default) keeps announcements off privileged ports.
const MIN_DATA_PORT: Bounds = Bounds {
    key: "min_data_port",
    min: 1,
    max: 65535,
    unit: "",
    expected: "a port number",
};

/// Overrides the FTP settings the file sets.
pub(super) fn apply(cx: Cx<'_>, spec: &FtpSpec, out: &mut FtpSettings) -> Result<(), ConfigError> {
    if let Some(ports) = &spec.control_ports {
        out.control_ports = control_ports(cx, ports)?;
    }
    if let Some(value) = &spec.pinhole_timeout {
        out.pinhole_timeout = pinhole_timeout(cx, value)?;
    }
    if let Some(value) = &spec.max_pinholes {
        out.max_pinholes = whole_number(cx, value, &MAX_PINHOLES)?;
    }
    if let Some(value) = &spec.max_line {
        out.max_line = whole_number(cx, value, &MAX_LINE)?;
    }
    if let Some(value) = &spec.mtu {
        out.mtu = whole_number(cx, value, &MTU)?;
    }
    if let Some(value) = &spec.min_data_port {
        let port = whole_number(cx, value, &MIN_DATA_PORT)?;
        // In range by MIN_DATA_PORT's bounds.
        out.min_data_port = u16::try_from(port).unwrap_or(u16::MAX);
    }
    if let Some(allow) = spec.allow_fxp {
        out.allow_fxp = allow;
    }
    if let Some(require) = spec.require_login {
        out.require_login = require;
    }
    if let Some(tls) = spec.tls {
        out.tls = tls_of(tls);
    }
    if let Some(outcome) = spec.on_violation {
        out.on_violation = outcome_of(outcome);
    }
    if let Some(policy) = spec.non_ftp {
        out.non_ftp = match policy {
            NonFtpSpec::Pass => NonFtpPolicy::Pass,
            NonFtpSpec::Reset => NonFtpPolicy::Reset,
        };
    }
    if let Some(fix) = spec.fix_pasv_address {
        out.fix_pasv_address = fix;
    }
    Ok(())
}

/// The engine's TLS policy for a `tls` word.
fn tls_of(spec: TlsSpec) -> TlsPolicy {
    match spec {
        TlsSpec::PassBlind => TlsPolicy::PassBlind,
        TlsSpec::Block => TlsPolicy::Block,
    }
}

/// The engine's violation outcome for an `on_violation` word.
fn outcome_of(spec: ViolationSpec) -> ViolationOutcome {
    match spec {
        ViolationSpec::Reply => ViolationOutcome::Reply,
        ViolationSpec::Reset => ViolationOutcome::Reset,
    }
}

/// The rule-file word for a TLS policy.
pub(crate) fn tls_name(policy: TlsPolicy) -> &'static str {
    match policy {
        TlsPolicy::PassBlind => "pass_blind",
        TlsPolicy::Block => "block",
    }
}

/// The rule-file word for a non-FTP policy.
pub(crate) fn non_ftp_name(policy: NonFtpPolicy) -> &'static str {
    match policy {
        NonFtpPolicy::Pass => "pass",
        NonFtpPolicy::Reset => "reset",
    }
}

/// The rule-file word for a violation outcome.
pub(crate) fn outcome_name(outcome: ViolationOutcome) -> &'static str {
    match outcome {
        ViolationOutcome::Reply => "reply",
        ViolationOutcome::Reset => "reset",
    }
}

/// The control ports in file order. An empty list is allowed (the ALG is off); port 0 and a
/// port listed twice are errors, the latter reported at the second occurrence.
fn control_ports(cx: Cx<'_>, value: &Spanned<Items>) -> Result<Vec<u16>, ConfigError> {
    let mut ports: Vec<(u16, Location)> = Vec::new();
    for (scalar, location) in cx.items(value, "control_ports", true)? {
        let port = cx.at(location, parse::port(scalar))?;
        if let Some((_, first)) = ports.iter().find(|(seen, _)| *seen == port) {
            let problem = Problem::DuplicateControlPort {
                port,
                first_line: first.line(),
                first_column: first.column(),
            };
            return Err(cx.error(location, problem));
        }
        ports.push((port, location));
    }
    Ok(ports.into_iter().map(|(port, _)| port).collect())
}

/// A duration greater than zero and at most [`MAX_PINHOLE_TIMEOUT`].
fn pinhole_timeout(cx: Cx<'_>, value: &Spanned<Scalar>) -> Result<Duration, ConfigError> {
    let at = value.referenced;
    let timeout = cx.at(at, parse::duration(&value.value))?;
    if timeout.is_zero() {
        return Err(cx.error(at, Problem::ZeroTimeout("pinhole_timeout".to_owned())));
    }
    if timeout > MAX_PINHOLE_TIMEOUT {
        return Err(cx.error(at, Problem::PinholeTimeoutTooLong(timeout.as_secs())));
    }
    Ok(timeout)
}

#[cfg(test)]
mod test {
    use super::super::load_str;
    use super::*;

    fn ftp(yaml: &str) -> Result<FtpSettings, ConfigError> {
        load_str("f.yaml", yaml).map(|s| s.ftp)
    }

    fn problem(yaml: &str) -> Option<Problem> {
        ftp(yaml).err().and_then(|e| e.problem().cloned())
    }

    #[test]
    fn absent_or_empty_section_keeps_the_defaults() {
        assert_eq!(ftp("").ok(), Some(FtpSettings::default()));
        assert_eq!(ftp("ftp: {}\n").ok(), Some(FtpSettings::default()));
        assert_eq!(ftp("ftp:\n").ok(), Some(FtpSettings::default()));
        let defaults = FtpSettings::default();
        assert_eq!(defaults.control_ports, vec![21]);
        assert_eq!(defaults.pinhole_timeout, Duration::from_secs(120));
        assert_eq!(
            (defaults.max_pinholes, defaults.max_line, defaults.mtu),
            (4, 512, 1500)
        );
        assert_eq!(defaults.min_data_port, 1024);
        assert!(!defaults.allow_fxp);
        assert!(defaults.require_login);
        assert_eq!(defaults.tls, TlsPolicy::PassBlind);
        assert_eq!(defaults.on_violation, ViolationOutcome::Reply);
        assert_eq!(defaults.non_ftp, NonFtpPolicy::Pass);
        assert!(defaults.fix_pasv_address);
    }

    #[test]
    fn trust_keys_compile() {
        let get = |yaml: &str| match ftp(yaml) {
            Ok(settings) => settings,
            Err(err) => panic!("{yaml:?}: {err}"),
        };
        assert_eq!(get("ftp: {non_ftp: reset}\n").non_ftp, NonFtpPolicy::Reset);
        assert_eq!(get("ftp: {non_ftp: pass}\n").non_ftp, NonFtpPolicy::Pass);
        assert!(!get("ftp: {fix_pasv_address: false}\n").fix_pasv_address);
        assert_eq!(
            problem("ftp: {non_ftp: drop}\n"),
            Some(Problem::UnknownChoice {
                value: "drop".into(),
                expected: "pass, reset".into()
            })
        );
    }

    #[test]
    fn every_key_compiles() {
        let yaml = "ftp:\n  control_ports: [21, \"2121\"]\n  pinhole_timeout: 1m30s\n  \
                    max_pinholes: 64\n  max_line: 4096\n  mtu: 576\n  min_data_port: 20\n  \
                    allow_fxp: true\n  require_login: false\n  tls: block\n  \
                    on_violation: reset\n  non_ftp: reset\n  fix_pasv_address: false\n";
        assert_eq!(
            ftp(yaml).ok(),
            Some(FtpSettings {
                control_ports: vec![21, 2121],
                pinhole_timeout: Duration::from_secs(90),
                max_pinholes: 64,
                max_line: 4096,
                mtu: 576,
                min_data_port: 20,
                allow_fxp: true,
                require_login: false,
                tls: TlsPolicy::Block,
                on_violation: ViolationOutcome::Reset,
                non_ftp: NonFtpPolicy::Reset,
                fix_pasv_address: false,
            })
        );
    }

    #[test]
    fn security_keys_compile_to_each_value() {
        let get = |yaml: &str| match ftp(yaml) {
            Ok(settings) => settings,
            Err(err) => panic!("{yaml:?}: {err}"),
        };
        assert_eq!(get("ftp: {tls: pass_blind}\n").tls, TlsPolicy::PassBlind);
        assert_eq!(get("ftp: {tls: block}\n").tls, TlsPolicy::Block);
        assert_eq!(
            get("ftp: {on_violation: reply}\n").on_violation,
            ViolationOutcome::Reply
        );
        assert_eq!(
            get("ftp: {on_violation: reset}\n").on_violation,
            ViolationOutcome::Reset
        );
        assert!(get("ftp: {allow_fxp: true}\n").allow_fxp);
        assert!(!get("ftp: {allow_fxp: false}\n").allow_fxp);
        assert!(get("ftp: {require_login: true}\n").require_login);
        assert!(!get("ftp: {require_login: false}\n").require_login);
        assert_eq!(get("ftp: {min_data_port: 1}\n").min_data_port, 1);
        assert_eq!(get("ftp: {min_data_port: 65535}\n").min_data_port, 65535);
        // Setting one key leaves the others at their defaults.
        assert_eq!(
            get("ftp: {tls: block}\n"),
            FtpSettings {
                tls: TlsPolicy::Block,
                ..FtpSettings::default()
            }
        );
    }

    #[test]
    fn unknown_security_words_name_the_choices() {
        assert_eq!(
            problem("ftp: {tls: starttls}\n"),
            Some(Problem::UnknownChoice {
                value: "starttls".into(),
                expected: "pass_blind, block".into()
            })
        );
        // The word is the variant name, not the Rust one.
        assert_eq!(
            problem("ftp: {tls: PassBlind}\n"),
            Some(Problem::UnknownChoice {
                value: "PassBlind".into(),
                expected: "pass_blind, block".into()
            })
        );
        assert_eq!(
            problem("ftp: {on_violation: drop}\n"),
            Some(Problem::UnknownChoice {
                value: "drop".into(),
                expected: "reply, reset".into()
            })
        );
    }

    #[test]
    fn security_values_of_the_wrong_type() {
        // Booleans are strict (the parser's own check, as for `log` and `tcp_pickup`).
        for yaml in ["ftp: {allow_fxp: yes}\n", "ftp: {require_login: 1}\n"] {
            assert!(
                matches!(problem(yaml), Some(Problem::Syntax(text)) if text.contains("true or false")),
                "{yaml:?}: {:?}",
                problem(yaml)
            );
        }
        // A scalar that is not one of the words is an unknown choice, whatever its type.
        assert_eq!(
            problem("ftp: {on_violation: 1}\n"),
            Some(Problem::UnknownChoice {
                value: "1".into(),
                expected: "reply, reset".into()
            })
        );
        assert_eq!(
            problem("ftp: {tls: true}\n"),
            Some(Problem::UnknownChoice {
                value: "true".into(),
                expected: "pass_blind, block".into()
            })
        );
        assert!(matches!(
            problem("ftp: {tls: [block]}\n"),
            Some(Problem::Syntax(_))
        ));
    }

    #[test]
    fn min_data_port_problems() {
        assert_eq!(
            problem("ftp: {min_data_port: 0}\n"),
            Some(Problem::NumberOutOfRange {
                key: "min_data_port".into(),
                value: "0".into(),
                allowed: "1 to 65535".into()
            })
        );
        assert_eq!(
            problem("ftp: {min_data_port: 65536}\n"),
            Some(Problem::NumberOutOfRange {
                key: "min_data_port".into(),
                value: "65536".into(),
                allowed: "1 to 65535".into()
            })
        );
        assert_eq!(
            problem("ftp: {min_data_port: \"1024\"}\n"),
            Some(Problem::WrongType {
                expected: "a port number".into(),
                found: "`1024`".into()
            })
        );
    }

    #[test]
    fn unset_keys_keep_their_defaults() {
        let settings = ftp("ftp:\n  max_line: 1024\n");
        assert_eq!(
            settings.ok(),
            Some(FtpSettings {
                max_line: 1024,
                ..FtpSettings::default()
            })
        );
    }

    #[test]
    fn control_ports_one_or_many_or_none() {
        let ports = |yaml: &str| ftp(yaml).map(|f| f.control_ports).ok();
        assert_eq!(ports("ftp: {control_ports: 2121}\n"), Some(vec![2121]));
        assert_eq!(ports("ftp: {control_ports: \"990\"}\n"), Some(vec![990]));
        assert_eq!(
            ports("ftp: {control_ports: [2121, 21]}\n"),
            Some(vec![2121, 21])
        );
        assert_eq!(ports("ftp: {control_ports: []}\n"), Some(Vec::new()));
    }

    #[test]
    fn control_port_problems() {
        assert_eq!(
            problem("ftp: {control_ports: [21, 0]}\n"),
            Some(Problem::PortZero)
        );
        assert_eq!(
            problem("ftp: {control_ports: 21-22}\n"),
            Some(Problem::BadPort("21-22".into()))
        );
        assert_eq!(
            problem("ftp: {control_ports: 65536}\n"),
            Some(Problem::PortOutOfRange("65536".into()))
        );
        assert_eq!(
            problem("ftp:\n  control_ports: [21, 2121,\n    21]\n"),
            Some(Problem::DuplicateControlPort {
                port: 21,
                first_line: 2,
                first_column: 19
            })
        );
        assert!(matches!(
            problem("ftp: {control_ports: {a: 1}}\n"),
            Some(Problem::WrongType { .. })
        ));
    }

    #[test]
    fn pinhole_timeout_bounds() {
        let timeout = |yaml: &str| ftp(yaml).map(|f| f.pinhole_timeout).ok();
        assert_eq!(
            timeout("ftp: {pinhole_timeout: 1}\n"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            timeout("ftp: {pinhole_timeout: 5m}\n"),
            Some(MAX_PINHOLE_TIMEOUT)
        );
        assert_eq!(
            problem("ftp: {pinhole_timeout: 0s}\n"),
            Some(Problem::ZeroTimeout("pinhole_timeout".into()))
        );
        assert_eq!(
            problem("ftp: {pinhole_timeout: 301}\n"),
            Some(Problem::PinholeTimeoutTooLong(301))
        );
        assert_eq!(
            problem("ftp: {pinhole_timeout: 1h}\n"),
            Some(Problem::PinholeTimeoutTooLong(3600))
        );
        assert!(matches!(
            problem("ftp: {pinhole_timeout: soon}\n"),
            Some(Problem::BadDuration { .. })
        ));
    }

    #[test]
    fn number_bounds_are_inclusive() {
        for (key, bounds) in [
            ("max_pinholes", &MAX_PINHOLES),
            ("max_line", &MAX_LINE),
            ("mtu", &MTU),
            ("min_data_port", &MIN_DATA_PORT),
        ] {
            for n in [bounds.min, bounds.max] {
                assert!(ftp(&format!("ftp: {{{key}: {n}}}\n")).is_ok(), "{key}: {n}");
            }
            for n in [bounds.min as i128 - 1, bounds.max as i128 + 1, -1] {
                let found = problem(&format!("ftp: {{{key}: {n}}}\n"));
                assert!(
                    matches!(&found, Some(Problem::NumberOutOfRange { key: k, value, .. })
                        if k == key && *value == n.to_string()),
                    "{key}: {n}: {found:?}"
                );
            }
        }
    }

    #[test]
    fn numbers_must_be_unquoted_whole_numbers() {
        let wrong = |yaml: &str| match problem(yaml) {
            Some(Problem::WrongType { expected, found }) => Some((expected, found)),
            _ => None,
        };
        assert_eq!(
            wrong("ftp: {mtu: \"1500\"}\n"),
            Some(("a whole number of bytes".into(), "`1500`".into()))
        );
        assert_eq!(
            wrong("ftp: {max_pinholes: 2.5}\n"),
            Some(("a whole number".into(), "non-integer number `2.5`".into()))
        );
    }
}
