//! Engine scenarios: malformed, truncated and fragmented packets get counted verdicts, never a
//! panic, and leave other flows intact.

use ftpgate_testkit as support;

use ftpgate::engine::{DropReason, Engine, Verdict};
use proptest::prelude::*;
use support::*;

#[test]
fn every_truncation_of_a_valid_packet_is_a_counted_drop() {
    let engine = Engine::new(lab_settings());
    let packets = [
        tcp((CLIENT, 40000), (SERVER, 80), SYN, 1, 0, b""),
        udp((CLIENT, 40000), (SERVER, 53), b"query"),
        echo(CLIENT, SERVER, 5, true),
        tcp6(("fd00:77::2", 1), ("2001:db8::1", 2), SYN, 1, 0),
    ];
    let mut drops = 0;
    for packet in &packets {
        for len in 0..packet.len() {
            let out = run(&engine, secs(1), &packet[..len]);
            assert!(
                matches!(
                    out.verdict,
                    Verdict::Drop(DropReason::Truncated | DropReason::MalformedIp)
                ),
                "prefix of {len} bytes: {:?}",
                out.verdict
            );
            drops += 1;
        }
    }
    let stats = engine.stats();
    assert_eq!(stats.total_dropped(), drops);
    assert_eq!(stats.flows, 0);
}

#[test]
fn malformed_headers_get_their_reasons() {
    let engine = Engine::new(lab_settings());
    let good = tcp((CLIENT, 40000), (SERVER, 80), SYN, 1, 0, b"");

    let mut bad_version = good.clone();
    bad_version[0] = 0x55;
    assert_eq!(
        run(&engine, secs(1), &bad_version).verdict,
        Verdict::Drop(DropReason::MalformedIp)
    );

    let mut short_ihl = good.clone();
    short_ihl[0] = 0x44;
    assert_eq!(
        run(&engine, secs(1), &short_ihl).verdict,
        Verdict::Drop(DropReason::MalformedIp)
    );

    let mut bad_ip_checksum = good.clone();
    bad_ip_checksum[10] ^= 0x01;
    assert_eq!(
        run(&engine, secs(1), &bad_ip_checksum).verdict,
        Verdict::Drop(DropReason::BadIpChecksum)
    );

    let mut data_offset = good.clone();
    data_offset[20 + 12] = 0x20; // 8-byte TCP header
    assert_eq!(
        run(&engine, secs(1), &data_offset).verdict,
        Verdict::Drop(DropReason::MalformedTransport)
    );

    let mut bad_tcp_checksum = good.clone();
    bad_tcp_checksum[20 + 16] ^= 0x40;
    assert_eq!(
        run(&engine, secs(1), &bad_tcp_checksum).verdict,
        Verdict::Drop(DropReason::BadChecksum)
    );

    let mut gre = good.clone();
    gre[9] = 47;
    gre[10] = 0;
    gre[11] = 0;
    let checksum = ipv4_header_checksum(&gre[..20]);
    gre[10..12].copy_from_slice(&checksum.to_be_bytes());
    assert_eq!(
        run(&engine, secs(1), &gre).verdict,
        Verdict::Drop(DropReason::UnsupportedProtocol)
    );
    assert_eq!(engine.stats().flows, 0);
}

fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn ip_fragments_are_dropped_with_their_reason() {
    let engine = Engine::new(lab_settings());
    for (flags_and_offset, name) in [(0x2000u16, "first fragment"), (0x0010, "later fragment")] {
        let mut fragment = udp((CLIENT, 40000), (SERVER, 53), &[7u8; 64]);
        fragment[6..8].copy_from_slice(&flags_and_offset.to_be_bytes());
        fragment[10..12].fill(0);
        let checksum = ipv4_header_checksum(&fragment[..20]);
        fragment[10..12].copy_from_slice(&checksum.to_be_bytes());
        assert_eq!(
            run(&engine, secs(1), &fragment).verdict,
            Verdict::Drop(DropReason::Fragment),
            "{name}"
        );
    }
}

#[test]
fn ethernet_padding_after_the_ip_packet_is_stripped() {
    let engine = Engine::new(lab_settings());
    let mut padded = tcp((CLIENT, 40000), (SERVER, 80), SYN, 1, 0, b"");
    let real_len = padded.len();
    padded.extend_from_slice(&[0u8; 6]);
    let out = run(&engine, secs(1), &padded);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(out.bytes.len(), real_len);
    assert!(checksums_verify(&out.bytes));
}

fn seed_packets() -> Vec<Vec<u8>> {
    vec![
        tcp((CLIENT, 40000), (SERVER, 80), SYN, 1000, 0, b""),
        tcp((SERVER, 80), (OUTSIDE, 40000), SYN | ACK, 5000, 1001, b""),
        tcp(
            (CLIENT, 40000),
            (SERVER, 80),
            ACK | PSH,
            1001,
            5001,
            b"payload bytes",
        ),
        udp((CLIENT, 5000), (SERVER, 53), b"dns"),
        udp((SERVER, 9), (OUTSIDE, 5353), b"forward"),
        echo(CLIENT, SERVER, 77, true),
        icmp_unreachable(ROUTER, OUTSIDE, &udp((OUTSIDE, 5000), (SERVER, 53), b"dns")),
        tcp6(("fd00:77::2", 1), ("2001:db8::1", 2), SYN, 1, 0),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Mutated, truncated or extended packets never panic, and a reference flow set up before
    /// them still translates both ways afterwards.
    #[test]
    fn hostile_packets_never_panic_and_never_disturb_other_flows(
        seed in 0usize..8,
        flips in proptest::collection::vec((0usize..128, any::<u8>()), 0..6),
        cut in proptest::option::of(0usize..128),
        tail in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let engine = Engine::new(lab_settings());
        let reference = run(&engine, secs(1), &udp((CLIENT2, 7777), (SERVER, 7777), b"ref"));
        prop_assert_eq!(reference.verdict, Verdict::Accept);
        let reference_port = outside_port(&reference);

        let mut packet = seed_packets().swap_remove(seed);
        for (at, value) in flips {
            if let Some(byte) = packet.get_mut(at) {
                *byte ^= value;
            }
        }
        if let Some(cut) = cut {
            packet.truncate(cut);
        }
        packet.extend_from_slice(&tail);
        let out = run(&engine, secs(2), &packet);
        if out.verdict == Verdict::Accept && checksums_verify(&packet[..out.bytes.len().min(packet.len())]) {
            prop_assert!(checksums_verify(&out.bytes), "a verified packet stays verified");
        }

        let back = run(&engine, secs(3), &udp((SERVER, 7777), (OUTSIDE, reference_port), b"ans"));
        prop_assert_eq!(back.verdict, Verdict::Accept);
        prop_assert_eq!(endpoints(&back.bytes).1, v4(CLIENT2, 7777));
    }

    /// Arbitrary bytes are always a defined verdict.
    #[test]
    fn random_bytes_get_a_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let engine = Engine::new(lab_settings());
        let out = run(&engine, secs(1), &bytes);
        let stats = engine.stats();
        prop_assert_eq!(stats.packets, 1);
        if let Verdict::Drop(reason) = out.verdict {
            prop_assert_eq!(stats.drops(reason), 1);
        }
    }
}

#[test]
fn an_icmp_error_whose_quote_is_cut_short_is_refused_even_with_padding_after_it() {
    let engine = Engine::new(lab_settings());
    let sent = run(&engine, secs(1), &udp((CLIENT, 40000), (SERVER, 53), b"q"));
    let mut error = icmp_unreachable(ROUTER, OUTSIDE, &sent.bytes[..24]);
    error.extend_from_slice(&[0u8; 8]); // link padding that completes the "quote"
    let out = run(&engine, secs(1), &error);
    assert_eq!(out.verdict, Verdict::Drop(DropReason::Truncated));
}
