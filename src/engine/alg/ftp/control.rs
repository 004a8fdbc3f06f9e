//! One FTP control connection's segments through the ALG: both byte streams, the session,
//! and the packet changes they call for (payload, length, sequence and ack numbers, SACK,
//! checksums); the segments the gateway writes itself when a line is refused (the client's
//! error reply, the RST to the far end of a reset connection). A SYN's payload (TCP Fast
//! Open) is read like any other bytes; a client SYN with a new ISN starts a new session, with
//! nothing of the old one kept.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

#[path = "budget.rs"]
pub mod budget;

use super::check::Check;
use super::host::AlgHost;
use super::mangle::{fit_to_mtu, recompute_tcp_checksum, replace_payload};
use super::session::{client_may_be_bounce, server_may_be_checked, LineContext, Session};
use super::stream::{LineStream, SegmentPlan, WithholdReason};
use crate::engine::conntrack::FlowDir;
use crate::engine::packet::PacketBuf;
use crate::engine::settings::ViolationOutcome;
use crate::engine::verdict::DropReason;
use crate::engine::wire::fields::tcp::{ACK_FLAG, PSH, RST, SYN};
use crate::engine::wire::parse::transport_checksum_ok;
use crate::engine::wire::respond::SegmentSpec;
use crate::engine::wire::tcp_adjust::adjust_segment;
use crate::engine::wire::view::IpView;
use crate::engine::wire::{ParsedPacket, TcpInfo};
use crate::engine::Flow;

/// The ALG state of one control connection.
#[derive(Debug, Default)]
pub struct FtpControl {
    /// The client's stream (index 0) and the server's (index 1).
    streams: [LineStream; 2],
    /// What the connection has said.
    pub session: Session,
    /// Its part of the control-stream memory budget.
    budget: budget::BudgetShare,
    /// The gateway reset the connection: until a SYN with a new ISN opens another one on
    /// the tuple, every segment is refused with a RST (its bytes could only reach a receiver
    /// the ALG no longer follows).
    reset_by_gateway: bool,
}

/// One segment of a control connection, as the pipeline hands it over.
pub struct ControlSegment<'a, 'b> {
    /// The engine, as the ALG sees it.
    pub host: &'a dyn AlgHost,
    /// The control connection.
    pub flow: &'a Arc<Flow>,
    /// Direction of the segment.
    pub dir: FlowDir,
    /// Engine time.
    pub now: Duration,
    /// The packet.
    pub buf: &'a mut PacketBuf<'b>,
    /// Its parsed headers.
    pub packet: &'a ParsedPacket,
    /// Its TCP fields.
    pub tcp: &'a TcpInfo,
    /// The window field the server sent last (for a reply the gateway sends in its name).
    pub server_window: u16,
}

impl FtpControl {
    /// The state for a control connection whose client's first byte will be `client_first_byte`
    /// (its SYN's sequence number plus one).
    pub fn starting_at(client_first_byte: u32) -> Self {
        let mut control = Self::default();
        control.streams[0].start_at(client_first_byte);
        control
    }

    /// The state for a control connection picked up mid-stream (its greeting unseen).
    pub fn picked_up() -> Self {
        Self {
            session: Session::picked_up(),
            ..Self::default()
        }
    }

    /// The sequence adjustment of the client's stream.
    pub fn client_adjust(&self) -> &crate::engine::conntrack::seqadj::SeqAdjust {
        &self.streams[0].adjust
    }

    /// Follows one segment; `Err` drops it with the reason. `Err(FtpViolationReset)`: a line
    /// was refused under `on_violation: reset`; the caller answers the sender with a RST and
    /// sends [`receiver_reset`](Self::receiver_reset) to the other end.
    pub fn on_segment(&mut self, seg: ControlSegment<'_, '_>) -> Result<(), DropReason> {
        if self.reset_by_gateway && !self.opens_anew(&seg) {
            return Err(DropReason::FtpViolationReset);
        }
        let result = self.budget_admit(&seg).and_then(|()| {
            let now = seg.now;
            let result = self.follow(seg);
            self.budget_account(now);
            result
        });
        if result == Err(DropReason::FtpViolationReset) {
            self.reset_by_gateway = true;
        }
        result
    }

    /// Marks the connection as reset by the gateway (see [`on_segment`](Self::on_segment)).
    pub fn mark_reset(&mut self) {
        self.reset_by_gateway = true;
    }

    /// Whether the gateway reset the connection and no new SYN has opened another since.
    pub fn is_reset_by_gateway(&self) -> bool {
        self.reset_by_gateway
    }

    /// Whether the segment is a client SYN that opens a new connection (a new ISN).
    fn opens_anew(&self, seg: &ControlSegment<'_, '_>) -> bool {
        let tcp = seg.tcp;
        seg.dir == FlowDir::Original
            && tcp.has(SYN)
            && !tcp.has(ACK_FLAG)
            && self.streams[0].first_byte() != Some(tcp.seq.wrapping_add(1))
    }

    /// [`on_segment`](Self::on_segment) within the budget.
    fn follow(&mut self, seg: ControlSegment<'_, '_>) -> Result<(), DropReason> {
        let (from, to) = (seg.dir.index(), 1 - seg.dir.index());
        let tcp = seg.tcp;
        if tcp.has(SYN) {
            let first = tcp.seq.wrapping_add(1);
            let opening = seg.dir == FlowDir::Original && !tcp.has(ACK_FLAG);
            if opening && self.streams[from].first_byte() != Some(first) {
                // A new connection on the same 4-tuple (after a RST, FIN or TIME_WAIT): a
                // new session, nothing of the old one survives.
                self.session.end(seg.host, seg.flow);
                *self = Self::starting_at(first);
            } else {
                self.streams[from].start_at(first);
            }
            // TCP Fast Open: its payload goes through the ALG like any other bytes (and a
            // SYN/ACK's ack is mapped back like any other).
        }
        if tcp.has(ACK_FLAG) {
            self.streams[to].acknowledged(tcp.ack);
        }
        let readable = tcp.payload_len > 0 && transport_checksum_ok(seg.buf.bytes(), seg.packet);
        let monitor = seg.host.settings().ftp.on_violation == ViolationOutcome::Monitor;
        let planned = if readable {
            match self.plan(&seg) {
                // A monitor reads every segment and changes none: nothing is withheld, trimmed
                // or dropped for the stream's sake (its decisions never replace a line).
                _ if monitor => None,
                Ok(planned) => planned,
                // A SYN whose bytes cannot go yet goes without them: the client sends them
                // again after the handshake (TFO falls back); the stream has read them.
                Err(DropReason::FtpWithheld | DropReason::FtpBacklog) if tcp.has(SYN) => {
                    Some((tcp.seq.wrapping_add(1), Vec::new(), 0))
                }
                Err(reason) => return Err(reason),
            }
        } else {
            None
        };
        if self.session.reset_requested() {
            return Err(DropReason::FtpViolationReset);
        }
        let mut lead_in = 0;
        if let Some((start, payload, inserted)) = &planned {
            let payload_at = seg.packet.l4_offset + tcp.header_len;
            let room = seg.host.settings().ftp.mtu.saturating_sub(payload_at);
            let cut = fit_to_mtu(payload, room);
            // A SYN's own sequence number stays just before its first byte.
            let seq = start.wrapping_sub(u32::from(tcp.has(SYN)));
            replace_payload(seg.buf, seg.packet, tcp, seq, &payload[..cut])
                .map_err(|_| DropReason::FtpNoRoom)?;
            lead_in = *inserted;
        }
        let (sender, receiver) = (&self.streams[from].adjust, &self.streams[to].adjust);
        let l4 = seg.packet.l4_offset;
        if sender.is_active() || receiver.is_active() {
            adjust_segment(&mut seg.buf.bytes_mut()[l4..], sender, receiver);
        }
        if lead_in > 0 {
            // The segment starts with bytes the gateway inserted before its first byte.
            // The checksum is recomputed just below.
            let bytes = seg.buf.bytes_mut();
            if let Ok(mut ip) = IpView::new_checked_at(bytes, l4, seg.packet.protocol) {
                if let Ok(mut tcp) = ip.tcp_mut() {
                    tcp.set_seq_number_unsummed(tcp.seq_number().wrapping_sub(lead_in));
                }
            }
        }
        if planned.is_some() {
            recompute_tcp_checksum(seg.buf, seg.packet);
        }
        if seg.dir == FlowDir::Original {
            self.send_due_replies(&seg);
        }
        Ok(())
    }

    /// Sends the client the error replies it is owed now, in the server's name: inserted into
    /// the server's stream after its last line, so both streams stay consistent.
    fn send_due_replies(&mut self, seg: &ControlSegment<'_, '_>) {
        let ack = self.streams[FlowDir::Original.index()]
            .acked()
            .unwrap_or(seg.tcp.seq);
        let server = &mut self.streams[FlowDir::Reply.index()];
        if !server.at_line_boundary() {
            return; // they go out after the line the server is sending
        }
        let Some(reply) = self.session.take_due_replies() else {
            return;
        };
        let Some(seq) = server.insert(reply) else {
            return;
        };
        // The bytes just stored (kept for the retransmissions): the packet is written from
        // them, with no copy of its own.
        let Some(reply) = server.last_stored() else {
            return;
        };
        let key = seg.flow.translated_key(FlowDir::Reply);
        seg.host.send(&SegmentSpec {
            src: (key.src, key.src_port),
            dst: (key.dst, key.dst_port),
            seq,
            ack,
            flags: ACK_FLAG | PSH,
            window: seg.server_window,
            payload: reply,
        });
    }

    /// The RST that tells the receiver of `tcp` (travelling in `dir`) that the gateway reset
    /// the connection: in the sender's name, at the next sequence number the receiver expects
    /// as far as the gateway knows.
    pub fn receiver_reset(&self, flow: &Flow, dir: FlowDir, tcp: &TcpInfo) -> SegmentSpec<'static> {
        let (from, to) = (dir.index(), 1 - dir.index());
        let key = flow.translated_key(dir);
        SegmentSpec {
            src: (key.src, key.src_port),
            dst: (key.dst, key.dst_port),
            seq: self.streams[from].adjust.map_seq(tcp.seq),
            ack: self.streams[to].adjust.unmap_ack(tcp.ack),
            flags: RST | ACK_FLAG,
            window: 0,
            payload: &[],
        }
    }

    /// Runs the segment's payload through its stream: `Some((start, payload, lead_in))` when
    /// the segment must carry other bytes, `lead_in` of them inserted before original byte
    /// `start`.
    fn plan(
        &mut self,
        seg: &ControlSegment<'_, '_>,
    ) -> Result<Option<(u32, Vec<u8>, u32)>, DropReason> {
        let tcp = seg.tcp;
        let payload_at = seg.packet.l4_offset + tcp.header_len;
        let payload = &seg.buf.bytes()[payload_at..payload_at + tcp.payload_len];
        // A SYN's payload starts after the SYN's own sequence number.
        let seq = tcp.seq.wrapping_add(u32::from(tcp.has(SYN)));
        let ctx = LineContext {
            host: seg.host,
            control: seg.flow,
            now: seg.now,
        };
        let max_line = seg.host.settings().ftp.max_line;
        let FtpControl {
            streams, session, ..
        } = self;
        let stream = &mut streams[seg.dir.index()];
        let client = seg.dir == FlowDir::Original;
        let monitor = seg.host.settings().ftp.on_violation == ViolationOutcome::Monitor;
        if monitor && stream.skip_gap(seq) {
            // Bytes the capture does not hold: a monitor reads on from here.
            ctx.notice("stream_gap", b"");
        }
        // While lines are read, every partial client line is withheld (any of them may be
        // refused: framing, length, Telnet commands, not FTP), and a partial server line that
        // may become a 227 / 229. A session marked non-FTP still withholds a partial client
        // line that may become a PORT / EPRT / LPRT: its bounces are checked. A monitor
        // withholds nothing: a partial line passes and is judged when complete.
        let reading = Cell::new(session.reads_lines());
        let bounces_only = Cell::new(session.checks_bounces_only());
        let may_be_checked = |line: &[u8]| {
            if monitor {
                false
            } else if reading.get() {
                client || server_may_be_checked(line)
            } else {
                client && bounces_only.get() && client_may_be_bounce(line)
            }
        };
        let plan = stream.plan(seq, payload, max_line, may_be_checked, |_, line, ended| {
            let decision = if client {
                session.client_line(&ctx, line, ended)
            } else {
                session.server_line(&ctx, line, ended)
            };
            reading.set(session.reads_lines());
            bounces_only.set(session.checks_bounces_only());
            decision
        });
        match plan {
            SegmentPlan::Unchanged => Ok(None),
            SegmentPlan::Rebuilt {
                start,
                payload,
                lead_in,
            } => Ok(Some((start, payload, lead_in))),
            SegmentPlan::Withhold(reason) => Err(match reason {
                WithholdReason::PartialLine => DropReason::FtpWithheld,
                WithholdReason::OutOfOrder => DropReason::FtpOutOfOrder,
                WithholdReason::Inconsistent => DropReason::FtpInconsistentRetransmission,
                WithholdReason::Backlog if stream.holding_overlong() => {
                    // A withheld line that can only end refused: reset, not retransmitted
                    // into the backlog again and again.
                    session.abort(&ctx, seg.dir, Check::LineTooLong);
                    DropReason::FtpViolationReset
                }
                WithholdReason::Backlog => DropReason::FtpBacklog,
                WithholdReason::TooManyRewrites | WithholdReason::Unrebuildable => {
                    // The segment's lines were read (and may have opened pinholes) but it
                    // cannot be forwarded as read: the connection is reset rather than left
                    // inconsistent.
                    let check = match reason {
                        WithholdReason::TooManyRewrites => Check::TooManyRewrites,
                        _ => Check::UnrebuildableSegment,
                    };
                    session.abort(&ctx, seg.dir, check);
                    DropReason::FtpViolationReset
                }
            }),
        }
    }
}
