//! Floods and exhaustion: early drop when the table is full, the per-source cap on embryonic
//! flows, and the per-host NAT port quota. Each scenario asserts the counters and events, and
//! that the flows of others are untouched.

use ftpgate_testkit as support;

use std::net::{IpAddr, Ipv4Addr};

use ftpgate::engine::{DropReason, Engine, EngineSettings, Event, Verdict};
use support::conversation::{six, Conversation};
use support::*;

/// An outside address number `n` (spoofed flood sources).
fn spoofed(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(0xCB00_7100u32 + n) // 203.0.113.0/24 and beyond
}

fn small_table(max_flows: usize) -> EngineSettings {
    let mut settings = lab_settings();
    settings.limits.max_flows = max_flows;
    settings
}

/// A SYN from a spoofed outside source to the forwarded port.
fn syn_to_forward(engine: &Engine, at: u64, n: u32) -> Verdict {
    let syn = tcp(
        (spoofed(n), 1024 + (n % 60000) as u16),
        (OUTSIDE, 2121),
        SYN,
        n,
        0,
        b"",
    );
    run(engine, secs(at), &syn).verdict
}

/// An inside client's full handshake to the outside server; returns the verdict of its SYN.
fn outbound_connection(engine: &Engine, at: u64, port: u16) -> Verdict {
    let syn = run(
        engine,
        secs(at),
        &tcp((CLIENT, port), (SERVER, 80), SYN, 100, 0, b""),
    );
    if syn.verdict != Verdict::Accept {
        return syn.verdict;
    }
    let outside = outside_port(&syn);
    let syn_ack = tcp((SERVER, 80), (OUTSIDE, outside), SYN | ACK, 900, 101, b"");
    assert_eq!(run(engine, secs(at), &syn_ack).verdict, Verdict::Accept);
    let ack = tcp((CLIENT, port), (SERVER, 80), ACK, 101, 901, b"");
    assert_eq!(run(engine, secs(at), &ack).verdict, Verdict::Accept);
    Verdict::Accept
}

#[test]
fn a_syn_flood_at_a_forward_cannot_starve_inside_hosts() {
    let engine = Engine::new(small_table(64));
    // Two established connections from inside before the flood.
    for port in [40000, 40001] {
        assert_eq!(outbound_connection(&engine, 1, port), Verdict::Accept);
    }
    // 1,000 spoofed SYNs (distinct sources): the table fills, then each new one evicts the
    // oldest embryonic inbound flow.
    for n in 0..1000 {
        assert_eq!(syn_to_forward(&engine, 2, n), Verdict::Accept);
    }
    let stats = engine.stats();
    assert_eq!(stats.flows, 64);
    assert_eq!(stats.flows_evicted, 1000 - 62);
    assert_eq!(stats.drops(DropReason::TableFull), 0);
    // Inside hosts still open new connections, each displacing a flood flow...
    for port in 41000..41030 {
        assert_eq!(
            outbound_connection(&engine, 3, port),
            Verdict::Accept,
            "{port}"
        );
    }
    // ...and the established ones were never evicted, even by 10,000 more SYNs.
    for n in 1000..11_000 {
        syn_to_forward(&engine, 4, n);
    }
    let flood_flows_left = 64 - 2 - 30;
    assert_eq!(engine.stats().flows, 64);
    assert_eq!(engine.stats().flows_evicted, 1000 - 62 + 30 + 10_000);
    for port in [40000, 40001].into_iter().chain(41000..41030) {
        let data = tcp((CLIENT, port), (SERVER, 80), ACK, 101, 901, b"still here");
        assert_eq!(
            run(&engine, secs(5), &data).verdict,
            Verdict::Accept,
            "{port}"
        );
    }
    assert!(flood_flows_left > 0);
}

#[test]
fn a_new_inbound_flow_never_evicts_an_outbound_one() {
    let engine = Engine::new(small_table(8));
    // Eight inside SYNs nobody answers yet: outbound embryonic flows fill the table.
    for port in 42000..42008 {
        let syn = tcp((CLIENT, port), (SERVER, 80), SYN, 1, 0, b"");
        assert_eq!(run(&engine, secs(1), &syn).verdict, Verdict::Accept);
    }
    assert_eq!(
        syn_to_forward(&engine, 2, 7),
        Verdict::Drop(DropReason::TableFull)
    );
    assert_eq!(engine.stats().flows_evicted, 0);
    // A ninth inside connection may displace the oldest inside embryonic flow.
    let ninth = tcp((CLIENT, 42008), (SERVER, 80), SYN, 1, 0, b"");
    assert_eq!(run(&engine, secs(2), &ninth).verdict, Verdict::Accept);
    assert_eq!(engine.stats().flows_evicted, 1);
    let gone = tcp((SERVER, 80), (OUTSIDE, 42000), SYN | ACK, 5, 2, b"");
    assert_eq!(
        run(&engine, secs(2), &gone).verdict,
        Verdict::Drop(DropReason::TcpNoFlow)
    );
}

#[test]
fn unreplied_udp_is_evicted_answered_udp_and_established_tcp_are_not() {
    let engine = Engine::new(small_table(6));
    // Two answered UDP flows and one established TCP connection.
    for port in [43000, 43001] {
        run(&engine, secs(1), &udp((CLIENT, port), (SERVER, 53), b"q"));
        let answer = run(&engine, secs(1), &udp((SERVER, 53), (OUTSIDE, port), b"r"));
        assert_eq!(answer.verdict, Verdict::Accept);
    }
    assert_eq!(outbound_connection(&engine, 1, 43100), Verdict::Accept);
    // A UDP flood at the forwarded port 5353 from many sources.
    for n in 0..500u32 {
        let datagram = udp((spoofed(n), 7), (OUTSIDE, 5353), b"flood");
        assert_eq!(run(&engine, secs(2), &datagram).verdict, Verdict::Accept);
    }
    let stats = engine.stats();
    assert_eq!((stats.flows, stats.flows_evicted), (6, 500 - 3));
    // Every answered flow still works.
    for port in [43000, 43001] {
        let answer = run(&engine, secs(3), &udp((SERVER, 53), (OUTSIDE, port), b"r"));
        assert_eq!(endpoints(&answer.bytes).1, v4(CLIENT, port));
    }
    // Once only answered and established flows fill it, a full table refuses, counted.
    let mut settings = small_table(3);
    settings.limits.max_embryonic_per_source = 100;
    let engine = Engine::new(settings);
    for port in [43000, 43001] {
        run(&engine, secs(1), &udp((CLIENT, port), (SERVER, 53), b"q"));
        run(&engine, secs(1), &udp((SERVER, 53), (OUTSIDE, port), b"r"));
    }
    assert_eq!(outbound_connection(&engine, 1, 43100), Verdict::Accept);
    let refused = run(
        &engine,
        secs(2),
        &udp((spoofed(1), 7), (OUTSIDE, 5353), b"x"),
    );
    assert_eq!(refused.verdict, Verdict::Drop(DropReason::TableFull));
    assert_eq!(
        outbound_connection(&engine, 2, 43101),
        Verdict::Drop(DropReason::TableFull)
    );
    assert_eq!(engine.stats().flows_evicted, 0);
}

#[test]
fn one_source_cannot_hold_more_than_its_embryonic_cap() {
    let mut settings = small_table(1000);
    settings.limits.max_embryonic_per_source = 8;
    let engine = Engine::new(settings);
    let attacker = spoofed(9);
    let syn_from = |port: u16, at: u64| {
        run(
            &engine,
            secs(at),
            &tcp((attacker, port), (OUTSIDE, 2121), SYN, 7, 0, b""),
        )
        .verdict
    };
    for port in 1000..1008 {
        assert_eq!(syn_from(port, 1), Verdict::Accept);
    }
    for port in 1008..1100 {
        assert_eq!(syn_from(port, 1), Verdict::Drop(DropReason::SourceFlowCap));
    }
    let stats = engine.stats();
    assert_eq!(
        (stats.flows, stats.drops(DropReason::SourceFlowCap)),
        (8, 92)
    );
    // Other sources, inside or outside, are untouched.
    assert_eq!(syn_to_forward(&engine, 1, 77), Verdict::Accept);
    assert_eq!(outbound_connection(&engine, 1, 44000), Verdict::Accept);
    // One of the attacker's connections completes: its charge ends, one more may start.
    let syn_ack = tcp((INSIDE_SERVER, 21), (attacker, 1000), SYN | ACK, 50, 8, b"");
    assert_eq!(run(&engine, secs(2), &syn_ack).verdict, Verdict::Accept);
    let ack = tcp((attacker, 1000), (OUTSIDE, 2121), ACK, 8, 51, b"");
    assert_eq!(run(&engine, secs(2), &ack).verdict, Verdict::Accept);
    assert_eq!(syn_from(2000, 2), Verdict::Accept);
    assert_eq!(syn_from(2001, 2), Verdict::Drop(DropReason::SourceFlowCap));
    // When the embryonic flows expire (tcp_syn_sent, 2 m), the charges end with them.
    assert_eq!(
        engine.expire(secs(200)),
        9,
        "7 + 1 of the attacker, 1 of another source"
    );
    for port in 3000..3008 {
        assert_eq!(syn_from(port, 201), Verdict::Accept);
    }
    // UDP is charged too.
    let datagram = udp((attacker, 9), (OUTSIDE, 5353), b"x");
    assert_eq!(
        run(&engine, secs(201), &datagram).verdict,
        Verdict::Drop(DropReason::SourceFlowCap)
    );
}

fn quota_settings(quota: usize) -> EngineSettings {
    let mut settings = lab_settings();
    settings.limits.nat_ports_per_host = quota;
    settings
}

fn limit_events(engine: &Engine) -> Vec<(&'static str, IpAddr)> {
    let mut out = Vec::new();
    while let Some(event) = engine.poll_event() {
        if let Event::LimitReached { limit, host, .. } = event {
            out.push((limit, host));
        }
    }
    out
}

#[test]
fn one_host_at_its_nat_quota_is_refused_logged_once_and_others_are_untouched() {
    let engine = Engine::new(quota_settings(4));
    for port in 45000..45004 {
        assert_eq!(outbound_connection(&engine, 1, port), Verdict::Accept);
    }
    // More flows from the same inside endpoints share their bindings: not refused.
    let same = tcp((CLIENT, 45000), (ROUTER, 443), SYN, 1, 0, b"");
    assert_eq!(run(&engine, secs(1), &same).verdict, Verdict::Accept);
    // A fifth port is refused, every time, counted; the event comes once.
    for port in 45004..45014 {
        let syn = tcp((CLIENT, port), (SERVER, 80), SYN, 1, 0, b"");
        assert_eq!(
            run(&engine, secs(2), &syn).verdict,
            Verdict::Drop(DropReason::NatHostQuota)
        );
    }
    let udp_too = udp((CLIENT, 45100), (SERVER, 53), b"q");
    assert_eq!(
        run(&engine, secs(2), &udp_too).verdict,
        Verdict::Accept,
        "per protocol"
    );
    assert_eq!(engine.stats().drops(DropReason::NatHostQuota), 10);
    assert_eq!(
        limit_events(&engine),
        vec![("nat_host_quota", IpAddr::V4(CLIENT))]
    );
    // Another host is not affected.
    for port in 45000..45004 {
        let syn = tcp((CLIENT2, port), (SERVER, 80), SYN, 1, 0, b"");
        assert_eq!(run(&engine, secs(2), &syn).verdict, Verdict::Accept);
    }
    // The host's flows close and expire: it may open new ones, and a new episode is logged.
    for port in 45000..45004 {
        let rst = tcp((CLIENT, port), (SERVER, 80), RST, 101, 0, b"");
        assert_eq!(run(&engine, secs(3), &rst).verdict, Verdict::Accept);
    }
    engine.expire(secs(14));
    engine.expire(secs(14));
    let bound = engine.stats().nat_bindings;
    assert!(bound < 10, "{bound}");
    let syn = tcp((CLIENT, 46000), (SERVER, 80), SYN, 1, 0, b"");
    assert_eq!(run(&engine, secs(15), &syn).verdict, Verdict::Accept);
}

#[test]
fn pinhole_ports_count_in_the_quota_and_one_host_cannot_take_the_range() {
    // A small range: the issue's two sessions of one host taking every port.
    let mut settings = quota_settings(3);
    settings.nat_ports = ftpgate::engine::settings::PortRange {
        first: 30000,
        last: 30009,
    };
    settings.ftp.max_pinholes = 8;
    let engine = Engine::new(settings);
    let mut first = Conversation::open(&engine, (CLIENT, 40000), (SERVER, 21), (SERVER, 21));
    first.log_in();
    let mut second = Conversation::open(&engine, (CLIENT, 40001), (SERVER, 21), (SERVER, 21));
    second.log_in();
    // Two control bindings; one PORT's pinhole port makes three.
    let ok = first.client_says(&format!("PORT {}\r\n", six(CLIENT, 50000)));
    assert!(ok.text().starts_with("PORT 198,51,100,1,"), "{}", ok.text());
    first.server_says("200 ok\r\n");
    first.client_says("LIST\r\n");
    let refused = second.client_says(&format!("PORT {}\r\n", six(CLIENT, 50001)));
    assert!(
        refused.payload.is_empty(),
        "the PORT never reaches the server"
    );
    assert_eq!(engine.stats().ftp_violations("nat_host_quota"), 1);
    assert!(engine.stats().nat_bindings <= 3);
    // Another inside host still gets ports, for connections and pinholes alike.
    let mut other = Conversation::open(&engine, (CLIENT2, 40000), (SERVER, 21), (SERVER, 21));
    other.log_in();
    let passed = other.client_says(&format!("PORT {}\r\n", six(CLIENT2, 50000)));
    assert!(
        passed.text().starts_with("PORT 198,51,100,1,"),
        "{}",
        passed.text()
    );
    assert_eq!(engine.stats().ftp_violations("nat_host_quota"), 1);
}
