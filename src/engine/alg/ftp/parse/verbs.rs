//! The FTP command verbs a client may send: those of RFC 959, RFC 775 (X- forms), RFC 1639
//! (LPRT/LPSV, refused elsewhere but FTP), RFC 2228, RFC 2389, RFC 2428, RFC 2640, RFC 3659,
//! RFC 7151, and verbs common servers implement (SITE and its kin, checksums, timestamps).
//!
//! Owns [`is_ftp_verb`] and [`verb_of`]: what the ALG uses to decide whether a client line is
//! an FTP command at all (a session whose client sends anything else is not FTP). Pure
//! functions over bytes, never panic.

use super::command::MAX_VERB;

/// Every verb accepted as FTP, upper case.
const VERBS: &[&[u8]] = &[
    // RFC 959
    b"USER", b"PASS", b"ACCT", b"CWD", b"CDUP", b"SMNT", b"QUIT", b"REIN", b"PORT", b"PASV",
    b"TYPE", b"STRU", b"MODE", b"RETR", b"STOR", b"STOU", b"APPE", b"ALLO", b"REST", b"RNFR",
    b"RNTO", b"ABOR", b"DELE", b"RMD", b"MKD", b"PWD", b"LIST", b"NLST", b"SITE", b"SYST", b"STAT",
    b"HELP", b"NOOP", // RFC 775
    b"XMKD", b"XRMD", b"XPWD", b"XCUP", b"XCWD", // RFC 1639
    b"LPRT", b"LPSV", // RFC 2228
    b"AUTH", b"ADAT", b"PROT", b"PBSZ", b"CCC", b"MIC", b"CONF", b"ENC",
    // RFC 2389, 2428, 2640, 3659, 7151
    b"FEAT", b"OPTS", b"EPRT", b"EPSV", b"LANG", b"MDTM", b"SIZE", b"MLST", b"MLSD", b"HOST",
    // common extensions
    b"XCRC", b"XMD5", b"XSHA", b"XSHA1", b"XSHA256", b"XSHA512", b"HASH", b"MFMT", b"MFCT", b"MFF",
    b"CLNT", b"AVBL", b"DSIZ", b"RMDA", b"CSID", b"SPSV", b"MACB", b"RANG", b"COMB", b"THMB",
    b"XRSQ", b"XRCP", b"XSEM", b"XSEN", b"XMAS", b"ESTA", b"ESTP", b"PRET", b"SSCN", b"CPSV",
    b"XDUPE",
];

/// The verb of a (Telnet-stripped) client line: its bytes up to the first space, CR or LF.
pub fn verb_of(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(line.len());
    line.get(..end).unwrap_or_default()
}

/// Whether `verb` is an FTP command verb (any case).
pub fn is_ftp_verb(verb: &[u8]) -> bool {
    verb.len() <= MAX_VERB && VERBS.iter().any(|known| known.eq_ignore_ascii_case(verb))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ftp_verbs_in_any_case_and_nothing_else() {
        for verb in [
            &b"user"[..],
            b"PORT",
            b"Xmkd",
            b"EPSV",
            b"MLSD",
            b"HOST",
            b"site",
        ] {
            assert!(is_ftp_verb(verb), "{verb:?}");
        }
        for verb in [
            &b"GET"[..],
            b"POST",
            b"Host:",
            b"",
            b"HTTP/1.1",
            b"SSH-2.0-x",
        ] {
            assert!(!is_ftp_verb(verb), "{verb:?}");
        }
        assert_eq!(verb_of(b"POST / HTTP/1.1\r\n"), b"POST");
        assert_eq!(verb_of(b"NOOP\r\n"), b"NOOP");
        assert_eq!(verb_of(b"X\n227 x"), b"X");
    }
}
