//! Each control-connection receiver's reassembly of what the gateway delivered (first copy of
//! a byte wins). Owns the byte-level view only; it never interprets lines (the callers do).

use super::*;

/// A data connection an announcement delivered to its receiver allows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Credit {
    /// Active: the server may connect to `addr:port`; passive: the client may connect to
    /// the server (as it sees it) at `port` (clients may ignore the 227 address).
    pub(crate) active: bool,
    pub(crate) addr: Addr,
    pub(crate) port: u16,
    pub(crate) used: bool,
}

impl Credit {
    /// Keeps the newest [`MAX_CREDITS`] announcements, used ones dropped first. Called before
    /// a segment is sent, never while one is checked: the credits a segment delivers stay
    /// after the ones before it, however many there are (a full list that took no more made
    /// the oracle miss the announcement that opened a pinhole).
    pub(crate) fn compact(credits: &mut Vec<Credit>) {
        if credits.len() <= MAX_CREDITS {
            return;
        }
        credits.retain(|c| !c.used);
        let excess = credits.len().saturating_sub(MAX_CREDITS);
        credits.drain(..excess);
    }
}

/// One direction of the control connection as its receiver reassembles it.
pub(crate) struct Rx {
    pub(crate) started: bool,
    pub(crate) base: u32,
    pub(crate) data: Box<[u8]>,
    pub(crate) have: Box<[u64]>,
    /// First byte not yet received in order.
    pub(crate) nxt: usize,
    pub(crate) line_start: usize,
    /// Highest offset touched, for clearing.
    pub(crate) hi: usize,
    /// Bytes fell outside the reassembly window: announcements may have been missed.
    pub(crate) lost: bool,
}

impl Rx {
    pub(crate) fn new() -> Self {
        Self {
            started: false,
            base: 0,
            data: vec![0; STREAM].into_boxed_slice(),
            have: vec![0; STREAM / 64].into_boxed_slice(),
            nxt: 0,
            line_start: 0,
            hi: 0,
            lost: false,
        }
    }

    pub(crate) fn reset(&mut self) {
        let words = self.hi.div_ceil(64).min(self.have.len());
        self.have[..words].fill(0);
        self.started = false;
        self.nxt = 0;
        self.line_start = 0;
        self.hi = 0;
        self.lost = false;
    }

    pub(crate) fn restart(&mut self, first: u32) {
        self.reset();
        self.started = true;
        self.base = first;
    }

    /// The receiver's next expected sequence number.
    pub(crate) fn ack(&self) -> u32 {
        self.base.wrapping_add(self.nxt as u32)
    }

    /// Whether bytes wait beyond a hole: the gateway forwarded a segment past bytes it
    /// consumed and dropped (it relies on the sender's retransmission, as with a line cut at
    /// the MTU), so an announcement in flight may not be readable yet.
    pub(crate) fn gap(&self) -> bool {
        self.hi > self.nxt
    }

    pub(crate) fn has(&self, at: usize) -> bool {
        self.have[at / 64] & (1 << (at % 64)) != 0
    }

    /// Takes the bytes of a segment at `seq`; calls `line` for every line completed in order.
    pub(crate) fn receive(&mut self, seq: u32, payload: &[u8], mut line: impl FnMut(&[u8])) {
        if !self.started || payload.is_empty() {
            return;
        }
        let off = seq.wrapping_sub(self.base) as i32 as i64;
        let end = off + payload.len() as i64;
        if off <= self.nxt as i64
            && end > self.nxt as i64
            && end <= STREAM as i64
            && self.hi <= self.nxt
        {
            // In order, nothing waiting beyond: the new bytes append.
            let skip = (self.nxt as i64 - off) as usize;
            let (from, to) = (self.nxt, end as usize);
            self.data[from..to].copy_from_slice(&payload[skip..]);
            set_bits(&mut self.have, from, to);
            self.hi = to;
            self.nxt = to;
            let mut start = from;
            while let Some(at) = self.data[start..to].iter().position(|&b| b == b'\n') {
                let at = start + at;
                line(&self.data[self.line_start..=at]);
                self.line_start = at + 1;
                start = at + 1;
            }
            return;
        }
        for (i, &byte) in payload.iter().enumerate() {
            let at = off + i as i64;
            if at < self.nxt as i64 {
                continue; // already delivered: the first copy wins
            }
            if at >= STREAM as i64 {
                self.lost = true;
                break;
            }
            let at = at as usize;
            if !self.has(at) {
                self.data[at] = byte;
                self.have[at / 64] |= 1 << (at % 64);
                self.hi = self.hi.max(at + 1);
            }
        }
        let before = self.nxt;
        while self.nxt < STREAM && self.has(self.nxt) {
            self.nxt += 1;
        }
        for at in before..self.nxt {
            if self.data[at] == b'\n' {
                line(&self.data[self.line_start..=at]);
                self.line_start = at + 1;
            }
        }
    }
}

/// Sets bits `from..to`.
pub(crate) fn set_bits(bits: &mut [u64], from: usize, to: usize) {
    let mut at = from;
    while at < to {
        let word = at / 64;
        let lo = at % 64;
        let hi = (to - word * 64).min(64);
        let mask = if hi - lo == 64 {
            u64::MAX
        } else {
            ((1u64 << (hi - lo)) - 1) << lo
        };
        bits[word] |= mask;
        at = word * 64 + hi;
    }
}
