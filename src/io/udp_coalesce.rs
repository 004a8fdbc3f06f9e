//! Consecutive UDP datagrams of one flow, on their way back into a TUN device opened with
//! offloads, joined into one USO super-packet (virtio-net `GSO_UDP_L4`). The kernel forwards
//! the super-packet once and cuts it back into the same datagrams where it must (at an egress
//! device without USO, or at the receiving socket), so a stream of small datagrams costs one
//! write and one trip through the kernel's forwarding per run instead of per datagram.
//!
//! Owns which datagrams may join a run and the super-packet's headers. The segments the
//! kernel cuts are the datagrams that went in, byte for byte: a datagram joins only when its
//! IP header equals the run's apart from length, checksum and (IPv4) an identification one
//! more than the previous datagram's, its ports are the run's, its payload is the run's
//! segment size (a shorter one may end the run), and its checksums verify, the IPv4 header's
//! in the form the kernel writes (the kernel recomputes checksums when it cuts, so a corrupt
//! datagram is never coalesced and so never "repaired"). Fragments, IPv4 options, IPv6 extension headers and datagrams whose TTL runs
//! out at the next hop go out alone. It never touches the device: what it writes goes through
//! the callback the worker gives, in the order the datagrams came.

use std::io;

use super::vnet::{VnetHeader, GSO_UDP_L4, HEADER_LEN, NEEDS_CSUM, PLAIN};
use crate::engine::wire::checksum::{fold, sum_bytes, verifies};
use crate::engine::wire::fields::{get_u16, set_u16};
use crate::engine::wire::offload::for_each_segment;
use crate::engine::wire::view::IpView;

/// Most datagrams in one run (the kernel's own UDP GSO allows 128 segments).
pub const MAX_SEGMENTS: u16 = 64;
/// Most bytes in one super-packet: the IPv4 total length and the UDP length are 16 bits.
const MAX_RUN_BYTES: usize = 65_535;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const UDP_HEADER: usize = 8;
const PROTO_UDP: u8 = 17;

/// Where the coalescer writes a frame: its virtio-net header, then its bytes.
pub type Send<'a> = dyn FnMut(&[u8; HEADER_LEN], &[u8]) + 'a;

/// A write of one frame to the device that may fail.
pub type WriteFrame<'a> = dyn FnMut(&[u8; HEADER_LEN], &[u8]) -> io::Result<()> + 'a;

/// One run of datagrams being joined, and what was written.
pub struct UdpCoalescer {
    /// The run: the first datagram's headers, then every datagram's payload.
    run: Vec<u8>,
    /// Bytes of `run` in use; zero when there is no run.
    len: usize,
    /// The IP header length of the run (20 or 40).
    ip_header: usize,
    /// The payload bytes of the run's first datagram: every segment's but maybe the last's.
    segment: usize,
    /// Datagrams in the run.
    count: u16,
    /// IPv4: the identification the next datagram must carry to join.
    next_id: u16,
    /// A datagram shorter than `segment` joined: the run takes no more.
    closed: bool,
    /// Super-packets written (runs of two or more datagrams).
    pub runs: u64,
    /// Datagrams those super-packets carried.
    pub datagrams: u64,
}

impl Default for UdpCoalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpCoalescer {
    /// An empty coalescer with room for the largest run.
    pub fn new() -> Self {
        Self {
            run: vec![0u8; MAX_RUN_BYTES],
            len: 0,
            ip_header: 0,
            segment: 0,
            count: 0,
            next_id: 0,
            closed: false,
            runs: 0,
            datagrams: 0,
        }
    }

    /// Whether a run is waiting to be written.
    pub fn is_pending(&self) -> bool {
        self.len != 0
    }

    /// Takes `packet` into a run if it is a datagram that may be coalesced (a run it cannot
    /// join is written first, through `send`, and a new one starts with it). Returns false,
    /// taking nothing and writing nothing, for any other packet: the caller writes the
    /// pending run and then the packet itself, so order is kept.
    pub fn push(&mut self, packet: &[u8], send: &mut Send<'_>) -> bool {
        let Some(ip_header) = coalescable(packet) else {
            return false;
        };
        if self.joins(packet, ip_header) {
            let payload = &packet[ip_header + UDP_HEADER..];
            self.run[self.len..self.len + payload.len()].copy_from_slice(payload);
            self.len += payload.len();
            self.count += 1;
            self.next_id = self.next_id.wrapping_add(1);
            self.closed = payload.len() < self.segment;
            return true;
        }
        self.flush(send);
        self.run[..packet.len()].copy_from_slice(packet);
        self.len = packet.len();
        self.ip_header = ip_header;
        self.segment = packet.len() - ip_header - UDP_HEADER;
        self.count = 1;
        self.next_id = get_u16(packet, 4).wrapping_add(1);
        self.closed = false;
        true
    }

    /// Writes the pending run, if any: one datagram as it came, several as one super-packet.
    pub fn flush(&mut self, send: &mut Send<'_>) {
        let len = std::mem::take(&mut self.len);
        if len == 0 {
            return;
        }
        let packet = &mut self.run[..len];
        if self.count == 1 {
            send(&PLAIN, packet);
            return;
        }
        let ip_header = self.ip_header;
        let udp_len = len - ip_header;
        // The first datagram's header was checked when the run began and `len` fits 16 bits,
        // so neither step can fail; a header that somehow would not take the length goes out
        // with its old one, and the kernel refuses the frame (the worker then cuts it).
        let pseudo = IpView::new_checked(&mut *packet).map_or(0, |mut ip| {
            let _ = ip.set_total_len(len);
            ip.pseudo_header_sum(udp_len)
        });
        set_u16(packet, ip_header + 4, udp_len as u16);
        // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; the kernel completes
        // each segment's checksum when it cuts.
        set_u16(packet, ip_header + 6, fold(pseudo));
        let header = VnetHeader {
            flags: NEEDS_CSUM,
            gso_type: GSO_UDP_L4,
            hdr_len: (ip_header + UDP_HEADER) as u16,
            gso_size: self.segment as u16,
            csum_start: ip_header as u16,
            csum_offset: 6,
        };
        self.runs += 1;
        self.datagrams += u64::from(self.count);
        send(&header.encode(), packet);
    }

    /// Whether `packet` (coalescable, IP header `ip_header` long) may join the pending run.
    fn joins(&self, packet: &[u8], ip_header: usize) -> bool {
        if self.len == 0 || self.closed || ip_header != self.ip_header {
            return false;
        }
        let payload = packet.len() - ip_header - UDP_HEADER;
        if self.count >= MAX_SEGMENTS
            || payload > self.segment
            || self.len + payload > MAX_RUN_BYTES
        {
            return false;
        }
        let head = &self.run[..ip_header + UDP_HEADER];
        let same_ip = if ip_header == IPV4_HEADER {
            get_u16(packet, 4) == self.next_id
                && head[..2] == packet[..2]
                && head[6..10] == packet[6..10]
                && head[12..20] == packet[12..20]
        } else {
            head[..4] == packet[..4] && head[6..40] == packet[6..40]
        };
        same_ip && head[ip_header..ip_header + 4] == packet[ip_header..ip_header + 4]
    }
}

/// Writes one frame the coalescer handed over through `write`. A super-packet that `write`
/// refuses (a kernel that takes no USO frames from user space) is cut here, as the kernel
/// would have cut it, and its datagrams written one by one, each with a plain header; then
/// `Ok(true)` says the caller should stop coalescing. `scratch` holds a segment (65,535
/// bytes). An error is the first failed write of a plain frame or segment.
pub fn write_or_cut(
    header: &[u8; HEADER_LEN],
    packet: &[u8],
    scratch: &mut [u8],
    write: &mut WriteFrame<'_>,
) -> io::Result<bool> {
    if *header == PLAIN {
        return write(header, packet).map(|()| false);
    }
    if write(header, packet).is_ok() {
        return Ok(false);
    }
    let size = VnetHeader::decode(header).map_or(0, |h| usize::from(h.gso_size));
    let max_len = scratch.len();
    let mut result = Ok(true);
    let cut = for_each_segment(packet, size, scratch, max_len, |segment, len| {
        if let Err(err) = write(&PLAIN, &segment[..len]) {
            result = Err(err);
        }
    });
    if cut.is_err() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a run that cannot be cut",
        ));
    }
    result
}

/// The IP header length of a datagram that may be coalesced: IPv4 without options, not a
/// fragment, header checksum right (in the kernel's form); or IPv6 with UDP right after the
/// fixed header; lengths consistent and no longer than a run; a TTL or hop limit above one;
/// a non-empty payload; a UDP checksum present and right. `None` for any other packet.
fn coalescable(packet: &[u8]) -> Option<usize> {
    if packet.len() > MAX_RUN_BYTES {
        return None;
    }
    let ip_header = match packet.first()? >> 4 {
        4 => {
            let ok = packet.len() >= IPV4_HEADER + UDP_HEADER
                && packet[0] == 0x45
                && packet[8] > 1
                && packet[9] == PROTO_UDP
                && usize::from(get_u16(packet, 2)) == packet.len()
                && get_u16(packet, 6) & 0x3fff == 0
                && canonical_ipv4_checksum(packet);
            ok.then_some(IPV4_HEADER)?
        }
        6 => {
            let ok = packet.len() >= IPV6_HEADER + UDP_HEADER
                && packet[6] == PROTO_UDP
                && packet[7] > 1
                && usize::from(get_u16(packet, 4)) + IPV6_HEADER == packet.len();
            ok.then_some(IPV6_HEADER)?
        }
        _ => return None,
    };
    let udp = &packet[ip_header..];
    if usize::from(get_u16(udp, 4)) != udp.len() || udp.len() <= UDP_HEADER || get_u16(udp, 6) == 0
    {
        return None;
    }
    let pseudo = IpView::new_checked(packet)
        .ok()?
        .pseudo_header_sum(udp.len());
    verifies(pseudo, udp).then_some(ip_header)
}

/// Whether the IPv4 header checksum is right and written the way the kernel writes it (of
/// the two forms of a one's-complement zero, 0x0000): the kernel recomputes it for every
/// datagram it cuts from a run, so a datagram with the other form would come out changed.
fn canonical_ipv4_checksum(packet: &[u8]) -> bool {
    let without_field = sum_bytes(&packet[..10]) + sum_bytes(&packet[12..IPV4_HEADER]);
    !fold(without_field) == get_u16(packet, 10)
}
