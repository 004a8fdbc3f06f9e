//! Builds the answer to a rejected packet in the packet's own buffer: a TCP RST for TCP,
//! an ICMP (or ICMPv6) destination-unreachable quoting the packet for anything else. Also
//! writes whole TCP segments the gateway sends in an endpoint's name ([`tcp_segment`]).
//!
//! Owns what an answer holds; the headers are emitted through the views of [`super::view`]
//! (unchecked: the buffer is sized here). It never answers a RST or an ICMP error (RFC 1122)
//! and never decides whether to answer at all (that is policy).

use std::net::IpAddr;

use super::checksum::{pseudo_header_v4, pseudo_header_v6};
use super::fields;
use super::parse::{
    IcmpKind, ParsedPacket, Transport, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
};
use super::view::{icmp, ip, tcp, IcmpView, TcpView};
use crate::engine::packet::PacketBuf;

/// Hop limit of generated packets.
const TTL: u8 = 64;
/// An ICMPv4 error stays within the 576-byte minimum datagram (RFC 1812 4.3.2.3).
const ICMPV4_ERROR_MAX: usize = 576;
/// An ICMPv6 error stays within the 1280-byte minimum MTU (RFC 4443 2.4).
const ICMPV6_ERROR_MAX: usize = 1280;

/// Whether a rejected packet may be answered at all: never a RST to a RST, never an ICMP
/// error about an ICMP error (RFC 1122 3.2.2).
pub fn may_answer(packet: &ParsedPacket) -> bool {
    match packet.transport {
        Transport::Tcp(tcp) => !tcp.has(fields::tcp::RST),
        Transport::Icmp(IcmpKind::Error(_)) => false,
        _ => true,
    }
}

/// Replaces the buffer's packet with the answer to it; false (buffer unchanged) if the buffer
/// is too small or the packet may not be answered.
pub fn build_reject(buf: &mut PacketBuf<'_>, packet: &ParsedPacket) -> bool {
    if !may_answer(packet) {
        return false;
    }
    match packet.transport {
        Transport::Tcp(_) => build_rst(buf, packet),
        _ => build_unreachable(buf, packet),
    }
}

fn write_ip_header(
    out: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    total_len: usize,
) -> usize {
    ip::emit_header(out, (src, dst), protocol, TTL, total_len)
}

fn pseudo_sum(src: IpAddr, dst: IpAddr, protocol: u8, length: usize) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            pseudo_header_v4(s.octets(), d.octets(), protocol, length as u16)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            pseudo_header_v6(s.octets(), d.octets(), protocol, length as u32)
        }
        _ => 0,
    }
}

fn ip_header_len(addr: IpAddr) -> usize {
    if addr.is_ipv4() {
        ip::v4::HEADER_LEN
    } else {
        ip::v6::HEADER_LEN
    }
}

/// The fields of a TCP segment the gateway writes itself.
#[derive(Debug, Clone, Copy)]
pub struct SegmentSpec<'a> {
    /// Source address and port.
    pub src: (IpAddr, u16),
    /// Destination address and port.
    pub dst: (IpAddr, u16),
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (the ACK flag is set when `flags` holds it).
    pub ack: u32,
    /// TCP flags.
    pub flags: u8,
    /// Window field.
    pub window: u16,
    /// Payload.
    pub payload: &'a [u8],
}

impl SegmentSpec<'_> {
    /// Bytes of the whole IP packet; `None` when the addresses are of different families or
    /// it would exceed 65535 bytes.
    pub fn total_len(&self) -> Option<usize> {
        if self.src.0.is_ipv4() != self.dst.0.is_ipv4() {
            return None;
        }
        let total = ip_header_len(self.src.0) + tcp::field::HEADER_LEN + self.payload.len();
        (total <= usize::from(u16::MAX)).then_some(total)
    }

    /// Writes the packet at the start of `out` (at least `total` bytes), checksums computed.
    pub fn write(&self, out: &mut [u8], total: usize) {
        let l4 = write_ip_header(out, self.src.0, self.dst.0, PROTO_TCP, total);
        let segment = &mut out[l4..total];
        segment[tcp::field::HEADER_LEN..].copy_from_slice(self.payload);
        let sum = pseudo_sum(self.src.0, self.dst.0, PROTO_TCP, segment.len());
        let mut tcp = TcpView::new_unchecked(segment);
        let ports = (self.src.1, self.dst.1);
        tcp.emit_header(ports, self.seq, self.ack, self.flags, self.window);
        tcp.fill_checksum(sum);
    }
}

/// A complete IP packet holding the TCP segment `spec` describes, checksums computed; `None`
/// when the addresses are of different families or it would exceed 65535 bytes.
pub fn tcp_segment(spec: &SegmentSpec<'_>) -> Option<Vec<u8>> {
    let total = spec.total_len()?;
    let mut out = vec![0u8; total];
    spec.write(&mut out, total);
    Some(out)
}

fn build_rst(buf: &mut PacketBuf<'_>, packet: &ParsedPacket) -> bool {
    let Transport::Tcp(tcp) = packet.transport else {
        return false;
    };
    let (seq, ack, flags) = if tcp.has(fields::tcp::ACK_FLAG) {
        (tcp.ack, 0, fields::tcp::RST)
    } else {
        (
            0,
            tcp.seq.wrapping_add(tcp.seq_len()),
            fields::tcp::RST | fields::tcp::ACK_FLAG,
        )
    };
    let spec = SegmentSpec {
        src: (packet.dst, tcp.dst_port),
        dst: (packet.src, tcp.src_port),
        seq,
        ack,
        flags,
        window: 0,
        payload: &[],
    };
    let Some(total) = spec.total_len().filter(|total| *total <= buf.capacity()) else {
        return false;
    };
    spec.write(buf.buffer_mut(), total);
    buf.set_len(total)
}

fn build_unreachable(buf: &mut PacketBuf<'_>, packet: &ParsedPacket) -> bool {
    let v4 = packet.is_ipv4();
    let (protocol, icmp_type, code, limit) = match (v4, packet.protocol) {
        (true, PROTO_UDP) => (PROTO_ICMP, 3, 3, ICMPV4_ERROR_MAX), // port unreachable
        (true, _) => (PROTO_ICMP, 3, 13, ICMPV4_ERROR_MAX),        // administratively prohibited
        (false, PROTO_UDP) => (PROTO_ICMPV6, 1, 4, ICMPV6_ERROR_MAX),
        (false, _) => (PROTO_ICMPV6, 1, 1, ICMPV6_ERROR_MAX),
    };
    let header = ip_header_len(packet.src) + icmp::field::HEADER_LEN;
    let quoted = packet
        .ip_len
        .min(buf.len())
        .min(limit - header)
        .min(buf.capacity().saturating_sub(header));
    if quoted == 0 {
        return false;
    }
    let total = header + quoted;
    let out = buf.buffer_mut();
    out.copy_within(0..quoted, header);
    let l4 = write_ip_header(out, packet.dst, packet.src, protocol, total);
    let message = &mut out[l4..total];
    let sum = if v4 {
        0
    } else {
        pseudo_sum(packet.dst, packet.src, PROTO_ICMPV6, message.len())
    };
    let mut icmp = IcmpView::new_unchecked(message);
    icmp.emit_header(icmp_type, code);
    icmp.fill_checksum(sum);
    buf.set_len(total)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::engine::wire::parse;
    use crate::engine::wire::test_vectors::{RST_ANSWER, TCP_SEGMENT};

    #[test]
    fn a_segment_with_ack_is_answered_by_the_literal_rst() {
        let mut storage = [0u8; 64];
        storage[..42].copy_from_slice(&TCP_SEGMENT);
        let parsed = parse(&TCP_SEGMENT).unwrap();
        let mut buf = PacketBuf::new(&mut storage, 42);
        assert!(build_reject(&mut buf, &parsed));
        assert_eq!(buf.bytes(), &RST_ANSWER[..]);
        // Never a RST to a RST.
        assert!(!may_answer(&parse(&RST_ANSWER).unwrap()));
    }

    #[test]
    fn tcp_segment_writes_the_same_bytes() {
        let spec = SegmentSpec {
            src: (IpAddr::from([198, 51, 100, 2]), 21),
            dst: (IpAddr::from([192, 168, 0, 2]), 40000),
            seq: 1000,
            ack: 0,
            flags: fields::tcp::RST,
            window: 0,
            payload: &[],
        };
        assert_eq!(tcp_segment(&spec).unwrap(), RST_ANSWER);
    }

    #[test]
    fn too_small_a_buffer_is_left_unchanged() {
        let mut storage = TCP_SEGMENT;
        let parsed = parse(&TCP_SEGMENT).unwrap();
        let mut buf = PacketBuf::new(&mut storage[..30], 30);
        assert!(!build_reject(&mut buf, &parsed));
        assert_eq!(&storage[..], &TCP_SEGMENT[..]);
    }
}
