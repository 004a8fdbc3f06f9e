//! The ALG as an attack surface: every trick a client or server can play with FTP control
//! lines, through the engine. Each scenario asserts that no pinhole opens, that the receiver
//! never gets the offending line (unless the rule file allows it), that the connection ends in
//! the configured outcome with both TCP streams consistent, that the violation is counted and
//! reported with its check, and that another session on the same gateway is untouched.

use ftpgate_testkit as support;

use std::net::Ipv4Addr;

use ftpgate::engine::settings::{EngineSettings, TlsPolicy, ViolationOutcome};
use ftpgate::engine::{DropReason, Engine, Event, Verdict};
use support::conversation::{six, Conversation};
use support::*;

fn settings(outcome: ViolationOutcome) -> EngineSettings {
    let mut settings = lab_settings();
    settings.ftp.on_violation = outcome;
    settings
}

/// A logged-in session from the inside client port `port` to the outside server.
fn nat_client_from(engine: &Engine, port: u16) -> Conversation<'_> {
    let mut c = Conversation::open(engine, (CLIENT, port), (SERVER, 21), (SERVER, 21));
    c.log_in();
    c
}

/// A logged-in session from the inside client to the outside server.
fn nat_client(engine: &Engine) -> Conversation<'_> {
    nat_client_from(engine, 40000)
}

/// A logged-in session from an outside client to the forwarded inside server.
fn forwarded_server(engine: &Engine) -> Conversation<'_> {
    let mut c = Conversation::open(
        engine,
        (OUTSIDE_CLIENT, 50000),
        (OUTSIDE, 2121),
        (INSIDE_SERVER, 21),
    );
    c.log_in();
    c
}

/// The violations reported so far: (check, outcome, escaped line).
fn violations(engine: &Engine) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    while let Some(event) = engine.poll_event() {
        if let Event::FtpViolation {
            check,
            outcome,
            line,
            ..
        } = event
        {
            out.push((check, outcome, line));
        }
    }
    out
}

/// Another inside client's passive download on the same gateway works from start to end.
fn another_session_works(engine: &Engine) {
    let mut c = nat_client_from(engine, 41000);
    c.client_says("PASV\r\n");
    let reply = c.server_says(&format!(
        "227 Entering Passive Mode ({})\r\n",
        six(SERVER, 50123)
    ));
    assert!(reply.text().starts_with("227 "), "{}", reply.text());
    let data = run(
        engine,
        secs(60),
        &tcp((CLIENT, 41001), (SERVER, 50123), SYN, 1, 0, b""),
    );
    assert_eq!(
        data.verdict,
        Verdict::Accept,
        "the other session's data connection"
    );
    c.client_says("RETR f\r\n");
    c.server_says("150 ok\r\n226 done\r\n");
    assert_eq!(c.server_acks(), c.client.seq);
    assert_eq!(c.client_acks(), c.server.seq);
}

/// After a refused client line under `reply`: the server never saw it, the client got the
/// error reply in the server's stream, and both streams go on consistently.
fn assert_client_answered(c: &mut Conversation<'_>, offending: &str, check: &str, code: &str) {
    let generated = c.take_generated();
    assert_eq!(generated.len(), 1, "one error reply: {generated:?}");
    let reply = &generated[0];
    assert!(reply.to_client);
    assert_eq!(
        reply.text(),
        format!("{code} Refused by the gateway ({check}).\r\n")
    );
    assert!(
        !String::from_utf8_lossy(&c.server_got).contains(offending.trim_end()),
        "the server never receives the offending line"
    );
    assert_streams_consistent(c);
}

/// Both ends go on: a command and its reply cross the gateway at the right places and each
/// side's acks name its own stream.
fn assert_streams_consistent(c: &mut Conversation<'_>) {
    let noop = c.client_says("NOOP\r\n");
    assert_eq!(noop.verdict, Verdict::Accept);
    assert!(c.server_got.ends_with(b"NOOP\r\n"));
    let reply = c.server_says("200 NOOP ok\r\n");
    assert_eq!(reply.verdict, Verdict::Accept);
    assert!(
        c.client_got.ends_with(b"200 NOOP ok\r\n"),
        "{}",
        String::from_utf8_lossy(&c.client_got)
    );
    assert_eq!(
        c.server_acks(),
        c.client.seq,
        "server's ack, client's stream"
    );
    assert_eq!(
        c.client_acks(),
        c.server.seq,
        "client's ack, server's stream"
    );
}

/// Under `reset`: the offending segment is answered with a RST to its sender, its receiver
/// gets a RST at exactly the sequence number it expects, and nothing else.
fn assert_reset(
    c: &mut Conversation<'_>,
    out: &support::conversation::Delivered,
    from_client: bool,
) {
    assert_eq!(out.verdict, Verdict::Respond(DropReason::FtpViolationReset));
    let (src, dst) = endpoints(&out.bytes);
    let sender = if from_client {
        c.client.addr
    } else {
        c.server.addr
    };
    assert_eq!(
        dst,
        v4(sender.0, sender.1),
        "the answer goes back to the sender"
    );
    assert_eq!(out.bytes[20 + 13] & RST, RST);
    let _ = src;
    let generated = c.take_generated();
    assert_eq!(
        generated.len(),
        1,
        "one RST to the other end: {generated:?}"
    );
    let rst = &generated[0];
    assert_eq!(rst.to_client, !from_client);
    assert_eq!(rst.flags & RST, RST);
    let receiver_rcv = if from_client {
        c.server.rcv
    } else {
        c.client.rcv
    };
    assert_eq!(
        rst.seq, receiver_rcv,
        "exactly the next byte the receiver expects"
    );
}

/// One refused client line in both outcomes: pinholes, receiver, outcome, event, counter,
/// other flows.
fn client_line_refused(
    mut settings: EngineSettings,
    session: fn(&Engine) -> Conversation<'_>,
    line: &str,
    check: &str,
    code: &str,
) {
    for outcome in [ViolationOutcome::Reply, ViolationOutcome::Reset] {
        settings.ftp.on_violation = outcome;
        let engine = Engine::new(settings.clone());
        let mut c = session(&engine);
        let out = c.client_says(line);
        assert_eq!(engine.pinhole_count(), 0, "{line:?}: no pinhole");
        let seen = violations(&engine);
        let name = match outcome {
            ViolationOutcome::Reply => "reply",
            ViolationOutcome::Reset => "reset",
            ViolationOutcome::Monitor => unreachable!("a gateway's outcomes only"),
        };
        assert_eq!(seen.len(), 1, "{line:?}: {seen:?}");
        assert_eq!((seen[0].0, seen[0].1), (check, name), "{line:?}");
        assert_eq!(seen[0].2, line.trim_end().escape_debug().to_string());
        assert_eq!(engine.stats().ftp_violations(check), 1);
        match outcome {
            ViolationOutcome::Reply => {
                assert_eq!(out.verdict, Verdict::Accept);
                assert_eq!(out.text(), "", "the line is removed");
                assert_client_answered(&mut c, line, check, code);
            }
            ViolationOutcome::Reset => assert_reset(&mut c, &out, true),
            ViolationOutcome::Monitor => unreachable!("a gateway's outcomes only"),
        }
        another_session_works(&engine);
    }
}

fn client_refused(line: &str, check: &str, code: &str) {
    client_line_refused(lab_settings(), nat_client, line, check, code);
}

#[test]
fn bounce_port_and_eprt_naming_a_third_host_are_refused() {
    client_refused(
        &format!("PORT {}\r\n", six(THIRD_HOST, 40500)),
        "foreign_address",
        "501",
    );
    client_refused("EPRT |1|198.51.100.3|40500|\r\n", "foreign_address", "501");
    // Through a port forward: an outside client bouncing the inside server at another host.
    client_line_refused(
        lab_settings(),
        forwarded_server,
        &format!("PORT {}\r\n", six(THIRD_HOST, 40500)),
        "foreign_address",
        "501",
    );
}

#[test]
fn privileged_ports_and_the_configured_floor_are_refused() {
    client_refused(
        &format!("PORT {}\r\n", six(CLIENT, 25)),
        "privileged_port",
        "501",
    );
    client_refused("EPRT |1|10.77.0.2|1023|\r\n", "privileged_port", "501");
    let mut floor = lab_settings();
    floor.ftp.min_data_port = 40000;
    client_line_refused(
        floor,
        nat_client,
        &format!("PORT {}\r\n", six(CLIENT, 39999)),
        "privileged_port",
        "501",
    );
}

#[test]
fn malformed_announcements_are_refused_by_name() {
    let cases = [
        ("PORT 10,77,0,256,117,48\r\n", "bad_octet", "501"),
        ("PORT 10,77,0,2,0,0\r\n", "port_zero", "501"),
        ("PORT 10,77,0,2,117\r\n", "wrong_field_count", "501"),
        ("PORT 10,77,0,2,117,48 junk\r\n", "trailing_junk", "501"),
        ("PORT 10,77,0,2,117,48\0\r\n", "nul_byte", "501"),
        ("EPRT |2|10.77.0.2|30000|\r\n", "family_mismatch", "522"),
        ("EPRT |2|fd00::2|30000|\r\n", "family_mismatch", "522"),
        ("EPRT |3|10.77.0.2|30000|\r\n", "bad_family", "501"),
        ("EPRT |1|10.77.0.2|99999|\r\n", "bad_port", "501"),
        ("PORT 10,77,0,2,117,48\n", "bare_lf", "501"),
    ];
    for (line, check, code) in cases {
        client_refused(line, check, code);
    }
}

#[test]
fn an_over_long_port_line_is_refused_when_it_ends() {
    let line = format!("PORT {}{}\r\n", six(CLIENT, 30000), " ".repeat(600));
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    let (head, tail) = line.split_at(400);
    assert_eq!(
        c.client_says(head).verdict,
        Verdict::Drop(DropReason::FtpWithheld)
    );
    let out = c.client_says(tail);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(out.text(), "");
    assert_eq!(engine.pinhole_count(), 0);
    assert_eq!(violations(&engine)[0].0, "line_too_long");
    assert_client_answered(&mut c, "PORT 10,77", "line_too_long", "501");
}

#[test]
fn long_address_commands_are_refused() {
    client_refused(
        "LPRT 4,4,10,77,0,2,2,117,48\r\n",
        "unsupported_command",
        "502",
    );
    client_refused("LPSV\r\n", "unsupported_command", "502");
}

#[test]
fn announcements_before_login_are_refused() {
    fn greeted(engine: &Engine) -> Conversation<'_> {
        let mut c = Conversation::open(engine, (CLIENT, 40000), (SERVER, 21), (SERVER, 21));
        c.server_says("220 ready\r\n");
        c.client_says("USER anonymous\r\n");
        c.server_says("331 Guest login ok\r\n");
        c
    }
    client_line_refused(
        lab_settings(),
        greeted,
        &format!("PORT {}\r\n", six(CLIENT, 30000)),
        "before_login",
        "530",
    );
    // The policy can be lifted.
    let mut open = lab_settings();
    open.ftp.require_login = false;
    let engine = Engine::new(open);
    let mut c = greeted(&engine);
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
    assert_eq!(engine.pinhole_count(), 1);
}

#[test]
fn a_second_announcement_pipelined_before_the_first_is_answered_is_refused() {
    // PASV then PORT (or PASV again): which data connection RETR would use depends on the
    // replies. The second is refused; its error reply follows the PASV's reply.
    for second in [
        format!("PORT {}\r\n", six(CLIENT, 30000)),
        "PASV\r\n".into(),
        "EPSV\r\n".into(),
    ] {
        let engine = Engine::new(lab_settings());
        let mut c = nat_client(&engine);
        let out = c.client_says(&format!("PASV\r\n{second}"));
        assert_eq!(out.text(), "PASV\r\n");
        assert!(c.take_generated().is_empty(), "owed after the PASV's reply");
        let passive = format!("227 Entering Passive Mode ({})\r\n", six(SERVER, 50000));
        let reply = c.server_says(&passive);
        assert_eq!(
            reply.text(),
            format!("{passive}503 Refused by the gateway (pipelined_announcement).\r\n"),
            "the error reply follows the reply to the command before it"
        );
        assert_eq!(engine.pinhole_count(), 1, "only the first PASV's");
        let seen = violations(&engine);
        assert_eq!(seen[0].0, "pipelined_announcement");
        assert_eq!(seen[0].2, second.trim_end());
        let server_got = String::from_utf8_lossy(&c.server_got).into_owned();
        assert_eq!(server_got.matches("PASV").count(), 1, "{server_got}");
        assert!(!server_got.contains("EPSV") && !server_got.contains("PORT"));
        assert_streams_consistent(&mut c);
    }
}

#[test]
fn a_reply_that_redirects_the_data_connection_is_replaced() {
    for outcome in [ViolationOutcome::Reply, ViolationOutcome::Reset] {
        let engine = Engine::new(settings(outcome));
        let mut c = forwarded_server(&engine);
        c.client_says("PASV\r\n");
        // The inside server names another inside host: the client would be let in there.
        let line = format!(
            "227 Entering Passive Mode ({})\r\n",
            six(Ipv4Addr::new(10, 77, 0, 99), 22000)
        );
        let out = c.server_says(&line);
        assert_eq!(engine.pinhole_count(), 0);
        assert_eq!(violations(&engine)[0].0, "reply_redirect");
        match outcome {
            ViolationOutcome::Reply => {
                assert_eq!(
                    out.text(),
                    "425 Data connection refused by the gateway (reply_redirect).\r\n"
                );
                assert!(c.take_generated().is_empty());
                assert_streams_consistent(&mut c);
            }
            ViolationOutcome::Reset => assert_reset(&mut c, &out, false),
            ViolationOutcome::Monitor => unreachable!("a gateway's outcomes only"),
        }
        let probe = run(
            &engine,
            secs(60),
            &tcp((OUTSIDE_CLIENT, 50001), (OUTSIDE, 22000), SYN, 1, 0, b""),
        );
        assert_eq!(probe.verdict, Verdict::Drop(DropReason::Policy));
        another_session_works(&engine);
    }
}

#[test]
fn a_229_naming_a_privileged_port_and_an_unsolicited_227_are_replaced() {
    let engine = Engine::new(lab_settings());
    let mut c = forwarded_server(&engine);
    c.client_says("EPSV\r\n");
    let out = c.server_says("229 Entering Extended Passive Mode (|||22|)\r\n");
    assert_eq!(
        out.text(),
        "425 Data connection refused by the gateway (privileged_port).\r\n"
    );
    // A 227 nobody asked for (a spoofed or confused server): no pinhole, replaced 1:1.
    let out = c.server_says(&format!(
        "227 Entering Passive Mode ({})\r\n",
        six(INSIDE_SERVER, 40000)
    ));
    assert_eq!(
        out.text(),
        "425 Data connection refused by the gateway (unsolicited_reply).\r\n"
    );
    assert_eq!(engine.pinhole_count(), 0);
    let checks: Vec<_> = violations(&engine).into_iter().map(|v| v.0).collect();
    assert_eq!(checks, ["privileged_port", "unsolicited_reply"]);
    assert_streams_consistent(&mut c);
}

#[test]
fn replies_sent_by_the_client_and_commands_sent_by_the_server_are_not_announcements() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    let fake_reply = format!("227 Entering Passive Mode ({})\r\n", six(CLIENT, 30000));
    assert_eq!(c.client_says(&fake_reply).text(), fake_reply);
    let fake_command = format!("PORT {}\r\n", six(SERVER, 30000));
    assert_eq!(c.server_says(&fake_command).text(), fake_command);
    assert_eq!(engine.pinhole_count(), 0);
    assert!(violations(&engine).is_empty());
}

#[test]
fn a_port_in_the_middle_of_a_line_is_not_a_command() {
    // NAT slipstreaming: a segment boundary falls where "PORT" starts inside a longer line.
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    let padding = format!("SITE {}", "A".repeat(40));
    let announcement = format!("PORT {}\r\n", six(CLIENT, 30000));
    // Every partial client line is withheld until it ends (it may still be refused), then
    // goes whole: one SITE line, passed as it is.
    assert_eq!(
        c.client_says(&padding).verdict,
        Verdict::Drop(DropReason::FtpWithheld)
    );
    assert_eq!(
        c.client_says(&announcement).text(),
        format!("{padding}{announcement}"),
        "passed as it is"
    );
    assert_eq!(engine.pinhole_count(), 0);
    assert!(violations(&engine).is_empty());
    let probe = run(
        &engine,
        secs(60),
        &tcp((SERVER, 20), (OUTSIDE, 30000), SYN, 1, 0, b""),
    );
    assert_eq!(probe.verdict, Verdict::Drop(DropReason::Policy));
}

#[test]
fn pinholes_admit_one_connection_from_the_peer_to_the_announced_port_in_time() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
    c.server_says("200 ok\r\n");
    let syn = |src: (Ipv4Addr, u16), port: u16, at: u64| {
        run(
            &engine,
            secs(at),
            &tcp(src, (OUTSIDE, port), SYN, 1, 0, b""),
        )
        .verdict
    };
    let refused = Verdict::Drop(DropReason::Policy);
    assert_eq!(syn((THIRD_HOST, 20), 30000, 10), refused, "foreign source");
    assert_eq!(syn((SERVER, 20), 30001, 10), refused, "another port");
    assert_eq!(syn((SERVER, 20), 30000, 10), Verdict::Accept, "the peer");
    assert_eq!(syn((SERVER, 21), 30000, 10), refused, "second connection");
    // A new announcement expires unused.
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30002)));
    c.server_says("200 ok\r\n");
    assert_eq!(syn((SERVER, 20), 30002, 10 + 121), refused, "after expiry");
}

#[test]
fn an_unused_pinhole_closes_with_its_transfer() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
    c.server_says("200 ok\r\n");
    c.client_says("RETR missing\r\n");
    c.server_says("550 No such file\r\n");
    assert_eq!(engine.pinhole_count(), 0, "the transfer is over");
}

#[test]
fn auth_tls_is_passed_blind_without_pinholes_or_blocked() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
    c.server_says("200 ok\r\n");
    assert_eq!(engine.pinhole_count(), 1);
    c.client_says("AUTH TLS\r\n");
    c.server_says("234 Proceed with negotiation\r\n");
    assert_eq!(
        engine.pinhole_count(),
        0,
        "pinholes close when the stream goes blind"
    );
    let mut notices = Vec::new();
    while let Some(event) = engine.poll_event() {
        if let Event::FtpNotice { notice, .. } = event {
            notices.push(notice);
        }
    }
    assert_eq!(notices, ["tls_pass_blind"]);
    // Whatever the now-encrypted stream looks like, it is never read.
    let line = format!("PORT {}\r\n", six(CLIENT, 30001));
    assert_eq!(c.client_says(&line).text(), line);
    assert_eq!(engine.pinhole_count(), 0);

    let mut block = lab_settings();
    block.ftp.tls = TlsPolicy::Block;
    client_line_refused(block, nat_client, "AUTH TLS\r\n", "tls_blocked", "534");
}

#[test]
fn fxp_is_refused_by_default_and_passes_without_a_pinhole_when_allowed() {
    let mut fxp = lab_settings();
    fxp.ftp.allow_fxp = true;
    let engine = Engine::new(fxp.clone());
    let mut c = nat_client(&engine);
    let line = format!("PORT {}\r\n", six(THIRD_HOST, 40500));
    assert_eq!(c.client_says(&line).text(), line, "passed unchanged");
    assert_eq!(engine.pinhole_count(), 0);
    let mut notices = Vec::new();
    while let Some(event) = engine.poll_event() {
        if let Event::FtpNotice { notice, .. } = event {
            notices.push(notice);
        }
    }
    assert_eq!(notices, ["fxp_allowed"]);
    // Even then, a privileged port is a bounce at a service.
    client_line_refused(
        fxp,
        nat_client,
        &format!("PORT {}\r\n", six(THIRD_HOST, 25)),
        "privileged_port",
        "501",
    );
}

#[test]
fn an_error_reply_lost_on_the_way_is_carried_by_the_servers_next_segment() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    c.client_says(&format!("PORT {}\r\n", six(THIRD_HOST, 40500)));
    let mut lost = vec![0; ftpgate::engine::MAX_GENERATED];
    engine.poll_transmit(&mut lost).expect("the error reply"); // never reaches the client
    let next = c.server_says("421 Timeout\r\n");
    assert_eq!(
        next.text(),
        "501 Refused by the gateway (foreign_address).\r\n421 Timeout\r\n"
    );
    assert!(c
        .client_got
        .ends_with(b"501 Refused by the gateway (foreign_address).\r\n421 Timeout\r\n"));
    assert_eq!(c.client_acks(), c.server.seq);
}

#[test]
fn a_retransmission_with_other_bytes_than_the_checked_copy_is_dropped() {
    // TCP-overlap evasion: the copy the gateway checks dies after it (low TTL), and the
    // "retransmission" the server gets says something else.
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    let bounce = format!("PORT {}\r\n", six(THIRD_HOST, 40500));
    let harmless = format!("NOOP {}\r\n", "x".repeat(bounce.len() - 7));
    assert_eq!(harmless.len(), bounce.len());
    let at = c.client.seq;
    let first = c.client_says(&harmless);
    assert_eq!(first.text(), harmless);
    c.server_got.clear(); // as if it died on the way
    let evasion = c.client_at(at, &bounce);
    assert_eq!(
        evasion.verdict,
        Verdict::Drop(DropReason::FtpInconsistentRetransmission)
    );
    // Overlapping the old bytes and adding new ones does not help either.
    let overlap = c.client_at(
        at + 5,
        &format!("{}\r\nNOOP\r\n", &bounce[5..bounce.len() - 2]),
    );
    assert_eq!(
        overlap.verdict,
        Verdict::Drop(DropReason::FtpInconsistentRetransmission)
    );
    // An honest retransmission still goes through, and the stream carries on.
    assert_eq!(c.client_at(at, &harmless).text(), harmless);
    assert_eq!(engine.pinhole_count(), 0);
    assert_streams_consistent(&mut c);
}

#[test]
fn bytes_forgotten_after_an_ack_are_never_forwarded_again() {
    // A forged ack from the server's side makes the gateway forget what it read; a later
    // "retransmission" of those bytes with other content must not reach the server.
    let engine = Engine::new(lab_settings());
    let mut c = nat_client(&engine);
    let bounce = format!("PORT {}\r\n", six(THIRD_HOST, 40500));
    let harmless = format!("NOOP {}\r\n", "x".repeat(bounce.len() - 7));
    let at = c.client.seq;
    c.client_says(&harmless);
    let forged = tcp(
        c.server.addr,
        c.server.peer,
        ACK,
        c.server.seq,
        c.server.rcv + 1000, // beyond anything forwarded: counts up to what was
        b"",
    );
    assert_eq!(run(&engine, secs(30), &forged).verdict, Verdict::Accept);
    let replay = c.client_at(at, &bounce);
    assert_eq!(replay.verdict, Verdict::Accept);
    assert_eq!(replay.text(), "", "only the headers go on");
    assert_eq!(engine.pinhole_count(), 0);
    assert_streams_consistent(&mut c);
}
