//! The memory budget of FTP control streams: the bytes the ALG holds (a withheld partial
//! line) and keeps (read, not yet acknowledged, for the retransmission check), per connection
//! (`limits.ftp_buffer_per_connection`) and for all connections together
//! (`limits.ftp_buffer_total`, an engine-wide atomic count).
//!
//! - A segment whose new bytes would take its connection or the gateway past a budget is
//!   dropped (`ftp_buffer_budget`) before the ALG reads it; the sender retransmits it, and it
//!   passes once acknowledgments have freed room. Other connections are untouched.
//! - A segment that would take a connection past its budget while its sender withholds an
//!   over-long line (one that can only end refused) resets the connection as `line_too_long`,
//!   as the stream's own unacknowledged backlog does.
//! - A connection that withholds a partial line without progress for `limits.ftp_held_timeout`
//!   is reset: a RST to both ends, its bytes freed, reported as the violation `held_timeout`.
//!   Once half the global budget is in use, the same applies to a connection whose kept bytes
//!   have not been acknowledged for as long (a receiver that never acknowledges pins them); below
//!   that, kept bytes wait for their acknowledgment however slow it is. This happens on the
//!   connection's next segment or, if none comes, in the periodic sweep (`Engine::expire`).
//!
//! It is a child of `control` (it reads the streams' sizes); it never parses lines and never
//! decides what a line means.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use super::{ControlSegment, FtpControl};
use crate::engine::alg::ftp::check::Check;
use crate::engine::alg::ftp::host::AlgHost;
use crate::engine::alg::ftp::session::LineContext;
use crate::engine::conntrack::FlowDir;
use crate::engine::events::Event;
use crate::engine::verdict::DropReason;
use crate::engine::wire::fields::tcp::{ACK_FLAG, RST, SYN};
use crate::engine::wire::respond::SegmentSpec;
use crate::engine::Flow;

/// Control-stream bytes held by all connections together.
#[derive(Debug, Default)]
pub struct ControlBudget {
    used: AtomicUsize,
}

impl ControlBudget {
    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Relaxed)
    }
}

/// One connection's part of the budget; given back when the connection's state is dropped.
#[derive(Debug, Default)]
pub struct BudgetShare {
    global: Option<Arc<ControlBudget>>,
    held: usize,
    /// Since when bytes have been held without progress.
    stalled_since: Option<Duration>,
    /// The streams' progress marks when last seen.
    mark: [(u32, bool); 2],
}

impl BudgetShare {
    fn set(&mut self, held: usize) {
        if let Some(global) = &self.global {
            if held > self.held {
                global.used.fetch_add(held - self.held, Relaxed);
            } else {
                global.used.fetch_sub(self.held - held, Relaxed);
            }
        }
        self.held = held;
    }
}

impl Drop for BudgetShare {
    fn drop(&mut self) {
        self.set(0);
    }
}

impl FtpControl {
    /// Before a segment is read: resets a connection stalled past its hold timeout, and
    /// refuses new bytes beyond the budgets.
    pub(super) fn budget_admit(&mut self, seg: &ControlSegment<'_, '_>) -> Result<(), DropReason> {
        let limits = &seg.host.settings().limits;
        if self.budget.global.is_none() {
            self.budget.global = Some(seg.host.control_budget().clone());
        }
        if self.held_too_long(seg.host, seg.now) {
            let ctx = LineContext {
                host: seg.host,
                control: seg.flow,
                now: seg.now,
            };
            self.session.abort(&ctx, self.holder(), Check::HeldTimeout);
            self.release_all();
            return Err(DropReason::FtpViolationReset);
        }
        let tcp = seg.tcp;
        if tcp.payload_len == 0 || tcp.has(SYN) {
            return Ok(());
        }
        let fresh = self.streams[seg.dir.index()].fresh_len(tcp.seq, tcp.payload_len);
        if fresh == 0 {
            return Ok(());
        }
        let total = seg.host.control_budget().used();
        if self.budget.held.saturating_add(fresh) > limits.ftp_buffer_per_connection
            || total.saturating_add(fresh) > limits.ftp_buffer_total
        {
            if self.streams[seg.dir.index()].holding_overlong() {
                // The line can only end refused: the connection is reset now, as when the
                // stream's own backlog fills, rather than left to retransmit into the budget.
                self.reset_line_too_long(seg);
                return Err(DropReason::FtpViolationReset);
            }
            return Err(DropReason::FtpBufferBudget);
        }
        Ok(())
    }

    /// Resets the connection whose sender withholds an over-long line that outgrew a
    /// buffer: reported as `line_too_long`, every byte it held freed.
    pub(super) fn reset_line_too_long(&mut self, seg: &ControlSegment<'_, '_>) {
        let ctx = LineContext {
            host: seg.host,
            control: seg.flow,
            now: seg.now,
        };
        self.session.abort(&ctx, seg.dir, Check::LineTooLong);
        self.release_all();
    }

    /// After a segment: the connection's share follows what its streams hold, and the
    /// stall clock restarts whenever held bytes move on.
    pub(super) fn budget_account(&mut self, now: Duration) {
        let held = self.streams[0].buffered() + self.streams[1].buffered();
        self.budget.set(held);
        let mark = [
            self.streams[0].progress_mark(),
            self.streams[1].progress_mark(),
        ];
        if held == 0 {
            self.budget.stalled_since = None;
        } else if self.budget.stalled_since.is_none() || mark != self.budget.mark {
            self.budget.stalled_since = Some(now);
        }
        self.budget.mark = mark;
    }

    /// Whether the connection has held bytes without progress for too long at `now`: a
    /// withheld partial line always counts; kept bytes only under pressure (half the global
    /// budget in use).
    fn held_too_long(&self, host: &dyn AlgHost, now: Duration) -> bool {
        let limits = &host.settings().limits;
        let stalled = self.budget.held > 0
            && self
                .budget
                .stalled_since
                .is_some_and(|since| now.saturating_sub(since) >= limits.ftp_held_timeout);
        let withholding = self.budget.mark.iter().any(|(_, held)| *held);
        stalled && (withholding || host.control_budget().used() >= limits.ftp_buffer_total / 2)
    }

    /// The side whose stream holds more.
    fn holder(&self) -> FlowDir {
        if self.streams[1].buffered() > self.streams[0].buffered() {
            FlowDir::Reply
        } else {
            FlowDir::Original
        }
    }

    /// Frees every byte held (the connection is being reset).
    fn release_all(&mut self) {
        for stream in &mut self.streams {
            stream.release_buffers();
        }
        self.budget.set(0);
        self.budget.stalled_since = None;
    }

    /// The RST telling the receiver of side `from`'s stream that the connection is gone, in
    /// `from`'s name, at the next sequence number the receiver expects as far as the gateway
    /// knows; `None` when the stream never started.
    fn reset_towards_receiver_of(
        &self,
        flow: &Flow,
        from: FlowDir,
    ) -> Option<SegmentSpec<'static>> {
        let (sender, receiver) = (from.index(), 1 - from.index());
        let end = self.streams[sender].forwarded_end()?;
        let key = flow.translated_key(from);
        Some(SegmentSpec {
            src: (key.src, key.src_port),
            dst: (key.dst, key.dst_port),
            seq: self.streams[sender].adjust.map_seq(end),
            ack: self.streams[receiver].forwarded_end().unwrap_or(0),
            flags: RST | ACK_FLAG,
            window: 0,
            payload: &[],
        })
    }
}

impl FtpControl {
    /// The sweep's part for one connection (see `Engine::expire`): when it has held bytes
    /// without progress past `limits.ftp_held_timeout` and sent nothing since, it is reset: a
    /// RST to both ends, the violation reported, its bytes freed, its session ended. Returns
    /// whether it was reset (the caller resets its TCP tracker).
    pub fn age_out(&mut self, host: &dyn AlgHost, flow: &Flow, now: Duration) -> bool {
        if !self.held_too_long(host, now) {
            return false;
        }
        for from in [FlowDir::Original, FlowDir::Reply] {
            if let Some(rst) = self.reset_towards_receiver_of(flow, from) {
                host.send(&rst);
            }
        }
        host.report(Event::FtpViolation {
            at: now,
            control: flow.original,
            from: self.holder(),
            check: Check::HeldTimeout.name(),
            line: String::new(),
            outcome: "reset",
        });
        self.release_all();
        self.mark_reset();
        self.session.end(host, flow);
        true
    }
}
