//! The session's policy: what an announcement must satisfy before it opens a pinhole (what it
//! names, the login, the per-session cap, the FXP opt-in), and what refusing a line does
//! (the event, the counter, the transfer record's `violations`, and the rule file's outcome:
//! an error reply owed to the client, a replaced reply, a reset, or, under `monitor`, nothing:
//! the line passes and a refused announcement still opens its pinhole, so the transfer the
//! traffic really holds is followed and logged).

use std::net::IpAddr;

use super::{text, LineContext, Pending, Session};
use crate::engine::alg::ftp::check::Check;
use crate::engine::alg::ftp::command::{parse_command, Command};
use crate::engine::alg::ftp::expect::Announcement;
use crate::engine::alg::ftp::expect::DataMode;
use crate::engine::alg::ftp::mangle::splice;
use crate::engine::alg::ftp::nat::Argument;
use crate::engine::alg::ftp::record::Announced;
use crate::engine::alg::ftp::refusal;
use crate::engine::alg::ftp::stream::LineDecision;
use crate::engine::conntrack::FlowDir;
use crate::engine::events::Event;
use crate::engine::settings::ViolationOutcome;

impl LineContext<'_> {
    /// Counts and reports a violation of `check` by `line` (sent from `dir`), whose outcome
    /// is `outcome`.
    pub(super) fn violation(&self, dir: FlowDir, check: Check, line: &[u8], outcome: &'static str) {
        self.host.report(Event::FtpViolation {
            at: self.now,
            control: self.control.original,
            from: dir,
            check: check.name(),
            line: escaped(line),
            outcome,
        });
    }

    /// Reports a line the policy lets through although the ALG cannot vouch for it.
    pub(crate) fn notice(&self, notice: &'static str, line: &[u8]) {
        self.host.report(Event::FtpNotice {
            at: self.now,
            control: self.control.original,
            notice,
            line: escaped(line),
        });
    }
}

/// A line as events carry it: without its terminator, escaped.
fn escaped(line: &[u8]) -> String {
    text(line).escape_debug().to_string()
}

impl Session {
    /// Checks an announcement of `addr`:`port` by `line` and opens its pinhole, rewriting
    /// the line where the announcer is translated (or `fixed`: see `trust`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn announce(
        &mut self,
        ctx: &LineContext<'_>,
        line: &[u8],
        mode: DataMode,
        (by, fixed): (&'static str, bool),
        addr: IpAddr,
        port: u16,
        argument: Argument,
    ) -> LineDecision {
        let dir = match mode {
            DataMode::Active => FlowDir::Original,
            DataMode::Passive => FlowDir::Reply,
        };
        let now = ctx.now;
        let announcement = Announcement {
            host: ctx.host,
            control: ctx.control,
            now,
            mode,
            addr,
            port,
        };
        // What the line names is checked first, so a bounce is reported as one whenever it
        // comes; then whether this session may open a pinhole now.
        let settings = &ctx.host.settings().ftp;
        let monitor = settings.on_violation == ViolationOutcome::Monitor;
        let prepared = match announcement.accept() {
            Ok(prepared) => prepared,
            Err(refusal) if monitor => {
                // Reported, and followed as the endpoints will follow it.
                self.report(ctx, dir, refusal.0, line, "monitor");
                Some(announcement.as_named())
            }
            Err(refusal) => return self.refuse(ctx, dir, refusal.0, line),
        };
        let refusal = if settings.require_login && !self.logged_in {
            Some(Check::BeforeLogin)
        } else if prepared.is_some() {
            self.pinholes
                .retain(|(key, id)| ctx.host.expectation_is_live(key, *id, now));
            let full = self.pinholes.len() >= settings.max_pinholes.max(1);
            if full && monitor {
                // The oldest pinhole makes room: memory stays bounded, nothing is refused.
                if let Some((key, id)) = self.pinholes.front().copied() {
                    self.close_pinhole(ctx.host, key, id);
                }
            }
            full.then_some(Check::PinholeCap)
        } else {
            None
        };
        if let Some(check) = refusal.filter(|_| monitor) {
            self.report(ctx, dir, check, line, "monitor");
        } else if let Some(check) = refusal {
            if let Some((_, pinhole)) = &prepared {
                pinhole.release(ctx.host);
            }
            return self.refuse(ctx, dir, check, line);
        }
        let Some((accepted, pinhole)) = prepared else {
            // A server-to-server (FXP) transfer the rule file allows: no pinhole here.
            ctx.notice("fxp_allowed", line);
            self.push_pending(Pending::Port);
            return LineDecision::Keep;
        };
        // A fixed address (`PORT 0,0,0,0`, a private 227 address read as the server's) is
        // written into the line even where nothing is translated. A monitor rewrites nothing
        // (it is meant for analysis, with no translation).
        let rewrite_to = accepted.rewrite_to.or(fixed.then_some((addr, port)));
        let decision = match rewrite_to
            .filter(|_| !monitor)
            .map(|to| argument.rewritten(to))
        {
            Some(Some((range, with))) => {
                LineDecision::Replace(splice(line, range, with.as_bytes()))
            }
            Some(None) if monitor => {
                self.report(ctx, dir, Check::FamilyMismatch, line, "monitor");
                LineDecision::Keep
            }
            Some(None) => {
                pinhole.release(ctx.host);
                return self.refuse(ctx, dir, Check::FamilyMismatch, line);
            }
            None => LineDecision::Keep,
        };
        if let Some(replaced) = ctx.host.open_expectation(accepted.key, pinhole) {
            replaced.release(ctx.host);
        }
        self.pinholes.push_back((accepted.key, accepted.id));
        self.reply_announced = mode == DataMode::Passive;
        self.announced = Some(Announced {
            mode,
            by,
            key: accepted.key,
            id: accepted.id,
            data: None,
        });
        if mode == DataMode::Active {
            self.push_pending(Pending::Port);
        }
        decision
    }

    /// Gives up on the connection whatever `on_violation` says: the stream can no longer be
    /// followed (`check` says why). Reported like a violation; the caller resets both ends.
    /// A monitor reports it and goes on reading.
    pub fn abort(&mut self, ctx: &LineContext<'_>, dir: FlowDir, check: Check) {
        if ctx.host.settings().ftp.on_violation == ViolationOutcome::Monitor {
            ctx.violation(dir, check, b"", "monitor");
            return;
        }
        ctx.violation(dir, check, b"", "reset");
        self.reset = true;
    }

    /// Refuses a line: it never reaches its receiver. The violation is counted and reported,
    /// and the rule file's outcome applies: the client is owed an error reply for a refused
    /// command, a refused reply is replaced by an error reply, or the connection is reset.
    pub(super) fn refuse(
        &mut self,
        ctx: &LineContext<'_>,
        dir: FlowDir,
        check: Check,
        line: &[u8],
    ) -> LineDecision {
        let outcome = ctx.host.settings().ftp.on_violation;
        self.refuse_with(ctx, dir, check, line, outcome)
    }

    /// Refuses a line with `outcome` (the rule file's `on_violation`, or a reset another
    /// policy asks for): where every refusal's outcome is applied.
    pub(super) fn refuse_with(
        &mut self,
        ctx: &LineContext<'_>,
        dir: FlowDir,
        check: Check,
        line: &[u8],
        outcome: ViolationOutcome,
    ) -> LineDecision {
        let name = match outcome {
            ViolationOutcome::Reply => "reply",
            ViolationOutcome::Reset => "reset",
            ViolationOutcome::Monitor => "monitor",
        };
        self.report(ctx, dir, check, line, name);
        match (outcome, dir) {
            (ViolationOutcome::Monitor, FlowDir::Original) => {
                // The command passes; the server's reply answers it.
                self.push_pending(Pending::Other);
                LineDecision::Keep
            }
            (ViolationOutcome::Monitor, FlowDir::Reply) => LineDecision::Keep,
            (ViolationOutcome::Reset, _) => {
                self.reset = true;
                LineDecision::Replace(Vec::new())
            }
            (ViolationOutcome::Reply, FlowDir::Original) => {
                self.push_pending(Pending::Refused(refusal::command_refused(check)));
                LineDecision::Replace(Vec::new())
            }
            (ViolationOutcome::Reply, FlowDir::Reply) => {
                LineDecision::Replace(refusal::announcement_reply_refused(check))
            }
        }
    }
}

/// Most violations one transfer record lists.
const MAX_RECORDED_VIOLATIONS: usize = 8;

impl Session {
    /// Counts and reports a violation, and keeps its name for the record of the transfer it
    /// concerns (the one running, else the next).
    fn report(
        &mut self,
        ctx: &LineContext<'_>,
        dir: FlowDir,
        check: Check,
        line: &[u8],
        outcome: &'static str,
    ) {
        ctx.violation(dir, check, line, outcome);
        let kept = match &mut self.transfer {
            Some(transfer) => &mut transfer.violations,
            None => &mut self.violations,
        };
        if kept.len() < MAX_RECORDED_VIOLATIONS && !kept.contains(&check.name()) {
            kept.push(check.name());
        }
    }

    /// A client line violated `check`: refused, or under `monitor` only reported (`None`: the
    /// caller goes on with the line).
    pub(super) fn enforce(
        &mut self,
        ctx: &LineContext<'_>,
        check: Check,
        line: &[u8],
    ) -> Option<LineDecision> {
        if ctx.host.settings().ftp.on_violation == ViolationOutcome::Monitor {
            self.report(ctx, FlowDir::Original, check, line, "monitor");
            return None;
        }
        Some(self.refuse(ctx, FlowDir::Original, check, line))
    }

    /// Under `monitor`, a client line longer than `max_line` that starts a transfer: the
    /// violation is reported and the transfer followed with the argument's known prefix.
    /// `None` when not monitoring or the line is no transfer command.
    pub(super) fn monitor_overlong(
        &mut self,
        ctx: &LineContext<'_>,
        prefix: &[u8],
    ) -> Option<LineDecision> {
        if ctx.host.settings().ftp.on_violation != ViolationOutcome::Monitor {
            return None;
        }
        let mut terminated = prefix.to_vec();
        terminated.extend_from_slice(b"\r\n");
        let Ok(Command::Transfer { verb, arg }) = parse_command(&terminated) else {
            return None;
        };
        let arg = text(arg);
        self.report(
            ctx,
            FlowDir::Original,
            Check::LineTooLong,
            prefix,
            "monitor",
        );
        self.start_transfer(ctx, verb, arg);
        self.push_pending(Pending::Transfer);
        Some(LineDecision::Keep)
    }
}
