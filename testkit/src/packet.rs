//! Writing packets: the one builder family of the kit. The core writes an IPv4 or IPv6
//! header and a TCP segment, UDP datagram or ICMP message in place into a caller's buffer
//! (`write_tcp`, `write_udp`, `write_icmp`), with correct checksums, never allocating: the
//! fuzz harness writes every packet through it. The `Vec`-returning builders the tests and
//! benches use (`tcp`, `udp`, `echo`, `icmp_unreachable`, `tcp6`, `echo6`) are thin wrappers
//! over the same writers. It only writes: reading what left the gateway is `inspect`, running
//! a packet is `engine`.
//!
//! The bytes are those etherparse's `PacketBuilder` wrote for the same packet (the tests
//! were written against it): IPv4 identification 0, don't-fragment set, TTL / hop limit 64,
//! TCP window as given (64240 in the wrappers), no TCP options unless given.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum::{fold, pseudo, sum16};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

const TTL: u8 = 64;
/// The window the `Vec` builders advertise.
pub const WINDOW: u16 = 64240;

/// An IP address as the writers take it: `[u8; 4]` (IPv4) or `[u8; 16]` (IPv6).
pub trait Address: Copy {
    /// Length of the IP header the writers put in front (no options, no extension headers).
    const HEADER: usize;
    /// The ICMP protocol number of this IP version (1 or 58).
    const ICMP: u8;
    fn octets(&self) -> &[u8];
    /// Writes the IP header into `buf` for a payload of `payload_len` bytes of `proto`.
    fn write_header(buf: &mut [u8], src: Self, dst: Self, proto: u8, payload_len: usize);
}

impl Address for [u8; 4] {
    const HEADER: usize = 20;
    const ICMP: u8 = 1;
    fn octets(&self) -> &[u8] {
        self
    }
    fn write_header(buf: &mut [u8], src: Self, dst: Self, proto: u8, payload_len: usize) {
        write_ip(buf, src, dst, proto, 20 + payload_len);
    }
}

impl Address for [u8; 16] {
    const HEADER: usize = 40;
    const ICMP: u8 = 58;
    fn octets(&self) -> &[u8] {
        self
    }
    fn write_header(buf: &mut [u8], src: Self, dst: Self, proto: u8, payload_len: usize) {
        write_ip6(buf, src, dst, proto, payload_len);
    }
}

/// Writes a 20-byte IPv4 header (checksum included) for a packet of `total` bytes.
#[inline]
pub fn write_ip(buf: &mut [u8], src: [u8; 4], dst: [u8; 4], proto: u8, total: usize) {
    buf[0] = 0x45;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    buf[4..8].copy_from_slice(&[0, 0, 0x40, 0]); // identification 0, don't fragment
    buf[8] = TTL;
    buf[9] = proto;
    buf[10..12].fill(0);
    buf[12..16].copy_from_slice(&src);
    buf[16..20].copy_from_slice(&dst);
    let c = !fold(sum16(0, &buf[..20]));
    buf[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Writes a 40-byte IPv6 header for `payload_len` bytes of `next` (no extension headers).
#[inline]
pub fn write_ip6(buf: &mut [u8], src: [u8; 16], dst: [u8; 16], next: u8, payload_len: usize) {
    buf[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
    buf[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
    buf[6] = next;
    buf[7] = TTL;
    buf[8..24].copy_from_slice(&src);
    buf[24..40].copy_from_slice(&dst);
}

/// What one TCP segment carries. `A` is the IP version (`[u8; 4]` unless said).
#[derive(Clone, Copy, Debug)]
pub struct Spec<'a, A: Address = [u8; 4]> {
    pub src: (A, u16),
    pub dst: (A, u16),
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Raw TCP options, padded with end-of-options to a multiple of four.
    pub options: &'a [u8],
    pub payload: &'a [u8],
    /// Writes a wrong TCP checksum (the right one with bits flipped).
    pub bad_checksum: bool,
}

/// Writes an IP + TCP packet into `buf`; returns its length.
pub fn write_tcp<A: Address>(buf: &mut [u8], spec: &Spec<'_, A>) -> usize {
    let header = 20 + spec.options.len().div_ceil(4) * 4;
    let seg_len = header + spec.payload.len();
    let total = A::HEADER + seg_len;
    A::write_header(buf, spec.src.0, spec.dst.0, 6, seg_len);
    let t = &mut buf[A::HEADER..total];
    t[0..2].copy_from_slice(&spec.src.1.to_be_bytes());
    t[2..4].copy_from_slice(&spec.dst.1.to_be_bytes());
    t[4..8].copy_from_slice(&spec.seq.to_be_bytes());
    t[8..12].copy_from_slice(&spec.ack.to_be_bytes());
    t[12] = ((header / 4) as u8) << 4;
    t[13] = spec.flags;
    t[14..16].copy_from_slice(&spec.window.to_be_bytes());
    t[16..20].fill(0);
    t[20..20 + spec.options.len()].copy_from_slice(spec.options);
    t[20 + spec.options.len()..header].fill(0); // end of options
    t[header..].copy_from_slice(spec.payload);
    let sum = pseudo(spec.src.0.octets(), spec.dst.0.octets(), 6, seg_len);
    let mut c = !fold(sum16(sum, t));
    if spec.bad_checksum {
        c ^= 0x5a5a;
    }
    t[16..18].copy_from_slice(&c.to_be_bytes());
    total
}

/// Writes an IP + UDP datagram into `buf`; returns its length.
pub fn write_udp<A: Address>(
    buf: &mut [u8],
    src: (A, u16),
    dst: (A, u16),
    payload: &[u8],
) -> usize {
    let len = 8 + payload.len();
    let total = A::HEADER + len;
    A::write_header(buf, src.0, dst.0, 17, len);
    let u = &mut buf[A::HEADER..total];
    u[0..2].copy_from_slice(&src.1.to_be_bytes());
    u[2..4].copy_from_slice(&dst.1.to_be_bytes());
    u[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    u[6..8].fill(0);
    u[8..].copy_from_slice(payload);
    let c = match !fold(sum16(pseudo(src.0.octets(), dst.0.octets(), 17, len), u)) {
        0 => 0xFFFF, // 0 means "no checksum" (RFC 768)
        c => c,
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    total
}

/// Writes an IP + ICMP (ICMPv6 for IPv6 addresses) message into `buf`: `kind`, `code`, the
/// four bytes after the checksum, then `payload`. Returns its length.
pub fn write_icmp<A: Address>(
    buf: &mut [u8],
    src: A,
    dst: A,
    (kind, code): (u8, u8),
    rest: [u8; 4],
    payload: &[u8],
) -> usize {
    let len = 8 + payload.len();
    let total = A::HEADER + len;
    A::write_header(buf, src, dst, A::ICMP, len);
    let m = &mut buf[A::HEADER..total];
    m[0] = kind;
    m[1] = code;
    m[2..4].fill(0);
    m[4..8].copy_from_slice(&rest);
    m[8..].copy_from_slice(payload);
    let sum = if A::HEADER == 40 {
        pseudo(src.octets(), dst.octets(), A::ICMP, len)
    } else {
        0
    };
    let c = !fold(sum16(sum, m));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    total
}

/// A packet written by `write` into a buffer of room `room`, cut to the length it wrote.
fn build(room: usize, write: impl FnOnce(&mut [u8]) -> usize) -> Vec<u8> {
    let mut out = vec![0; room];
    let len = write(&mut out);
    out.truncate(len);
    out
}

/// A TCP/IPv4 segment. Of `flags` only FIN, SYN, RST, PSH and ACK are written, and `ack` only
/// with ACK.
pub fn tcp(
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let spec = Spec {
        src: (src.0.octets(), src.1),
        dst: (dst.0.octets(), dst.1),
        seq,
        ack: if flags & ACK != 0 { ack } else { 0 },
        flags: flags & (FIN | SYN | RST | PSH | ACK),
        window: WINDOW,
        options: &[],
        payload,
        bad_checksum: false,
    };
    build(40 + payload.len(), |buf| write_tcp(buf, &spec))
}

/// A TCP/IPv6 segment without payload. Of `flags` only SYN and ACK are written, and `ack`
/// only with ACK.
pub fn tcp6(src: (&str, u16), dst: (&str, u16), flags: u8, seq: u32, ack: u32) -> Vec<u8> {
    let s: Ipv6Addr = src.0.parse().unwrap();
    let d: Ipv6Addr = dst.0.parse().unwrap();
    let spec = Spec {
        src: (s.octets(), src.1),
        dst: (d.octets(), dst.1),
        seq,
        ack: if flags & ACK != 0 { ack } else { 0 },
        flags: flags & (SYN | ACK),
        window: WINDOW,
        options: &[],
        payload: &[],
        bad_checksum: false,
    };
    build(60, |buf| write_tcp(buf, &spec))
}

/// A UDP/IPv4 datagram.
pub fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: &[u8]) -> Vec<u8> {
    build(28 + payload.len(), |buf| {
        write_udp(
            buf,
            (src.0.octets(), src.1),
            (dst.0.octets(), dst.1),
            payload,
        )
    })
}

/// The identifier and sequence number (1) of an echo message.
fn echo_rest(id: u16) -> [u8; 4] {
    let [a, b] = id.to_be_bytes();
    [a, b, 0, 1]
}

/// An ICMP echo request (or reply) over IPv4, carrying `ping-payload`.
pub fn echo(src: Ipv4Addr, dst: Ipv4Addr, id: u16, request: bool) -> Vec<u8> {
    let kind = if request { 8 } else { 0 };
    let payload = b"ping-payload";
    build(28 + payload.len(), |buf| {
        write_icmp(
            buf,
            src.octets(),
            dst.octets(),
            (kind, 0),
            echo_rest(id),
            payload,
        )
    })
}

/// An ICMPv4 destination-unreachable (port unreachable) from `src` to `dst` quoting the first
/// 28 bytes of `quoted`.
pub fn icmp_unreachable(src: Ipv4Addr, dst: Ipv4Addr, quoted: &[u8]) -> Vec<u8> {
    let quoted = &quoted[..quoted.len().min(28)];
    build(28 + quoted.len(), |buf| {
        write_icmp(buf, src.octets(), dst.octets(), (3, 3), [0; 4], quoted)
    })
}

/// An ICMPv6 echo request carrying `x`.
pub fn echo6(src: &str, dst: &str, id: u16) -> Vec<u8> {
    let s: Ipv6Addr = src.parse().unwrap();
    let d: Ipv6Addr = dst.parse().unwrap();
    build(49, |buf| {
        write_icmp(buf, s.octets(), d.octets(), (128, 0), echo_rest(id), b"x")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::checksums_verify;
    use etherparse::PacketBuilder;

    const A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
    const B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

    #[test]
    fn tcp_writes_what_etherparse_wrote() {
        let old = |flags: u8, ack: u32, payload: &[u8]| {
            let mut b = PacketBuilder::ipv4(A.octets(), B.octets(), 64).tcp(40000, 21, 7, 64240);
            if flags & SYN != 0 {
                b = b.syn();
            }
            if flags & ACK != 0 {
                b = b.ack(ack);
            }
            if flags & FIN != 0 {
                b = b.fin();
            }
            if flags & RST != 0 {
                b = b.rst();
            }
            if flags & PSH != 0 {
                b = b.psh();
            }
            let mut out = Vec::new();
            b.write(&mut out, payload).unwrap();
            out
        };
        for (flags, payload) in [
            (SYN, &b""[..]),
            (SYN | ACK, b""),
            (ACK | PSH, b"PORT 10,77,0,2,156,65\r\n"),
            (FIN | ACK, b"odd"),
            (RST, b""),
            (0xFF, b"x"),
        ] {
            let new = tcp((A, 40000), (B, 21), flags, 7, 99, payload);
            assert_eq!(new, old(flags, 99, payload), "flags {flags:#x}");
            assert!(checksums_verify(&new));
        }
    }

    #[test]
    fn udp_icmp_and_ipv6_write_what_etherparse_wrote() {
        let mut old = Vec::new();
        PacketBuilder::ipv4(A.octets(), B.octets(), 64)
            .udp(5353, 53)
            .write(&mut old, b"query")
            .unwrap();
        assert_eq!(udp((A, 5353), (B, 53), b"query"), old);

        let mut old = Vec::new();
        PacketBuilder::ipv4(A.octets(), B.octets(), 64)
            .icmpv4(etherparse::Icmpv4Type::EchoRequest(
                etherparse::IcmpEchoHeader { id: 9, seq: 1 },
            ))
            .write(&mut old, b"ping-payload")
            .unwrap();
        assert_eq!(echo(A, B, 9, true), old);

        let s: Ipv6Addr = "fd00:77::2".parse().unwrap();
        let d: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut old = Vec::new();
        PacketBuilder::ipv6(s.octets(), d.octets(), 64)
            .tcp(1, 2, 5, 64240)
            .syn()
            .write(&mut old, &[])
            .unwrap();
        assert_eq!(tcp6(("fd00:77::2", 1), ("2001:db8::1", 2), SYN, 5, 0), old);

        let mut old = Vec::new();
        PacketBuilder::ipv6(s.octets(), d.octets(), 64)
            .icmpv6(etherparse::Icmpv6Type::EchoRequest(
                etherparse::IcmpEchoHeader { id: 3, seq: 1 },
            ))
            .write(&mut old, b"x")
            .unwrap();
        assert_eq!(echo6("fd00:77::2", "2001:db8::1", 3), old);

        let quoted = tcp((A, 1), (B, 2), SYN, 1, 0, b"");
        let unreachable = icmp_unreachable(B, A, &quoted);
        assert!(checksums_verify(&unreachable));
        assert_eq!(&unreachable[28..], &quoted[..28]);
    }

    #[test]
    fn options_are_padded_and_a_bad_checksum_is_bad() {
        let mut buf = [0u8; 128];
        let mut spec = Spec {
            src: (A.octets(), 1),
            dst: (B.octets(), 2),
            seq: 1,
            ack: 0,
            flags: SYN,
            window: 1000,
            options: &[2, 4, 5, 0xb4, 1],
            payload: b"",
            bad_checksum: false,
        };
        let len = write_tcp(&mut buf, &spec);
        assert_eq!(len, 48);
        assert_eq!(buf[32] >> 4, 7);
        assert_eq!(&buf[40..48], &[2, 4, 5, 0xb4, 1, 0, 0, 0]);
        assert!(checksums_verify(&buf[..len]));
        spec.bad_checksum = true;
        let len = write_tcp(&mut buf, &spec);
        assert!(!checksums_verify(&buf[..len]));
    }
}
