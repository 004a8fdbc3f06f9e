//! Text parsers for the rule file's value syntaxes: networks, addresses, ports, durations.
//!
//! Owns the little languages inside YAML strings (`10.0.0.0/24`, `6000-6063`,
//! `10.77.0.10:21`, `1h30m`). Each function takes one [`Scalar`] and returns the typed value or
//! the [`Problem`] with it; none knows positions, other keys, or cross-field rules (the compiler
//! adds those). Uses std's strict address parsers, so `10/8` or `010.0.0.1` are refused.

use std::net::IpAddr;
use std::time::Duration;

use ipnetwork::IpNetwork;

use super::error::{escaped, Problem};
use super::value::Scalar;
use crate::engine::settings::PortRange;

/// The text of a string value, or a wrong-type problem naming what was `expected`.
pub fn text<'a>(value: &'a Scalar, expected: &str) -> Result<&'a str, Problem> {
    match value {
        Scalar::Text(text) => Ok(text.trim()),
        other => Err(Problem::WrongType {
            expected: expected.to_owned(),
            found: other.describe(),
        }),
    }
}

/// A network in CIDR notation; a bare address is a /32 (IPv4) or /128 (IPv6) network.
/// Host bits beyond the prefix are an error that suggests the intended network.
pub fn network(value: &Scalar) -> Result<IpNetwork, Problem> {
    let text = text(value, "a network like 10.0.0.0/24")?;
    let bad = |reason: String| Problem::BadNetwork {
        text: escaped(text),
        reason,
    };
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text
        .parse()
        .map_err(|_| bad(format!("`{}` is not an IP address", escaped(addr_text))))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(bad(format!(
                    "prefix length `{}` is not a number from 0 to {max}",
                    escaped(p)
                )))
            }
        },
    };
    let net = IpNetwork::new(addr, prefix).map_err(|err| bad(err.to_string()))?;
    if net.network() != addr {
        return Err(Problem::HostBitsSet {
            text: escaped(text),
            suggestion: format!("{}/{}", net.network(), prefix),
        });
    }
    Ok(net)
}

/// An IP address (IPv4 or IPv6; the caller decides which it accepts).
pub fn address(value: &Scalar) -> Result<IpAddr, Problem> {
    let text = text(value, "an IP address like 198.51.100.1")?;
    text.parse().map_err(|_| Problem::BadAddress {
        text: escaped(text),
        reason: "not an IPv4 or IPv6 address".to_owned(),
    })
}

/// A forward target: `ADDR:PORT`, `ADDR`, `[V6]:PORT` or `V6`. The port, when given, is 1-65535.
pub fn forward_target(value: &Scalar) -> Result<(IpAddr, Option<u16>), Problem> {
    let text = text(value, "an address like 10.77.0.10:21")?;
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok((addr, None));
    }
    let bad = |reason: &str| Problem::BadAddress {
        text: escaped(text),
        reason: reason.to_owned(),
    };
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(bad("not an IP address, nor ADDRESS:PORT"));
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addr = host
        .parse::<IpAddr>()
        .map_err(|_| bad("the part before the port is not an IP address"))?;
    let port = port_number(port).ok_or_else(|| bad("the part after `:` is not a port number"))?;
    match u16::try_from(port) {
        Ok(0) => Err(Problem::PortZero),
        Ok(port) => Ok((addr, Some(port))),
        Err(_) => Err(Problem::PortOutOfRange(port.to_string())),
    }
}

/// A port (`22`, `"22"`) or an inclusive range (`"6000-6063"`). `allow_zero` permits port 0,
/// which rules may match but NAT ranges and forwards cannot use.
pub fn port_range(value: &Scalar, allow_zero: bool) -> Result<PortRange, Problem> {
    let (first, last) = match value {
        Scalar::Int(n) => {
            let port = u16::try_from(*n).map_err(|_| Problem::PortOutOfRange(n.to_string()))?;
            (port, port)
        }
        Scalar::Text(raw) => {
            let text = raw.trim();
            let bad = || Problem::BadPortRange(escaped(text));
            let (first, last) = match text.split_once('-') {
                Some((a, b)) => (port_number(a.trim()), port_number(b.trim())),
                None => (port_number(text), port_number(text)),
            };
            let (Some(first), Some(last)) = (first, last) else {
                return Err(bad());
            };
            for port in [first, last] {
                if port > u32::from(u16::MAX) {
                    return Err(Problem::PortOutOfRange(port.to_string()));
                }
            }
            if first > last {
                return Err(Problem::InvertedRange(escaped(text)));
            }
            // Both are at most 65535 here.
            (first as u16, last as u16)
        }
        Scalar::Other(_) => {
            return Err(Problem::WrongType {
                expected: "a port or a port range like \"6000-6063\"".to_owned(),
                found: value.describe(),
            })
        }
    };
    if first == 0 && !allow_zero {
        return Err(Problem::PortZero);
    }
    Ok(PortRange { first, last })
}

/// A single port (`21`, `"21"`), 1-65535: no ranges, no port 0.
pub fn port(value: &Scalar) -> Result<u16, Problem> {
    let number = match value {
        Scalar::Int(n) => *n,
        Scalar::Text(raw) => {
            let text = raw.trim();
            let n = port_number(text).ok_or_else(|| Problem::BadPort(escaped(text)))?;
            i128::from(n)
        }
        Scalar::Other(_) => {
            return Err(Problem::WrongType {
                expected: "a port number like 21".to_owned(),
                found: value.describe(),
            })
        }
    };
    match u16::try_from(number) {
        Ok(0) => Err(Problem::PortZero),
        Ok(port) => Ok(port),
        Err(_) => Err(Problem::PortOutOfRange(number.to_string())),
    }
}

/// A decimal port number, at most 7 digits (large values are range-checked by the caller).
fn port_number(text: &str) -> Option<u32> {
    let digits_only =
        !text.is_empty() && text.len() <= 7 && text.bytes().all(|b| b.is_ascii_digit());
    digits_only.then(|| text.parse().ok()).flatten()
}

/// A duration: a whole number of seconds, or text made of `<number><unit>` parts with units
/// `s`, `m`, `h`, `d` (`"90s"`, `"2m"`, `"1h30m"`, `"5d"`). Zero is returned as zero.
pub fn duration(value: &Scalar) -> Result<Duration, Problem> {
    let bad = |text: &str, reason: &str| Problem::BadDuration {
        text: escaped(text),
        reason: reason.to_owned(),
    };
    match value {
        Scalar::Int(n) => u64::try_from(*n)
            .map(Duration::from_secs)
            .map_err(|_| bad(&n.to_string(), "a duration cannot be negative")),
        Scalar::Text(raw) => {
            let text = raw.trim();
            duration_text(text).map_err(|reason| bad(text, reason))
        }
        Scalar::Other(_) => Err(Problem::WrongType {
            expected: "a duration like 120 or \"2m\"".to_owned(),
            found: value.describe(),
        }),
    }
}

/// Parses duration text into seconds; the error is the reason.
fn duration_text(text: &str) -> Result<Duration, &'static str> {
    if text.is_empty() {
        return Err("it is empty");
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(digit) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            number = Some(
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(digit)))
                    .ok_or("it is too long")?,
            );
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err("it has a character that is not a digit or a unit (s, m, h, d)"),
        };
        let n = number.take().ok_or("a unit must follow a number")?;
        total = n
            .checked_mul(unit)
            .and_then(|part| total.checked_add(part))
            .ok_or("it is too long")?;
    }
    match number {
        // Plain digits: seconds. Digits after a unit ("1h30") are ambiguous.
        Some(n) if total == 0 && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Duration::from_secs(n))
        }
        Some(_) => Err("the last number has no unit"),
        None => Ok(Duration::from_secs(total)),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn t(text: &str) -> Scalar {
        Scalar::Text(text.to_owned())
    }

    #[test]
    fn networks_parse_strictly() {
        assert_eq!(network(&t("10.0.0.0/24")).map(|n| n.prefix()), Ok(24));
        assert_eq!(network(&t("10.0.0.7")).map(|n| n.prefix()), Ok(32));
        assert_eq!(network(&t("fd00:77::/64")).map(|n| n.prefix()), Ok(64));
        assert_eq!(network(&t("fd00::1")).map(|n| n.prefix()), Ok(128));
        assert_eq!(network(&t("0.0.0.0/0")).map(|n| n.prefix()), Ok(0));
        for bad in [
            "10/8",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "x",
            "",
            "fd00::/129",
        ] {
            assert!(
                matches!(network(&t(bad)), Err(Problem::BadNetwork { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            network(&Scalar::Int(10)),
            Err(Problem::WrongType { .. })
        ));
    }

    #[test]
    fn host_bits_suggest_the_network() {
        let err = network(&t("10.0.0.1/24"));
        assert_eq!(
            err,
            Err(Problem::HostBitsSet {
                text: "10.0.0.1/24".into(),
                suggestion: "10.0.0.0/24".into()
            })
        );
        let v6 = network(&t("fd00::1/64"));
        assert!(
            matches!(v6, Err(Problem::HostBitsSet { suggestion, .. }) if suggestion == "fd00::/64")
        );
    }

    #[test]
    fn port_ranges() {
        let r = |f, l| Ok(PortRange { first: f, last: l });
        assert_eq!(port_range(&Scalar::Int(22), false), r(22, 22));
        assert_eq!(port_range(&t("22"), false), r(22, 22));
        assert_eq!(port_range(&t("6000-6063"), false), r(6000, 6063));
        assert_eq!(port_range(&t("1 - 2"), false), r(1, 2));
        assert_eq!(port_range(&t("0-1023"), true), r(0, 1023));
        assert_eq!(port_range(&t("0-1023"), false), Err(Problem::PortZero));
        assert_eq!(port_range(&Scalar::Int(0), false), Err(Problem::PortZero));
        assert_eq!(
            port_range(&t("9000-8000"), false),
            Err(Problem::InvertedRange("9000-8000".into()))
        );
        assert_eq!(
            port_range(&Scalar::Int(70000), true),
            Err(Problem::PortOutOfRange("70000".into()))
        );
        assert_eq!(
            port_range(&t("1-70000"), true),
            Err(Problem::PortOutOfRange("70000".into()))
        );
        for bad in ["", "-", "1-", "-5", "a-b", "1-2-3", "99999999999", "+1"] {
            assert!(
                matches!(port_range(&t(bad), true), Err(Problem::BadPortRange(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            port_range(&Scalar::Int(-1), true),
            Err(Problem::PortOutOfRange(_))
        ));
    }

    #[test]
    fn single_ports() {
        assert_eq!(port(&Scalar::Int(21)), Ok(21));
        assert_eq!(port(&t(" 2121 ")), Ok(2121));
        assert_eq!(port(&Scalar::Int(65535)), Ok(65535));
        assert_eq!(port(&Scalar::Int(0)), Err(Problem::PortZero));
        assert_eq!(port(&t("0")), Err(Problem::PortZero));
        assert_eq!(
            port(&Scalar::Int(65536)),
            Err(Problem::PortOutOfRange("65536".into()))
        );
        assert_eq!(
            port(&t("70000")),
            Err(Problem::PortOutOfRange("70000".into()))
        );
        assert_eq!(
            port(&Scalar::Int(-21)),
            Err(Problem::PortOutOfRange("-21".into()))
        );
        for bad in ["", "21-22", "ftp", "+21", "99999999999"] {
            assert_eq!(port(&t(bad)), Err(Problem::BadPort(bad.into())), "{bad}");
        }
        let list = Scalar::Other("a list".into());
        assert!(matches!(port(&list), Err(Problem::WrongType { .. })));
    }

    #[test]
    fn forward_targets() {
        let v4 = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(
            forward_target(&t("10.77.0.10:21")).ok(),
            v4("10.77.0.10").map(|a| (a, Some(21)))
        );
        assert_eq!(
            forward_target(&t("10.77.0.10")).ok(),
            v4("10.77.0.10").map(|a| (a, None))
        );
        assert_eq!(
            forward_target(&t("[fd00::1]:21")).ok(),
            v4("fd00::1").map(|a| (a, Some(21)))
        );
        assert_eq!(forward_target(&t("10.77.0.10:0")), Err(Problem::PortZero));
        assert_eq!(
            forward_target(&t("10.77.0.10:70000")),
            Err(Problem::PortOutOfRange("70000".into()))
        );
        for bad in [
            "10.77.0:21",
            "host:21",
            "10.77.0.10:",
            "10.77.0.10:x",
            "nothing",
        ] {
            assert!(
                matches!(forward_target(&t(bad)), Err(Problem::BadAddress { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations() {
        let secs = |n| Ok(Duration::from_secs(n));
        assert_eq!(duration(&Scalar::Int(90)), secs(90));
        assert_eq!(duration(&t("90")), secs(90));
        assert_eq!(duration(&t("90s")), secs(90));
        assert_eq!(duration(&t("2m")), secs(120));
        assert_eq!(duration(&t("1h")), secs(3600));
        assert_eq!(duration(&t("5d")), secs(432_000));
        assert_eq!(duration(&t("1h30m")), secs(5400));
        assert_eq!(duration(&t("0s")), secs(0));
        for bad in [
            "",
            "5x",
            "h",
            "1h30",
            "1.5h",
            "99999999999999999999s",
            "9999999999999999d",
        ] {
            assert!(
                matches!(duration(&t(bad)), Err(Problem::BadDuration { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            duration(&Scalar::Int(-1)),
            Err(Problem::BadDuration { .. })
        ));
        let list = Scalar::Other("a list".into());
        assert!(matches!(duration(&list), Err(Problem::WrongType { .. })));
    }
}
