//! What one FTP control connection has said: commands waiting for replies, the user, whether
//! the login succeeded, the current directory, the data connection announced, the transfer in
//! progress, the pinholes it holds, the error replies the gateway owes the client. Decides,
//! line by line, what each complete line becomes under the rule file's policy (data-port
//! floor, FXP, login, TLS, pipelining, pinhole cap, violation outcome), and writes the
//! transfer log record when a transfer's final reply arrives.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::announce;
use super::command::{parse_command, Command, TransferVerb};
use super::format;
use super::pinhole::{DataMode, PinholeKey};
use super::record::{transfer_record, Announced, Finished, Transfer};
use super::reply::{parse_227, parse_229, parse_257, parse_reply_line, LineKind};
use super::stream::LineDecision;
use super::transfer::{change_directory, join, parent};
use crate::engine::conntrack::{Flow, FlowDir, ProtoState};
use crate::engine::events::Event;
use crate::engine::settings::TlsPolicy;
use crate::engine::Engine;

mod checks;
mod facts;
pub use facts::SessionFacts;

/// Most commands remembered while their replies are outstanding.
const MAX_PENDING: usize = 16;

#[derive(Debug, Clone)]
enum Pending {
    User,
    Pass,
    Cwd(String),
    Cdup,
    Pwd,
    Pasv,
    Epsv,
    Transfer,
    Auth,
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
}

/// What a line handler needs from the outside world.
pub struct LineContext<'a> {
    /// The engine.
    pub engine: &'a Engine,
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

/// `line` with `range` replaced by `with`.
fn splice(line: &[u8], range: std::ops::Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + with.len());
    out.extend_from_slice(&line[..range.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&line[range.end..]);
    out
}

/// The rewrite of a `h1,h2,h3,h4,p1,p2` argument (PORT, 227) at `arg` to a new IPv4 endpoint.
fn host_port_rewrite(
    arg: std::ops::Range<usize>,
) -> impl FnOnce((IpAddr, u16)) -> Option<(std::ops::Range<usize>, format::ArgText)> {
    move |to| match to {
        (IpAddr::V4(addr), port) => Some((arg, format::host_port(addr, port))),
        _ => None,
    }
}

/// Client verbs whose line the ALG may refuse (announcements, requests for one, LPRT/LPSV,
/// AUTH): while partial, such a line is withheld, so a refused one never reaches the server
/// in part.
const CHECKED_VERBS: [&[u8]; 7] = [
    b"PORT", b"EPRT", b"PASV", b"EPSV", b"LPRT", b"LPSV", b"AUTH",
];

/// Whether a partial client line may still become one the ALG checks.
pub fn client_may_be_checked(line: &[u8]) -> bool {
    CHECKED_VERBS.iter().any(|word| {
        let n = line.len().min(word.len());
        line[..n].eq_ignore_ascii_case(&word[..n])
    })
}

/// Whether a partial server line may still become a 227 or 229 reply (the only server lines
/// the ALG checks).
pub fn server_may_be_checked(line: &[u8]) -> bool {
    [b"227".as_slice(), b"229"].iter().any(|code| {
        let n = line.len().min(code.len());
        line[..n] == code[..n]
    })
}

fn looks_like(line: &[u8], verb: &[u8]) -> bool {
    line.len() >= verb.len() && line[..verb.len()].eq_ignore_ascii_case(verb)
}

impl Session {
    /// The control connection ended: pinholes close, a transfer still waiting is logged.
    pub fn end(&mut self, engine: &Engine, control: &Flow) {
        self.close_pinholes(engine);
        self.flush(engine, control);
    }

    /// Logs a transfer still waiting for its data connection to close.
    pub fn flush(&mut self, engine: &Engine, control: &Flow) {
        if let Some(finished) = self.finished.take() {
            self.emit(engine, control, finished);
        }
    }

    /// A data connection is closing: its transfer, if its final reply has passed, is logged.
    pub fn data_closing(&mut self, engine: &Engine, control: &Flow, data: &Arc<Flow>) {
        let waiting_for_it = self
            .finished
            .as_ref()
            .and_then(|finished| finished.transfer.data())
            .is_some_and(|flow| Arc::ptr_eq(flow, data));
        if waiting_for_it {
            self.flush(engine, control);
        }
    }

    /// Closes every pinhole of the session (the control connection ended, or went blind).
    pub fn close_pinholes(&mut self, engine: &Engine) {
        for (key, id) in self.pinholes.drain(..) {
            if let Some(pinhole) = engine.pinholes.close(&key, id) {
                announce::release(engine, &pinhole);
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
        if self.open_reply.is_some() {
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

    /// Decides what a complete client line becomes.
    pub fn client_line(&mut self, ctx: &LineContext<'_>, line: &[u8]) -> LineDecision {
        if self.blind {
            return LineDecision::Keep;
        }
        if !line.ends_with(b"\n") {
            // Longer than `max_line`: only its prefix is known.
            if client_may_be_checked(line) {
                return self.refuse(ctx, FlowDir::Original, "line_too_long", line);
            }
            self.push_pending(Pending::Other);
            return LineDecision::Keep;
        }
        let command = match parse_command(line) {
            Ok(command) => command,
            Err(error) if looks_like(line, b"PORT") || looks_like(line, b"EPRT") => {
                return self.refuse(ctx, FlowDir::Original, error.check_name(), line);
            }
            Err(_) => return LineDecision::Keep,
        };
        let announces = matches!(
            command,
            Command::Port(_) | Command::Eprt(_) | Command::Pasv | Command::Epsv(_)
        );
        if announces && self.announcement_unconsumed() {
            // Two announcements awaiting replies with no transfer between them: which data
            // connection the next transfer uses would depend on how the server answers.
            return self.refuse(ctx, FlowDir::Original, "pipelined_announcement", line);
        }
        let pending = match command {
            Command::Port(hp) => {
                return self.announce(
                    ctx,
                    line,
                    DataMode::Active,
                    "PORT",
                    IpAddr::V4(hp.addr),
                    hp.port,
                    host_port_rewrite(hp.arg.clone()),
                );
            }
            Command::Eprt(ep) => {
                let delimiter = ep.delimiter;
                return self.announce(
                    ctx,
                    line,
                    DataMode::Active,
                    "EPRT",
                    ep.addr,
                    ep.port,
                    |(addr, port)| {
                        Some((
                            ep.arg.clone(),
                            format::extended_host_port(delimiter, addr, port),
                        ))
                    },
                );
            }
            Command::Pasv => Pending::Pasv,
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
            Command::Auth(_) if ctx.engine.settings.ftp.tls == TlsPolicy::Block => {
                return self.refuse(ctx, FlowDir::Original, "tls_blocked", line);
            }
            Command::Auth(_) => Pending::Auth,
            Command::Rein => Pending::Rein,
            Command::Other { verb }
                if verb.eq_ignore_ascii_case(b"LPRT") || verb.eq_ignore_ascii_case(b"LPSV") =>
            {
                // RFC 1639 long addresses: announcements the ALG does not follow.
                return self.refuse(ctx, FlowDir::Original, "unsupported_command", line);
            }
            Command::Quit | Command::Other { .. } => Pending::Other,
        };
        self.push_pending(pending);
        LineDecision::Keep
    }

    fn start_transfer(&mut self, ctx: &LineContext<'_>, verb: TransferVerb, arg: String) {
        self.flush(ctx.engine, ctx.control);
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
        });
    }

    /// Decides what a complete server line becomes.
    pub fn server_line(&mut self, ctx: &LineContext<'_>, line: &[u8]) -> LineDecision {
        if self.blind {
            return LineDecision::Keep;
        }
        // Longer than `max_line` (only its prefix is known): an announcement the ALG cannot
        // read whole is refused.
        let overlong = !line.ends_with(b"\n") && server_may_be_checked(line);
        let reply = parse_reply_line(line);
        let Some(code) = reply.code else {
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
        let expecting = self.pending.front().cloned();
        let decision = match (code, &expecting) {
            _ if overlong => self.refuse(ctx, FlowDir::Reply, "line_too_long", line),
            (227 | 229, _) if self.reply_announced => LineDecision::Keep,
            (227, Some(Pending::Pasv)) if reply.kind != LineKind::Text => match parse_227(line) {
                Ok(hp) => self.announce(
                    ctx,
                    line,
                    DataMode::Passive,
                    "PASV",
                    IpAddr::V4(hp.addr),
                    hp.port,
                    host_port_rewrite(hp.arg.clone()),
                ),
                Err(error) if closes => self.refuse(ctx, FlowDir::Reply, error.check_name(), line),
                Err(_) => LineDecision::Keep,
            },
            (229, Some(Pending::Epsv)) if reply.kind != LineKind::Text => match parse_229(line) {
                Ok(epsv) => {
                    let server = ctx.control.reply.src;
                    self.announce(
                        ctx,
                        line,
                        DataMode::Passive,
                        "EPSV",
                        server,
                        epsv.port,
                        |(_, port)| Some((epsv.arg.clone(), format::epsv_port(port))),
                    )
                }
                Err(error) if closes => self.refuse(ctx, FlowDir::Reply, error.check_name(), line),
                Err(_) => LineDecision::Keep,
            },
            (227 | 229, _) if closes => self.refuse(ctx, FlowDir::Reply, "unsolicited_reply", line),
            _ => LineDecision::Keep,
        };
        if !closes {
            return decision;
        }
        // Error replies owed for refused commands go where the server's replies to them would
        // have been: before this reply if they were owed already, after it if they were
        // waiting behind the command it answers.
        let before = self.take_owed();
        self.reply_announced = false;
        self.complete_reply(ctx, code, line);
        let after = self.take_owed();
        if before.is_none() && after.is_none() {
            return decision;
        }
        let mut out = before.unwrap_or_default();
        match decision {
            LineDecision::Keep => out.extend_from_slice(line),
            LineDecision::Replace(bytes) => out.extend_from_slice(&bytes),
        }
        out.extend_from_slice(&after.unwrap_or_default());
        LineDecision::Replace(out)
    }

    fn complete_reply(&mut self, ctx: &LineContext<'_>, code: u16, line: &[u8]) {
        if code < 200 {
            return; // preliminary: the command is still running
        }
        let Some(pending) = self.pending.pop_front() else {
            return;
        };
        let success = (200..400).contains(&code);
        if matches!(code, 230 | 232)
            && matches!(pending, Pending::User | Pending::Pass | Pending::Other)
        {
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
                self.close_pinholes(ctx.engine);
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
        self.flush(ctx.engine, ctx.control);
        if let Some(unused) = transfer.announced.as_ref().filter(|a| a.data.is_none()) {
            // The transfer is over: its data connection can no longer come.
            self.close_pinhole(ctx.engine, unused.key, unused.id);
        }
        let still_open = transfer
            .data()
            .is_some_and(|data| match &data.lock().proto {
                ProtoState::Tcp(tcp) => !tcp.closing(),
                _ => false,
            });
        let finished = Finished {
            transfer,
            code,
            reply: text(line.get(4..).unwrap_or_default()),
            at: ctx.now,
        };
        if still_open {
            self.finished = Some(finished);
        } else {
            self.emit(ctx.engine, ctx.control, finished);
        }
    }

    fn emit(&self, engine: &Engine, control: &Flow, finished: Finished) {
        let record = transfer_record(control, self.user.clone(), finished);
        engine.emit(Event::Transfer(Box::new(record)));
    }

    fn close_pinhole(&mut self, engine: &Engine, key: PinholeKey, id: u64) {
        self.pinholes.retain(|held| *held != (key, id));
        if let Some(pinhole) = engine.pinholes.close(&key, id) {
            announce::release(engine, &pinhole);
        }
    }
}
