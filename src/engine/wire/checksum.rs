//! Internet checksums (RFC 1071) and their incremental update (RFC 1624).
//!
//! Incremental updates keep a checksum exactly as right or wrong as it arrived: the gateway
//! never turns a corrupt packet into one that verifies.

/// One's-complement sum of `data` as big-endian 16-bit words (odd tail padded with zero),
/// not yet folded.
pub fn sum_bytes(data: &[u8]) -> u32 {
    let mut sum: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        sum += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold64(sum)
}

fn fold64(mut sum: u64) -> u32 {
    while sum > 0xffff_ffff {
        sum = (sum & 0xffff_ffff) + (sum >> 32);
    }
    sum as u32
}

/// Folds a 32-bit one's-complement accumulator into 16 bits.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum of `data` plus an initial accumulator (e.g. a pseudo-header sum).
pub fn checksum_with(initial: u32, data: &[u8]) -> u16 {
    !fold(fold(initial) as u32 + fold(sum_bytes(data)) as u32)
}

/// Whether `data` (with its checksum field in place) plus `initial` sums to all ones.
pub fn verifies(initial: u32, data: &[u8]) -> bool {
    checksum_with(initial, data) == 0
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word changed from `old` to `new`.
pub fn update16(checksum: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    !fold(sum)
}

/// The new checksum after a 32-bit field changed from `old` to `new`.
pub fn update32(checksum: u16, old: u32, new: u32) -> u16 {
    let checksum = update16(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update16(checksum, old as u16, new as u16)
}

/// The new checksum after a run of bytes at an even offset from the checksummed region's
/// start changed from `old` to `new` (same length).
pub fn update_bytes(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    let sum =
        u32::from(!checksum) + u32::from(!fold(sum_bytes(old))) + u32::from(fold(sum_bytes(new)));
    !fold(sum)
}

/// Pseudo-header sum for TCP/UDP over IPv4.
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u32 {
    sum_bytes(&src) + sum_bytes(&dst) + u32::from(protocol) + u32::from(length)
}

/// Pseudo-header sum for TCP/UDP/ICMPv6 over IPv6.
pub fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, length: u32) -> u32 {
    fold64(
        u64::from(sum_bytes(&src))
            + u64::from(sum_bytes(&dst))
            + u64::from(next_header)
            + u64::from(length >> 16)
            + u64::from(length & 0xffff),
    )
}

#[cfg(test)]
mod test {
    use super::*;

    // IPv4 header from RFC 1071-style worked example (checksum field at bytes 10..12).
    const HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn known_header_verifies() {
        assert!(verifies(0, &HEADER));
        let mut zeroed = HEADER;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(checksum_with(0, &zeroed), 0xb861);
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        let mut header = HEADER;
        let old = u32::from_be_bytes([header[12], header[13], header[14], header[15]]);
        let new = u32::from_be_bytes([10, 77, 0, 2]);
        let updated = update32(u16::from_be_bytes([header[10], header[11]]), old, new);
        header[12..16].copy_from_slice(&new.to_be_bytes());
        header[10..12].copy_from_slice(&updated.to_be_bytes());
        assert!(verifies(0, &header));
        let mut zeroed = header;
        zeroed[10..12].fill(0);
        assert_eq!(checksum_with(0, &zeroed), updated);
    }

    #[test]
    fn incremental_update_keeps_a_bad_checksum_bad() {
        let mut header = HEADER;
        header[11] ^= 0x5a; // corrupt
        let old = u16::from_be_bytes([header[18], header[19]]);
        let updated = update16(u16::from_be_bytes([header[10], header[11]]), old, 0x1234);
        header[18..20].copy_from_slice(&0x1234u16.to_be_bytes());
        header[10..12].copy_from_slice(&updated.to_be_bytes());
        assert!(!verifies(0, &header));
    }

    #[test]
    fn update_bytes_equals_word_updates() {
        let old = [1u8, 2, 3, 4, 5, 6];
        let new = [9u8, 8, 7, 6, 5, 4];
        let by_bytes = update_bytes(0x1234, &old, &new);
        let mut by_words = 0x1234;
        for i in (0..6).step_by(2) {
            by_words = update16(
                by_words,
                u16::from_be_bytes([old[i], old[i + 1]]),
                u16::from_be_bytes([new[i], new[i + 1]]),
            );
        }
        assert_eq!(by_bytes, by_words);
    }

    #[test]
    fn odd_length_is_zero_padded() {
        assert_eq!(sum_bytes(&[0x01]), 0x0100);
        assert_eq!(
            sum_bytes(&[0xff, 0xff, 0xff, 0xff, 0x00, 0x02]),
            0x1_fffe + 2
        );
    }
}
