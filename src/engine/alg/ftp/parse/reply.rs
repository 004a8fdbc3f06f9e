//! FTP replies (server to client): classification of reply lines, and strict parsing of the
//! replies that carry an address (227, 229) or a path (257).
//!
//! Owns [`parse_reply_line`], [`parse_227`], [`parse_229`] and [`parse_257`]. It does not
//! follow multi-line replies (that needs state: the caller pairs a [`LineKind::Start`] with the
//! final line of the same code) and never allocates except for the path [`parse_257`] returns.
//! Pure functions over one line, terminator included; they never panic on any bytes.

use std::ops::Range;

use super::command::{
    check_address_line, is_delimiter, parse_decimal_port, parse_host_port_fields, split_line,
    HostPort, ParseError,
};

/// One reply line, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    /// The reply code (100..=599) when the line starts with one, followed by a space, `-` or
    /// the end of the line.
    pub code: Option<u16>,
    /// What the line is.
    pub kind: LineKind,
    /// The text after the code and its separator (the whole line for [`LineKind::Text`]),
    /// without the line terminator.
    pub text: &'a [u8],
}

/// The role of a reply line (RFC 959, section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `ddd text` or `ddd` alone: a one-line reply, or the last line of a multi-line reply
    /// when its code is the one that opened it (otherwise the caller treats it as text).
    Final,
    /// `ddd-text`: opens a multi-line reply (or is text inside one that is already open).
    Start,
    /// No code: a middle line of a multi-line reply, or garbage outside one.
    Text,
}

/// The port a 229 reply announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpsvPort {
    /// The announced port, never 0.
    pub port: u16,
    /// Byte range of the port digits within the line: the part a NAT rewrite replaces.
    pub arg: Range<usize>,
}

/// Classifies one reply line. Never fails: a line without a valid code is [`LineKind::Text`].
pub fn parse_reply_line(line: &[u8]) -> ReplyLine<'_> {
    let (body, _) = split_line(line);
    let text_line = ReplyLine {
        code: None,
        kind: LineKind::Text,
        text: body,
    };
    let [a, b, c, rest @ ..] = body else {
        return text_line;
    };
    let Some(code) = reply_code([*a, *b, *c]) else {
        return text_line;
    };
    let (kind, text) = match rest {
        [] => (LineKind::Final, rest),
        [b' ', text @ ..] => (LineKind::Final, text),
        [b'-', text @ ..] => (LineKind::Start, text),
        _ => return text_line,
    };
    ReplyLine {
        code: Some(code),
        kind,
        text,
    }
}

/// Parses the address of a 227 reply (to PASV), final or start line.
///
/// The address is the first run of digits and commas that starts with a digit and holds a
/// comma followed by a digit (so `Mode 2, (` is skipped, `1,5 (` is not); it must be exactly
/// `h1,h2,h3,h4,p1,p2` with the checks of PORT, which refuses servers that put comma-separated
/// numbers before the address rather than guess which run the client will read. It may stand in
/// parentheses (RFC 959) or not (`227 =h1,...,p2`, `227 Entering Passive Mode h1,...,p2`),
/// but an opening parenthesis right before it needs a closing one right after, and the
/// reverse. Like PORT, the line must end in CRLF, hold no NUL and be at most
/// [`MAX_ADDRESS_LINE`](super::command::MAX_ADDRESS_LINE) bytes long.
pub fn parse_227(line: &[u8]) -> Result<HostPort, ParseError> {
    let body = check_address_line(line)?;
    let mut from = text_start(body, *b"227")?;
    let (start, run) = loop {
        let tail = body.get(from..).unwrap_or_default();
        let Some(skip) = tail.iter().position(u8::is_ascii_digit) else {
            return Err(ParseError::MissingArgument);
        };
        let start = from + skip;
        let after = body.get(start..).unwrap_or_default();
        let len = after.iter().take_while(|&&b| is_host_port_byte(b)).count();
        let run = after.get(..len).unwrap_or_default();
        if run
            .windows(2)
            .any(|w| matches!(w, [b',', d] if d.is_ascii_digit()))
        {
            break (start, run);
        }
        from = start + len;
    };
    let end = start + run.len();
    let (addr, port) = parse_host_port_fields(run)?;
    let opened = start.checked_sub(1).and_then(|i| body.get(i)) == Some(&b'(');
    let closed = body.get(end) == Some(&b')');
    if opened != closed {
        return Err(ParseError::UnbalancedParenthesis);
    }
    Ok(HostPort {
        addr,
        port,
        arg: start..end,
    })
}

/// Parses the port of a 229 reply (to EPSV), final or start line: the first `(` after the code
/// must open `(<d><d><d>port<d>)`, where `d` is one delimiter (see [`is_delimiter`]) and the
/// port is 1..=65535 (1-5 digits). Same line checks as [`parse_227`].
pub fn parse_229(line: &[u8]) -> Result<EpsvPort, ParseError> {
    let body = check_address_line(line)?;
    let from = text_start(body, *b"229")?;
    let tail = body.get(from..).unwrap_or_default();
    let open = from
        + tail
            .iter()
            .position(|&b| b == b'(')
            .ok_or(ParseError::MissingArgument)?;
    let inside = body.get(open + 1..).unwrap_or_default();
    let [d, d2, d3, rest @ ..] = inside else {
        return Err(ParseError::BadDelimiter);
    };
    if !is_delimiter(*d) || d2 != d || d3 != d {
        return Err(ParseError::BadDelimiter);
    }
    let len = rest
        .iter()
        .position(|b| b == d)
        .ok_or(ParseError::BadDelimiter)?;
    let digits = rest.get(..len).unwrap_or_default();
    let port = parse_decimal_port(digits)?;
    match rest.get(len + 1) {
        Some(b')') => {}
        Some(b) if b == d => return Err(ParseError::BadDelimiter),
        _ => return Err(ParseError::UnbalancedParenthesis),
    }
    let start = open + 4;
    Ok(EpsvPort {
        port,
        arg: start..start + len,
    })
}

/// The directory named by a 257 reply (to PWD or MKD), final or start line:
/// `257 "/a ""b"""` names `/a "b"` (a doubled quote stands for one, RFC 959 appendix II).
/// `None` when the line is not a 257 reply or holds no complete, non-empty quoted name.
pub fn parse_257(line: &[u8]) -> Option<Vec<u8>> {
    let (body, _) = split_line(line);
    let start = text_start(body, *b"257").ok()?;
    let tail = body.get(start..)?;
    let open = tail.iter().position(|&b| b == b'"')?;
    let mut bytes = tail.get(open + 1..)?.iter();
    let mut path = Vec::new();
    loop {
        match bytes.next()? {
            b'"' if bytes.as_slice().first() == Some(&b'"') => {
                bytes.next();
                path.push(b'"');
            }
            b'"' => break,
            &b => path.push(b),
        }
    }
    (!path.is_empty()).then_some(path)
}

/// The code of a reply line, if the three bytes are digits forming 100..=599.
fn reply_code(digits: [u8; 3]) -> Option<u16> {
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
    (100..=599).contains(&code).then_some(code)
}

/// Offset of the text of a reply with `code` (after `ddd` and its space or `-`).
fn text_start(body: &[u8], code: [u8; 3]) -> Result<usize, ParseError> {
    match body {
        [a, b, c, rest @ ..] if [*a, *b, *c] == code => match rest {
            [] => Ok(3),
            [b' ' | b'-', ..] => Ok(4),
            _ => Err(ParseError::WrongReplyCode),
        },
        _ => Err(ParseError::WrongReplyCode),
    }
}

fn is_host_port_byte(b: u8) -> bool {
    b.is_ascii_digit() || b == b','
}

#[cfg(test)]
mod test;
