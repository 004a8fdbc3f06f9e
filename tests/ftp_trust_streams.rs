//! ALG trust (issue 9), classes 4-6 and the lenient cases: over-long lines, data in the SYN
//! (TCP Fast Open), state surviving a reconnect on the same 4-tuple; and the look-alikes that
//! must work end to end (an outside server's private 227 address, `PORT 0,0,0,0`, `EPSV ALL`
//! followed by `EPSV`). tests/ftp_trust.rs has classes 1-3.

use ftpgate_testkit as support;

use std::net::Ipv4Addr;

use ftpgate::engine::settings::{EngineSettings, ViolationOutcome};
use ftpgate::engine::{DropReason, Engine, Verdict};
use support::conversation::{parse_six, six, to_inside, to_outside, Conversation, End};
use support::*;

fn checks(engine: &Engine) -> Vec<&'static str> {
    ftp_reports(engine)
        .outcomes()
        .0
        .into_iter()
        .map(|v| v.0)
        .collect()
}

fn server_got(c: &Conversation<'_>) -> String {
    String::from_utf8_lossy(&c.server_got).into_owned()
}

/// A command and its reply cross at the right places, and each side's acks name its stream.
fn streams_consistent(c: &mut Conversation<'_>) {
    c.client_says("NOOP\r\n");
    assert!(c.server_got.ends_with(b"NOOP\r\n"), "{}", server_got(c));
    c.server_says("200 NOOP ok\r\n");
    assert!(c.client_got.ends_with(b"200 NOOP ok\r\n"));
    assert_eq!(c.server_acks(), c.client.seq);
    assert_eq!(c.client_acks(), c.server.seq);
}

fn syn_from(engine: &Engine, at: u64, src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> Verdict {
    run(engine, secs(at), &tcp(src, dst, SYN, 1, 0, b"")).verdict
}

// ---- class 4: over-long lines -----------------------------------------------------------

#[test]
fn an_over_long_client_line_of_any_verb_never_reaches_the_server() {
    let bounce = format!("PORT {}\r\n", six(THIRD_HOST, 40500));
    for verb in ["NOOP", "SITE", "CWD", "STOR", "MKD", "HELP"] {
        // pyftpdlib cuts at 2,048 bytes and would run the PORT as a line of its own.
        let line = format!("{verb} {}{bounce}", "A".repeat(2100));
        for session in [to_outside as fn(&Engine) -> Conversation<'_>, to_inside] {
            for outcome in [ViolationOutcome::Reply, ViolationOutcome::Reset] {
                let mut settings = lab_settings();
                settings.ftp.on_violation = outcome;
                let engine = Engine::new(settings);
                let mut c = session(&engine);
                c.log_in();
                let before = c.server_got.len();
                let (a, rest) = line.split_at(900);
                let (b, d) = rest.split_at(900);
                for part in [a, b] {
                    let out = c.client_says(part);
                    assert_eq!(
                        out.verdict,
                        Verdict::Drop(DropReason::FtpWithheld),
                        "{verb}"
                    );
                }
                let last = c.client_says(d);
                assert_eq!(
                    c.server_got.len(),
                    before,
                    "{verb}: none of it reached the server"
                );
                assert_eq!(engine.pinhole_count(), 0);
                assert_eq!(
                    ftp_reports(&engine).outcomes().0,
                    [("line_too_long", ["reply", "reset"][outcome as usize])]
                );
                assert_eq!(engine.stats().ftp_violations("line_too_long"), 1);
                if outcome == ViolationOutcome::Reset {
                    assert_eq!(
                        last.verdict,
                        Verdict::Respond(DropReason::FtpViolationReset)
                    );
                    continue;
                }
                assert_eq!(
                    (last.verdict, last.text()),
                    (Verdict::Accept, String::new())
                );
                let reply = c.take_generated();
                assert_eq!(
                    reply[0].text(),
                    "501 Refused by the gateway (line_too_long).\r\n"
                );
                streams_consistent(&mut c);
            }
        }
    }
}

#[test]
fn an_over_long_line_split_with_its_end_in_a_later_segment_of_other_lines() {
    // The long line ends mid-segment, followed by a legitimate command in the same segment.
    let engine = Engine::new(lab_settings());
    let mut c = to_outside(&engine);
    c.log_in();
    let long = format!("NOOP {}", "B".repeat(700));
    c.client_says(&long);
    let out = c.client_says(&format!("\r\nPORT {}\r\n", six(CLIENT, 30000)));
    assert_eq!(
        out.text(),
        format!("PORT {}\r\n", six(OUTSIDE, 30000)),
        "only the line after it"
    );
    assert_eq!(engine.pinhole_count(), 1);
    assert_eq!(checks(&engine), ["line_too_long"]);
}

#[test]
fn a_client_line_longer_than_what_may_be_kept_resets_the_connection() {
    // The harness moves its clock a second a packet: the held-line timeout is set past the
    // 60 packets sent, so the bound on what is kept is what fires (the timeout has its own
    // tests in engine_exhaustion.rs).
    let mut settings = lab_settings();
    settings.limits.ftp_held_timeout = std::time::Duration::from_secs(3600);
    let engine = Engine::new(settings);
    let mut c = to_inside(&engine);
    c.log_in();
    let chunk = format!("NOOP {}", "C".repeat(1395));
    let mut outcome = None;
    for _ in 0..60 {
        let out = c.client_says(&chunk);
        if out.verdict != Verdict::Drop(DropReason::FtpWithheld) {
            outcome = Some(out.verdict);
            break;
        }
    }
    assert_eq!(
        outcome,
        Some(Verdict::Respond(DropReason::FtpViolationReset))
    );
    assert!(!server_got(&c).contains("NOOP C"));
    assert_eq!(checks(&engine), ["line_too_long"]);
}

#[test]
fn a_227_longer_than_64_kib_is_refused_and_later_replies_still_flow() {
    for session in [to_outside as fn(&Engine) -> Conversation<'_>, to_inside] {
        let engine = Engine::new(lab_settings());
        let mut c = session(&engine);
        c.log_in();
        c.client_says("PASV\r\n");
        let long = format!(
            "227 Entering Passive Mode {}(10,77,0,10,12,234)\r\n",
            "9,".repeat(40_000)
        );
        let mut first = None;
        for part in long.as_bytes().chunks(1400) {
            let out = c.server_says(std::str::from_utf8(part).unwrap());
            assert_eq!(out.verdict, Verdict::Accept, "never withheld: no wedge");
            first.get_or_insert(out.text());
            assert_eq!(c.client_acks(), c.server.seq);
        }
        assert_eq!(
            first.unwrap(),
            "425 Data connection refused by the gateway (line_too_long). ",
            "its start became an error reply; the rest follows as its text"
        );
        let later = c.server_says("200 later reply\r\n");
        assert_eq!(later.text(), "200 later reply\r\n");
        assert!(c
            .client_got
            .ends_with(b"9,9,(10,77,0,10,12,234)\r\n200 later reply\r\n"));
        assert_eq!(engine.pinhole_count(), 0);
        assert_eq!(checks(&engine), ["line_too_long"]);
        streams_consistent(&mut c);
    }
}

#[test]
fn a_227_just_over_max_line_in_one_segment_is_replaced_whole() {
    let engine = Engine::new(lab_settings());
    let mut c = to_inside(&engine);
    c.log_in();
    c.client_says("PASV\r\n");
    let line = format!(
        "227 Entering Passive Mode{} ({})\r\n",
        " ".repeat(600),
        six(INSIDE_SERVER, 40000)
    );
    let out = c.server_says(&line);
    assert_eq!(
        out.text(),
        "425 Data connection refused by the gateway (line_too_long).\r\n"
    );
    assert_eq!(engine.pinhole_count(), 0);
    streams_consistent(&mut c);
}

// ---- class 5: TCP Fast Open -------------------------------------------------------------

/// Opens a connection whose SYN carries `payload`; returns the conversation (after the
/// handshake) and the payload the server got in the SYN.
fn tfo_open<'e>(
    engine: &'e Engine,
    client: (Ipv4Addr, u16),
    as_seen: (Ipv4Addr, u16),
    real: (Ipv4Addr, u16),
    payload: &str,
) -> (Conversation<'e>, String) {
    let syn = run(
        engine,
        secs(1),
        &tcp(client, as_seen, SYN, 1000, 0, payload.as_bytes()),
    );
    assert_eq!(syn.verdict, Verdict::Accept, "the SYN goes on");
    assert!(checksums_verify(&syn.bytes));
    let tcp_part = &syn.bytes[20..];
    let header = usize::from(tcp_part[12] >> 4) * 4;
    assert_eq!(u32::from_be_bytes(tcp_part[4..8].try_into().unwrap()), 1000);
    let got = tcp_part[header..].to_vec();
    let (src, _) = endpoints(&syn.bytes);
    let std::net::IpAddr::V4(seen_addr) = src.0 else {
        unreachable!()
    };
    let client_seen = (seen_addr, src.1);
    // The server acknowledges the SYN and what it accepted of its data.
    let server_rcv = 1001 + got.len() as u32;
    let syn_ack = run(
        engine,
        secs(1),
        &tcp(real, client_seen, SYN | ACK, 5000, server_rcv, b""),
    );
    assert_eq!(syn_ack.verdict, Verdict::Accept);
    let client_rcv_ack = u32::from_be_bytes(syn_ack.bytes[28..32].try_into().unwrap());
    // The client resends whatever the server did not take (TFO falling back).
    let client_seq = client_rcv_ack;
    let ack = run(
        engine,
        secs(1),
        &tcp(client, as_seen, ACK, client_seq, 5001, b""),
    );
    assert_eq!(ack.verdict, Verdict::Accept);
    let c = Conversation {
        engine,
        client: End {
            addr: client,
            peer: as_seen,
            seq: client_seq,
            rcv: 5001,
        },
        server: End {
            addr: real,
            peer: client_seen,
            seq: 5001,
            rcv: server_rcv,
        },
        now: 2,
        client_got: Vec::new(),
        server_got: got.clone(),
    };
    (c, String::from_utf8_lossy(&got).into_owned())
}

#[test]
fn a_tcp_fast_open_client_works_end_to_end() {
    let engine = Engine::new(lab_settings());
    let (mut c, in_syn) = tfo_open(
        &engine,
        (CLIENT, 40000),
        (SERVER, 21),
        (SERVER, 21),
        "USER anonymous\r\n",
    );
    assert_eq!(in_syn, "USER anonymous\r\n", "the SYN's data goes on");
    assert_eq!(c.client.seq, 1001 + 16, "and is acknowledged");
    c.server_says("220 ready\r\n331 Guest login ok\r\n");
    let pass = c.client_says("PASS guest@\r\n");
    assert_eq!(pass.verdict, Verdict::Accept, "not stuck as out of order");
    c.server_says("230 Logged in\r\n");
    c.client_says("PASV\r\n");
    c.server_says(&format!(
        "227 Entering Passive Mode ({})\r\n",
        six(SERVER, 50000)
    ));
    assert_eq!(
        syn_from(&engine, 10, (CLIENT, 41001), (SERVER, 50000)),
        Verdict::Accept
    );
    streams_consistent(&mut c);
    assert!(ftp_reports(&engine).outcomes().0.is_empty());
}

#[test]
fn a_syn_with_a_tfo_cookie_option_and_data_goes_through_the_alg() {
    // Real TFO clients send the cookie option (kind 34) with the data; MPTCP (30) too.
    for options in [
        &[34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1][..],
        &[34, 2, 30, 4, 0, 0, 1, 1, 3, 3, 7, 0][..],
    ] {
        let engine = Engine::new(lab_settings());
        let mut syn = Vec::new();
        // To the inside server: what is in the SYN is read (the bounce refused).
        etherparse::PacketBuilder::ipv4(OUTSIDE_CLIENT.octets(), OUTSIDE.octets(), 64)
            .tcp(50000, 2121, 1000, 64240)
            .syn()
            .options_raw(options)
            .unwrap()
            .write(&mut syn, b"USER anonymous\r\nPORT 10,77,0,99,8,174\r\n")
            .unwrap();
        let out = run(&engine, secs(1), &syn);
        assert_eq!(out.verdict, Verdict::Accept, "{options:?}");
        assert!(checksums_verify(&out.bytes));
        let text = String::from_utf8_lossy(&out.bytes[20..]).into_owned();
        assert!(text.contains("USER anonymous\r\n"), "{options:?}");
        assert!(
            !text.contains("PORT"),
            "checked: before the greeting only USER"
        );
    }
}

#[test]
fn lines_in_a_syn_are_checked_like_any_other() {
    // To the inside server: the PORT (before the greeting, and a bounce) is refused; the
    // USER before it goes on in the SYN.
    let engine = Engine::new(lab_settings());
    let bounce = format!("PORT {}\r\n", six(Ipv4Addr::new(10, 77, 0, 99), 2222));
    let (mut c, in_syn) = tfo_open(
        &engine,
        (OUTSIDE_CLIENT, 50000),
        (OUTSIDE, 2121),
        (INSIDE_SERVER, 21),
        &format!("USER a\r\n{bounce}"),
    );
    assert_eq!(in_syn, "USER a\r\n");
    assert_eq!(checks(&engine), ["not_ftp"]);
    assert_eq!(c.server_says("220 ready\r\n").text(), "220 ready\r\n");
    assert_eq!(
        c.server_says("331 Password\r\n").text(),
        "331 Password\r\n500 Refused by the gateway (not_ftp).\r\n",
        "the error reply follows the reply to the USER before it"
    );
    assert_eq!(engine.pinhole_count(), 0);
    // To an outside attacker: USER, PASS and PORT in the SYN mark the session non-FTP.
    let engine = Engine::new(lab_settings());
    let (mut c, in_syn) = tfo_open(
        &engine,
        (CLIENT, 40000),
        (SERVER, 21),
        (SERVER, 21),
        &format!("USER a\r\nPASS b\r\nPORT {}\r\n", six(CLIENT, 3306)),
    );
    assert!(in_syn.ends_with(&format!("PORT {}\r\n", six(CLIENT, 3306))));
    c.server_says("220 hi\r\n331 ok\r\n230 ok\r\n200 ok\r\n");
    assert_eq!(engine.pinhole_count(), 0);
    assert_eq!(ftp_reports(&engine).outcomes().1, ["non_ftp"]);
    assert_eq!(
        syn_from(&engine, 10, (SERVER, 20), (OUTSIDE, 3306)),
        Verdict::Drop(DropReason::Policy)
    );
}

#[test]
fn a_partial_line_in_a_syn_is_held_and_the_syn_goes_without_it() {
    let engine = Engine::new(lab_settings());
    let (mut c, in_syn) = tfo_open(
        &engine,
        (CLIENT, 40000),
        (SERVER, 21),
        (SERVER, 21),
        "USER anon",
    );
    assert_eq!(in_syn, "", "the SYN goes on without its partial line");
    assert_eq!(c.client.seq, 1001, "the client sends it again");
    let out = c.client_says("USER anonymous\r\n");
    assert_eq!(out.text(), "USER anonymous\r\n");
    c.server_says("220 ready\r\n331 ok\r\n");
    c.client_says("PASS x\r\n");
    c.server_says("230 ok\r\n");
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
    assert_eq!(engine.pinhole_count(), 1);
    streams_consistent(&mut c);
}

// ---- class 6: reconnect on the same 4-tuple ---------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Close {
    /// The client resets the connection.
    Rst,
    /// Both ends close with FIN (the tuple is in TIME_WAIT).
    Fin,
}

fn close(c: &mut Conversation<'_>, how: Close) {
    let (client, server) = (c.client, c.server);
    match how {
        Close::Rst => {
            let rst = tcp(client.addr, client.peer, RST, client.seq, 0, b"");
            assert_eq!(run(c.engine, secs(30), &rst).verdict, Verdict::Accept);
        }
        Close::Fin => {
            let fin = tcp(
                client.addr,
                client.peer,
                FIN | ACK,
                client.seq,
                client.rcv,
                b"",
            );
            assert_eq!(run(c.engine, secs(30), &fin).verdict, Verdict::Accept);
            let fin_ack = tcp(
                server.addr,
                server.peer,
                FIN | ACK,
                server.seq,
                server.rcv + 1,
                b"",
            );
            assert_eq!(run(c.engine, secs(30), &fin_ack).verdict, Verdict::Accept);
            let last = tcp(
                client.addr,
                client.peer,
                ACK,
                client.seq + 1,
                client.rcv + 1,
                b"",
            );
            assert_eq!(run(c.engine, secs(30), &last).verdict, Verdict::Accept);
        }
    }
}

/// A new connection on the same 4-tuple, with new initial sequence numbers.
fn reopen<'e>(old: &Conversation<'e>) -> Conversation<'e> {
    let engine = old.engine;
    let (client, server) = (old.client, old.server);
    let syn = run(
        engine,
        secs(31),
        &tcp(client.addr, client.peer, SYN, 700_000, 0, b""),
    );
    assert_eq!(syn.verdict, Verdict::Accept, "the tuple reopens");
    let syn_ack = tcp(server.addr, server.peer, SYN | ACK, 900_000, 700_001, b"");
    assert_eq!(run(engine, secs(31), &syn_ack).verdict, Verdict::Accept);
    let ack = tcp(client.addr, client.peer, ACK, 700_001, 900_001, b"");
    assert_eq!(run(engine, secs(31), &ack).verdict, Verdict::Accept);
    Conversation {
        engine,
        client: End {
            seq: 700_001,
            rcv: 900_001,
            ..client
        },
        server: End {
            seq: 900_001,
            rcv: 700_001,
            ..server
        },
        now: 31,
        client_got: Vec::new(),
        server_got: Vec::new(),
    }
}

fn settings_with(outcome: ViolationOutcome) -> EngineSettings {
    let mut settings = lab_settings();
    settings.ftp.on_violation = outcome;
    settings
}

#[test]
fn blindness_after_auth_tls_does_not_survive_a_reconnect() {
    for how in [Close::Rst, Close::Fin] {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        c.log_in();
        c.client_says("AUTH TLS\r\n");
        c.server_says("234 Proceed\r\n");
        close(&mut c, how);
        let mut c = reopen(&c);
        c.log_in();
        c.client_says(&format!("PORT {}\r\n", six(THIRD_HOST, 40500)));
        assert!(
            !server_got(&c).contains("PORT"),
            "{how:?}: read again, and refused"
        );
        assert_eq!(checks(&engine), ["foreign_address"]);
    }
}

#[test]
fn a_login_does_not_survive_a_reconnect() {
    for how in [Close::Rst, Close::Fin] {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        c.log_in();
        close(&mut c, how);
        let mut c = reopen(&c);
        c.server_says("220 ready\r\n");
        c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
        assert_eq!(engine.pinhole_count(), 0, "{how:?}");
        assert_eq!(checks(&engine), ["before_login"]);
    }
}

#[test]
fn a_pending_user_does_not_survive_a_reconnect() {
    for how in [Close::Rst, Close::Fin] {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        c.server_says("220 ready\r\n");
        c.client_says("USER a\r\n"); // never answered
        close(&mut c, how);
        let mut c = reopen(&c);
        // The new server's first words: were the old USER still waiting, this would be a
        // login. In the new session it is no greeting: the session is not FTP.
        c.server_says("230 Logged in\r\n");
        c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
        assert_eq!(engine.pinhole_count(), 0, "{how:?}");
        assert_eq!(ftp_reports(&engine).outcomes(), (vec![], vec!["non_ftp"]));
    }
}

#[test]
fn a_reset_does_not_kill_the_next_connection() {
    let engine = Engine::new(settings_with(ViolationOutcome::Reset));
    let mut c = to_outside(&engine);
    c.log_in();
    let out = c.client_says(&format!("PORT {}\r\n", six(THIRD_HOST, 40500)));
    assert_eq!(out.verdict, Verdict::Respond(DropReason::FtpViolationReset));
    let _ = c.take_generated();
    let mut c = reopen(&c);
    c.log_in();
    c.client_says("PASV\r\n");
    let reply = c.server_says(&format!(
        "227 Entering Passive Mode ({})\r\n",
        six(SERVER, 50000)
    ));
    assert_eq!(reply.verdict, Verdict::Accept);
    assert_eq!(engine.pinhole_count(), 1);
    assert_eq!(
        checks(&engine),
        ["foreign_address"],
        "only the first connection's"
    );
    streams_consistent(&mut c);
}

#[test]
fn a_non_ftp_mark_does_not_survive_a_reconnect() {
    for how in [Close::Rst, Close::Fin] {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        c.server_says("220 ready\r\n");
        c.client_says("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        close(&mut c, how);
        let mut c = reopen(&c);
        c.log_in();
        let out = c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
        assert_eq!(
            out.text(),
            format!("PORT {}\r\n", six(OUTSIDE, 30000)),
            "{how:?}"
        );
        assert_eq!(engine.pinhole_count(), 1);
    }
}

// ---- lenient cases ----------------------------------------------------------------------

#[test]
fn an_outside_servers_private_227_address_is_its_control_address() {
    for private in ["172,31,5,9", "10,0,0,5", "192,168,1,20", "100,64,0,1"] {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        c.log_in();
        c.client_says("PASV\r\n");
        let reply = c.server_says(&format!("227 Entering Passive Mode ({private},195,80)\r\n"));
        assert_eq!(
            reply.text(),
            format!("227 Entering Passive Mode ({})\r\n", six(SERVER, 50000)),
            "{private}"
        );
        assert_eq!(
            ftp_reports(&engine).outcomes(),
            (vec![], vec!["fix_pasv_address"])
        );
        assert_eq!(engine.stats().ftp_notices("fix_pasv_address"), 1);
        // The transfer works: the client connects outward to the server's port.
        assert_eq!(
            syn_from(&engine, 10, (CLIENT, 41001), (SERVER, 50000)),
            Verdict::Accept
        );
        c.client_says("RETR f\r\n");
        c.server_says("150 ok\r\n226 done\r\n");
        assert!(c.client_got.ends_with(b"226 done\r\n"));
        streams_consistent(&mut c);
        // Nothing inbound was opened.
        assert_eq!(
            syn_from(&engine, 10, (SERVER, 20), (OUTSIDE, 50000)),
            Verdict::Drop(DropReason::Policy)
        );
    }
    // Off: refused as before.
    let mut off = lab_settings();
    off.ftp.fix_pasv_address = false;
    let engine = Engine::new(off);
    let mut c = to_outside(&engine);
    c.log_in();
    c.client_says("PASV\r\n");
    let reply = c.server_says("227 Entering Passive Mode (172,31,5,9,195,80)\r\n");
    assert!(reply.text().contains("(reply_redirect)"));
}

#[test]
fn an_inside_server_naming_another_private_host_stays_refused() {
    for other in ["172,31,5,9", "10,77,0,99", "192,168,1,20"] {
        let engine = Engine::new(lab_settings());
        let mut c = to_inside(&engine);
        c.log_in();
        c.client_says("PASV\r\n");
        let reply = c.server_says(&format!("227 Entering Passive Mode ({other},195,80)\r\n"));
        assert_eq!(
            reply.text(),
            "425 Data connection refused by the gateway (reply_redirect).\r\n"
        );
        assert_eq!(engine.pinhole_count(), 0);
        assert_eq!(
            ftp_reports(&engine).outcomes(),
            (vec![("reply_redirect", "reply")], vec![])
        );
    }
}

#[test]
fn port_and_eprt_naming_0_0_0_0_mean_the_clients_own_address() {
    for line in ["PORT 0,0,0,0,117,48\r\n", "EPRT |1|0.0.0.0|30000|\r\n"] {
        let engine = Engine::new(lab_settings());
        let mut c = to_outside(&engine);
        c.log_in();
        let out = c.client_says(line);
        let text = out.text();
        if line.starts_with("PORT") {
            assert_eq!(parse_six(&text), (OUTSIDE, 30000), "{text}");
        } else {
            assert_eq!(text, "EPRT |1|198.51.100.1|30000|\r\n");
        }
        c.server_says("200 ok\r\n");
        assert_eq!(
            syn_from(&engine, 10, (SERVER, 20), (OUTSIDE, 30000)),
            Verdict::Accept
        );
        assert!(ftp_reports(&engine).outcomes().0.is_empty());
        // Through a port forward (no translation of the client): rewritten to its address.
        let engine = Engine::new(lab_settings());
        let mut c = to_inside(&engine);
        c.log_in();
        let out = c.client_says(line);
        assert!(out.text().contains("203"), "{}", out.text());
        assert_eq!(engine.pinhole_count(), 1);
    }
}

#[test]
fn epsv_all_then_epsv_in_one_segment_is_legitimate() {
    let engine = Engine::new(lab_settings());
    let mut c = to_outside(&engine);
    c.log_in();
    let out = c.client_says("EPSV ALL\r\nEPSV\r\n");
    assert_eq!(out.text(), "EPSV ALL\r\nEPSV\r\n");
    c.server_says("200 EPSV ALL ok\r\n229 Entering Extended Passive Mode (|||50000|)\r\n");
    assert_eq!(
        syn_from(&engine, 10, (CLIENT, 41001), (SERVER, 50000)),
        Verdict::Accept
    );
    assert!(ftp_reports(&engine).outcomes().0.is_empty());
    streams_consistent(&mut c);
}
