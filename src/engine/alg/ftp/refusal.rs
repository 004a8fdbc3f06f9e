//! What the other end is told when the ALG refuses a line under `on_violation: reply`: the
//! FTP error reply the gateway answers a refused command with, and the reply that replaces a
//! refused 227 / 229. Codes follow RFC 959's lists for each command; the text names the check,
//! so a user reading the client's log knows the gateway, not the server, said no.

use super::check::Check;

/// The reply the gateway sends the client in the server's name for a command refused by
/// `check` (CRLF-terminated).
pub fn command_refused(check: Check) -> Vec<u8> {
    let code = match check {
        Check::NotFtp => 500,
        Check::BeforeLogin => 530,
        Check::TlsBlocked => 534,
        Check::UnsupportedCommand => 502,
        Check::PipelinedAnnouncement => 503,
        Check::FamilyMismatch => 522,
        _ => 501,
    };
    let name = check.name();
    format!("{code} Refused by the gateway ({name}).\r\n").into_bytes()
}

/// The reply that stands in for a 227 / 229 refused by `check`: the client is told the data
/// connection cannot be opened, in the reply slot it was waiting on.
pub fn announcement_reply_refused(check: Check) -> Vec<u8> {
    let name = check.name();
    format!("425 Data connection refused by the gateway ({name}).\r\n").into_bytes()
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::engine::alg::ftp::command::ParseError;

    #[test]
    fn replies_are_single_crlf_lines_with_the_check_named() {
        for check in [
            Check::ForeignAddress,
            Check::BeforeLogin,
            Check::TlsBlocked,
            Check::Malformed(ParseError::BadOctet),
        ] {
            for reply in [command_refused(check), announcement_reply_refused(check)] {
                let text = String::from_utf8(reply).unwrap();
                assert!(text.ends_with(".\r\n") && text.matches('\n').count() == 1);
                assert!(text.contains(check.name()), "{text}");
                assert!(text.as_bytes()[..3].iter().all(u8::is_ascii_digit));
                assert_eq!(text.as_bytes()[3], b' ');
            }
        }
        assert!(command_refused(Check::BeforeLogin).starts_with(b"530 "));
        assert!(command_refused(Check::ForeignAddress).starts_with(b"501 "));
    }
}
