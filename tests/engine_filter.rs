//! Engine scenarios: the stateful filter, reject answers, TCP state checks, timeouts, the
//! table cap and rule-log events.

use ftpgate_testkit as support;

use std::net::IpAddr;

use ftpgate::engine::settings::{Action, Direction, PortRange, Rule, RuleProtocol, Timeouts};
use ftpgate::engine::{DropReason, Engine, Event, Verdict};
use support::*;

fn rule(direction: Direction, protocol: RuleProtocol, dst_port: u16, action: Action) -> Rule {
    Rule {
        origin: "test.yaml:1:3".into(),
        direction: Some(direction),
        protocol,
        sources: vec![],
        destinations: vec![],
        source_ports: vec![],
        destination_ports: vec![PortRange::single(dst_port)],
        action,
        log: true,
    }
}

fn established(engine: &Engine) -> u16 {
    let syn = run(
        engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), SYN, 1000, 0, b""),
    );
    let port = outside_port(&syn);
    let _ = run(
        engine,
        secs(1),
        &tcp((SERVER, 80), (OUTSIDE, port), SYN | ACK, 5000, 1001, b""),
    );
    let _ = run(
        engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), ACK, 1001, 5001, b""),
    );
    port
}

#[test]
fn unsolicited_outside_syn_is_dropped_by_default() {
    let engine = Engine::new(lab_settings());
    let out = run(
        &engine,
        secs(1),
        &tcp((SERVER, 5555), (OUTSIDE, 22), SYN, 1, 0, b""),
    );
    assert_eq!(out.verdict, Verdict::Drop(DropReason::Policy));
    assert_eq!(engine.stats().flows, 0);
    assert_eq!(engine.stats().drops(DropReason::Policy), 1);
}

#[test]
fn unsolicited_outside_syn_is_rejected_with_a_rst_when_a_rule_says_so() {
    let mut settings = lab_settings();
    settings.policy.rules.push(rule(
        Direction::Inbound,
        RuleProtocol::Tcp,
        22,
        Action::Reject,
    ));
    let engine = Engine::new(settings);
    let out = run(
        &engine,
        secs(1),
        &tcp((SERVER, 5555), (OUTSIDE, 22), SYN, 777, 0, b""),
    );
    assert_eq!(out.verdict, Verdict::Respond(DropReason::PolicyReject));
    assert_eq!(endpoints(&out.bytes), (v4(OUTSIDE, 22), v4(SERVER, 5555)));
    assert!(checksums_verify(&out.bytes));
    let segment = &out.bytes[20..];
    assert_eq!(segment[13], RST | ACK, "RST|ACK answering a SYN");
    assert_eq!(
        u32::from_be_bytes(segment[8..12].try_into().unwrap()),
        778,
        "acks the SYN"
    );
    let Some(Event::RuleMatched {
        rule, action, flow, ..
    }) = engine.poll_event()
    else {
        panic!("rule with log: true reports an event");
    };
    assert_eq!(
        (rule.as_str(), action, flow.direction),
        ("test.yaml:1:3", Action::Reject, Direction::Inbound)
    );
    assert_eq!(engine.stats().flows, 0);
}

#[test]
fn rejected_udp_is_answered_with_port_unreachable_quoting_it() {
    let mut settings = lab_settings();
    settings.policy.rules.push(rule(
        Direction::Outbound,
        RuleProtocol::Udp,
        137,
        Action::Reject,
    ));
    let engine = Engine::new(settings);
    let datagram = udp((CLIENT, 40000), (SERVER, 137), b"netbios");
    let out = run(&engine, secs(1), &datagram);
    assert_eq!(out.verdict, Verdict::Respond(DropReason::PolicyReject));
    assert_eq!(endpoints(&out.bytes).0 .0, IpAddr::V4(SERVER));
    assert_eq!(endpoints(&out.bytes).1 .0, IpAddr::V4(CLIENT));
    assert_eq!(
        (out.bytes[20], out.bytes[21]),
        (3, 3),
        "destination unreachable / port"
    );
    assert_eq!(
        &out.bytes[28..],
        &datagram[..],
        "quotes the whole small datagram"
    );
    assert!(checksums_verify(&out.bytes));
}

#[test]
fn an_outbound_drop_rule_is_logged_and_other_traffic_flows() {
    let mut settings = lab_settings();
    let mut smtp = rule(Direction::Outbound, RuleProtocol::Tcp, 25, Action::Drop);
    smtp.origin = "rules/gateway.yaml:40:5".into();
    settings.policy.rules.push(smtp);
    let engine = Engine::new(settings);
    let blocked = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40001), (SERVER, 25), SYN, 1, 0, b""),
    );
    assert_eq!(blocked.verdict, Verdict::Drop(DropReason::Policy));
    assert!(matches!(
        engine.poll_event(),
        Some(Event::RuleMatched {
            action: Action::Drop,
            ..
        })
    ));
    assert_eq!(engine.poll_event(), None);
    let web = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40002), (SERVER, 443), SYN, 1, 0, b""),
    );
    assert_eq!(web.verdict, Verdict::Accept);
}

#[test]
fn rst_is_honoured_only_inside_the_window() {
    let engine = Engine::new(lab_settings());
    let port = established(&engine);
    let blind = run(
        &engine,
        secs(2),
        &tcp((SERVER, 80), (OUTSIDE, port), RST, 5001 + 1_000_000, 0, b""),
    );
    assert_eq!(blind.verdict, Verdict::Drop(DropReason::RstOutOfWindow));
    // The flow is intact: data still passes both ways.
    let data = run(
        &engine,
        secs(2),
        &tcp((SERVER, 80), (OUTSIDE, port), ACK, 5001, 1001, b"hello"),
    );
    assert_eq!(data.verdict, Verdict::Accept);
    let real = run(
        &engine,
        secs(3),
        &tcp((SERVER, 80), (OUTSIDE, port), RST, 5006, 0, b""),
    );
    assert_eq!(real.verdict, Verdict::Accept);
    assert_eq!(endpoints(&real.bytes).1, v4(CLIENT, 40000));
}

#[test]
fn segments_without_a_flow_and_bad_handshakes_are_refused() {
    let engine = Engine::new(lab_settings());
    let stray = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), ACK, 1, 1, b"x"),
    );
    assert_eq!(stray.verdict, Verdict::Drop(DropReason::TcpNoFlow));
    let syn = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), SYN, 1000, 0, b""),
    );
    let port = outside_port(&syn);
    let wrong_ack = run(
        &engine,
        secs(1),
        &tcp((SERVER, 80), (OUTSIDE, port), SYN | ACK, 5000, 4242, b""),
    );
    assert_eq!(
        wrong_ack.verdict,
        Verdict::Drop(DropReason::TcpInvalidState)
    );
    let xmas = run(
        &engine,
        secs(1),
        &tcp(
            (CLIENT, 40000),
            (SERVER, 80),
            SYN | FIN | RST | PSH,
            1,
            0,
            b"",
        ),
    );
    assert_eq!(xmas.verdict, Verdict::Drop(DropReason::TcpInvalidFlags));
}

#[test]
fn tcp_pickup_admits_mid_stream_connections_when_enabled() {
    let mut settings = lab_settings();
    settings.limits.tcp_pickup = true;
    let engine = Engine::new(settings);
    let mid = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), ACK, 1, 1, b"x"),
    );
    assert_eq!(mid.verdict, Verdict::Accept);
    assert_eq!(engine.stats().flows, 1);
}

#[test]
fn flows_expire_on_time_and_their_bindings_are_freed() {
    let mut settings = lab_settings();
    settings.timeouts = Timeouts {
        udp_unreplied: secs(30),
        tcp_established: secs(600),
        ..Timeouts::default()
    };
    let engine = Engine::new(settings);
    let sent = run(
        &engine,
        secs(100),
        &udp((CLIENT, 40000), (SERVER, 53), b"q"),
    );
    let port = outside_port(&sent);
    established(&engine);
    assert_eq!(engine.stats().flows, 2);
    // 29 s later the UDP flow still answers; the answer makes it "replied" (120 s).
    assert_eq!(engine.expire(secs(129)), 0);
    let answer = run(
        &engine,
        secs(129),
        &udp((SERVER, 53), (OUTSIDE, port), b"r"),
    );
    assert_eq!(answer.verdict, Verdict::Accept);
    assert_eq!(engine.expire(secs(248)), 0);
    assert_eq!(
        engine.expire(secs(250)),
        1,
        "replied UDP flow gone 120 s after its last packet"
    );
    let late = run(
        &engine,
        secs(251),
        &udp((SERVER, 53), (OUTSIDE, port), b"late"),
    );
    assert_eq!(late.verdict, Verdict::Drop(DropReason::Policy));
    assert_eq!(engine.stats().flows, 1);
    // The established TCP flow lasts its 600 s, then goes with its binding.
    assert_eq!(engine.expire(secs(600)), 0);
    assert_eq!(engine.expire(secs(602)), 1);
    let stats = engine.stats();
    assert_eq!(
        (stats.flows, stats.nat_bindings, stats.flows_expired),
        (0, 0, 2)
    );
}

#[test]
fn an_expired_flow_is_not_used_even_before_a_sweep() {
    let engine = Engine::new(lab_settings());
    let sent = run(&engine, secs(0), &udp((CLIENT, 40000), (SERVER, 53), b"q"));
    let port = outside_port(&sent);
    let late = run(&engine, secs(31), &udp((SERVER, 53), (OUTSIDE, port), b"r"));
    assert_eq!(late.verdict, Verdict::Drop(DropReason::Policy));
    assert_eq!(engine.stats().flows, 0);
}

#[test]
fn closed_tcp_flows_time_out_fast() {
    let engine = Engine::new(lab_settings());
    let port = established(&engine);
    let _ = run(
        &engine,
        secs(2),
        &tcp((CLIENT, 40000), (SERVER, 80), FIN | ACK, 1001, 5001, b""),
    );
    let _ = run(
        &engine,
        secs(2),
        &tcp((SERVER, 80), (OUTSIDE, port), FIN | ACK, 5001, 1002, b""),
    );
    let _ = run(
        &engine,
        secs(2),
        &tcp((CLIENT, 40000), (SERVER, 80), ACK, 1002, 5002, b""),
    );
    assert_eq!(engine.expire(secs(100)), 0, "TIME_WAIT lasts 120 s");
    assert_eq!(engine.expire(secs(123)), 1);
}

#[test]
fn a_full_table_refuses_new_flows_and_keeps_old_ones() {
    let mut settings = lab_settings();
    settings.limits.max_flows = 3;
    let engine = Engine::new(settings);
    for port in 40000..40003 {
        assert_eq!(
            run(&engine, secs(1), &udp((CLIENT, port), (SERVER, 53), b"q")).verdict,
            Verdict::Accept
        );
        // Answered: no longer a flow that early drop may evict.
        let answer = run(&engine, secs(1), &udp((SERVER, 53), (OUTSIDE, port), b"r"));
        assert_eq!(answer.verdict, Verdict::Accept);
    }
    let refused = run(&engine, secs(1), &udp((CLIENT, 40003), (SERVER, 53), b"q"));
    assert_eq!(refused.verdict, Verdict::Drop(DropReason::TableFull));
    assert_eq!(
        engine.stats().nat_bindings,
        3,
        "the refused flow's binding was given back"
    );
    // Old flows keep working both ways.
    for port in 40000..40003 {
        assert_eq!(
            run(&engine, secs(2), &udp((CLIENT, port), (SERVER, 53), b"q")).verdict,
            Verdict::Accept
        );
        let answer = run(&engine, secs(2), &udp((SERVER, 53), (OUTSIDE, port), b"r"));
        assert_eq!(endpoints(&answer.bytes).1, v4(CLIENT, port));
    }
    assert_eq!(engine.stats().drops(DropReason::TableFull), 1);
}

#[test]
fn nat_port_exhaustion_is_a_counted_drop() {
    let mut settings = lab_settings();
    settings.nat_ports = PortRange {
        first: 30000,
        last: 30001,
    };
    let engine = Engine::new(settings);
    for host in 2..4u8 {
        let client = std::net::Ipv4Addr::new(10, 77, 0, host);
        assert_eq!(
            run(&engine, secs(1), &udp((client, 1), (SERVER, 53), b"q")).verdict,
            Verdict::Accept
        );
    }
    let client = std::net::Ipv4Addr::new(10, 77, 0, 9);
    let out = run(&engine, secs(1), &udp((client, 1), (SERVER, 53), b"q"));
    assert_eq!(out.verdict, Verdict::Drop(DropReason::NatPortsExhausted));
}
