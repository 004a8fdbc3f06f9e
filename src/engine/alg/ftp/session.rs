//! What one FTP control connection has said: whether it is FTP at all (the server greeted
//! with 220, every client line is an FTP command), commands waiting for replies (one entry
//! per line the server received), the user, whether the login succeeded, the current
//! directory, the data connection announced, the transfer in progress, the pinholes it holds,
//! the error replies the gateway owes the client. Decides, line by line, what each complete
//! line becomes under the rule file's policy (framing, Telnet commands, line length, data-port
//! floor, FXP, login, TLS, pipelining, pinhole cap, non-FTP and violation outcomes), and writes
//! the transfer log record when a transfer's final reply arrives. A line is judged the way a
//! server reads it: Telnet commands stripped first. It must never let a line it could not
//! classify open anything.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::check::Check;
use super::command::{parse_command, Command, EpsvArg, TransferVerb};
use super::expect::{DataMode, PinholeKey};
use super::host::AlgHost;
use super::nat::Argument;
use super::record::{transfer_record, Announced, Finished, Transfer};
use super::reply::{parse_227, parse_229, parse_257, parse_reply_line, LineKind};
use super::stream::LineDecision;
use super::telnet::{self, IAC};
use super::transfer::{change_directory, join, parent};
use super::verbs::{is_ftp_verb, verb_of};
use crate::engine::conntrack::{FlowDir, ProtoState};
use crate::engine::events::Event;
use crate::engine::settings::TlsPolicy;
use crate::engine::Flow;

mod checks;
mod facts;
mod trust;
pub use facts::SessionFacts;

/// Most commands remembered while their replies are outstanding; a client line beyond them
/// resets the connection (`pipeline_too_deep`), so replies are never matched to the wrong
/// command.
const MAX_PENDING: usize = 64;

#[derive(Debug, Clone)]
enum Pending {
    User,
    Pass,
    Acct,
    Cwd(String),
    Cdup,
    Pwd,
    Pasv,
    Epsv,
    Transfer,
    Auth,
    Adat,
    Rein,
    /// An accepted PORT / EPRT, until its reply.
    Port,
    /// A refused command: the error reply the gateway owes the client in its place.
    Refused(Vec<u8>),
    Other,
}

impl Pending {
    /// Whether the command announces a data connection (or asks the server to).
    fn announces(&self) -> bool {
        matches!(self, Pending::Pasv | Pending::Epsv | Pending::Port)
    }
}

/// The state of one control connection, apart from its byte streams.
#[derive(Debug, Default)]
pub struct Session {
    /// After AUTH TLS was accepted, the streams are unreadable: nothing is parsed any more.
    pub blind: bool,
    /// The server greeted (220): until then the client may send only USER.
    greeted: bool,
    /// The connection showed it is not FTP: it passes unread for good.
    non_ftp: bool,
    /// The server's last line did not end in CRLF: where the next one starts, receivers may
    /// disagree, so it is never an announcement.
    server_unclean_start: bool,
    /// A violation asked for the connection to be reset (`on_violation: reset`).
    reset: bool,
    /// The server accepted a login (230 / 232) since the greeting or the last REIN.
    logged_in: bool,
    user: Option<String>,
    cwd: Option<String>,
    pending: VecDeque<Pending>,
    open_reply: Option<u16>,
    /// The reply being read already carried its announcement (a multi-line 227 / 229).
    reply_announced: bool,
    announced: Option<Announced>,
    transfer: Option<Transfer>,
    finished: Option<Finished>,
    pinholes: VecDeque<(PinholeKey, u64)>,
    /// Checks violated since the last transfer command (or by it), for its record.
    violations: Vec<&'static str>,
}

/// What a line handler needs from the outside world.
pub struct LineContext<'a> {
    /// The engine.
    pub host: &'a dyn AlgHost,
    /// The control connection.
    pub control: &'a Arc<Flow>,
    /// Engine time.
    pub now: Duration,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\r', '\n'])
        .to_string()
}

/// Client verbs that announce, ask for an announcement or change what the ALG can read:
/// hiding one among Telnet commands is refused (`telnet_command`).
const CHECKED_VERBS: [&[u8]; 7] = [
    b"PORT", b"EPRT", b"PASV", b"EPSV", b"LPRT", b"LPSV", b"AUTH",
];

/// Whether a partial server line may still become a 227 or 229 reply (the only server lines
/// the ALG checks).
pub fn server_may_be_checked(line: &[u8]) -> bool {
    [b"227".as_slice(), b"229"].iter().any(|code| {
        let n = line.len().min(code.len());
        line[..n] == code[..n]
    })
}

/// The verbs that name a data-connection address: checked for bounces even in a session
/// marked non-FTP, since a server behind that session may still obey them.
const BOUNCE_VERBS: [&[u8]; 3] = [b"PORT", b"EPRT", b"LPRT"];

/// Whether a partial client line of a session marked non-FTP may still become a PORT, EPRT
/// or LPRT once Telnet commands are stripped: it is withheld until it ends.
pub fn client_may_be_bounce(line: &[u8]) -> bool {
    let heard = telnet::strip(line);
    BOUNCE_VERBS.iter().any(|verb| {
        let n = heard.len().min(verb.len());
        heard[..n].eq_ignore_ascii_case(&verb[..n])
    })
}

fn looks_like(line: &[u8], verb: &[u8]) -> bool {
    line.len() >= verb.len() && line[..verb.len()].eq_ignore_ascii_case(verb)
}

impl Session {
    /// The session of a control connection picked up mid-stream: its greeting was not seen.
    /// No login can be seen either, so with `require_login` it never announces.
    pub fn picked_up() -> Self {
        Self {
            greeted: true,
            ..Self::default()
        }
    }

    /// Whether lines are still read: not blind after TLS, not marked non-FTP, not being
    /// reset (nothing after the line that asked for the reset counts).
    pub fn reads_lines(&self) -> bool {
        !self.blind && !self.non_ftp && !self.reset
    }

    /// Whether the client's lines are still checked for bounces only: the session is marked
    /// non-FTP (never with the server inside), not blind, not being reset.
    pub fn checks_bounces_only(&self) -> bool {
        self.non_ftp && !self.blind && !self.reset
    }

    /// The control connection ended: pinholes close, a transfer still waiting is logged.
    pub fn end(&mut self, host: &dyn AlgHost, control: &Flow) {
        self.close_pinholes(host);
        self.flush(host, control);
    }

    /// Logs a transfer still waiting for its data connection to close.
    pub fn flush(&mut self, host: &dyn AlgHost, control: &Flow) {
        if let Some(finished) = self.finished.take() {
            self.emit(host, control, finished);
        }
    }

    /// The input ended (the end of a replay): the transfer waiting for its data connection to
    /// close and the one waiting for its final reply are logged with what was seen, marked
    /// incomplete; the pinholes close.
    pub fn flush_at_end(&mut self, host: &dyn AlgHost, control: &Flow, now: Duration) {
        if let Some(mut finished) = self.finished.take() {
            // Its final reply passed; it is incomplete if its data connection is still open.
            finished.incomplete =
                finished
                    .transfer
                    .data()
                    .is_some_and(|data| match &data.lock().proto {
                        ProtoState::Tcp(tcp) => !tcp.closing(),
                        _ => false,
                    });
            self.emit(host, control, finished);
        }
        if let Some(transfer) = self.transfer.take() {
            let finished = Finished {
                transfer,
                code: 0,
                reply: String::new(),
                at: now,
                incomplete: true,
            };
            self.emit(host, control, finished);
        }
        self.close_pinholes(host);
    }

    /// A data connection is closing: its transfer, if its final reply has passed, is logged.
    pub fn data_closing(&mut self, host: &dyn AlgHost, control: &Flow, data: &Arc<Flow>) {
        let waiting_for_it = self
            .finished
            .as_ref()
            .and_then(|finished| finished.transfer.data())
            .is_some_and(|flow| Arc::ptr_eq(flow, data));
        if waiting_for_it {
            self.flush(host, control);
        }
    }

    /// Closes every pinhole of the session (the control connection ended, or went blind).
    pub fn close_pinholes(&mut self, host: &dyn AlgHost) {
        for (key, id) in self.pinholes.drain(..) {
            if let Some(pinhole) = host.close_expectation(&key, id) {
                pinhole.release(host);
            }
        }
    }

    /// Whether a violation asked for the connection to be reset.
    pub fn reset_requested(&self) -> bool {
        self.reset
    }

    /// The error replies owed to the client that are due now: nothing the server says is
    /// awaited before them. The caller inserts them into the server's stream.
    pub fn take_due_replies(&mut self) -> Option<Vec<u8>> {
        if self.open_reply.is_some() || !self.greeted {
            return None;
        }
        self.take_owed()
    }

    /// Takes the error replies owed at the front of the pending commands.
    fn take_owed(&mut self) -> Option<Vec<u8>> {
        let mut owed = Vec::new();
        while let Some(Pending::Refused(_)) = self.pending.front() {
            if let Some(Pending::Refused(reply)) = self.pending.pop_front() {
                owed.extend_from_slice(&reply);
            }
        }
        (!owed.is_empty()).then_some(owed)
    }

    /// Whether an announcement awaits its reply with no transfer command sent after it.
    fn announcement_unconsumed(&self) -> bool {
        self.pending
            .iter()
            .rev()
            .find(|p| p.announces() || matches!(p, Pending::Transfer))
            .is_some_and(Pending::announces)
    }

    fn push_pending(&mut self, pending: Pending) {
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(pending);
    }

    /// A data connection matched one of this session's pinholes.
    pub fn data_connected(&mut self, key: &PinholeKey, data: Arc<Flow>) {
        self.pinholes.retain(|(k, _)| k != key);
        if let Some(transfer) = &mut self.transfer {
            if let Some(announced) = transfer.announced.as_mut().filter(|a| a.key == *key) {
                announced.data = Some(data);
                return;
            }
        }
        if let Some(announced) = self.announced.as_mut().filter(|a| a.key == *key) {
            announced.data = Some(data);
        }
    }

    /// Decides what a client line becomes. `ended` is false only for an over-long line
    /// offered as it passes `max_line` (its bounded prefix, more to come).
    pub fn client_line(&mut self, ctx: &LineContext<'_>, line: &[u8], ended: bool) -> LineDecision {
        if self.checks_bounces_only() {
            return self.non_ftp_client_line(ctx, line, ended);
        }
        if !self.reads_lines() {
            return LineDecision::Keep;
        }
        // What the server will read: Telnet commands interpreted and removed.
        let heard = telnet::strip(line);
        let verb = verb_of(&heard);
        let is_ftp = is_ftp_verb(verb) && (self.greeted || verb.eq_ignore_ascii_case(b"USER"));
        if !ended {
            // An over-long line is refused when it ends, withheld until then, whatever its
            // verb: a server that cuts it reads its tail as a command of its own, so it can
            // not mark the session non-FTP (and pass unread) either.
            return LineDecision::Defer;
        }
        if self.pending.len() >= MAX_PENDING {
            self.abort(ctx, FlowDir::Original, Check::PipelineTooDeep);
            if self.reset_requested() {
                return LineDecision::Replace(Vec::new());
            }
        }
        if !line.ends_with(b"\n") {
            // Longer than `max_line`, whatever its verb: never reaches the server in part
            // (a monitor logs a transfer command it cannot read whole, with its violation).
            if let Some(decision) = self.monitor_overlong(ctx, line) {
                return decision;
            }
            return self.refuse(ctx, FlowDir::Original, Check::LineTooLong, line);
        }
        if !is_ftp {
            return self.not_ftp(ctx, FlowDir::Original, line);
        }
        if let Some(check) = trust::framing_defect(line) {
            return self.refuse(ctx, FlowDir::Original, check, line);
        }
        let telnet_hides = || {
            CHECKED_VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb))
                || telnet::servers_disagree(line)
        };
        if heard.as_ref() != line && telnet_hides() {
            return self.refuse(ctx, FlowDir::Original, Check::TelnetCommand, line);
        }
        let command = match parse_command(&heard) {
            Ok(command) => command,
            Err(error) if looks_like(&heard, b"PORT") || looks_like(&heard, b"EPRT") => {
                return self.refuse(ctx, FlowDir::Original, error.into(), line);
            }
            Err(_) => {
                // The server answers it (an error, most likely): it has its place in the queue.
                self.push_pending(Pending::Other);
                return LineDecision::Keep;
            }
        };
        let announces = match command {
            Command::Port(_) | Command::Eprt(_) | Command::Pasv => true,
            Command::Epsv(arg) => arg != EpsvArg::All,
            _ => false,
        };
        if announces && self.announcement_unconsumed() {
            // Two announcements awaiting replies with no transfer between them: which data
            // connection the next transfer uses would depend on how the server answers.
            if let Some(refused) = self.enforce(ctx, Check::PipelinedAnnouncement, line) {
                return refused;
            }
        }
        let pending = match command {
            Command::Port(hp) => {
                let (addr, fixed) = trust::own_if_unspecified(ctx, IpAddr::V4(hp.addr));
                return self.announce(
                    ctx,
                    line,
                    DataMode::Active,
                    ("PORT", fixed),
                    addr,
                    hp.port,
                    Argument::HostPort(hp.arg.clone()),
                );
            }
            Command::Eprt(ep) => {
                let delimiter = ep.delimiter;
                let (addr, fixed) = trust::own_if_unspecified(ctx, ep.addr);
                return self.announce(
                    ctx,
                    line,
                    DataMode::Active,
                    ("EPRT", fixed),
                    addr,
                    ep.port,
                    Argument::Extended {
                        arg: ep.arg.clone(),
                        delimiter,
                    },
                );
            }
            Command::Pasv => Pending::Pasv,
            Command::Epsv(EpsvArg::All) => Pending::Other,
            Command::Epsv(_) => Pending::Epsv,
            Command::User(name) => {
                self.user = Some(text(name));
                Pending::User
            }
            Command::Pass => Pending::Pass,
            Command::Cwd(dir) => Pending::Cwd(text(dir)),
            Command::Cdup => Pending::Cdup,
            Command::Pwd => Pending::Pwd,
            Command::Transfer { verb, arg } => {
                self.start_transfer(ctx, verb, text(arg));
                Pending::Transfer
            }
            Command::Auth(_) if ctx.host.settings().ftp.tls == TlsPolicy::Block => {
                return self.refuse(ctx, FlowDir::Original, Check::TlsBlocked, line);
            }
            Command::Auth(_) => Pending::Auth,
            Command::Rein => Pending::Rein,
            Command::Other { verb } if verb.eq_ignore_ascii_case(b"ACCT") => Pending::Acct,
            Command::Other { verb } if verb.eq_ignore_ascii_case(b"ADAT") => Pending::Adat,
            Command::Other { verb }
                if verb.eq_ignore_ascii_case(b"LPRT") || verb.eq_ignore_ascii_case(b"LPSV") =>
            {
                // RFC 1639 long addresses: announcements the ALG does not follow.
                return self.refuse(ctx, FlowDir::Original, Check::UnsupportedCommand, line);
            }
            Command::Quit | Command::Other { .. } => Pending::Other,
        };
        self.push_pending(pending);
        LineDecision::Keep
    }

    fn start_transfer(&mut self, ctx: &LineContext<'_>, verb: TransferVerb, arg: String) {
        self.flush(ctx.host, ctx.control);
        let listing = matches!(
            verb,
            TransferVerb::List | TransferVerb::Nlst | TransferVerb::Mlsd
        );
        let path_arg = if listing && arg.starts_with('-') {
            ""
        } else {
            arg.as_str()
        };
        self.transfer = Some(Transfer {
            verb,
            path: join(self.cwd.as_deref(), path_arg),
            arg,
            started: ctx.now,
            announced: self.announced.take(),
            violations: std::mem::take(&mut self.violations),
        });
    }

    /// Decides what a server line becomes. `ended` is false only for an over-long line
    /// offered as it passes `max_line` (its bounded prefix, more to come).
    pub fn server_line(&mut self, ctx: &LineContext<'_>, line: &[u8], ended: bool) -> LineDecision {
        if !self.reads_lines() {
            return LineDecision::Keep;
        }
        let unclean_start =
            std::mem::replace(&mut self.server_unclean_start, !line.ends_with(b"\r\n"));
        // Longer than `max_line` (only its prefix is known): an announcement the ALG cannot
        // read whole is refused.
        let overlong = !line.ends_with(b"\n") && server_may_be_checked(line);
        let reply = parse_reply_line(line);
        let starts_reply = self.open_reply.is_none();
        let Some(code) = reply.code else {
            if starts_reply && !self.greeted {
                return self.not_ftp(ctx, FlowDir::Reply, line);
            }
            return LineDecision::Keep;
        };
        let closes = match (reply.kind, self.open_reply) {
            (LineKind::Start, None) => {
                self.open_reply = Some(code);
                false
            }
            (LineKind::Final, Some(open)) if open == code => {
                self.open_reply = None;
                true
            }
            (LineKind::Final, None) => true,
            _ => false,
        };
        if !self.greeted {
            return self.greeting(ctx, line, code, closes, ended);
        }
        // The command this reply answers: the first one the server received (the error
        // replies owed for refused lines are the gateway's, not the server's).
        let expecting = self
            .pending
            .iter()
            .find(|p| !matches!(p, Pending::Refused(_)))
            .cloned();
        // An announcement stands only on the first line of the reply that answers the PASV /
        // EPSV at the head of the queue (or on the final line of a multi-line 227 / 229),
        // where every receiver sees a line start: never on a line inside another reply.
        let may_announce = !unclean_start && (starts_reply || closes);
        let answers = matches!(expecting, Some(Pending::Pasv | Pending::Epsv));
        let decision = match (code, &expecting) {
            _ if overlong => {
                let refused = self.refuse(ctx, FlowDir::Reply, Check::LineTooLong, line);
                trust::unterminated_if_cut(refused, ended)
            }
            (227 | 229, _) if self.reply_announced => LineDecision::Keep,
            (227 | 229, _) if answers && may_announce && line.contains(&IAC) => {
                self.refuse(ctx, FlowDir::Reply, Check::TelnetCommand, line)
            }
            (227, Some(Pending::Pasv)) if may_announce => match parse_227(line) {
                Ok(hp) => {
                    let (addr, fixed) = self.fixed_pasv_address(ctx, IpAddr::V4(hp.addr), line);
                    self.announce(
                        ctx,
                        line,
                        DataMode::Passive,
                        ("PASV", fixed),
                        addr,
                        hp.port,
                        Argument::HostPort(hp.arg.clone()),
                    )
                }
                Err(error) if closes => self.refuse(ctx, FlowDir::Reply, error.into(), line),
                Err(_) => LineDecision::Keep,
            },
            (229, Some(Pending::Epsv)) if may_announce => match parse_229(line) {
                Ok(epsv) => {
                    let server = ctx.control.reply.src;
                    self.announce(
                        ctx,
                        line,
                        DataMode::Passive,
                        ("EPSV", false),
                        server,
                        epsv.port,
                        Argument::PortOnly(epsv.arg.clone()),
                    )
                }
                Err(error) if closes => self.refuse(ctx, FlowDir::Reply, error.into(), line),
                Err(_) => LineDecision::Keep,
            },
            (227 | 229, _) if closes => {
                self.refuse(ctx, FlowDir::Reply, Check::UnsolicitedReply, line)
            }
            _ => LineDecision::Keep,
        };
        if !closes {
            return decision;
        }
        // Error replies owed for refused commands go where the server's replies to them would
        // have been: before this reply if they were owed already, after it if they were
        // waiting behind the command it answers. (Not inside a line still going on: they
        // wait for the next line boundary.)
        let before = if ended { self.take_owed() } else { None };
        self.reply_announced = false;
        self.complete_reply(ctx, code, line);
        let after = if ended { self.take_owed() } else { None };
        with_owed(before, decision, line, after)
    }

    fn complete_reply(&mut self, ctx: &LineContext<'_>, code: u16, line: &[u8]) {
        if code < 200 {
            return; // preliminary: the command is still running
        }
        // The first command the server received (refused lines' entries are not its).
        let answered = self
            .pending
            .iter()
            .position(|p| !matches!(p, Pending::Refused(_)));
        let Some(pending) = answered.and_then(|at| self.pending.remove(at)) else {
            return;
        };
        let success = (200..400).contains(&code);
        // A login is a 230 / 232 answering USER, PASS or ACCT, or a 232 / 235 answering the
        // security exchange (RFC 2228): never a reply to anything else.
        let login = match pending {
            Pending::User | Pending::Pass | Pending::Acct => matches!(code, 230 | 232),
            Pending::Auth | Pending::Adat => matches!(code, 232 | 235),
            _ => false,
        };
        if login {
            self.logged_in = true;
        }
        match pending {
            Pending::Pwd if code == 257 => {
                if let Some(path) = parse_257(line) {
                    self.cwd = Some(String::from_utf8_lossy(&path).into_owned());
                }
            }
            Pending::Cwd(dir) if success => self.cwd = change_directory(self.cwd.as_deref(), &dir),
            Pending::Cdup if success => self.cwd = parent(self.cwd.as_deref()),
            Pending::Transfer => self.transfer_replied(ctx, code, line),
            Pending::Auth if code == 234 => {
                self.blind = true;
                self.close_pinholes(ctx.host);
                ctx.notice("tls_pass_blind", line);
            }
            Pending::Rein if success => {
                self.user = None;
                self.cwd = None;
                self.logged_in = false;
            }
            _ => {}
        }
    }

    fn transfer_replied(&mut self, ctx: &LineContext<'_>, code: u16, line: &[u8]) {
        let Some(transfer) = self.transfer.take() else {
            return;
        };
        self.flush(ctx.host, ctx.control);
        if let Some(unused) = transfer.announced.as_ref().filter(|a| a.data.is_none()) {
            // The transfer is over: its data connection can no longer come.
            self.close_pinhole(ctx.host, unused.key, unused.id);
        }
        // Open, or closed with segments still missing (reordered behind its FIN).
        let still_open = transfer
            .data()
            .is_some_and(|data| match &data.lock().proto {
                ProtoState::Tcp(tcp) => !tcp.closing() || tcp.has_gaps(),
                _ => false,
            });
        let finished = Finished {
            transfer,
            code,
            reply: text(line.get(4..).unwrap_or_default()),
            at: ctx.now,
            incomplete: false,
        };
        if still_open {
            self.finished = Some(finished);
        } else {
            self.emit(ctx.host, ctx.control, finished);
        }
    }

    fn emit(&self, host: &dyn AlgHost, control: &Flow, finished: Finished) {
        let record = transfer_record(control, self.user.clone(), finished);
        host.report(Event::Transfer(Box::new(record)));
    }

    fn close_pinhole(&mut self, host: &dyn AlgHost, key: PinholeKey, id: u64) {
        self.pinholes.retain(|held| *held != (key, id));
        if let Some(pinhole) = host.close_expectation(&key, id) {
            pinhole.release(host);
        }
    }
}

/// `decision` for `line` with the owed error replies before and after it.
fn with_owed(
    before: Option<Vec<u8>>,
    decision: LineDecision,
    line: &[u8],
    after: Option<Vec<u8>>,
) -> LineDecision {
    if before.is_none() && after.is_none() {
        return decision;
    }
    let mut out = before.unwrap_or_default();
    match decision {
        LineDecision::Keep | LineDecision::Defer => out.extend_from_slice(line),
        LineDecision::Replace(bytes) => out.extend_from_slice(&bytes),
    }
    out.extend_from_slice(&after.unwrap_or_default());
    LineDecision::Replace(out)
}
