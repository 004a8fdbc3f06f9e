//! [`UdpView`]: a UDP datagram.
//!
//! Owns the UDP header's field ranges and the port setters' checksum bookkeeping (a zero
//! checksum means "none" on IPv4 and stays zero; one that computes to zero is sent as all
//! ones). It never checks the length field against the buffer: the parser has, and a view
//! needs only the eight header bytes.

use super::{write_word, Field, ViewError};
use crate::engine::wire::fields::{self, get_u16, set_u16};

/// UDP field ranges.
pub mod field {
    use super::{fields::udp as at, Field};
    /// Source port.
    pub const SRC_PORT: Field = at::SRC_PORT..at::SRC_PORT + 2;
    /// Destination port.
    pub const DST_PORT: Field = at::DST_PORT..at::DST_PORT + 2;
    /// Length.
    pub const LENGTH: Field = at::LENGTH..at::LENGTH + 2;
    /// Checksum (0 = none, IPv4 only).
    pub const CHECKSUM: Field = at::CHECKSUM..at::CHECKSUM + 2;
    /// Header length.
    pub const HEADER_LEN: usize = at::HEADER_LEN;
}

/// A UDP datagram whose header lies inside the buffer.
#[derive(Debug, Clone)]
pub struct UdpView<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> UdpView<B> {
    /// Checks that the header fits the buffer.
    pub fn new_checked(buffer: B) -> Result<Self, ViewError> {
        if buffer.as_ref().len() < field::HEADER_LEN {
            return Err(ViewError::Truncated);
        }
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.bytes(), field::SRC_PORT.start)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.bytes(), field::DST_PORT.start)
    }

    /// Length field.
    pub fn length(&self) -> u16 {
        get_u16(self.bytes(), field::LENGTH.start)
    }

    /// Checksum field (0: none).
    pub fn checksum(&self) -> u16 {
        get_u16(self.bytes(), field::CHECKSUM.start)
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> UdpView<B> {
    /// Sets the source port, keeping a checksum in use right.
    pub fn set_src_port(&mut self, port: u16) {
        self.write_port(field::SRC_PORT.start, port);
    }

    /// Sets the destination port, keeping a checksum in use right.
    pub fn set_dst_port(&mut self, port: u16) {
        self.write_port(field::DST_PORT.start, port);
    }

    fn write_port(&mut self, at: usize, port: u16) {
        let in_use = self.checksum() != 0;
        let sum = [in_use.then_some(field::CHECKSUM.start)];
        let bytes = self.buffer.as_mut();
        write_word(bytes, at, port, &sum);
        if in_use && get_u16(bytes, field::CHECKSUM.start) == 0 {
            set_u16(bytes, field::CHECKSUM.start, 0xffff);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// 10.0.0.1:1024 -> 10.0.0.2:53, payload "ab"; checksum 0x8640 over the IPv4
    /// pseudo-header (hand-computed: 0a00 0001 0a00 0002 0011 000a | 0400 0035 000a 6162).
    const DATAGRAM: [u8; 10] = [0x04, 0x00, 0x00, 0x35, 0x00, 0x0a, 0x86, 0x40, b'a', b'b'];

    #[test]
    fn fields_read_from_a_literal_datagram() {
        let udp = UdpView::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!((udp.src_port(), udp.dst_port()), (1024, 53));
        assert_eq!((udp.length(), udp.checksum()), (10, 0x8640));
    }

    #[test]
    fn port_rewrite_keeps_the_checksum_and_none_stays_none() {
        let mut bytes = DATAGRAM;
        let mut udp = UdpView::new_checked(&mut bytes[..]).unwrap();
        udp.set_src_port(1025);
        // 0x8640 less one in one's complement.
        assert_eq!(udp.checksum(), 0x863f);
        let mut none = DATAGRAM;
        none[6..8].fill(0);
        let mut udp = UdpView::new_checked(&mut none[..]).unwrap();
        udp.set_dst_port(5353);
        assert_eq!((udp.dst_port(), udp.checksum()), (5353, 0));
    }

    #[test]
    fn a_computed_zero_is_sent_as_all_ones() {
        // Checksum 0x0001; the source port rises by one, the sum by one: zero, written 0xffff.
        let mut bytes = [0x04, 0x00, 0x00, 0x35, 0x00, 0x08, 0x00, 0x01];
        let mut udp = UdpView::new_checked(&mut bytes[..]).unwrap();
        udp.set_src_port(0x0401);
        assert_eq!(udp.checksum(), 0xffff);
    }

    #[test]
    fn short_buffers_are_refused() {
        assert_eq!(
            UdpView::new_checked(&DATAGRAM[..7]).err(),
            Some(ViewError::Truncated)
        );
    }
}
