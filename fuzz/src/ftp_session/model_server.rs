//! The model server: reads the client -> server stream exactly as the gateway delivered it, the
//! way real FTP servers do, and REACTS to it. Its reading differs from ftpgate's on purpose:
//! - Telnet commands are interpreted and stripped (ProFTPD, RFC 854): `IAC x` is dropped,
//!   `IAC WILL/WONT/DO/DONT x` too (the option byte may be CR or LF), `IAC IAC` is one 0xff;
//! - a line is cut at `cut` bytes (pyftpdlib's 2,048, or 512): the server answers
//!   `500 Command too long.` and the rest becomes the next line;
//! - a bare LF ends a line (vsftpd, ProFTPD) or, in the CRLF-only variant (pyftpdlib's
//!   terminator), stays inside the line and is echoed back.
//!
//! It answers every line into the server's script (sent only when the fuzzer sends server
//! segments, mixed with the fuzzer's own replies): 331 / 230 to USER / PASS, 200 to a PORT or
//! EPRT it accepted, its own 227 / 229 to PASV / EPSV (the only passive announcements it
//! makes), `257 "<path>" created.` to MKD, and `500 Command "<line>" not understood.` to any
//! verb it does not know: echoed client bytes, marked as such in the script so that the oracle
//! never counts them as the server's announcement.
//!
//! The checks it owns: a PORT / EPRT it reads (a line it will obey) must not be a bounce
//! (another host than the client, unless FXP is allowed; a port below the floor), and it gives
//! the oracle one active credit per PORT / EPRT it obeys, none once the client has sent a line
//! that is not an FTP command (the session no longer behaves as FTP: nothing in it may open a
//! pinhole). It never looks inside the engine: only at bytes the gateway sent, and at the
//! notices it publishes (a connection it passes unread by policy is not bounce-checked).

use super::*;

/// Every verb the model counts as FTP (any case): RFC 959, 775, 1639, 2228, 2389, 2428, 2640,
/// 3659, 7151 and common extensions. It must hold every verb ftpgate accepts as FTP (a verb
/// only the model knows is harmless; one only ftpgate knows would be a false alarm).
const FTP_VERBS: &[&[u8]] = &[
    b"USER", b"PASS", b"ACCT", b"CWD", b"CDUP", b"SMNT", b"QUIT", b"REIN", b"PORT", b"PASV",
    b"TYPE", b"STRU", b"MODE", b"RETR", b"STOR", b"STOU", b"APPE", b"ALLO", b"REST", b"RNFR",
    b"RNTO", b"ABOR", b"DELE", b"RMD", b"MKD", b"PWD", b"LIST", b"NLST", b"SITE", b"SYST", b"STAT",
    b"HELP", b"NOOP", b"XMKD", b"XRMD", b"XPWD", b"XCUP", b"XCWD", b"LPRT", b"LPSV", b"AUTH",
    b"ADAT", b"PROT", b"PBSZ", b"CCC", b"MIC", b"CONF", b"ENC", b"FEAT", b"OPTS", b"EPRT", b"EPSV",
    b"LANG", b"MDTM", b"SIZE", b"MLST", b"MLSD", b"HOST", b"XCRC", b"XMD5", b"XSHA", b"XSHA1",
    b"XSHA256", b"XSHA512", b"HASH", b"MFMT", b"MFCT", b"MFF", b"CLNT", b"AVBL", b"DSIZ", b"RMDA",
    b"CSID", b"SPSV", b"MACB", b"RANG", b"COMB", b"THMB", b"XRSQ", b"XRCP", b"XSEM", b"XSEN",
    b"XMAS", b"ESTA", b"ESTP", b"PRET", b"SSCN", b"CPSV", b"XDUPE",
];

/// Telnet (RFC 854) bytes.
const IAC: u8 = 0xFF;
const WILL: u8 = 0xFB;
const DONT: u8 = 0xFE;

/// First port the model announces in its 227 / 229 replies.
pub(crate) const MODEL_PASV_FIRST: u16 = 31000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Telnet {
    Data,
    /// After IAC.
    Command,
    /// After IAC WILL / WONT / DO / DONT: the option byte.
    Option,
}

/// How one model server reads and answers; chosen by the fuzzer (`ops::model_mode`).
#[derive(Clone, Copy)]
pub(crate) struct Variant {
    pub(crate) telnet: bool,
    pub(crate) lf_ends_line: bool,
    pub(crate) cut: usize,
    pub(crate) replies: bool,
}

impl Variant {
    /// ProFTPD-and-pyftpdlib in one: Telnet stripped, bare LF ends a line, cut at 2,048,
    /// answering every line.
    pub(crate) const DEFAULT: Variant = Variant {
        telnet: true,
        lf_ends_line: true,
        cut: 2048,
        replies: true,
    };

    pub(crate) fn from_byte(m: u8) -> Self {
        Variant {
            telnet: m & 1 == 0,
            lf_ends_line: m & 2 == 0,
            cut: if m & 4 == 0 { 2048 } else { 512 },
            replies: m & 8 == 0,
        }
    }
}

/// What the model knows of the world (fixed for one input).
#[derive(Clone, Copy)]
pub(crate) struct Setting {
    /// The client's address as the server sees it.
    pub(crate) client: Addr,
    /// The client's address is translated by the gateway (a rewritten PORT carries the NAT
    /// port, so only the privileged range is a bounce).
    pub(crate) client_translated: bool,
    /// The server's own address (its 227 names it).
    pub(crate) own: Addr,
    pub(crate) allow_fxp: bool,
    pub(crate) min_data_port: u16,
}

pub(crate) struct ModelServer {
    pub(crate) variant: Variant,
    setting: Setting,
    telnet: Telnet,
    line: Vec<u8>,
    /// The client sent a line that is not an FTP command in this connection.
    pub(crate) non_ftp: bool,
    /// The gateway announced (an `FtpNotice`) that it passes this connection unread by
    /// policy (`tls_pass_blind`; `non_ftp` with the server outside): what the client sends
    /// then is the server's business, as through any router, and is not checked for bounces.
    pub(crate) gateway_stopped_reading: bool,
    /// Passive announcements made so far (ports from `MODEL_PASV_FIRST`).
    pasv: u16,
}

impl ModelServer {
    pub(crate) fn new() -> Self {
        Self {
            variant: Variant::DEFAULT,
            setting: Setting {
                client: [0; 4],
                client_translated: false,
                own: [0; 4],
                allow_fxp: false,
                min_data_port: 1024,
            },
            telnet: Telnet::Data,
            line: Vec::with_capacity(4096),
            non_ftp: false,
            gateway_stopped_reading: false,
            pasv: 0,
        }
    }

    /// A fresh server process for one input.
    pub(crate) fn start(&mut self, setting: Setting) {
        self.setting = setting;
        self.variant = Variant::DEFAULT;
        self.pasv = 0;
        self.reconnected();
    }

    /// A new control connection (new SYN): nothing of the old one survives.
    pub(crate) fn reconnected(&mut self) {
        self.telnet = Telnet::Data;
        self.line.clear();
        self.non_ftp = false;
        self.gateway_stopped_reading = false;
    }

    /// Reads bytes the server received in order; answers into `reply` and gives the oracle
    /// the announcements it obeys.
    pub(crate) fn read(&mut self, bytes: &[u8], reply: &mut Tx, credits: &mut Vec<Credit>) {
        for &b in bytes {
            let b = if self.variant.telnet {
                match (self.telnet, b) {
                    (Telnet::Data, IAC) => {
                        self.telnet = Telnet::Command;
                        continue;
                    }
                    (Telnet::Data, b) => b,
                    (Telnet::Command, IAC) => {
                        self.telnet = Telnet::Data;
                        IAC
                    }
                    (Telnet::Command, WILL..=DONT) => {
                        self.telnet = Telnet::Option;
                        continue;
                    }
                    (Telnet::Command | Telnet::Option, _) => {
                        self.telnet = Telnet::Data;
                        continue;
                    }
                }
            } else {
                b
            };
            if b == b'\n' && (self.variant.lf_ends_line || self.line.last() == Some(&b'\r')) {
                if self.line.last() == Some(&b'\r') {
                    self.line.pop();
                }
                let mut line = std::mem::take(&mut self.line);
                self.command(&line, reply, credits);
                line.clear();
                self.line = line;
                continue;
            }
            self.line.push(b);
            if self.line.len() >= self.variant.cut {
                trace!("    model server: line cut at {} bytes", self.line.len());
                self.line.clear();
                if self.variant.replies {
                    reply.push(b"500 Command too long.\r\n");
                }
            }
        }
    }

    /// Obeys one line (without its terminator).
    fn command(&mut self, line: &[u8], reply: &mut Tx, credits: &mut Vec<Credit>) {
        if line.is_empty() {
            return;
        }
        let verb_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let (verb, arg) = (&line[..verb_len], line.get(verb_len + 1..).unwrap_or(&[]));
        let known = is_ftp_verb(verb);
        // Whether the session still behaves as FTP is judged by RFC 959's reading (Telnet
        // commands are part of the protocol), even by a server that does not strip them.
        let ftp = known || (!self.variant.telnet && is_ftp_verb(&without_telnet(verb)));
        trace!(
            "    model server reads {:?}{}",
            String::from_utf8_lossy(line),
            if known {
                ""
            } else if ftp {
                " (unknown here, FTP by RFC 959)"
            } else {
                " (not FTP)"
            }
        );
        if !ftp {
            self.non_ftp = true;
        }
        if !known {
            if self.variant.replies {
                reply.push(b"500 Command \"");
                reply.push_echo(line);
                reply.push(b"\" not understood.\r\n");
            }
            return;
        }
        let upper = |v: &[u8]| -> [u8; 4] {
            let mut u = [b' '; 4];
            for (d, s) in u.iter_mut().zip(v) {
                *d = s.to_ascii_uppercase();
            }
            u
        };
        let answer: &[u8] = match &upper(verb) {
            b"USER" => b"331 Password required.\r\n",
            b"PASS" => b"230 Logged in.\r\n",
            b"PORT" | b"EPRT" => {
                let parsed = if verb.eq_ignore_ascii_case(b"PORT") {
                    parse_port(arg)
                } else {
                    parse_eprt(arg)
                };
                match parsed {
                    Some((addr, port)) => {
                        self.obey_port(addr, port, line, credits);
                        b"200 PORT command successful.\r\n"
                    }
                    None => b"501 Syntax error in parameters.\r\n",
                }
            }
            b"PASV" => {
                let port = self.next_pasv();
                if self.variant.replies {
                    reply.push(b"227 Entering Passive Mode (");
                    reply.push_host_port(self.setting.own, port);
                    reply.push(b").\r\n");
                }
                return;
            }
            b"EPSV" if arg.eq_ignore_ascii_case(b"ALL") => b"200 EPSV ALL ok.\r\n",
            b"EPSV" => {
                let port = self.next_pasv();
                if self.variant.replies {
                    reply.push(b"229 Entering Extended Passive Mode (|||");
                    reply.push_num(u32::from(port));
                    reply.push(b"|).\r\n");
                }
                return;
            }
            b"MKD " | b"XMKD" => {
                if self.variant.replies {
                    reply.push(b"257 \"");
                    reply.push_echo(arg);
                    reply.push(b"\" created.\r\n");
                }
                return;
            }
            b"PWD " | b"XPWD" => b"257 \"/\" is the current directory.\r\n",
            b"AUTH" => b"502 Not implemented.\r\n",
            b"QUIT" => b"221 Goodbye.\r\n",
            _ => b"200 OK.\r\n",
        };
        if self.variant.replies {
            reply.push(answer);
        }
    }

    fn next_pasv(&mut self) -> u16 {
        let port = MODEL_PASV_FIRST + self.pasv % 1000;
        self.pasv = self.pasv.wrapping_add(1);
        trace!("    model server announces passive port {port}");
        port
    }

    /// A PORT / EPRT the server will obey: checked for a bounce, credited when the session is
    /// still FTP.
    fn obey_port(&mut self, addr: Addr, port: u16, line: &[u8], credits: &mut Vec<Credit>) {
        let s = &self.setting;
        // 0.0.0.0: "the control connection's address" for the servers that accept it.
        let addr = if addr == [0; 4] { s.client } else { addr };
        let floor = if addr == s.client && s.client_translated {
            1024
        } else {
            s.min_data_port.max(1)
        };
        let checked = !ignored(Oracle::Bounce) && !self.gateway_stopped_reading;
        assert!(
            !checked || port >= floor && (addr == s.client || s.allow_fxp),
            "a bounce line reached the server: it will connect to {}:{port} (the client is {}, \
             data-port floor {floor}, FXP {}): {:?}",
            ip(addr),
            ip(s.client),
            if s.allow_fxp { "allowed" } else { "refused" },
            String::from_utf8_lossy(line)
        );
        if self.non_ftp && !ignored(Oracle::NonFtp) {
            trace!("    model server obeys a PORT in a non-FTP session: no credit");
            return;
        }
        trace!("    delivered to the server: active {}:{port}", ip(addr));
        credits.push(Credit {
            active: true,
            addr,
            port,
            used: false,
        });
    }
}

fn is_ftp_verb(verb: &[u8]) -> bool {
    FTP_VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb))
}

/// `bytes` with the Telnet commands of RFC 854 taken out (as a Telnet-aware server reads them).
fn without_telnet(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (IAC, Some(&IAC)) => {
                out.push(IAC);
                i += 2;
            }
            (IAC, Some(WILL..=DONT)) => i += 3,
            (IAC, _) => i += 2,
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A decimal number of at most 5 digits (servers use atoi-like parsing; longer is refused).
fn number(text: &[u8]) -> Option<u32> {
    let text = text.trim_ascii();
    if text.is_empty() || text.len() > 5 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |v, &d| v * 10 + u32::from(d - b'0')))
}

/// `h1,h2,h3,h4,p1,p2` as a server reads it (spaces around numbers allowed).
fn parse_port(arg: &[u8]) -> Option<(Addr, u16)> {
    let mut nums = [0u32; 6];
    let mut parts = arg.split(|&b| b == b',');
    for n in &mut nums {
        *n = number(parts.next()?).filter(|&v| v <= 255)?;
    }
    if parts.next().is_some() {
        return None;
    }
    let addr = [nums[0] as u8, nums[1] as u8, nums[2] as u8, nums[3] as u8];
    let port = (nums[4] * 256 + nums[5]) as u16;
    (port != 0).then_some((addr, port))
}

/// `<d>1<d>a.b.c.d<d>port<d>` (RFC 2428, IPv4 only: an IPv6 EPRT on an IPv4 control
/// connection is refused by the servers modelled).
fn parse_eprt(arg: &[u8]) -> Option<(Addr, u16)> {
    let arg = arg.trim_ascii();
    let (&d, rest) = arg.split_first()?;
    let mut fields = rest.split(|&b| b == d);
    let (af, addr, port, end) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if af != b"1" || !end.is_empty() || fields.next().is_some() {
        return None;
    }
    let mut quad = [0u8; 4];
    let mut octets = addr.split(|&b| b == b'.');
    for q in &mut quad {
        *q = number(octets.next()?).filter(|&v| v <= 255)? as u8;
    }
    if octets.next().is_some() {
        return None;
    }
    let port = number(port).filter(|&p| (1..=0xFFFF).contains(&p))?;
    Some((quad, port as u16))
}
