//! Validation of untrusted packet bytes into a [`ParsedPacket`]: addresses, offsets and the
//! transport fields the tracker needs. After a successful parse, every offset it reports lies
//! inside the packet, so the writers never index out of bounds.

use std::net::IpAddr;

use etherparse::err::ip::SliceError as IpSliceError;
use etherparse::{IpNumber, IpSlice, Ipv4HeaderSlice, TcpSlice, UdpSlice};

use super::checksum;
use super::fields::{self, get_u16};
use crate::engine::verdict::DropReason;

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// The facts about one validated packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedPacket {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol number.
    pub protocol: u8,
    /// Length of the IP packet as its header states (trailing bytes beyond it are padding).
    pub ip_len: usize,
    /// Offset of the transport header.
    pub l4_offset: usize,
    /// Transport-specific fields.
    pub transport: Transport,
}

impl ParsedPacket {
    /// Whether this is an IPv4 packet.
    pub fn is_ipv4(&self) -> bool {
        self.src.is_ipv4()
    }

    /// Source and destination ports for TCP and UDP. ICMP echo carries its identifier as the
    /// request's source port and the reply's destination port (the other is zero), so a reply's
    /// ports are the inverse of its request's.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.transport {
            Transport::Tcp(tcp) => Some((tcp.src_port, tcp.dst_port)),
            Transport::Udp { src_port, dst_port } => Some((src_port, dst_port)),
            Transport::Icmp(IcmpKind::EchoRequest { id }) => Some((id, 0)),
            Transport::Icmp(IcmpKind::EchoReply { id }) => Some((0, id)),
            Transport::Icmp(_) => None,
        }
    }
}

/// Transport-layer facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A TCP segment.
    Tcp(TcpInfo),
    /// A UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// An ICMP or ICMPv6 message.
    Icmp(IcmpKind),
}

/// The TCP fields connection tracking reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags byte (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR).
    pub flags: u8,
    /// Advertised window (unscaled).
    pub window: u16,
    /// TCP header length including options.
    pub header_len: usize,
    /// Payload length.
    pub payload_len: usize,
    /// Window-scale option, parsed on SYN segments only.
    pub window_scale: Option<u8>,
}

impl TcpInfo {
    /// Whether all bits of `mask` are set.
    pub fn has(&self, mask: u8) -> bool {
        self.flags & mask == mask
    }

    /// Sequence space the segment occupies (payload plus one for SYN and for FIN).
    pub fn seq_len(&self) -> u32 {
        self.payload_len as u32
            + u32::from(self.has(fields::tcp::SYN))
            + u32::from(self.has(fields::tcp::FIN))
    }
}

/// The ICMP messages the engine distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// Echo request (ping).
    EchoRequest {
        /// Identifier.
        id: u16,
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        id: u16,
    },
    /// An error (unreachable, time exceeded, parameter problem, packet too big) quoting a packet.
    Error(QuotedPacket),
    /// Anything else (router advertisements, timestamps, neighbour discovery...).
    Other {
        /// ICMP type.
        icmp_type: u8,
    },
}

/// The start of the packet an ICMP error quotes: its header and first eight transport bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedPacket {
    /// Offset of the quoted IP header within the outer packet.
    pub ip_offset: usize,
    /// Offset of the quoted transport header within the outer packet.
    pub l4_offset: usize,
    /// Quoted source address.
    pub src: IpAddr,
    /// Quoted destination address.
    pub dst: IpAddr,
    /// Quoted transport protocol.
    pub protocol: u8,
    /// Quoted source port (for a quoted echo: as [`ParsedPacket::ports`] assigns them).
    pub src_port: u16,
    /// Quoted destination port.
    pub dst_port: u16,
    /// Whether the quoted packet is an ICMP echo request (else reply) when `protocol` is ICMP.
    pub echo_request: bool,
}

/// Validates `bytes` as one IP packet. Trailing bytes past the IP length are ignored.
pub fn parse(bytes: &[u8]) -> Result<ParsedPacket, DropReason> {
    let ip = IpSlice::from_slice(bytes).map_err(ip_error_reason)?;
    if ip.is_fragmenting_payload() {
        return Err(DropReason::Fragment);
    }
    if let IpSlice::Ipv4(v4) = &ip {
        if !checksum::verifies(0, v4.header().slice()) {
            return Err(DropReason::BadIpChecksum);
        }
    }
    let payload = ip.payload();
    let l4_offset = offset_of(bytes, payload.payload);
    let ip_len = l4_offset + payload.payload.len();
    // Everything below looks only at the IP packet, never at padding after it.
    let bytes = &bytes[..ip_len];
    let protocol = payload.ip_number.0;
    let segment = payload.payload;
    let transport = match payload.ip_number {
        IpNumber::TCP => Transport::Tcp(parse_tcp(segment)?),
        IpNumber::UDP => {
            let udp = UdpSlice::from_slice(segment).map_err(|_| DropReason::Truncated)?;
            Transport::Udp {
                src_port: udp.source_port(),
                dst_port: udp.destination_port(),
            }
        }
        IpNumber::ICMP if ip.ipv4().is_some() => {
            Transport::Icmp(parse_icmp(bytes, l4_offset, false)?)
        }
        IpNumber::IPV6_ICMP if ip.ipv6().is_some() => {
            Transport::Icmp(parse_icmp(bytes, l4_offset, true)?)
        }
        _ => return Err(DropReason::UnsupportedProtocol),
    };
    Ok(ParsedPacket {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        protocol,
        ip_len,
        l4_offset,
        transport,
    })
}

/// Source, destination and transport protocol of a packet [`parse`] found valid up to its
/// transport (it refused it as `UnsupportedProtocol`).
pub fn addresses(bytes: &[u8]) -> Option<(IpAddr, IpAddr, u8)> {
    let ip = IpSlice::from_slice(bytes).ok()?;
    Some((
        ip.source_addr(),
        ip.destination_addr(),
        ip.payload().ip_number.0,
    ))
}

fn ip_error_reason(err: IpSliceError) -> DropReason {
    match err {
        IpSliceError::Len(_) => DropReason::Truncated,
        IpSliceError::IpHeaders(_) => DropReason::MalformedIp,
    }
}

fn offset_of(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

fn parse_tcp(segment: &[u8]) -> Result<TcpInfo, DropReason> {
    use etherparse::err::tcp::HeaderSliceError;
    let tcp = TcpSlice::from_slice(segment).map_err(|err| match err {
        HeaderSliceError::Len(_) => DropReason::Truncated,
        HeaderSliceError::Content(_) => DropReason::MalformedTransport,
    })?;
    let flags = segment[fields::tcp::FLAGS];
    let window_scale = if flags & fields::tcp::SYN != 0 {
        window_scale_option(&tcp)?
    } else {
        None
    };
    Ok(TcpInfo {
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
        header_len: tcp.header_slice().len(),
        payload_len: tcp.payload().len(),
        window_scale,
    })
}

/// The window scale a SYN offers. Options are walked by their length bytes, so any kind
/// passes, known or not (a TFO cookie, kind 34; MPTCP, 30; experimental 253 / 254): only an
/// option list that cannot be walked (a length below 2 or past the header) is malformed.
fn window_scale_option(tcp: &TcpSlice<'_>) -> Result<Option<u8>, DropReason> {
    window_scale_in(tcp.options())
}

fn window_scale_in(mut options: &[u8]) -> Result<Option<u8>, DropReason> {
    const END: u8 = 0;
    const NOP: u8 = 1;
    const WINDOW_SCALE: u8 = 3;
    let mut scale = None;
    while let Some(&kind) = options.first() {
        match kind {
            END => break,
            NOP => options = &options[1..],
            _ => {
                let len = usize::from(*options.get(1).ok_or(DropReason::MalformedTransport)?);
                if len < 2 || len > options.len() {
                    return Err(DropReason::MalformedTransport);
                }
                if kind == WINDOW_SCALE {
                    if len != 3 {
                        return Err(DropReason::MalformedTransport);
                    }
                    scale = Some(options[2].min(14));
                }
                options = &options[len..];
            }
        }
    }
    Ok(scale)
}

fn parse_icmp(bytes: &[u8], offset: usize, v6: bool) -> Result<IcmpKind, DropReason> {
    let message = &bytes[offset..];
    if message.len() < fields::icmp::HEADER_LEN {
        return Err(DropReason::Truncated);
    }
    let icmp_type = message[fields::icmp::TYPE];
    let id = get_u16(message, fields::icmp::ECHO_ID);
    let kind = match (v6, icmp_type) {
        (false, 8) | (true, 128) => IcmpKind::EchoRequest { id },
        (false, 0) | (true, 129) => IcmpKind::EchoReply { id },
        (false, 3 | 11 | 12) | (true, 1..=4) => {
            IcmpKind::Error(parse_quoted(bytes, offset + fields::icmp::HEADER_LEN, v6)?)
        }
        _ => IcmpKind::Other { icmp_type },
    };
    Ok(kind)
}

/// Parses the packet an ICMP error quotes; it is usually truncated, so only its header and
/// the first eight transport bytes are required.
fn parse_quoted(bytes: &[u8], ip_offset: usize, v6: bool) -> Result<QuotedPacket, DropReason> {
    let quoted = &bytes[ip_offset..];
    let (src, dst, protocol, header_len) = if v6 {
        if quoted.len() < fields::ipv6::HEADER_LEN || quoted[0] >> 4 != 6 {
            return Err(DropReason::MalformedTransport);
        }
        let src: [u8; 16] = quoted[8..24]
            .try_into()
            .map_err(|_| DropReason::Truncated)?;
        let dst: [u8; 16] = quoted[24..40]
            .try_into()
            .map_err(|_| DropReason::Truncated)?;
        let next = quoted[fields::ipv6::NEXT_HEADER];
        (
            IpAddr::from(src),
            IpAddr::from(dst),
            next,
            fields::ipv6::HEADER_LEN,
        )
    } else {
        let header =
            Ipv4HeaderSlice::from_slice(quoted).map_err(|_| DropReason::MalformedTransport)?;
        if header.is_fragmenting_payload() && header.fragments_offset().value() != 0 {
            return Err(DropReason::Fragment);
        }
        (
            IpAddr::from(header.source()),
            IpAddr::from(header.destination()),
            header.protocol().0,
            header.slice().len(),
        )
    };
    let l4 = &quoted[header_len.min(quoted.len())..];
    if l4.len() < 8 {
        return Err(DropReason::Truncated);
    }
    let (src_port, dst_port, echo_request) = match (protocol, v6) {
        (PROTO_TCP | PROTO_UDP, _) => (get_u16(l4, 0), get_u16(l4, 2), false),
        (PROTO_ICMP, false) | (PROTO_ICMPV6, true) => {
            let id = get_u16(l4, fields::icmp::ECHO_ID);
            match (l4[0], v6) {
                (8, false) | (128, true) => (id, 0, true),
                (0, false) | (129, true) => (0, id, false),
                _ => return Err(DropReason::IcmpErrorNoFlow),
            }
        }
        _ => return Err(DropReason::IcmpErrorNoFlow),
    };
    Ok(QuotedPacket {
        ip_offset,
        l4_offset: ip_offset + header_len,
        src,
        dst,
        protocol,
        src_port,
        dst_port,
        echo_request,
    })
}

/// Whether the transport checksum verifies (a UDP/IPv4 checksum of zero means "none" and
/// passes). Used only where a packet would create or change state; forwarding never
/// verifies, and a rewrite keeps a bad checksum bad.
pub fn transport_checksum_ok(bytes: &[u8], packet: &ParsedPacket) -> bool {
    let end = packet.ip_len.min(bytes.len());
    let Some(segment) = bytes.get(packet.l4_offset..end) else {
        return false;
    };
    let pseudo = |protocol: u8| match (packet.src, packet.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            checksum::pseudo_header_v4(s.octets(), d.octets(), protocol, segment.len() as u16)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            checksum::pseudo_header_v6(s.octets(), d.octets(), protocol, segment.len() as u32)
        }
        _ => 0,
    };
    match packet.transport {
        Transport::Udp { .. }
            if packet.is_ipv4() && get_u16(segment, fields::udp::CHECKSUM) == 0 =>
        {
            true
        }
        Transport::Tcp(_) | Transport::Udp { .. } => {
            checksum::verifies(pseudo(packet.protocol), segment)
        }
        Transport::Icmp(_) if packet.is_ipv4() => checksum::verifies(0, segment),
        Transport::Icmp(_) => checksum::verifies(pseudo(PROTO_ICMPV6), segment),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn options_of_any_kind_are_walked_by_their_length() {
        // MSS, SACK-permitted, timestamps, NOP, window scale 7.
        let linux = [
            2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        assert_eq!(window_scale_in(&linux), Ok(Some(7)));
        // A TFO cookie (kind 34, 8-byte cookie) and MPTCP (30) before the window scale.
        let tfo = [34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 30, 4, 0, 0, 1, 3, 3, 20];
        assert_eq!(window_scale_in(&tfo), Ok(Some(14)), "capped at 14");
        // A TFO cookie request (kind 34, length 2) and an experimental option.
        assert_eq!(window_scale_in(&[34, 2, 254, 4, 0xf9, 0x89]), Ok(None));
        assert_eq!(
            window_scale_in(&[3, 3, 2, 0, 34, 0]),
            Ok(Some(2)),
            "END stops"
        );
        for malformed in [&[34][..], &[34, 1], &[34, 12, 0, 0], &[3, 4, 2, 0]] {
            assert_eq!(
                window_scale_in(malformed),
                Err(DropReason::MalformedTransport),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn a_literal_segment_parses_to_its_fields() {
        use crate::engine::wire::test_vectors::TCP_SEGMENT;
        let parsed = parse(&TCP_SEGMENT).unwrap();
        assert_eq!(parsed.src, IpAddr::from([192, 168, 0, 2]));
        assert_eq!(parsed.dst, IpAddr::from([198, 51, 100, 2]));
        assert_eq!(
            (parsed.protocol, parsed.ip_len, parsed.l4_offset),
            (6, 42, 20)
        );
        let Transport::Tcp(tcp) = parsed.transport else {
            panic!("not TCP");
        };
        assert_eq!(
            (tcp.src_port, tcp.dst_port, tcp.seq, tcp.ack),
            (40000, 21, 100, 1000)
        );
        assert_eq!(
            (tcp.flags, tcp.window, tcp.header_len, tcp.payload_len),
            (0x18, 64240, 20, 2)
        );
        // Padding after the IP length is ignored; a cut packet or a bad header sum is refused.
        let mut padded = TCP_SEGMENT.to_vec();
        padded.extend([0; 6]);
        assert_eq!(parse(&padded), Ok(parsed));
        assert_eq!(parse(&TCP_SEGMENT[..41]), Err(DropReason::Truncated));
        let mut bad = TCP_SEGMENT;
        bad[11] ^= 1;
        assert_eq!(parse(&bad), Err(DropReason::BadIpChecksum));
    }
}
