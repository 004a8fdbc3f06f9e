//! The stateful filter's rules, evaluated for the first packet of every new flow. Packets
//! of tracked flows never reach it. Rules match the packet as it arrived, before translation.

use std::net::IpAddr;

use crate::engine::settings::{Action, Direction, EngineSettings, PortRange, Rule, RuleProtocol};
use crate::engine::wire::parse::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// What the filter sees of a packet that would start a flow.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Which way it crosses the gateway.
    pub direction: Direction,
    /// Transport protocol number.
    pub protocol: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Ports, for TCP and UDP.
    pub ports: Option<(u16, u16)>,
    /// Whether a port forward covers the destination.
    pub forwarded: bool,
}

/// The filter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Index of the rule that matched; `None` for a default or a port forward.
    pub rule: Option<usize>,
    /// Whether the matching rule asked for a log event.
    pub log: bool,
}

/// Rules in evaluation order plus defaults.
pub struct CompiledPolicy {
    rules: Vec<Rule>,
    default_outbound: Action,
    default_inbound: Action,
}

fn in_any(networks: &[ipnetwork::IpNetwork], addr: IpAddr) -> bool {
    networks.is_empty() || networks.iter().any(|net| net.contains(addr))
}

fn port_in_any(ranges: &[PortRange], port: Option<u16>) -> bool {
    if ranges.is_empty() {
        return true;
    }
    port.is_some_and(|port| ranges.iter().any(|range| range.contains(port)))
}

fn protocol_matches(rule: RuleProtocol, protocol: u8) -> bool {
    match rule {
        RuleProtocol::Any => true,
        RuleProtocol::Tcp => protocol == PROTO_TCP,
        RuleProtocol::Udp => protocol == PROTO_UDP,
        RuleProtocol::Icmp => protocol == PROTO_ICMP || protocol == PROTO_ICMPV6,
    }
}

fn matches(rule: &Rule, packet: &Candidate) -> bool {
    rule.direction.is_none_or(|dir| dir == packet.direction)
        && protocol_matches(rule.protocol, packet.protocol)
        && in_any(&rule.sources, packet.src)
        && in_any(&rule.destinations, packet.dst)
        && port_in_any(&rule.source_ports, packet.ports.map(|p| p.0))
        && port_in_any(&rule.destination_ports, packet.ports.map(|p| p.1))
}

impl CompiledPolicy {
    /// Compiles the settings' policy.
    pub fn new(settings: &EngineSettings) -> Self {
        Self {
            rules: settings.policy.rules.clone(),
            default_outbound: settings.policy.default_outbound,
            default_inbound: settings.policy.default_inbound,
        }
    }

    /// The rule at `index`.
    pub fn rule(&self, index: usize) -> Option<&Rule> {
        self.rules.get(index)
    }

    /// First matching rule wins; otherwise a port forward accepts; otherwise the default.
    pub fn evaluate(&self, packet: &Candidate) -> Decision {
        if let Some((index, rule)) = self
            .rules
            .iter()
            .enumerate()
            .find(|(_, rule)| matches(rule, packet))
        {
            return Decision {
                action: rule.action,
                rule: Some(index),
                log: rule.log,
            };
        }
        let action = match packet.direction {
            _ if packet.forwarded => Action::Accept,
            Direction::Outbound => self.default_outbound,
            Direction::Inbound => self.default_inbound,
        };
        Decision {
            action,
            rule: None,
            log: false,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::engine::settings::Policy;

    fn rule(action: Action) -> Rule {
        Rule {
            origin: "test".into(),
            direction: None,
            protocol: RuleProtocol::Any,
            sources: vec![],
            destinations: vec![],
            source_ports: vec![],
            destination_ports: vec![],
            action,
            log: false,
        }
    }

    fn candidate(direction: Direction, protocol: u8, dst_port: u16) -> Candidate {
        Candidate {
            direction,
            protocol,
            src: "10.0.0.2".parse().unwrap(),
            dst: "203.0.113.9".parse().unwrap(),
            ports: Some((40000, dst_port)),
            forwarded: false,
        }
    }

    fn policy(rules: Vec<Rule>) -> CompiledPolicy {
        let settings = EngineSettings {
            policy: Policy {
                rules,
                ..Policy::default()
            },
            ..EngineSettings::default()
        };
        CompiledPolicy::new(&settings)
    }

    #[test]
    fn first_matching_rule_wins_then_defaults_apply() {
        let mut smtp = rule(Action::Reject);
        smtp.protocol = RuleProtocol::Tcp;
        smtp.destination_ports = vec![PortRange::single(25)];
        smtp.log = true;
        let p = policy(vec![smtp, rule(Action::Drop)]);
        let hit = p.evaluate(&candidate(Direction::Outbound, PROTO_TCP, 25));
        assert_eq!(
            (hit.action, hit.rule, hit.log),
            (Action::Reject, Some(0), true)
        );
        let other = p.evaluate(&candidate(Direction::Outbound, PROTO_TCP, 80));
        assert_eq!((other.action, other.rule), (Action::Drop, Some(1)));
        let none = policy(vec![]);
        assert_eq!(
            none.evaluate(&candidate(Direction::Outbound, PROTO_UDP, 53))
                .action,
            Action::Accept
        );
        assert_eq!(
            none.evaluate(&candidate(Direction::Inbound, PROTO_UDP, 53))
                .action,
            Action::Drop
        );
    }

    #[test]
    fn port_rules_never_match_portless_packets_and_cidrs_filter() {
        let mut r = rule(Action::Drop);
        r.destination_ports = vec![PortRange {
            first: 0,
            last: 65535,
        }];
        r.sources = vec!["10.0.0.0/24".parse().unwrap()];
        let p = policy(vec![r]);
        let mut icmp = candidate(Direction::Outbound, PROTO_ICMP, 0);
        icmp.ports = None;
        assert_eq!(p.evaluate(&icmp).rule, None);
        assert_eq!(
            p.evaluate(&candidate(Direction::Outbound, PROTO_TCP, 1))
                .rule,
            Some(0)
        );
        let mut foreign = candidate(Direction::Outbound, PROTO_TCP, 1);
        foreign.src = "10.0.1.2".parse().unwrap();
        assert_eq!(p.evaluate(&foreign).rule, None);
    }

    #[test]
    fn port_forward_is_accepted_unless_a_rule_says_otherwise() {
        let p = policy(vec![]);
        let mut fwd = candidate(Direction::Inbound, PROTO_TCP, 2121);
        fwd.forwarded = true;
        assert_eq!(p.evaluate(&fwd).action, Action::Accept);
    }
}
