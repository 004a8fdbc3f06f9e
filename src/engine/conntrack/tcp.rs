//! The TCP state machine of one flow: handshake, data, the two FINs, RST in window.
//!
//! Modelled on netfilter's tracker but smaller: it follows how far each side has sent
//! (`end`), the highest ack each side sent and the largest window each side advertised, which
//! is enough to tell an exact RST from a blind one, and to walk the close sequence.
//!
//! RFC 5961's idea, from the middle of the path: only a RST at exactly the sequence number
//! its receiver expects ends the flow; one merely inside the window, or a SYN on a
//! synchronized connection, is passed to the endpoint unchanged (it answers with a challenge
//! ACK, and a genuine peer then resets exactly) and changes nothing here. Like netfilter, it
//! remembers the last such SYN from the initiator: when the responder answers it with a SYN/ACK
//! that acknowledges exactly it, both ends have reopened the connection the gateway still
//! believed alive (the responder had forgotten it), and the tracker follows the new one
//! ([`TcpUpdate::Reopened`]).

use crate::engine::verdict::DropReason;
use crate::engine::wire::fields::tcp::{ACK_FLAG, FIN, RST, SYN, URG};
use crate::engine::wire::seq::SeqNumber;
use crate::engine::wire::TcpInfo;

/// Where a TCP connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// SYN seen from the initiator.
    SynSent,
    /// SYN/ACK seen from the responder.
    SynRecv,
    /// Handshake complete.
    Established,
    /// One side has sent FIN.
    FinWait,
    /// One side's FIN is acknowledged; the other side has not closed.
    CloseWait,
    /// Both sides have sent FIN; the last one is unacknowledged.
    LastAck,
    /// Both FINs acknowledged.
    TimeWait,
    /// Reset.
    Close,
}

impl TcpState {
    /// CLOSE or TIME_WAIT: the connection is over, only late segments may follow.
    pub fn is_closed(self) -> bool {
        matches!(self, TcpState::Close | TcpState::TimeWait)
    }
}

/// What a valid segment did to the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpUpdate {
    /// The segment was applied.
    Applied,
    /// The segment passes to its receiver, which will answer with a challenge ACK, but the
    /// tracker (and everything else the gateway keeps for the flow) stays as it was.
    Challenged(Challenge),
    /// A SYN/ACK answered the initiator's last challenged SYN: both ends opened a new
    /// connection on the tuple, and the tracker now follows it (nothing of the old one is
    /// kept; the flow's application state must start over too).
    Reopened,
}

/// Why a segment passes without being applied (RFC 5961).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// A RST inside the window but not at the exact expected sequence number.
    InexactRst,
    /// A SYN on a connection whose handshake is complete.
    SynOnSynchronized,
}

/// Index of the initiator's side in per-side arrays.
pub const ORIGINAL: usize = 0;
/// Index of the responder's side.
pub const REPLY: usize = 1;

#[derive(Debug, Clone, Default)]
struct Side {
    /// Whether a segment from this side has been seen.
    seen: bool,
    /// Initial sequence number (the SYN's), when the handshake was seen.
    isn: Option<u32>,
    /// Sequence number just past the highest byte (or SYN/FIN) this side sent.
    end: u32,
    /// The highest acknowledgment this side sent: the next byte it expects (its RCV.NXT).
    max_ack: Option<u32>,
    /// Largest window this side advertised, scaled.
    max_win: u32,
    /// The window field of this side's latest segment, as sent (unscaled).
    last_window: u16,
    /// Window-scale shift this side announced in its SYN.
    wscale: Option<u8>,
    /// Sequence number just past this side's FIN.
    fin_end: Option<u32>,
    /// Whether the other side acknowledged that FIN.
    fin_acked: bool,
    /// Sequence space this side advanced past its SYN (payload plus FIN), counted as it grows,
    /// so retransmissions count once and 32-bit wrap-around does not matter.
    advanced: u64,
    /// Sequence space this side advanced over without a segment carrying it (a gap in the
    /// capture, or a loss the gateway never saw repaired), less what later segments filled.
    missing: u64,
    /// The gaps not filled yet, as sequence ranges, so a late segment (reordered on the way,
    /// or retransmitted) can fill them. `None`, and unallocated, while nothing is missing.
    holes: Option<Box<Holes>>,
}

/// A side's unfilled gaps, behind one thin pointer: the common flow without gaps carries 8
/// bytes for them, not a `Vec`'s 24 (or a boxed slice's 16).
#[derive(Debug, Clone, Default)]
struct Holes {
    ranges: Vec<(u32, u32)>,
}

/// Gaps remembered per side; past it the oldest is forgotten and stays counted as missing.
const MAX_HOLES: usize = 64;

impl Side {
    /// A gap from `start` to `end` was skipped.
    fn skipped(&mut self, start: u32, end: u32) {
        self.missing += u64::from(end.wrapping_sub(start));
        let holes = &mut self.holes.get_or_insert_with(Box::default).ranges;
        if holes.len() == MAX_HOLES {
            holes.remove(0);
        }
        holes.push((start, end));
    }

    /// A segment carried `start..end` (before `self.end`): what it fills of a gap is no
    /// longer missing.
    fn filled(&mut self, start: u32, end: u32) {
        let Some(holes) = &self.holes else {
            return;
        };
        let mut left = Vec::with_capacity(holes.ranges.len() + 1);
        for &(a, b) in &holes.ranges {
            let from = if SeqNumber(start).is_after(a) {
                start
            } else {
                a
            };
            let to = if SeqNumber(end).is_after(b) { b } else { end };
            if !SeqNumber(to).is_after(from) {
                left.push((a, b));
                continue;
            }
            self.missing = self
                .missing
                .saturating_sub(u64::from(to.wrapping_sub(from)));
            // What is left of the gap: the part before the segment and the part after it.
            if SeqNumber(from).is_after(a) {
                left.push((a, from));
            }
            if SeqNumber(b).is_after(to) {
                left.push((to, b));
            }
        }
        left.truncate(MAX_HOLES);
        self.holes = (!left.is_empty()).then(|| Box::new(Holes { ranges: left }));
    }
}

/// TCP tracking state of one flow.
#[derive(Debug, Clone)]
pub struct TcpTracker {
    state: TcpState,
    sides: [Side; 2],
    /// Picked up mid-connection: window scales are unknown, so window checks are loose.
    picked_up: bool,
    /// The initiator's last SYN passed as a challenge on the synchronized connection.
    ignored_syn: Option<IgnoredSyn>,
}

/// What [`TcpTracker::from_syn`] needs of a SYN that was passed as a challenge.
#[derive(Debug, Clone, Copy)]
struct IgnoredSyn {
    seq: u32,
    window: u16,
    window_scale: Option<u8>,
}

impl IgnoredSyn {
    fn of(segment: &TcpInfo) -> Self {
        Self {
            seq: segment.seq,
            window: segment.window,
            window_scale: segment.window_scale,
        }
    }

    /// The SYN as the tracker reads it (its payload, if any, was not delivered: a reopened
    /// connection starts at the ISN + 1).
    fn segment(&self, answer: &TcpInfo) -> TcpInfo {
        TcpInfo {
            src_port: answer.dst_port,
            dst_port: answer.src_port,
            seq: self.seq,
            ack: 0,
            flags: SYN,
            window: self.window,
            header_len: 20,
            payload_len: 0,
            window_scale: self.window_scale,
        }
    }
}

/// Whether the flag combination can appear on a valid segment (PSH, ECE and CWR ignored).
pub fn valid_flags(flags: u8) -> bool {
    let core = flags & (FIN | SYN | RST | ACK_FLAG | URG);
    matches!(
        core,
        SYN | 0x22 // SYN|URG
            | 0x12 // SYN|ACK
            | RST
            | 0x14 // RST|ACK
            | 0x11 // FIN|ACK
            | 0x31 // FIN|ACK|URG
            | ACK_FLAG
            | 0x30 // ACK|URG
    )
}

impl TcpTracker {
    /// A tracker for a flow that starts with this SYN from the initiator.
    pub fn from_syn(segment: &TcpInfo) -> Self {
        let mut tracker = Self {
            state: TcpState::SynSent,
            sides: Default::default(),
            picked_up: false,
            ignored_syn: None,
        };
        tracker.init_side(ORIGINAL, segment);
        tracker
    }

    /// A tracker for a connection first seen mid-stream (loose pickup).
    pub fn picked_up(segment: &TcpInfo) -> Self {
        let mut tracker = Self {
            state: TcpState::Established,
            sides: Default::default(),
            picked_up: true,
            ignored_syn: None,
        };
        tracker.sides[ORIGINAL].seen = true;
        tracker.sides[ORIGINAL].end = segment.seq.wrapping_add(segment.seq_len());
        tracker.sides[ORIGINAL].max_win = u32::from(segment.window).max(1);
        tracker.sides[ORIGINAL].last_window = segment.window;
        tracker.sides[ORIGINAL].advanced = u64::from(segment.seq_len());
        tracker.apply_fin_and_ack(ORIGINAL, segment);
        tracker
    }

    /// A tracker for a connection whose first segment seen is the responder's SYN/ACK (the
    /// SYN was not captured): the initiator's side is known only from what the SYN/ACK
    /// acknowledges. Feed the SYN/ACK next, from the reply side.
    pub fn before_syn_ack(syn_ack: &TcpInfo) -> Self {
        let mut tracker = Self {
            state: TcpState::SynSent,
            sides: Default::default(),
            picked_up: true,
            ignored_syn: None,
        };
        let initiator = &mut tracker.sides[ORIGINAL];
        initiator.seen = true;
        initiator.isn = Some(syn_ack.ack.wrapping_sub(1));
        initiator.end = syn_ack.ack;
        initiator.max_win = u32::from(u16::MAX);
        tracker
    }

    /// The connection's state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Feeds one segment travelling from side `from` (ORIGINAL or REPLY). An `Err` means the
    /// segment is invalid for the flow and must be dropped; the state is then unchanged.
    pub fn update(&mut self, from: usize, segment: &TcpInfo) -> Result<TcpUpdate, DropReason> {
        if !valid_flags(segment.flags) {
            return Err(DropReason::TcpInvalidFlags);
        }
        if segment.has(RST) {
            return self.on_rst(from, segment);
        }
        if segment.has(SYN) {
            return self.on_syn(from, segment);
        }
        if self.state == TcpState::SynSent {
            // Only a SYN/ACK (or RST) may answer a SYN.
            return Err(DropReason::TcpInvalidState);
        }
        if self.state == TcpState::Close {
            // After a reset, only a new SYN reopens the tuple; stray segments pass untracked.
            return Ok(TcpUpdate::Applied);
        }
        self.advance(from, segment);
        if self.state == TcpState::SynRecv && from == ORIGINAL && segment.has(ACK_FLAG) {
            self.state = TcpState::Established;
        }
        self.apply_fin_and_ack(from, segment);
        Ok(TcpUpdate::Applied)
    }

    /// Whether the handshake is complete and the connection not yet closed: a SYN here is
    /// never a new connection.
    fn synchronized(&self) -> bool {
        matches!(
            self.state,
            TcpState::Established | TcpState::FinWait | TcpState::CloseWait | TcpState::LastAck
        )
    }

    fn on_syn(&mut self, from: usize, segment: &TcpInfo) -> Result<TcpUpdate, DropReason> {
        if self.synchronized() && !self.retransmitted_syn_ack(from, segment) {
            if let Some(syn) = self.ignored_syn.filter(|syn| {
                from == REPLY && segment.has(ACK_FLAG) && segment.ack == syn.seq.wrapping_add(1)
            }) {
                // The responder accepted the SYN the tracker passed as a challenge: the ends
                // are in sync on a new connection, the gateway follows them.
                let mut reopened = Self::from_syn(&syn.segment(segment));
                reopened.apply_syn(REPLY, segment)?;
                *self = reopened;
                return Ok(TcpUpdate::Reopened);
            }
            if from == ORIGINAL && !segment.has(ACK_FLAG) {
                self.ignored_syn = Some(IgnoredSyn::of(segment));
            }
            // RFC 5961 section 4: the endpoint answers with a challenge ACK; nothing here
            // is reset or replaced, whatever the SYN's sequence number.
            return Ok(TcpUpdate::Challenged(Challenge::SynOnSynchronized));
        }
        self.apply_syn(from, segment).map(|()| TcpUpdate::Applied)
    }

    /// The responder's SYN/ACK repeated after the handshake (the initiator's ACK was lost).
    fn retransmitted_syn_ack(&self, from: usize, segment: &TcpInfo) -> bool {
        from == REPLY
            && segment.has(ACK_FLAG)
            && self.state == TcpState::Established
            && self.sides[REPLY].isn == Some(segment.seq)
    }

    fn apply_syn(&mut self, from: usize, segment: &TcpInfo) -> Result<(), DropReason> {
        let with_ack = segment.has(ACK_FLAG);
        match (from, with_ack, self.state) {
            // Retransmitted SYN, or a new ISN before any answer.
            (ORIGINAL, false, TcpState::SynSent) => {
                *self = Self::from_syn(segment);
                Ok(())
            }
            // Port reuse after the old connection finished.
            (ORIGINAL, false, TcpState::TimeWait | TcpState::Close) => {
                *self = Self::from_syn(segment);
                Ok(())
            }
            // Simultaneous open.
            (REPLY, false, TcpState::SynSent) => {
                self.init_side(REPLY, segment);
                self.state = TcpState::SynRecv;
                Ok(())
            }
            (REPLY, true, TcpState::SynSent | TcpState::SynRecv | TcpState::Established) => {
                if segment.ack != self.sides[ORIGINAL].end && !self.acks_isn(segment) {
                    return Err(DropReason::TcpInvalidState);
                }
                if self.state == TcpState::Established {
                    // A retransmitted SYN/ACK (our ACK was lost): must repeat the same ISN.
                    return match self.sides[REPLY].isn {
                        Some(isn) if isn == segment.seq => Ok(()),
                        _ => Err(DropReason::TcpInvalidState),
                    };
                }
                self.init_side(REPLY, segment);
                self.state = TcpState::SynRecv;
                Ok(())
            }
            // The initiator's SYN/ACK in a simultaneous open.
            (ORIGINAL, true, TcpState::SynRecv) => Ok(()),
            _ => Err(DropReason::TcpInvalidState),
        }
    }

    /// Whether a SYN/ACK acknowledges the initiator's SYN: its ISN + 1, or, when the SYN
    /// carried data (TCP Fast Open), any part of that data as the FTP ALG may have rewritten
    /// it (longer or shorter: bounded by twice its length plus a line's growth).
    fn acks_isn(&self, segment: &TcpInfo) -> bool {
        let side = &self.sides[ORIGINAL];
        side.isn.is_some_and(|isn| {
            let first = isn.wrapping_add(1);
            let data = u64::from(side.end.wrapping_sub(first));
            let acked = u64::from(segment.ack.wrapping_sub(first));
            segment.ack == first || (data > 0 && acked <= 2 * data + 64)
        })
    }

    fn init_side(&mut self, side: usize, segment: &TcpInfo) {
        self.sides[side] = Side {
            seen: true,
            isn: Some(segment.seq),
            end: segment.seq.wrapping_add(segment.seq_len()),
            max_win: u32::from(segment.window).max(1),
            last_window: segment.window,
            wscale: segment.window_scale,
            advanced: u64::from(segment.seq_len().saturating_sub(1)),
            ..Side::default()
        };
    }

    /// Payload bytes `side` has sent that were seen (each byte once, however often it was
    /// retransmitted); sequence space skipped over is [`Self::payload_missing`].
    pub fn payload_sent(&self, side: usize) -> u64 {
        let side = &self.sides[side];
        side.advanced
            .saturating_sub(u64::from(side.fin_end.is_some()))
            .saturating_sub(side.missing)
    }

    /// Sequence space `side` advanced over that no seen segment carried (Zeek's
    /// `missing_bytes`).
    pub fn payload_missing(&self, side: usize) -> u64 {
        self.sides[side].missing
    }

    /// Whether either side skipped sequence space that no segment has filled yet.
    pub fn has_gaps(&self) -> bool {
        self.sides.iter().any(|side| side.holes.is_some())
    }

    /// The window field `side` sent last, for a segment the gateway writes in its name.
    pub fn window_field(&self, side: usize) -> u16 {
        self.sides[side].last_window
    }

    /// The gateway reset the connection itself (a RST sent to both ends).
    pub fn reset(&mut self) {
        self.state = TcpState::Close;
    }

    /// Whether either side has sent FIN or the connection was reset: no new payload follows.
    pub fn closing(&self) -> bool {
        matches!(
            self.state,
            TcpState::FinWait
                | TcpState::CloseWait
                | TcpState::LastAck
                | TcpState::TimeWait
                | TcpState::Close
        )
    }

    fn on_rst(&mut self, from: usize, segment: &TcpInfo) -> Result<TcpUpdate, DropReason> {
        let acceptable = if self.state == TcpState::SynSent {
            if from == REPLY {
                // RFC 793: a RST answering a SYN is valid only if it acknowledges the SYN.
                segment.has(ACK_FLAG) && segment.ack == self.sides[ORIGINAL].end
            } else {
                self.in_window(from, segment.seq)
            }
        } else {
            self.in_window(from, segment.seq)
        };
        if !acceptable {
            return Err(DropReason::RstOutOfWindow);
        }
        if self.state != TcpState::SynSent && !self.exact_rst(from, segment.seq) {
            return Ok(TcpUpdate::Challenged(Challenge::InexactRst));
        }
        self.state = TcpState::Close;
        Ok(TcpUpdate::Applied)
    }

    /// Whether a RST from `from` carries exactly the sequence number its receiver expects:
    /// the next byte the sender would send, or the receiver's latest acknowledgment (they
    /// differ while data is in flight). A side never seen (a picked-up flow) is not checked.
    fn exact_rst(&self, from: usize, seq: u32) -> bool {
        let sender = &self.sides[from];
        !sender.seen || seq == sender.end || self.sides[1 - from].max_ack == Some(seq)
    }

    /// Whether `seq`, sent by `from`, lies within the window the other side can accept.
    fn in_window(&self, from: usize, seq: u32) -> bool {
        let sender = &self.sides[from];
        if !sender.seen {
            // Nothing known about this side's sequence space yet (picked-up flow).
            return self.picked_up;
        }
        let receiver = &self.sides[1 - from];
        let window = if self.picked_up {
            receiver.max_win.max(u32::from(u16::MAX)) << 14
        } else {
            receiver.max_win.max(1)
        };
        let window = i64::from(window.min(i32::MAX as u32));
        let distance = i64::from(seq.wrapping_sub(sender.end) as i32);
        (-window..=window).contains(&distance)
    }

    fn advance(&mut self, from: usize, segment: &TcpInfo) {
        let both_scaled =
            self.sides[ORIGINAL].wscale.is_some() && self.sides[REPLY].wscale.is_some();
        let side = &mut self.sides[from];
        let end = segment.seq.wrapping_add(segment.seq_len());
        if !side.seen {
            side.seen = true;
            side.end = end;
            side.advanced = u64::from(segment.seq_len());
        } else {
            let start = segment.seq;
            if SeqNumber(side.end).is_after(start) {
                let upto = if SeqNumber(end).is_after(side.end) {
                    side.end
                } else {
                    end
                };
                side.filled(start, upto);
            }
            if SeqNumber(end).is_after(side.end) {
                if SeqNumber(start).is_after(side.end) {
                    side.skipped(side.end, start);
                }
                side.advanced += u64::from(end.wrapping_sub(side.end));
                side.end = end;
            }
        }
        let shift = if both_scaled {
            side.wscale.unwrap_or(0)
        } else {
            0
        };
        let window = u32::from(segment.window) << shift;
        side.max_win = side.max_win.max(window);
        side.last_window = segment.window;
    }

    fn apply_fin_and_ack(&mut self, from: usize, segment: &TcpInfo) {
        if segment.has(FIN) {
            let fin_end = segment.seq.wrapping_add(segment.seq_len());
            let side = &mut self.sides[from];
            if side.fin_end.is_none() {
                side.fin_end = Some(fin_end);
            }
        }
        if segment.has(ACK_FLAG) {
            let own = &mut self.sides[from];
            if own
                .max_ack
                .is_none_or(|acked| SeqNumber(segment.ack).is_after(acked))
            {
                own.max_ack = Some(segment.ack);
            }
            let other = &mut self.sides[1 - from];
            if let Some(fin_end) = other.fin_end {
                if !SeqNumber(fin_end).is_after(segment.ack) {
                    other.fin_acked = true;
                }
            }
        }
        self.state = self.closing_state();
    }

    fn closing_state(&self) -> TcpState {
        if !matches!(
            self.state,
            TcpState::Established | TcpState::FinWait | TcpState::CloseWait | TcpState::LastAck
        ) {
            return self.state;
        }
        let [a, b] = &self.sides;
        match (a.fin_end.is_some(), b.fin_end.is_some()) {
            (false, false) => TcpState::Established,
            (true, true) if a.fin_acked && b.fin_acked => TcpState::TimeWait,
            (true, true) => TcpState::LastAck,
            _ if a.fin_acked || b.fin_acked => TcpState::CloseWait,
            _ => TcpState::FinWait,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn seg(flags: u8, seq: u32, ack: u32, payload_len: usize) -> TcpInfo {
        TcpInfo {
            src_port: 1,
            dst_port: 2,
            seq,
            ack,
            flags,
            window: 1000,
            header_len: 20,
            payload_len,
            window_scale: None,
        }
    }

    fn established() -> TcpTracker {
        let mut t = TcpTracker::from_syn(&seg(SYN, 100, 0, 0));
        t.update(REPLY, &seg(SYN | ACK_FLAG, 500, 101, 0)).unwrap();
        t.update(ORIGINAL, &seg(ACK_FLAG, 101, 501, 0)).unwrap();
        t
    }

    #[test]
    fn handshake_reaches_established() {
        assert_eq!(established().state(), TcpState::Established);
    }

    #[test]
    fn syn_ack_with_wrong_ack_is_refused() {
        let mut t = TcpTracker::from_syn(&seg(SYN, 100, 0, 0));
        assert_eq!(
            t.update(REPLY, &seg(SYN | ACK_FLAG, 500, 999, 0)),
            Err(DropReason::TcpInvalidState)
        );
        assert_eq!(t.state(), TcpState::SynSent);
    }

    #[test]
    fn only_an_exact_rst_closes_an_inexact_one_is_challenged_and_outside_is_refused() {
        let mut t = established();
        assert_eq!(
            t.update(REPLY, &seg(RST, 501 + 50_000, 0, 0)),
            Err(DropReason::RstOutOfWindow)
        );
        assert_eq!(t.state(), TcpState::Established);
        for off in [1u32, 10, 999, u32::MAX] {
            assert_eq!(
                t.update(REPLY, &seg(RST, 501u32.wrapping_add(off), 0, 0)),
                Ok(TcpUpdate::Challenged(Challenge::InexactRst)),
                "{off}"
            );
            assert_eq!(t.state(), TcpState::Established);
        }
        t.update(REPLY, &seg(RST, 501, 0, 0)).unwrap();
        assert_eq!(t.state(), TcpState::Close);
    }

    #[test]
    fn a_rst_at_the_receivers_ack_is_exact_while_data_is_in_flight() {
        let mut t = established();
        // The server sent 100 bytes the client has not acknowledged yet.
        t.update(REPLY, &seg(ACK_FLAG, 501, 101, 100)).unwrap();
        assert_eq!(
            t.update(REPLY, &seg(RST, 550, 0, 0)),
            Ok(TcpUpdate::Challenged(Challenge::InexactRst))
        );
        // The client's last ack (501) is what it expects; a RST there is exact.
        t.update(REPLY, &seg(RST, 501, 0, 0)).unwrap();
        assert_eq!(t.state(), TcpState::Close);
    }

    #[test]
    fn rst_answering_syn_must_ack_it() {
        let mut t = TcpTracker::from_syn(&seg(SYN, 100, 0, 0));
        assert_eq!(
            t.update(REPLY, &seg(RST | ACK_FLAG, 0, 55, 0)),
            Err(DropReason::RstOutOfWindow)
        );
        t.update(REPLY, &seg(RST | ACK_FLAG, 0, 101, 0)).unwrap();
        assert_eq!(t.state(), TcpState::Close);
    }

    #[test]
    fn close_sequence_walks_fin_states() {
        let mut t = established();
        t.update(ORIGINAL, &seg(FIN | ACK_FLAG, 101, 501, 0))
            .unwrap();
        assert_eq!(t.state(), TcpState::FinWait);
        t.update(REPLY, &seg(ACK_FLAG, 501, 102, 0)).unwrap();
        assert_eq!(t.state(), TcpState::CloseWait);
        t.update(REPLY, &seg(FIN | ACK_FLAG, 501, 102, 0)).unwrap();
        assert_eq!(t.state(), TcpState::LastAck);
        t.update(ORIGINAL, &seg(ACK_FLAG, 102, 502, 0)).unwrap();
        assert_eq!(t.state(), TcpState::TimeWait);
    }

    #[test]
    fn invalid_flag_combinations_are_refused() {
        for flags in [
            0u8,
            SYN | FIN,
            SYN | RST,
            FIN,
            FIN | SYN | RST | ACK_FLAG | URG,
        ] {
            assert!(!valid_flags(flags), "{flags:#x}");
        }
        let mut t = established();
        assert_eq!(
            t.update(ORIGINAL, &seg(SYN | FIN, 101, 0, 0)),
            Err(DropReason::TcpInvalidFlags)
        );
    }

    #[test]
    fn syn_on_established_flow_is_challenged_but_reopens_after_close() {
        let mut t = established();
        for (from, flags, seq) in [
            (ORIGINAL, SYN, 7000),
            (ORIGINAL, SYN, 150),
            (REPLY, SYN, 9),
            (REPLY, SYN | ACK_FLAG, 12345),
        ] {
            assert_eq!(
                t.update(from, &seg(flags, seq, 101, 0)),
                Ok(TcpUpdate::Challenged(Challenge::SynOnSynchronized))
            );
            assert_eq!(t.state(), TcpState::Established);
        }
        // The responder's own SYN/ACK, repeated, is still a plain retransmission.
        assert_eq!(
            t.update(REPLY, &seg(SYN | ACK_FLAG, 500, 101, 0)),
            Ok(TcpUpdate::Applied)
        );
        t.update(ORIGINAL, &seg(RST, 101, 0, 0)).unwrap();
        t.update(ORIGINAL, &seg(SYN, 7000, 0, 0)).unwrap();
        assert_eq!(t.state(), TcpState::SynSent);
    }

    #[test]
    fn a_syn_ack_answering_the_last_challenged_syn_reopens_the_flow() {
        let mut t = established();
        t.update(ORIGINAL, &seg(SYN, 4000, 0, 0)).unwrap();
        // Not an answer to it: still a challenge.
        assert_eq!(
            t.update(REPLY, &seg(SYN | ACK_FLAG, 9000, 4002, 0)),
            Ok(TcpUpdate::Challenged(Challenge::SynOnSynchronized))
        );
        assert_eq!(
            t.update(REPLY, &seg(SYN | ACK_FLAG, 9000, 4001, 0)),
            Ok(TcpUpdate::Reopened)
        );
        assert_eq!(t.state(), TcpState::SynRecv);
        t.update(ORIGINAL, &seg(ACK_FLAG, 4001, 9001, 0)).unwrap();
        assert_eq!(t.state(), TcpState::Established);
        // The old connection's numbers are gone: an exact RST of the new one closes it.
        t.update(ORIGINAL, &seg(RST, 4001, 0, 0)).unwrap();
        assert_eq!(t.state(), TcpState::Close);
    }

    #[test]
    fn a_gap_counts_as_missing_until_a_late_segment_fills_it() {
        let mut t = TcpTracker::from_syn(&seg(SYN, 1000, 0, 0));
        t.update(REPLY, &seg(SYN | ACK_FLAG, 5000, 1001, 0))
            .unwrap();
        t.update(ORIGINAL, &seg(ACK_FLAG, 1001, 5001, 0)).unwrap();
        t.update(REPLY, &seg(ACK_FLAG, 5001, 1001, 100)).unwrap();
        // 5101..5301 not seen: the next segment jumps over it.
        t.update(REPLY, &seg(ACK_FLAG, 5301, 1001, 100)).unwrap();
        assert_eq!(t.payload_sent(REPLY), 200);
        assert_eq!(t.payload_missing(REPLY), 200);
        // A late segment fills the first half.
        t.update(REPLY, &seg(ACK_FLAG, 5101, 1001, 100)).unwrap();
        assert_eq!(t.payload_sent(REPLY), 300);
        assert_eq!(t.payload_missing(REPLY), 100);
        // A retransmission of seen bytes changes nothing.
        t.update(REPLY, &seg(ACK_FLAG, 5001, 1001, 100)).unwrap();
        assert_eq!(t.payload_sent(REPLY), 300);
        assert_eq!(t.payload_missing(REPLY), 100);
    }

    #[test]
    fn payload_is_counted_once_by_sequence_progress() {
        let mut t = established();
        t.update(REPLY, &seg(ACK_FLAG, 501, 101, 1000)).unwrap();
        t.update(REPLY, &seg(ACK_FLAG, 501, 101, 1000)).unwrap(); // retransmission
        t.update(REPLY, &seg(ACK_FLAG, 1501, 101, 500)).unwrap();
        t.update(REPLY, &seg(ACK_FLAG, 1801, 101, 300)).unwrap(); // 200 old bytes, 100 new
        t.update(REPLY, &seg(FIN | ACK_FLAG, 2101, 101, 0)).unwrap();
        assert_eq!(t.payload_sent(REPLY), 1600);
        assert_eq!(t.payload_sent(ORIGINAL), 0);
        assert!(t.closing());
    }

    #[test]
    fn sequence_wraparound_is_followed() {
        let mut t = TcpTracker::from_syn(&seg(SYN, u32::MAX - 10, 0, 0));
        t.update(REPLY, &seg(SYN | ACK_FLAG, 5, u32::MAX - 9, 0))
            .unwrap();
        t.update(ORIGINAL, &seg(ACK_FLAG, u32::MAX - 9, 6, 100))
            .unwrap();
        // The originator's end wrapped to 90; a RST exactly there closes.
        t.update(ORIGINAL, &seg(RST, 90, 0, 0)).unwrap();
        assert_eq!(t.state(), TcpState::Close);
    }
}
