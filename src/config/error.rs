//! Configuration errors: what went wrong in a rule file, and exactly where.
//!
//! Owns [`ConfigError`] (the one error type `crate::config` returns) and [`Problem`] (the
//! catalogue of things that can be wrong at a position), plus the translation of the YAML
//! parser's errors into that catalogue. Every error that concerns the file's content displays as
//! `FILE:LINE:COLUMN: message`; an error reading the file names the file. It never decides
//! whether something is an error: the schema and the compiler do that.

use std::fmt;
use std::path::PathBuf;

use serde_saphyr::{Location, MessageFormatter, UserMessageFormatter};

/// Why a rule file could not be turned into engine settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{}: cannot read rule file: {source}", path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Something is wrong at a position in the file: YAML syntax, shape or meaning.
    #[error("{file}:{line}:{column}: {problem}")]
    At {
        /// Name of the file (or source) the text came from.
        file: String,
        /// 1-based line of the offending text.
        line: u64,
        /// 1-based column (in characters) of the offending text.
        column: u64,
        /// What is wrong there.
        problem: Problem,
    },
}

impl ConfigError {
    /// An error at a parser location. Unknown locations (line 0) are reported at 1:1.
    pub(crate) fn at(file: &str, location: Location, problem: Problem) -> Self {
        let (line, column) = if location.line() == 0 {
            (1, 1)
        } else {
            (location.line(), location.column().max(1))
        };
        ConfigError::At {
            file: file.to_owned(),
            line,
            column,
            problem,
        }
    }

    /// Translates a YAML parser error (syntax, unknown key, wrong type...) for `file`.
    pub(crate) fn from_yaml(file: &str, err: &serde_saphyr::Error) -> Self {
        let location = err.location().unwrap_or(Location::UNKNOWN);
        ConfigError::at(file, location, Problem::from_yaml(err))
    }

    /// Line and column of the error, when it concerns a position in the file.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::At { line, column, .. } => Some((*line, *column)),
        }
    }

    /// What is wrong, when the error concerns a position in the file.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::At { problem, .. } => Some(problem),
        }
    }
}

/// What is wrong at a position in a rule file. Texts quoted from the file are stored with
/// control characters escaped, so they are safe to print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The YAML itself is malformed (indentation, quotes, brackets...), as the parser put it.
    #[error("invalid YAML: {0}")]
    Syntax(String),
    /// A key the schema does not know.
    #[error("unknown key `{key}` (expected one of: {expected})")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The keys allowed at this place, comma-separated.
        expected: String,
    },
    /// A required key is absent from the mapping that starts here.
    #[error("missing required key `{0}`")]
    MissingKey(String),
    /// A word that is not one of the allowed choices (e.g. `action: allow`).
    #[error("unknown value `{value}` (expected one of: {expected})")]
    UnknownChoice {
        /// The value as written.
        value: String,
        /// The allowed values, comma-separated.
        expected: String,
    },
    /// A value of the wrong kind (a list where a string is needed, a float for a port...).
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the schema needs here.
        expected: String,
        /// What the file has, described.
        found: String,
    },
    /// Text that is not a network in CIDR notation (or a bare address).
    #[error("invalid network `{text}`: {reason}")]
    BadNetwork {
        /// The text as written.
        text: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A CIDR whose address has bits set beyond the prefix.
    #[error("network `{text}` has host bits set; did you mean `{suggestion}`?")]
    HostBitsSet {
        /// The text as written.
        text: String,
        /// The network with the host bits cleared.
        suggestion: String,
    },
    /// Text that is not an IP address (with an optional port where one is allowed).
    #[error("invalid address `{text}`: {reason}")]
    BadAddress {
        /// The text as written.
        text: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Text that is neither a port number nor a `FIRST-LAST` range.
    #[error(
        "invalid port or port range `{0}` (write a number like 22 or a range like \"6000-6063\")"
    )]
    BadPortRange(String),
    /// A port number beyond 65535 (or negative).
    #[error("port {0} is out of range (ports are 1-65535)")]
    PortOutOfRange(String),
    /// Port 0 where a real port is needed (NAT range, forwards).
    #[error("port 0 is not a usable port here (ports are 1-65535)")]
    PortZero,
    /// A range whose first port is above its last.
    #[error("port range `{0}` is inverted: the first port must not be greater than the last")]
    InvertedRange(String),
    /// Two forwards of one protocol share an outside port.
    #[error("{protocol} forward of port(s) {ports} overlaps the {protocol} forward of port(s) {first_ports} at line {first_line}")]
    ForwardOverlap {
        /// `tcp` or `udp`.
        protocol: String,
        /// This forward's outside ports.
        ports: String,
        /// The earlier forward's outside ports.
        first_ports: String,
        /// Line of the earlier forward.
        first_line: u64,
    },
    /// A forward's inside port range would need ports above 65535.
    #[error("forward of {count} port(s) starting at inside port {inside_port} would run past port 65535")]
    ForwardPastEnd {
        /// Number of ports forwarded.
        count: u32,
        /// First inside port.
        inside_port: u16,
    },
    /// A forward's target is not in any inside network.
    #[error("forward target {address} is not inside any inside network ({networks})")]
    ForwardNotInside {
        /// The target address.
        address: String,
        /// The inside networks, comma-separated (or `none`).
        networks: String,
    },
    /// A forward's target is IPv6: the gateway does no IPv6 NAT.
    #[error("forward target `{0}` is IPv6; forwards are IPv4 only (there is no IPv6 NAT)")]
    ForwardIpv6(String),
    /// Forwards are given but there is no outside address to reach them on.
    #[error("forwards need `outside_address` (the address they are reached on), which is not set")]
    ForwardsNeedOutsideAddress,
    /// The outside address lies in an inside network.
    #[error("outside_address {address} lies in the inside network {network}")]
    OutsideAddressInside {
        /// The outside address.
        address: String,
        /// The inside network containing it.
        network: String,
    },
    /// The outside address is IPv6: the gateway does no IPv6 NAT.
    #[error("outside_address `{0}` is IPv6; only an IPv4 outside address is supported (there is no IPv6 NAT)")]
    OutsideAddressIpv6(String),
    /// The outside address is unspecified, broadcast or multicast.
    #[error("outside_address {0} is not a unicast address")]
    OutsideAddressNotUnicast(String),
    /// `outside_address` is set but there is no inside network to translate.
    #[error("outside_address is set but no inside networks are given (add `inside: [...]`)")]
    NoInsideNetworks,
    /// `outside_address` is set but every inside network is IPv6, so nothing can be masqueraded.
    #[error(
        "outside_address is set but no inside network is IPv4, so nothing would be translated"
    )]
    NoIpv4InsideNetwork,
    /// A list that is present but empty, where an empty list would silently mean "any".
    #[error("`{0}` is an empty list; omit the key to match anything")]
    EmptyList(String),
    /// A rule restricts ports but its protocol has none (any or icmp).
    #[error("`{key}` needs `proto: tcp` or `proto: udp` (this rule's proto is {protocol})")]
    PortsNeedTransport {
        /// `src_ports` or `dst_ports`.
        key: String,
        /// The rule's protocol.
        protocol: String,
    },
    /// Text that is not a duration.
    #[error("invalid duration `{text}`: {reason} (write seconds like 90, or \"90s\", \"2m\", \"1h\", \"5d\", \"1h30m\")")]
    BadDuration {
        /// The text as written.
        text: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A timeout of zero.
    #[error("timeout `{0}` must be greater than zero")]
    ZeroTimeout(String),
    /// `max_flows: 0`, or a negative number.
    #[error("max_flows must be at least 1")]
    ZeroMaxFlows,
    /// A timeout longer than the longest the engine accepts.
    #[error("timeout `{key}` of {seconds} s is too long: it must be at most {max} s")]
    TimeoutTooLong {
        /// The key, as written in the file.
        key: String,
        /// The timeout asked for, in seconds.
        seconds: u64,
        /// The longest allowed, in seconds.
        max: u64,
    },
    /// `max_flows` larger than this machine can address.
    #[error("max_flows {0} is too large: it must be at most 16777216")]
    MaxFlowsTooLarge(String),
    /// Text where a single port number is needed (an FTP control port): not a number, or a range.
    #[error("invalid port `{0}` (write a single port number like 21)")]
    BadPort(String),
    /// An FTP control port listed twice.
    #[error(
        "control port {port} is listed twice (first at line {first_line}, column {first_column})"
    )]
    DuplicateControlPort {
        /// The repeated port.
        port: u16,
        /// Line of its first occurrence.
        first_line: u64,
        /// Column of its first occurrence.
        first_column: u64,
    },
    /// A pinhole timeout longer than netfilter's expectation timeout (300 s); holds seconds.
    #[error("pinhole_timeout {0} s is too long: it must be at most 300 s (netfilter's expectation timeout)")]
    PinholeTimeoutTooLong(u64),
    /// A TUN interface name that Linux would refuse (1-15 characters of letters, digits,
    /// `-`, `_`, `.`).
    #[error(
        "tun name `{0}` is not a valid interface name (1-15 letters, digits, `-`, `_` or `.`)"
    )]
    BadInterfaceName(String),
    /// A value of the `interfaces`, `control` or `metrics` sections that cannot be used.
    #[error("{0}")]
    BadOperationsSetting(String),
    /// A whole number outside the range its key allows (`max_pinholes`, `min_data_port`, ...).
    #[error("`{key}` must be from {allowed}, not {value}")]
    NumberOutOfRange {
        /// The key, as written in the file.
        key: String,
        /// The number as written.
        value: String,
        /// The allowed range in words (`1 to 64`, `64 to 4096 bytes`).
        allowed: String,
    },
}

impl Problem {
    /// Classifies a YAML parser error; anything not about the schema counts as syntax.
    fn from_yaml(err: &serde_saphyr::Error) -> Self {
        let mut inner = err;
        while let serde_saphyr::Error::AliasError { error, .. }
        | serde_saphyr::Error::WithSnippet { error, .. } = inner
        {
            inner = error;
        }
        match inner {
            serde_saphyr::Error::SerdeUnknownField {
                field, expected, ..
            } => Problem::UnknownKey {
                key: escaped(field),
                expected: expected.join(", "),
            },
            serde_saphyr::Error::SerdeMissingField { field, .. } => {
                Problem::MissingKey((*field).to_owned())
            }
            serde_saphyr::Error::SerdeUnknownVariant {
                variant, expected, ..
            } => Problem::UnknownChoice {
                value: escaped(variant),
                expected: expected.join(", "),
            },
            serde_saphyr::Error::SerdeInvalidType {
                unexpected,
                expected,
                ..
            } => Problem::WrongType {
                expected: escaped(expected),
                found: escaped(unexpected),
            },
            other => Problem::Syntax(escaped(&UserMessageFormatter.format_message(other))),
        }
    }
}

/// `text` with control characters escaped (`\n`, `\u{1b}`), safe to print on a terminal.
pub(crate) fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Joins displayable items with `", "`, or `none` for an empty list.
pub(crate) fn join<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn display_names_file_line_and_column() {
        let err = ConfigError::At {
            file: "rules/x.yaml".into(),
            line: 3,
            column: 7,
            problem: Problem::PortZero,
        };
        assert!(err.to_string().starts_with("rules/x.yaml:3:7: port 0"));
        assert_eq!(err.position(), Some((3, 7)));
    }

    #[test]
    fn read_error_names_the_file() {
        let err = ConfigError::Read {
            path: PathBuf::from("/nope/rules.yaml"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(err.to_string().starts_with("/nope/rules.yaml: cannot read"));
        assert_eq!(err.position(), None);
    }

    #[test]
    fn unknown_location_falls_back_to_first_line() {
        let err = ConfigError::at("f", Location::UNKNOWN, Problem::ZeroMaxFlows);
        assert_eq!(err.position(), Some((1, 1)));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escaped("a\nb\u{1b}"), "a\\nb\\u{1b}");
        assert_eq!(escaped("plain"), "plain");
    }

    #[test]
    fn join_lists_or_says_none() {
        assert_eq!(join::<u8>(&[]), "none");
        assert_eq!(join(&[1, 2]), "1, 2");
    }
}
