//! Byte-vector cases for the reply parsers, with real lines from the Zeek captures in
//! `/work/shared/captures/zeek` (NetBSD ftpd, vsftpd, JPIX, NCSA) and malformed ones.

use std::net::Ipv4Addr;

use super::super::command::MAX_ADDRESS_LINE;
use super::*;
use ParseError as E;

fn line(code: Option<u16>, kind: LineKind, text: &[u8]) -> ReplyLine<'_> {
    ReplyLine { code, kind, text }
}

#[test]
fn classifies_lines() {
    use LineKind::{Final, Start, Text};
    let cases: &[(&[u8], ReplyLine)] = &[
        (
            b"220 py.fake ready\r\n",
            line(Some(220), Final, b"py.fake ready"),
        ),
        (b"230-\r\n", line(Some(230), Start, b"")),
        (
            b"220- Welcome to FTP.JPIX.ad.jp,\r\n",
            line(Some(220), Start, b" Welcome to FTP.JPIX.ad.jp,"),
        ),
        (b"221 Bye\n", line(Some(221), Final, b"Bye")),
        (b"200\r\n", line(Some(200), Final, b"")),
        (b"599 x", line(Some(599), Final, b"x")),
        (b"100 x\r\n", line(Some(100), Final, b"x")),
        (b"099 x\r\n", line(None, Text, b"099 x")),
        (b"600 x\r\n", line(None, Text, b"600 x")),
        (b"99 PASV invalid\r\n", line(None, Text, b"99 PASV invalid")),
        (
            b"SYST not supported\r\n",
            line(None, Text, b"SYST not supported"),
        ),
        (b"230PASS OK\r\n", line(None, Text, b"230PASS OK")),
        (b"2200 x\r\n", line(None, Text, b"2200 x")),
        (
            b"     Located in Tokyo\r\n",
            line(None, Text, b"     Located in Tokyo"),
        ),
        (b"\r\n", line(None, Text, b"")),
        (b"", line(None, Text, b"")),
        (b"22", line(None, Text, b"22")),
        (b"2a0 x\r\n", line(None, Text, b"2a0 x")),
    ];
    for (input, want) in cases {
        assert_eq!(&parse_reply_line(input), want, "{}", input.escape_ascii());
    }
}

#[test]
fn parses_227() {
    type Case = (&'static [u8], [u8; 4], u16, Range<usize>);
    let cases: &[Case] = &[
        (
            b"227 Entering Passive Mode (199,233,217,249,221,90)\r\n",
            [199, 233, 217, 249],
            56666,
            27..49,
        ),
        (
            b"227 Entering Passive Mode (205,167,25,101,234,113).\r\n",
            [205, 167, 25, 101],
            60017,
            27..49,
        ),
        (
            b"227 Entering Passive Mode (164,107,123,6,183,231)\r\n",
            [164, 107, 123, 6],
            47079,
            27..48,
        ),
        (b"227 =10,0,0,1,4,1\r\n", [10, 0, 0, 1], 1025, 5..17),
        (
            b"227 Entering Passive Mode 10,0,0,1,4,1\r\n",
            [10, 0, 0, 1],
            1025,
            26..38,
        ),
        (
            b"227-Entering Passive Mode (10,0,0,1,4,1)\r\n",
            [10, 0, 0, 1],
            1025,
            27..39,
        ),
        (
            b"227 Mode 2, (10,0,0,1,0,21) ok, 1,2\r\n",
            [10, 0, 0, 1],
            21,
            13..26,
        ),
        (b"227 ,10,0,0,1,0,21\r\n", [10, 0, 0, 1], 21, 5..18),
    ];
    for (input, addr, port, arg) in cases {
        let got = parse_227(input).unwrap_or_else(|e| panic!("{}: {e}", input.escape_ascii()));
        assert_eq!(
            got,
            HostPort {
                addr: Ipv4Addr::from(*addr),
                port: *port,
                arg: arg.clone()
            }
        );
    }
}

#[test]
fn refuses_bad_227() {
    let cases: &[(&[u8], ParseError)] = &[
        (b"227 PASV ok (1,2,3,4,5,6)\n", E::BareLineFeed),
        (b"227 PASV ok (1,2,3,4,5,6)", E::Unterminated),
        (b"227 PASV ok (1,2,3,4,5,6)\0\r\n", E::NulByte),
        (b"227 PASV ok (1,2,3,4,5)\r\n", E::FieldCount),
        (b"227 PASV ok (1,2,3,4,5,6,7)\r\n", E::FieldCount),
        (b"227 PASV ok 1,5 (1,2,3,4,5,6)\r\n", E::FieldCount),
        (b"227 PASV ok (1,2,3,4,5,6,)\r\n", E::FieldCount),
        (b"227 PASV ok (1,2,3,4,,6)\r\n", E::BadNumber),
        (b"227 PASV ok (1,2,3,4,5,1000)\r\n", E::BadNumber),
        (b"227 PASV ok (1,2,3,256,5,6)\r\n", E::BadOctet),
        (b"227 PASV ok (1,2,3,4,0,0)\r\n", E::PortZero),
        (b"227 PASV ok (1,2,3,4,5,6\r\n", E::UnbalancedParenthesis),
        (b"227 PASV ok 1,2,3,4,5,6)\r\n", E::UnbalancedParenthesis),
        (b"227 PASV ok (1,2,3,4,5,6 )\r\n", E::UnbalancedParenthesis),
        (b"227 Response to PASV command\r\n", E::MissingArgument),
        (b"227\r\n", E::MissingArgument),
        (b"2270 (1,2,3,4,5,6)\r\n", E::WrongReplyCode),
        (b"228 (1,2,3,4,5,6)\r\n", E::WrongReplyCode),
        (b" 227 (1,2,3,4,5,6)\r\n", E::WrongReplyCode),
    ];
    let mut long = b"227 PASV ok (1,2,3,4,5,6)".to_vec();
    long.resize(MAX_ADDRESS_LINE + 1 - 2, b'.');
    long.extend_from_slice(b"\r\n");
    assert_eq!(parse_227(&long), Err(E::LineTooLong));
    long.remove(30);
    assert_eq!(long.len(), MAX_ADDRESS_LINE);
    assert_eq!(parse_227(&long).map(|hp| hp.port), Ok(1286));
    for (input, want) in cases {
        assert_eq!(
            parse_227(input).err(),
            Some(*want),
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn parses_229() {
    let cases: &[(&[u8], u16, Range<usize>)] = &[
        (
            b"229 Extended Passive mode OK (|||37150|)\r\n",
            37150,
            33..38,
        ),
        (
            b"229 Entering Extended Passive Mode (|||57087|)\r\n",
            57087,
            39..44,
        ),
        (
            b"229-Entering Extended Passive Mode (|||6446|).\r\n",
            6446,
            39..43,
        ),
        (b"229 (!!!1!)\r\n", 1, 8..9),
        (b"229 (|||06446|)\r\n", 6446, 8..13),
        (
            b"229 Entering Extended Passive Mode ((((6446()\r\n",
            6446,
            39..43,
        ),
    ];
    for (input, port, arg) in cases {
        let got = parse_229(input).unwrap_or_else(|e| panic!("{}: {e}", input.escape_ascii()));
        assert_eq!(
            got,
            EpsvPort {
                port: *port,
                arg: arg.clone()
            }
        );
    }
}

#[test]
fn refuses_bad_229() {
    let cases: &[(&[u8], ParseError)] = &[
        (b"229 EPSV ok (|||6446|)\n", E::BareLineFeed),
        (b"229 EPSV ok (|||6446|)\0\r\n", E::NulByte),
        (b"229 EPSV ok (|||0|)\r\n", E::PortZero),
        (b"229 EPSV ok (|||65536|)\r\n", E::BadPort),
        (b"229 EPSV ok (|||065535|)\r\n", E::BadPort),
        (b"229 EPSV ok (||||)\r\n", E::BadPort),
        (b"229 EPSV ok (|||64a6|)\r\n", E::BadPort),
        (b"229 EPSV ok (|||6446)\r\n", E::BadDelimiter),
        (b"229 EPSV ok (|||6446||)\r\n", E::BadDelimiter),
        (b"229 EPSV ok (||1|6446|)\r\n", E::BadDelimiter),
        (b"229 EPSV ok (|!|6446|)\r\n", E::BadDelimiter),
        (b"229 EPSV ok (1116441)\r\n", E::BadDelimiter),
        (b"229 EPSV ok (||\r\n", E::BadDelimiter),
        (b"229 EPSV ok (|||6446|\r\n", E::UnbalancedParenthesis),
        (b"229 EPSV ok |||6446|\r\n", E::MissingArgument),
        (b"229 EPSV ok (x) (|||6446|)\r\n", E::BadDelimiter),
        (b"227 EPSV ok (|||6446|)\r\n", E::WrongReplyCode),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_229(input).err(),
            Some(*want),
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn parses_257() {
    let cases: &[(&[u8], Option<&[u8]>)] = &[
        (b"257 \"/a \"\"b\"\"\" is current\r\n", Some(b"/a \"b\"")),
        (b"257 \"/\" is the current directory.\r\n", Some(b"/")),
        (b"257 \"/\" is your current location\n", Some(b"/")),
        (b"257-\"/usr/dm\" created\r\n", Some(b"/usr/dm")),
        (b"257 MKD ok: \"/x y\"\r\n", Some(b"/x y")),
        (b"257 \"\"\"\"\"\"\r\n", Some(b"\"\"")),
        (b"257 \"\" is current\r\n", None),
        (b"257 \"/unclosed\r\n", None),
        (b"257 \"/a\"\"\r\n", None),
        (b"257 no quotes\r\n", None),
        (b"257\r\n", None),
        (b"250 \"/\" is current\r\n", None),
        (b"2570 \"/\"\r\n", None),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_257(input).as_deref(),
            *want,
            "{}",
            input.escape_ascii()
        );
    }
}
