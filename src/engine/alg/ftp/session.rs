//! What one FTP control connection has said: commands waiting for replies, the user, the
//! current directory, the data connection announced, the transfer in progress, the pinholes
//! it holds. Decides, line by line, what each complete line becomes, and writes the transfer
//! log record when a transfer's final reply arrives.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::announce::{self, Announcement};
use super::command::{parse_command, Command, TransferVerb};
use super::format;
use super::pinhole::{DataMode, PinholeKey};
use super::reply::{parse_227, parse_229, parse_257, parse_reply_line, LineKind};
use super::stream::LineDecision;
use super::transfer::{change_directory, join, parent, TransferRecord};
use crate::engine::conntrack::{Flow, FlowDir, FlowKey, ProtoState};
use crate::engine::events::Event;
use crate::engine::Engine;

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
    Other,
}

#[derive(Debug, Clone)]
struct Announced {
    mode: DataMode,
    by: &'static str,
    key: PinholeKey,
    data: Option<Arc<Flow>>,
}

#[derive(Debug, Clone)]
struct Transfer {
    verb: TransferVerb,
    arg: String,
    path: Option<String>,
    started: Duration,
    announced: Option<Announced>,
}

impl Transfer {
    fn data(&self) -> Option<&Arc<Flow>> {
        self.announced.as_ref().and_then(|a| a.data.as_ref())
    }
}

/// A transfer whose final reply has passed, waiting for its data connection to close (its
/// last segments may still be on their way when the reply overtakes them).
#[derive(Debug, Clone)]
struct Finished {
    transfer: Transfer,
    code: u16,
    reply: String,
    at: Duration,
}

/// The state of one control connection, apart from its byte streams.
#[derive(Debug, Default)]
pub struct Session {
    /// After AUTH TLS was accepted, the streams are unreadable: nothing is parsed any more.
    pub blind: bool,
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

/// Whether a partial client line may still become PORT or EPRT.
pub fn client_may_announce(line: &[u8]) -> bool {
    [b"PORT".as_slice(), b"EPRT"].iter().any(|word| {
        let n = line.len().min(word.len());
        line[..n].eq_ignore_ascii_case(&word[..n])
    })
}

/// Whether a partial server line may still become a 227 or 229 reply.
pub fn server_may_announce(line: &[u8]) -> bool {
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
        let command = match parse_command(line) {
            Ok(command) => command,
            Err(error) if looks_like(line, b"PORT") || looks_like(line, b"EPRT") => {
                return self.refuse(ctx, FlowDir::Original, error.check_name(), line);
            }
            Err(_) => return LineDecision::Keep,
        };
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
                self.flush(ctx.engine, ctx.control);
                let arg = text(arg);
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
                Pending::Transfer
            }
            Command::Auth(_) => Pending::Auth,
            Command::Rein => Pending::Rein,
            Command::Quit | Command::Other { .. } => Pending::Other,
        };
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(pending);
        LineDecision::Keep
    }

    /// Decides what a complete server line becomes.
    pub fn server_line(&mut self, ctx: &LineContext<'_>, line: &[u8]) -> LineDecision {
        if self.blind {
            return LineDecision::Keep;
        }
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
        if closes {
            self.reply_announced = false;
            self.complete_reply(ctx, code, line);
        }
        decision
    }

    fn complete_reply(&mut self, ctx: &LineContext<'_>, code: u16, line: &[u8]) {
        if code < 200 {
            return; // preliminary: the command is still running
        }
        let Some(pending) = self.pending.pop_front() else {
            return;
        };
        let success = (200..400).contains(&code);
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
            }
            Pending::Rein if success => {
                self.user = None;
                self.cwd = None;
            }
            Pending::User | Pending::Pass | Pending::Pasv | Pending::Epsv => {}
            _ => {}
        }
    }

    fn transfer_replied(&mut self, ctx: &LineContext<'_>, code: u16, line: &[u8]) {
        let Some(transfer) = self.transfer.take() else {
            return;
        };
        self.flush(ctx.engine, ctx.control);
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
        let Finished {
            transfer,
            code,
            reply,
            at,
        } = finished;
        let endpoint = |addr: IpAddr, port: u16| match addr {
            IpAddr::V4(v4) => format!("{v4}:{port}"),
            IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        };
        let key_ends = |key: &FlowKey| {
            (
                endpoint(key.src, key.src_port),
                endpoint(key.dst, key.dst_port),
            )
        };
        let client_translated = control.translated_key(FlowDir::Original);
        let (data_orig, data_resp, data_orig_translated, data_resp_translated, bytes) =
            match transfer.data() {
                Some(flow) => {
                    let (orig, resp) = key_ends(&flow.original);
                    let (orig_t, resp_t) = key_ends(&flow.translated_key(FlowDir::Original));
                    let bytes = flow.lock().tcp_payload();
                    (Some(orig), Some(resp), Some(orig_t), Some(resp_t), bytes)
                }
                None => (None, None, None, None, 0),
            };
        let announced = transfer.announced.as_ref();
        let record = TransferRecord {
            ts: transfer.started.as_secs_f64(),
            duration: at.saturating_sub(transfer.started).as_secs_f64(),
            client: endpoint(control.original.src, control.original.src_port),
            client_translated: endpoint(client_translated.src, client_translated.src_port),
            server: endpoint(control.reply.src, control.reply.src_port),
            server_translated: endpoint(control.original.dst, control.original.dst_port),
            data_orig,
            data_resp,
            data_orig_translated,
            data_resp_translated,
            user: self.user.clone(),
            command: transfer.verb.as_str().to_string(),
            path: transfer.path,
            arg: transfer.arg,
            direction: if transfer.verb.is_upload() {
                "upload"
            } else {
                "download"
            },
            mode: announced.map(|a| match a.mode {
                DataMode::Active => "active",
                DataMode::Passive => "passive",
            }),
            announced_by: announced.map(|a| a.by),
            bytes,
            reply_code: code,
            reply,
        };
        engine.emit(Event::Transfer(Box::new(record)));
    }

    #[allow(clippy::too_many_arguments)]
    fn announce(
        &mut self,
        ctx: &LineContext<'_>,
        line: &[u8],
        mode: DataMode,
        by: &'static str,
        addr: IpAddr,
        port: u16,
        rewrite: impl FnOnce((IpAddr, u16)) -> Option<(std::ops::Range<usize>, format::ArgText)>,
    ) -> LineDecision {
        let dir = match mode {
            DataMode::Active => FlowDir::Original,
            DataMode::Passive => FlowDir::Reply,
        };
        let announcement = Announcement {
            engine: ctx.engine,
            control: ctx.control,
            now: ctx.now,
            mode,
            addr,
            port,
        };
        let (accepted, pinhole) = match announcement.accept() {
            Ok(ok) => ok,
            Err(refusal) => return self.refuse(ctx, dir, refusal.0, line),
        };
        let decision = match accepted.rewrite_to.map(rewrite) {
            Some(Some((range, with))) => {
                LineDecision::Replace(splice(line, range, with.as_bytes()))
            }
            Some(None) => {
                announce::release(ctx.engine, &pinhole);
                return self.refuse(ctx, dir, "family_mismatch", line);
            }
            None => LineDecision::Keep,
        };
        if self.pinholes.len() >= ctx.engine.settings.ftp.max_pinholes.max(1) {
            if let Some((key, id)) = self.pinholes.pop_front() {
                if let Some(old) = ctx.engine.pinholes.close(&key, id) {
                    announce::release(ctx.engine, &old);
                }
            }
        }
        if let Some(replaced) = ctx.engine.pinholes.open(accepted.key, pinhole) {
            announce::release(ctx.engine, &replaced);
        }
        self.pinholes.push_back((accepted.key, accepted.id));
        self.reply_announced = mode == DataMode::Passive;
        self.announced = Some(Announced {
            mode,
            by,
            key: accepted.key,
            data: None,
        });
        if mode == DataMode::Active {
            if self.pending.len() == MAX_PENDING {
                self.pending.pop_front();
            }
            self.pending.push_back(Pending::Other);
        }
        decision
    }

    /// Removes a refused line from the stream and reports it.
    fn refuse(
        &mut self,
        ctx: &LineContext<'_>,
        dir: FlowDir,
        check: &'static str,
        line: &[u8],
    ) -> LineDecision {
        ctx.engine.emit(Event::FtpViolation {
            at: ctx.now,
            control: ctx.control.original,
            from: dir,
            check,
            line: text(line).escape_debug().to_string(),
        });
        LineDecision::Replace(Vec::new())
    }
}
