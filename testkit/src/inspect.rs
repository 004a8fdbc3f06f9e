//! Reading what left the gateway: addresses and ports (`endpoints`), whether every checksum
//! verifies (`checksums_verify`), and a TCP/IPv4 segment's fields without allocating
//! (`inspect`, for the fuzz harness and the conversation harness). It never trusts the
//! engine's output (`inspect` panics on an invalid IPv4 header) and never writes a packet
//! (that is `packet`).

use std::net::{IpAddr, Ipv4Addr};

use etherparse::{SlicedPacket, TransportSlice};

use crate::checksum::{fold, pseudo, sum16};
use crate::engine::Outcome;

#[inline]
pub fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The IPv4 address at `at`.
#[inline]
pub fn addr_at(b: &[u8], at: usize) -> [u8; 4] {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

/// A TCP/IPv4 packet as it left the gateway.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    pub src: ([u8; 4], u16),
    pub dst: ([u8; 4], u16),
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    /// Where the payload is in the packet: `packet[payload.0..payload.1]`.
    pub payload: (usize, usize),
    /// Whether the TCP checksum verifies.
    pub tcp_ok: bool,
}

/// Reads an IPv4 packet: `Some` for TCP, `None` for anything else. Panics if the IP header is
/// not valid (the engine forwards only packets whose IP header it validated, and must keep
/// the checksum right) or the TCP header length does not fit.
pub fn inspect(p: &[u8]) -> Option<Seg> {
    assert!(
        p.len() >= 20 && p[0] >> 4 == 4,
        "the gateway sent a non-IPv4 packet"
    );
    let ihl = usize::from(p[0] & 0x0F) * 4;
    let total = usize::from(be16(p, 2));
    assert!(
        ihl >= 20 && total >= ihl && total <= p.len(),
        "bad IP lengths out"
    );
    assert_eq!(
        fold(sum16(0, &p[..ihl])),
        0xFFFF,
        "IP checksum out does not verify"
    );
    if p[9] != 6 || total < ihl + 20 {
        return None;
    }
    let t = &p[ihl..total];
    let header = usize::from(t[12] >> 4) * 4;
    assert!(
        header >= 20 && header <= t.len(),
        "bad TCP header length out"
    );
    let (src, dst) = (addr_at(p, 12), addr_at(p, 16));
    let tcp_ok = fold(sum16(pseudo(&src, &dst, 6, t.len()), t)) == 0xFFFF;
    Some(Seg {
        src: (src, be16(t, 0)),
        dst: (dst, be16(t, 2)),
        seq: be32(t, 4),
        ack: be32(t, 8),
        flags: t[13],
        payload: (ihl + header, total),
        tcp_ok,
    })
}

/// Addresses and ports of an IPv4/IPv6 TCP or UDP packet: ((src, sport), (dst, dport)); an
/// ICMPv4 message gives its identifier as both ports, anything else port 0.
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

/// The outside port the engine gave a masqueraded packet.
pub fn outside_port(out: &Outcome) -> u16 {
    endpoints(&out.bytes).0 .1
}

/// Verifies the IPv4 header checksum (exactly: the value a fresh computation gives) and the
/// TCP/UDP/ICMP/ICMPv6 checksum (a sum folding to `0xFFFF`; an IPv4 UDP checksum of 0 is
/// "none") of an IPv4 or IPv6 packet.
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
    let Some(ip_payload) = sliced.net.as_ref().and_then(|n| n.ip_payload_ref()) else {
        return false;
    };
    let (proto, ip_payload) = (ip_payload.ip_number.0, ip_payload.payload);
    if proto == 17 && !v6 && ip_payload.len() >= 8 && ip_payload[6] == 0 && ip_payload[7] == 0 {
        return true;
    }
    let sum = if proto == 6 || proto == 17 || proto == 58 {
        pseudo(&src, &dst, proto, ip_payload.len())
    } else {
        0
    };
    fold(sum16(sum, ip_payload)) == 0xFFFF
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{tcp, udp, write_tcp, Spec, ACK, PSH};

    #[test]
    fn inspect_reads_back_what_write_tcp_wrote() {
        let mut buf = [0u8; 256];
        let spec = Spec {
            src: ([10, 77, 0, 2], 40000),
            dst: ([198, 51, 100, 2], 21),
            seq: 0xFFFF_FF00,
            ack: 5001,
            flags: ACK | PSH,
            window: 512,
            options: &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            payload: b"USER anonymous\r\n",
            bad_checksum: false,
        };
        let len = write_tcp(&mut buf, &spec);
        let seg = inspect(&buf[..len]).expect("a TCP segment");
        assert_eq!((seg.src, seg.dst), (spec.src, spec.dst));
        assert_eq!(
            (seg.seq, seg.ack, seg.flags),
            (spec.seq, spec.ack, spec.flags)
        );
        assert_eq!(&buf[seg.payload.0..seg.payload.1], spec.payload);
        assert!(seg.tcp_ok);
        let bad = Spec {
            bad_checksum: true,
            ..spec
        };
        let len = write_tcp(&mut buf, &bad);
        assert!(!inspect(&buf[..len]).unwrap().tcp_ok);
    }

    #[test]
    fn inspect_skips_udp_and_endpoints_reads_both_ends() {
        let a = (Ipv4Addr::new(10, 77, 0, 2), 5353);
        let b = (Ipv4Addr::new(198, 51, 100, 2), 53);
        let packet = udp(a, b, b"q");
        assert!(inspect(&packet).is_none());
        assert_eq!(endpoints(&packet), (v4(a.0, a.1), v4(b.0, b.1)));
        assert!(checksums_verify(&packet));
    }

    #[test]
    fn a_flipped_bit_fails_the_checksums() {
        let a = (Ipv4Addr::new(10, 77, 0, 2), 40000);
        let b = (Ipv4Addr::new(198, 51, 100, 2), 21);
        let good = tcp(a, b, ACK, 1, 2, b"NOOP\r\n");
        for at in [10, 25, 45] {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            assert!(!checksums_verify(&bad), "bit flipped at {at}");
        }
    }

    #[test]
    #[should_panic(expected = "IP checksum out does not verify")]
    fn inspect_refuses_a_bad_ip_header() {
        let mut packet = tcp(
            (Ipv4Addr::new(10, 77, 0, 2), 1),
            (Ipv4Addr::new(198, 51, 100, 2), 2),
            ACK,
            1,
            2,
            b"",
        );
        packet[8] ^= 1;
        inspect(&packet);
    }
}
