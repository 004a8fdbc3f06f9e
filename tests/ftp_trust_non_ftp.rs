//! ALG trust (issue 9): a session marked non-FTP is no way around the bounce checks. Its
//! server is outside (an inside server's session is never passed unread: tests/ftp_trust.rs),
//! so nothing in it announces; but a server may still obey a PORT / EPRT in it, so a client
//! line that is one (Telnet commands stripped) and names another host or a low port resets the
//! connection, wherever the segments cut it. Everything else passes unmodified.

use ftpgate_testkit as support;

use ftpgate::engine::{DropReason, Engine, Verdict};
use support::conversation::{six, Conversation};
use support::*;

/// An inside client logged in to an outside server, then a line that is not FTP.
fn marked_non_ftp<'e>(engine: &'e Engine, non_ftp_line: &str) -> Conversation<'e> {
    let mut c = Conversation::open(engine, (CLIENT, 40000), (SERVER, 21), (SERVER, 21));
    c.server_says("220 ready\r\n");
    c.client_says("USER anonymous\r\n");
    c.server_says("331 Guest login ok\r\n");
    c.client_says("PASS guest@\r\n");
    c.server_says("230 Logged in\r\n");
    let out = c.client_says(non_ftp_line);
    assert_eq!(out.text(), non_ftp_line, "passes unmodified");
    assert_eq!(ftp_reports(engine).outcomes().1, ["non_ftp"]);
    c
}

fn server_got(c: &Conversation<'_>) -> String {
    String::from_utf8_lossy(&c.server_got).into_owned()
}

#[test]
fn a_bounce_after_a_non_ftp_line_resets_the_connection() {
    let bounces = [
        (
            format!("PORT {}\r\n", six(THIRD_HOST, 8080)),
            "foreign_address",
        ),
        (format!("port {}\r\n", six(SERVER, 22)), "privileged_port"),
        (
            "EPRT |1|198.51.100.3|8080|\r\n".to_string(),
            "foreign_address",
        ),
        (
            "LPRT 4,4,198,51,100,3,2,31,144\r\n".to_string(),
            "unsupported_command",
        ),
    ];
    for non_ftp_line in ["HELLO WORLD\r\n", "GET / HTTP/1.1\r\n", "\r\n"] {
        for (bounce, check) in &bounces {
            let engine = Engine::new(lab_settings());
            let mut c = marked_non_ftp(&engine, non_ftp_line);
            let out = c.client_says(bounce);
            assert_eq!(
                out.verdict,
                Verdict::Respond(DropReason::FtpViolationReset),
                "{non_ftp_line:?} {bounce:?}"
            );
            assert!(!server_got(&c).contains(&bounce[..4]), "{bounce:?}");
            assert_eq!(
                ftp_reports(&engine).outcomes().0,
                [(*check, "reset")],
                "{bounce:?}"
            );
            assert_eq!(engine.pinhole_count(), 0);
        }
    }
}

#[test]
fn a_bounce_cut_anywhere_across_segments_is_still_read() {
    let bounce = format!("PORT {}\r\n", six(THIRD_HOST, 8080));
    for cut in 1..bounce.len() {
        let engine = Engine::new(lab_settings());
        let mut c = marked_non_ftp(&engine, "HELLO\r\n");
        let (a, b) = bounce.split_at(cut);
        let first = c.client_says(a);
        assert_eq!(
            first.verdict,
            Verdict::Drop(DropReason::FtpWithheld),
            "{cut}"
        );
        let second = c.client_says(b);
        assert_eq!(
            second.verdict,
            Verdict::Respond(DropReason::FtpViolationReset),
            "{cut}"
        );
        assert!(!server_got(&c).contains("PORT"), "{cut}");
    }
}

#[test]
fn the_clients_own_port_and_other_lines_pass_unmodified_and_open_nothing() {
    let engine = Engine::new(lab_settings());
    let mut c = marked_non_ftp(&engine, "POST / HTTP/1.1\r\n");
    for line in [
        "Host: 198.51.100.2:21\r\n",
        "PUT x\r\n",
        "PORTAL open\r\n",
        "REPORT 1,2,3,4,5,6\r\n",
        &format!("PORT {}\r\n", six(CLIENT, 30000)),
        "EPRT |1|10.77.0.2|30001|\r\n",
    ] {
        let out = c.client_says(line);
        assert_eq!(out.verdict, Verdict::Accept, "{line:?}");
        assert_eq!(out.text(), line, "unmodified");
    }
    c.server_says("200 PORT command successful\r\n");
    assert_eq!(engine.pinhole_count(), 0, "nothing announces");
    assert_eq!(ftp_reports(&engine).outcomes(), (vec![], vec![]));
}

#[test]
fn an_over_long_port_line_resets_and_other_over_long_lines_pass() {
    let engine = Engine::new(lab_settings());
    let mut c = marked_non_ftp(&engine, "GET / HTTP/1.1\r\n");
    let header = format!("Cookie: {}\r\n", "c".repeat(3000));
    assert_eq!(
        c.client_says(&header).text(),
        header,
        "a long header line passes"
    );
    let long_port = format!("PORT {}{}\r\n", six(CLIENT, 30000), " ".repeat(3000));
    let mut verdict = Verdict::Accept;
    for chunk in long_port.as_bytes().chunks(1000) {
        verdict = c.client_says(std::str::from_utf8(chunk).unwrap()).verdict;
    }
    assert_eq!(verdict, Verdict::Respond(DropReason::FtpViolationReset));
    assert!(!server_got(&c).contains("PORT"));
    assert_eq!(
        ftp_reports(&engine).outcomes().0,
        [("line_too_long", "reset")]
    );
}
