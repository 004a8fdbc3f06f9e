//! Human-readable rendering of compiled settings, for `ftpgate check`.
//!
//! Owns the text layout of [`describe`]: networks, NAT, forwards, numbered rules with their
//! origins, defaults, timeouts, limits and the FTP ALG. It renders any `EngineSettings` (not only ones that
//! came from a file) and never validates: what it prints is what the engine will use.

use std::fmt::Write as _;
use std::time::Duration;

use super::error::join;
use super::forwards::protocol_name as forward_protocol;
use super::ftp::{non_ftp_name, outcome_name, tls_name};
use super::rules::protocol_name as rule_protocol;
use crate::engine::settings::{
    Action, Direction, EngineSettings, PortForward, PortRange, Rule, RuleProtocol,
};

/// Renders `settings` as an indented, line-oriented summary.
pub fn describe(settings: &EngineSettings) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = render(&mut out, settings);
    out
}

/// Writes the whole summary.
fn render(out: &mut String, s: &EngineSettings) -> std::fmt::Result {
    writeln!(out, "inside networks:  {}", join(&s.inside_networks))?;
    match s.outside_address {
        Some(address) => writeln!(
            out,
            "outside address:  {address} (inside IPv4 is masqueraded)"
        )?,
        None => writeln!(out, "outside address:  none (no translation)")?,
    }
    writeln!(
        out,
        "NAT port range:   {} ({} ports)",
        s.nat_ports,
        s.nat_ports.len()
    )?;
    if s.forwards.is_empty() {
        writeln!(out, "forwards:         none")?;
    } else {
        writeln!(out, "forwards:")?;
        for forward in &s.forwards {
            writeln!(out, "  {}", forward_line(forward, s))?;
        }
    }
    if s.policy.rules.is_empty() {
        writeln!(out, "rules:            none (the defaults decide)")?;
    } else {
        writeln!(out, "rules (first match wins):")?;
        for (index, rule) in s.policy.rules.iter().enumerate() {
            writeln!(out, "  {:>2}. {}", index + 1, rule_line(rule))?;
        }
    }
    writeln!(out, "defaults:")?;
    writeln!(
        out,
        "  outbound: {}",
        action_name(s.policy.default_outbound)
    )?;
    writeln!(out, "  inbound:  {}", action_name(s.policy.default_inbound))?;
    let t = &s.timeouts;
    writeln!(out, "timeouts:")?;
    let timeouts = [
        ("tcp_syn_sent", t.tcp_syn_sent),
        ("tcp_syn_recv", t.tcp_syn_recv),
        ("tcp_established", t.tcp_established),
        ("tcp_fin_wait", t.tcp_fin_wait),
        ("tcp_close_wait", t.tcp_close_wait),
        ("tcp_last_ack", t.tcp_last_ack),
        ("tcp_time_wait", t.tcp_time_wait),
        ("tcp_close", t.tcp_close),
        ("udp_unreplied", t.udp_unreplied),
        ("udp_replied", t.udp_replied),
        ("icmp", t.icmp),
    ];
    for (name, value) in timeouts {
        writeln!(out, "  {name:<16} {}", duration_text(value))?;
    }
    writeln!(out, "limits:")?;
    writeln!(out, "  max_flows        {}", s.limits.max_flows)?;
    writeln!(out, "  tcp_pickup       {}", on_off(s.limits.tcp_pickup))?;
    let ftp = &s.ftp;
    writeln!(out, "ftp:")?;
    if ftp.control_ports.is_empty() {
        writeln!(
            out,
            "  control_ports    off (no control ports: the FTP ALG is disabled)"
        )?;
    } else {
        writeln!(out, "  control_ports    {}", join(&ftp.control_ports))?;
    }
    writeln!(
        out,
        "  pinhole_timeout  {}",
        duration_text(ftp.pinhole_timeout)
    )?;
    writeln!(out, "  max_pinholes     {}", ftp.max_pinholes)?;
    writeln!(out, "  max_line         {} bytes", ftp.max_line)?;
    writeln!(out, "  mtu              {} bytes", ftp.mtu)?;
    writeln!(out, "  min_data_port    {}", ftp.min_data_port)?;
    writeln!(out, "  allow_fxp        {}", on_off(ftp.allow_fxp))?;
    writeln!(out, "  require_login    {}", on_off(ftp.require_login))?;
    writeln!(out, "  tls              {}", tls_name(ftp.tls))?;
    writeln!(out, "  on_violation     {}", outcome_name(ftp.on_violation))?;
    writeln!(out, "  non_ftp          {}", non_ftp_name(ftp.non_ftp))?;
    writeln!(out, "  fix_pasv_address {}", on_off(ftp.fix_pasv_address))
}

/// `on` or `off`, as switches are shown.
fn on_off(value: bool) -> &'static str {
    if value {
        "on"
    } else {
        "off"
    }
}

/// `tcp 198.51.100.1:2121 -> 10.77.0.10:21` (ranges on both sides for a multi-port forward).
fn forward_line(forward: &PortForward, s: &EngineSettings) -> String {
    let outside = s
        .outside_address
        .map_or_else(|| "<no outside address>".to_owned(), |a| a.to_string());
    let last = u32::from(forward.inside_port) + forward.outside_ports.len() - 1;
    let inside = match u16::try_from(last) {
        Ok(last) if last != forward.inside_port => PortRange {
            first: forward.inside_port,
            last,
        }
        .to_string(),
        Ok(_) => forward.inside_port.to_string(),
        Err(_) => format!("{}-{last}(!)", forward.inside_port),
    };
    format!(
        "{} {outside}:{} -> {}:{inside}",
        forward_protocol(forward.protocol),
        forward.outside_ports,
        forward.inside_address
    )
}

/// `inbound tcp from 203.0.113.0/24 to any port 22 -> reject, log  (file:3:5)`.
fn rule_line(rule: &Rule) -> String {
    let direction = match rule.direction {
        None => "any-direction",
        Some(Direction::Inbound) => "inbound",
        Some(Direction::Outbound) => "outbound",
    };
    let protocol = match rule.protocol {
        RuleProtocol::Any => "any-proto",
        other => rule_protocol(other),
    };
    let mut line = format!("{direction} {protocol}");
    line.push_str(&endpoint(" from", &rule.sources, &rule.source_ports));
    line.push_str(&endpoint(
        " to",
        &rule.destinations,
        &rule.destination_ports,
    ));
    line.push_str(" -> ");
    line.push_str(action_name(rule.action));
    if rule.log {
        line.push_str(", log");
    }
    line.push_str(&format!("  ({})", rule.origin));
    line
}

/// ` from NETS[ port PORTS]`, with `any` for an empty network list.
fn endpoint<N: std::fmt::Display>(word: &str, networks: &[N], ports: &[PortRange]) -> String {
    let nets = if networks.is_empty() {
        "any".to_owned()
    } else {
        join(networks)
    };
    let mut text = format!("{word} {nets}");
    if !ports.is_empty() {
        text.push_str(" port ");
        text.push_str(&join(ports).replace(", ", ","));
    }
    text
}

/// The rule-file word for an action.
fn action_name(action: Action) -> &'static str {
    match action {
        Action::Accept => "accept",
        Action::Drop => "drop",
        Action::Reject => "reject",
    }
}

/// A duration in the rule-file syntax, using the largest unit that divides it (`5d`, `90s`).
fn duration_text(value: Duration) -> String {
    if value.subsec_nanos() != 0 {
        return format!("{value:?}");
    }
    let secs = value.as_secs();
    match secs {
        0 => "0s".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod test {
    use super::super::load_str;
    use super::*;

    #[test]
    fn durations_use_the_largest_unit() {
        assert_eq!(duration_text(Duration::from_secs(432_000)), "5d");
        assert_eq!(duration_text(Duration::from_secs(7_200)), "2h");
        assert_eq!(duration_text(Duration::from_secs(120)), "2m");
        assert_eq!(duration_text(Duration::from_secs(90)), "90s");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn defaults_render() {
        let text = describe(&EngineSettings::default());
        assert!(text.contains("outside address:  none"));
        assert!(text.contains("NAT port range:   1024-65535 (64512 ports)"));
        assert!(text.contains("rules:            none"));
        assert!(text.contains("  inbound:  drop"));
        assert!(text.contains("  tcp_established  5d"));
        assert!(text.contains("  tcp_pickup       off"));
        assert!(
            text.ends_with(
                "ftp:\n  control_ports    21\n  pinhole_timeout  2m\n  max_pinholes     4\n  \
                 max_line         512 bytes\n  mtu              1500 bytes\n  \
                 min_data_port    1024\n  allow_fxp        off\n  require_login    on\n  \
                 tls              pass_blind\n  on_violation     reply\n  non_ftp          pass\n  \
                 fix_pasv_address on\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn ftp_section_renders() {
        let yaml = "ftp:\n  control_ports: [21, 2121]\n  pinhole_timeout: 45\n  \
                    max_pinholes: 8\n  max_line: 1024\n  mtu: 1400\n  min_data_port: 20\n  \
                    allow_fxp: true\n  require_login: false\n  tls: block\n  \
                    on_violation: reset\n";
        let text = match load_str("f.yaml", yaml) {
            Ok(settings) => describe(&settings),
            Err(err) => panic!("{err}"),
        };
        assert!(text.contains("  control_ports    21, 2121\n"), "{text}");
        assert!(text.contains("  pinhole_timeout  45s\n"), "{text}");
        assert!(text.contains("  max_pinholes     8\n"), "{text}");
        assert!(text.contains("  max_line         1024 bytes\n"), "{text}");
        assert!(text.contains("  mtu              1400 bytes\n"), "{text}");
        assert!(
            text.ends_with(
                "  min_data_port    20\n  allow_fxp        on\n  require_login    off\n  \
                 tls              block\n  on_violation     reset\n  non_ftp          pass\n  \
                 fix_pasv_address on\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn ftp_off_renders() {
        let text = match load_str("f.yaml", "ftp: {control_ports: []}\n") {
            Ok(settings) => describe(&settings),
            Err(err) => panic!("{err}"),
        };
        assert!(
            text.contains("  control_ports    off (no control ports: the FTP ALG is disabled)\n"),
            "{text}"
        );
    }

    #[test]
    fn forwards_and_rules_render() {
        let yaml = "inside: 10.0.0.0/24\noutside_address: 192.0.2.1\nforwards:\n  \
                    - {proto: tcp, port: 2121, to: \"10.0.0.10:21\"}\n  \
                    - {proto: udp, port: 100-109, to: \"10.0.0.10:200\"}\nrules:\n  \
                    - {direction: outbound, proto: tcp, dst_ports: [25, 465-466], action: reject, log: true}\n  \
                    - {src: 192.0.2.0/24, action: drop}\n";
        let text = match load_str("d.yaml", yaml) {
            Ok(settings) => describe(&settings),
            Err(err) => panic!("{err}"),
        };
        assert!(
            text.contains("  tcp 192.0.2.1:2121 -> 10.0.0.10:21\n"),
            "{text}"
        );
        assert!(
            text.contains("  udp 192.0.2.1:100-109 -> 10.0.0.10:200-209\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "   1. outbound tcp from any to any port 25,465-466 -> reject, log  (d.yaml:7:5)"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "   2. any-direction any-proto from 192.0.2.0/24 to any -> drop  (d.yaml:8:5)"
            ),
            "{text}"
        );
    }
}
