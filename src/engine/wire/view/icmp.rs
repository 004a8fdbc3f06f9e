//! [`IcmpView`]: an ICMP or ICMPv6 message (the parts the engine reads or writes share
//! one layout: type, code, checksum, then an echo's identifier and sequence number, or the
//! start of an error's quoted packet).
//!
//! Owns those field ranges and the identifier setter's checksum bookkeeping. It never looks
//! at the quoted packet (the parser does) and never knows ICMPv6's pseudo-header (the
//! caller passes its sum to [`IcmpView::fill_checksum`]).

use super::{write_word, Field, ViewError};
use crate::engine::wire::checksum::checksum_with;
use crate::engine::wire::fields::{self, get_u16, set_u16};

/// ICMP field ranges.
pub mod field {
    use super::{fields::icmp as at, Field};
    /// Type.
    pub const TYPE: usize = at::TYPE;
    /// Code.
    pub const CODE: usize = at::CODE;
    /// Checksum.
    pub const CHECKSUM: Field = at::CHECKSUM..at::CHECKSUM + 2;
    /// Echo identifier.
    pub const ECHO_ID: Field = at::ECHO_ID..at::ECHO_ID + 2;
    /// Fixed header; an error's quoted packet starts here.
    pub const HEADER_LEN: usize = at::HEADER_LEN;
}

/// An ICMP message whose fixed header lies inside the buffer.
#[derive(Debug, Clone)]
pub struct IcmpView<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> IcmpView<B> {
    /// Wraps the buffer without checks: for writing a message into a buffer sized for it.
    pub fn new_unchecked(buffer: B) -> Self {
        Self { buffer }
    }

    /// Checks that the fixed header fits the buffer.
    pub fn new_checked(buffer: B) -> Result<Self, ViewError> {
        if buffer.as_ref().len() < field::HEADER_LEN {
            return Err(ViewError::Truncated);
        }
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Type.
    pub fn msg_type(&self) -> u8 {
        self.bytes()[field::TYPE]
    }

    /// Code.
    pub fn code(&self) -> u8 {
        self.bytes()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.bytes(), field::CHECKSUM.start)
    }

    /// Echo identifier (meaningful for echo requests and replies).
    pub fn echo_id(&self) -> u16 {
        get_u16(self.bytes(), field::ECHO_ID.start)
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> IcmpView<B> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the echo identifier, keeping the checksum right.
    pub fn set_echo_id(&mut self, id: u16) {
        let sum = [Some(field::CHECKSUM.start)];
        write_word(self.bytes_mut(), field::ECHO_ID.start, id, &sum);
    }

    /// Writes type and code over a zeroed fixed header (checksum and the rest zero).
    pub fn emit_header(&mut self, msg_type: u8, code: u8) {
        let bytes = self.bytes_mut();
        bytes[..field::HEADER_LEN].fill(0);
        bytes[field::TYPE] = msg_type;
        bytes[field::CODE] = code;
    }

    /// Recomputes the checksum over the whole message plus `pseudo` (0 for ICMPv4).
    pub fn fill_checksum(&mut self, pseudo: u32) {
        set_u16(self.bytes_mut(), field::CHECKSUM.start, 0);
        let checksum = checksum_with(pseudo, self.bytes());
        set_u16(self.bytes_mut(), field::CHECKSUM.start, checksum);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Echo request, id 0x0001, seq 0x0001, payload "abcd" (hand-computed checksum:
    /// !(0x0800 + 0x0001 + 0x0001 + 0x6162 + 0x6364) = 0x3337 after folding).
    const ECHO: [u8; 12] = [8, 0, 0x33, 0x37, 0, 1, 0, 1, b'a', b'b', b'c', b'd'];

    #[test]
    fn fields_read_from_a_literal_echo() {
        let icmp = IcmpView::new_checked(&ECHO[..]).unwrap();
        assert_eq!((icmp.msg_type(), icmp.code()), (8, 0));
        assert_eq!((icmp.checksum(), icmp.echo_id()), (0x3337, 1));
        assert_eq!(checksum_with(0, &ECHO), 0);
    }

    #[test]
    fn identifier_rewrite_keeps_the_checksum_right() {
        let mut bytes = ECHO;
        let mut icmp = IcmpView::new_checked(&mut bytes[..]).unwrap();
        icmp.set_echo_id(0x1234);
        assert_eq!(icmp.echo_id(), 0x1234);
        assert_eq!(checksum_with(0, &bytes), 0);
        let mut filled = bytes;
        IcmpView::new_checked(&mut filled[..])
            .unwrap()
            .fill_checksum(0);
        assert_eq!(filled, bytes);
    }

    #[test]
    fn short_buffers_are_refused() {
        assert_eq!(
            IcmpView::new_checked(&ECHO[..7]).err(),
            Some(ViewError::Truncated)
        );
    }
}
