//! The TCP state machine of one flow: handshake, data, the two FINs, RST in window.
//!
//! Modelled on netfilter's tracker but smaller: it follows how far each side has sent
//! (`end`) and the largest window each side advertised, which is enough to tell a RST inside
//! the receiver's window from a blind one, and to walk the close sequence.

use crate::engine::verdict::DropReason;
use crate::engine::wire::fields::tcp::{ACK_FLAG, FIN, RST, SYN, URG};
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

/// Index of the initiator's side in per-side arrays.
pub const ORIGINAL: usize = 0;
/// Index of the responder's side.
pub const REPLY: usize = 1;

#[derive(Debug, Clone, Copy, Default)]
struct Side {
    /// Whether a segment from this side has been seen.
    seen: bool,
    /// Initial sequence number (the SYN's), when the handshake was seen.
    isn: Option<u32>,
    /// Sequence number just past the highest byte (or SYN/FIN) this side sent.
    end: u32,
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
}

/// TCP tracking state of one flow.
#[derive(Debug, Clone, Copy)]
pub struct TcpTracker {
    state: TcpState,
    sides: [Side; 2],
    /// Picked up mid-connection: window scales are unknown, so window checks are loose.
    picked_up: bool,
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

/// `a` is after `b` in sequence space (RFC 1982 style, wrap-safe).
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl TcpTracker {
    /// A tracker for a flow that starts with this SYN from the initiator.
    pub fn from_syn(segment: &TcpInfo) -> Self {
        let mut tracker = Self {
            state: TcpState::SynSent,
            sides: [Side::default(); 2],
            picked_up: false,
        };
        tracker.init_side(ORIGINAL, segment);
        tracker
    }

    /// A tracker for a connection first seen mid-stream (loose pickup).
    pub fn picked_up(segment: &TcpInfo) -> Self {
        let mut tracker = Self {
            state: TcpState::Established,
            sides: [Side::default(); 2],
            picked_up: true,
        };
        tracker.sides[ORIGINAL].seen = true;
        tracker.sides[ORIGINAL].end = segment.seq.wrapping_add(segment.seq_len());
        tracker.sides[ORIGINAL].max_win = u32::from(segment.window).max(1);
        tracker.sides[ORIGINAL].last_window = segment.window;
        tracker.sides[ORIGINAL].advanced = u64::from(segment.seq_len());
        tracker.apply_fin_and_ack(ORIGINAL, segment);
        tracker
    }

    /// The connection's state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Feeds one segment travelling from side `from` (ORIGINAL or REPLY). An `Err` means the
    /// segment is invalid for the flow and must be dropped; the state is then unchanged.
    pub fn update(&mut self, from: usize, segment: &TcpInfo) -> Result<(), DropReason> {
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
            return Ok(());
        }
        self.advance(from, segment);
        if self.state == TcpState::SynRecv && from == ORIGINAL && segment.has(ACK_FLAG) {
            self.state = TcpState::Established;
        }
        self.apply_fin_and_ack(from, segment);
        Ok(())
    }

    fn on_syn(&mut self, from: usize, segment: &TcpInfo) -> Result<(), DropReason> {
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

    /// Payload bytes `side` has sent (each byte once, however often it was retransmitted).
    pub fn payload_sent(&self, side: usize) -> u64 {
        let side = &self.sides[side];
        side.advanced
            .saturating_sub(u64::from(side.fin_end.is_some()))
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

    fn on_rst(&mut self, from: usize, segment: &TcpInfo) -> Result<(), DropReason> {
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
        self.state = TcpState::Close;
        Ok(())
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
        } else if seq_after(end, side.end) {
            side.advanced += u64::from(end.wrapping_sub(side.end));
            side.end = end;
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
            let other = &mut self.sides[1 - from];
            if let Some(fin_end) = other.fin_end {
                if !seq_after(fin_end, segment.ack) {
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
    fn rst_inside_window_closes_and_outside_is_refused() {
        let mut t = established();
        assert_eq!(
            t.update(REPLY, &seg(RST, 501 + 50_000, 0, 0)),
            Err(DropReason::RstOutOfWindow)
        );
        assert_eq!(t.state(), TcpState::Established);
        t.update(REPLY, &seg(RST, 501 + 10, 0, 0)).unwrap();
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
    fn syn_on_established_flow_is_invalid_but_reopens_after_close() {
        let mut t = established();
        assert_eq!(
            t.update(ORIGINAL, &seg(SYN, 7000, 0, 0)),
            Err(DropReason::TcpInvalidState)
        );
        t.update(ORIGINAL, &seg(RST, 101, 0, 0)).unwrap();
        t.update(ORIGINAL, &seg(SYN, 7000, 0, 0)).unwrap();
        assert_eq!(t.state(), TcpState::SynSent);
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
        // The originator's end wrapped to 90; a RST near it is in window.
        t.update(ORIGINAL, &seg(RST, 90, 0, 0)).unwrap();
        assert_eq!(t.state(), TcpState::Close);
    }
}
