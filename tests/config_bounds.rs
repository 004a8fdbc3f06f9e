//! Every number a rule file gives is bounded at `check`: a value that would overflow the
//! engine's arithmetic later (an expiry `now + timeout`, a table size, a byte budget) is a
//! `FILE:LINE:COLUMN` error naming the allowed range, never a panic at run time.

use std::time::Duration;

use ftpgate::config::{self, Problem};
use ftpgate::engine::{Engine, PacketBuf, Verdict};
use ftpgate_testkit::rule_file::expect_error;

#[test]
fn the_issue_timeout_is_an_error_not_a_panic() {
    let err = expect_error(
        "timeouts:\n  tcp_established: 18446744073709551614\n",
        2,
        20,
        "timeout `tcp_established` of 18446744073709551614 s is too long: it must be at most 2592000 s",
    );
    assert!(matches!(
        err.problem(),
        Some(Problem::TimeoutTooLong { .. })
    ));
}

#[test]
fn every_timeout_is_bounded_in_seconds_and_in_text() {
    let keys = [
        "tcp_syn_sent",
        "tcp_syn_recv",
        "tcp_established",
        "tcp_fin_wait",
        "tcp_close_wait",
        "tcp_last_ack",
        "tcp_time_wait",
        "tcp_close",
        "udp_unreplied",
        "udp_replied",
        "icmp",
    ];
    for key in keys {
        for value in ["2592001", "\"31d\"", "\"720h1s\"", "9223372036854775807"] {
            let yaml = format!("timeouts:\n  {key}: {value}\n");
            expect_error(&yaml, 2, key.len() as u64 + 5, "too long");
        }
        // The longest allowed passes, in both spellings.
        for value in ["2592000", "\"30d\"", "\"720h\""] {
            let yaml = format!("timeouts:\n  {key}: {value}\n");
            assert!(config::load_str("t.yaml", &yaml).is_ok(), "{yaml}");
        }
    }
    // Text whose number overflows u64 is a parse error, not a wrap.
    expect_error(
        "timeouts:\n  icmp: \"99999999999999999999d\"\n",
        2,
        9,
        "too long",
    );
    expect_error(
        "timeouts:\n  icmp: \"213503982334601d\"\n",
        2,
        9,
        "too long",
    );
}

#[test]
fn max_flows_is_bounded_above() {
    expect_error(
        "limits:\n  max_flows: 16777217\n",
        2,
        14,
        "max_flows 16777217 is too large: it must be at most 16777216",
    );
    expect_error(
        "limits:\n  max_flows: 18446744073709551615\n",
        2,
        14,
        "too large",
    );
    let ok = config::load_str("t.yaml", "limits:\n  max_flows: 16777216\n");
    assert_eq!(ok.map(|s| s.limits.max_flows).ok(), Some(16_777_216));
}

#[test]
fn resource_limits_are_bounded_with_their_ranges() {
    let cases = [
        ("max_embryonic_per_source", "0", "1 to 16777216 flows"),
        (
            "max_embryonic_per_source",
            "16777217",
            "1 to 16777216 flows",
        ),
        ("nat_ports_per_host", "0", "1 to 65535 ports"),
        ("nat_ports_per_host", "65536", "1 to 65535 ports"),
        ("nat_ports_per_host", "-1", "1 to 65535 ports"),
        ("ftp_buffer_total", "65535", "65536 to 4294967296 bytes"),
        (
            "ftp_buffer_total",
            "18446744073709551614",
            "65536 to 4294967296 bytes",
        ),
        ("ftp_buffer_per_connection", "8191", "8192 to 1048576 bytes"),
        (
            "ftp_buffer_per_connection",
            "1048577",
            "8192 to 1048576 bytes",
        ),
    ];
    for (key, value, allowed) in cases {
        let yaml = format!("limits:\n  {key}: {value}\n");
        let err = expect_error(&yaml, 2, key.len() as u64 + 5, allowed);
        assert!(
            matches!(err.problem(), Some(Problem::NumberOutOfRange { .. })),
            "{err}"
        );
    }
    expect_error(
        "limits:\n  nat_ports_per_host: many\n",
        2,
        23,
        "a whole number of ports",
    );
    expect_error(
        "limits:\n  ftp_held_timeout: 301\n",
        2,
        21,
        "timeout `ftp_held_timeout` of 301 s is too long: it must be at most 300 s",
    );
    expect_error(
        "limits:\n  ftp_held_timeout: 0\n",
        2,
        21,
        "must be greater than zero",
    );
}

#[test]
fn resource_limits_compile_to_their_values() {
    let yaml = "limits:\n  max_embryonic_per_source: 7\n  nat_ports_per_host: 9\n  \
                ftp_buffer_total: 65536\n  ftp_buffer_per_connection: 8192\n  \
                ftp_held_timeout: 5m\n";
    let limits = match config::load_str("t.yaml", yaml) {
        Ok(settings) => settings.limits,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(limits.max_embryonic_per_source, 7);
    assert_eq!(limits.nat_ports_per_host, 9);
    assert_eq!(limits.ftp_buffer_total, 65_536);
    assert_eq!(limits.ftp_buffer_per_connection, 8192);
    assert_eq!(limits.ftp_held_timeout, Duration::from_secs(300));
}

/// The largest values `check` accepts run: a packet at a late engine time with 30-day timeouts
/// and the longest pinhole does not overflow.
#[test]
fn largest_accepted_values_run_without_overflow() {
    let yaml = "inside: 10.0.0.0/24\noutside_address: 192.0.2.1\n\
                timeouts: {tcp_syn_sent: 30d, tcp_established: 30d, udp_unreplied: 30d}\n\
                limits: {max_flows: 16777216, ftp_held_timeout: 300}\n\
                ftp: {pinhole_timeout: 300}\n";
    let settings = match config::load_str("t.yaml", yaml) {
        Ok(settings) => settings,
        Err(err) => panic!("{err}"),
    };
    let engine = Engine::new(settings);
    // UDP 10.0.0.2:5000 -> 198.51.100.9:53, built by hand.
    let mut packet = vec![
        0x45, 0, 0, 29, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 198, 51, 100, 9, 0x13, 0x88, 0, 53,
        0, 9, 0, 0, b'x',
    ];
    let sum = ipv4_checksum(&packet[..20]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
    let late = Duration::MAX - Duration::from_secs(1);
    let len = packet.len();
    packet.resize(128, 0);
    let mut buf = PacketBuf::new(&mut packet, len);
    assert_eq!(engine.process(late, &mut buf), Verdict::Accept);
    assert_eq!(engine.stats().flows, 1);
    // The flow expires at the end of time, not before: a sweep a second later keeps it.
    assert_eq!(engine.expire(late), 0);
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in header.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
