//! Compilation of the `ftp` section into [`FtpSettings`].
//!
//! Owns the FTP ALG checks: control ports are single real ports (1-65535), each listed once,
//! and an empty list turns the ALG off; the pinhole timeout is non-zero and at most netfilter's
//! expectation timeout (300 s); `max_pinholes`, `max_line` and `mtu` are whole numbers within
//! their ranges. Keys the file omits keep their defaults. It looks at no other section.

use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::compile::{whole_number, Bounds, Cx, MTU};
use super::error::{ConfigError, Problem};
use super::parse;
use super::schema::FtpSpec;
use super::value::{Items, Scalar};
use crate::engine::settings::FtpSettings;

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
    Ok(())
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
    }

    #[test]
    fn every_key_compiles() {
        let yaml = "ftp:\n  control_ports: [21, \"2121\"]\n  pinhole_timeout: 1m30s\n  \
                    max_pinholes: 64\n  max_line: 4096\n  mtu: 576\n";
        assert_eq!(
            ftp(yaml).ok(),
            Some(FtpSettings {
                control_ports: vec![21, 2121],
                pinhole_timeout: Duration::from_secs(90),
                max_pinholes: 64,
                max_line: 4096,
                mtu: 576,
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
