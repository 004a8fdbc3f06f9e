//! Every shipped rule file under `rules/` compiles, and the documented ones say what they claim.
//!
//! The directory is listed at run time, so a new `rules/*.yaml` is checked without editing this.

use ftpgate_testkit as support;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ftpgate::config;
use ftpgate::engine::settings::{
    Action, Direction, EngineSettings, ForwardProtocol, FtpSettings, Limits, PortForward,
    PortRange, RuleProtocol,
};
use ftpgate::engine::{Engine, Verdict};
use support::{run, secs, tcp, udp, ACK, SYN};

/// Files meant to run with no inside network (every packet inbound).
const NO_INSIDE_NETWORKS: &[&str] = &["analysis.yaml"];

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
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            !settings.inside_networks.is_empty() || NO_INSIDE_NETWORKS.contains(&name),
            "{}: no inside networks",
            path.display()
        );
        let text = config::describe(&settings);
        assert!(text.contains("inside networks:"), "{}", path.display());
        assert!(text.contains("\nftp:\n"), "{}: {text}", path.display());
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
    assert_eq!(s.ftp, FtpSettings::default());
}

#[test]
fn gateway_writes_the_ftp_defaults_out() {
    let path = rules_dir().join("gateway.yaml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) => panic!("{}: {err}", path.display()),
    };
    let section = match text.split_once("\nftp:\n") {
        Some((_, section)) => section,
        None => panic!("gateway.yaml has no top-level `ftp:` section"),
    };
    for line in [
        "  control_ports: [21]\n",
        "  pinhole_timeout: 2m\n",
        "  max_pinholes: 4\n",
        "  max_line: 512\n",
        "  mtu: 1500\n",
        "  min_data_port: 1024\n",
        "  allow_fxp: false\n",
        "  require_login: true\n",
        "  tls: pass_blind\n",
        "  on_violation: reply\n",
        "  non_ftp: pass\n",
        "  fix_pasv_address: true\n",
    ] {
        assert!(
            section.contains(line),
            "gateway.yaml's ftp section lacks {line:?}"
        );
    }
    assert!(
        text.contains("follows the control connection on 2121 -> 21"),
        "the forward's comment names the ALG"
    );
}

#[test]
fn gateway_describes_its_ftp_section() {
    let text = config::describe(&load("gateway.yaml"));
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
fn analysis_translates_nothing_and_accepts_everything() {
    let s = load("analysis.yaml");
    assert!(s.inside_networks.is_empty());
    assert_eq!(s.outside_address, None);
    assert!(s.forwards.is_empty() && s.policy.rules.is_empty());
    assert_eq!(s.policy.default_outbound, Action::Accept);
    assert_eq!(s.policy.default_inbound, Action::Accept);
    assert_eq!(
        s.limits,
        Limits {
            max_flows: 1_000_000,
            tcp_pickup: true,
            ..Limits::default()
        }
    );
    assert_eq!(s.timeouts, Default::default());
    assert_eq!(
        s.ftp,
        FtpSettings {
            control_ports: vec![21],
            require_login: false,
            on_violation: ftpgate::engine::settings::ViolationOutcome::Monitor,
            ..FtpSettings::default()
        }
    );
}

#[test]
fn analysis_describes_no_translation_and_the_alg_on() {
    let text = config::describe(&load("analysis.yaml"));
    assert!(text.contains("inside networks:  none\n"), "{text}");
    assert!(
        text.contains("outside address:  none (no translation)\n"),
        "{text}"
    );
    assert!(text.contains("  inbound:  accept\n"), "{text}");
    assert!(text.contains("  tcp_pickup       on\n"), "{text}");
    assert!(text.contains("  control_ports    21\n"), "{text}");
}

#[test]
fn analysis_passes_any_new_flow_unchanged() {
    let engine = Engine::new(load("analysis.yaml"));
    let a = Ipv4Addr::new(10, 77, 0, 2);
    let b = Ipv4Addr::new(203, 0, 113, 9);
    let packets = [
        // Either side may open a connection, to any port.
        tcp((a, 40000), (b, 22), SYN, 1000, 0, b""),
        tcp((b, 40001), (a, 6000), SYN, 2000, 0, b""),
        // An FTP control connection and an active-mode data connection back from port 20.
        tcp((a, 40002), (b, 21), SYN, 3000, 0, b""),
        tcp((b, 20), (a, 50000), SYN, 4000, 0, b""),
        // A connection already open when the capture started (picked up mid-stream).
        tcp((b, 443), (a, 40003), ACK, 5000, 6000, b"data"),
        udp((a, 5353), (b, 53), b"query"),
    ];
    for (index, packet) in packets.iter().enumerate() {
        let out = run(&engine, secs(1), packet);
        assert_eq!(out.verdict, Verdict::Accept, "packet {index}");
        assert_eq!(&out.bytes, packet, "packet {index} was rewritten");
    }
    assert_eq!(engine.stats().flows, packets.len());
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
