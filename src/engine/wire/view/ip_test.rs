//! Byte-vector tests of [`IpView`]: literal packets with hand-computed checksums.

use super::*;
use crate::engine::wire::checksum::verifies;

/// 192.168.0.2:40000 -> 198.51.100.2:21, PSH|ACK, seq 100, ack 1000, payload "hi".
/// IPv4 checksum 0x4fed, TCP checksum 0xc0ee (both hand-computed).
pub(super) const SEGMENT: [u8; 42] = [
    0x45, 0x00, 0x00, 0x2a, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x4f, 0xed, 0xc0, 0xa8, 0x00, 0x02,
    0xc6, 0x33, 0x64, 0x02, 0x9c, 0x40, 0x00, 0x15, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x03, 0xe8,
    0x50, 0x18, 0xfa, 0xf0, 0xc0, 0xee, 0x00, 0x00, 0x68, 0x69,
];

#[test]
fn fields_read_from_a_literal_packet() {
    let ip = IpView::new_checked(&SEGMENT[..]).unwrap();
    assert!(ip.is_ipv4());
    assert_eq!((ip.transport_offset(), ip.total_len()), (20, 42));
    assert_eq!(ip.protocol(), PROTO_TCP);
    assert_eq!(ip.src_addr(), IpAddr::from([192, 168, 0, 2]));
    assert_eq!(ip.dst_addr(), IpAddr::from([198, 51, 100, 2]));
    assert_eq!(ip.transport().len(), 22);
    assert!(verifies(0, &SEGMENT[..20]));
    assert!(verifies(ip.pseudo_header_sum(22), ip.transport()));
}

#[test]
fn address_rewrite_keeps_both_checksums_right() {
    let mut bytes = SEGMENT;
    let mut ip = IpView::new_checked(&mut bytes[..]).unwrap();
    ip.set_src_v4(Ipv4Addr::new(10, 77, 0, 2));
    ip.tcp_mut().unwrap().set_src_port(40001);
    // The packet as built from scratch with the new source: checksums 0x0649 and 0x7749.
    assert_eq!(&bytes[10..12], &[0x06, 0x49]);
    assert_eq!(&bytes[36..38], &[0x77, 0x49]);
    assert_eq!(&bytes[12..16], &[10, 77, 0, 2]);
}

#[test]
fn header_only_rewrite_leaves_the_transport_alone() {
    let mut bytes = SEGMENT;
    let mut ip = IpView::new_checked(&mut bytes[..]).unwrap();
    ip.set_addrs_v4_header_only(Ipv4Addr::new(10, 77, 0, 2), Ipv4Addr::new(198, 51, 100, 2));
    assert_eq!(&bytes[10..12], &[0x06, 0x49]);
    assert_eq!(&bytes[20..], &SEGMENT[20..]);
}

#[test]
fn a_longer_payload_with_its_lengths_and_checksums() {
    // Same segment with payload "hello": total 45, checksums 0x4fea and 0xe582.
    let mut bytes = [0u8; 48];
    bytes[..42].copy_from_slice(&SEGMENT);
    bytes[40..45].copy_from_slice(b"hello");
    let mut ip = IpView::new_checked(&mut bytes[..]).unwrap();
    ip.set_total_len(45).unwrap();
    assert_eq!(ip.total_len(), 45);
    ip.fill_tcp_checksum().unwrap();
    assert_eq!(&bytes[10..12], &[0x4f, 0xea]);
    assert_eq!(&bytes[36..38], &[0xe5, 0x82]);
    let mut ip = IpView::new_checked(&mut bytes[..]).unwrap();
    assert_eq!(ip.set_total_len(49), Err(ViewError::Truncated));
    ip.fill_header_checksum();
    assert_eq!(&bytes[10..12], &[0x4f, 0xea]);
}

#[test]
fn truncated_and_lying_headers_are_refused() {
    let refused = |bytes: &[u8]| IpView::new_checked(bytes).err();
    assert_eq!(refused(&SEGMENT[..19]), Some(ViewError::Truncated));
    assert_eq!(refused(&SEGMENT[..41]), Some(ViewError::Truncated)); // total 42
    assert_eq!(refused(&[]), Some(ViewError::BadVersion));
    let mut bad = SEGMENT;
    bad[0] = 0x44; // IHL 16 bytes
    assert_eq!(refused(&bad), Some(ViewError::BadHeaderLen));
    bad[0] = 0x4f; // IHL 60 bytes, past the 42 given
    assert_eq!(refused(&bad), Some(ViewError::Truncated));
    bad[0] = 0x45;
    bad[3] = 19; // total length inside the header
    assert_eq!(refused(&bad), Some(ViewError::BadTotalLen));
    bad[0] = 0x55;
    assert_eq!(refused(&bad), Some(ViewError::BadVersion));
    // The transport offset must be the IPv4 header's end.
    assert_eq!(
        IpView::new_checked_at(&SEGMENT[..], 24, PROTO_TCP).err(),
        Some(ViewError::BadTransportOffset)
    );
    // A UDP view of a TCP packet.
    let mut bytes = SEGMENT;
    let mut ip = IpView::new_checked(&mut bytes[..]).unwrap();
    assert_eq!(ip.udp_mut().err(), Some(ViewError::WrongProtocol));
}

/// IPv6 ::1 -> ::2, UDP 1024 -> 53, payload "ab"; UDP checksum 0x9a40 (hand-computed).
const V6_DATAGRAM: [u8; 50] = [
    0x60, 0, 0, 0, 0, 10, 17, 64, // version, payload length 10, next header UDP, hop limit
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // ::1
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // ::2
    0x04, 0x00, 0x00, 0x35, 0x00, 0x0a, 0x9a, 0x40, b'a', b'b',
];

#[test]
fn ipv6_fields_and_an_address_write_that_does_nothing() {
    let mut bytes = V6_DATAGRAM;
    let mut ip = IpView::new_checked(&mut bytes[..]).unwrap();
    assert!(!ip.is_ipv4());
    assert_eq!(
        (ip.transport_offset(), ip.total_len(), ip.protocol()),
        (40, 50, 17)
    );
    assert!(verifies(ip.pseudo_header_sum(10), ip.transport()));
    ip.set_src_v4(Ipv4Addr::new(10, 0, 0, 1));
    ip.udp_mut().unwrap().set_src_port(1025);
    assert_eq!(&bytes[..40], &V6_DATAGRAM[..40]);
    let ip = IpView::new_checked(&bytes[..]).unwrap();
    assert!(verifies(ip.pseudo_header_sum(10), ip.transport()));
    assert_eq!(
        IpView::new_checked(&V6_DATAGRAM[..49]).err(),
        Some(ViewError::Truncated)
    );
    assert_eq!(
        IpView::new_checked_at(&V6_DATAGRAM[..], 51, 17).err(),
        Some(ViewError::BadTransportOffset)
    );
}

#[test]
fn emitted_headers_match_literal_bytes() {
    let mut out = [0xaau8; 20];
    let addrs = (
        IpAddr::from([192, 168, 0, 2]),
        IpAddr::from([198, 51, 100, 2]),
    );
    assert_eq!(emit_header(&mut out, addrs, PROTO_TCP, 64, 40), 20);
    assert_eq!(
        out,
        [0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0x8f, 0xf0, 192, 168, 0, 2, 198, 51, 100, 2]
    );
    let mut out = [0xaau8; 40];
    let addrs = (IpAddr::from([0u8; 16]), IpAddr::from([0u8; 16]));
    assert_eq!(emit_header(&mut out, addrs, PROTO_UDP, 64, 48), 40);
    assert_eq!(&out[..8], &[0x60, 0, 0, 0, 0, 8, 17, 64]);
}

#[test]
fn a_whole_tuple_rewrite_matches_the_literal_and_the_field_by_field_one() {
    // The same rewrite as `address_rewrite_keeps_both_checksums_right`, done at once.
    let mut bytes = SEGMENT;
    let mut ip = IpView::new_checked(&mut bytes[..]).unwrap();
    let server = (Ipv4Addr::new(198, 51, 100, 2), 21);
    ip.set_tuple_v4((Ipv4Addr::new(10, 77, 0, 2), 40001), server)
        .unwrap();
    assert_eq!(&bytes[10..12], &[0x06, 0x49]);
    assert_eq!(&bytes[36..38], &[0x77, 0x49]);
    assert_eq!(&bytes[12..16], &[10, 77, 0, 2]);
    assert_eq!(&bytes[20..22], &40001u16.to_be_bytes());
    // Every field changed, both ways: the same bytes as the word-by-word setters give.
    let (a, b) = (
        (Ipv4Addr::new(203, 0, 113, 9), 65535),
        (Ipv4Addr::new(1, 2, 3, 4), 0),
    );
    let mut whole = SEGMENT;
    IpView::new_checked(&mut whole[..])
        .unwrap()
        .set_tuple_v4(a, b)
        .unwrap();
    let mut fields = SEGMENT;
    let mut ip = IpView::new_checked(&mut fields[..]).unwrap();
    ip.set_src_v4(a.0);
    ip.set_dst_v4(b.0);
    let mut tcp = ip.tcp_mut().unwrap();
    tcp.set_src_port(a.1);
    tcp.set_dst_port(b.1);
    assert_eq!(whole, fields);
    assert!(verifies(0, &whole[..20]));
    let ip = IpView::new_checked(&whole[..]).unwrap();
    assert!(verifies(ip.pseudo_header_sum(22), ip.transport()));
}

#[test]
fn a_whole_tuple_rewrite_refuses_what_it_cannot_write_and_keeps_udp_none() {
    let mut bytes = SEGMENT;
    bytes[9] = 1; // ICMP: no ports
    let mut ip = IpView::new_checked(&mut bytes[..]).unwrap();
    let endpoint = (Ipv4Addr::new(10, 0, 0, 1), 1);
    assert_eq!(
        ip.set_tuple_v4(endpoint, endpoint),
        Err(ViewError::WrongProtocol)
    );
    assert_eq!(&bytes[..9], &SEGMENT[..9], "nothing written");
    // UDP without a checksum (zero: "none") keeps none; the header checksum still follows.
    let mut udp = [0u8; 28];
    udp[..20].copy_from_slice(&SEGMENT[..20]);
    udp[9] = PROTO_UDP;
    udp[2..4].copy_from_slice(&28u16.to_be_bytes());
    IpView::new_checked(&mut udp[..])
        .unwrap()
        .fill_header_checksum();
    udp[20..28].copy_from_slice(&[0x9c, 0x40, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00]);
    let mut ip = IpView::new_checked(&mut udp[..]).unwrap();
    ip.set_tuple_v4(endpoint, (Ipv4Addr::new(198, 51, 100, 2), 53))
        .unwrap();
    assert_eq!(&udp[26..28], &[0, 0]);
    assert!(verifies(0, &udp[..20]));
    // A datagram too short for its header: refused.
    let mut short = udp;
    short[2..4].copy_from_slice(&24u16.to_be_bytes());
    let mut ip = IpView::new_checked(&mut short[..]).unwrap();
    assert_eq!(
        ip.set_tuple_v4(endpoint, endpoint),
        Err(ViewError::Truncated)
    );
}

#[test]
fn whole_tuple_and_field_by_field_rewrites_agree_on_many_tuples() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let r = next();
        let (a, b) = (
            (Ipv4Addr::from(r as u32), (r >> 32) as u16),
            (Ipv4Addr::from(next() as u32), (r >> 48) as u16),
        );
        for protocol in [PROTO_TCP, PROTO_UDP] {
            let mut packet = SEGMENT;
            packet[9] = protocol;
            if protocol == PROTO_UDP {
                packet[24..26].copy_from_slice(&22u16.to_be_bytes());
            }
            let mut ip = IpView::new_checked(&mut packet[..]).unwrap();
            ip.fill_header_checksum();
            let pseudo = ip.pseudo_header_sum(22);
            let checksum = checksum_with(pseudo, &{
                let mut t = ip.transport().to_vec();
                let at = if protocol == PROTO_TCP { 16 } else { 6 };
                t[at..at + 2].fill(0);
                t
            });
            let at = 20 + if protocol == PROTO_TCP { 16 } else { 6 };
            set_u16(&mut packet, at, checksum);
            let mut whole = packet;
            IpView::new_checked(&mut whole[..])
                .unwrap()
                .set_tuple_v4(a, b)
                .unwrap();
            let mut fields = packet;
            let mut ip = IpView::new_checked(&mut fields[..]).unwrap();
            ip.set_src_v4(a.0);
            ip.set_dst_v4(b.0);
            if protocol == PROTO_TCP {
                let mut tcp = ip.tcp_mut().unwrap();
                tcp.set_src_port(a.1);
                tcp.set_dst_port(b.1);
            } else {
                let mut udp = ip.udp_mut().unwrap();
                udp.set_src_port(a.1);
                udp.set_dst_port(b.1);
            }
            assert_eq!(whole, fields, "{a:?} {b:?} protocol {protocol}");
            let ip = IpView::new_checked(&whole[..]).unwrap();
            assert!(verifies(0, &whole[..20]));
            assert!(verifies(ip.pseudo_header_sum(22), ip.transport()));
        }
    }
}
