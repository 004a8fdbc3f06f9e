//! Every shipped rule file under `rules/` compiles, and the documented ones say what they claim.
//!
//! The directory is listed at run time, so a new `rules/*.yaml` is checked without editing this.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ftpgate::config;
use ftpgate::engine::settings::{
    Action, Direction, EngineSettings, ForwardProtocol, PortForward, PortRange, RuleProtocol,
};

/// `rules/` in the crate root.
fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// Every `*.yaml` file in `rules/`, sorted.
fn rule_files() -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(rules_dir()) {
        Ok(entries) => entries,
        Err(err) => panic!("cannot list {}: {err}", rules_dir().display()),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// Loads `rules/NAME`, failing the test with the error's full text.
fn load(name: &str) -> EngineSettings {
    let path = rules_dir().join(name);
    match config::load_file(&path) {
        Ok(settings) => settings,
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn every_rule_file_compiles_and_says_something() {
    let files = rule_files();
    assert!(
        files.len() >= 2,
        "expected at least gateway.yaml and minimal.yaml"
    );
    for path in files {
        let settings = match config::load_file(&path) {
            Ok(settings) => settings,
            Err(err) => panic!("{err}"),
        };
        assert!(
            !settings.inside_networks.is_empty(),
            "{}: no inside networks",
            path.display()
        );
        let text = config::describe(&settings);
        assert!(text.contains("inside networks:"), "{}", path.display());
        assert!(text.lines().count() > 10, "{}: {text}", path.display());
    }
}

#[test]
fn gateway_has_its_addresses_forwards_and_policy() {
    let s = load("gateway.yaml");
    assert_eq!(s.inside_networks.len(), 2);
    assert_eq!(s.outside_address, Some(Ipv4Addr::new(198, 51, 100, 1)));
    assert_eq!(
        s.nat_ports,
        PortRange {
            first: 20000,
            last: 59999
        }
    );
    let server = Ipv4Addr::new(10, 77, 0, 10);
    assert_eq!(
        s.forwards,
        vec![
            PortForward {
                protocol: ForwardProtocol::Tcp,
                outside_ports: PortRange::single(2121),
                inside_address: server,
                inside_port: 21,
            },
            PortForward {
                protocol: ForwardProtocol::Udp,
                outside_ports: PortRange::single(5353),
                inside_address: server,
                inside_port: 53,
            },
        ]
    );
    assert_eq!(s.policy.default_outbound, Action::Accept);
    assert_eq!(s.policy.default_inbound, Action::Drop);
    assert_eq!(s.timeouts, Default::default());
    assert_eq!(s.limits, Default::default());
}

#[test]
fn gateway_rules_are_the_documented_ones() {
    let s = load("gateway.yaml");
    let rules = &s.policy.rules;
    assert_eq!(rules.len(), 4);

    let smtp = &rules[0];
    assert_eq!(smtp.direction, Some(Direction::Outbound));
    assert_eq!(smtp.protocol, RuleProtocol::Tcp);
    assert!(smtp.destination_ports.contains(&PortRange::single(25)));
    assert_eq!((smtp.action, smtp.log), (Action::Reject, true));

    let blocklist = &rules[1];
    assert_eq!(blocklist.direction, Some(Direction::Inbound));
    assert_eq!(blocklist.sources.len(), 2);
    assert_eq!((blocklist.action, blocklist.log), (Action::Drop, true));

    let icmp = &rules[2];
    assert_eq!(
        (icmp.protocol, icmp.action),
        (RuleProtocol::Icmp, Action::Accept)
    );

    for rule in rules {
        assert!(
            rule.origin.contains("gateway.yaml:"),
            "origin {} does not name the file",
            rule.origin
        );
    }
}

#[test]
fn gateway_describes_forwards_and_numbered_rules() {
    let text = config::describe(&load("gateway.yaml"));
    assert!(
        text.contains("tcp 198.51.100.1:2121 -> 10.77.0.10:21"),
        "{text}"
    );
    assert!(
        text.contains("udp 198.51.100.1:5353 -> 10.77.0.10:53"),
        "{text}"
    );
    assert!(text.contains("   1. outbound tcp"), "{text}");
    assert!(text.contains("   4. inbound tcp"), "{text}");
}

#[test]
fn minimal_is_addresses_and_defaults() {
    let s = load("minimal.yaml");
    assert_eq!(s.inside_networks.len(), 1);
    assert_eq!(s.outside_address, Some(Ipv4Addr::new(198, 51, 100, 1)));
    let defaults = EngineSettings::default();
    assert_eq!(s.nat_ports, defaults.nat_ports);
    assert!(s.forwards.is_empty() && s.policy.rules.is_empty());
    assert_eq!(s.policy, defaults.policy);
}
