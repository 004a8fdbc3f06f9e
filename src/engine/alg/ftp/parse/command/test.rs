//! Byte-vector cases for [`super::parse_command`]: good and bad PORT / EPRT lines, every other
//! verb the gateway knows, and the error names.

use super::*;
use ParseError as E;

fn port(line: &[u8]) -> Result<(Ipv4Addr, u16, Range<usize>), ParseError> {
    match parse_command(line)? {
        Command::Port(hp) => Ok((hp.addr, hp.port, hp.arg)),
        other => panic!("not a PORT: {other:?}"),
    }
}

fn eprt(line: &[u8]) -> Result<ExtendedHostPort, ParseError> {
    match parse_command(line)? {
        Command::Eprt(ehp) => Ok(ehp),
        other => panic!("not an EPRT: {other:?}"),
    }
}

#[test]
fn port_good() {
    let a = Ipv4Addr::new(10, 77, 0, 2);
    assert_eq!(port(b"PORT 10,77,0,2,4,126\r\n"), Ok((a, 1150, 5..20)));
    assert_eq!(port(b"port 10,77,0,2,4,126\r\n"), Ok((a, 1150, 5..20)));
    assert_eq!(
        port(b"PoRt 010,077,000,002,004,126\r\n"),
        Ok((a, 1150, 5..28))
    );
    let all = Ipv4Addr::new(255, 255, 255, 255);
    assert_eq!(
        port(b"PORT 255,255,255,255,255,255\r\n"),
        Ok((all, 65535, 5..28))
    );
    assert_eq!(
        port(b"PORT 0,0,0,0,0,1\r\n"),
        Ok((Ipv4Addr::UNSPECIFIED, 1, 5..16))
    );
    let real = Ipv4Addr::new(141, 142, 220, 235);
    assert_eq!(
        port(b"PORT 141,142,220,235,131,46\r\n"),
        Ok((real, 33582, 5..27))
    );
}

#[test]
fn port_bad() {
    let cases: &[(&[u8], ParseError)] = &[
        (b"PORT 300,1,1,1,1,1\r\n", E::BadOctet),
        (b"PORT 1,2,3,4,256,1\r\n", E::BadOctet),
        (b"PORT 1,2,3,4,0,0\r\n", E::PortZero),
        (b"PORT 1,2,3,4,5\r\n", E::FieldCount),
        (b"PORT 114,115\r\n", E::FieldCount),
        (b"PORT 1,2,3,4,5,6,7\r\n", E::FieldCount),
        (b"PORT 1,2,3,4,5,6,\r\n", E::FieldCount),
        (b"PORT 1,2,3,4,5,6x\r\n", E::TrailingJunk),
        (b"PORT 1,2,3,4,5,6 \r\n", E::TrailingJunk),
        (b"PORT 1,2,3,4,5,6\r\r\n", E::TrailingJunk),
        (b"PORT 1,2,3,4,5,6\n", E::BareLineFeed),
        (b"PORT 1,2,3,4,5,6", E::Unterminated),
        (b"PORT 1,2,3,4,5,6\r", E::Unterminated),
        (b"PORT 1,2,3,4,5,6\0\r\n", E::NulByte),
        (b"PORT \x001,2,3,4,5,6\r\n", E::NulByte),
        (b"PORT  1,2,3,4,5,6\r\n", E::ExtraSpace),
        (b"PORT\r\n", E::MissingArgument),
        (b"PORT \r\n", E::MissingArgument),
        (b"PORT 1,,3,4,5,6\r\n", E::BadNumber),
        (b"PORT 1, 2,3,4,5,6\r\n", E::BadNumber),
        (b"PORT +1,2,3,4,5,6\r\n", E::BadNumber),
        (b"PORT -1,2,3,4,5,6\r\n", E::BadNumber),
        (b"PORT 0001,2,3,4,5,6\r\n", E::BadNumber),
        (b"PORT 1,2,3,4,5,0006\r\n", E::BadNumber),
        (b"PORT 1.2.3.4,5,6\r\n", E::FieldCount),
        (b"PORT\t1,2,3,4,5,6\r\n", E::BadVerb),
        (b"\xff\xf1PORT 1,2,3,4,5,6\r\n", E::BadVerb),
    ];
    for (line, want) in cases {
        assert_eq!(port(line).err(), Some(*want), "{}", line.escape_ascii());
    }
    let mut long = b"PORT 1,2,3,4,5,6".to_vec();
    long.resize(MAX_ADDRESS_LINE - 2, b' ');
    long.extend_from_slice(b"\r\n");
    assert_eq!(port(&long), Err(E::TrailingJunk));
    long.insert(16, b' ');
    assert_eq!(port(&long), Err(E::LineTooLong));
}

#[test]
fn eprt_good() {
    let got = eprt(b"EPRT |1|132.235.1.2|6275|\r\n").unwrap();
    assert_eq!(got.addr, "132.235.1.2".parse::<IpAddr>().unwrap());
    assert_eq!((got.port, got.delimiter, got.arg), (6275, b'|', 5..25));
    let got = eprt(b"eprt |2|1080::8:800:200C:417A|5282|\r\n").unwrap();
    assert_eq!(got.addr, "1080::8:800:200c:417a".parse::<IpAddr>().unwrap());
    assert_eq!((got.port, got.arg), (5282, 5..35));
    let real = b"EPRT |2|2001:470:1f11:81f:c999:d94:aa7c:2e3e|49189|\r\n";
    assert_eq!(eprt(real).unwrap().port, 49189);
    let got = eprt(b"EPRT !1!10.0.0.1!65535!\r\n").unwrap();
    assert_eq!((got.port, got.delimiter), (65535, b'!'));
    assert_eq!(eprt(b"EPRT |2|::ffff:1.2.3.4|00021|\r\n").unwrap().port, 21);
}

#[test]
fn eprt_bad() {
    let cases: &[(&[u8], ParseError)] = &[
        (b"EPRT |1|::1|5|\r\n", E::FamilyMismatch),
        (b"EPRT |2|1.2.3.4|5|\r\n", E::FamilyMismatch),
        (b"EPRT |3|1.2.3.4|5|\r\n", E::BadFamily),
        (b"EPRT ||1.2.3.4|5|\r\n", E::BadFamily),
        (b"EPRT |01|1.2.3.4|5|\r\n", E::BadFamily),
        (b"EPRT |1|1.2.3.256|5|\r\n", E::BadAddress),
        (b"EPRT |1|01.2.3.4|5|\r\n", E::BadAddress),
        (b"EPRT |1| 1.2.3.4|5|\r\n", E::BadAddress),
        (b"EPRT |1||5|\r\n", E::BadAddress),
        (b"EPRT |2|fe80::1%eth0|5|\r\n", E::BadAddress),
        (b"EPRT |2|[::1]|5|\r\n", E::BadAddress),
        (b"EPRT |1|1.2.3.\xff|5|\r\n", E::BadAddress),
        (b"EPRT |1|1.2.3.4|0|\r\n", E::PortZero),
        (b"EPRT |1|1.2.3.4|65536|\r\n", E::BadPort),
        (b"EPRT |1|1.2.3.4|000021|\r\n", E::BadPort),
        (b"EPRT |1|1.2.3.4||\r\n", E::BadPort),
        (b"EPRT |1|1.2.3.4|+5|\r\n", E::BadPort),
        (b"EPRT |1|1.2.3.4|5\r\n", E::BadDelimiter),
        (b"EPRT |1|1.2.3.4|5||\r\n", E::BadDelimiter),
        (b"EPRT |1|1.2.3.4!5|\r\n", E::BadDelimiter),
        (b"EPRT 1111.2.3.451\r\n", E::BadDelimiter),
        (b"EPRT a1a1.2.3.4a5a\r\n", E::BadDelimiter),
        (b"EPRT .1.1.2.3.4.5.\r\n", E::BadDelimiter),
        (b"EPRT \x7f1\x7f1.2.3.4\x7f5\x7f\r\n", E::BadDelimiter),
        (b"EPRT |1|1.2.3.4|5|x\r\n", E::TrailingJunk),
        (b"EPRT |1|1.2.3.4|5|\n", E::BareLineFeed),
        (b"EPRT |1|1.2.3.4|5|\0\r\n", E::NulByte),
        (b"EPRT  |1|1.2.3.4|5|\r\n", E::ExtraSpace),
        (b"EPRT\r\n", E::MissingArgument),
    ];
    for (line, want) in cases {
        assert_eq!(eprt(line).err(), Some(*want), "{}", line.escape_ascii());
    }
}

#[test]
fn other_commands() {
    let t = |verb, arg| Ok(Command::Transfer { verb, arg });
    let cases: &[(&[u8], Result<Command, ParseError>)] = &[
        (b"PASV\r\n", Ok(Command::Pasv)),
        (b"pasv\n", Ok(Command::Pasv)),
        (b"EPSV\r\n", Ok(Command::Epsv(EpsvArg::None))),
        (b"EPSV 1\r\n", Ok(Command::Epsv(EpsvArg::Family(1)))),
        (b"epsv 2\r\n", Ok(Command::Epsv(EpsvArg::Family(2)))),
        (b"EPSV all\r\n", Ok(Command::Epsv(EpsvArg::All))),
        (b"EPSV 0\r\n", Err(E::BadEpsvArgument)),
        (b"EPSV 256\r\n", Err(E::BadEpsvArgument)),
        (b"EPSV ALL x\r\n", Err(E::BadEpsvArgument)),
        (b"USER anonymous\r\n", Ok(Command::User(b"anonymous"))),
        (b"USER a b\n", Ok(Command::User(b"a b"))),
        (b"USER\r\n", Err(E::MissingArgument)),
        (b"PASS secret\r\n", Ok(Command::Pass)),
        (b"PASS\r\n", Ok(Command::Pass)),
        (b"CWD pub/FreeBSD\r\n", Ok(Command::Cwd(b"pub/FreeBSD"))),
        (b"XCWD /\r\n", Ok(Command::Cwd(b"/"))),
        (b"CWD \r\n", Err(E::MissingArgument)),
        (b"CDUP\r\n", Ok(Command::Cdup)),
        (b"XPWD\r\n", Ok(Command::Pwd)),
        (b"RETR robots.txt\r\n", t(TransferVerb::Retr, b"robots.txt")),
        (
            b"stor  two spaces\r\n",
            t(TransferVerb::Stor, b" two spaces"),
        ),
        (b"LIST\r\n", t(TransferVerb::List, b"")),
        (b"NLST -l\r\n", t(TransferVerb::Nlst, b"-l")),
        (b"MLSD\n", t(TransferVerb::Mlsd, b"")),
        (b"APPE a\r\n", t(TransferVerb::Appe, b"a")),
        (b"STOU\r\n", t(TransferVerb::Stou, b"")),
        (b"AUTH TLS\r\n", Ok(Command::Auth(b"TLS"))),
        (b"QUIT\r\n", Ok(Command::Quit)),
        (b"REIN\r\n", Ok(Command::Rein)),
        (b"SIZE robots.txt\r\n", Ok(Command::Other { verb: b"SIZE" })),
        (
            b"lprt 4,4,1,2,3,4,2,0,21\r\n",
            Ok(Command::Other { verb: b"lprt" }),
        ),
        (b"\r\n", Err(E::MissingVerb)),
        (b" PORT 1,2,3,4,5,6\r\n", Err(E::MissingVerb)),
        (b"ABCDEFGHIJKLMNOPQ\r\n", Err(E::VerbTooLong)),
        (b"PO-RT 1,2,3,4,5,6\r\n", Err(E::BadVerb)),
        (b"QUIT", Err(E::Unterminated)),
    ];
    for (line, want) in cases {
        assert_eq!(&parse_command(line), want, "{}", line.escape_ascii());
    }
    let verb = b"ABCDEFGHIJKLMNOP\r\n";
    assert!(matches!(parse_command(verb), Ok(Command::Other { .. })));
    assert!(TransferVerb::Stou.is_upload() && !TransferVerb::Retr.is_upload());
    assert_eq!(TransferVerb::Mlsd.as_str(), "MLSD");
}

#[test]
fn check_names_are_distinct() {
    let all = [
        E::Unterminated,
        E::BareLineFeed,
        E::NulByte,
        E::LineTooLong,
        E::MissingVerb,
        E::VerbTooLong,
        E::BadVerb,
        E::MissingArgument,
        E::ExtraSpace,
        E::FieldCount,
        E::BadNumber,
        E::BadOctet,
        E::PortZero,
        E::TrailingJunk,
        E::BadDelimiter,
        E::BadFamily,
        E::FamilyMismatch,
        E::BadAddress,
        E::BadPort,
        E::BadEpsvArgument,
        E::WrongReplyCode,
        E::UnbalancedParenthesis,
    ];
    let mut names: Vec<_> = all.iter().map(ParseError::check_name).collect();
    assert!(names
        .iter()
        .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len());
}
