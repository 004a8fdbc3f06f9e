//! Mangling, the fourth of the ALG's four jobs: splicing. A line's argument spliced with its
//! new text ([`splice`]); a segment's payload replaced in place with new bytes, its IP length,
//! sequence number and checksums written again ([`replace_payload`], the caller has verified
//! the original's checksum); a rebuilt payload cut at a line boundary to fit the MTU
//! ([`fit_to_mtu`]). Sequence and ack shifts after a length change are `conntrack::seqadj`
//! and `wire::tcp_adjust`.
//!
//! It never decides what the bytes say (that is the session, `expect` and `nat`).

use crate::engine::packet::PacketBuf;
use crate::engine::wire::view::IpView;
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
    // The view spans the whole buffer: the packet's old length must lie inside it until the
    // new one is written, whether the payload grows or shrinks.
    let bytes = buf.buffer_mut();
    bytes[payload_at..total].copy_from_slice(payload);
    let Ok(mut ip) = IpView::new_checked_at(bytes, packet.l4_offset, packet.protocol) else {
        return Err(MangleError::NoTailroom);
    };
    ip.set_total_len(total)
        .map_err(|_| MangleError::NoTailroom)?;
    // The caller verified the header checksum; it is written whole, as the payload's is.
    ip.fill_header_checksum();
    if let Ok(mut tcp) = ip.tcp_mut() {
        tcp.set_seq_number_unsummed(seq);
    }
    buf.set_len(total);
    Ok(())
}

/// Recomputes the TCP checksum of the packet from scratch.
pub fn recompute_tcp_checksum(buf: &mut PacketBuf<'_>, packet: &ParsedPacket) {
    let bytes = buf.bytes_mut();
    if let Ok(mut ip) = IpView::new_checked_at(bytes, packet.l4_offset, packet.protocol) {
        // Not TCP: nothing to recompute.
        let _ = ip.fill_tcp_checksum();
    }
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
