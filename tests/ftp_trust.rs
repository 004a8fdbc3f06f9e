//! ALG trust (issue 9), classes 1-3: a control connection must really be FTP before it can
//! open anything. NAT slipstreaming (a browser made to talk HTTP to port 21), echo injection
//! into an inside server's replies, and Telnet commands hiding what a line is. Every scenario
//! asserts that no pinhole opens, that the server never receives the offending line (or, for
//! a connection marked non-FTP, receives everything unmodified), the outcome, the event and
//! its counter. tests/ftp_trust_streams.rs has classes 4-6 and the lenient cases.

use ftpgate_testkit as support;

use std::net::Ipv4Addr;

use ftpgate::engine::settings::{NonFtpPolicy, ViolationOutcome};
use ftpgate::engine::{DropReason, Engine, Verdict};
use support::conversation::{six, to_inside, to_outside, Conversation};
use support::*;

/// Nothing from outside reaches the inside host's `port` through the gateway.
fn nothing_opens(engine: &Engine, port: u16) {
    assert_eq!(engine.pinhole_count(), 0, "no pinhole");
    for src in [(SERVER, 20), (SERVER, 4444), (OUTSIDE_CLIENT, 20)] {
        let probe = run(
            engine,
            secs(100),
            &tcp(src, (OUTSIDE, port), SYN, 1, 0, b""),
        );
        assert_eq!(probe.verdict, Verdict::Drop(DropReason::Policy), "{src:?}");
    }
}

fn server_got(c: &Conversation<'_>) -> String {
    String::from_utf8_lossy(&c.server_got).into_owned()
}

/// Under `reply`, one error reply generated for the client, naming `check`.
fn error_reply_names(c: &mut Conversation<'_>, check: &str) {
    let generated = c.take_generated();
    assert!(
        generated
            .iter()
            .any(|g| g.to_client && g.text().contains(&format!("({check})"))),
        "{generated:?}"
    );
}

// ---- class 1: NAT slipstreaming --------------------------------------------------------

/// The browser's request, whatever its shape: the attacker's 220 / 230 and the PORT in the
/// body open nothing; the stream passes unmodified; one `non_ftp` notice, counted.
fn slipstream(greet_first: bool, segments: &[&str], expected_non_ftp_line: &str) {
    let engine = Engine::new(lab_settings());
    let mut c = to_outside(&engine);
    if greet_first {
        c.server_says("220 attacker ready\r\n");
    }
    let mut sent = String::new();
    for (i, segment) in segments.iter().enumerate() {
        let out = c.client_says(segment);
        // A partial line is withheld until the line is known not to be FTP.
        assert!(
            matches!(
                out.verdict,
                Verdict::Accept | Verdict::Drop(DropReason::FtpWithheld)
            ),
            "segment {i}: {:?}",
            out.verdict
        );
        sent.push_str(segment);
        // The attacker answers as if each line were a command it accepted.
        c.server_says("230 Logged in\r\n");
    }
    assert_eq!(server_got(&c), sent, "passed as plain TCP, unmodified");
    assert_eq!(c.server_acks(), c.client.seq);
    nothing_opens(&engine, 3306);
    let seen = ftp_reports(&engine);
    assert!(seen.violations.is_empty(), "{seen:?}");
    assert_eq!(seen.notice_names(), ["non_ftp"]);
    assert_eq!(seen.notices[0].1, expected_non_ftp_line);
    assert_eq!(engine.stats().ftp_notices("non_ftp"), 1);
}

#[test]
fn an_http_post_with_a_port_line_in_its_body_opens_nothing() {
    let port = format!("PORT {}\r\n", six(CLIENT, 3306));
    let body = format!("USER x\r\nPASS y\r\n{port}");
    let post = format!(
        "POST / HTTP/1.1\r\nHost: 198.51.100.2:21\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // In one segment, with or without the attacker's greeting first.
    slipstream(true, &[&post], "POST / HTTP/1.1");
    slipstream(false, &[&post], "POST / HTTP/1.1");
    // Cut so that the PORT line starts a segment (what the kernel attack needs).
    let at = post.find("PORT").unwrap();
    slipstream(true, &[&post[..at], &post[at..]], "POST / HTTP/1.1");
    // Cut in odd places.
    slipstream(
        true,
        &[&post[..3], &post[3..40], &post[40..at + 2], &post[at + 2..]],
        "POST / HTTP/1.1",
    );
}

#[test]
fn a_custom_method_named_like_an_ftp_verb_is_caught_at_its_host_header() {
    // fetch() lets a page choose the method: "USER / HTTP/1.1" is a USER line, but the Host
    // header after it is not FTP.
    let request = format!(
        "USER / HTTP/1.1\r\nHost: 198.51.100.2:21\r\n\r\nPORT {}\r\n",
        six(CLIENT, 3306)
    );
    slipstream(true, &[&request], "Host: 198.51.100.2:21");
    slipstream(false, &[&request], "Host: 198.51.100.2:21");
    // A proxy-style CONNECT naming the inside host, with the PORT in its "tunnel".
    let connect = format!(
        "CONNECT 10.77.0.2:3306 HTTP/1.1\r\n\r\nPORT {}\r\n",
        six(CLIENT, 3306)
    );
    slipstream(true, &[&connect], "CONNECT 10.77.0.2:3306 HTTP/1.1");
}

#[test]
fn a_keep_alive_second_request_and_header_continuations_stay_non_ftp() {
    let first = "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
    let second = format!(
        "POST /b HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n PORT {}\r\n\r\nPORT {}\r\n",
        six(CLIENT, 3306),
        six(CLIENT, 3306)
    );
    slipstream(true, &[first, &second], "GET /a HTTP/1.1");
}

#[test]
fn over_long_header_lines_of_a_non_ftp_connection_pass_unmodified() {
    let long_header = format!("Cookie: {}\r\n", "c".repeat(3000));
    let request = format!("GET / HTTP/1.1\r\n{long_header}\r\n");
    let (a, b) = request.split_at(1400);
    let (b, d) = b.split_at(1400);
    slipstream(true, &[a, b, d], "GET / HTTP/1.1");
    // An over-long line before the session is marked: refused whole (a server that cuts it
    // would read its tail as a command), and the next line marks the session.
    let engine = Engine::new(lab_settings());
    let mut c = to_outside(&engine);
    c.server_says("220 attacker ready\r\n");
    let first_long = format!(
        "GET /{}PORT {}\r\nHost: x\r\n\r\n",
        "p".repeat(2000),
        six(THIRD_HOST, 8080)
    );
    let (a, b) = first_long.split_at(1000);
    c.client_says(a);
    c.client_says(b);
    assert_eq!(server_got(&c), "Host: x\r\n\r\n", "none of the long line");
    let seen = ftp_reports(&engine);
    assert_eq!(seen.checks(), ["line_too_long"]);
    assert_eq!(seen.notice_names(), ["non_ftp"]);
    nothing_opens(&engine, 8080);
}

#[test]
fn under_non_ftp_reset_a_non_ftp_line_resets_the_connection() {
    let mut settings = lab_settings();
    settings.ftp.non_ftp = NonFtpPolicy::Reset;
    let engine = Engine::new(settings);
    let mut c = to_outside(&engine);
    c.server_says("220 ready\r\n");
    let out = c.client_says("POST / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(out.verdict, Verdict::Respond(DropReason::FtpViolationReset));
    assert_eq!(out.bytes[20 + 13] & RST, RST, "a RST back to the client");
    let rst = c.take_generated();
    assert!(
        rst.len() == 1 && !rst[0].to_client && rst[0].flags & RST == RST,
        "{rst:?}"
    );
    assert!(server_got(&c).is_empty(), "the server got nothing of it");
    let seen = ftp_reports(&engine);
    assert_eq!(seen.violations[0].0, "not_ftp");
    assert_eq!(seen.violations[0].1, "reset");
    assert_eq!(engine.stats().ftp_violations("not_ftp"), 1);
    nothing_opens(&engine, 3306);
}

#[test]
fn a_non_ftp_line_to_an_inside_server_is_refused_and_a_later_bounce_still_is() {
    for outcome in [ViolationOutcome::Reply, ViolationOutcome::Reset] {
        let mut settings = lab_settings();
        settings.ftp.on_violation = outcome;
        let engine = Engine::new(settings);
        let mut c = to_inside(&engine);
        c.log_in();
        let out = c.client_says("HELLO there\r\n");
        assert!(!server_got(&c).contains("HELLO"));
        let seen = ftp_reports(&engine);
        assert_eq!(seen.checks(), ["not_ftp"]);
        assert_eq!(engine.stats().ftp_violations("not_ftp"), 1);
        if outcome == ViolationOutcome::Reset {
            assert_eq!(out.verdict, Verdict::Respond(DropReason::FtpViolationReset));
            continue;
        }
        error_reply_names(&mut c, "not_ftp");
        // The session stays FTP: the bounce after it is refused as before.
        c.client_says(&format!(
            "PORT {}\r\n",
            six(Ipv4Addr::new(10, 77, 0, 99), 2222)
        ));
        assert!(!server_got(&c).contains("PORT"));
        assert_eq!(ftp_reports(&engine).checks(), ["foreign_address"]);
        nothing_opens(&engine, 2222);
    }
}

#[test]
fn a_server_that_does_not_greet_with_220_is_not_ftp() {
    for greeting in [
        "SSH-2.0-OpenSSH_9.6\r\n",
        "HTTP/1.1 400 Bad Request\r\n",
        "230 Logged in\r\n",
        "227 Entering Passive Mode (10,77,0,2,12,234)\r\n",
    ] {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        assert_eq!(c.server_says(greeting).text(), greeting, "passes unchanged");
        let port = format!("PORT {}\r\n", six(CLIENT, 3306));
        assert_eq!(c.client_says(&port).text(), port, "unread from now on");
        c.server_says("200 PORT ok\r\n");
        nothing_opens(&engine, 3306);
        let seen = ftp_reports(&engine);
        assert_eq!(seen.notice_names(), ["non_ftp"], "{greeting:?}");
        assert_eq!(seen.notices[0].1, greeting.trim_end());
    }
}

#[test]
fn before_the_greeting_only_user_is_ftp() {
    let engine = Engine::new(lab_settings());
    let mut c = to_outside(&engine);
    c.client_says("USER anonymous\r\n");
    assert!(
        ftp_reports(&engine).notices.is_empty(),
        "USER may come first"
    );
    c.client_says("PASS x\r\n");
    c.server_says("220 ready\r\n331 ok\r\n230 ok\r\n");
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 3306)));
    nothing_opens(&engine, 3306);
    assert_eq!(ftp_reports(&engine).notice_names(), ["non_ftp"]);
}

#[test]
fn a_230_counts_only_as_the_answer_to_user_pass_or_acct() {
    // The attacker answers other lines with 230: no login, so no announcement.
    let cases: [&[(&str, &str)]; 4] = [
        &[("NOOP\r\n", "230 Logged in\r\n")],
        &[("SYST\r\n", "232 ok\r\n"), ("FEAT\r\n", "235 ok\r\n")],
        // Pipelined: the 230 answers the NOOP behind the USER.
        &[("USER a\r\nNOOP\r\n", "331 Password\r\n230 Logged in\r\n")],
        // A malformed line is answered too (and takes its place in the queue).
        &[("USER a\r\nCWD\r\n", "331 Password\r\n230 Logged in\r\n")],
    ];
    for steps in cases {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        c.server_says("220 ready\r\n");
        for (line, reply) in steps {
            c.client_says(line);
            c.server_says(reply);
        }
        c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
        assert_eq!(engine.pinhole_count(), 0, "{steps:?}");
        assert_eq!(ftp_reports(&engine).checks(), ["before_login"], "{steps:?}");
    }
    // The real thing: 230 to PASS, or 232 to USER, or 230 to ACCT.
    for (lines, replies) in [
        ("USER a\r\nPASS b\r\n", "331 Password\r\n230 Logged in\r\n"),
        ("USER a\r\n", "232 Logged in by certificate\r\n"),
        (
            "USER a\r\nPASS b\r\nACCT c\r\n",
            "331 p\r\n332 acct\r\n230 ok\r\n",
        ),
    ] {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        c.server_says("220 ready\r\n");
        c.client_says(lines);
        c.server_says(replies);
        c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
        assert_eq!(engine.pinhole_count(), 1, "{lines:?}");
    }
}

// ---- class 2: echo injection ------------------------------------------------------------

/// A client line holding a bare LF or CR, or a line that is not FTP, never reaches the inside
/// server, so it cannot echo a 227 at a line start; the PASV's real 227 still works.
#[test]
fn echo_injection_lines_never_reach_the_inside_server() {
    let fake = format!("227 Entering Passive Mode ({})", six(INSIDE_SERVER, 3306));
    let cases = [
        (
            format!("X\n227-({})\r\n", six(INSIDE_SERVER, 3306)),
            vec!["not_ftp", "not_ftp"],
        ),
        (format!("MKD d\n{fake}\r\n"), vec!["bare_lf", "not_ftp"]),
        (format!("MKD d\r{fake}\r\n"), vec!["bare_cr"]),
        (
            format!("SITE x\r\r\n{fake}\r\n"),
            vec!["bare_cr", "not_ftp"],
        ),
        (format!("NOOP\n{fake}\n"), vec!["bare_lf", "not_ftp"]),
    ];
    for (attack, checks) in cases {
        let engine = Engine::new(lab_settings());
        let mut c = to_inside(&engine);
        c.log_in();
        c.client_says("PASV\r\n");
        c.client_says(&attack);
        let got = server_got(&c);
        assert!(
            !got.contains("227") && !got.contains("MKD"),
            "{attack:?}: {got:?}"
        );
        // The server answers the PASV: the real announcement still works.
        let reply = c.server_says(&format!(
            "227 Entering Passive Mode ({})\r\n",
            six(INSIDE_SERVER, 40200)
        ));
        assert!(
            reply.text().contains(&six(OUTSIDE, 40200)),
            "{}",
            reply.text()
        );
        assert_eq!(engine.pinhole_count(), 1, "only the real PASV's");
        let seen = ftp_reports(&engine);
        assert_eq!(seen.checks(), checks, "{attack:?}");
        for check in checks {
            assert!(engine.stats().ftp_violations(check) >= 1);
        }
        let inside_3306 = run(
            &engine,
            secs(100),
            &tcp((OUTSIDE_CLIENT, 50001), (OUTSIDE, 3306), SYN, 1, 0, b""),
        );
        assert_eq!(inside_3306.verdict, Verdict::Drop(DropReason::Policy));
    }
}

#[test]
fn a_227_inside_another_reply_is_no_announcement() {
    // The server's 500 or 257 echoes a client's text in a multi-line reply: its continuation
    // lines are text, whatever they look like.
    for reply in [
        format!(
            "500-Command not understood:\r\n227 Entering Passive Mode ({})\r\n500 end\r\n",
            six(INSIDE_SERVER, 3306)
        ),
        format!(
            "257-\"/d\r\n227-({})\r\n257 created\r\n",
            six(INSIDE_SERVER, 3306)
        ),
    ] {
        let engine = Engine::new(lab_settings());
        let mut c = to_inside(&engine);
        c.log_in();
        c.client_says("PASV\r\n");
        let out = c.server_says(&reply);
        assert_eq!(out.text(), reply, "passed as text");
        assert_eq!(engine.pinhole_count(), 0);
        assert!(ftp_reports(&engine).violations.is_empty());
    }
}

#[test]
fn a_227_after_a_bare_lf_of_the_server_is_no_announcement() {
    // A file name holding a line feed, echoed by the server in a 257 while a PASV waits.
    let engine = Engine::new(lab_settings());
    let mut c = to_inside(&engine);
    c.log_in();
    c.client_says("PWD\r\nPASV\r\n");
    let out = c.server_says(&format!(
        "257 \"/d\n227 Entering Passive Mode ({})\r\n",
        six(INSIDE_SERVER, 3306)
    ));
    assert!(out.text().starts_with("257 \"/d\n"));
    assert!(out.text().contains("(unsolicited_reply)"), "{}", out.text());
    assert_eq!(engine.pinhole_count(), 0);
    assert_eq!(ftp_reports(&engine).checks(), ["unsolicited_reply"]);
}

// ---- class 3: Telnet commands -----------------------------------------------------------

/// A text line refused by `check` in a logged-in session: nothing reaches the server.
fn text_refused(session: fn(&Engine) -> Conversation<'_>, line: &str, check: &str) {
    let engine = Engine::new(lab_settings());
    let mut c = session(&engine);
    c.log_in();
    let before = c.server_got.len();
    assert_eq!(c.client_says(line).verdict, Verdict::Accept);
    assert_eq!(
        c.server_got.len(),
        before,
        "{line:?}: the server got none of it"
    );
    assert_eq!(engine.pinhole_count(), 0);
    assert_eq!(ftp_reports(&engine).checks(), [check], "{line:?}");
    assert_eq!(engine.stats().ftp_violations(check), 1);
    error_reply_names(&mut c, check);
}

/// Sends raw bytes as the client's next segment.
fn client_bytes(c: &mut Conversation<'_>, bytes: &[u8]) -> Verdict {
    let packet = tcp(
        c.client.addr,
        c.client.peer,
        ACK | PSH,
        c.client.seq,
        c.client.rcv,
        bytes,
    );
    c.now += 1;
    let out = run(c.engine, secs(c.now), &packet);
    c.client.seq = c.client.seq.wrapping_add(bytes.len() as u32);
    if out.verdict == Verdict::Accept {
        let tcp_part = &out.bytes[20..];
        let header = usize::from(tcp_part[12] >> 4) * 4;
        c.server_got.extend_from_slice(&tcp_part[header..]);
        c.server.rcv = c.server.rcv.wrapping_add((tcp_part.len() - header) as u32);
    }
    out.verdict
}

#[test]
fn a_port_hidden_among_telnet_commands_is_refused() {
    let bounce = format!("PORT {}\r\n", six(THIRD_HOST, 40500));
    let inside_bounce = format!("PORT {}\r\n", six(Ipv4Addr::new(10, 77, 0, 99), 2222));
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for (prefix, middle) in [
        (&b"\xff\xf4\xff\xf2"[..], None), // IAC IP IAC DM (RFC 959's abort)
        (&b"\xff\xfb\x01"[..], None),     // IAC WILL ECHO
        (&b"\xff\xfa\x18\x01\xff\xf0"[..], None), // a subnegotiation
        (&b""[..], Some(&b"\xff\xf1"[..])), // IAC NOP inside the verb
        (&b""[..], Some(&b"\xff\xfe\x03"[..])), // IAC DONT x inside the verb
    ] {
        for line in [&bounce, &inside_bounce] {
            let mut bytes = prefix.to_vec();
            match middle {
                Some(m) => {
                    bytes.extend_from_slice(&line.as_bytes()[..2]);
                    bytes.extend_from_slice(m);
                    bytes.extend_from_slice(&line.as_bytes()[2..]);
                }
                None => bytes.extend_from_slice(line.as_bytes()),
            }
            cases.push(bytes);
        }
    }
    cases.push(b"\xff\xf4EPRT |1|198.51.100.3|40500|\r\n".to_vec());
    cases.push(b"\xff\xf4PASV\r\n".to_vec());
    cases.push(b"NOOP x\xff\xf7\r\n".to_vec()); // IAC EC: what is erased differs
                                                // A subnegotiation in any verb: most servers drop IAC SB and read on, others drop it all.
    cases.push(b"PASS\xff\xfa\xff\xff222x\x00USER anonymous\r\n".to_vec());
    cases.push(b"NOOP\xff\xfa\x18\x00xterm\xff\xf0\r\n".to_vec());
    cases.push(b"CWD \xff\xfa/x\r\n".to_vec());
    for session in [to_outside as fn(&Engine) -> Conversation<'_>, to_inside] {
        for bytes in &cases {
            let engine = Engine::new(lab_settings());
            let mut c = session(&engine);
            c.log_in();
            let before = c.server_got.len();
            assert_eq!(client_bytes(&mut c, bytes), Verdict::Accept);
            assert_eq!(
                c.server_got.len(),
                before,
                "{bytes:?}: the server got none of it"
            );
            assert_eq!(engine.pinhole_count(), 0);
            assert_eq!(
                ftp_reports(&engine).checks(),
                ["telnet_command"],
                "{bytes:?}"
            );
            assert_eq!(engine.stats().ftp_violations("telnet_command"), 1);
            error_reply_names(&mut c, "telnet_command");
        }
    }
    // Without Telnet bytes, the same lines are judged as they are.
    text_refused(to_inside, &inside_bounce, "foreign_address");
    text_refused(to_outside, &bounce, "foreign_address");
}

#[test]
fn iac_iac_inside_the_verb_makes_it_no_ftp_verb() {
    // IAC IAC is a literal 0xff: the server reads "PO\xffRT", an unknown command.
    let line = format!("PO\u{ff}RT {}\r\n", six(Ipv4Addr::new(10, 77, 0, 99), 22));
    let mut bytes = b"PO\xff\xffRT ".to_vec();
    bytes.extend_from_slice(line.as_bytes().split_at(line.find(' ').unwrap() + 1).1);
    let engine = Engine::new(lab_settings());
    let mut c = to_inside(&engine);
    c.log_in();
    let before = c.server_got.len();
    assert_eq!(client_bytes(&mut c, &bytes), Verdict::Accept);
    assert_eq!(c.server_got.len(), before);
    assert_eq!(ftp_reports(&engine).checks(), ["not_ftp"]);
    nothing_opens(&engine, 22);
}

#[test]
fn abort_with_its_telnet_signals_passes_and_the_session_goes_on() {
    let engine = Engine::new(lab_settings());
    let mut c = to_outside(&engine);
    c.log_in();
    let abort = b"\xff\xf4\xff\xf2ABOR\r\n";
    assert_eq!(client_bytes(&mut c, abort), Verdict::Accept);
    assert!(c.server_got.ends_with(abort), "passed unchanged");
    c.server_says("226 Abort successful\r\n");
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
    assert_eq!(engine.pinhole_count(), 1, "the queue stayed in step");
    let seen = ftp_reports(&engine);
    assert!(seen.violations.is_empty(), "{seen:?}");
}

#[test]
fn an_announcement_reply_holding_telnet_bytes_is_refused() {
    let engine = Engine::new(lab_settings());
    let mut c = to_inside(&engine);
    c.log_in();
    c.client_says("PASV\r\n");
    let mut reply = b"227 Entering Passive Mode \xff\xf1(".to_vec();
    reply.extend_from_slice(six(INSIDE_SERVER, 40200).as_bytes());
    reply.extend_from_slice(b")\r\n");
    let packet = tcp(
        c.server.addr,
        c.server.peer,
        ACK | PSH,
        c.server.seq,
        c.server.rcv,
        &reply,
    );
    let out = run(&engine, secs(50), &packet);
    assert_eq!(out.verdict, Verdict::Accept);
    let text = String::from_utf8_lossy(&out.bytes[40..]).into_owned();
    assert_eq!(
        text,
        "425 Data connection refused by the gateway (telnet_command).\r\n"
    );
    assert_eq!(engine.pinhole_count(), 0);
    assert_eq!(ftp_reports(&engine).checks(), ["telnet_command"]);
}

// ---- the greeting: what the server says first --------------------------------------------

/// The bounce an outside client would make an inside server obey: a PORT to the inside
/// host's SSH port.
fn inside_bounce() -> String {
    format!("PORT {}\r\n", six(Ipv4Addr::new(10, 77, 0, 99), 22))
}

#[test]
fn a_120_before_the_220_is_a_preliminary_greeting() {
    for preliminary in [
        "120 Service ready in 5 minutes\r\n",
        "120-Busy\r\n120 Service ready in 1 minute\r\n",
    ] {
        for session in [to_outside as fn(&Engine) -> Conversation<'_>, to_inside] {
            let engine = Engine::new(lab_settings());
            let mut c = session(&engine);
            assert_eq!(c.server_says(preliminary).text(), preliminary, "passes");
            // Until the 220 the client may send USER, nothing else.
            c.client_says("USER anonymous\r\n");
            c.server_says("220 ready\r\n331 Guest login ok\r\n");
            c.client_says("PASS guest@\r\n");
            c.server_says("230 Logged in\r\n");
            let port = format!("PORT {}\r\n", six(c.client.addr.0, 30000));
            let out = c.client_says(&port);
            assert!(
                out.text().starts_with("PORT "),
                "{preliminary:?}: rewritten, passed"
            );
            let seen = ftp_reports(&engine);
            assert!(seen.notices.is_empty(), "{preliminary:?}: {seen:?}");
            assert!(seen.violations.is_empty(), "{preliminary:?}: {seen:?}");
            assert_eq!(engine.pinhole_count(), 1, "a working session");
        }
    }
}

#[test]
fn a_421_first_is_ftp_refusing_service_and_nothing_but_user_reaches_an_inside_server() {
    let engine = Engine::new(lab_settings());
    let mut c = to_inside(&engine);
    let refusal = "421 Too many users, try later\r\n";
    assert_eq!(
        c.server_says(refusal).text(),
        refusal,
        "the client reads it"
    );
    c.client_says("USER anonymous\r\n");
    c.client_says(&inside_bounce());
    c.client_says("EPRT |1|10.77.0.99|22|\r\n");
    assert_eq!(
        server_got(&c),
        "USER anonymous\r\n",
        "no bounce line reached it"
    );
    let seen = ftp_reports(&engine);
    assert_eq!(seen.checks(), ["not_ftp", "not_ftp"]);
    assert!(seen.notices.is_empty(), "not marked non-FTP: {seen:?}");
    nothing_opens(&engine, 22);
    // From an outside server a 421 is no reason to mark the session non-FTP either.
    let engine = Engine::new(lab_settings());
    let mut c = to_outside(&engine);
    c.server_says(refusal);
    assert!(ftp_reports(&engine).notices.is_empty());
}

#[test]
fn an_inside_server_whose_first_words_are_not_ftp_gets_the_connection_reset() {
    for policy in [NonFtpPolicy::Pass, NonFtpPolicy::Reset] {
        for banner in [
            "SSH-2.0-OpenSSH_9.6\r\n",
            "HTTP/1.1 400 Bad Request\r\n",
            "230 Logged in\r\n",
            "500 Syntax error\r\n",
            "227 Entering Passive Mode (10,77,0,10,0,22)\r\n",
        ] {
            let mut settings = lab_settings();
            settings.ftp.non_ftp = policy;
            let engine = Engine::new(settings);
            let mut c = to_inside(&engine);
            let out = c.server_says(banner);
            assert_eq!(
                out.verdict,
                Verdict::Respond(DropReason::FtpViolationReset),
                "{policy:?} {banner:?}"
            );
            assert!(c.client_got.is_empty(), "the banner does not pass");
            c.client_says(&inside_bounce());
            assert!(!server_got(&c).contains("PORT"), "{policy:?} {banner:?}");
            let seen = ftp_reports(&engine);
            assert_eq!(seen.violations[0].0, "not_ftp");
            assert_eq!(seen.violations[0].1, "reset");
            assert_eq!(seen.violations[0].2, banner.trim_end());
            assert!(seen.notices.is_empty(), "never marked non-FTP: {seen:?}");
            nothing_opens(&engine, 22);
        }
    }
}

#[test]
fn an_inside_server_that_never_greets_hears_only_user() {
    for outcome in [ViolationOutcome::Reply, ViolationOutcome::Reset] {
        let mut settings = lab_settings();
        settings.ftp.on_violation = outcome;
        let engine = Engine::new(settings);
        let mut c = to_inside(&engine);
        c.client_says("USER anonymous\r\n");
        let out = c.client_says(&inside_bounce());
        assert!(!server_got(&c).contains("PORT"), "{outcome:?}");
        let seen = ftp_reports(&engine);
        assert_eq!(seen.checks(), ["not_ftp"], "{outcome:?}");
        assert!(seen.notices.is_empty(), "{outcome:?}: {seen:?}");
        if outcome == ViolationOutcome::Reset {
            assert_eq!(out.verdict, Verdict::Respond(DropReason::FtpViolationReset));
        } else {
            // Still unread by nobody: a later EPRT is refused too.
            c.client_says("EPRT |1|10.77.0.99|22|\r\n");
            assert!(!server_got(&c).contains("EPRT"));
            assert_eq!(ftp_reports(&engine).checks(), ["not_ftp"]);
        }
        nothing_opens(&engine, 22);
    }
}
