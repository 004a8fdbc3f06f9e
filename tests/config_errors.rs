//! Every class of rule-file error names the exact line and column, and says what is wrong.
//!
//! Each test writes a small file inline; the expected positions were counted by hand
//! (1-based, the column of the first character of the offending value or key).

use ftpgate::config::{self, Problem};
use ftpgate_testkit::rule_file::expect_error;

const NETS: &str = "inside: 10.0.0.0/24\noutside_address: 192.0.2.1\n";

#[test]
fn unknown_key_at_top_level() {
    let err = expect_error(
        "inside: 10.0.0.0/8\nalg:\n  ftp: true\n",
        2,
        1,
        "unknown key `alg` (expected one of: inside, outside_address, nat_ports, forwards, \
         policy, rules, timeouts, limits, ftp, tun, interfaces, control, metrics)",
    );
    assert!(matches!(err.problem(), Some(Problem::UnknownKey { .. })));
}

#[test]
fn ftp_section_is_accepted() {
    let settings = match config::load_str("t.yaml", "inside: 10.0.0.0/8\nftp:\n  mtu: 1400\n") {
        Ok(settings) => settings,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(settings.ftp.mtu, 1400);
    assert_eq!(settings.ftp.control_ports, vec![21]);
}

#[test]
fn unknown_key_inside_ftp() {
    let err = expect_error(
        "inside: 10.0.0.0/8\nftp:\n  enabled: true\n",
        3,
        3,
        "unknown key `enabled` (expected one of: control_ports, pinhole_timeout, max_pinholes, \
         max_line, mtu, min_data_port, allow_fxp, require_login, tls, on_violation, non_ftp, fix_pasv_address)",
    );
    assert!(matches!(err.problem(), Some(Problem::UnknownKey { .. })));
    expect_error(
        "ftp: {control_port: 21}\n",
        1,
        7,
        "unknown key `control_port`",
    );
}

#[test]
fn unknown_key_nested() {
    expect_error("limits:\n  max_flow: 5\n", 2, 3, "unknown key `max_flow`");
    expect_error(
        "rules:\n  - action: drop\n    protocol: tcp\n",
        3,
        5,
        "unknown key `protocol`",
    );
}

#[test]
fn wrong_type() {
    expect_error("nat_ports: [1, 2]\n", 1, 12, "expected a port");
    expect_error("limits:\n  max_flows: 1.5\n", 2, 14, "non-integer number");
    expect_error(
        "rules:\n  - action: drop\n    log: yes\n",
        3,
        10,
        "true or false",
    );
    expect_error("timeouts:\n  icmp: [30]\n", 2, 9, "found a list");
    expect_error("inside: [10.0.0.0/8, {a: 1}]\n", 1, 22, "found a mapping");
}

#[test]
fn unknown_choice_and_missing_key() {
    expect_error(
        "policy:\n  inbound: allow\n",
        2,
        12,
        "unknown value `allow`",
    );
    expect_error(
        "rules:\n  - log: true\n",
        2,
        5,
        "missing required key `action`",
    );
}

#[test]
fn bad_network() {
    expect_error(
        "inside: [10.0.0.0/8, 10.0.0.300/24]\n",
        1,
        22,
        "invalid network `10.0.0.300/24`",
    );
    expect_error(
        "rules:\n  - dst: 10.0.0.0/40\n    action: drop\n",
        2,
        10,
        "prefix length `40`",
    );
}

#[test]
fn bad_address() {
    expect_error(
        "inside: 10.0.0.0/8\noutside_address: 198.51.100\n",
        2,
        18,
        "invalid address `198.51.100`",
    );
    let yaml = format!("{NETS}forwards:\n  - proto: tcp\n    port: 21\n    to: server:21\n");
    expect_error(&yaml, 6, 9, "invalid address `server:21`");
}

#[test]
fn host_bits_set() {
    let err = expect_error("inside: 10.0.0.1/24\n", 1, 9, "did you mean `10.0.0.0/24`");
    assert!(matches!(err.problem(), Some(Problem::HostBitsSet { .. })));
    expect_error(
        "rules:\n  - src: 192.0.2.1/24\n    action: drop\n",
        2,
        10,
        "`192.0.2.1/24` has host bits set",
    );
}

#[test]
fn inverted_port_range() {
    expect_error("nat_ports: 9000-8000\n", 1, 12, "`9000-8000` is inverted");
    expect_error(
        "rules:\n  - proto: tcp\n    dst_ports: [22, \"9000-8000\"]\n    action: drop\n",
        3,
        21,
        "is inverted",
    );
}

#[test]
fn port_zero_where_a_real_port_is_needed() {
    expect_error("nat_ports: 0-100\n", 1, 12, "port 0 is not a usable port");
    let yaml = format!("{NETS}forwards:\n  - proto: udp\n    port: 0\n    to: 10.0.0.5\n");
    expect_error(&yaml, 5, 11, "port 0");
}

#[test]
fn port_out_of_range() {
    expect_error("nat_ports: 70000\n", 1, 12, "port 70000 is out of range");
}

#[test]
fn overlapping_forwards_name_both() {
    let yaml = format!(
        "{NETS}forwards:\n\
         \x20 - proto: tcp\n\
         \x20   port: 2121-2130\n\
         \x20   to: 10.0.0.10:21\n\
         \x20 - proto: udp\n\
         \x20   port: 2125\n\
         \x20   to: 10.0.0.10\n\
         \x20 - proto: tcp\n\
         \x20   port: 2125\n\
         \x20   to: 10.0.0.11\n"
    );
    // The second tcp forward's port is on line 11; the first tcp forward starts on line 4.
    let err = expect_error(
        &yaml,
        11,
        11,
        "overlaps the tcp forward of port(s) 2121-2130",
    );
    assert!(err.to_string().ends_with("at line 4"), "{err}");
}

#[test]
fn forward_running_past_65535() {
    let yaml =
        format!("{NETS}forwards:\n  - proto: tcp\n    port: 100-109\n    to: 10.0.0.5:65530\n");
    expect_error(&yaml, 6, 9, "would run past port 65535");
}

#[test]
fn forward_to_an_address_not_inside() {
    let yaml =
        format!("{NETS}forwards:\n  - proto: tcp\n    port: 80\n    to: 192.168.1.10:8080\n");
    expect_error(
        &yaml,
        6,
        9,
        "192.168.1.10 is not inside any inside network (10.0.0.0/24)",
    );
}

#[test]
fn forward_to_ipv6() {
    let yaml = format!("{NETS}forwards:\n  - {{proto: tcp, port: 80, to: \"[fd00::5]:80\"}}\n");
    expect_error(&yaml, 4, 32, "forwards are IPv4 only");
}

#[test]
fn forwards_without_outside_address() {
    expect_error(
        "inside: 10.0.0.0/24\nforwards:\n  - proto: tcp\n    port: 80\n    to: 10.0.0.10\n",
        3,
        5,
        "forwards need `outside_address`",
    );
}

#[test]
fn nat_ports_without_outside_address_is_accepted() {
    let settings = config::load_str("t.yaml", "inside: 10.0.0.0/24\nnat_ports: 30000-30999\n");
    assert_eq!(settings.map(|s| s.nat_ports.len()).ok(), Some(1000));
}

#[test]
fn outside_address_inside_an_inside_network() {
    expect_error(
        "inside: [\"fd00::/64\", 10.0.0.0/8]\noutside_address: 10.1.2.3\n",
        2,
        18,
        "10.1.2.3 lies in the inside network 10.0.0.0/8",
    );
}

#[test]
fn ipv6_outside_address() {
    expect_error(
        "inside: 10.0.0.0/8\noutside_address: 2001:db8::1\n",
        2,
        18,
        "only an IPv4 outside address is supported",
    );
}

#[test]
fn rule_ports_without_tcp_or_udp() {
    expect_error(
        "rules:\n  - direction: inbound\n    dst_ports: 22\n    action: drop\n",
        3,
        16,
        "`dst_ports` needs `proto: tcp` or `proto: udp` (this rule's proto is any)",
    );
    expect_error(
        "rules:\n  - proto: icmp\n    src_ports: [1, 2]\n    action: drop\n",
        3,
        16,
        "proto is icmp",
    );
}

#[test]
fn zero_timeout() {
    expect_error(
        "timeouts:\n  tcp_close: 0\n",
        2,
        14,
        "`tcp_close` must be greater than zero",
    );
    expect_error(
        "timeouts:\n  icmp: 0s\n",
        2,
        9,
        "`icmp` must be greater than zero",
    );
}

#[test]
fn unparsable_duration() {
    expect_error(
        "timeouts:\n  icmp: 5 minutes\n",
        2,
        9,
        "invalid duration `5 minutes`",
    );
    expect_error("timeouts:\n  udp_replied: 1h30\n", 2, 16, "has no unit");
}

#[test]
fn zero_max_flows() {
    expect_error(
        "limits:\n  max_flows: 0\n",
        2,
        14,
        "max_flows must be at least 1",
    );
    expect_error("limits:\n  max_flows: -5\n", 2, 14, "at least 1");
}

#[test]
fn outside_address_with_empty_or_no_inside_list() {
    expect_error(
        "inside: []\noutside_address: 192.0.2.1\n",
        1,
        9,
        "no inside networks are given",
    );
    expect_error(
        "outside_address: 192.0.2.1\n",
        1,
        18,
        "no inside networks are given",
    );
}

#[test]
fn empty_rule_list_is_refused() {
    expect_error(
        "rules:\n  - dst: []\n    action: drop\n",
        2,
        10,
        "`dst` is an empty list",
    );
}

#[test]
fn syntax_bad_indentation() {
    let err = expect_error(
        "rules:\n  - action: drop\n   log: true\n",
        3,
        4,
        "invalid YAML",
    );
    assert!(matches!(err.problem(), Some(Problem::Syntax(_))));
}

#[test]
fn syntax_unterminated_quote() {
    expect_error(
        "inside: 10.0.0.0/8\noutside_address: \"192.0.2.1\n",
        2,
        18,
        "unclosed quote",
    );
}

#[test]
fn syntax_unclosed_bracket_and_duplicate_key() {
    expect_error("inside: [10.0.0.0/8\n", 1, 9, "invalid YAML");
    expect_error(
        "limits: {}\nlimits: {}\n",
        2,
        1,
        "duplicate mapping key `limits`",
    );
}

#[test]
fn not_a_mapping_at_all() {
    expect_error("- 10.0.0.0/8\n", 1, 1, "invalid YAML");
}

#[test]
fn control_characters_in_values_are_escaped() {
    let err = expect_error("inside: \"10.0.0.0\\e/8\"\n", 1, 9, "invalid network");
    assert!(!err.to_string().contains('\u{1b}'), "{err:?}");
}

#[test]
fn read_errors_name_the_file() {
    let err = config::load_file(std::path::Path::new("no/such/dir/rules.yaml"));
    let text = err.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
    assert!(
        text.starts_with("no/such/dir/rules.yaml: cannot read rule file: "),
        "{text}"
    );
}

#[test]
fn ftp_control_port_zero() {
    let err = expect_error(
        "ftp:\n  control_ports: [21, 0]\n",
        2,
        23,
        "port 0 is not a usable port",
    );
    assert_eq!(err.problem(), Some(&Problem::PortZero));
    expect_error("ftp:\n  control_ports: 0\n", 2, 18, "port 0");
}

#[test]
fn ftp_control_port_listed_twice() {
    let err = expect_error(
        "ftp:\n  control_ports:\n    - 21\n    - 2121\n    - 21\n",
        5,
        7,
        "control port 21 is listed twice (first at line 3, column 7)",
    );
    assert!(matches!(
        err.problem(),
        Some(Problem::DuplicateControlPort { port: 21, .. })
    ));
    // Written as text and as a number, still the same port.
    expect_error(
        "ftp: {control_ports: [2121, \"2121\"]}\n",
        1,
        29,
        "control port 2121 is listed twice (first at line 1, column 23)",
    );
}

#[test]
fn ftp_control_port_not_a_single_port() {
    expect_error(
        "ftp:\n  control_ports: [21, \"2121-2130\"]\n",
        2,
        23,
        "invalid port `2121-2130` (write a single port number like 21)",
    );
    expect_error(
        "ftp:\n  control_ports: 65536\n",
        2,
        18,
        "port 65536 is out of range",
    );
    expect_error(
        "ftp:\n  control_ports: [21, true]\n",
        2,
        23,
        "expected a port number like 21, found boolean `true`",
    );
}

#[test]
fn ftp_empty_control_port_list_turns_the_alg_off() {
    let settings = config::load_str("t.yaml", "ftp:\n  control_ports: []\n");
    assert_eq!(settings.map(|s| s.ftp.control_ports).ok(), Some(Vec::new()));
}

#[test]
fn ftp_zero_pinhole_timeout() {
    expect_error(
        "ftp:\n  pinhole_timeout: 0\n",
        2,
        20,
        "`pinhole_timeout` must be greater than zero",
    );
    expect_error(
        "ftp:\n  pinhole_timeout: 0m\n",
        2,
        20,
        "`pinhole_timeout` must be greater than zero",
    );
}

#[test]
fn ftp_pinhole_timeout_beyond_netfilter() {
    let err = expect_error(
        "ftp:\n  pinhole_timeout: 5m1s\n",
        2,
        20,
        "pinhole_timeout 301 s is too long: it must be at most 300 s",
    );
    assert_eq!(err.problem(), Some(&Problem::PinholeTimeoutTooLong(301)));
    expect_error("ftp: {pinhole_timeout: 1h}\n", 1, 24, "at most 300 s");
    expect_error(
        "ftp:\n  pinhole_timeout: 2 minutes\n",
        2,
        20,
        "invalid duration `2 minutes`",
    );
}

#[test]
fn ftp_max_pinholes_out_of_range() {
    expect_error(
        "ftp:\n  max_pinholes: 0\n",
        2,
        17,
        "`max_pinholes` must be from 1 to 64, not 0",
    );
    expect_error(
        "ftp:\n  max_pinholes: 65\n",
        2,
        17,
        "`max_pinholes` must be from 1 to 64, not 65",
    );
    expect_error(
        "ftp:\n  max_pinholes: many\n",
        2,
        17,
        "expected a whole number, found `many`",
    );
}

#[test]
fn ftp_max_line_out_of_range() {
    expect_error(
        "ftp:\n  max_line: 63\n",
        2,
        13,
        "`max_line` must be from 64 to 4096 bytes, not 63",
    );
    expect_error(
        "ftp:\n  max_line: 4097\n",
        2,
        13,
        "`max_line` must be from 64 to 4096 bytes, not 4097",
    );
    expect_error("ftp:\n  max_line: -512\n", 2, 13, "not -512");
}

#[test]
fn ftp_mtu_out_of_range() {
    expect_error(
        "ftp:\n  mtu: 575\n",
        2,
        8,
        "`mtu` must be from 576 to 65535 bytes, not 575",
    );
    expect_error(
        "ftp:\n  mtu: 65536\n",
        2,
        8,
        "`mtu` must be from 576 to 65535 bytes, not 65536",
    );
    expect_error(
        "ftp:\n  mtu: 1.5k\n",
        2,
        8,
        "expected a whole number of bytes, found `1.5k`",
    );
}

#[test]
fn ftp_unknown_tls_word() {
    let err = expect_error(
        "ftp:\n  tls: starttls\n",
        2,
        8,
        "unknown value `starttls` (expected one of: pass_blind, block)",
    );
    assert!(matches!(err.problem(), Some(Problem::UnknownChoice { .. })));
    expect_error(
        "ftp: {control_ports: 21, tls: pass-blind}\n",
        1,
        31,
        "unknown value `pass-blind` (expected one of: pass_blind, block)",
    );
}

#[test]
fn ftp_unknown_on_violation_word() {
    let err = expect_error(
        "ftp:\n  on_violation: drop\n",
        2,
        17,
        "unknown value `drop` (expected one of: reply, reset, monitor)",
    );
    assert!(matches!(err.problem(), Some(Problem::UnknownChoice { .. })));
}

#[test]
fn ftp_min_data_port_out_of_range() {
    let err = expect_error(
        "ftp:\n  min_data_port: 0\n",
        2,
        18,
        "`min_data_port` must be from 1 to 65535, not 0",
    );
    assert!(matches!(
        err.problem(),
        Some(Problem::NumberOutOfRange { .. })
    ));
    expect_error(
        "ftp:\n  min_data_port: 65536\n",
        2,
        18,
        "`min_data_port` must be from 1 to 65535, not 65536",
    );
    expect_error(
        "ftp:\n  min_data_port: \"1024\"\n",
        2,
        18,
        "expected a port number, found `1024`",
    );
}

#[test]
fn ftp_security_switches_are_strict_booleans() {
    expect_error("ftp:\n  allow_fxp: yes\n", 2, 14, "true or false");
    expect_error("ftp:\n  require_login: on\n", 2, 18, "true or false");
}

#[test]
fn ftp_section_of_the_wrong_shape() {
    expect_error("ftp: [21]\n", 1, 6, "invalid YAML");
}
