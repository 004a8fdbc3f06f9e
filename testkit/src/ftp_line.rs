//! Every FTP line parser fed arbitrary bytes as one control-connection line: ranges lie
//! inside the line, borrowed texts are sub-slices of it, and a parsed address re-formatted
//! into the line parses back to the same address and port. The `ftp_line` fuzz target and the
//! parsers' property tests (`tests/ftp_line_props.rs`) run these same checks. Pure functions
//! of the input: it never touches files, sockets or the clock.

use std::ops::Range;

use ftpgate::engine::alg::ftp::command::{self, parse_command, Command, EpsvArg, ParseError};
use ftpgate::engine::alg::ftp::format;
use ftpgate::engine::alg::ftp::reply::{
    parse_227, parse_229, parse_257, parse_reply_line, LineKind,
};

/// Every check on one line, as a command and as a reply; panics on the first that fails.
pub fn check(line: &[u8]) {
    check_command(line);
    check_replies(line);
}

/// `line` with `range` replaced by `with` (the range is checked to be inside first).
fn splice(line: &[u8], range: Range<usize>, with: &[u8]) -> Vec<u8> {
    assert!(
        range.start <= range.end && range.end <= line.len(),
        "{range:?} outside the line"
    );
    [&line[..range.start], with, &line[range.end..]].concat()
}

/// Whether `part` is a sub-slice of `line` (same memory).
fn inside(line: &[u8], part: &[u8]) -> bool {
    let start = line.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    part.is_empty() || (p >= start && p + part.len() <= start + line.len())
}

fn check_command(line: &[u8]) {
    let parsed = parse_command(line);
    if parsed.is_ok() {
        assert_eq!(line.last(), Some(&b'\n'));
    }
    match parsed {
        Ok(Command::Port(hp)) => {
            assert_ne!(hp.port, 0);
            assert!(line.len() <= command::MAX_ADDRESS_LINE && line.ends_with(b"\r\n"));
            assert!(!line.contains(&0));
            let again = splice(line, hp.arg.clone(), &format::host_port(hp.addr, hp.port));
            match parse_command(&again) {
                Ok(Command::Port(back)) => assert_eq!((back.addr, back.port), (hp.addr, hp.port)),
                other => panic!("PORT rewrite gave {other:?}"),
            }
        }
        Ok(Command::Eprt(e)) => {
            assert_ne!(e.port, 0);
            assert!(command::is_delimiter(e.delimiter));
            assert_eq!(line.get(e.arg.start), Some(&e.delimiter));
            let text = format::extended_host_port(e.delimiter, e.addr, e.port);
            let again = splice(line, e.arg.clone(), &text);
            match parse_command(&again) {
                Ok(Command::Eprt(back)) => assert_eq!(
                    (back.addr, back.port, back.delimiter),
                    (e.addr, e.port, e.delimiter)
                ),
                Err(ParseError::LineTooLong) => assert!(again.len() > command::MAX_ADDRESS_LINE),
                other => panic!("EPRT rewrite gave {other:?}"),
            }
        }
        Ok(Command::User(a) | Command::Cwd(a) | Command::Auth(a)) => {
            assert!(!a.is_empty() && inside(line, a));
        }
        Ok(Command::Transfer { arg, .. }) => assert!(inside(line, arg)),
        Ok(Command::Other { verb }) => {
            assert!(inside(line, verb) && !verb.is_empty() && verb.len() <= command::MAX_VERB);
            assert!(verb.iter().all(u8::is_ascii_alphanumeric));
        }
        Ok(Command::Epsv(EpsvArg::Family(n))) => assert_ne!(n, 0),
        Ok(_) => {}
        Err(e) => assert!(!e.check_name().is_empty() && !e.to_string().is_empty()),
    }
}

fn check_replies(line: &[u8]) {
    let r = parse_reply_line(line);
    assert!(inside(line, r.text));
    assert_eq!(r.code.is_some(), r.kind != LineKind::Text);
    assert!(r.code.is_none_or(|c| (100..=599).contains(&c)));

    if let Ok(hp) = parse_227(line) {
        assert_eq!(r.code, Some(227));
        assert_ne!(hp.port, 0);
        let text = format::host_port(hp.addr, hp.port);
        let again = splice(line, hp.arg.clone(), &text);
        assert!(line[hp.arg.clone()]
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b','));
        let back = parse_227(&again).expect("a rewritten 227 parses");
        assert_eq!((back.addr, back.port), (hp.addr, hp.port));
        assert_eq!(back.arg, hp.arg.start..hp.arg.start + text.len());
    }
    if let Ok(p) = parse_229(line) {
        assert_eq!(r.code, Some(229));
        assert_ne!(p.port, 0);
        let text = format::epsv_port(p.port);
        let again = splice(line, p.arg.clone(), &text);
        assert!(line[p.arg.clone()].iter().all(u8::is_ascii_digit));
        let back = parse_229(&again).expect("a rewritten 229 parses");
        assert_eq!(
            (back.port, back.arg),
            (p.port, p.arg.start..p.arg.start + text.len())
        );
    }
    if let Some(path) = parse_257(line) {
        assert_eq!(r.code, Some(257));
        assert!(!path.is_empty() && path.len() + 6 <= line.len());
    }
}
