//! Properties of the FTP line parsers and formatters (`engine::alg::ftp`).
//!
//! - Formatting an address or port and parsing the line it is put in gives it back, for PORT,
//!   EPRT, 227, 229 and 257 lines around random addresses, ports, delimiters and text.
//! - No bytes make a parser panic, and what they return points inside the line: arbitrary
//!   bytes, and random edits of real lines (the `ftp_line` fuzz target's checks, from the test kit).

use std::net::{IpAddr, Ipv4Addr};

use ftpgate::engine::alg::ftp::command::{self, parse_command, Command};
use ftpgate::engine::alg::ftp::format;
use ftpgate::engine::alg::ftp::reply::{parse_227, parse_229, parse_257};
use ftpgate_testkit::ftp_line::check;
use proptest::prelude::*;

/// Real and near-real lines to mutate.
const SEEDS: &[&[u8]] = &[
    b"PORT 10,77,0,2,4,126\r\n",
    b"EPRT |1|132.235.1.2|6275|\r\n",
    b"EPRT |2|2001:470:1f11:81f:c999:d94:aa7c:2e3e|49189|\r\n",
    b"EPSV ALL\r\n",
    b"USER anonymous\r\n",
    b"RETR robots.txt\r\n",
    b"227 Entering Passive Mode (199,233,217,249,221,90)\r\n",
    b"227 =10,0,0,1,4,1\r\n",
    b"229 Extended Passive mode OK (|||37150|)\r\n",
    b"257 \"/a \"\"b\"\"\" is current\r\n",
    b"220-Welcome\r\n",
];

/// Printable RFC 2428 delimiters the parsers accept.
fn delimiter() -> impl Strategy<Value = u8> {
    prop::sample::select(
        (33u8..=126)
            .filter(|&d| command::is_delimiter(d))
            .collect::<Vec<_>>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn port_round_trips(octets in any::<[u8; 4]>(), port in 1u16.., verb in "[Pp][Oo][Rr][Tt]") {
        let addr = Ipv4Addr::from(octets);
        let text = format::host_port(addr, port);
        let line = [verb.as_bytes(), b" ", &text, b"\r\n"].concat();
        let got = parse_command(&line);
        prop_assert!(matches!(&got, Ok(Command::Port(hp))
            if hp.addr == addr && hp.port == port && hp.arg == (5..5 + text.len())), "{got:?}");
        check(&line);
    }

    #[test]
    fn eprt_round_trips(addr in any::<IpAddr>(), port in 1u16.., d in delimiter()) {
        let text = format::extended_host_port(d, addr, port);
        let line = [b"EPRT ", &*text, b"\r\n"].concat();
        let got = parse_command(&line);
        prop_assert!(matches!(&got, Ok(Command::Eprt(e)) if e.addr == addr && e.port == port
            && e.delimiter == d && e.arg == (5..5 + text.len())), "{got:?}");
        check(&line);
    }

    #[test]
    fn pasv_reply_round_trips(
        octets in any::<[u8; 4]>(),
        port in 1u16..,
        before in "[A-Za-z =:.]{0,30}",
        parens in any::<bool>(),
        after in "[A-Za-z .]{0,10}",
        sep in "[ -]",
    ) {
        let addr = Ipv4Addr::from(octets);
        let text = format::host_port(addr, port);
        let (open, close): (&[u8], &[u8]) = if parens { (b"(", b")") } else { (b"", b"") };
        let head = [b"227", sep.as_bytes(), before.as_bytes(), open].concat();
        let line = [&head[..], &text, close, after.as_bytes(), b"\r\n"].concat();
        let got = parse_227(&line);
        prop_assert!(matches!(&got, Ok(hp) if hp.addr == addr && hp.port == port
            && hp.arg == (head.len()..head.len() + text.len())), "{got:?}");
        check(&line);
    }

    #[test]
    fn epsv_reply_round_trips(port in 1u16.., d in delimiter(), before in "[A-Za-z ]{0,30}") {
        let text = format::epsv_port(port);
        let head = [b"229 ", before.as_bytes(), b"(", &[d, d, d]].concat();
        let line = [&head[..], &text, &[d], b").\r\n"].concat();
        let got = parse_229(&line);
        prop_assert!(matches!(&got, Ok(p) if p.port == port
            && p.arg == (head.len()..head.len() + text.len())), "{got:?}");
        check(&line);
    }

    #[test]
    fn pwd_reply_round_trips(path in prop::collection::vec(any::<u8>(), 1..40)) {
        let quoted: Vec<u8> = path.iter().flat_map(|&b| if b == b'"' { vec![b, b] } else { vec![b] }).collect();
        let line = [b"257 \"", &quoted[..], b"\" is the current directory\r\n"].concat();
        prop_assert_eq!(parse_257(&line), Some(path));
        check(&line);
    }

    #[test]
    fn arbitrary_bytes(line in prop::collection::vec(any::<u8>(), 0..600)) {
        check(&line);
    }

    #[test]
    fn arbitrary_terminated_text(body in "[ -~]{0,80}", crlf in any::<bool>()) {
        let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        check(&[body.as_bytes(), end].concat());
    }

    #[test]
    fn edited_real_lines(
        seed in prop::sample::select(SEEDS),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..4),
    ) {
        let mut line = seed.to_vec();
        for (at, op, byte) in edits {
            let i = at.index(line.len() + 1);
            match op {
                0 if i < line.len() => line[i] = byte,
                1 if i < line.len() => { line.remove(i); }
                _ => line.insert(i, byte),
            }
        }
        check(&line);
    }
}
