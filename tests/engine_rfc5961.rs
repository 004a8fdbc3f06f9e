//! RFC 5961 from the middle of the path: only a RST at exactly the expected sequence number
//! ends the gateway's flow; a RST merely inside the window, and a SYN on an established flow,
//! pass to the endpoint (which answers with a challenge ACK) and change nothing here.

use ftpgate_testkit as support;

use ftpgate::engine::{DropReason, Engine, Verdict};
use support::*;

const C_ISN: u32 = 1000;
const S_ISN: u32 = 5000;

/// A masqueraded connection CLIENT:40000 -> SERVER:80 after the handshake and 100 bytes each
/// way, all acknowledged. Returns the outside port.
fn established(engine: &Engine) -> u16 {
    let syn = run(
        engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), SYN, C_ISN, 0, b""),
    );
    assert_eq!(syn.verdict, Verdict::Accept);
    let port = outside_port(&syn);
    let steps = [
        tcp(
            (SERVER, 80),
            (OUTSIDE, port),
            SYN | ACK,
            S_ISN,
            C_ISN + 1,
            b"",
        ),
        tcp(
            (CLIENT, 40000),
            (SERVER, 80),
            ACK,
            C_ISN + 1,
            S_ISN + 1,
            &[b'a'; 100],
        ),
        tcp(
            (SERVER, 80),
            (OUTSIDE, port),
            ACK,
            S_ISN + 1,
            C_ISN + 101,
            &[b'b'; 100],
        ),
        tcp(
            (CLIENT, 40000),
            (SERVER, 80),
            ACK,
            C_ISN + 101,
            S_ISN + 101,
            b"",
        ),
    ];
    for packet in steps {
        assert_eq!(run(engine, secs(1), &packet).verdict, Verdict::Accept);
    }
    port
}

/// Whether the connection still carries data at `at` (both ways).
fn still_open(engine: &Engine, port: u16, at: u64) -> bool {
    let out = run(
        engine,
        secs(at),
        &tcp(
            (CLIENT, 40000),
            (SERVER, 80),
            ACK,
            C_ISN + 101,
            S_ISN + 101,
            b"x",
        ),
    );
    let back = run(
        engine,
        secs(at),
        &tcp(
            (SERVER, 80),
            (OUTSIDE, port),
            ACK,
            S_ISN + 101,
            C_ISN + 102,
            b"y",
        ),
    );
    out.verdict == Verdict::Accept && back.verdict == Verdict::Accept
}

#[test]
fn blind_rst_inside_the_window_is_passed_and_the_flow_lives_on() {
    // The attack: 30,000 bytes past the expected number, inside the 64 KiB window.
    for (from_server, offset, flags) in [
        (true, 30_000u32, RST),
        (true, 1, RST | ACK),
        (false, 30_000, RST),
        (false, 64_000, RST | ACK),
        (true, 0u32.wrapping_sub(20_000), RST), // behind the expected number
    ] {
        let engine = Engine::new(lab_settings());
        let port = established(&engine);
        let rst = if from_server {
            tcp(
                (SERVER, 80),
                (OUTSIDE, port),
                flags,
                (S_ISN + 101).wrapping_add(offset),
                C_ISN + 101,
                b"",
            )
        } else {
            tcp(
                (CLIENT, 40000),
                (SERVER, 80),
                flags,
                (C_ISN + 101).wrapping_add(offset),
                S_ISN + 101,
                b"",
            )
        };
        let out = run(&engine, secs(2), &rst);
        assert_eq!(out.verdict, Verdict::Accept, "passed to the endpoint");
        let to = if from_server {
            v4(CLIENT, 40000)
        } else {
            v4(SERVER, 80)
        };
        assert_eq!(endpoints(&out.bytes).1, to, "translated like the flow");
        let stats = engine.stats();
        assert_eq!((stats.rst_challenged, stats.syn_challenged), (1, 0));
        // Long after the 10 s a closed flow lives, the connection still works.
        assert!(still_open(&engine, port, 60), "{from_server} {offset}");
        assert_eq!(engine.expire(secs(61)), 0);
        assert_eq!(engine.stats().flows, 1);
    }
}

#[test]
fn exact_rst_ends_the_flow() {
    // At the sender's next byte, from either side, with or without ACK.
    for (from_server, flags) in [(true, RST), (false, RST | ACK), (true, RST | ACK)] {
        let engine = Engine::new(lab_settings());
        let port = established(&engine);
        let rst = if from_server {
            tcp(
                (SERVER, 80),
                (OUTSIDE, port),
                flags,
                S_ISN + 101,
                C_ISN + 101,
                b"",
            )
        } else {
            tcp(
                (CLIENT, 40000),
                (SERVER, 80),
                flags,
                C_ISN + 101,
                S_ISN + 101,
                b"",
            )
        };
        assert_eq!(run(&engine, secs(2), &rst).verdict, Verdict::Accept);
        assert_eq!(engine.stats().rst_challenged, 0);
        // tcp_close (10 s) then gone: the next data segment has no flow.
        assert_eq!(engine.expire(secs(13)), 1);
        let late = run(
            &engine,
            secs(14),
            &tcp(
                (CLIENT, 40000),
                (SERVER, 80),
                ACK,
                C_ISN + 101,
                S_ISN + 101,
                b"x",
            ),
        );
        assert_eq!(late.verdict, Verdict::Drop(DropReason::TcpNoFlow));
    }
}

#[test]
fn rst_at_the_receivers_ack_is_exact_while_data_is_in_flight() {
    let engine = Engine::new(lab_settings());
    let port = established(&engine);
    // The server sends 500 bytes the client has not acknowledged; the client last acked S+101.
    let data = tcp(
        (SERVER, 80),
        (OUTSIDE, port),
        ACK,
        S_ISN + 101,
        C_ISN + 101,
        &[b'z'; 500],
    );
    assert_eq!(run(&engine, secs(2), &data).verdict, Verdict::Accept);
    // A RST between the two is inexact.
    let between = tcp((SERVER, 80), (OUTSIDE, port), RST, S_ISN + 300, 0, b"");
    assert_eq!(run(&engine, secs(2), &between).verdict, Verdict::Accept);
    assert_eq!(engine.stats().rst_challenged, 1);
    // The client's RCV.NXT (its last ack) is exact: a peer that lost its state answers there.
    let at_ack = tcp((SERVER, 80), (OUTSIDE, port), RST, S_ISN + 101, 0, b"");
    assert_eq!(run(&engine, secs(2), &at_ack).verdict, Verdict::Accept);
    assert_eq!(engine.stats().rst_challenged, 1);
    assert_eq!(engine.expire(secs(13)), 1);
}

#[test]
fn rst_outside_the_window_is_still_dropped() {
    let engine = Engine::new(lab_settings());
    let port = established(&engine);
    let far = tcp(
        (SERVER, 80),
        (OUTSIDE, port),
        RST,
        S_ISN + 101 + 1_000_000,
        0,
        b"",
    );
    assert_eq!(
        run(&engine, secs(2), &far).verdict,
        Verdict::Drop(DropReason::RstOutOfWindow)
    );
    assert_eq!(engine.stats().rst_challenged, 0);
    assert!(still_open(&engine, port, 60));
}

#[test]
fn syn_on_an_established_flow_is_passed_and_changes_nothing() {
    for (from_server, flags, seq) in [
        (false, SYN, C_ISN),          // the original ISN again
        (false, SYN, 777_777),        // a new ISN
        (true, SYN, 42),              // a spoofed SYN on the reply tuple
        (true, SYN | ACK, 9_999_999), // a SYN/ACK with another ISN
    ] {
        let engine = Engine::new(lab_settings());
        let port = established(&engine);
        let syn = if from_server {
            tcp((SERVER, 80), (OUTSIDE, port), flags, seq, C_ISN + 101, b"")
        } else {
            tcp((CLIENT, 40000), (SERVER, 80), flags, seq, 0, b"")
        };
        let out = run(&engine, secs(2), &syn);
        assert_eq!(out.verdict, Verdict::Accept, "passed for a challenge ACK");
        let stats = engine.stats();
        assert_eq!((stats.syn_challenged, stats.rst_challenged), (1, 0));
        assert_eq!((stats.flows, stats.nat_bindings), (1, 1));
        // Sequence tracking is unchanged: an exact RST at the old numbers still closes,
        // and before that the connection carries data long after tcp_syn_sent (2 m).
        assert!(still_open(&engine, port, 200), "{flags:#x} {seq}");
        assert_eq!(engine.expire(secs(201)), 0);
        let exact = tcp((SERVER, 80), (OUTSIDE, port), RST, S_ISN + 102, 0, b"");
        assert_eq!(run(&engine, secs(202), &exact).verdict, Verdict::Accept);
        assert_eq!(engine.stats().rst_challenged, 0);
        assert_eq!(engine.expire(secs(213)), 1);
    }
}

#[test]
fn a_syn_after_an_exact_rst_opens_a_new_connection() {
    let engine = Engine::new(lab_settings());
    let port = established(&engine);
    let rst = tcp((CLIENT, 40000), (SERVER, 80), RST, C_ISN + 101, 0, b"");
    assert_eq!(run(&engine, secs(2), &rst).verdict, Verdict::Accept);
    let syn = tcp((CLIENT, 40000), (SERVER, 80), SYN, 90_000, 0, b"");
    assert_eq!(run(&engine, secs(3), &syn).verdict, Verdict::Accept);
    let syn_ack = tcp((SERVER, 80), (OUTSIDE, port), SYN | ACK, 7, 90_001, b"");
    assert_eq!(run(&engine, secs(3), &syn_ack).verdict, Verdict::Accept);
    assert_eq!(engine.stats().syn_challenged, 0);
}
