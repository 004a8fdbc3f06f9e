//! What the other end is told when the ALG refuses a line under `on_violation: reply`: the
//! FTP error reply the gateway answers a refused command with, and the reply that replaces a
//! refused 227 / 229. Codes follow RFC 959's lists for each command; the text names the check,
//! so a user reading the client's log knows the gateway, not the server, said no.

/// The reply the gateway sends the client in the server's name for a command refused by
/// `check` (CRLF-terminated).
pub fn command_refused(check: &str) -> Vec<u8> {
    let code = match check {
        "not_ftp" => 500,
        "before_login" => 530,
        "tls_blocked" => 534,
        "unsupported_command" => 502,
        "pipelined_announcement" => 503,
        "family_mismatch" => 522,
        _ => 501,
    };
    format!("{code} Refused by the gateway ({check}).\r\n").into_bytes()
}

/// The reply that stands in for a 227 / 229 refused by `check`: the client is told the data
/// connection cannot be opened, in the reply slot it was waiting on.
pub fn announcement_reply_refused(check: &str) -> Vec<u8> {
    format!("425 Data connection refused by the gateway ({check}).\r\n").into_bytes()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn replies_are_single_crlf_lines_with_the_check_named() {
        for check in [
            "foreign_address",
            "before_login",
            "tls_blocked",
            "bad_octet",
        ] {
            for reply in [command_refused(check), announcement_reply_refused(check)] {
                let text = String::from_utf8(reply).unwrap();
                assert!(text.ends_with(".\r\n") && text.matches('\n').count() == 1);
                assert!(text.contains(check), "{text}");
                assert!(text.as_bytes()[..3].iter().all(u8::is_ascii_digit));
                assert_eq!(text.as_bytes()[3], b' ');
            }
        }
        assert!(command_refused("before_login").starts_with(b"530 "));
        assert!(command_refused("foreign_address").starts_with(b"501 "));
    }
}
