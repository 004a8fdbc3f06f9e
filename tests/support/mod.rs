//! Shared test helpers: building packets, running them through an engine, verifying output.
#![allow(dead_code)]

pub mod ftp;
pub mod skip;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use etherparse::{
    IcmpEchoHeader, Icmpv4Type, Icmpv6Type, PacketBuilder, SlicedPacket, TransportSlice,
};
use ftpgate::engine::settings::{EngineSettings, ForwardProtocol, PortForward, PortRange};
use ftpgate::engine::{Engine, PacketBuf, Verdict};

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

pub const INSIDE_NET: &str = "10.77.0.0/24";
pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
pub const CLIENT2: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 3);
pub const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const INSIDE_SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 10);
pub const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);

/// The lab gateway: 10.77.0.0/24 inside, masqueraded to 198.51.100.1, tcp 2121 and udp 5353
/// forwarded to 10.77.0.10.
pub fn lab_settings() -> EngineSettings {
    EngineSettings {
        inside_networks: vec![INSIDE_NET.parse().unwrap(), "fd00:77::/64".parse().unwrap()],
        outside_address: Some(OUTSIDE),
        nat_ports: PortRange {
            first: 20000,
            last: 59999,
        },
        forwards: vec![
            PortForward {
                protocol: ForwardProtocol::Tcp,
                outside_ports: PortRange::single(2121),
                inside_address: INSIDE_SERVER,
                inside_port: 21,
            },
            PortForward {
                protocol: ForwardProtocol::Udp,
                outside_ports: PortRange::single(5353),
                inside_address: INSIDE_SERVER,
                inside_port: 53,
            },
        ],
        ..EngineSettings::default()
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A TCP/IPv4 segment.
pub fn tcp(
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut builder =
        PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64).tcp(src.1, dst.1, seq, 64240);
    if flags & SYN != 0 {
        builder = builder.syn();
    }
    if flags & ACK != 0 {
        builder = builder.ack(ack);
    }
    if flags & FIN != 0 {
        builder = builder.fin();
    }
    if flags & RST != 0 {
        builder = builder.rst();
    }
    if flags & PSH != 0 {
        builder = builder.psh();
    }
    let mut out = Vec::new();
    builder.write(&mut out, payload).unwrap();
    out
}

/// A UDP/IPv4 datagram.
pub fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64)
        .udp(src.1, dst.1)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// An ICMP echo request (or reply) over IPv4.
pub fn echo(src: Ipv4Addr, dst: Ipv4Addr, id: u16, request: bool) -> Vec<u8> {
    let header = IcmpEchoHeader { id, seq: 1 };
    let icmp = if request {
        Icmpv4Type::EchoRequest(header)
    } else {
        Icmpv4Type::EchoReply(header)
    };
    let mut out = Vec::new();
    PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
        .icmpv4(icmp)
        .write(&mut out, b"ping-payload")
        .unwrap();
    out
}

/// An ICMPv4 destination-unreachable (port unreachable) from `src` to `dst` quoting `quoted`.
pub fn icmp_unreachable(src: Ipv4Addr, dst: Ipv4Addr, quoted: &[u8]) -> Vec<u8> {
    use etherparse::icmpv4::DestUnreachableHeader;
    let mut out = Vec::new();
    PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            DestUnreachableHeader::Port,
        ))
        .write(&mut out, &quoted[..quoted.len().min(28)])
        .unwrap();
    out
}

/// A TCP/IPv6 segment.
pub fn tcp6(src: (&str, u16), dst: (&str, u16), flags: u8, seq: u32, ack: u32) -> Vec<u8> {
    let s: std::net::Ipv6Addr = src.0.parse().unwrap();
    let d: std::net::Ipv6Addr = dst.0.parse().unwrap();
    let mut builder = PacketBuilder::ipv6(s.octets(), d.octets(), 64).tcp(src.1, dst.1, seq, 64240);
    if flags & SYN != 0 {
        builder = builder.syn();
    }
    if flags & ACK != 0 {
        builder = builder.ack(ack);
    }
    let mut out = Vec::new();
    builder.write(&mut out, &[]).unwrap();
    out
}

/// An ICMPv6 echo request.
pub fn echo6(src: &str, dst: &str, id: u16) -> Vec<u8> {
    let s: std::net::Ipv6Addr = src.parse().unwrap();
    let d: std::net::Ipv6Addr = dst.parse().unwrap();
    let mut out = Vec::new();
    PacketBuilder::ipv6(s.octets(), d.octets(), 64)
        .icmpv6(Icmpv6Type::EchoRequest(IcmpEchoHeader { id, seq: 1 }))
        .write(&mut out, b"x")
        .unwrap();
    out
}

/// Result of pushing one packet through the engine.
pub struct Outcome {
    pub verdict: Verdict,
    pub bytes: Vec<u8>,
}

/// Runs `packet` through `engine` at `now` in a buffer with 256 bytes of tailroom.
pub fn run(engine: &Engine, now: Duration, packet: &[u8]) -> Outcome {
    let mut storage = packet.to_vec();
    storage.resize(packet.len() + 256, 0);
    let mut buf = PacketBuf::new(&mut storage, packet.len());
    let verdict = engine.process(now, &mut buf);
    let bytes = buf.bytes().to_vec();
    Outcome { verdict, bytes }
}

/// Addresses and ports of an IPv4/IPv6 TCP or UDP packet: ((src, sport), (dst, dport)).
pub fn endpoints(packet: &[u8]) -> ((IpAddr, u16), (IpAddr, u16)) {
    let sliced = SlicedPacket::from_ip(packet).expect("valid packet");
    let net = sliced.net.expect("ip layer");
    let (src, dst) = match net {
        etherparse::NetSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        etherparse::NetSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
        _ => panic!("not ip"),
    };
    let (sp, dp) = match sliced.transport {
        Some(TransportSlice::Tcp(t)) => (t.source_port(), t.destination_port()),
        Some(TransportSlice::Udp(u)) => (u.source_port(), u.destination_port()),
        Some(TransportSlice::Icmpv4(i)) => {
            let b = i.slice();
            let id = u16::from_be_bytes([b[4], b[5]]);
            (id, id)
        }
        _ => (0, 0),
    };
    ((src, sp), (dst, dp))
}

pub fn v4(addr: Ipv4Addr, port: u16) -> (IpAddr, u16) {
    (IpAddr::V4(addr), port)
}

/// Verifies the IPv4 header checksum and the TCP/UDP/ICMP checksum of a packet.
pub fn checksums_verify(packet: &[u8]) -> bool {
    let sliced = match SlicedPacket::from_ip(packet) {
        Ok(s) => s,
        Err(_) => return false,
    };
    let (src, dst, v6) = match &sliced.net {
        Some(etherparse::NetSlice::Ipv4(v4)) => {
            let h = v4.header();
            if h.to_header().calc_header_checksum() != h.header_checksum() {
                return false;
            }
            (h.source().to_vec(), h.destination().to_vec(), false)
        }
        Some(etherparse::NetSlice::Ipv6(v6)) => (
            v6.header().source().to_vec(),
            v6.header().destination().to_vec(),
            true,
        ),
        _ => return false,
    };
    let ip_payload = sliced
        .net
        .as_ref()
        .unwrap()
        .ip_payload_ref()
        .unwrap()
        .payload;
    let proto = sliced
        .net
        .as_ref()
        .unwrap()
        .ip_payload_ref()
        .unwrap()
        .ip_number
        .0;
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(2) {
            let word = if chunk.len() == 2 {
                u16::from_be_bytes([chunk[0], chunk[1]])
            } else {
                u16::from_be_bytes([chunk[0], 0])
            };
            sum += u64::from(word);
        }
    };
    let pseudo = proto == 6 || proto == 17 || proto == 58;
    if pseudo {
        add(&src);
        add(&dst);
        add(&[0, proto]);
        let len = ip_payload.len() as u32;
        add(&(len >> 16).to_be_bytes()[2..]);
        add(&(len as u16).to_be_bytes());
    }
    if proto == 17 && !v6 && ip_payload.len() >= 8 && ip_payload[6] == 0 && ip_payload[7] == 0 {
        return true;
    }
    add(ip_payload);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// The outside port the engine gave a masqueraded packet.
pub fn outside_port(out: &Outcome) -> u16 {
    endpoints(&out.bytes).0 .1
}
