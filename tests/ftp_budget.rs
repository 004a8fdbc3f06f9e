//! The FTP control-stream memory budget: the held-bytes attack (`PORT ` and then
//! kilobytes with no line end) is capped per connection and for the whole gateway, refused
//! with a counted reason, and aged out by a reset; other sessions keep working, and every
//! byte is given back when its connection goes.

use ftpgate_testkit as support;

use ftpgate::engine::{DropReason, Engine, EngineSettings, Event, Verdict, MAX_GENERATED};
use support::conversation::{six, Conversation};
use support::*;

fn budget_settings(per_connection: usize, total: usize) -> EngineSettings {
    let mut settings = lab_settings();
    settings.limits.ftp_buffer_per_connection = per_connection;
    settings.limits.ftp_buffer_total = total;
    // The kept-bytes tests send 1,000- and 1,500-byte lines: followed, not over-long.
    settings.ftp.max_line = 2048;
    settings
}

fn session(engine: &Engine, port: u16) -> Conversation<'_> {
    let mut c = Conversation::open(engine, (CLIENT, port), (SERVER, 21), (SERVER, 21));
    c.server_says("220 ready\r\n");
    c.client_says("USER anonymous\r\n");
    c.server_says("331 ok\r\n");
    c.client_says("PASS x\r\n");
    c.server_says("230 in\r\n");
    c.client_acks();
    c
}

/// Kept bytes: 1,000-byte lines the server never acknowledges (kept for the retransmission
/// check), until the gateway stops taking them. Returns the verdicts seen (the last is the
/// budget's refusal).
fn keep_bytes(c: &mut Conversation<'_>) -> Vec<Verdict> {
    let line = format!("NOOP {}\r\n", "n".repeat(993));
    let mut verdicts = Vec::new();
    for _ in 0..200 {
        let seq = c.client.seq;
        let verdict = c.client_at(seq, &line).verdict;
        verdicts.push(verdict);
        if verdict != Verdict::Accept {
            break;
        }
        c.client.seq = seq.wrapping_add(line.len() as u32);
    }
    verdicts
}

/// The attack: `PORT ` and then 1,000-byte chunks with no line end, until the
/// gateway stops withholding them. Returns the verdicts seen.
fn hold_bytes(c: &mut Conversation<'_>) -> Vec<Verdict> {
    let mut verdicts = vec![c.client_says("PORT ").verdict];
    let chunk = "9".repeat(1000);
    for _ in 0..200 {
        let seq = c.client.seq;
        let verdict = c.client_at(seq, &chunk).verdict;
        verdicts.push(verdict);
        if verdict != Verdict::Drop(DropReason::FtpWithheld) {
            break;
        }
        c.client.seq = seq.wrapping_add(1000);
    }
    verdicts
}

/// A partial announcement, withheld until it ends (it never does).
fn hold_line(c: &mut Conversation<'_>) {
    let verdict = c.client_says("PORT 10,77,0,").verdict;
    assert_eq!(verdict, Verdict::Drop(DropReason::FtpWithheld));
}

/// A PORT from this session passes, rewritten.
fn port_passes(c: &mut Conversation<'_>, port: u16) -> bool {
    let out = c.client_says(&format!("PORT {}\r\n", six(CLIENT, port)));
    let passed = out.verdict == Verdict::Accept && out.text().starts_with("PORT 198,51,100,1,");
    c.server_says("200 ok\r\n");
    passed
}

fn held_timeouts(engine: &Engine) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    while let Some(event) = engine.poll_event() {
        if let Event::FtpViolation { check, outcome, .. } = event {
            out.push((check, outcome));
        }
    }
    out
}

#[test]
fn one_connection_holds_at_most_its_budget_and_others_are_untouched() {
    for per_connection in [8192, 20_000] {
        let engine = Engine::new(budget_settings(per_connection, 1 << 20));
        let mut attacker = session(&engine, 40000);
        let verdicts = keep_bytes(&mut attacker);
        assert_eq!(
            verdicts.last(),
            Some(&Verdict::Drop(DropReason::FtpBufferBudget))
        );
        let held = engine.ftp_buffered();
        assert!(
            held <= per_connection && held > per_connection - 1000,
            "{held}"
        );
        assert_eq!(engine.stats().drops(DropReason::FtpBufferBudget), 1);
        // A retransmission of bytes already read costs nothing and is still followed.
        let again = attacker.client_at(attacker.client.seq.wrapping_sub(10), "nnnnnnnn\r\n");
        assert_eq!(again.verdict, Verdict::Accept);
        // Another session, meanwhile, works from start to end.
        let mut other = session(&engine, 40001);
        assert!(port_passes(&mut other, 30000));
        assert_eq!(engine.stats().total_ftp_violations(), 0);
    }
}

#[test]
fn a_held_line_ages_out_on_its_next_segment_with_a_reset() {
    let engine = Engine::new(budget_settings(8192, 1 << 20));
    let mut attacker = session(&engine, 40000);
    let started = attacker.now + 1; // when the partial line arrives and is withheld
    hold_line(&mut attacker);
    assert!(engine.ftp_buffered() > 0);
    // Adding to the line is no progress: 29 s after it was first withheld it is still held,
    // at 30 s the connection is reset.
    let at = started + 29;
    let poke = tcp(
        (CLIENT, 40000),
        (SERVER, 21),
        ACK,
        attacker.client.seq,
        5001,
        b"",
    );
    assert_eq!(run(&engine, secs(at), &poke).verdict, Verdict::Accept);
    let out = run(&engine, secs(at + 1), &poke);
    assert_eq!(out.verdict, Verdict::Respond(DropReason::FtpViolationReset));
    assert_eq!(engine.ftp_buffered(), 0, "every held byte is freed");
    assert_eq!(engine.stats().ftp_violations("held_timeout"), 1);
    assert_eq!(held_timeouts(&engine), vec![("held_timeout", "reset")]);
    let mut buf = vec![0; MAX_GENERATED];
    let len = engine
        .poll_transmit(&mut buf)
        .expect("the server is told too");
    let rst = buf[..len].to_vec();
    assert_eq!(endpoints(&rst).1, v4(SERVER, 21));
    assert_eq!(rst[33] & RST, RST);
}

#[test]
fn a_silent_holder_is_reset_by_the_sweep_and_both_ends_are_told() {
    let engine = Engine::new(budget_settings(8192, 1 << 20));
    let mut attacker = session(&engine, 40000);
    let mut other = session(&engine, 40001);
    let stalled_at = attacker.now + 1;
    hold_line(&mut attacker);
    assert_eq!(engine.expire(secs(stalled_at + 29)), 0);
    assert!(engine.ftp_buffered() > 0);
    engine.expire(secs(stalled_at + 30));
    assert_eq!(engine.ftp_buffered(), 0);
    assert_eq!(held_timeouts(&engine), vec![("held_timeout", "reset")]);
    let mut told = Vec::new();
    let mut buf = vec![0; MAX_GENERATED];
    while let Some(len) = engine.poll_transmit(&mut buf) {
        let rst = buf[..len].to_vec();
        assert!(checksums_verify(&rst));
        assert_eq!(rst[33] & RST, RST);
        told.push(endpoints(&rst).1);
    }
    told.sort();
    assert_eq!(told, vec![v4(CLIENT, 40000), v4(SERVER, 21)]);
    // The reset flow closes (tcp_close, 10 s) and goes; the other session is untouched.
    assert_eq!(engine.expire(secs(stalled_at + 45)), 1);
    other.now = stalled_at + 46;
    assert!(port_passes(&mut other, 30000));
}

#[test]
fn the_global_budget_caps_all_holders_and_frees_up_when_they_age_out() {
    let total = 64 * 1024;
    let engine = Engine::new(budget_settings(16 * 1024, total));
    let mut holders: Vec<_> = (0..6).map(|i| session(&engine, 41000 + i)).collect();
    let (mut refused_early, mut holding) = (0, 0);
    for holder in &mut holders {
        let verdicts = keep_bytes(holder);
        if verdicts[0] == Verdict::Accept {
            holding += 1;
        }
        assert!(engine.ftp_buffered() <= total);
        // A holder stopped by the global budget before its own is refused sooner.
        if verdicts.len() < 16 {
            refused_early += 1;
        }
    }
    assert!(refused_early >= 2, "{refused_early}");
    assert!(engine.ftp_buffered() > total - 16 * 1024);
    // While the gateway's budget is spent, a new session's 1,500-byte line waits (counted)...
    let mut late = session(&engine, 42000);
    let seq = late.client.seq;
    let line = format!("NOOP {}\r\n", "n".repeat(1493));
    let first = late.client_at(seq, &line);
    assert_eq!(first.verdict, Verdict::Drop(DropReason::FtpBufferBudget));
    // ...until the holders age out; then the sender's retransmission passes.
    let now = holders.iter().map(|h| h.now).max().unwrap_or(0) + 31;
    engine.expire(secs(now));
    // Kept bytes age out only while half the global budget or more is in use: holders are
    // reset until the gateway is below that, the rest keep their (acknowledgeable) bytes.
    let reset = engine.stats().ftp_violations("held_timeout");
    assert!(reset >= 1 && reset <= holding, "{reset} of {holding}");
    assert!(engine.ftp_buffered() < total / 2);
    late.now = now;
    let retry = late.client_at(seq, &line);
    assert_eq!(retry.verdict, Verdict::Accept);
    late.client.seq = seq.wrapping_add(line.len() as u32);
    late.server_says("200 ok\r\n");
    assert!(port_passes(&mut late, 30000));
}

#[test]
fn kept_bytes_are_given_back_when_their_connection_goes() {
    let engine = Engine::new(lab_settings());
    let mut c = session(&engine, 40000);
    // 3 KB of lines the server never acknowledges: kept for the retransmission check (50
    // lines: fewer than the commands a session may have outstanding).
    for i in 0..50 {
        let out = c.client_says(&format!("NOOP {i:055}\r\n"));
        assert_eq!(out.verdict, Verdict::Accept);
    }
    assert!(engine.ftp_buffered() >= 3000);
    // Below half the global budget, unacknowledged bytes do not age out.
    assert_eq!(engine.expire(secs(c.now + 100)), 0);
    assert_eq!(engine.stats().ftp_violations("held_timeout"), 0);
    // An exact RST closes the connection; when the flow goes, so do its bytes.
    let rst = tcp((CLIENT, 40000), (SERVER, 21), RST, c.client.seq, 0, b"");
    assert_eq!(
        run(&engine, secs(c.now + 101), &rst).verdict,
        Verdict::Accept
    );
    assert_eq!(engine.expire(secs(c.now + 112)), 1);
    assert_eq!(engine.ftp_buffered(), 0);
}

/// The default budgets, and a hold timeout the attack's pace (a second a segment) does not
/// reach.
fn patient(per_connection: usize) -> EngineSettings {
    let mut settings = budget_settings(per_connection, 32 << 20);
    settings.limits.ftp_held_timeout = std::time::Duration::from_secs(300);
    settings
}

/// Sends `PORT ` and then 1,000-byte chunks with no line end (an over-long line the ALG
/// withholds) until a verdict other than "withheld" comes; returns it and the violations.
fn over_long_port_line(settings: EngineSettings) -> (Verdict, Vec<(&'static str, &'static str)>) {
    let engine = Engine::new(settings);
    let mut c = session(&engine, 40000);
    let verdicts = hold_bytes(&mut c);
    let last = *verdicts.last().expect("at least one verdict");
    let mut buf = vec![0; MAX_GENERATED];
    let len = engine
        .poll_transmit(&mut buf)
        .expect("the server is told too");
    let rst = buf[..len].to_vec();
    assert_eq!(endpoints(&rst).1, v4(SERVER, 21));
    assert_eq!(rst[33] & RST, RST);
    assert_eq!(engine.stats().drops(DropReason::FtpBufferBudget), 0);
    (last, held_timeouts(&engine))
}

#[test]
fn an_over_long_withheld_line_that_fills_a_buffer_resets_as_line_too_long() {
    // The default per-connection budget (64 KiB) fills before the stream's 64 KiB backlog;
    // a 1 MiB budget leaves the backlog to fill first. Either way: reset, line_too_long.
    for per_connection in [64 * 1024, 1024 * 1024] {
        let (last, violations) = over_long_port_line(patient(per_connection));
        assert_eq!(last, Verdict::Respond(DropReason::FtpViolationReset));
        assert_eq!(violations, vec![("line_too_long", "reset")]);
    }
}

#[test]
fn an_over_long_withheld_line_frees_its_budget_when_reset() {
    let engine = Engine::new(patient(64 * 1024));
    let mut c = session(&engine, 40000);
    hold_bytes(&mut c);
    assert_eq!(engine.ftp_buffered(), 0);
    assert_eq!(engine.stats().ftp_violations("line_too_long"), 1);
}
