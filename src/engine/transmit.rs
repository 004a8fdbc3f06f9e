//! Where the packets the engine writes itself (an FTP error reply, a RST to an end of a
//! control connection the gateway reset, the sweep's RSTs) wait until the driver sends them.
//!
//! Owns two bounded FIFO buffers of generated packets:
//! - [`Transmit`], a worker's own: the worker passes it to `Engine::process_with` and sends
//!   what it holds after the packet (`pop`). Nothing in it is shared, so a packet that
//!   generates nothing costs no lock and no atomic, and one that does costs no lock either.
//! - [`Outbox`], the engine's: what is generated outside any worker's packet (the periodic
//!   `Engine::expire`) or by a caller of `Engine::process` that passed no buffer (tests,
//!   tools). Its emptiness is one atomic load, so draining it after every packet is free
//!   while it is empty (almost always); it is locked only when something is pushed or held.
//!
//! Why this shape: the packets are written straight into one preallocated byte arena, back to
//! back, with a fixed table of (start, length): no `Vec` per packet, any length up to the
//! largest IP packet, and the order kept (the ALG relies on it: an error reply goes out before
//! the server's next segment, which is sequenced after it). A worker drains its buffer after
//! every frame, so the arena is reset to empty at each drain and never wraps; the outbox,
//! drained while the sweep may push, moves its unread packets to the front when the end is
//! full (rare; a copy, never an allocation). The outbox allocates its arena on its first
//! packet, once: an engine whose packets all go through workers' buffers never pays for it.
//!
//! It must never allocate after construction (the outbox: after its first packet), hold
//! more than [`TRANSMIT_CAPACITY`] packets or [`TRANSMIT_BYTES`] bytes (a packet beyond is
//! refused; the engine counts it as `transmit_lost`), reorder packets, or truncate one.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Most generated packets one buffer holds before new ones are refused.
pub const TRANSMIT_CAPACITY: usize = 1024;
/// Bytes of generated packets one buffer holds: the largest IP packet (65,535 bytes) fits an
/// empty buffer, and so do [`TRANSMIT_CAPACITY`] IPv6 RSTs (60 bytes each).
pub const TRANSMIT_BYTES: usize = 1 << 16;
/// The largest packet the engine generates (the largest IP packet): a buffer passed to
/// `Engine::poll_transmit` that holds this many bytes takes any generated packet.
pub const MAX_GENERATED: usize = 65_535;

/// A bounded FIFO of generated packets in a fixed arena (see the module doc). A worker owns
/// one and passes it to `Engine::process_with`.
pub struct Transmit {
    bytes: Box<[u8]>,
    /// (start, length) of each packet held, in arrival order; never grown past its capacity.
    packets: Vec<(u32, u32)>,
    /// Index in `packets` of the oldest packet not yet taken.
    head: usize,
    /// Bytes of the arena written (taken packets included, until the next reset).
    used: usize,
}

impl Default for Transmit {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Transmit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transmit")
            .field("held", &self.len())
            .field("used", &self.used)
            .finish()
    }
}

impl Transmit {
    /// An empty buffer; its memory (about 72 KiB) is allocated here, once.
    pub fn new() -> Self {
        Self {
            bytes: vec![0u8; TRANSMIT_BYTES].into_boxed_slice(),
            packets: Vec::with_capacity(TRANSMIT_CAPACITY),
            head: 0,
            used: 0,
        }
    }

    /// Packets held, not yet taken.
    pub fn len(&self) -> usize {
        self.packets.len() - self.head
    }

    /// Whether no packet is held.
    pub fn is_empty(&self) -> bool {
        self.head == self.packets.len()
    }

    /// Takes the oldest packet held. The slice stays valid until the next call on `self`.
    pub fn pop(&mut self) -> Option<&[u8]> {
        if self.is_empty() {
            self.clear();
            return None;
        }
        let (start, len) = self.packets[self.head];
        self.head += 1;
        let (start, len) = (start as usize, len as usize);
        Some(&self.bytes[start..start + len])
    }

    /// Queues a copy of `packet`; false (and nothing queued) when the buffer is full.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        self.push_with(packet.len(), |out| out.copy_from_slice(packet))
    }

    /// Queues a packet of `len` bytes that `write` writes in place (into a slice of exactly
    /// `len` bytes); false, and `write` not called, when the buffer is full.
    pub fn push_with(&mut self, len: usize, write: impl FnOnce(&mut [u8])) -> bool {
        if self.is_empty() {
            self.clear();
        }
        if !self.has_room(len) {
            self.compact();
            if !self.has_room(len) {
                return false;
            }
        }
        let start = self.used;
        write(&mut self.bytes[start..start + len]);
        self.used += len;
        // Both fit in u32: the arena is 64 KiB.
        self.packets.push((start as u32, len as u32));
        true
    }

    /// A buffer with no arena yet (holds nothing; see [`Outbox`]).
    fn unallocated() -> Self {
        Self {
            bytes: Box::default(),
            packets: Vec::new(),
            head: 0,
            used: 0,
        }
    }

    fn has_room(&self, len: usize) -> bool {
        self.packets.len() < TRANSMIT_CAPACITY && len <= self.bytes.len() - self.used
    }

    fn clear(&mut self) {
        self.packets.clear();
        self.head = 0;
        self.used = 0;
    }

    /// Moves the packets not yet taken to the front of the arena and of the table (a copy
    /// inside each, no allocation).
    fn compact(&mut self) {
        if self.head == 0 {
            return;
        }
        let from = self.packets[self.head].0 as usize;
        self.bytes.copy_within(from..self.used, 0);
        self.used -= from;
        self.packets.drain(..self.head);
        for packet in &mut self.packets {
            packet.0 -= from as u32;
        }
        self.head = 0;
    }
}

/// The engine's own buffer of generated packets, shared by every thread: a [`Transmit`]
/// behind a lock, with the count held mirrored in an atomic so that looking at it empty
/// takes no lock. Its arena is allocated on the first packet pushed.
pub struct Outbox {
    transmit: Mutex<Transmit>,
    held: AtomicUsize,
}

impl Default for Outbox {
    fn default() -> Self {
        Self {
            transmit: Mutex::new(Transmit::unallocated()),
            held: AtomicUsize::new(0),
        }
    }
}

/// What [`Outbox::pop_into`] found.
pub enum Popped {
    /// A packet of this many bytes, copied to the start of the caller's buffer.
    Packet(usize),
    /// A packet longer than the caller's buffer: taken and not copied.
    TooLong,
}

impl Outbox {
    /// See [`Transmit::push_with`].
    pub fn push_with(&self, len: usize, write: impl FnOnce(&mut [u8])) -> bool {
        let mut transmit = self.transmit.lock();
        if transmit.bytes.is_empty() {
            *transmit = Transmit::new();
        }
        let queued = transmit.push_with(len, write);
        self.held.store(transmit.len(), Ordering::Release);
        queued
    }

    /// Takes the oldest packet into `buf`; `None` when none is held (one atomic load).
    pub fn pop_into(&self, buf: &mut [u8]) -> Option<Popped> {
        if self.held.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut transmit = self.transmit.lock();
        let popped = transmit
            .pop()
            .map(|packet| match buf.get_mut(..packet.len()) {
                Some(out) => {
                    out.copy_from_slice(packet);
                    Popped::Packet(packet.len())
                }
                None => Popped::TooLong,
            });
        self.held.store(transmit.len(), Ordering::Release);
        popped
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn packet(i: usize, len: usize) -> Vec<u8> {
        (0..len).map(|b| (i + b) as u8).collect()
    }

    #[test]
    fn packets_come_out_in_order_and_whole() {
        let mut t = Transmit::new();
        assert!(t.pop().is_none());
        for i in 0..5 {
            assert!(t.push(&packet(i, 40 + i)));
        }
        assert_eq!(t.len(), 5);
        for i in 0..5 {
            assert_eq!(t.pop(), Some(&packet(i, 40 + i)[..]));
        }
        assert!(t.is_empty() && t.pop().is_none());
    }

    #[test]
    fn the_count_bound_refuses_new_packets_and_keeps_the_old() {
        let mut t = Transmit::new();
        for i in 0..TRANSMIT_CAPACITY {
            assert!(t.push(&packet(i, 20)));
        }
        assert!(!t.push(&packet(9999, 20)), "one over the bound is refused");
        assert_eq!(t.len(), TRANSMIT_CAPACITY);
        assert_eq!(
            t.pop(),
            Some(&packet(0, 20)[..]),
            "the oldest is still first"
        );
        assert!(t.push(&packet(7, 20)), "taking one makes room for one");
        let mut last = None;
        while let Some(p) = t.pop() {
            last = Some(p.to_vec());
        }
        assert_eq!(last, Some(packet(7, 20)), "the newest comes last");
    }

    #[test]
    fn the_byte_bound_holds_the_largest_packet_and_no_more() {
        let mut t = Transmit::new();
        assert!(t.push(&packet(1, MAX_GENERATED)));
        assert!(!t.push(&packet(2, 2)), "the arena is full");
        assert!(t.push(&packet(3, 1)), "the last byte is free");
        assert_eq!(t.pop().map(<[u8]>::len), Some(MAX_GENERATED));
        assert!(t.push(&packet(4, 1000)), "the room taken is reused");
        assert_eq!(t.pop(), Some(&packet(3, 1)[..]));
        assert_eq!(t.pop(), Some(&packet(4, 1000)[..]));
        assert!(t.pop().is_none());
        assert!(!t.push(&packet(5, TRANSMIT_BYTES + 1)), "never truncated");
    }

    #[test]
    fn packets_written_in_place_are_untouched_when_refused() {
        let mut t = Transmit::new();
        let mut called = false;
        assert!(!t.push_with(TRANSMIT_BYTES + 1, |_| called = true));
        assert!(!called);
        assert!(t.push_with(3, |out| out.copy_from_slice(b"abc")));
        assert_eq!(t.pop(), Some(&b"abc"[..]));
    }

    #[test]
    fn the_engine_counts_what_does_not_fit_as_lost_and_never_truncates() {
        use crate::engine::alg_host::Out;
        use crate::engine::wire::fields::tcp::{ACK_FLAG, RST};
        use crate::engine::wire::respond::SegmentSpec;
        use crate::engine::{Engine, EngineSettings};

        let engine = Engine::new(EngineSettings::default());
        let rst = |seq| SegmentSpec {
            src: ("192.0.2.1".parse().unwrap(), 21),
            dst: ("198.51.100.2".parse().unwrap(), 40000),
            seq,
            ack: 0,
            flags: RST | ACK_FLAG,
            window: 0,
            payload: &[],
        };
        let lost = || engine.stats().transmit_lost;
        let mut worker = Transmit::new();
        for seq in 0..=TRANSMIT_CAPACITY as u32 {
            engine.generate(&mut Out::Worker(&mut worker), &rst(seq));
        }
        assert_eq!((worker.len(), lost()), (TRANSMIT_CAPACITY, 1));
        let seq_of = |packet: &[u8]| u32::from_be_bytes(packet[24..28].try_into().unwrap());
        assert_eq!(worker.pop().map(seq_of), Some(0), "the oldest first");

        let mut buf = [0u8; 40];
        assert_eq!(engine.poll_transmit(&mut buf), None);
        for seq in 0..=TRANSMIT_CAPACITY as u32 {
            engine.generate(&mut Out::Outbox, &rst(seq));
        }
        assert_eq!(lost(), 2);
        for seq in 0..3 {
            assert_eq!(engine.poll_transmit(&mut buf), Some(40));
            assert_eq!(seq_of(&buf), seq, "in order");
        }
        // A buffer too short for the next packet: it is dropped and counted, not cut.
        assert_eq!(engine.poll_transmit(&mut buf[..39]), None);
        assert_eq!(lost(), 2 + TRANSMIT_CAPACITY as u64 - 3);
    }

    #[test]
    fn the_outbox_keeps_order_while_taken_and_pushed_at_once() {
        let outbox = Outbox::default();
        let mut buf = [0u8; 100];
        assert!(outbox.pop_into(&mut buf).is_none());
        let (mut pushed, mut taken) = (0, 0);
        // Pushes outrun takes, so the arena fills at its end while its front is taken.
        while pushed < 5000 {
            for _ in 0..3 {
                let p = packet(pushed, 60);
                if outbox.push_with(60, |out| out.copy_from_slice(&p)) {
                    pushed += 1;
                }
            }
            for _ in 0..2 {
                if let Some(Popped::Packet(n)) = outbox.pop_into(&mut buf) {
                    assert_eq!(&buf[..n], &packet(taken, 60)[..]);
                    taken += 1;
                }
            }
            while pushed - taken >= TRANSMIT_CAPACITY {
                assert!(matches!(
                    outbox.pop_into(&mut buf),
                    Some(Popped::Packet(60))
                ));
                taken += 1;
            }
        }
        assert!(outbox.push_with(200, |_| {}));
        while let Some(Popped::Packet(n)) = outbox.pop_into(&mut buf) {
            assert_eq!(&buf[..n], &packet(taken, 60)[..]);
            taken += 1;
        }
        assert_eq!(taken, pushed);
        assert!(
            outbox.pop_into(&mut buf).is_none(),
            "the long one was taken"
        );
    }
}
