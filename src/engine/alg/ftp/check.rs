//! The ALG's policy checks: [`Check`] names every reason a control line is refused or a control
//! connection given up, with the stable snake_case name counters, events, transfer records and
//! the gateway's error replies carry.
//!
//! This module owns the catalogue and the names only. It must never decide when a check fires
//! (the session and the stream do) or what a refusal does (the rule file's `on_violation`).

use super::command::ParseError;
use crate::engine::nat::PortShortage;

/// Why the ALG refused a control line or gave up on a control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// An address line (PORT, EPRT, 227, 229, ...) that does not parse: the defect named.
    Malformed(ParseError),
    /// A client line ending in a bare LF: receivers disagree on where it ends.
    BareLf,
    /// A client line holding a CR before its CRLF: a receiver that ends lines at CR reads two.
    BareCr,
    /// A line longer than `ftp.max_line`, or one the budget cannot hold until it ends.
    LineTooLong,
    /// A line holding Telnet commands (IAC) that a server would strip or interpret.
    TelnetCommand,
    /// A line that is not FTP in a session whose server is inside, or under `non_ftp: reset`.
    NotFtp,
    /// An announcement before a login reply, with `ftp.require_login`.
    BeforeLogin,
    /// An announcement beyond the session's `ftp.max_pinholes` live pinholes.
    PinholeCap,
    /// An announcement of the other address family than the control connection's, or one
    /// whose rewrite the translation cannot express.
    FamilyMismatch,
    /// A PORT / EPRT naming another host than the client (a bounce).
    ForeignAddress,
    /// A 227 / 229 naming another host than the server (a redirect).
    ReplyRedirect,
    /// An announcement of a port below `ftp.min_data_port`.
    PrivilegedPort,
    /// An announcement that needs an outside port the NAT cannot give (range or host quota).
    NoOutsidePort(PortShortage),
    /// An announcement while earlier commands still wait for their replies.
    PipelinedAnnouncement,
    /// More commands waiting for replies than the session keeps.
    PipelineTooDeep,
    /// AUTH TLS / AUTH SSL under `ftp.tls: block`.
    TlsBlocked,
    /// A command that announces in a way the ALG cannot follow (LPRT, LPSV, ...).
    UnsupportedCommand,
    /// A 227 / 229 that answers no PASV / EPSV at the head of the queue.
    UnsolicitedReply,
    /// A partial line withheld longer than `limits.ftp_held_timeout` without progress.
    HeldTimeout,
    /// A segment needing more unacknowledged rewrites than a direction keeps.
    TooManyRewrites,
    /// A segment whose lines were read but which cannot be rebuilt as read.
    UnrebuildableSegment,
}

impl Check {
    /// Stable snake_case name for counters, events, transfer records and error replies.
    pub fn name(self) -> &'static str {
        match self {
            Check::Malformed(error) => error.check_name(),
            Check::BareLf => "bare_lf",
            Check::BareCr => "bare_cr",
            Check::LineTooLong => "line_too_long",
            Check::TelnetCommand => "telnet_command",
            Check::NotFtp => "not_ftp",
            Check::BeforeLogin => "before_login",
            Check::PinholeCap => "pinhole_cap",
            Check::FamilyMismatch => "family_mismatch",
            Check::ForeignAddress => "foreign_address",
            Check::ReplyRedirect => "reply_redirect",
            Check::PrivilegedPort => "privileged_port",
            Check::NoOutsidePort(shortage) => shortage.name(),
            Check::PipelinedAnnouncement => "pipelined_announcement",
            Check::PipelineTooDeep => "pipeline_too_deep",
            Check::TlsBlocked => "tls_blocked",
            Check::UnsupportedCommand => "unsupported_command",
            Check::UnsolicitedReply => "unsolicited_reply",
            Check::HeldTimeout => "held_timeout",
            Check::TooManyRewrites => "too_many_rewrites",
            Check::UnrebuildableSegment => "unrebuildable_segment",
        }
    }
}

impl From<ParseError> for Check {
    /// A parse defect that is also a check of its own is reported as that check.
    fn from(error: ParseError) -> Self {
        match error {
            ParseError::BareLineFeed => Check::BareLf,
            ParseError::LineTooLong => Check::LineTooLong,
            ParseError::FamilyMismatch => Check::FamilyMismatch,
            other => Check::Malformed(other),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn parse_defects_keep_their_names() {
        for error in [
            ParseError::BareLineFeed,
            ParseError::LineTooLong,
            ParseError::FamilyMismatch,
            ParseError::BadOctet,
            ParseError::WrongReplyCode,
        ] {
            assert_eq!(Check::from(error).name(), error.check_name());
        }
    }

    #[test]
    fn names_are_snake_case() {
        for check in [Check::ForeignAddress, Check::NotFtp, Check::HeldTimeout] {
            let name = check.name();
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
    }
}
