//! Telnet commands in FTP control lines (RFC 959 section 4.1, RFC 854): a line read the way
//! servers read it before the ALG decides what it is.
//!
//! Owns [`strip`]: IAC IAC becomes one literal 0xff byte, IAC WILL/WONT/DO/DONT and their
//! option byte are removed, a subnegotiation (IAC SB ... IAC SE) is removed whole, and every
//! other IAC command (IP, DM, NOP, AO, AYT, BRK, GA, EC, EL) is removed with its IAC; an IAC
//! at the end of the line is removed. This is what ProFTPD, vsftpd and most servers do. It
//! never interprets EC/EL (erase): [`servers_disagree`] tells the caller a line holds one, or a
//! subnegotiation, since servers read those differently. Pure functions, never panic.

use std::borrow::Cow;

/// Interpret As Command.
pub const IAC: u8 = 255;
const SE: u8 = 240;
const EC: u8 = 247;
const EL: u8 = 248;
const SB: u8 = 250;
const WILL: u8 = 251;
const DONT: u8 = 254;

/// The line with its Telnet commands removed; borrowed when it holds none.
pub fn strip(line: &[u8]) -> Cow<'_, [u8]> {
    if !line.contains(&IAC) {
        return Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while let Some(&byte) = line.get(i) {
        if byte != IAC {
            out.push(byte);
            i += 1;
            continue;
        }
        match line.get(i + 1).copied() {
            Some(IAC) => {
                out.push(IAC);
                i += 2;
            }
            Some(WILL..=DONT) => i += 3,
            Some(SB) => {
                // Up to and including IAC SE (or the end of the line).
                let rest = line.get(i + 2..).unwrap_or_default();
                let end = rest
                    .windows(2)
                    .position(|pair| pair == [IAC, SE])
                    .map_or(rest.len(), |at| at + 2);
                i += 2 + end;
            }
            Some(_) => i += 2,
            None => i += 1,
        }
    }
    Cow::Owned(out)
}

/// Whether the line holds a Telnet command servers read differently: an erase (IAC EC,
/// IAC EL: what it erases differs), or a subnegotiation (IAC SB: most servers drop only the
/// two bytes and read what follows, others drop up to IAC SE). Doubled IACs are literals.
pub fn servers_disagree(line: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&byte) = line.get(i) {
        if byte != IAC {
            i += 1;
            continue;
        }
        match line.get(i + 1).copied() {
            Some(EC | EL | SB) => return true,
            Some(WILL..=DONT) => i += 3,
            _ => i += 2,
        }
    }
    false
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn commands_are_removed_and_doubled_iac_is_a_literal() {
        assert_eq!(&*strip(b"\xff\xf4\xff\xf2ABOR\r\n"), b"ABOR\r\n");
        assert_eq!(&*strip(b"PO\xff\xf1RT 1\r\n"), b"PORT 1\r\n");
        assert_eq!(&*strip(b"\xff\xfb\x01USER a\r\n"), b"USER a\r\n");
        assert_eq!(
            &*strip(b"\xff\xfa\x18\x00xterm\xff\xf0NOOP\r\n"),
            b"NOOP\r\n"
        );
        assert_eq!(&*strip(b"CWD \xff\xff\r\n"), b"CWD \xff\r\n");
        assert_eq!(&*strip(b"NOOP\xff"), b"NOOP");
        assert!(matches!(strip(b"NOOP\r\n"), Cow::Borrowed(_)));
        assert!(servers_disagree(b"PORX\xff\xf7T\r\n"));
        assert!(!servers_disagree(b"\xff\xf4ABOR\r\n"));
        // A subnegotiation, terminated or not; a doubled IAC before 0xfa is a literal.
        assert!(servers_disagree(b"PASS\xff\xfa\x18x\r\n"));
        assert!(servers_disagree(b"NOOP\xff\xfa\x18\x00xterm\xff\xf0\r\n"));
        assert!(!servers_disagree(b"PASS a\xff\xff\xfab\r\n"));
        assert!(!servers_disagree(b"\xff\xfb\xfaNOOP\r\n"));
    }
}
