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
