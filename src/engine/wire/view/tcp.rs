//! [`TcpView`]: a TCP segment, from its header to the end of the IP packet.
//!
//! Owns the TCP header's field ranges, the data-offset check and the checksum bookkeeping
//! of field writes (ports, sequence and ack numbers, option bytes). It never knows the
//! pseudo-header (the [`super::IpView`] around it does, and passes its sum to
//! [`TcpView::fill_checksum`]) and never walks options for meaning (`tcp_adjust` does).

use super::{write_word, Field, ViewError};
use crate::engine::wire::checksum::{checksum_with, update32, update_bytes};
use crate::engine::wire::fields::{self, get_u16, get_u32, set_u16, set_u32};

/// TCP field ranges.
pub mod field {
    use super::{fields::tcp as at, Field};
    /// Source port.
    pub const SRC_PORT: Field = at::SRC_PORT..at::SRC_PORT + 2;
    /// Destination port.
    pub const DST_PORT: Field = at::DST_PORT..at::DST_PORT + 2;
    /// Sequence number.
    pub const SEQ: Field = at::SEQ..at::SEQ + 4;
    /// Acknowledgment number.
    pub const ACK: Field = at::ACK..at::ACK + 4;
    /// Data offset (high nibble).
    pub const DATA_OFFSET: usize = at::DATA_OFFSET;
    /// Flags.
    pub const FLAGS: usize = at::FLAGS;
    /// Window.
    pub const WINDOW: Field = at::WINDOW..at::WINDOW + 2;
    /// Checksum.
    pub const CHECKSUM: Field = at::CHECKSUM..at::CHECKSUM + 2;
    /// Header without options.
    pub const HEADER_LEN: usize = at::MIN_HEADER_LEN;
}

/// A TCP segment whose header (options included) lies inside the buffer.
#[derive(Debug, Clone)]
pub struct TcpView<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> TcpView<B> {
    /// Wraps the buffer without checks: for writing a segment into a buffer sized for it.
    pub fn new_unchecked(buffer: B) -> Self {
        Self { buffer }
    }

    /// Checks that the fixed header and the header the data offset states fit the buffer.
    pub fn new_checked(buffer: B) -> Result<Self, ViewError> {
        let bytes = buffer.as_ref();
        if bytes.len() < field::HEADER_LEN {
            return Err(ViewError::Truncated);
        }
        let header_len = usize::from(bytes[field::DATA_OFFSET] >> 4) * 4;
        if header_len < field::HEADER_LEN {
            return Err(ViewError::BadHeaderLen);
        }
        if header_len > bytes.len() {
            return Err(ViewError::Truncated);
        }
        Ok(Self { buffer })
    }

    /// The buffer, given back.
    pub fn into_inner(self) -> B {
        self.buffer
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

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        get_u32(self.bytes(), field::SEQ.start)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        get_u32(self.bytes(), field::ACK.start)
    }

    /// Flags byte.
    pub fn flags(&self) -> u8 {
        self.bytes()[field::FLAGS]
    }

    /// Whether all bits of `mask` are set in the flags.
    pub fn has(&self, mask: u8) -> bool {
        self.flags() & mask == mask
    }

    /// Window.
    pub fn window(&self) -> u16 {
        get_u16(self.bytes(), field::WINDOW.start)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.bytes(), field::CHECKSUM.start)
    }

    /// Header length, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[field::DATA_OFFSET] >> 4) * 4
    }

    /// The option bytes.
    pub fn options(&self) -> &[u8] {
        &self.bytes()[field::HEADER_LEN..self.header_len()]
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[self.header_len()..]
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> TcpView<B> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    const SUM: [Option<usize>; 1] = [Some(field::CHECKSUM.start)];

    /// Sets the source port, keeping the checksum right.
    pub fn set_src_port(&mut self, port: u16) {
        write_word(self.bytes_mut(), field::SRC_PORT.start, port, &Self::SUM);
    }

    /// Sets the destination port, keeping the checksum right.
    pub fn set_dst_port(&mut self, port: u16) {
        write_word(self.bytes_mut(), field::DST_PORT.start, port, &Self::SUM);
    }

    /// Sets the sequence number, keeping the checksum right.
    pub fn set_seq_number(&mut self, seq: u32) {
        self.write_u32(field::SEQ.start, seq);
    }

    /// Sets the acknowledgment number, keeping the checksum right.
    pub fn set_ack_number(&mut self, ack: u32) {
        self.write_u32(field::ACK.start, ack);
    }

    fn write_u32(&mut self, at: usize, value: u32) {
        let old = get_u32(self.bytes(), at);
        if old == value {
            return;
        }
        let checksum = update32(self.checksum(), old, value);
        set_u16(self.bytes_mut(), field::CHECKSUM.start, checksum);
        set_u32(self.bytes_mut(), at, value);
    }

    /// Lets `edit` change the option bytes in place, then folds the change into the
    /// checksum: the options start at an even offset and span a multiple of four bytes, so
    /// one update over all of them is right whatever the offsets of the bytes changed.
    pub fn edit_options(&mut self, edit: impl FnOnce(&mut [u8])) {
        let end = self.header_len();
        let mut before = [0u8; fields::tcp::MAX_HEADER_LEN - field::HEADER_LEN];
        let len = end - field::HEADER_LEN;
        before[..len].copy_from_slice(self.options());
        edit(&mut self.bytes_mut()[field::HEADER_LEN..end]);
        let after = self.options();
        if after != &before[..len] {
            let checksum = update_bytes(self.checksum(), &before[..len], after);
            set_u16(self.bytes_mut(), field::CHECKSUM.start, checksum);
        }
    }

    /// Sets the sequence number without touching the checksum: only before
    /// [`Self::fill_checksum`] recomputes it.
    pub fn set_seq_number_unsummed(&mut self, seq: u32) {
        set_u32(self.bytes_mut(), field::SEQ.start, seq);
    }

    /// Recomputes the checksum over the whole segment plus `pseudo` (the pseudo-header sum
    /// from the IP view around it).
    pub fn fill_checksum(&mut self, pseudo: u32) {
        set_u16(self.bytes_mut(), field::CHECKSUM.start, 0);
        let checksum = checksum_with(pseudo, self.bytes());
        set_u16(self.bytes_mut(), field::CHECKSUM.start, checksum);
    }

    /// Writes a header without options: ports, numbers, flags and window; data offset 5,
    /// checksum and urgent pointer zero. The checksum is the caller's next step.
    pub fn emit_header(&mut self, ports: (u16, u16), seq: u32, ack: u32, flags: u8, window: u16) {
        let bytes = self.bytes_mut();
        bytes[..field::HEADER_LEN].fill(0);
        set_u16(bytes, field::SRC_PORT.start, ports.0);
        set_u16(bytes, field::DST_PORT.start, ports.1);
        set_u32(bytes, field::SEQ.start, seq);
        set_u32(bytes, field::ACK.start, ack);
        bytes[field::DATA_OFFSET] = 5 << 4;
        bytes[field::FLAGS] = flags;
        set_u16(bytes, field::WINDOW.start, window);
    }
}

#[cfg(test)]
#[path = "tcp_test.rs"]
mod test;
