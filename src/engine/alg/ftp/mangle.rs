//! Mangling, the fourth of the ALG's four jobs: splicing. A line's argument spliced with its
//! new text ([`splice`]); a segment's payload replaced in place with new bytes, its IP length,
//! sequence number and checksums written again ([`replace_payload`], the caller has verified
//! the original's checksum); a rebuilt payload cut at a line boundary to fit the MTU
//! ([`fit_to_mtu`]). Sequence and ack shifts after a length change are `conntrack::seqadj`
//! and `wire::tcp_adjust`.
//!
//! It never decides what the bytes say (that is the session, `expect` and `nat`).

use std::net::IpAddr;

use crate::engine::packet::PacketBuf;
use crate::engine::wire::checksum::{checksum_with, pseudo_header_v4, pseudo_header_v6};
use crate::engine::wire::fields::{self, set_u16, set_u32};
use crate::engine::wire::parse::PROTO_TCP;
use crate::engine::wire::{ParsedPacket, TcpInfo};

/// Why a payload could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MangleError {
    /// The buffer has no room for the new payload.
    NoTailroom,
}

/// Replaces the segment's payload with `payload` and its sequence number with `seq`.
pub fn replace_payload(
    buf: &mut PacketBuf<'_>,
    packet: &ParsedPacket,
    tcp: &TcpInfo,
    seq: u32,
    payload: &[u8],
) -> Result<(), MangleError> {
    let payload_at = packet.l4_offset + tcp.header_len;
    let total = payload_at + payload.len();
    if total > buf.capacity() || total > usize::from(u16::MAX) {
        return Err(MangleError::NoTailroom);
    }
    buf.set_len(total);
    let bytes = buf.bytes_mut();
    bytes[payload_at..total].copy_from_slice(payload);
    set_u32(bytes, packet.l4_offset + fields::tcp::SEQ, seq);
    match packet.src {
        IpAddr::V4(_) => {
            set_u16(bytes, fields::ipv4::TOTAL_LEN, total as u16);
            set_u16(bytes, fields::ipv4::CHECKSUM, 0);
            let header_len = usize::from(bytes[0] & 0x0f) * 4;
            let checksum = checksum_with(0, &bytes[..header_len]);
            set_u16(bytes, fields::ipv4::CHECKSUM, checksum);
        }
        IpAddr::V6(_) => {
            set_u16(
                bytes,
                fields::ipv6::PAYLOAD_LEN,
                (total - fields::ipv6::HEADER_LEN) as u16,
            );
        }
    }
    Ok(())
}

/// Recomputes the TCP checksum of the packet from scratch.
pub fn recompute_tcp_checksum(buf: &mut PacketBuf<'_>, packet: &ParsedPacket) {
    let l4 = packet.l4_offset;
    let bytes = buf.bytes_mut();
    let segment_len = bytes.len() - l4;
    let pseudo = match (packet.src, packet.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            pseudo_header_v4(s.octets(), d.octets(), PROTO_TCP, segment_len as u16)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            pseudo_header_v6(s.octets(), d.octets(), PROTO_TCP, segment_len as u32)
        }
        _ => return,
    };
    set_u16(bytes, l4 + fields::tcp::CHECKSUM, 0);
    let checksum = checksum_with(pseudo, &bytes[l4..]);
    set_u16(bytes, l4 + fields::tcp::CHECKSUM, checksum);
}

/// `line` with `range` replaced by `with`: an announcement's argument spliced with its new
/// text (see `nat::Argument`).
pub fn splice(line: &[u8], range: std::ops::Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + with.len());
    out.extend_from_slice(&line[..range.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&line[range.end..]);
    out
}

/// The longest prefix of `payload` within `room` bytes that ends at a line boundary (every
/// line of a rebuilt payload is whole, so a cut there splits no replacement; the sender's
/// retransmission carries the rest); the whole payload when it fits or cannot be cut.
pub fn fit_to_mtu(payload: &[u8], room: usize) -> usize {
    if payload.len() <= room {
        return payload.len();
    }
    payload[..room]
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(payload.len(), |at| at + 1)
}
