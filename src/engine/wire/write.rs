//! In-place rewrites of addresses, ports and echo identifiers, with every affected checksum
//! (IPv4 header, TCP/UDP pseudo-header, ICMP) updated incrementally.

use std::net::IpAddr;

use super::checksum::{update16, update_bytes};
use super::fields::{self, get_u16, set_u16};
use super::parse::{IcmpKind, ParsedPacket, QuotedPacket, Transport, PROTO_TCP, PROTO_UDP};

/// An address and port (echo identifier for ICMP).
pub type Endpoint = (IpAddr, u16);

/// Writes `value` as a u16 at `offset`, updating each checksum field in `checksums`.
fn write_u16(bytes: &mut [u8], offset: usize, value: u16, checksums: &[Option<usize>]) {
    let old = get_u16(bytes, offset);
    if old == value {
        return;
    }
    for at in checksums.iter().flatten() {
        let updated = update16(get_u16(bytes, *at), old, value);
        set_u16(bytes, *at, updated);
    }
    set_u16(bytes, offset, value);
}

/// Writes an IPv4 address at `offset`, updating each checksum field in `checksums`.
fn write_ipv4(bytes: &mut [u8], offset: usize, addr: IpAddr, checksums: &[Option<usize>]) {
    let IpAddr::V4(v4) = addr else { return };
    let octets = v4.octets();
    write_u16(
        bytes,
        offset,
        u16::from_be_bytes([octets[0], octets[1]]),
        checksums,
    );
    write_u16(
        bytes,
        offset + 2,
        u16::from_be_bytes([octets[2], octets[3]]),
        checksums,
    );
}

/// The transport checksum field that covers the pseudo-header, if the packet has one in use.
fn transport_checksum(bytes: &[u8], protocol: u8, l4: usize) -> Option<usize> {
    match protocol {
        PROTO_TCP => Some(l4 + fields::tcp::CHECKSUM),
        PROTO_UDP => {
            let at = l4 + fields::udp::CHECKSUM;
            (get_u16(bytes, at) != 0).then_some(at)
        }
        _ => None,
    }
}

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
/// packets keep their transport bytes.
pub fn rewrite_endpoints(bytes: &mut [u8], packet: &ParsedPacket, src: Endpoint, dst: Endpoint) {
    let l4 = packet.l4_offset;
    let ip_checksum = packet.is_ipv4().then_some(fields::ipv4::CHECKSUM);
    let pseudo = transport_checksum(bytes, packet.protocol, l4);
    if packet.is_ipv4() {
        write_ipv4(bytes, fields::ipv4::SRC, src.0, &[ip_checksum, pseudo]);
        write_ipv4(bytes, fields::ipv4::DST, dst.0, &[ip_checksum, pseudo]);
    }
    match packet.transport {
        Transport::Tcp(_) | Transport::Udp { .. } => {
            write_u16(bytes, l4, src.1, &[pseudo]);
            write_u16(bytes, l4 + 2, dst.1, &[pseudo]);
            fix_udp_zero(bytes, packet.protocol, pseudo);
        }
        Transport::Icmp(kind @ (IcmpKind::EchoRequest { .. } | IcmpKind::EchoReply { .. })) => {
            let id = if matches!(kind, IcmpKind::EchoRequest { .. }) {
                src.1
            } else {
                dst.1
            };
            let icmp_checksum = Some(l4 + fields::icmp::CHECKSUM);
            write_u16(bytes, l4 + fields::icmp::ECHO_ID, id, &[icmp_checksum]);
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
    let quoted_transport_checksum = match quoted.protocol {
        PROTO_TCP => l4 + fields::tcp::CHECKSUM,
        PROTO_UDP => l4 + fields::udp::CHECKSUM,
        _ => l4 + fields::icmp::CHECKSUM,
    };
    let in_quote = quoted_transport_checksum + 2 <= region_end
        && get_u16(bytes, quoted_transport_checksum) != 0;
    let l4_checksum = in_quote.then_some(quoted_transport_checksum);
    let pseudo = matches!(quoted.protocol, PROTO_TCP | PROTO_UDP)
        .then_some(l4_checksum)
        .flatten();
    if quoted.src.is_ipv4() {
        let ip_checksum = Some(quoted.ip_offset + fields::ipv4::CHECKSUM);
        write_ipv4(
            bytes,
            quoted.ip_offset + fields::ipv4::SRC,
            src.0,
            &[ip_checksum, pseudo],
        );
        write_ipv4(
            bytes,
            quoted.ip_offset + fields::ipv4::DST,
            dst.0,
            &[ip_checksum, pseudo],
        );
    }
    if matches!(quoted.protocol, PROTO_TCP | PROTO_UDP) {
        write_u16(bytes, l4, src.1, &[l4_checksum]);
        write_u16(bytes, l4 + 2, dst.1, &[l4_checksum]);
        fix_udp_zero(bytes, quoted.protocol, l4_checksum);
    } else {
        let id = if quoted.echo_request { src.1 } else { dst.1 };
        write_u16(bytes, l4 + fields::icmp::ECHO_ID, id, &[l4_checksum]);
    }

    let icmp_checksum_at = packet.l4_offset + fields::icmp::CHECKSUM;
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
    let ip_checksum = Some(fields::ipv4::CHECKSUM);
    write_ipv4(bytes, fields::ipv4::SRC, src, &[ip_checksum]);
    write_ipv4(bytes, fields::ipv4::DST, dst, &[ip_checksum]);
}
