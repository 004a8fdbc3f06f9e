//! Validation and conversion of a parsed rule file into [`EngineSettings`].
//!
//! Owns the order of checks and the cross-field rules for the top-level keys: inside networks,
//! the outside address, the NAT port range, policy defaults, timeouts and limits. Forwards,
//! filter rules and the FTP section have their own files (`forwards`, `rules`, `ftp`). Every
//! error it returns carries the position of the offending value; it never reads files and
//! never panics on input.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnetwork::IpNetwork;
use serde_saphyr::{Location, Spanned};

use super::error::{ConfigError, Problem};
use super::parse;
use super::schema::{ActionSpec, LimitsSpec, RuleFile, TimeoutsSpec};
use super::value::{Items, Scalar};
use super::{forwards, ftp, limits, rules, tun};
use crate::engine::settings::{Action, EngineSettings, Limits, Timeouts};

/// What every check needs to report an error: the file's name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cx<'a> {
    /// Name of the file being compiled, as it appears in errors and rule origins.
    pub file: &'a str,
}

impl Cx<'_> {
    /// An error at `location`.
    pub fn error(&self, location: Location, problem: Problem) -> ConfigError {
        ConfigError::at(self.file, location, problem)
    }

    /// Puts `location` on a parser's problem.
    pub fn at<T>(&self, location: Location, result: Result<T, Problem>) -> Result<T, ConfigError> {
        result.map_err(|problem| self.error(location, problem))
    }

    /// `FILE:LINE:COLUMN` of a location, as a rule's origin.
    pub fn origin(&self, location: Location) -> String {
        format!("{}:{}:{}", self.file, location.line(), location.column())
    }

    /// Each element of a one-or-many value with its own position. An explicitly empty list
    /// is an error named after `key` unless `allow_empty`.
    pub fn items<'v>(
        &self,
        value: &'v Spanned<Items>,
        key: &str,
        allow_empty: bool,
    ) -> Result<Vec<(&'v Scalar, Location)>, ConfigError> {
        match &value.value {
            Items::One(scalar) => Ok(vec![(scalar, value.referenced)]),
            Items::Many(list) if list.is_empty() && !allow_empty => {
                Err(self.error(value.referenced, Problem::EmptyList(key.to_owned())))
            }
            Items::Many(list) => Ok(list.iter().map(|s| (&s.value, s.referenced)).collect()),
        }
    }

    /// A list of networks.
    pub fn networks(
        &self,
        value: &Spanned<Items>,
        key: &str,
        allow_empty: bool,
    ) -> Result<Vec<IpNetwork>, ConfigError> {
        self.items(value, key, allow_empty)?
            .into_iter()
            .map(|(scalar, location)| self.at(location, parse::network(scalar)))
            .collect()
    }
}

/// Checks `spec` and builds the settings; `file` names the source in errors and rule origins.
/// The whole rule file for a running gateway: the engine's settings and the TUN device's.
pub(super) fn compile_gateway(file: &str, spec: &RuleFile) -> Result<super::Gateway, ConfigError> {
    let engine = compile(file, spec)?;
    let tun = match &spec.tun {
        Some(section) => tun::compile(Cx { file }, section)?,
        None => tun::TunSettings::default(),
    };
    let operations = super::operations::compile(Cx { file }, spec)?;
    Ok(super::Gateway {
        engine,
        tun,
        operations,
    })
}

pub(super) fn compile(file: &str, spec: &RuleFile) -> Result<EngineSettings, ConfigError> {
    let cx = Cx { file };
    let mut settings = EngineSettings::default();
    if let Some(inside) = &spec.inside {
        settings.inside_networks = cx.networks(inside, "inside", true)?;
    }
    if let Some(address) = &spec.outside_address {
        settings.outside_address = Some(outside_address(cx, address, spec, &settings)?);
    }
    if let Some(ports) = &spec.nat_ports {
        settings.nat_ports = cx.at(ports.referenced, parse::port_range(&ports.value, false))?;
    }
    if let Some(list) = &spec.forwards {
        settings.forwards = forwards::compile(cx, list, &settings)?;
    }
    if let Some(policy) = &spec.policy {
        if let Some(action) = policy.outbound {
            settings.policy.default_outbound = action_of(action);
        }
        if let Some(action) = policy.inbound {
            settings.policy.default_inbound = action_of(action);
        }
    }
    if let Some(list) = &spec.rules {
        settings.policy.rules = list
            .iter()
            .map(|rule| rules::compile(cx, rule))
            .collect::<Result<_, _>>()?;
    }
    if let Some(timeouts) = &spec.timeouts {
        apply_timeouts(cx, timeouts, &mut settings.timeouts)?;
    }
    if let Some(limits) = &spec.limits {
        apply_limits(cx, limits, &mut settings.limits)?;
    }
    if let Some(section) = &spec.ftp {
        ftp::apply(cx, section, &mut settings.ftp)?;
    }
    Ok(settings)
}

/// The engine's action for an action word.
pub(super) fn action_of(spec: ActionSpec) -> Action {
    match spec {
        ActionSpec::Accept => Action::Accept,
        ActionSpec::Drop => Action::Drop,
        ActionSpec::Reject => Action::Reject,
    }
}

/// Parses and checks `outside_address` against the (already compiled) inside networks.
fn outside_address(
    cx: Cx<'_>,
    value: &Spanned<Scalar>,
    spec: &RuleFile,
    settings: &EngineSettings,
) -> Result<Ipv4Addr, ConfigError> {
    let at = value.referenced;
    let address = match cx.at(at, parse::address(&value.value))? {
        IpAddr::V4(address) => address,
        IpAddr::V6(address) => {
            return Err(cx.error(at, Problem::OutsideAddressIpv6(address.to_string())))
        }
    };
    if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
        return Err(cx.error(at, Problem::OutsideAddressNotUnicast(address.to_string())));
    }
    let inside_at = spec.inside.as_ref().map(|inside| inside.referenced);
    let networks = &settings.inside_networks;
    if networks.is_empty() {
        return Err(cx.error(inside_at.unwrap_or(at), Problem::NoInsideNetworks));
    }
    if let Some(network) = networks.iter().find(|n| n.contains(IpAddr::V4(address))) {
        let problem = Problem::OutsideAddressInside {
            address: address.to_string(),
            network: network.to_string(),
        };
        return Err(cx.error(at, problem));
    }
    if !networks.iter().any(IpNetwork::is_ipv4) {
        return Err(cx.error(inside_at.unwrap_or(at), Problem::NoIpv4InsideNetwork));
    }
    Ok(address)
}

/// Overrides the timeouts the file sets; each must parse and be non-zero.
fn apply_timeouts(cx: Cx<'_>, spec: &TimeoutsSpec, out: &mut Timeouts) -> Result<(), ConfigError> {
    let fields: [(&str, &Option<Spanned<Scalar>>, &mut Duration); 11] = [
        ("tcp_syn_sent", &spec.tcp_syn_sent, &mut out.tcp_syn_sent),
        ("tcp_syn_recv", &spec.tcp_syn_recv, &mut out.tcp_syn_recv),
        (
            "tcp_established",
            &spec.tcp_established,
            &mut out.tcp_established,
        ),
        ("tcp_fin_wait", &spec.tcp_fin_wait, &mut out.tcp_fin_wait),
        (
            "tcp_close_wait",
            &spec.tcp_close_wait,
            &mut out.tcp_close_wait,
        ),
        ("tcp_last_ack", &spec.tcp_last_ack, &mut out.tcp_last_ack),
        ("tcp_time_wait", &spec.tcp_time_wait, &mut out.tcp_time_wait),
        ("tcp_close", &spec.tcp_close, &mut out.tcp_close),
        ("udp_unreplied", &spec.udp_unreplied, &mut out.udp_unreplied),
        ("udp_replied", &spec.udp_replied, &mut out.udp_replied),
        ("icmp", &spec.icmp, &mut out.icmp),
    ];
    for (name, value, slot) in fields {
        let Some(value) = value else { continue };
        let duration = cx.at(value.referenced, parse::duration(&value.value))?;
        if duration.is_zero() {
            return Err(cx.error(value.referenced, Problem::ZeroTimeout(name.to_owned())));
        }
        if duration > limits::MAX_TIMEOUT {
            let problem = Problem::TimeoutTooLong {
                key: name.to_owned(),
                seconds: duration.as_secs(),
                max: limits::MAX_TIMEOUT.as_secs(),
            };
            return Err(cx.error(value.referenced, problem));
        }
        *slot = duration;
    }
    Ok(())
}

/// Overrides the limits the file sets.
fn apply_limits(cx: Cx<'_>, spec: &LimitsSpec, out: &mut Limits) -> Result<(), ConfigError> {
    if let Some(value) = &spec.max_flows {
        let at = value.referenced;
        let count = match &value.value {
            Scalar::Int(n) if *n <= 0 => return Err(cx.error(at, Problem::ZeroMaxFlows)),
            Scalar::Int(n) => *n,
            other => {
                let problem = Problem::WrongType {
                    expected: "a whole number of flows".to_owned(),
                    found: other.describe(),
                };
                return Err(cx.error(at, problem));
            }
        };
        out.max_flows = match usize::try_from(count) {
            Ok(n) if n <= limits::MAX_FLOWS => n,
            _ => return Err(cx.error(at, Problem::MaxFlowsTooLarge(count.to_string()))),
        };
    }
    if let Some(pickup) = spec.tcp_pickup {
        out.tcp_pickup = pickup;
    }
    limits::apply(cx, spec, out)
}

/// A whole-number key and the inclusive range it allows.
pub(super) struct Bounds {
    /// The key as written in the file.
    pub key: &'static str,
    /// Smallest value allowed.
    pub min: usize,
    /// Largest value allowed.
    pub max: usize,
    /// What the number counts, with a leading space (` bytes`), or empty.
    pub unit: &'static str,
    /// The kind of value needed, for a wrong-type error.
    pub expected: &'static str,
}

/// An MTU: from the IPv4 minimum reassembly size to the largest IP packet.
pub(super) const MTU: Bounds = Bounds {
    key: "mtu",
    min: 576,
    max: 65535,
    unit: " bytes",
    expected: "a whole number of bytes",
};

/// An unquoted whole number within `bounds`.
pub(super) fn whole_number(
    cx: Cx<'_>,
    value: &Spanned<Scalar>,
    bounds: &Bounds,
) -> Result<usize, ConfigError> {
    let at = value.referenced;
    let Scalar::Int(number) = &value.value else {
        let problem = Problem::WrongType {
            expected: bounds.expected.to_owned(),
            found: value.value.describe(),
        };
        return Err(cx.error(at, problem));
    };
    match usize::try_from(*number) {
        Ok(n) if (bounds.min..=bounds.max).contains(&n) => Ok(n),
        _ => {
            let problem = Problem::NumberOutOfRange {
                key: bounds.key.to_owned(),
                value: number.to_string(),
                allowed: format!("{} to {}{}", bounds.min, bounds.max, bounds.unit),
            };
            Err(cx.error(at, problem))
        }
    }
}

#[cfg(test)]
mod test {
    use super::super::load_str;
    use super::*;

    #[test]
    fn empty_file_is_the_default_settings() {
        assert_eq!(load_str("e.yaml", "").ok(), Some(EngineSettings::default()));
        assert_eq!(
            load_str("e.yaml", "{}\n").ok(),
            Some(EngineSettings::default())
        );
    }

    #[test]
    fn top_level_keys_compile() {
        let yaml = "inside: [10.77.0.0/24, \"fd00:77::/64\"]\noutside_address: 198.51.100.1\n\
                    nat_ports: 20000-59999\npolicy: {outbound: drop, inbound: reject}\n\
                    timeouts: {tcp_established: 1h30m, icmp: 10}\nlimits: {max_flows: 5, tcp_pickup: true}\n";
        let settings = match load_str("t.yaml", yaml) {
            Ok(settings) => settings,
            Err(err) => panic!("{err}"),
        };
        assert_eq!(settings.inside_networks.len(), 2);
        assert_eq!(
            settings.outside_address,
            Some(Ipv4Addr::new(198, 51, 100, 1))
        );
        assert_eq!(
            (settings.nat_ports.first, settings.nat_ports.last),
            (20000, 59999)
        );
        assert_eq!(settings.policy.default_outbound, Action::Drop);
        assert_eq!(settings.policy.default_inbound, Action::Reject);
        assert_eq!(settings.timeouts.tcp_established, Duration::from_secs(5400));
        assert_eq!(settings.timeouts.icmp, Duration::from_secs(10));
        assert_eq!(settings.timeouts.tcp_close, Timeouts::default().tcp_close);
        assert_eq!(
            settings.limits,
            Limits {
                max_flows: 5,
                tcp_pickup: true,
                ..Limits::default()
            }
        );
    }

    #[test]
    fn nat_ports_alone_are_accepted() {
        let settings = load_str("n.yaml", "nat_ports: 40000\n");
        assert_eq!(settings.map(|s| s.nat_ports.len()).ok(), Some(1));
    }

    #[test]
    fn inside_only_ipv6_with_outside_address_is_refused() {
        let err = load_str(
            "v.yaml",
            "inside: [\"fd00::/64\"]\noutside_address: 192.0.2.1\n",
        );
        let problem = err.as_ref().err().and_then(ConfigError::problem);
        assert_eq!(problem, Some(&Problem::NoIpv4InsideNetwork));
        assert_eq!(err.err().and_then(|e| e.position()), Some((1, 9)));
    }

    #[test]
    fn outside_address_must_be_unicast() {
        let err = load_str("u.yaml", "inside: 10.0.0.0/8\noutside_address: 0.0.0.0\n");
        let problem = err.as_ref().err().and_then(ConfigError::problem);
        assert!(matches!(
            problem,
            Some(Problem::OutsideAddressNotUnicast(_))
        ));
    }

    #[test]
    fn max_flows_must_be_a_number() {
        let err = load_str("m.yaml", "limits:\n  max_flows: lots\n");
        assert_eq!(err.as_ref().err().and_then(|e| e.position()), Some((2, 14)));
        assert!(matches!(
            err.as_ref().err().and_then(ConfigError::problem),
            Some(Problem::WrongType { .. })
        ));
    }
}
