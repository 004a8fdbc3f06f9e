//! Transport checksums left unfinished by checksum offload, as captures taken on the sending
//! host show them: the kernel hands the NIC a TCP/UDP segment whose checksum field holds only
//! the pseudo-header sum (Linux `CHECKSUM_PARTIAL`), or zero, and the NIC fills it in after the
//! capture point. Owns telling such a checksum from a finished one and finishing it; it never
//! decides whether a packet is trusted (that is the caller's policy) and never touches
//! anything but the transport checksum field.

use std::net::IpAddr;

use super::checksum::{checksum_with, fold, pseudo_header_v4, pseudo_header_v6, verifies};
use super::fields::{self, get_u16, set_u16};
use super::parse::{ParsedPacket, Transport};

/// What a TCP or UDP packet's checksum field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumState {
    /// It verifies (or a UDP/IPv4 datagram carries none).
    Finished,
    /// It holds the pseudo-header sum only: offload left it for the NIC.
    PseudoHeaderOnly,
    /// It verifies against nothing: zero, or garbage (offload, or corruption).
    Wrong,
    /// Not a TCP or UDP packet: not judged here.
    NotTransport,
}

/// The offset of the checksum field and the pseudo-header sum of a TCP/UDP packet.
fn checksum_field(bytes: &[u8], packet: &ParsedPacket) -> Option<(usize, u32)> {
    let end = packet.ip_len.min(bytes.len());
    let segment_len = end.checked_sub(packet.l4_offset)?;
    let field = match packet.transport {
        Transport::Tcp(_) => fields::tcp::CHECKSUM,
        Transport::Udp { .. } => fields::udp::CHECKSUM,
        Transport::Icmp(_) => return None,
    };
    if segment_len < field + 2 {
        return None;
    }
    let pseudo = match (packet.src, packet.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            pseudo_header_v4(s.octets(), d.octets(), packet.protocol, segment_len as u16)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            pseudo_header_v6(s.octets(), d.octets(), packet.protocol, segment_len as u32)
        }
        _ => return None,
    };
    Some((packet.l4_offset + field, pseudo))
}

/// Classifies the transport checksum of `packet` (parsed from `bytes`).
pub fn checksum_state(bytes: &[u8], packet: &ParsedPacket) -> ChecksumState {
    let Some((at, pseudo)) = checksum_field(bytes, packet) else {
        return ChecksumState::NotTransport;
    };
    let end = packet.ip_len.min(bytes.len());
    let field = get_u16(bytes, at);
    let udp_v4 = matches!(packet.transport, Transport::Udp { .. }) && packet.is_ipv4();
    if (udp_v4 && field == 0) || verifies(pseudo, &bytes[packet.l4_offset..end]) {
        ChecksumState::Finished
    } else if field == fold(pseudo) || field == !fold(pseudo) {
        // Linux stores the folded sum; some stacks store its complement.
        ChecksumState::PseudoHeaderOnly
    } else {
        ChecksumState::Wrong
    }
}

/// Writes the full checksum of a TCP/UDP packet, whatever the field held. Returns whether it
/// was a TCP/UDP packet.
pub fn finish_checksum(bytes: &mut [u8], packet: &ParsedPacket) -> bool {
    let Some((at, pseudo)) = checksum_field(bytes, packet) else {
        return false;
    };
    let end = packet.ip_len.min(bytes.len());
    set_u16(bytes, at, 0);
    let mut checksum = checksum_with(pseudo, &bytes[packet.l4_offset..end]);
    if checksum == 0 && matches!(packet.transport, Transport::Udp { .. }) {
        // UDP sends a computed zero as all ones (zero means "none").
        checksum = 0xffff;
    }
    set_u16(bytes, at, checksum);
    true
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::engine::wire::parse;

    /// IPv4 TCP SYN 10.0.0.1:1234 -> 10.0.0.2:21 with a finished checksum.
    fn syn() -> Vec<u8> {
        let mut packet = vec![
            0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
            0x04, 0xd2, 0, 21, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ];
        let ip_checksum = checksum_with(0, &packet[..20]);
        set_u16(&mut packet, 10, ip_checksum);
        let parsed = parse(&packet).unwrap();
        finish_checksum(&mut packet, &parsed);
        packet
    }

    #[test]
    fn finished_partial_and_wrong_checksums_are_told_apart() {
        let mut packet = syn();
        let parsed = parse(&packet).unwrap();
        assert_eq!(checksum_state(&packet, &parsed), ChecksumState::Finished);
        let full = get_u16(&packet, 36);
        let (_, pseudo) = checksum_field(&packet, &parsed).unwrap();
        set_u16(&mut packet, 36, fold(pseudo));
        assert_eq!(
            checksum_state(&packet, &parsed),
            ChecksumState::PseudoHeaderOnly
        );
        set_u16(&mut packet, 36, full ^ 0x0101);
        assert_eq!(checksum_state(&packet, &parsed), ChecksumState::Wrong);
        assert!(finish_checksum(&mut packet, &parsed));
        assert_eq!(get_u16(&packet, 36), full);
        assert_eq!(checksum_state(&packet, &parsed), ChecksumState::Finished);
    }
}
