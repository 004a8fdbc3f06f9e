//! [`IpView`]: an IPv4 or IPv6 packet and where its transport header starts.
//!
//! Owns the IP header's field ranges, its length checks, the IPv4 header checksum and the
//! pseudo-header part of the transport checksum when an address or length changes. It never
//! walks IPv6 extension headers (the parser does; [`IpView::new_checked_at`] takes its
//! answer) and never rewrites an IPv6 address (there is no IPv6 NAT).

use std::net::{IpAddr, Ipv4Addr};

use super::{write_quad, write_word, Field, IcmpView, TcpView, UdpView, ViewError};
use crate::engine::wire::checksum::{checksum_with, fold, pseudo_header_v4, pseudo_header_v6};
use crate::engine::wire::fields::{self, get_u16, set_u16};
use crate::engine::wire::parse::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// IPv4 field ranges (from the start of the header).
pub mod v4 {
    use super::{fields::ipv4 as at, Field};
    /// Version and header length (in 32-bit words).
    pub const VER_IHL: usize = 0;
    /// Identification.
    pub const IDENT: Field = 4..6;
    /// Total length.
    pub const TOTAL_LEN: Field = at::TOTAL_LEN..at::TOTAL_LEN + 2;
    /// Time to live.
    pub const TTL: usize = at::TTL;
    /// Protocol.
    pub const PROTOCOL: usize = at::PROTOCOL;
    /// Header checksum.
    pub const CHECKSUM: Field = at::CHECKSUM..at::CHECKSUM + 2;
    /// Source address.
    pub const SRC: Field = at::SRC..at::SRC + 4;
    /// Destination address.
    pub const DST: Field = at::DST..at::DST + 4;
    /// Header without options.
    pub const HEADER_LEN: usize = at::MIN_HEADER_LEN;
}

/// IPv6 field ranges.
pub mod v6 {
    use super::{fields::ipv6 as at, Field};
    /// Payload length.
    pub const PAYLOAD_LEN: Field = at::PAYLOAD_LEN..at::PAYLOAD_LEN + 2;
    /// Next header.
    pub const NEXT_HEADER: usize = at::NEXT_HEADER;
    /// Hop limit.
    pub const HOP_LIMIT: usize = at::HOP_LIMIT;
    /// Source address.
    pub const SRC: Field = at::SRC..at::SRC + 16;
    /// Destination address.
    pub const DST: Field = at::DST..at::DST + 16;
    /// Fixed header.
    pub const HEADER_LEN: usize = at::HEADER_LEN;
}

/// An IP packet: its header checked to lie inside the buffer, its total length within it,
/// its transport header at `l4` (after the IP header, not after the packet's end).
#[derive(Debug, Clone)]
pub struct IpView<B> {
    buffer: B,
    l4: usize,
    protocol: u8,
}

impl<B: AsRef<[u8]>> IpView<B> {
    /// Checks the header and lengths; the transport follows the fixed IPv6 header (extension
    /// headers are not walked) or the IPv4 header with its options.
    pub fn new_checked(buffer: B) -> Result<Self, ViewError> {
        let bytes = buffer.as_ref();
        let (l4, protocol) = match bytes.first().map(|b| b >> 4) {
            Some(4) => {
                if bytes.len() < v4::HEADER_LEN {
                    return Err(ViewError::Truncated);
                }
                let ihl = usize::from(bytes[v4::VER_IHL] & 0x0f) * 4;
                if ihl < v4::HEADER_LEN {
                    return Err(ViewError::BadHeaderLen);
                }
                let total = usize::from(get_u16(bytes, v4::TOTAL_LEN.start));
                if ihl > bytes.len() || total > bytes.len() {
                    return Err(ViewError::Truncated);
                }
                if total < ihl {
                    return Err(ViewError::BadTotalLen);
                }
                (ihl, bytes[v4::PROTOCOL])
            }
            Some(6) => {
                if bytes.len() < v6::HEADER_LEN {
                    return Err(ViewError::Truncated);
                }
                let payload = usize::from(get_u16(bytes, v6::PAYLOAD_LEN.start));
                if v6::HEADER_LEN + payload > bytes.len() {
                    return Err(ViewError::Truncated);
                }
                (v6::HEADER_LEN, bytes[v6::NEXT_HEADER])
            }
            _ => return Err(ViewError::BadVersion),
        };
        Ok(Self {
            buffer,
            l4,
            protocol,
        })
    }

    /// As [`Self::new_checked`], with the transport `protocol` at `l4` as the parser found
    /// them (after IPv6 extension headers). On IPv4, `l4` must be the header length.
    pub fn new_checked_at(buffer: B, l4: usize, protocol: u8) -> Result<Self, ViewError> {
        let mut view = Self::new_checked(buffer)?;
        let fits = if view.is_ipv4() {
            l4 == view.l4
        } else {
            l4 >= v6::HEADER_LEN && l4 <= view.total_len()
        };
        if !fits {
            return Err(ViewError::BadTransportOffset);
        }
        view.l4 = l4;
        view.protocol = protocol;
        Ok(view)
    }

    /// The buffer, given back.
    pub fn into_inner(self) -> B {
        self.buffer
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Whether it is IPv4.
    pub fn is_ipv4(&self) -> bool {
        self.bytes()[0] >> 4 == 4
    }

    /// Where the transport header starts (the IP header length, extension headers included).
    pub fn transport_offset(&self) -> usize {
        self.l4
    }

    /// The transport protocol.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// Length of the IP packet (bytes after it in the buffer are padding).
    pub fn total_len(&self) -> usize {
        if self.is_ipv4() {
            usize::from(get_u16(self.bytes(), v4::TOTAL_LEN.start))
        } else {
            v6::HEADER_LEN + usize::from(get_u16(self.bytes(), v6::PAYLOAD_LEN.start))
        }
    }

    /// Source address.
    pub fn src_addr(&self) -> IpAddr {
        self.addr(v4::SRC, v6::SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> IpAddr {
        self.addr(v4::DST, v6::DST)
    }

    fn addr(&self, on_v4: Field, on_v6: Field) -> IpAddr {
        let bytes = self.bytes();
        if self.is_ipv4() {
            let octets: [u8; 4] = bytes[on_v4].try_into().unwrap_or_default();
            IpAddr::from(octets)
        } else {
            let octets: [u8; 16] = bytes[on_v6].try_into().unwrap_or_default();
            IpAddr::from(octets)
        }
    }

    /// The pseudo-header sum (not folded) of the transport over `transport_len` bytes.
    pub fn pseudo_header_sum(&self, transport_len: usize) -> u32 {
        match (self.src_addr(), self.dst_addr()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                pseudo_header_v4(s.octets(), d.octets(), self.protocol, transport_len as u16)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                pseudo_header_v6(s.octets(), d.octets(), self.protocol, transport_len as u32)
            }
            _ => 0,
        }
    }

    /// The transport bytes: from its header to the end of the IP packet.
    pub fn transport(&self) -> &[u8] {
        &self.bytes()[self.l4..self.total_len()]
    }

    /// Where the checksum covering the pseudo-header sits, absolute, if one is in use: TCP's,
    /// or UDP's when it is not zero ("none", IPv4 only).
    fn pseudo_checksum_at(&self) -> Option<usize> {
        let at = self.l4
            + match self.protocol {
                PROTO_TCP => fields::tcp::CHECKSUM,
                PROTO_UDP => fields::udp::CHECKSUM,
                _ => return None,
            };
        if at + 2 > self.total_len() {
            return None;
        }
        let none = self.protocol == PROTO_UDP && get_u16(self.bytes(), at) == 0;
        (!none).then_some(at)
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> IpView<B> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the IPv4 source address, keeping the header checksum and the transport checksum
    /// (its pseudo-header part) right. Does nothing on IPv6.
    pub fn set_src_v4(&mut self, addr: Ipv4Addr) {
        self.set_addr_v4(v4::SRC.start, addr);
    }

    /// Sets the IPv4 destination address, as [`Self::set_src_v4`].
    pub fn set_dst_v4(&mut self, addr: Ipv4Addr) {
        self.set_addr_v4(v4::DST.start, addr);
    }

    fn set_addr_v4(&mut self, at: usize, addr: Ipv4Addr) {
        if !self.is_ipv4() {
            return;
        }
        let pseudo = self.pseudo_checksum_at();
        let sums = [Some(v4::CHECKSUM.start), pseudo];
        write_quad(self.bytes_mut(), at, addr.octets(), &sums);
        self.fix_udp_zero(pseudo);
    }

    /// Sets both IPv4 addresses and the TCP or UDP ports: a NAT rewrite of the whole tuple.
    /// The change is folded into the header checksum and the transport checksum once each
    /// (RFC 1624 eqn. 3 summed over the words that change), not word by word; words already
    /// holding their value count for nothing, as in [`write_word`]. `BadVersion` on IPv6,
    /// `WrongProtocol` for another transport, `Truncated` when the transport header does not
    /// fit the packet: nothing is written then.
    pub fn set_tuple_v4(
        &mut self,
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
    ) -> Result<(), ViewError> {
        if !self.is_ipv4() {
            return Err(ViewError::BadVersion);
        }
        let header_len = match self.protocol {
            PROTO_TCP => super::tcp::field::HEADER_LEN,
            PROTO_UDP => super::udp::field::HEADER_LEN,
            _ => return Err(ViewError::WrongProtocol),
        };
        if self.l4 + header_len > self.total_len() {
            return Err(ViewError::Truncated);
        }
        let pseudo = self.pseudo_checksum_at();
        let l4 = self.l4;
        let (src_addr, dst_addr) = (u32::from(src.0), u32::from(dst.0));
        let words = [
            (v4::SRC.start, (src_addr >> 16) as u16),
            (v4::SRC.start + 2, src_addr as u16),
            (v4::DST.start, (dst_addr >> 16) as u16),
            (v4::DST.start + 2, dst_addr as u16),
            (l4 + fields::tcp::SRC_PORT, src.1),
            (l4 + fields::tcp::DST_PORT, dst.1),
        ];
        let bytes = self.bytes_mut();
        // One's-complement sums of (!old + new) over the changed words: addresses (in both
        // checksums) and ports (in the transport's only).
        let (mut addresses, mut ports) = (0u32, 0u32);
        for (index, (at, new)) in words.into_iter().enumerate() {
            let old = get_u16(bytes, at);
            if old != new {
                let change = u32::from(!old) + u32::from(new);
                if index < 4 {
                    addresses += change;
                } else {
                    ports += change;
                }
                set_u16(bytes, at, new);
            }
        }
        if addresses != 0 {
            add_to_checksum(bytes, v4::CHECKSUM.start, addresses);
        }
        if let (Some(at), true) = (pseudo, addresses + ports != 0) {
            add_to_checksum(bytes, at, addresses + ports);
            self.fix_udp_zero(pseudo);
        }
        Ok(())
    }

    /// Sets only the IPv4 addresses and header checksum, not the transport's: for a packet
    /// whose transport has no pseudo-header (an ICMPv4 error's own header).
    pub fn set_addrs_v4_header_only(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        if !self.is_ipv4() {
            return;
        }
        let sums = [Some(v4::CHECKSUM.start)];
        write_quad(self.bytes_mut(), v4::SRC.start, src.octets(), &sums);
        write_quad(self.bytes_mut(), v4::DST.start, dst.octets(), &sums);
    }

    /// A UDP checksum that computes to zero is sent as all ones (RFC 768); zero means "none".
    fn fix_udp_zero(&mut self, at: Option<usize>) {
        if let (PROTO_UDP, Some(at)) = (self.protocol, at) {
            if get_u16(self.bytes(), at) == 0 {
                set_u16(self.bytes_mut(), at, 0xffff);
            }
        }
    }

    /// Sets the length of the IP packet (IPv4 total length, keeping the header checksum
    /// right; IPv6 payload length). The transport checksum covers the length and the payload
    /// that changed with it: the caller recomputes it ([`TcpView::fill_checksum`]).
    /// `Truncated` (nothing written) when the buffer does not hold `len` bytes.
    pub fn set_total_len(&mut self, len: usize) -> Result<(), ViewError> {
        if len > self.bytes().len() || len < self.l4 || len > usize::from(u16::MAX) {
            return Err(ViewError::Truncated);
        }
        if self.is_ipv4() {
            let sums = [Some(v4::CHECKSUM.start)];
            write_word(self.bytes_mut(), v4::TOTAL_LEN.start, len as u16, &sums);
        } else {
            let payload = (len - v6::HEADER_LEN) as u16;
            set_u16(self.bytes_mut(), v6::PAYLOAD_LEN.start, payload);
        }
        Ok(())
    }

    /// Recomputes the IPv4 header checksum from scratch (whatever it held).
    pub fn fill_header_checksum(&mut self) {
        if !self.is_ipv4() {
            return;
        }
        let l4 = self.l4;
        set_u16(self.bytes_mut(), v4::CHECKSUM.start, 0);
        let checksum = checksum_with(0, &self.bytes()[..l4]);
        set_u16(self.bytes_mut(), v4::CHECKSUM.start, checksum);
    }

    /// The transport bytes, writable.
    pub fn transport_mut(&mut self) -> &mut [u8] {
        let (l4, end) = (self.l4, self.total_len());
        &mut self.bytes_mut()[l4..end]
    }

    /// The TCP segment inside, checked.
    pub fn tcp_mut(&mut self) -> Result<TcpView<&mut [u8]>, ViewError> {
        if self.protocol != PROTO_TCP {
            return Err(ViewError::WrongProtocol);
        }
        TcpView::new_checked(self.transport_mut())
    }

    /// The UDP datagram inside, checked.
    pub fn udp_mut(&mut self) -> Result<UdpView<&mut [u8]>, ViewError> {
        if self.protocol != PROTO_UDP {
            return Err(ViewError::WrongProtocol);
        }
        UdpView::new_checked(self.transport_mut())
    }

    /// The ICMP or ICMPv6 message inside, checked.
    pub fn icmp_mut(&mut self) -> Result<IcmpView<&mut [u8]>, ViewError> {
        if !matches!(self.protocol, PROTO_ICMP | PROTO_ICMPV6) {
            return Err(ViewError::WrongProtocol);
        }
        IcmpView::new_checked(self.transport_mut())
    }

    /// Recomputes the TCP checksum from scratch over the segment and pseudo-header.
    pub fn fill_tcp_checksum(&mut self) -> Result<(), ViewError> {
        let pseudo = self.pseudo_header_sum(self.total_len() - self.l4);
        self.tcp_mut()?.fill_checksum(pseudo);
        Ok(())
    }
}

/// Folds `change` (a sum of `!old + new` words) into the checksum at `at` (RFC 1624 eqn. 3).
fn add_to_checksum(bytes: &mut [u8], at: usize, change: u32) {
    let sum = u32::from(!get_u16(bytes, at)) + u32::from(fold(change));
    set_u16(bytes, at, !fold(sum));
}

/// Writes a fresh IP header (no options, ttl / hop limit `ttl`) at the start of `out` for a
/// packet of `total_len` bytes; returns its length (0 when the families differ). The IPv4
/// header checksum is computed.
pub fn emit_header(
    out: &mut [u8],
    (src, dst): (IpAddr, IpAddr),
    protocol: u8,
    ttl: u8,
    total_len: usize,
) -> usize {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let header = &mut out[..v4::HEADER_LEN];
            header.fill(0);
            header[v4::VER_IHL] = 0x45;
            set_u16(header, v4::TOTAL_LEN.start, total_len as u16);
            header[v4::TTL] = ttl;
            header[v4::PROTOCOL] = protocol;
            header[v4::SRC].copy_from_slice(&src.octets());
            header[v4::DST].copy_from_slice(&dst.octets());
            let checksum = checksum_with(0, header);
            set_u16(header, v4::CHECKSUM.start, checksum);
            v4::HEADER_LEN
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let header = &mut out[..v6::HEADER_LEN];
            header.fill(0);
            header[0] = 0x60;
            let payload = (total_len - v6::HEADER_LEN) as u16;
            set_u16(header, v6::PAYLOAD_LEN.start, payload);
            header[v6::NEXT_HEADER] = protocol;
            header[v6::HOP_LIMIT] = ttl;
            header[v6::SRC].copy_from_slice(&src.octets());
            header[v6::DST].copy_from_slice(&dst.octets());
            v6::HEADER_LEN
        }
        _ => 0,
    }
}

#[cfg(test)]
#[path = "ip_test.rs"]
mod test;
