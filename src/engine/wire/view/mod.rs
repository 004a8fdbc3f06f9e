//! Typed views over packet bytes, in smoltcp's manner: a view wraps a buffer, checks once on
//! construction that every field it names lies inside it (`new_checked`), and then reads and
//! writes fields by name. Setters keep every checksum that covers the field right by
//! incremental update (RFC 1624, [`super::checksum`]), so a caller cannot forget one; the
//! transport views are taken from an [`IpView`], which adds the IP header length in one place.
//!
//! Owns field ranges, bounds and the checksum bookkeeping of single field writes. It never
//! decides what to write (NAT, the ALG and `tcp_adjust` do), never recomputes a checksum the
//! caller did not ask for (`fill_checksum` is explicit), and never panics on bytes a
//! constructor accepted. Views made with `new_unchecked` are for emitting into a buffer the
//! caller sized; their getters may panic on short buffers, as smoltcp's do.

pub mod icmp;
pub mod ip;
pub mod tcp;
pub mod udp;

pub use icmp::IcmpView;
pub use ip::IpView;
pub use tcp::TcpView;
pub use udp::UdpView;

use super::checksum::update16;
use super::fields::{get_u16, set_u16};

/// A byte range inside a header.
pub type Field = std::ops::Range<usize>;

/// Why a buffer cannot be viewed as the header asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewError {
    /// The buffer ends before the header (or the length it states) does.
    Truncated,
    /// The IP version nibble is neither 4 nor 6 (or not the one asked for).
    BadVersion,
    /// A header length field states less than the fixed header.
    BadHeaderLen,
    /// The IP total length is shorter than the IP header.
    BadTotalLen,
    /// The transport offset given does not lie within the IP packet after its header.
    BadTransportOffset,
    /// The IP packet does not carry the transport asked for.
    WrongProtocol,
}

/// Writes `value` as a u16 at `at`, folding the change into each checksum field in `sums`
/// (`None`: not in use). Nothing moves when the value is already there.
pub(crate) fn write_word(bytes: &mut [u8], at: usize, value: u16, sums: &[Option<usize>]) {
    let old = get_u16(bytes, at);
    if old == value {
        return;
    }
    for sum in sums.iter().flatten() {
        let updated = update16(get_u16(bytes, *sum), old, value);
        set_u16(bytes, *sum, updated);
    }
    set_u16(bytes, at, value);
}

/// Writes four bytes (an IPv4 address) at `at` as two words, see [`write_word`].
pub(crate) fn write_quad(bytes: &mut [u8], at: usize, value: [u8; 4], sums: &[Option<usize>]) {
    write_word(bytes, at, u16::from_be_bytes([value[0], value[1]]), sums);
    write_word(
        bytes,
        at + 2,
        u16::from_be_bytes([value[2], value[3]]),
        sums,
    );
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn write_word_updates_every_checksum_given() {
        // Two checksum fields (bytes 0..2 and 2..4) over the word at 4..6.
        let mut bytes = [0xb8, 0x61, 0x12, 0x34, 0x00, 0x01];
        write_word(&mut bytes, 4, 0x0003, &[Some(0), None, Some(2)]);
        assert_eq!(bytes, [0xb8, 0x5f, 0x12, 0x32, 0x00, 0x03]);
        // Unchanged value: nothing moves, not even a checksum of 0xffff.
        let mut same = [0xff, 0xff, 0x00, 0x03];
        write_word(&mut same, 2, 0x0003, &[Some(0)]);
        assert_eq!(same, [0xff, 0xff, 0x00, 0x03]);
    }

    #[test]
    fn write_quad_writes_both_words() {
        let mut bytes = [0, 0, 10, 0, 0, 1];
        write_quad(&mut bytes, 2, [10, 0, 0, 2], &[None]);
        assert_eq!(bytes, [0, 0, 10, 0, 0, 2]);
    }
}
