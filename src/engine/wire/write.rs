//! In-place rewrites of addresses, ports and echo identifiers, with every affected checksum
//! (IPv4 header, TCP/UDP pseudo-header, ICMP) updated incrementally.
//!
//! Owns which fields a NAT rewrite touches; the writes themselves go through the typed views
//! of [`super::view`], which keep the checksums. An ICMP error's quote is the exception: it
//! may hold only eight transport bytes, so it is written word by word with the views' field
//! ranges. It never decides the new endpoints (that is `nat`).

use std::net::IpAddr;

use super::checksum::update_bytes;
use super::fields::{get_u16, set_u16};
use super::parse::{IcmpKind, ParsedPacket, QuotedPacket, Transport, PROTO_TCP, PROTO_UDP};
use super::view::ip::v4;
use super::view::{icmp, tcp, udp, write_quad, write_word, IpView};

/// An address and port (echo identifier for ICMP).
pub type Endpoint = (IpAddr, u16);

/// A UDP checksum that computes to zero is sent as all ones (RFC 768); zero means "none".
fn fix_udp_zero(bytes: &mut [u8], protocol: u8, checksum_at: Option<usize>) {
    if let (PROTO_UDP, Some(at)) = (protocol, checksum_at) {
        if get_u16(bytes, at) == 0 {
            set_u16(bytes, at, 0xffff);
        }
    }
}

/// Rewrites the packet's source and destination to `src` and `dst`. Addresses change only on
/// IPv4 (there is no IPv6 NAT); ports change for TCP and UDP, the identifier for ICMP echo
/// (a request carries it as its source "port", a reply as its destination "port"). Other
/// packets keep their transport bytes. Each write goes through [`IpView`] and the transport
/// view inside it, which keep every checksum covering the field right; a packet the views
/// refuse (not one [`super::parse`] accepted) is left alone.
pub fn rewrite_endpoints(bytes: &mut [u8], packet: &ParsedPacket, src: Endpoint, dst: Endpoint) {
    let Ok(mut ip) = IpView::new_checked_at(bytes, packet.l4_offset, packet.protocol) else {
        return;
    };
    if let (IpAddr::V4(src_v4), IpAddr::V4(dst_v4), Transport::Tcp(_) | Transport::Udp { .. }) =
        (src.0, dst.0, &packet.transport)
    {
        // The common case, every translated TCP/UDP packet: one checksum update each.
        let _ = ip.set_tuple_v4((src_v4, src.1), (dst_v4, dst.1));
        return;
    }
    if let (IpAddr::V4(src), IpAddr::V4(dst)) = (src.0, dst.0) {
        ip.set_src_v4(src);
        ip.set_dst_v4(dst);
    }
    match packet.transport {
        Transport::Tcp(_) => {
            if let Ok(mut tcp) = ip.tcp_mut() {
                tcp.set_src_port(src.1);
                tcp.set_dst_port(dst.1);
            }
        }
        Transport::Udp { .. } => {
            if let Ok(mut udp) = ip.udp_mut() {
                udp.set_src_port(src.1);
                udp.set_dst_port(dst.1);
            }
        }
        Transport::Icmp(kind @ (IcmpKind::EchoRequest { .. } | IcmpKind::EchoReply { .. })) => {
            let id = if matches!(kind, IcmpKind::EchoRequest { .. }) {
                src.1
            } else {
                dst.1
            };
            if let Ok(mut icmp) = ip.icmp_mut() {
                icmp.set_echo_id(id);
            }
        }
        Transport::Icmp(_) => {}
    }
}

/// Largest quoted header region rewritten: a 60-byte IPv4 header plus 20 transport bytes.
const QUOTED_REGION_MAX: usize = 80;

/// Rewrites the packet an ICMP error quotes so it names `src` -> `dst`, fixing the quoted IP
/// header checksum, the quoted transport checksum where the quote still holds it, and the
/// outer ICMP checksum over all of it. Outer addresses are the caller's business.
pub fn rewrite_quoted(
    bytes: &mut [u8],
    packet: &ParsedPacket,
    quoted: &QuotedPacket,
    src: Endpoint,
    dst: Endpoint,
) {
    let end = packet.ip_len.min(bytes.len());
    let region_end = end.min(quoted.ip_offset + QUOTED_REGION_MAX);
    let mut before = [0u8; QUOTED_REGION_MAX];
    let region_len = region_end - quoted.ip_offset;
    before[..region_len].copy_from_slice(&bytes[quoted.ip_offset..region_end]);

    let l4 = quoted.l4_offset;
    let quoted_transport_checksum = l4
        + match quoted.protocol {
            PROTO_TCP => tcp::field::CHECKSUM.start,
            PROTO_UDP => udp::field::CHECKSUM.start,
            _ => icmp::field::CHECKSUM.start,
        };
    let in_quote = quoted_transport_checksum + 2 <= region_end
        && get_u16(bytes, quoted_transport_checksum) != 0;
    let l4_checksum = in_quote.then_some(quoted_transport_checksum);
    let pseudo = matches!(quoted.protocol, PROTO_TCP | PROTO_UDP)
        .then_some(l4_checksum)
        .flatten();
    if let (IpAddr::V4(src), IpAddr::V4(dst)) = (src.0, dst.0) {
        let sums = [Some(quoted.ip_offset + v4::CHECKSUM.start), pseudo];
        write_quad(bytes, quoted.ip_offset + v4::SRC.start, src.octets(), &sums);
        write_quad(bytes, quoted.ip_offset + v4::DST.start, dst.octets(), &sums);
    }
    if matches!(quoted.protocol, PROTO_TCP | PROTO_UDP) {
        // A quote may hold only the first eight transport bytes: no transport view here.
        let (src_port, dst_port) = (tcp::field::SRC_PORT.start, tcp::field::DST_PORT.start);
        write_word(bytes, l4 + src_port, src.1, &[l4_checksum]);
        write_word(bytes, l4 + dst_port, dst.1, &[l4_checksum]);
        fix_udp_zero(bytes, quoted.protocol, l4_checksum);
    } else {
        let id = if quoted.echo_request { src.1 } else { dst.1 };
        write_word(bytes, l4 + icmp::field::ECHO_ID.start, id, &[l4_checksum]);
    }

    let icmp_checksum_at = packet.l4_offset + icmp::field::CHECKSUM.start;
    let updated = update_bytes(
        get_u16(bytes, icmp_checksum_at),
        &before[..region_len],
        &bytes[quoted.ip_offset..region_end],
    );
    set_u16(bytes, icmp_checksum_at, updated);
}

/// Rewrites only the outer IPv4 addresses of a packet (an ICMP error's own header), keeping
/// the IP header checksum right. ICMPv4's checksum has no pseudo-header, so nothing else moves.
pub fn rewrite_ipv4_addresses(bytes: &mut [u8], src: IpAddr, dst: IpAddr) {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (src, dst) else {
        return;
    };
    if let Ok(mut ip) = IpView::new_checked(bytes) {
        ip.set_addrs_v4_header_only(src, dst);
    }
}

#[cfg(test)]
mod test {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::engine::wire::checksum::checksum_with;
    use crate::engine::wire::parse;
    use crate::engine::wire::test_vectors::{TCP_SEGMENT, TCP_SEGMENT_TRANSLATED};

    #[test]
    fn a_literal_segment_is_translated_to_the_literal_expected() {
        let mut bytes = TCP_SEGMENT;
        let parsed = parse(&bytes).unwrap();
        let inside = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));
        rewrite_endpoints(&mut bytes, &parsed, (inside, 40001), (parsed.dst, 21));
        assert_eq!(bytes, TCP_SEGMENT_TRANSLATED);
        // And back: the same bytes as before, checksums included.
        let parsed = parse(&bytes).unwrap();
        let src = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 2));
        rewrite_endpoints(&mut bytes, &parsed, (src, 40000), (parsed.dst, 21));
        assert_eq!(bytes, TCP_SEGMENT);
    }

    #[test]
    fn outer_addresses_alone_move_only_the_header_checksum() {
        let mut bytes = TCP_SEGMENT;
        rewrite_ipv4_addresses(
            &mut bytes,
            IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
        );
        assert_eq!(&bytes[..20], &TCP_SEGMENT_TRANSLATED[..20]);
        assert_eq!(&bytes[20..], &TCP_SEGMENT[20..]);
        assert_eq!(checksum_with(0, &bytes[..20]), 0);
    }

    #[test]
    fn a_truncated_buffer_is_left_alone() {
        let parsed = parse(&TCP_SEGMENT).unwrap();
        let mut short = TCP_SEGMENT[..41].to_vec();
        let inside = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));
        rewrite_endpoints(&mut short, &parsed, (inside, 40001), (parsed.dst, 21));
        assert_eq!(short, &TCP_SEGMENT[..41]);
    }
}
