//! Replacement address arguments for a NAT rewrite of PORT / 227 (`h1,h2,h3,h4,p1,p2`),
//! EPRT (`|af|addr|port|`) and 229 (the port digits).
//!
//! Owns the text only: the caller splices it over the `arg` range the parser returned. Output
//! goes into [`ArgText`], a fixed buffer on the stack, so formatting never allocates, and every
//! text it writes is read back identically by the parsers in [`command`](crate::engine::alg::ftp::parse::command) and
//! [`reply`](crate::engine::alg::ftp::parse::reply).

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Deref;

use crate::engine::alg::ftp::parse::command::is_delimiter;

/// Capacity of [`ArgText`]. The longest text written is an EPRT argument with a 45-character
/// IPv6 literal: 3 + 45 + 1 + 5 + 1 = 55 bytes.
pub const ARG_TEXT_CAPACITY: usize = 64;

/// A formatted argument: up to [`ARG_TEXT_CAPACITY`] ASCII bytes, readable as `&[u8]`.
#[derive(Clone, Copy)]
pub struct ArgText {
    bytes: [u8; ARG_TEXT_CAPACITY],
    len: usize,
}

impl ArgText {
    fn new() -> Self {
        Self {
            bytes: [0; ARG_TEXT_CAPACITY],
            len: 0,
        }
    }

    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&self.bytes)
    }

    /// Appends bytes; what does not fit is dropped (never happens with the texts of this
    /// module, whose lengths are bounded by [`ARG_TEXT_CAPACITY`]).
    fn push(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(ARG_TEXT_CAPACITY);
        if let (Some(dst), Some(src)) = (
            self.bytes.get_mut(self.len..end),
            bytes.get(..end - self.len),
        ) {
            dst.copy_from_slice(src);
            self.len = end;
        }
    }

    /// Appends `n` in decimal, without leading zeros.
    fn push_decimal(&mut self, n: u16) {
        let mut digits = [0u8; 5];
        let mut rest = n;
        let mut start = digits.len();
        while start > 0 {
            start -= 1;
            if let Some(slot) = digits.get_mut(start) {
                // `rest % 10` is below 10, so the cast cannot truncate.
                *slot = b'0' + (rest % 10) as u8;
            }
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.push(digits.get(start..).unwrap_or_default());
    }
}

impl Deref for ArgText {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for ArgText {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for ArgText {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ArgText {}

impl fmt::Debug for ArgText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.as_bytes().escape_ascii())
    }
}

impl fmt::Display for ArgText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_bytes().escape_ascii())
    }
}

impl fmt::Write for ArgText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// `h1,h2,h3,h4,p1,p2` for PORT and 227, without leading zeros. (Port 0 is written as asked,
/// though the parsers refuse it.)
pub fn host_port(addr: Ipv4Addr, port: u16) -> ArgText {
    let mut out = ArgText::new();
    let [p1, p2] = port.to_be_bytes();
    for (i, n) in addr.octets().into_iter().chain([p1, p2]).enumerate() {
        if i > 0 {
            out.push(b",");
        }
        out.push_decimal(u16::from(n));
    }
    out
}

/// `<d>af<d>addr<d>port<d>` for EPRT (RFC 2428): af 1 with a dotted IPv4 address, af 2 with
/// an IPv6 address in RFC 5952 form. Pass the delimiter of the line being rewritten; one that
/// [`is_delimiter`] refuses is replaced by `|`, so the result always parses.
pub fn extended_host_port(delimiter: u8, addr: IpAddr, port: u16) -> ArgText {
    let d = if is_delimiter(delimiter) {
        delimiter
    } else {
        b'|'
    };
    let mut out = ArgText::new();
    out.push(&[d, if addr.is_ipv4() { b'1' } else { b'2' }, d]);
    // `ArgText` never reports an error (see `write_str`), so there is nothing to handle.
    let _ = write!(out, "{addr}");
    out.push(&[d]);
    out.push_decimal(port);
    out.push(&[d]);
    out
}

/// The port digits of a 229 reply (the part between the third and fourth delimiter).
pub fn epsv_port(port: u16) -> ArgText {
    let mut out = ArgText::new();
    out.push_decimal(port);
    out
}

#[cfg(test)]
mod test {
    use std::net::Ipv6Addr;

    use super::*;

    #[test]
    fn host_ports() {
        let a = Ipv4Addr::new(198, 51, 100, 1);
        assert_eq!(host_port(a, 1150).as_bytes(), b"198,51,100,1,4,126");
        assert_eq!(
            host_port(Ipv4Addr::UNSPECIFIED, 0).as_bytes(),
            b"0,0,0,0,0,0"
        );
        let max = host_port(Ipv4Addr::BROADCAST, u16::MAX);
        assert_eq!(&*max, b"255,255,255,255,255,255");
        assert_eq!(max.len(), 23);
        assert_eq!(
            host_port(Ipv4Addr::new(10, 0, 0, 1), 256).as_bytes(),
            b"10,0,0,1,1,0"
        );
    }

    #[test]
    fn extended_host_ports() {
        let v4 = IpAddr::V4(Ipv4Addr::new(132, 235, 1, 2));
        assert_eq!(
            extended_host_port(b'|', v4, 6275).as_bytes(),
            b"|1|132.235.1.2|6275|"
        );
        assert_eq!(
            extended_host_port(b'!', v4, 1).as_bytes(),
            b"!1!132.235.1.2!1!"
        );
        let v6: IpAddr = "1080::8:800:200C:417A".parse().unwrap();
        assert_eq!(
            extended_host_port(b'|', v6, 5282).as_bytes(),
            b"|2|1080::8:800:200c:417a|5282|"
        );
        // A delimiter the parser would refuse falls back to '|'.
        for bad in [b'a', b'7', b'.', b':', b' ', 0, 0x7f, 0xff] {
            assert_eq!(
                extended_host_port(bad, v4, 21).as_bytes(),
                b"|1|132.235.1.2|21|"
            );
        }
        let widest = IpAddr::V6(Ipv6Addr::new(
            0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xfffe, 1,
        ));
        let text = extended_host_port(b'|', widest, 65535);
        assert_eq!(
            text.as_bytes(),
            b"|2|ffff:ffff:ffff:ffff:ffff:ffff:fffe:1|65535|"
        );
        let mapped = IpAddr::V6(Ipv4Addr::BROADCAST.to_ipv6_mapped());
        let text = extended_host_port(b'|', mapped, 65535);
        assert_eq!(text.as_bytes(), b"|2|::ffff:255.255.255.255|65535|");
        let longest = IpAddr::V6(Ipv6Addr::new(
            0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
        ));
        assert_eq!(
            extended_host_port(b'|', longest, 65535).len(),
            3 + 39 + 1 + 5 + 1
        );
    }

    #[test]
    fn epsv_ports() {
        assert_eq!(epsv_port(1).as_bytes(), b"1");
        assert_eq!(epsv_port(10).as_bytes(), b"10");
        assert_eq!(epsv_port(6446).as_bytes(), b"6446");
        assert_eq!(epsv_port(65535).as_bytes(), b"65535");
        assert_eq!(epsv_port(0).as_bytes(), b"0");
        assert_eq!(
            format!("{:?} {}", epsv_port(21), epsv_port(21)),
            "\"21\" 21"
        );
    }
}
