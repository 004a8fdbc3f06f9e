//! The buffer a packet is processed in: bytes plus tailroom, so a rewrite may grow the packet.

/// One IP packet (no link layer) in a caller-owned buffer.
///
/// `data.len()` is the capacity; the first `len` bytes are the packet. The engine may change
/// the bytes and the length (up to the capacity) but never reallocates.
#[derive(Debug)]
pub struct PacketBuf<'a> {
    data: &'a mut [u8],
    len: usize,
}

impl<'a> PacketBuf<'a> {
    /// Wraps the first `len` bytes of `data` as a packet; the rest is tailroom.
    ///
    /// # Panics
    /// If `len > data.len()` (a caller bug, not bad input).
    pub fn new(data: &'a mut [u8], len: usize) -> Self {
        assert!(len <= data.len(), "packet length exceeds buffer");
        Self { data, len }
    }

    /// The packet bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// The packet bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data[..self.len]
    }

    /// Length of the packet.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total bytes the buffer can hold.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Sets the packet length; returns false (and changes nothing) past the capacity.
    pub fn set_len(&mut self, len: usize) -> bool {
        if len > self.data.len() {
            return false;
        }
        self.len = len;
        true
    }

    /// The whole buffer including tailroom, for building a larger packet in place.
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        self.data
    }
}
