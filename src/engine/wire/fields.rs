//! Byte offsets of the header fields the engine reads or writes, and big-endian accessors.
//!
//! Every offset lives here, so no logic elsewhere hard-codes one; the typed views of
//! [`super::view`] build their field ranges from these. It never knows where a header starts
//! in a packet: new writers go through a view, which adds the IP header length in one place.

/// IPv4 header fields (offsets from the start of the IPv4 header).
pub mod ipv4 {
    /// Total length (u16).
    pub const TOTAL_LEN: usize = 2;
    /// Time to live (u8).
    pub const TTL: usize = 8;
    /// Protocol (u8).
    pub const PROTOCOL: usize = 9;
    /// Header checksum (u16).
    pub const CHECKSUM: usize = 10;
    /// Source address (4 bytes).
    pub const SRC: usize = 12;
    /// Destination address (4 bytes).
    pub const DST: usize = 16;
    /// Length of a header without options.
    pub const MIN_HEADER_LEN: usize = 20;
}

/// IPv6 header fields.
pub mod ipv6 {
    /// Payload length (u16).
    pub const PAYLOAD_LEN: usize = 4;
    /// Next header (u8).
    pub const NEXT_HEADER: usize = 6;
    /// Hop limit (u8).
    pub const HOP_LIMIT: usize = 7;
    /// Source address (16 bytes).
    pub const SRC: usize = 8;
    /// Destination address (16 bytes).
    pub const DST: usize = 24;
    /// Length of the fixed header.
    pub const HEADER_LEN: usize = 40;
}

/// TCP header fields (offsets from the start of the TCP header).
pub mod tcp {
    /// Source port.
    pub const SRC_PORT: usize = 0;
    /// Destination port.
    pub const DST_PORT: usize = 2;
    /// Sequence number (u32).
    pub const SEQ: usize = 4;
    /// Acknowledgment number (u32).
    pub const ACK: usize = 8;
    /// Data offset (high nibble).
    pub const DATA_OFFSET: usize = 12;
    /// Flags byte.
    pub const FLAGS: usize = 13;
    /// Window.
    pub const WINDOW: usize = 14;
    /// Checksum.
    pub const CHECKSUM: usize = 16;
    /// Urgent pointer.
    pub const URGENT: usize = 18;
    /// Length of a header without options.
    pub const MIN_HEADER_LEN: usize = 20;

    /// FIN flag bit.
    pub const FIN: u8 = 0x01;
    /// SYN flag bit.
    pub const SYN: u8 = 0x02;
    /// RST flag bit.
    pub const RST: u8 = 0x04;
    /// PSH flag bit.
    pub const PSH: u8 = 0x08;
    /// ACK flag bit.
    pub const ACK_FLAG: u8 = 0x10;
    /// URG flag bit.
    pub const URG: u8 = 0x20;

    /// Option kind: end of the option list.
    pub const OPT_END: u8 = 0;
    /// Option kind: no-operation (one byte, padding).
    pub const OPT_NOP: u8 = 1;
    /// Option kind: SACK blocks (RFC 2018); length 2 + 8 per block.
    pub const OPT_SACK: u8 = 5;
    /// Bytes of an option's kind and length.
    pub const OPT_HEADER_LEN: usize = 2;
    /// Bytes of one SACK block (left and right edge, u32 each).
    pub const SACK_BLOCK_LEN: usize = 8;
    /// Most SACK blocks an option can hold (RFC 2018: 40 option bytes).
    pub const MAX_SACK_BLOCKS: usize = 4;
    /// Longest header (data offset 15).
    pub const MAX_HEADER_LEN: usize = 60;
}

/// UDP header fields.
pub mod udp {
    /// Source port.
    pub const SRC_PORT: usize = 0;
    /// Destination port.
    pub const DST_PORT: usize = 2;
    /// Length.
    pub const LENGTH: usize = 4;
    /// Checksum (0 = none, IPv4 only).
    pub const CHECKSUM: usize = 6;
    /// Header length.
    pub const HEADER_LEN: usize = 8;
}

/// ICMP and ICMPv6 header fields (same layout for the parts used here).
pub mod icmp {
    /// Type.
    pub const TYPE: usize = 0;
    /// Code.
    pub const CODE: usize = 1;
    /// Checksum.
    pub const CHECKSUM: usize = 2;
    /// Echo identifier.
    pub const ECHO_ID: usize = 4;
    /// Echo sequence number.
    pub const ECHO_SEQ: usize = 6;
    /// Fixed header length; an error's quoted packet starts here.
    pub const HEADER_LEN: usize = 8;
}

/// Reads a big-endian u16 at `offset`; the caller has validated the length.
#[inline]
pub fn get_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([bytes[offset], bytes[offset + 1]])
}

/// Writes a big-endian u16 at `offset`.
#[inline]
pub fn set_u16(bytes: &mut [u8], offset: usize, value: u16) {
    bytes[offset..offset + 2].copy_from_slice(&value.to_be_bytes());
}

/// Reads a big-endian u32 at `offset`.
#[inline]
pub fn get_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

/// Writes a big-endian u32 at `offset`.
#[inline]
pub fn set_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn big_endian_reads_and_writes_of_a_literal_header() {
        // The first twelve bytes of a TCP header: ports 40000 -> 21, seq 100, ack 1000.
        let mut bytes = [0x9c, 0x40, 0x00, 0x15, 0, 0, 0, 0x64, 0, 0, 0x03, 0xe8];
        assert_eq!(get_u16(&bytes, tcp::SRC_PORT), 40000);
        assert_eq!(get_u16(&bytes, tcp::DST_PORT), 21);
        assert_eq!(get_u32(&bytes, tcp::SEQ), 100);
        assert_eq!(get_u32(&bytes, tcp::ACK), 1000);
        set_u16(&mut bytes, tcp::DST_PORT, 0x0102);
        set_u32(&mut bytes, tcp::SEQ, 0x0304_0506);
        assert_eq!(bytes[2..8], [1, 2, 3, 4, 5, 6]);
    }
}
