//! Compilation of the `forwards` list into [`PortForward`]s.
//!
//! Owns the forward checks: an outside address must exist, ports are real (1-65535), no two
//! forwards of one protocol share an outside port, the inside range stays within 65535, and
//! the target is an IPv4 address inside an inside network. It relies on the inside networks
//! and outside address having been compiled already, and never looks at filter rules.

use std::net::IpAddr;

use serde_saphyr::Spanned;

use super::compile::Cx;
use super::error::{join, ConfigError, Problem};
use super::parse;
use super::schema::{ForwardProtoSpec, ForwardSpec};
use crate::engine::settings::{EngineSettings, ForwardProtocol, PortForward};

/// Compiles `specs` in order against the already-compiled addresses in `settings`.
pub(super) fn compile(
    cx: Cx<'_>,
    specs: &[Spanned<ForwardSpec>],
    settings: &EngineSettings,
) -> Result<Vec<PortForward>, ConfigError> {
    let Some(first) = specs.first() else {
        return Ok(Vec::new());
    };
    if settings.outside_address.is_none() {
        return Err(cx.error(first.referenced, Problem::ForwardsNeedOutsideAddress));
    }
    // Each compiled forward with the line it came from, for overlap messages.
    let mut done: Vec<(PortForward, u64)> = Vec::with_capacity(specs.len());
    for spec in specs {
        let forward = one(cx, &spec.value, settings, &done)?;
        done.push((forward, spec.referenced.line()));
    }
    Ok(done.into_iter().map(|(forward, _)| forward).collect())
}

/// Compiles one forward, checking it against the `earlier` ones.
fn one(
    cx: Cx<'_>,
    spec: &ForwardSpec,
    settings: &EngineSettings,
    earlier: &[(PortForward, u64)],
) -> Result<PortForward, ConfigError> {
    let protocol = match spec.proto {
        ForwardProtoSpec::Tcp => ForwardProtocol::Tcp,
        ForwardProtoSpec::Udp => ForwardProtocol::Udp,
    };
    let ports_at = spec.port.referenced;
    let outside_ports = cx.at(ports_at, parse::port_range(&spec.port.value, false))?;
    let clash = earlier
        .iter()
        .find(|(f, _)| f.protocol == protocol && f.outside_ports.overlaps(&outside_ports));
    if let Some((first, first_line)) = clash {
        let problem = Problem::ForwardOverlap {
            protocol: protocol_name(protocol).to_owned(),
            ports: outside_ports.to_string(),
            first_ports: first.outside_ports.to_string(),
            first_line: *first_line,
        };
        return Err(cx.error(ports_at, problem));
    }

    let to_at = spec.to.referenced;
    let (address, port) = cx.at(to_at, parse::forward_target(&spec.to.value))?;
    let IpAddr::V4(inside_address) = address else {
        return Err(cx.error(to_at, Problem::ForwardIpv6(address.to_string())));
    };
    let inside_port = port.unwrap_or(outside_ports.first);
    if u32::from(inside_port) + outside_ports.len() - 1 > u32::from(u16::MAX) {
        let problem = Problem::ForwardPastEnd {
            count: outside_ports.len(),
            inside_port,
        };
        return Err(cx.error(to_at, problem));
    }
    if !settings.is_inside(address) {
        let problem = Problem::ForwardNotInside {
            address: address.to_string(),
            networks: join(&settings.inside_networks),
        };
        return Err(cx.error(to_at, problem));
    }
    Ok(PortForward {
        protocol,
        outside_ports,
        inside_address,
        inside_port,
    })
}

/// The rule-file word for a forward protocol.
pub(crate) fn protocol_name(protocol: ForwardProtocol) -> &'static str {
    match protocol {
        ForwardProtocol::Tcp => "tcp",
        ForwardProtocol::Udp => "udp",
    }
}

#[cfg(test)]
mod test {
    use std::net::Ipv4Addr;

    use super::super::load_str;
    use super::*;
    use crate::engine::settings::PortRange;

    const HEAD: &str = "inside: 10.0.0.0/24\noutside_address: 192.0.2.1\nforwards:\n";

    fn forwards(body: &str) -> Result<Vec<PortForward>, ConfigError> {
        load_str("f.yaml", &format!("{HEAD}{body}")).map(|s| s.forwards)
    }

    #[test]
    fn ranges_and_default_inside_port() {
        let body = "  - {proto: tcp, port: 30000-30009, to: \"10.0.0.5:40000\"}\n  \
                    - {proto: udp, port: 53, to: 10.0.0.5}\n  \
                    - {proto: udp, port: 30000, to: 10.0.0.6:1}\n";
        let list = match forwards(body) {
            Ok(list) => list,
            Err(err) => panic!("{err}"),
        };
        assert_eq!(list.len(), 3);
        assert_eq!(
            list[0].outside_ports,
            PortRange {
                first: 30000,
                last: 30009
            }
        );
        assert_eq!(list[0].inside_port, 40000);
        assert_eq!(list[1].inside_address, Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(list[1].inside_port, 53);
        assert_eq!(list[2].protocol, ForwardProtocol::Udp);
    }

    #[test]
    fn inside_range_may_end_exactly_at_65535() {
        let body = "  - {proto: tcp, port: 100-109, to: \"10.0.0.5:65526\"}\n";
        assert!(forwards(body).is_ok());
        let body = "  - {proto: tcp, port: 100-109, to: \"10.0.0.5:65527\"}\n";
        let problem = forwards(body).err().and_then(|e| e.problem().cloned());
        assert!(matches!(
            problem,
            Some(Problem::ForwardPastEnd { count: 10, .. })
        ));
    }

    #[test]
    fn ipv6_targets_are_refused() {
        let body = "  - {proto: tcp, port: 80, to: \"[fd00::1]:80\"}\n";
        let problem = forwards(body).err().and_then(|e| e.problem().cloned());
        assert!(matches!(problem, Some(Problem::ForwardIpv6(_))));
    }

    #[test]
    fn port_zero_target_is_refused() {
        let body = "  - {proto: tcp, port: 80, to: \"10.0.0.5:0\"}\n";
        let err = forwards(body).err();
        assert_eq!(
            err.as_ref().and_then(ConfigError::problem),
            Some(&Problem::PortZero)
        );
        assert_eq!(err.and_then(|e| e.position()), Some((4, 32)));
    }
}
