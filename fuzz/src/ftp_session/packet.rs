//! IPv4/TCP packets for the harness: checksums, writing a segment in place, reading what left
//! the gateway. Owns no state; it never allocates per packet and never trusts the engine's
//! output (`inspect` panics on an invalid IP header).

use super::*;

/// The ones' complement sum of `bytes` (as 16-bit big-endian words), unfolded. Eight bytes
/// at a time: the fuzzer's comparison tracing makes every loop iteration count.
pub(crate) fn sum16(mut acc: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for word in &mut chunks {
        let w = u64::from_be_bytes(word.try_into().unwrap());
        acc += (w >> 32) + (w & 0xFFFF_FFFF);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for pair in &mut rest {
        acc += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = rest.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

pub(crate) fn fold(mut acc: u64) -> u16 {
    acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn addr_at(b: &[u8], at: usize) -> Addr {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

pub(crate) fn write_ip(buf: &mut [u8], src: Addr, dst: Addr, proto: u8, total: usize) {
    buf[0] = 0x45;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    buf[4..8].copy_from_slice(&[0x12, 0x34, 0x40, 0]);
    buf[8] = 64;
    buf[9] = proto;
    buf[10..12].fill(0);
    buf[12..16].copy_from_slice(&src);
    buf[16..20].copy_from_slice(&dst);
    let c = !fold(sum16(0, &buf[..20]));
    buf[10..12].copy_from_slice(&c.to_be_bytes());
}

pub(crate) fn tcp_pseudo(src: Addr, dst: Addr, len: usize) -> u64 {
    let acc = sum16(0, &src);
    let acc = sum16(acc, &dst);
    acc + 6 + len as u64
}

/// What one TCP segment carries.
#[derive(Clone, Copy)]
pub(crate) struct Spec<'a> {
    pub(crate) src: Endpoint,
    pub(crate) dst: Endpoint,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) window: u16,
    pub(crate) options: &'a [u8],
    pub(crate) payload: &'a [u8],
    pub(crate) bad_checksum: bool,
}

/// Writes an IPv4 + TCP packet into `buf`; returns its length.
pub(crate) fn write_tcp(buf: &mut [u8], spec: &Spec<'_>) -> usize {
    let opt_len = spec.options.len().div_ceil(4) * 4;
    let header = 20 + opt_len;
    let seg_len = header + spec.payload.len();
    let total = 20 + seg_len;
    write_ip(buf, spec.src.0, spec.dst.0, 6, total);
    let t = &mut buf[20..total];
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
    let mut c = !fold(sum16(tcp_pseudo(spec.src.0, spec.dst.0, seg_len), t));
    if spec.bad_checksum {
        c ^= 0x5a5a;
    }
    t[16..18].copy_from_slice(&c.to_be_bytes());
    total
}

/// A TCP/IPv4 packet as it left the gateway.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seg {
    pub(crate) src: Endpoint,
    pub(crate) dst: Endpoint,
    pub(crate) seq: u32,
    pub(crate) flags: u8,
    pub(crate) payload: (usize, usize),
    pub(crate) tcp_ok: bool,
}

/// Reads an IPv4 packet; panics if the IP header is not valid (the engine forwards only
/// packets whose IP header it validated, and must keep the checksum right).
pub(crate) fn inspect(p: &[u8]) -> Option<Seg> {
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
    let tcp_ok = fold(sum16(tcp_pseudo(src, dst, t.len()), t)) == 0xFFFF;
    Some(Seg {
        src: (src, be16(t, 0)),
        dst: (dst, be16(t, 2)),
        seq: be32(t, 4),
        flags: t[13],
        payload: (ihl + header, total),
        tcp_ok,
    })
}
