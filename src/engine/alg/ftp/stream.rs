//! One direction of an FTP control connection followed as an in-order byte stream.
//!
//! Lines are recognised only at the start of a line of the stream, however the sender cut it
//! into segments. The session decides what to do with each complete line (keep it, or replace
//! it with other bytes); this module turns those decisions into what each segment must carry:
//! - a partial line that may still become an announcement is withheld and sent merged with
//!   the segment that completes it;
//! - a retransmission is rebuilt from the stored replacements, widened to whole replaced
//!   lines, so the receiver sees the same rewritten stream every time;
//! - a segment beyond a gap is withheld until the gap is filled by the sender's retransmission;
//! - bytes the gateway inserted itself (an FTP error reply) go ahead of the sender's next
//!   segment for as long as the receiver has not acknowledged them;
//! - the bytes read but not yet acknowledged are kept, and a retransmission that carries
//!   different bytes for them is refused: the receiver only ever gets the bytes the ALG read
//!   (no TCP-overlap evasion, where a copy the gateway checked dies after it and a different
//!   copy follows). Their amount is bounded: beyond it, new bytes wait for acknowledgments.
//!
//! It knows nothing of packets or addresses: sequence numbers and payload bytes in, a plan out.

use std::collections::VecDeque;

use crate::engine::conntrack::seqadj::{SeqAdjust, SeqAdjustError};
use crate::engine::wire::seq::SeqNumber;

/// What the session wants done with one complete line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineDecision {
    /// Forward the line as it is.
    Keep,
    /// Forward these bytes instead (possibly none: the line is removed from the stream).
    /// For an over-long line offered when it passes `max_line` (see
    /// [`LineStream::plan`]), only the bytes read so far are replaced; the rest of the line
    /// follows unchanged.
    Replace(Vec<u8>),
    /// Only for an over-long line offered when it passes `max_line`: keep withholding it and
    /// ask again when it ends.
    Defer,
}

/// What a segment must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentPlan {
    /// The payload goes on unchanged (only sequence numbers may shift).
    Unchanged,
    /// The payload becomes `payload`, starting at original sequence number `start`.
    Rebuilt {
        /// Original-space sequence number of the first byte of `payload`.
        start: u32,
        /// The bytes to send.
        payload: Vec<u8>,
        /// How many inserted bytes `payload` starts with before original byte `start`: the
        /// segment's mapped sequence number must be moved back by as many.
        lead_in: u32,
    },
    /// Nothing can be sent yet.
    Withhold(WithholdReason),
}

/// Why a segment carries nothing for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithholdReason {
    /// Its bytes end inside a line that may still be an announcement.
    PartialLine,
    /// It starts beyond the next expected byte.
    OutOfOrder,
    /// Its retransmitted bytes cannot be rebuilt (history no longer held).
    Unrebuildable,
    /// Recording the rewrite failed (too many outstanding rewrites).
    TooManyRewrites,
    /// It retransmits bytes already read with different content.
    Inconsistent,
    /// Its new bytes would hold more than [`MAX_UNACKED`] bytes unacknowledged.
    Backlog,
}

#[derive(Debug, Clone)]
struct StoredRewrite {
    start: u32,
    len: u32,
    bytes: Vec<u8>,
}

impl StoredRewrite {
    fn end(&self) -> u32 {
        self.start.wrapping_add(self.len)
    }

    /// Whether a segment carrying original bytes `[start, end)` must carry this rewrite. An
    /// insertion belongs to the segment that starts at or crosses its place.
    fn touches(&self, start: u32, end: u32) -> bool {
        if self.len == 0 {
            !SeqNumber(start).is_after(self.start) && SeqNumber(end).is_after(self.start)
        } else {
            SeqNumber(self.end()).is_after(start) && SeqNumber(end).is_after(self.start)
        }
    }
}

/// Most replaced lines remembered for rebuilding retransmissions.
const MAX_STORED: usize = 32;

/// Most bytes read and kept while the receiver has not acknowledged them.
pub const MAX_UNACKED: usize = 64 * 1024;

/// The state of one direction.
#[derive(Debug, Default)]
pub struct LineStream {
    /// Original-space sequence number of the next new byte; `None` before the first one.
    next: Option<u32>,
    /// The first byte after the sender's SYN, when the SYN was seen.
    first: Option<u32>,
    /// The current, unterminated line.
    line: Vec<u8>,
    /// Where `line` starts.
    line_start: u32,
    /// Whether `line` has been withheld from the receiver.
    held: bool,
    /// The current line grew past the longest line followed: it is passed through unparsed.
    overlong: bool,
    /// The current over-long line was decided when it passed `max_line`: nothing more is
    /// asked when it ends, and it is no longer withheld.
    settled: bool,
    /// Replaced lines not yet acknowledged.
    rewrites: VecDeque<StoredRewrite>,
    /// The receiver's highest acknowledgment, in this stream's original space.
    acked: Option<u32>,
    /// The bytes read and not yet acknowledged, from `seen_start` to `next`.
    seen: VecDeque<u8>,
    /// Original-space sequence number of `seen`'s first byte.
    seen_start: u32,
    /// Sequence adjustment for this direction.
    pub adjust: SeqAdjust,
}

impl LineStream {
    /// Starts the stream at the sequence number just after the sender's SYN. A retransmitted
    /// SYN (same first byte) changes nothing; a SYN with another one starts a new stream, with
    /// nothing of the old one kept.
    pub fn start_at(&mut self, first_byte: u32) {
        if self.first == Some(first_byte) {
            return;
        }
        *self = Self {
            first: Some(first_byte),
            next: Some(first_byte),
            line_start: first_byte,
            seen_start: first_byte,
            ..Self::default()
        };
    }

    /// The first byte after the sender's SYN, when the SYN was seen.
    pub fn first_byte(&self) -> Option<u32> {
        self.first
    }

    /// A monitor's answer to a gap (bytes the capture does not hold): when `seq` lies past the
    /// next byte expected, reading resumes at `seq` with nothing of the partial line kept.
    /// Returns whether a gap was skipped. A gateway never calls it: it waits for the
    /// retransmission instead.
    pub fn skip_gap(&mut self, seq: u32) -> bool {
        if !self.next.is_some_and(|next| SeqNumber(seq).is_after(next)) {
            return false;
        }
        self.next = Some(seq);
        self.line.clear();
        self.line_start = seq;
        self.held = false;
        self.overlong = false;
        self.seen.clear();
        self.seen_start = seq;
        true
    }

    /// Whether the current partial line is longer than any line the ALG follows.
    pub fn overlong(&self) -> bool {
        self.overlong
    }

    /// Whether an over-long line is being withheld until it ends.
    pub fn holding_overlong(&self) -> bool {
        self.held && self.overlong
    }

    /// Forgets what the receiver has acknowledged (`ack` as the receiver sent it, in the
    /// rewritten stream's space).
    /// An ack beyond what the gateway forwarded counts up to that point only. (A forged ack
    /// makes the ALG forget early, never forward unchecked bytes: bytes it forgot are not
    /// forwarded again, see [`plan`](Self::plan).)
    pub fn acknowledged(&mut self, ack: u32) {
        let forwarded = self
            .next
            .map(|next| if self.held { self.line_start } else { next });
        let ack = match forwarded.map(|end| self.adjust.map_seq(end)) {
            Some(sent_end) if SeqNumber(ack).is_after(sent_end) => sent_end,
            _ => ack,
        };
        let adjust = &self.adjust;
        while self
            .rewrites
            .front()
            .is_some_and(|r| !SeqNumber(adjust.map_seq(r.end())).is_after(ack))
        {
            self.rewrites.pop_front();
        }
        let original = self.adjust.unmap_ack(ack);
        if self
            .acked
            .is_none_or(|acked| SeqNumber(original).is_after(acked))
        {
            self.acked = Some(original);
        }
        if self
            .next
            .is_some_and(|next| !SeqNumber(original).is_after(next))
            && SeqNumber(original).is_after(self.seen_start)
        {
            let done = (original.wrapping_sub(self.seen_start) as usize).min(self.seen.len());
            self.seen.drain(..done);
            self.seen_start = self.seen_start.wrapping_add(done as u32);
            if self.seen.is_empty() && self.seen.capacity() > 4096 {
                self.seen.shrink_to_fit();
            }
        }
        self.adjust.forget_below(original);
    }

    /// The receiver's highest acknowledgment, in the sender's original space.
    pub fn acked(&self) -> Option<u32> {
        self.acked
    }

    /// Bytes the stream holds for the budget: read and not yet acknowledged, the current
    /// partial line, and the stored replacements.
    pub fn buffered(&self) -> usize {
        let rewrites: usize = self.rewrites.iter().map(|r| r.bytes.len()).sum();
        self.seen.len() + self.line.len() + rewrites
    }

    /// Changes whenever held bytes move on: an ack frees kept bytes, a held line is released.
    pub fn progress_mark(&self) -> (u32, bool) {
        (self.seen_start, self.held)
    }

    /// How many bytes of a segment of `len` bytes at `seq` are new (beyond those read).
    pub fn fresh_len(&self, seq: u32, len: usize) -> usize {
        match self.next {
            Some(next) => {
                let end = seq.wrapping_add(len as u32);
                if SeqNumber(end).is_after(next) {
                    (end.wrapping_sub(next) as usize).min(len)
                } else {
                    0
                }
            }
            None => len,
        }
    }

    /// The end of what the receiver was given, in the sender's original space: the next
    /// byte, or the start of a withheld line.
    pub fn forwarded_end(&self) -> Option<u32> {
        self.next
            .map(|next| if self.held { self.line_start } else { next })
    }

    /// Frees every byte held: the connection is being reset and nothing more is forwarded.
    pub fn release_buffers(&mut self) {
        self.seen = VecDeque::new();
        self.line = Vec::new();
        self.rewrites = VecDeque::new();
    }

    /// Whether the stream stands between two lines (nothing of a line read yet).
    pub fn at_line_boundary(&self) -> bool {
        self.next.is_some() && self.line.is_empty() && !self.overlong
    }

    /// Inserts `bytes` of the gateway's own after the last byte read, which must end a line.
    /// Returns the rewritten-space sequence number the inserted bytes start at, for the
    /// segment that carries them now; later segments of the sender carry them again until
    /// the receiver acknowledges them. `None` when the stream is not between lines or the
    /// rewrite cannot be recorded.
    pub fn insert(&mut self, bytes: Vec<u8>) -> Option<u32> {
        if !self.at_line_boundary() || bytes.is_empty() {
            return None;
        }
        let at = self.next?;
        let starts_at = self.adjust.map_seq(at);
        self.adjust.record(at, 0, bytes.len() as u32).ok()?;
        if self.rewrites.len() == MAX_STORED {
            self.rewrites.pop_front();
        }
        self.rewrites.push_back(StoredRewrite {
            start: at,
            len: 0,
            bytes,
        });
        Some(starts_at)
    }

    /// The bytes of the last insertion or replacement stored (those [`insert`](Self::insert)
    /// just stored, right after it).
    pub fn last_stored(&self) -> Option<&[u8]> {
        self.rewrites.back().map(|rewrite| &rewrite.bytes[..])
    }

    /// Plans a segment of `payload` at original sequence number `seq`.
    ///
    /// `may_announce` tells whether a partial line could still become an announcement (and so
    /// must be withheld); `on_line` is called for every line completed by new bytes, with the
    /// line's start, its bytes (terminator included) and whether it ended (see below). A line longer than `max_line` is offered
    /// by its first `max_line` bytes, which do not end in a line feed: when it ends, or, if a
    /// segment leaves it unfinished, as soon as it passes `max_line`. Then the answer decides
    /// at once ([`LineDecision::Keep`]: it passes; [`LineDecision::Replace`]: the bytes read of
    /// it so far are replaced and the rest passes), or [`LineDecision::Defer`]s to its end
    /// (withheld meanwhile if `may_announce` says so). So no withheld line grows unbounded.
    pub fn plan(
        &mut self,
        seq: u32,
        payload: &[u8],
        max_line: usize,
        may_announce: impl Fn(&[u8]) -> bool,
        mut on_line: impl FnMut(u32, &[u8], bool) -> LineDecision,
    ) -> SegmentPlan {
        if payload.is_empty() {
            return SegmentPlan::Unchanged;
        }
        let next = *self.next.get_or_insert_with(|| {
            self.line_start = seq;
            self.seen_start = seq;
            seq
        });
        if SeqNumber(seq).is_after(next) {
            return SegmentPlan::Withhold(WithholdReason::OutOfOrder);
        }
        // Bytes the receiver acknowledged are no longer kept, so they are not forwarded
        // again: the segment starts at the first byte still kept (or carries none).
        let (seq, payload, trimmed) = if SeqNumber(self.seen_start).is_after(seq) {
            let skip = (self.seen_start.wrapping_sub(seq) as usize).min(payload.len());
            (self.seen_start, &payload[skip..], true)
        } else {
            (seq, payload, false)
        };
        if payload.is_empty() {
            return SegmentPlan::Rebuilt {
                start: seq,
                payload: Vec::new(),
                lead_in: 0,
            };
        }
        let end = seq.wrapping_add(payload.len() as u32);
        if !self.repeats_what_was_read(seq, payload) {
            return SegmentPlan::Withhold(WithholdReason::Inconsistent);
        }
        let held_before = self.held.then_some(self.line_start);
        let mut replaced = false;
        if SeqNumber(end).is_after(next) {
            let fresh = &payload[next.wrapping_sub(seq) as usize..];
            if self.seen.len() + fresh.len() > MAX_UNACKED {
                return SegmentPlan::Withhold(WithholdReason::Backlog);
            }
            self.seen.extend(fresh);
            match self.consume(next, fresh, max_line, &mut on_line) {
                Ok(any) => replaced = any,
                Err(_) => return SegmentPlan::Withhold(WithholdReason::TooManyRewrites),
            }
            self.next = Some(end);
        }
        self.held = !self.line.is_empty() && !self.settled && may_announce(&self.line);

        // Withheld bytes go out with the segment that releases them; a line still withheld
        // (and everything after its start) stays back.
        let mut out_start = held_before.map_or(seq, |start| SeqNumber(start).earlier(seq).0);
        let mut out_end = if self.held {
            SeqNumber(self.line_start).earlier(end).0
        } else {
            end
        };
        if !SeqNumber(out_end).is_after(out_start) {
            return SegmentPlan::Withhold(WithholdReason::PartialLine);
        }
        // A segment touching a replaced line carries the whole replacement.
        let mut widened = false;
        for rewrite in &self.rewrites {
            if rewrite.touches(out_start, out_end) {
                widened = true;
                out_start = SeqNumber(out_start).earlier(rewrite.start).0;
                out_end = SeqNumber(out_end).later(rewrite.end()).0;
            }
        }
        if !trimmed
            && !replaced
            && !widened
            && held_before.is_none()
            && out_start == seq
            && out_end == end
        {
            return SegmentPlan::Unchanged;
        }
        let lead_in = self
            .rewrites
            .iter()
            .filter(|r| r.len == 0 && r.start == out_start)
            .map(|r| r.bytes.len() as u32)
            .sum();
        match self.build(out_start, out_end, seq, payload) {
            Some(bytes) => SegmentPlan::Rebuilt {
                start: out_start,
                payload: bytes,
                lead_in,
            },
            None => SegmentPlan::Withhold(WithholdReason::Unrebuildable),
        }
    }

    /// Feeds new bytes starting at `at`; returns whether any line was replaced.
    fn consume(
        &mut self,
        mut at: u32,
        fresh: &[u8],
        max_line: usize,
        on_line: &mut impl FnMut(u32, &[u8], bool) -> LineDecision,
    ) -> Result<bool, SeqAdjustError> {
        let mut replaced = false;
        for piece in fresh.split_inclusive(|byte| *byte == b'\n') {
            if self.line.is_empty() && !self.overlong {
                self.line_start = at;
            }
            at = at.wrapping_add(piece.len() as u32);
            let mut passed_max = false;
            if !self.overlong {
                self.line.extend_from_slice(piece);
                if self.line.len() > max_line {
                    self.overlong = true;
                    passed_max = true;
                }
            }
            let ends = piece.ends_with(b"\n");
            if !ends && !passed_max {
                continue;
            }
            // An over-long line is offered by its bounded prefix (no line feed at the end).
            self.line.truncate(max_line);
            let line_len = at.wrapping_sub(self.line_start);
            if !self.settled {
                match on_line(self.line_start, &self.line, ends) {
                    LineDecision::Replace(bytes) => {
                        self.record(self.line_start, line_len, bytes)?;
                        replaced = true;
                        self.settled = !ends;
                    }
                    LineDecision::Keep => self.settled = !ends,
                    LineDecision::Defer => {}
                }
            }
            if !ends {
                continue;
            }
            self.line.clear();
            self.overlong = false;
            self.settled = false;
            self.line_start = at;
        }
        if self.overlong {
            // Keep only a bounded prefix of an over-long line: enough to classify it.
            self.line.truncate(max_line);
        }
        Ok(replaced)
    }

    /// Records that original bytes `[start, start + len)` become `bytes`.
    fn record(&mut self, start: u32, len: u32, bytes: Vec<u8>) -> Result<(), SeqAdjustError> {
        self.adjust.record(start, len, bytes.len() as u32)?;
        if self.rewrites.len() == MAX_STORED {
            self.rewrites.pop_front();
        }
        self.rewrites.push_back(StoredRewrite { start, len, bytes });
        Ok(())
    }

    /// Whether the bytes of a segment that were read before (and are still kept) are the same.
    fn repeats_what_was_read(&self, seq: u32, payload: &[u8]) -> bool {
        let kept_end = self.seen_start.wrapping_add(self.seen.len() as u32);
        let from = SeqNumber(seq).later(self.seen_start).0;
        let to = SeqNumber(seq.wrapping_add(payload.len() as u32))
            .earlier(kept_end)
            .0;
        if !SeqNumber(to).is_after(from) {
            return true;
        }
        let in_payload = from.wrapping_sub(seq) as usize;
        let in_seen = from.wrapping_sub(self.seen_start) as usize;
        let len = to.wrapping_sub(from) as usize;
        self.seen
            .range(in_seen..in_seen + len)
            .eq(payload[in_payload..in_payload + len].iter())
    }

    /// The bytes of original range [start, end), rewritten: the stored rewrites it touches,
    /// in stream order, and the original bytes between them (the bytes read, or this
    /// segment's payload for bytes already acknowledged).
    fn build(&self, start: u32, end: u32, seq: u32, payload: &[u8]) -> Option<Vec<u8>> {
        let byte_at = |pos: u32| -> Option<u8> {
            let in_seen = pos.wrapping_sub(self.seen_start) as usize;
            if !SeqNumber(self.seen_start).is_after(pos) && in_seen < self.seen.len() {
                return self.seen.get(in_seen).copied();
            }
            let in_payload = pos.wrapping_sub(seq) as usize;
            if !SeqNumber(seq).is_after(pos) && in_payload < payload.len() {
                return payload.get(in_payload).copied();
            }
            None
        };
        let mut out = Vec::with_capacity(end.wrapping_sub(start) as usize + 64);
        let mut at = start;
        let touched = self.rewrites.iter().filter(|r| r.touches(start, end));
        for rewrite in touched {
            while SeqNumber(rewrite.start).is_after(at) {
                out.push(byte_at(at)?);
                at = at.wrapping_add(1);
            }
            out.extend_from_slice(&rewrite.bytes);
            at = SeqNumber(at).later(rewrite.end()).0;
        }
        while SeqNumber(end).is_after(at) {
            out.push(byte_at(at)?);
            at = at.wrapping_add(1);
        }
        Some(out)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod test;
