//! Byte-vector tests of [`TcpView`]: a literal segment with hand-computed checksums.

use super::*;
use crate::engine::wire::checksum::{pseudo_header_v4, verifies};

/// 192.168.0.2:40000 -> 198.51.100.2:21, PSH|ACK, seq 100, ack 1000, window 64240,
/// payload "hi"; checksum 0xc0ee (hand-computed with the IPv4 pseudo-header).
const SEGMENT: [u8; 22] = [
    0x9c, 0x40, 0x00, 0x15, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x03, 0xe8, 0x50, 0x18, 0xfa, 0xf0,
    0xc0, 0xee, 0x00, 0x00, 0x68, 0x69,
];

fn pseudo(len: u16) -> u32 {
    pseudo_header_v4([192, 168, 0, 2], [198, 51, 100, 2], 6, len)
}

#[test]
fn fields_read_from_a_literal_segment() {
    let tcp = TcpView::new_checked(&SEGMENT[..]).unwrap();
    assert_eq!((tcp.src_port(), tcp.dst_port()), (40000, 21));
    assert_eq!((tcp.seq_number(), tcp.ack_number()), (100, 1000));
    assert_eq!(
        (tcp.flags(), tcp.window(), tcp.checksum()),
        (0x18, 64240, 0xc0ee)
    );
    assert!(tcp.has(fields::tcp::ACK_FLAG | fields::tcp::PSH));
    assert_eq!(
        (tcp.header_len(), tcp.options(), tcp.payload()),
        (20, &[][..], &b"hi"[..])
    );
    assert!(verifies(pseudo(22), &SEGMENT));
}

#[test]
fn seq_and_ack_writes_keep_the_checksum_right() {
    let mut bytes = SEGMENT;
    let mut tcp = TcpView::new_checked(&mut bytes[..]).unwrap();
    tcp.set_seq_number(105);
    tcp.set_ack_number(997);
    // The segment built from scratch with seq 105, ack 997 sums to 0xc0ec.
    assert_eq!(tcp.checksum(), 0xc0ec);
    assert_eq!(&bytes[4..12], &[0, 0, 0, 105, 0, 0, 0x03, 0xe5]);
    let mut refilled = bytes;
    TcpView::new_checked(&mut refilled[..])
        .unwrap()
        .fill_checksum(pseudo(22));
    assert_eq!(refilled, bytes);
}

#[test]
fn a_bad_checksum_stays_exactly_as_bad() {
    let mut bytes = SEGMENT;
    bytes[17] ^= 0x10;
    let mut tcp = TcpView::new_checked(&mut bytes[..]).unwrap();
    tcp.set_seq_number(105);
    tcp.set_dst_port(2121);
    tcp.set_dst_port(21);
    tcp.set_seq_number(100);
    assert_eq!(bytes[16..18], [0xc0, 0xee ^ 0x10]);
}

#[test]
fn option_edits_fold_into_the_checksum() {
    // NOP, NOP, timestamps (10 bytes): data offset 8, the checksum refilled for it.
    let mut bytes = [0u8; 34];
    bytes[..20].copy_from_slice(&SEGMENT[..20]);
    bytes[12] = 0x80;
    bytes[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    bytes[32..].copy_from_slice(b"hi");
    let mut tcp = TcpView::new_checked(&mut bytes[..]).unwrap();
    tcp.fill_checksum(pseudo(34));
    tcp.edit_options(|options| options[11] = 3); // odd offset inside the options
    assert_eq!(tcp.options()[11], 3);
    assert!(verifies(pseudo(34), &bytes));
}

#[test]
fn truncated_and_lying_headers_are_refused() {
    let refused = |bytes: &[u8]| TcpView::new_checked(bytes).err();
    assert_eq!(refused(&SEGMENT[..19]), Some(ViewError::Truncated));
    let mut bad = SEGMENT;
    bad[12] = 0x40; // 16-byte header
    assert_eq!(refused(&bad), Some(ViewError::BadHeaderLen));
    bad[12] = 0x60; // 24-byte header, 22 bytes given
    assert_eq!(refused(&bad), Some(ViewError::Truncated));
    assert!(TcpView::new_checked(&SEGMENT[..20]).is_ok());
}

#[test]
fn an_emitted_header_matches_the_literal() {
    let mut bytes = [0xaau8; 22];
    bytes[20..].copy_from_slice(b"hi");
    let mut tcp = TcpView::new_unchecked(&mut bytes[..]);
    tcp.emit_header((40000, 21), 100, 1000, 0x18, 64240);
    tcp.fill_checksum(pseudo(22));
    assert_eq!(bytes, SEGMENT);
}
