//! Compilation of one filter rule into an engine [`Rule`].
//!
//! Owns the rule-level checks: networks are valid CIDRs, port lists only appear with tcp or
//! udp, explicitly empty lists are refused (an empty list would silently mean "any"), and the
//! rule's origin is the `FILE:LINE:COLUMN` where its mapping starts. It never reorders rules
//! and never looks at other keys of the file.

use serde_saphyr::Spanned;

use super::compile::{action_of, Cx};
use super::error::{ConfigError, Problem};
use super::parse;
use super::schema::{DirectionSpec, RuleProtoSpec, RuleSpec};
use super::value::Items;
use crate::engine::settings::{Direction, PortRange, Rule, RuleProtocol};

/// Compiles the rule whose mapping starts at `spec.referenced`.
pub(super) fn compile(cx: Cx<'_>, spec: &Spanned<RuleSpec>) -> Result<Rule, ConfigError> {
    let rule = &spec.value;
    let direction = match rule.direction {
        None | Some(DirectionSpec::Any) => None,
        Some(DirectionSpec::Inbound) => Some(Direction::Inbound),
        Some(DirectionSpec::Outbound) => Some(Direction::Outbound),
    };
    let protocol = match rule.proto {
        None | Some(RuleProtoSpec::Any) => RuleProtocol::Any,
        Some(RuleProtoSpec::Tcp) => RuleProtocol::Tcp,
        Some(RuleProtoSpec::Udp) => RuleProtocol::Udp,
        Some(RuleProtoSpec::Icmp) => RuleProtocol::Icmp,
    };
    let networks = |value: &Option<Spanned<Items>>, key| match value {
        Some(value) => cx.networks(value, key, false),
        None => Ok(Vec::new()),
    };
    Ok(Rule {
        origin: cx.origin(spec.referenced),
        direction,
        protocol,
        sources: networks(&rule.src, "src")?,
        destinations: networks(&rule.dst, "dst")?,
        source_ports: ports(cx, &rule.src_ports, "src_ports", protocol)?,
        destination_ports: ports(cx, &rule.dst_ports, "dst_ports", protocol)?,
        action: action_of(rule.action),
        log: rule.log.unwrap_or(false),
    })
}

/// A rule's port list; port 0 is allowed (a rule may match it), a non-port protocol is not.
fn ports(
    cx: Cx<'_>,
    value: &Option<Spanned<Items>>,
    key: &str,
    protocol: RuleProtocol,
) -> Result<Vec<PortRange>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    if !matches!(protocol, RuleProtocol::Tcp | RuleProtocol::Udp) {
        let problem = Problem::PortsNeedTransport {
            key: key.to_owned(),
            protocol: protocol_name(protocol).to_owned(),
        };
        return Err(cx.error(value.referenced, problem));
    }
    cx.items(value, key, false)?
        .into_iter()
        .map(|(scalar, location)| cx.at(location, parse::port_range(scalar, true)))
        .collect()
}

/// The rule-file word for a rule protocol.
pub(crate) fn protocol_name(protocol: RuleProtocol) -> &'static str {
    match protocol {
        RuleProtocol::Any => "any",
        RuleProtocol::Tcp => "tcp",
        RuleProtocol::Udp => "udp",
        RuleProtocol::Icmp => "icmp",
    }
}

#[cfg(test)]
mod test {
    use super::super::load_str;
    use super::*;
    use crate::engine::settings::Action;

    fn rules(yaml: &str) -> Result<Vec<Rule>, ConfigError> {
        load_str("r.yaml", yaml).map(|s| s.policy.rules)
    }

    #[test]
    fn a_full_rule_compiles() {
        let yaml = "rules:\n  - direction: inbound\n    proto: tcp\n    src: 203.0.113.0/24\n    \
                    dst: [198.51.100.1, \"fd00::/64\"]\n    src_ports: 1024-65535\n    \
                    dst_ports: [22, \"6000-6063\", 0]\n    action: reject\n    log: true\n";
        let list = match rules(yaml) {
            Ok(list) => list,
            Err(err) => panic!("{err}"),
        };
        let rule = &list[0];
        assert_eq!(rule.origin, "r.yaml:2:5");
        assert_eq!(rule.direction, Some(Direction::Inbound));
        assert_eq!(rule.protocol, RuleProtocol::Tcp);
        assert_eq!(rule.sources.len(), 1);
        assert_eq!(rule.destinations.len(), 2);
        assert_eq!(
            rule.source_ports,
            vec![PortRange {
                first: 1024,
                last: 65535
            }]
        );
        assert_eq!(rule.destination_ports.len(), 3);
        assert_eq!(rule.destination_ports[2], PortRange::single(0));
        assert_eq!(rule.action, Action::Reject);
        assert!(rule.log);
    }

    #[test]
    fn defaults_match_anything() {
        let list = rules("rules:\n- action: drop\n").unwrap_or_default();
        assert_eq!(list.len(), 1);
        let rule = &list[0];
        assert_eq!(rule.origin, "r.yaml:2:3");
        assert_eq!((rule.direction, rule.protocol), (None, RuleProtocol::Any));
        assert!(rule.sources.is_empty() && rule.destination_ports.is_empty() && !rule.log);
    }

    #[test]
    fn empty_lists_are_refused() {
        let err = rules("rules:\n  - action: drop\n    src: []\n").err();
        assert_eq!(err.as_ref().and_then(|e| e.position()), Some((3, 10)));
        assert_eq!(
            err.as_ref().and_then(ConfigError::problem),
            Some(&Problem::EmptyList("src".into()))
        );
    }

    #[test]
    fn icmp_rules_take_no_ports() {
        let err = rules("rules:\n  - {proto: icmp, src_ports: 7, action: drop}\n").err();
        let problem = err.as_ref().and_then(ConfigError::problem);
        assert!(
            matches!(problem, Some(Problem::PortsNeedTransport { protocol, .. }) if protocol == "icmp")
        );
    }
}
