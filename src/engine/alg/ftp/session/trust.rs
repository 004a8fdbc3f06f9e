//! Whether a control connection is FTP at all, and the lenient readings of harmless
//! look-alikes.
//!
//! Owns: the greeting (the server speaks first, with 220), the non-FTP outcome (a session
//! whose client sends a line that is not an FTP command, or whose server does not greet, is
//! marked non-FTP for good and passes unread, or is reset, by `non_ftp`; with the server
//! inside it never passes unread), line framing (a
//! client line holding a bare CR or LF is ambiguous), the cut of a refused over-long reply,
//! `PORT 0,0,0,0` as the client's own address, and `fix_pasv_address` (an outside server's
//! private 227 address read as its control address). It never opens a pinhole itself.

use std::net::IpAddr;

use super::{LineContext, Session, BOUNCE_VERBS};
use crate::engine::alg::ftp::check::Check;
use crate::engine::alg::ftp::command::{parse_command, Command};
use crate::engine::alg::ftp::expect::Announcement;
use crate::engine::alg::ftp::expect::DataMode;
use crate::engine::alg::ftp::stream::LineDecision;
use crate::engine::alg::ftp::telnet;
use crate::engine::alg::ftp::verbs::verb_of;
use crate::engine::conntrack::FlowDir;
use crate::engine::settings::{NonFtpPolicy, ViolationOutcome};

/// Why a complete client line is framed ambiguously: a bare LF ending it (a receiver that
/// wants CRLF reads on into the next line), or a CR inside it (one that ends lines at CR
/// sees two lines). `None`: it ends in CRLF and holds no other CR.
pub(super) fn framing_defect(line: &[u8]) -> Option<Check> {
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return Some(Check::BareLf);
    };
    body.contains(&b'\r').then_some(Check::BareCr)
}

/// The client's own address (as the gateway sees it) for an unspecified one (`PORT
/// 0,0,0,0,p1,p2`, `EPRT |1|0.0.0.0|p|`: "my control address" for some clients), with
/// whether the line must then be rewritten to say it.
pub(super) fn own_if_unspecified(ctx: &LineContext<'_>, addr: IpAddr) -> (IpAddr, bool) {
    let own = ctx.control.original.src;
    if addr.is_unspecified() && addr.is_ipv4() == own.is_ipv4() {
        (own, true)
    } else {
        (addr, false)
    }
}

/// A refused reply offered as it passed `max_line` (not `ended`) replaces only the bytes read
/// so far; the rest of the line follows as the text of the error reply, so the reply stands
/// without a line break of its own.
pub(super) fn unterminated_if_cut(decision: LineDecision, ended: bool) -> LineDecision {
    match decision {
        LineDecision::Replace(mut bytes) if !ended && bytes.ends_with(b"\r\n") => {
            bytes.truncate(bytes.len() - 2);
            bytes.push(b' ');
            LineDecision::Replace(bytes)
        }
        other => other,
    }
}

/// Whether `addr` is not reachable on the public Internet (RFC 1918, shared, loopback,
/// link-local, unspecified): what a server behind its own NAT announces.
fn is_private_v4(addr: IpAddr) -> bool {
    let IpAddr::V4(v4) = addr else {
        return false;
    };
    let [a, b, ..] = v4.octets();
    v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || (a == 100 && (64..128).contains(&b))
}

impl Session {
    /// Whether the server of this control connection is inside (behind a port forward).
    pub(super) fn server_inside(&self, ctx: &LineContext<'_>) -> bool {
        ctx.host.settings().is_inside(ctx.control.reply.src)
    }

    /// A line that shows the connection is not FTP (sent from `dir`). Under `non_ftp: reset`
    /// the connection is reset. Under `pass` the session is marked non-FTP for good (its
    /// pinholes close, nothing is read any more, a `non_ftp` notice), except with the server
    /// inside (behind a port forward), where nothing may pass unread to it: a client line is
    /// refused (`not_ftp`, under `on_violation`), and a server that does not speak FTP first
    /// gets the connection reset (`not_ftp`) whatever the policy — were the session passed
    /// unread, an outside client's PORT would reach an inside server that may well obey it.
    pub(super) fn not_ftp(
        &mut self,
        ctx: &LineContext<'_>,
        dir: FlowDir,
        line: &[u8],
    ) -> LineDecision {
        let inside = self.server_inside(ctx);
        if ctx.host.settings().ftp.non_ftp == NonFtpPolicy::Reset
            || (inside && dir == FlowDir::Reply)
        {
            return self.refuse_with(ctx, dir, Check::NotFtp, line, ViolationOutcome::Reset);
        }
        if inside {
            return self.refuse(ctx, dir, Check::NotFtp, line);
        }
        self.non_ftp = true;
        self.close_pinholes(ctx.host);
        ctx.notice("non_ftp", line);
        LineDecision::Keep
    }

    /// A client line of a session marked non-FTP (its server is outside): it passes unread
    /// unless, Telnet commands stripped, it is a PORT / EPRT / LPRT that a server may still
    /// obey. Such a line opens nothing; one naming another host or a low port (what main's
    /// checks refuse), one that does not parse, an LPRT or one longer than `max_line`
    /// resets the connection (its replies are no longer matched, so no error reply can be
    /// placed): a non-FTP session is no way around the bounce checks.
    pub(super) fn non_ftp_client_line(
        &mut self,
        ctx: &LineContext<'_>,
        line: &[u8],
        ended: bool,
    ) -> LineDecision {
        let heard = telnet::strip(line);
        let verb = verb_of(&heard);
        if !BOUNCE_VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb)) {
            return LineDecision::Keep;
        }
        if !ended {
            return LineDecision::Defer;
        }
        let reset = ViolationOutcome::Reset;
        if !line.ends_with(b"\n") {
            return self.refuse_with(ctx, FlowDir::Original, Check::LineTooLong, line, reset);
        }
        let (addr, port) = match parse_command(&heard) {
            Ok(Command::Port(hp)) => (IpAddr::V4(hp.addr), hp.port),
            Ok(Command::Eprt(ep)) => (ep.addr, ep.port),
            Ok(_) => {
                return self.refuse_with(
                    ctx,
                    FlowDir::Original,
                    Check::UnsupportedCommand,
                    line,
                    reset,
                )
            }
            Err(error) => {
                return self.refuse_with(ctx, FlowDir::Original, error.into(), line, reset)
            }
        };
        let (addr, _) = own_if_unspecified(ctx, addr);
        let announcement = Announcement {
            host: ctx.host,
            control: ctx.control,
            now: ctx.now,
            mode: DataMode::Active,
            addr,
            port,
        };
        match announcement.accept() {
            Err(refusal) => self.refuse_with(ctx, FlowDir::Original, refusal.0, line, reset),
            Ok(prepared) => {
                // The client's own address: harmless, and it opens nothing.
                if let Some((_, pinhole)) = prepared {
                    pinhole.release(ctx.host);
                }
                LineDecision::Keep
            }
        }
    }

    /// A server reply line before the greeting: 220 greets (the error replies owed for lines
    /// refused meanwhile follow it), a preliminary 1xx (RFC 959's 120 "ready in nnn
    /// minutes") waits for it, 421 (service not available, RFC 959's other reply to a
    /// connection) passes and the session stays FTP and ungreeted (the client may still send
    /// only USER), anything else is not FTP.
    pub(super) fn greeting(
        &mut self,
        ctx: &LineContext<'_>,
        line: &[u8],
        code: u16,
        closes: bool,
        ended: bool,
    ) -> LineDecision {
        if !closes || code < 200 || code == 421 {
            return LineDecision::Keep;
        }
        if code != 220 {
            return self.not_ftp(ctx, FlowDir::Reply, line);
        }
        self.greeted = true;
        let owed = if ended { self.take_owed() } else { None };
        super::with_owed(None, LineDecision::Keep, line, owed)
    }

    /// The address a 227 announces, read leniently: an outside server naming a private
    /// address (it sits behind its own NAT) means its control address, under
    /// `fix_pasv_address` (noticed as `fix_pasv_address`; the client connects outward, so
    /// nothing inside is exposed). Returns the address and whether the line must be
    /// rewritten to it.
    pub(super) fn fixed_pasv_address(
        &self,
        ctx: &LineContext<'_>,
        addr: IpAddr,
        line: &[u8],
    ) -> (IpAddr, bool) {
        let server = ctx.control.reply.src;
        let fix = ctx.host.settings().ftp.fix_pasv_address
            && addr != server
            && server.is_ipv4()
            && is_private_v4(addr)
            && !self.server_inside(ctx)
            && !is_private_v4(server);
        if fix {
            ctx.notice("fix_pasv_address", line);
            (server, true)
        } else {
            (addr, false)
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn framing_wants_one_crlf_at_the_end() {
        assert_eq!(framing_defect(b"NOOP\r\n"), None);
        assert_eq!(framing_defect(b"NOOP\n"), Some(Check::BareLf));
        assert_eq!(framing_defect(b"MKD d\r227 x\r\n"), Some(Check::BareCr));
        assert_eq!(framing_defect(b"NOOP\r\r\n"), Some(Check::BareCr));
    }

    #[test]
    fn private_addresses() {
        for private in [
            "10.1.2.3",
            "172.31.5.9",
            "192.168.0.1",
            "100.64.0.1",
            "127.0.0.1",
        ] {
            assert!(is_private_v4(private.parse().unwrap()), "{private}");
        }
        for public in ["198.51.100.2", "8.8.8.8", "100.128.0.1"] {
            assert!(!is_private_v4(public.parse().unwrap()), "{public}");
        }
    }
}
