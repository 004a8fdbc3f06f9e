//! The Internet checksum (RFC 1071) as the kit computes it: `sum16` adds bytes as 16-bit
//! big-endian words into an unfolded accumulator, `fold` folds it, `pseudo` adds a TCP/UDP/
//! ICMPv6 pseudo-header. Owns only arithmetic: it never reads a packet's layout (that is
//! `inspect`) and never allocates, so the fuzz harness can sum every packet it writes. The
//! functions are `#[inline]`: the harness is another crate, and they run on every packet.

/// The ones' complement sum of `bytes` (as 16-bit big-endian words) added to `acc`, unfolded.
/// Eight bytes at a time: the fuzzer's comparison tracing makes every loop iteration count.
#[inline]
pub fn sum16(mut acc: u64, bytes: &[u8]) -> u64 {
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

/// `acc` folded to 16 bits (end-around carries). A packet whose checksum is right folds,
/// checksum field included, to `0xFFFF`.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// The unfolded sum of a pseudo-header: source and destination addresses (4 or 16 bytes
/// each), protocol, and the length of the transport segment (RFC 793, RFC 8200 8.1).
#[inline]
pub fn pseudo(src: &[u8], dst: &[u8], proto: u8, len: usize) -> u64 {
    let acc = sum16(0, src);
    let acc = sum16(acc, dst);
    acc + u64::from(proto) + len as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_odd_lengths_and_every_chunk_size_like_the_word_by_word_rule() {
        let bytes: Vec<u8> = (0..=40u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..bytes.len() {
            let slow: u64 = bytes[..len]
                .chunks(2)
                .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
                .sum();
            assert_eq!(fold(sum16(0, &bytes[..len])), fold(slow), "length {len}");
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum16(0, &bytes)), 0xddf2);
    }
}
