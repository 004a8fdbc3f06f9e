//! FTP commands (client to server): what a line asks for, and strict parsing of the ones that
//! carry an address.
//!
//! Owns [`parse_command`] and its [`Command`], the [`ParseError`] catalogue shared by every FTP
//! line parser (defined in the `error` submodule), and the checks the reply parser reuses: line endings, the `h1,h2,h3,h4,p1,p2`
//! host-port syntax (RFC 959) and EPRT/EPSV delimiters and ports (RFC 2428).
//!
//! Input is one line including its `\n`. Pure functions: no state, no allocation, no I/O. They
//! must never panic on any bytes, so every slice access is a checked `get` or a slice pattern.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

mod error;

pub use error::ParseError;

/// Longest PORT, EPRT, 227 or 229 line accepted, terminator included.
pub const MAX_ADDRESS_LINE: usize = 512;
/// Longest verb accepted (RFC 959 verbs have three or four letters).
pub const MAX_VERB: usize = 16;

/// One client command, borrowing from the line it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `PORT h1,h2,h3,h4,p1,p2`: the client will listen at this IPv4 address and port.
    Port(HostPort),
    /// `EPRT <d>af<d>addr<d>port<d>` (RFC 2428): the client will listen here.
    Eprt(ExtendedHostPort),
    /// `PASV`: the server is asked for an IPv4 address and port (answered by 227).
    Pasv,
    /// `EPSV [family|ALL]` (RFC 2428): the server is asked for a port (answered by 229).
    Epsv(EpsvArg),
    /// `USER name`: the user name.
    User(&'a [u8]),
    /// `PASS ...`: the password is never exposed.
    Pass,
    /// `CWD path` (or `XCWD`, RFC 775).
    Cwd(&'a [u8]),
    /// `CDUP` (or `XCUP`).
    Cdup,
    /// `PWD` (or `XPWD`): answered by 257.
    Pwd,
    /// A command that opens a data connection; `arg` may be empty.
    Transfer {
        /// Which transfer.
        verb: TransferVerb,
        /// The argument (path or listing options) as given.
        arg: &'a [u8],
    },
    /// `AUTH mechanism` (RFC 2228), e.g. `TLS`: after a 234 the stream is no longer readable.
    Auth(&'a [u8]),
    /// `QUIT`.
    Quit,
    /// `REIN`: the session is reset to just after the greeting.
    Rein,
    /// Any other verb (letters and digits only), as given.
    Other {
        /// The verb, in its original case.
        verb: &'a [u8],
    },
}

/// An IPv4 address and port in `h1,h2,h3,h4,p1,p2` form (PORT and 227).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// The announced address.
    pub addr: Ipv4Addr,
    /// The announced port, `p1 * 256 + p2`, never 0.
    pub port: u16,
    /// Byte range of `h1,...,p2` within the line: the part a NAT rewrite replaces.
    pub arg: Range<usize>,
}

/// An address and port in RFC 2428 form (EPRT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedHostPort {
    /// The announced address; its family matches the one named in the line.
    pub addr: IpAddr,
    /// The announced port, never 0.
    pub port: u16,
    /// The delimiter the line used (see [`is_delimiter`]).
    pub delimiter: u8,
    /// Byte range of the whole `|af|addr|port|` within the line.
    pub arg: Range<usize>,
}

/// The argument of EPSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsvArg {
    /// No argument: the family of the control connection.
    None,
    /// A network protocol number (1 = IPv4, 2 = IPv6).
    Family(u8),
    /// `EPSV ALL`: from now on the client promises to use only EPSV.
    All,
}

/// The commands that transfer data over a data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferVerb {
    /// Download a file.
    Retr,
    /// Upload a file.
    Stor,
    /// Upload, appending to a file.
    Appe,
    /// Upload to a name the server chooses.
    Stou,
    /// Directory listing.
    List,
    /// Name list.
    Nlst,
    /// Machine-readable listing (RFC 3659).
    Mlsd,
}

impl TransferVerb {
    /// The verb in upper case, as RFC 959 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferVerb::Retr => "RETR",
            TransferVerb::Stor => "STOR",
            TransferVerb::Appe => "APPE",
            TransferVerb::Stou => "STOU",
            TransferVerb::List => "LIST",
            TransferVerb::Nlst => "NLST",
            TransferVerb::Mlsd => "MLSD",
        }
    }

    /// Whether data flows from client to server.
    pub fn is_upload(self) -> bool {
        matches!(
            self,
            TransferVerb::Stor | TransferVerb::Appe | TransferVerb::Stou
        )
    }
}

/// Parses one client line (terminator included).
///
/// Address commands (PORT, EPRT) are checked strictly: CRLF ending, no NUL, at most
/// [`MAX_ADDRESS_LINE`] bytes, exactly one space after the verb. Other commands accept a bare
/// LF and take everything after the first space as their argument. Unknown verbs are
/// [`Command::Other`]; a verb with bytes other than letters and digits is an error, so a
/// prefix such as a Telnet IAC sequence cannot hide a PORT from the gateway.
pub fn parse_command(line: &[u8]) -> Result<Command<'_>, ParseError> {
    let (body, ending) = split_line(line);
    if ending == Ending::Missing {
        return Err(ParseError::Unterminated);
    }
    let mut parts = body.splitn(2, |&b| b == b' ');
    let verb = parts.next().unwrap_or_default();
    let arg = parts.next();
    if verb.is_empty() {
        return Err(ParseError::MissingVerb);
    }
    let mut buf = [0u8; MAX_VERB];
    let upper = buf.get_mut(..verb.len()).ok_or(ParseError::VerbTooLong)?;
    if !verb.iter().all(u8::is_ascii_alphanumeric) {
        return Err(ParseError::BadVerb);
    }
    upper.copy_from_slice(verb);
    upper.make_ascii_uppercase();
    let required = || {
        arg.filter(|a| !a.is_empty())
            .ok_or(ParseError::MissingArgument)
    };
    let transfer = |verb| Command::Transfer {
        verb,
        arg: arg.unwrap_or_default(),
    };
    Ok(match &*upper {
        b"PORT" => Command::Port(parse_port(line, verb.len())?),
        b"EPRT" => Command::Eprt(parse_eprt(line, verb.len())?),
        b"PASV" => Command::Pasv,
        b"EPSV" => Command::Epsv(parse_epsv_arg(arg)?),
        b"USER" => Command::User(required()?),
        b"PASS" => Command::Pass,
        b"CWD" | b"XCWD" => Command::Cwd(required()?),
        b"CDUP" | b"XCUP" => Command::Cdup,
        b"PWD" | b"XPWD" => Command::Pwd,
        b"RETR" => transfer(TransferVerb::Retr),
        b"STOR" => transfer(TransferVerb::Stor),
        b"APPE" => transfer(TransferVerb::Appe),
        b"STOU" => transfer(TransferVerb::Stou),
        b"LIST" => transfer(TransferVerb::List),
        b"NLST" => transfer(TransferVerb::Nlst),
        b"MLSD" => transfer(TransferVerb::Mlsd),
        b"AUTH" => Command::Auth(required()?),
        b"QUIT" => Command::Quit,
        b"REIN" => Command::Rein,
        _ => Command::Other { verb },
    })
}

/// Whether `d` may delimit RFC 2428 fields: printable ASCII (33-126) other than letters,
/// digits, `.` and `:`. RFC 2428 allows those too, but they can occur in the address or port
/// text, so a rewritten argument using them could not be read back unambiguously.
pub fn is_delimiter(d: u8) -> bool {
    d.is_ascii_punctuation() && d != b'.' && d != b':'
}

/// How a line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// `\r\n`.
    CrLf,
    /// A bare `\n`.
    Lf,
    /// No `\n` at all.
    Missing,
}

/// Splits a line into its body (without terminator) and the way it ends.
pub(super) fn split_line(line: &[u8]) -> (&[u8], Ending) {
    match line {
        [body @ .., b'\r', b'\n'] => (body, Ending::CrLf),
        [body @ .., b'\n'] => (body, Ending::Lf),
        _ => (line, Ending::Missing),
    }
}

/// The checks every address-carrying line passes first; returns the body.
pub(super) fn check_address_line(line: &[u8]) -> Result<&[u8], ParseError> {
    let (body, ending) = split_line(line);
    match ending {
        Ending::Missing => return Err(ParseError::Unterminated),
        Ending::Lf => return Err(ParseError::BareLineFeed),
        Ending::CrLf => {}
    }
    if line.len() > MAX_ADDRESS_LINE {
        return Err(ParseError::LineTooLong);
    }
    if line.contains(&0) {
        return Err(ParseError::NulByte);
    }
    Ok(body)
}

/// Parses `text`, which must be exactly `h1,h2,h3,h4,p1,p2`.
pub(super) fn parse_host_port_fields(text: &[u8]) -> Result<(Ipv4Addr, u16), ParseError> {
    if text.iter().filter(|&&b| b == b',').count() != 5 {
        return Err(ParseError::FieldCount);
    }
    let mut values = [0u8; 6];
    for (i, (slot, field)) in values
        .iter_mut()
        .zip(text.split(|&b| b == b','))
        .enumerate()
    {
        *slot = parse_field(field, i == 5)?;
    }
    let [h1, h2, h3, h4, p1, p2] = values;
    let port = u16::from_be_bytes([p1, p2]);
    if port == 0 {
        return Err(ParseError::PortZero);
    }
    Ok((Ipv4Addr::new(h1, h2, h3, h4), port))
}

/// One host-port field: 1-3 digits, at most 255. Junk after the digits of the last field is
/// trailing junk; anywhere else it makes the field a bad number.
fn parse_field(field: &[u8], last: bool) -> Result<u8, ParseError> {
    let digits = field.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(ParseError::BadNumber);
    }
    if digits < field.len() {
        return Err(if last {
            ParseError::TrailingJunk
        } else {
            ParseError::BadNumber
        });
    }
    if digits > 3 {
        return Err(ParseError::BadNumber);
    }
    let value = field
        .iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
    u8::try_from(value).map_err(|_| ParseError::BadOctet)
}

/// An RFC 2428 port: 1-5 digits, 1..=65535.
pub(super) fn parse_decimal_port(text: &[u8]) -> Result<u16, ParseError> {
    if text.is_empty() || text.len() > 5 || !text.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadPort);
    }
    let value = text
        .iter()
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
    match u16::try_from(value) {
        Ok(0) => Err(ParseError::PortZero),
        Ok(port) => Ok(port),
        Err(_) => Err(ParseError::BadPort),
    }
}

/// The argument of PORT/EPRT: it starts right after "VERB " and must not start with a space.
fn address_argument(body: &[u8], start: usize) -> Result<&[u8], ParseError> {
    let arg = body.get(start..).unwrap_or_default();
    match arg.first() {
        None => Err(ParseError::MissingArgument),
        Some(b' ') => Err(ParseError::ExtraSpace),
        Some(_) => Ok(arg),
    }
}

fn parse_port(line: &[u8], verb_len: usize) -> Result<HostPort, ParseError> {
    let body = check_address_line(line)?;
    let start = verb_len + 1;
    let arg = address_argument(body, start)?;
    let (addr, port) = parse_host_port_fields(arg)?;
    Ok(HostPort {
        addr,
        port,
        arg: start..start + arg.len(),
    })
}

fn parse_eprt(line: &[u8], verb_len: usize) -> Result<ExtendedHostPort, ParseError> {
    let body = check_address_line(line)?;
    let start = verb_len + 1;
    let arg = address_argument(body, start)?;
    let (&delimiter, rest) = arg.split_first().ok_or(ParseError::MissingArgument)?;
    if !is_delimiter(delimiter) {
        return Err(ParseError::BadDelimiter);
    }
    let mut fields = rest.split(|&b| b == delimiter);
    let (Some(family), Some(addr), Some(port), Some(after), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(ParseError::BadDelimiter);
    };
    if !after.is_empty() {
        return Err(ParseError::TrailingJunk);
    }
    let text = std::str::from_utf8(addr).map_err(|_| ParseError::BadAddress)?;
    let v4 = text.parse::<Ipv4Addr>().ok();
    let v6 = text.parse::<Ipv6Addr>().ok();
    let addr = match (family, v4, v6) {
        (b"1", Some(v4), _) => IpAddr::V4(v4),
        (b"2", _, Some(v6)) => IpAddr::V6(v6),
        (b"1", None, Some(_)) | (b"2", Some(_), None) => return Err(ParseError::FamilyMismatch),
        (b"1" | b"2", _, _) => return Err(ParseError::BadAddress),
        _ => return Err(ParseError::BadFamily),
    };
    Ok(ExtendedHostPort {
        addr,
        port: parse_decimal_port(port)?,
        delimiter,
        arg: start..start + arg.len(),
    })
}

fn parse_epsv_arg(arg: Option<&[u8]>) -> Result<EpsvArg, ParseError> {
    let Some(arg) = arg.filter(|a| !a.is_empty()) else {
        return Ok(EpsvArg::None);
    };
    if arg.eq_ignore_ascii_case(b"ALL") {
        return Ok(EpsvArg::All);
    }
    if arg.len() > 3 || !arg.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadEpsvArgument);
    }
    let value = arg
        .iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
    match u8::try_from(value) {
        Ok(family) if family != 0 => Ok(EpsvArg::Family(family)),
        _ => Err(ParseError::BadEpsvArgument),
    }
}

#[cfg(test)]
mod test;
