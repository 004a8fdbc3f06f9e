//! Offloaded packets as the kernel hands them over a TUN device with the virtio-net header:
//! the partial transport checksum (CHECKSUM_PARTIAL: the field holds only the pseudo-header
//! sum, and whoever sends the packet on completes it over the transport bytes) and GSO
//! super-packets (one TCP or UDP header in front of many segments' worth of payload).
//!
//! Owns three pure operations on packet bytes: keeping a partial checksum right after the
//! pseudo-header changed, completing a partial checksum, and cutting a super-packet into the
//! segments it stands for, each with full checksums. It never decides which packets to cut
//! (the driver asks the engine) and never reads the virtio-net header itself (that is I/O).

use super::checksum::{checksum_with, fold};
use super::fields::{self, get_u16, set_u16};
use super::parse::{PROTO_TCP, PROTO_UDP};
use super::view::IpView;

/// Why a super-packet could not be cut into segments (the driver drops it, counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentError {
    /// The IP header or its length fields do not describe the bytes given.
    BadIpHeader,
    /// Not TCP or UDP, or the transport header does not fit.
    BadTransport,
    /// A segment size of zero, or one that does not fit `max_len`.
    BadSegmentSize,
}

/// Where the transport header starts and which protocol it is, from the IP header alone.
/// IPv6 extension headers are not walked: a super-packet is built by the kernel's own stack,
/// which puts TCP or UDP right after the fixed header.
fn transport_of(packet: &[u8]) -> Option<(usize, u8, usize)> {
    let ip = IpView::new_checked(packet).ok()?;
    Some((ip.transport_offset(), ip.protocol(), ip.total_len()))
}

/// The pseudo-header sum (folded, not complemented) of a TCP or UDP packet: what a partial
/// checksum field holds. `None` when the IP header is not valid for the bytes given.
pub fn pseudo_header_sum(packet: &[u8]) -> Option<u16> {
    let ip = IpView::new_checked(packet).ok()?;
    let length = ip.total_len() - ip.transport_offset();
    Some(fold(ip.pseudo_header_sum(length)))
}

/// The partial checksum a field holding `partial` must hold after the pseudo-header sum
/// changed from `before` to `after` (addresses or length rewritten). Ports and payload are
/// not in it: whoever completes the checksum sums those. One's-complement arithmetic, so the
/// update is exact whatever the field held.
pub fn adjust_partial(partial: u16, before: u16, after: u16) -> u16 {
    fold(u32::from(partial) + u32::from(!before) + u32::from(after))
}

/// Completes a partial checksum: sums the bytes from `start` (the transport header) to the
/// end of the IP packet, the field at `start + offset` holding the pseudo-header sum, and
/// writes the complement there. A UDP result of zero is written as all ones. Returns false,
/// changing nothing, when the offsets lie outside the packet.
pub fn complete_partial(packet: &mut [u8], start: usize, offset: usize) -> bool {
    let end = transport_of(packet).map_or(packet.len(), |(_, _, total)| total);
    let at = start.saturating_add(offset);
    if start >= end || at.saturating_add(2) > end {
        return false;
    }
    let checksum = checksum_with(0, &packet[start..end]);
    let udp = transport_of(packet).is_some_and(|(l4, protocol, _)| {
        l4 == start && protocol == PROTO_UDP && offset == fields::udp::CHECKSUM
    });
    let value = if udp && checksum == 0 {
        0xffff
    } else {
        checksum
    };
    set_u16(packet, at, value);
    true
}

/// Header facts of a super-packet, read once before it is cut.
struct Template {
    l4: usize,
    protocol: u8,
    header_len: usize,
    total: usize,
    v4: bool,
}

fn template(packet: &[u8]) -> Result<Template, SegmentError> {
    let (l4, protocol, total) = transport_of(packet).ok_or(SegmentError::BadIpHeader)?;
    let header_len = match protocol {
        PROTO_TCP => {
            let offset = packet
                .get(l4 + fields::tcp::DATA_OFFSET)
                .ok_or(SegmentError::BadTransport)?;
            let len = usize::from(offset >> 4) * 4;
            if len < fields::tcp::MIN_HEADER_LEN {
                return Err(SegmentError::BadTransport);
            }
            l4 + len
        }
        PROTO_UDP => l4 + fields::udp::HEADER_LEN,
        _ => return Err(SegmentError::BadTransport),
    };
    if header_len > total {
        return Err(SegmentError::BadTransport);
    }
    Ok(Template {
        l4,
        protocol,
        header_len,
        total,
        v4: packet[0] >> 4 == 4,
    })
}

/// Cuts a TCP or UDP super-packet into segments of at most `segment_size` payload bytes,
/// the way the kernel's GSO does: each segment gets a copy of the headers with its own IP
/// length, IPv4 identifier (+1 per segment) and header checksum; TCP sequence numbers
/// advance, FIN and PSH stay on the last segment only, CWR on the first only; the UDP length
/// is the segment's; every transport checksum is computed in full (whatever the super-packet
/// held). `emit` gets each segment in `scratch`, which must hold `max_len` bytes; a segment
/// longer than `max_len` is an error. A packet with no payload is emitted as one segment.
pub fn for_each_segment(
    packet: &[u8],
    segment_size: usize,
    scratch: &mut [u8],
    max_len: usize,
    mut emit: impl FnMut(&mut [u8], usize),
) -> Result<usize, SegmentError> {
    let template = template(packet)?;
    let header_len = template.header_len;
    let payload = &packet[header_len..template.total];
    let largest = header_len + segment_size.min(payload.len());
    if segment_size == 0 || largest > max_len || scratch.len() < max_len {
        return Err(SegmentError::BadSegmentSize);
    }
    let chunks: Box<dyn Iterator<Item = &[u8]>> = if payload.is_empty() {
        Box::new(std::iter::once(payload))
    } else {
        Box::new(payload.chunks(segment_size))
    };
    let count = payload.len().div_ceil(segment_size).max(1);
    for (index, chunk) in chunks.enumerate() {
        let len = header_len + chunk.len();
        scratch[..header_len].copy_from_slice(&packet[..header_len]);
        scratch[header_len..len].copy_from_slice(chunk);
        let segment = &mut scratch[..len];
        write_ip_header(segment, &template, index);
        let first = index == 0;
        let last = index + 1 == count;
        write_transport_header(segment, &template, index * segment_size, first, last);
        emit(scratch, len);
    }
    Ok(count)
}

/// IP length, identifier and header checksum of segment `index`.
fn write_ip_header(segment: &mut [u8], template: &Template, index: usize) {
    let len = segment.len();
    if template.v4 {
        set_u16(segment, fields::ipv4::TOTAL_LEN, len as u16);
        let id = get_u16(segment, 4).wrapping_add(index as u16);
        set_u16(segment, 4, id);
        set_u16(segment, fields::ipv4::CHECKSUM, 0);
        let checksum = checksum_with(0, &segment[..template.l4]);
        set_u16(segment, fields::ipv4::CHECKSUM, checksum);
    } else {
        let payload = (len - fields::ipv6::HEADER_LEN) as u16;
        set_u16(segment, fields::ipv6::PAYLOAD_LEN, payload);
    }
}

/// Sequence number, flags or length, and the full transport checksum of one segment whose
/// payload starts `offset` bytes into the super-packet's.
fn write_transport_header(
    segment: &mut [u8],
    template: &Template,
    offset: usize,
    first: bool,
    last: bool,
) {
    let l4 = template.l4;
    let checksum_at = if template.protocol == PROTO_TCP {
        let seq_at = l4 + fields::tcp::SEQ;
        let seq = u32::from_be_bytes(segment[seq_at..seq_at + 4].try_into().unwrap_or([0; 4]));
        let seq = seq.wrapping_add(offset as u32);
        segment[seq_at..seq_at + 4].copy_from_slice(&seq.to_be_bytes());
        let flags_at = l4 + fields::tcp::FLAGS;
        if !last {
            segment[flags_at] &= !(fields::tcp::FIN | fields::tcp::PSH);
        }
        if !first {
            segment[flags_at] &= !CWR;
        }
        l4 + fields::tcp::CHECKSUM
    } else {
        let udp_len = (segment.len() - l4) as u16;
        set_u16(segment, l4 + fields::udp::LENGTH, udp_len);
        l4 + fields::udp::CHECKSUM
    };
    set_u16(segment, checksum_at, 0);
    let pseudo = pseudo_header_sum(segment).unwrap_or(0);
    let mut checksum = checksum_with(u32::from(pseudo), &segment[l4..]);
    if template.protocol == PROTO_UDP && checksum == 0 {
        checksum = 0xffff;
    }
    set_u16(segment, checksum_at, checksum);
}

/// TCP's congestion-window-reduced flag: set on the first segment of a super-packet only.
const CWR: u8 = 0x80;

#[cfg(test)]
#[path = "offload_test.rs"]
mod test;
