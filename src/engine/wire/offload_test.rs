//! Byte-vector tests of the offload helpers: super-packets built by hand, cut, rewritten and
//! completed, then checked with the engine's own parser and checksum verifier.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::engine::wire::checksum::checksum_with;
use crate::engine::wire::parse::{parse, transport_checksum_ok};
use crate::engine::wire::write::rewrite_endpoints;
use crate::engine::wire::Transport;

const TCP_PSH_ACK_FIN_CWR: u8 = 0x08 | 0x10 | 0x01 | 0x80;

/// An IPv4 TCP super-packet whose checksum field holds the pseudo-header sum, as the kernel
/// hands it over with NEEDS_CSUM.
fn tcp_v4_super(payload_len: usize) -> Vec<u8> {
    let total = 20 + 20 + payload_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    set_u16(&mut p, 2, total as u16);
    set_u16(&mut p, 4, 0x1234);
    p[6] = 0x40;
    p[8] = 64;
    p[9] = PROTO_TCP;
    p[12..16].copy_from_slice(&[10, 77, 0, 2]);
    p[16..20].copy_from_slice(&[198, 51, 100, 2]);
    let ip_checksum = checksum_with(0, &p[..20]);
    set_u16(&mut p, 10, ip_checksum);
    set_u16(&mut p, 20, 40000);
    set_u16(&mut p, 22, 5201);
    p[24..28].copy_from_slice(&0xffff_f000u32.to_be_bytes());
    p[28..32].copy_from_slice(&7u32.to_be_bytes());
    p[32] = 5 << 4;
    p[33] = TCP_PSH_ACK_FIN_CWR;
    set_u16(&mut p, 34, 502);
    for (i, byte) in p[40..].iter_mut().enumerate() {
        *byte = (i * 7 + 3) as u8;
    }
    let partial = pseudo_header_sum(&p).unwrap();
    set_u16(&mut p, 36, partial);
    p
}

/// An IPv6 UDP super-packet with its partial checksum.
fn udp_v6_super(payload_len: usize) -> Vec<u8> {
    let total = 40 + 8 + payload_len;
    let mut p = vec![0u8; total];
    p[0] = 0x60;
    set_u16(&mut p, 4, (total - 40) as u16);
    p[6] = PROTO_UDP;
    p[7] = 64;
    p[8] = 0xfd;
    p[23] = 2;
    p[24] = 0xfd;
    p[25] = 1;
    p[39] = 2;
    set_u16(&mut p, 40, 5353);
    set_u16(&mut p, 42, 9000);
    set_u16(&mut p, 44, (total - 40) as u16);
    for (i, byte) in p[48..].iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    let partial = pseudo_header_sum(&p).unwrap();
    set_u16(&mut p, 46, partial);
    p
}

fn cut(packet: &[u8], size: usize, max_len: usize) -> Vec<Vec<u8>> {
    let mut scratch = vec![0u8; max_len];
    let mut out = Vec::new();
    let count = for_each_segment(packet, size, &mut scratch, max_len, |buf, len| {
        out.push(buf[..len].to_vec())
    })
    .unwrap();
    assert_eq!(count, out.len());
    out
}

#[test]
fn tcp_super_packet_is_cut_like_gso() {
    let packet = tcp_v4_super(3000);
    let segments = cut(&packet, 1448, 1500);
    assert_eq!(
        segments.iter().map(Vec::len).collect::<Vec<_>>(),
        [1488, 1488, 144]
    );
    let mut payload = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        let parsed = parse(segment).expect("each segment parses");
        assert!(transport_checksum_ok(segment, &parsed), "segment {index}");
        assert_eq!(checksum_with(0, &segment[..20]), 0, "IP header checksum");
        assert_eq!(get_u16(segment, 4), 0x1234 + index as u16, "IP id");
        let Transport::Tcp(tcp) = parsed.transport else {
            panic!("tcp")
        };
        assert_eq!(tcp.seq, 0xffff_f000u32.wrapping_add(1448 * index as u32));
        let last = index == 2;
        assert_eq!(tcp.flags & 0x09 != 0, last, "FIN/PSH on the last only");
        assert_eq!(segment[33] & 0x80 != 0, index == 0, "CWR on the first only");
        payload.extend_from_slice(&segment[40..]);
    }
    assert_eq!(payload, packet[40..], "payload kept in order");
}

#[test]
fn udp_super_packet_gets_its_own_lengths_and_checksums() {
    let packet = udp_v6_super(2500);
    let segments = cut(&packet, 1200, 1500);
    assert_eq!(segments.len(), 3);
    for segment in &segments {
        let parsed = parse(segment).expect("parses");
        assert!(transport_checksum_ok(segment, &parsed));
        assert_eq!(
            usize::from(get_u16(segment, 44)),
            segment.len() - 40,
            "UDP length"
        );
    }
    assert_eq!(segments[2].len(), 40 + 8 + 100);
}

#[test]
fn partial_checksum_survives_a_nat_rewrite() {
    let mut packet = tcp_v4_super(30000);
    let before = pseudo_header_sum(&packet).unwrap();
    let partial = get_u16(&packet, 36);
    let parsed = parse(&packet).unwrap();
    let outside: IpAddr = Ipv4Addr::new(198, 51, 100, 1).into();
    let server: IpAddr = Ipv4Addr::new(198, 51, 100, 2).into();
    rewrite_endpoints(&mut packet, &parsed, (outside, 61000), (server, 5201));
    let after = pseudo_header_sum(&packet).unwrap();
    assert_ne!(before, after);
    set_u16(&mut packet, 36, adjust_partial(partial, before, after));
    assert_eq!(
        get_u16(&packet, 36),
        after,
        "the partial field is the new pseudo-header sum"
    );
    let mut completed = packet.clone();
    assert!(complete_partial(&mut completed, 20, 16));
    let parsed = parse(&completed).unwrap();
    assert!(transport_checksum_ok(&completed, &parsed));
    for segment in cut(&packet, 1448, 1500) {
        let parsed = parse(&segment).unwrap();
        assert!(transport_checksum_ok(&segment, &parsed));
        assert_eq!(&segment[12..20], &[198, 51, 100, 1, 198, 51, 100, 2]);
        assert_eq!(get_u16(&segment, 20), 61000);
    }
}

#[test]
fn complete_partial_refuses_offsets_outside_the_packet() {
    let mut packet = tcp_v4_super(10);
    let copy = packet.clone();
    assert!(!complete_partial(&mut packet, 20, 40));
    assert!(!complete_partial(&mut packet, 60, 0));
    assert_eq!(packet, copy);
    assert!(complete_partial(&mut packet, 20, 16));
    let parsed = parse(&packet).unwrap();
    assert!(transport_checksum_ok(&packet, &parsed));
}

#[test]
fn bad_super_packets_are_errors_not_panics() {
    let packet = tcp_v4_super(100);
    let mut scratch = vec![0u8; 1500];
    let no_op = |_: &mut [u8], _: usize| {};
    assert_eq!(
        for_each_segment(&packet, 0, &mut scratch, 1500, no_op),
        Err(SegmentError::BadSegmentSize)
    );
    assert_eq!(
        for_each_segment(&packet, 100, &mut scratch, 100, no_op),
        Err(SegmentError::BadSegmentSize)
    );
    let mut icmp = packet.clone();
    icmp[9] = 1;
    assert_eq!(
        for_each_segment(&icmp, 100, &mut scratch, 1500, no_op),
        Err(SegmentError::BadTransport)
    );
    assert_eq!(
        for_each_segment(&packet[..30], 100, &mut scratch, 1500, no_op),
        Err(SegmentError::BadIpHeader)
    );
    for len in 0..packet.len() {
        let _ = for_each_segment(&packet[..len], 8, &mut scratch, 1500, no_op);
        let _ = pseudo_header_sum(&packet[..len]);
        let _ = complete_partial(&mut packet[..len].to_vec(), 20, 16);
    }
}

#[test]
fn header_only_packet_is_one_segment() {
    let packet = tcp_v4_super(0);
    let segments = cut(&packet, 1448, 1500);
    assert_eq!(segments.len(), 1);
    let parsed = parse(&segments[0]).unwrap();
    assert!(transport_checksum_ok(&segments[0], &parsed));
}
