//! The virtio-net header a TUN device opened with offloads puts in front of every packet,
//! and what a worker does with one such frame: a plain packet goes through the engine (its
//! partial checksum completed first), a GSO super-packet of a flow the engine lets pass whole
//! is translated once and written back with its header (partial checksum kept right), any
//! other super-packet is cut into segments that each go through the engine.
//!
//! Owns the header's byte layout and that per-frame decision. It never touches the device:
//! frames come in as bytes and go out through a callback, so everything here is tested in
//! memory. Packet surgery is `engine::wire::offload`'s.

use std::time::Duration;

use crate::engine::wire::fields::{get_u16, set_u16};
use crate::engine::wire::offload::{
    adjust_partial, complete_partial, for_each_segment, pseudo_header_sum,
};
use crate::engine::{Engine, PacketBuf, Transmit, Verdict};

/// Length of the header (`struct virtio_net_hdr`, the TUN default size).
pub const HEADER_LEN: usize = 10;
/// `flags`: the transport checksum is partial (from `csum_start`, field at `+csum_offset`).
pub const NEEDS_CSUM: u8 = 1;
/// `gso_type`: not a super-packet.
pub const GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4.
pub const GSO_TCPV4: u8 = 1;
/// `gso_type`: TCP over IPv6.
pub const GSO_TCPV6: u8 = 4;
/// `gso_type`: UDP segmentation (USO), either IP version.
pub const GSO_UDP_L4: u8 = 5;
/// `gso_type` flag: the TCP super-packet carries ECN (CWR on its first segment).
pub const GSO_ECN: u8 = 0x80;

/// A header with everything zero: a whole packet, checksums complete.
pub const PLAIN: [u8; HEADER_LEN] = [0; HEADER_LEN];

/// One virtio-net header. The TUN device uses the host's byte order for its fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHeader {
    /// `NEEDS_CSUM` and others.
    pub flags: u8,
    /// `GSO_*`, possibly with `GSO_ECN`.
    pub gso_type: u8,
    /// Length of the headers in front of the payload.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where the partially checksummed region (the transport header) starts.
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHeader {
    /// Reads a header from the first [`HEADER_LEN`] bytes; `None` if there are fewer.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let b = bytes.get(..HEADER_LEN)?;
        let u16_at = |at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
        Some(Self {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    fn gso_kind(&self) -> u8 {
        self.gso_type & !GSO_ECN
    }
}

/// What became of one frame, for the worker's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameOutcome {
    /// A plain packet, through the engine as usual.
    Plain,
    /// A super-packet translated whole and written back with its header.
    Whole,
    /// A super-packet cut into this many segments, each through the engine.
    Segmented(usize),
    /// Not a frame the worker can use (too short, an unknown GSO type, a super-packet that
    /// cannot be cut); dropped.
    Malformed,
}

/// Room a worker's buffers need: the largest IP packet and rewrites that grow one, and the
/// packets the engine generates while it runs the worker's frames.
pub struct FrameBuffers {
    /// Where segments of a super-packet are built, with tailroom.
    pub segment: Vec<u8>,
    /// Tailroom kept after each packet.
    pub tailroom: usize,
    /// The packets the engine generated for the frames processed (an FTP error reply, a
    /// RST), in order: the worker sends them after the frame (`Transmit::pop`).
    pub transmit: Transmit,
}

impl FrameBuffers {
    /// Buffers for packets up to 65,535 bytes with `tailroom` after each.
    pub fn new(tailroom: usize) -> Self {
        Self {
            segment: vec![0u8; MAX_PACKET + tailroom],
            tailroom,
            transmit: Transmit::new(),
        }
    }
}

/// The largest IP packet (and so the largest super-packet) a TUN device hands over.
pub const MAX_PACKET: usize = 65_535;

/// Runs one frame through `engine` at `now`. `frame` holds the header and then the packet in
/// its first `len` bytes, with tailroom after. Every frame to write back (header, packet) is
/// passed to `send`, in order; the packets the engine generates are left in
/// `buffers.transmit`.
pub fn process_frame(
    engine: &Engine,
    now: Duration,
    frame: &mut [u8],
    len: usize,
    buffers: &mut FrameBuffers,
    send: &mut dyn FnMut(&[u8; HEADER_LEN], &[u8]),
) -> FrameOutcome {
    let Some(header) = VnetHeader::decode(&frame[..len.min(frame.len())]) else {
        return FrameOutcome::Malformed;
    };
    let (_, rest) = frame.split_at_mut(HEADER_LEN);
    let packet_len = len - HEADER_LEN;
    match header.gso_kind() {
        GSO_NONE => {
            if header.flags & NEEDS_CSUM != 0 {
                let start = usize::from(header.csum_start);
                let offset = usize::from(header.csum_offset);
                // A packet whose offsets do not fit goes on as it is; the engine judges it.
                let _ = complete_partial(&mut rest[..packet_len], start, offset);
            }
            process_one(engine, now, rest, packet_len, &mut buffers.transmit, send);
            FrameOutcome::Plain
        }
        GSO_TCPV4 | GSO_TCPV6 | GSO_UDP_L4 => {
            if whole_ok(engine, now, &header, &rest[..packet_len]) {
                let transmit = &mut buffers.transmit;
                process_whole(engine, now, &header, rest, packet_len, transmit, send);
                return FrameOutcome::Whole;
            }
            let segment_size = usize::from(header.gso_size);
            let max_len = buffers.segment.len() - buffers.tailroom;
            let transmit = &mut buffers.transmit;
            let mut count = 0;
            let result = for_each_segment(
                &rest[..packet_len],
                segment_size,
                &mut buffers.segment,
                max_len,
                |segment, segment_len| {
                    count += 1;
                    process_one(engine, now, segment, segment_len, transmit, send);
                },
            );
            match result {
                Ok(_) => FrameOutcome::Segmented(count),
                Err(_) => FrameOutcome::Malformed,
            }
        }
        _ => FrameOutcome::Malformed,
    }
}

/// Whether a super-packet keeps its shape: the engine lets it pass whole, its checksum is
/// partial and starts at its transport header.
fn whole_ok(engine: &Engine, now: Duration, header: &VnetHeader, packet: &[u8]) -> bool {
    if header.flags & NEEDS_CSUM == 0 || header.gso_size == 0 {
        return false;
    }
    let l4 = match packet.first().map(|b| b >> 4) {
        Some(4) => usize::from(packet[0] & 0x0f) * 4,
        Some(6) => 40,
        _ => return false,
    };
    usize::from(header.csum_start) == l4 && engine.passes_whole(now, packet)
}

/// A super-packet through the engine as one packet; its partial checksum follows the
/// pseudo-header's change, and it goes back with its own header.
fn process_whole(
    engine: &Engine,
    now: Duration,
    header: &VnetHeader,
    storage: &mut [u8],
    len: usize,
    transmit: &mut Transmit,
    send: &mut dyn FnMut(&[u8; HEADER_LEN], &[u8]),
) {
    let field = usize::from(header.csum_start) + usize::from(header.csum_offset);
    let (Some(partial), Some(before)) = (
        storage[..len].get(field..field + 2).map(|b| get_u16(b, 0)),
        pseudo_header_sum(&storage[..len]),
    ) else {
        return;
    };
    let mut packet = PacketBuf::new(storage, len);
    match engine.process_with(now, &mut packet, transmit) {
        Verdict::Accept => {
            let bytes = packet.bytes_mut();
            if let (Some(after), true) = (pseudo_header_sum(bytes), field + 2 <= bytes.len()) {
                set_u16(bytes, field, adjust_partial(partial, before, after));
            }
            send(&header.encode(), packet.bytes());
        }
        // An answer the engine built is a new packet with its checksums complete.
        Verdict::Respond(_) => send(&PLAIN, packet.bytes()),
        Verdict::Drop(reason) => super::drop_log::dropped(packet.bytes(), reason),
    }
}

/// One packet with complete checksums through the engine; what it accepts or answers is
/// written back with a plain header, what it generates is left in `transmit`.
pub fn process_one(
    engine: &Engine,
    now: Duration,
    storage: &mut [u8],
    len: usize,
    transmit: &mut Transmit,
    send: &mut dyn FnMut(&[u8; HEADER_LEN], &[u8]),
) {
    let mut packet = PacketBuf::new(storage, len);
    match engine.process_with(now, &mut packet, transmit) {
        Verdict::Accept | Verdict::Respond(_) => send(&PLAIN, packet.bytes()),
        Verdict::Drop(reason) => super::drop_log::dropped(packet.bytes(), reason),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn header_round_trips_in_host_order() {
        let header = VnetHeader {
            flags: NEEDS_CSUM,
            gso_type: GSO_TCPV4 | GSO_ECN,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 20,
            csum_offset: 16,
        };
        let bytes = header.encode();
        assert_eq!(bytes[..2], [1, 0x81]);
        assert_eq!(bytes[4..6], 1448u16.to_ne_bytes());
        assert_eq!(VnetHeader::decode(&bytes), Some(header));
        assert_eq!(header.gso_kind(), GSO_TCPV4);
        assert_eq!(VnetHeader::decode(&bytes[..9]), None);
        assert_eq!(VnetHeader::decode(&PLAIN), Some(VnetHeader::default()));
    }
}
