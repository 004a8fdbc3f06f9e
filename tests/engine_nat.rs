//! Engine scenarios: masquerade, port forwards, ICMP echo and ICMP errors, checksums.

use ftpgate_testkit as support;

use ftpgate::engine::{DropReason, Engine, Verdict};
use support::*;

#[test]
fn inside_tcp_connection_is_masqueraded_and_replies_translated_back() {
    let engine = Engine::new(lab_settings());
    // client 10.77.0.2:40000 sends SYN -> server 198.51.100.2:80
    let syn = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), SYN, 1000, 0, b""),
    );
    assert_eq!(syn.verdict, Verdict::Accept);
    // gateway forwards it from 198.51.100.1:40000 (source port kept)
    assert_eq!(endpoints(&syn.bytes), (v4(OUTSIDE, 40000), v4(SERVER, 80)));
    assert!(checksums_verify(&syn.bytes));
    // server answers 198.51.100.1:40000 -> gateway forwards to 10.77.0.2:40000
    let syn_ack = run(
        &engine,
        secs(1),
        &tcp((SERVER, 80), (OUTSIDE, 40000), SYN | ACK, 5000, 1001, b""),
    );
    assert_eq!(syn_ack.verdict, Verdict::Accept);
    assert_eq!(
        endpoints(&syn_ack.bytes),
        (v4(SERVER, 80), v4(CLIENT, 40000))
    );
    assert!(checksums_verify(&syn_ack.bytes));
    let ack = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), ACK, 1001, 5001, b""),
    );
    assert_eq!(ack.verdict, Verdict::Accept);
    let data = run(
        &engine,
        secs(2),
        &tcp(
            (CLIENT, 40000),
            (SERVER, 80),
            ACK | PSH,
            1001,
            5001,
            b"GET / HTTP/1.0\r\n\r\n",
        ),
    );
    assert_eq!(data.verdict, Verdict::Accept);
    assert!(checksums_verify(&data.bytes));
    assert!(
        data.bytes.ends_with(b"GET / HTTP/1.0\r\n\r\n"),
        "payload untouched"
    );
    let reply = run(
        &engine,
        secs(2),
        &tcp(
            (SERVER, 80),
            (OUTSIDE, 40000),
            ACK | PSH,
            5001,
            1019,
            b"HTTP/1.0 200 OK\r\n",
        ),
    );
    assert_eq!(endpoints(&reply.bytes).1, v4(CLIENT, 40000));
    assert!(checksums_verify(&reply.bytes));
    let stats = engine.stats();
    assert_eq!((stats.flows, stats.nat_bindings, stats.accepted), (1, 1, 5));
}

#[test]
fn two_inside_hosts_on_the_same_source_port_get_distinct_outside_ports() {
    let engine = Engine::new(lab_settings());
    let a = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), SYN, 1, 0, b""),
    );
    let b = run(
        &engine,
        secs(1),
        &tcp((CLIENT2, 40000), (SERVER, 80), SYN, 7, 0, b""),
    );
    assert_eq!((a.verdict, b.verdict), (Verdict::Accept, Verdict::Accept));
    let (port_a, port_b) = (outside_port(&a), outside_port(&b));
    assert_eq!(port_a, 40000);
    assert_ne!(port_a, port_b);
    assert!(
        (20000..=59999).contains(&port_b),
        "allocated from the configured range"
    );
    assert!(checksums_verify(&b.bytes));
    // Each reply reaches its own host.
    let to_a = run(
        &engine,
        secs(1),
        &tcp((SERVER, 80), (OUTSIDE, port_a), SYN | ACK, 9, 2, b""),
    );
    let to_b = run(
        &engine,
        secs(1),
        &tcp((SERVER, 80), (OUTSIDE, port_b), SYN | ACK, 9, 8, b""),
    );
    assert_eq!(endpoints(&to_a.bytes).1, v4(CLIENT, 40000));
    assert_eq!(endpoints(&to_b.bytes).1, v4(CLIENT2, 40000));
}

#[test]
fn one_inside_endpoint_keeps_one_outside_port_for_every_destination() {
    let engine = Engine::new(lab_settings());
    let first = run(&engine, secs(1), &udp((CLIENT, 5060), (SERVER, 5060), b"a"));
    let second = run(&engine, secs(1), &udp((CLIENT, 5060), (ROUTER, 5060), b"b"));
    assert_eq!(outside_port(&first), outside_port(&second));
    assert_eq!(engine.stats().nat_bindings, 1);
    assert_eq!(engine.stats().flows, 2);
}

#[test]
fn port_forward_reaches_the_inside_server_and_its_replies_leave_from_the_outside_address() {
    let engine = Engine::new(lab_settings());
    let syn = run(
        &engine,
        secs(1),
        &tcp((SERVER, 51000), (OUTSIDE, 2121), SYN, 100, 0, b""),
    );
    assert_eq!(syn.verdict, Verdict::Accept);
    assert_eq!(
        endpoints(&syn.bytes),
        (v4(SERVER, 51000), v4(INSIDE_SERVER, 21))
    );
    assert!(checksums_verify(&syn.bytes));
    let syn_ack = run(
        &engine,
        secs(1),
        &tcp(
            (INSIDE_SERVER, 21),
            (SERVER, 51000),
            SYN | ACK,
            700,
            101,
            b"",
        ),
    );
    assert_eq!(
        endpoints(&syn_ack.bytes),
        (v4(OUTSIDE, 2121), v4(SERVER, 51000))
    );
    assert!(checksums_verify(&syn_ack.bytes));
    // UDP forward 5353 -> 53, answered from 5353.
    let query = run(
        &engine,
        secs(1),
        &udp((SERVER, 3333), (OUTSIDE, 5353), b"q"),
    );
    assert_eq!(endpoints(&query.bytes).1, v4(INSIDE_SERVER, 53));
    let answer = run(
        &engine,
        secs(1),
        &udp((INSIDE_SERVER, 53), (SERVER, 3333), b"r"),
    );
    assert_eq!(endpoints(&answer.bytes).0, v4(OUTSIDE, 5353));
    assert!(checksums_verify(&answer.bytes));
}

#[test]
fn masquerade_never_hands_out_a_forwarded_port() {
    let engine = Engine::new(lab_settings());
    let out = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 2121), (SERVER, 80), SYN, 1, 0, b""),
    );
    assert_eq!(out.verdict, Verdict::Accept);
    assert_ne!(outside_port(&out), 2121);
}

#[test]
fn icmp_echo_is_masqueraded_by_identifier() {
    let engine = Engine::new(lab_settings());
    let a = run(&engine, secs(1), &echo(CLIENT, SERVER, 30000, true));
    let b = run(&engine, secs(1), &echo(CLIENT2, SERVER, 30000, true));
    assert_eq!((a.verdict, b.verdict), (Verdict::Accept, Verdict::Accept));
    let (id_a, id_b) = (outside_port(&a), outside_port(&b));
    assert_ne!(id_a, id_b);
    assert!(checksums_verify(&b.bytes));
    let reply = run(&engine, secs(1), &echo(SERVER, OUTSIDE, id_b, false));
    assert_eq!(reply.verdict, Verdict::Accept);
    assert_eq!(endpoints(&reply.bytes).1, v4(CLIENT2, 30000));
    assert!(checksums_verify(&reply.bytes));
    // An echo reply nobody asked for is refused.
    let stray = run(&engine, secs(1), &echo(SERVER, OUTSIDE, 4242, false));
    assert_eq!(stray.verdict, Verdict::Drop(DropReason::IcmpUnsolicited));
}

#[test]
fn icmp_error_about_a_translated_flow_is_translated_with_its_quote() {
    let engine = Engine::new(lab_settings());
    let _ = run(&engine, secs(1), &udp((CLIENT, 40000), (SERVER, 53), b"q"));
    let _ = run(&engine, secs(1), &udp((CLIENT2, 40000), (SERVER, 53), b"q"));
    let sent = run(
        &engine,
        secs(1),
        &udp((CLIENT2, 40000), (SERVER, 53), b"query"),
    );
    let port = outside_port(&sent);
    assert_ne!(port, 40000);
    // A router on the way reports the datagram it could not deliver.
    let error = icmp_unreachable(ROUTER, OUTSIDE, &sent.bytes);
    let out = run(&engine, secs(2), &error);
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(
        checksums_verify(&out.bytes),
        "outer ICMP checksum covers the rewritten quote"
    );
    let (src, dst) = endpoints(&out.bytes);
    assert_eq!((src.0, dst.0), (v4(ROUTER, 0).0, v4(CLIENT2, 0).0));
    let quote = &out.bytes[28..];
    assert_eq!(
        &quote[12..16],
        &CLIENT2.octets(),
        "quoted source is the inside host"
    );
    assert_eq!(
        u16::from_be_bytes([quote[20], quote[21]]),
        40000,
        "quoted source port"
    );
    assert!(checksums_verify_quoted_ip(quote));
    // An error quoting no tracked flow is dropped.
    let forged = icmp_unreachable(ROUTER, OUTSIDE, &udp((OUTSIDE, 999), (SERVER, 53), b"x"));
    assert_eq!(
        run(&engine, secs(2), &forged).verdict,
        Verdict::Drop(DropReason::IcmpErrorNoFlow)
    );
}

fn checksums_verify_quoted_ip(quote: &[u8]) -> bool {
    let header = &quote[..20];
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

#[test]
fn a_bad_transport_checksum_stays_bad_after_translation() {
    let engine = Engine::new(lab_settings());
    let _ = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 80), SYN, 1000, 0, b""),
    );
    let _ = run(
        &engine,
        secs(1),
        &tcp((SERVER, 80), (OUTSIDE, 40000), SYN | ACK, 5000, 1001, b""),
    );
    let mut data = tcp((CLIENT, 40000), (SERVER, 80), ACK, 1001, 5001, b"payload");
    let last = data.len() - 1;
    data[last] ^= 0xff; // corrupt the payload, not the checksum
    assert!(!checksums_verify(&data));
    let out = run(&engine, secs(1), &data);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(endpoints(&out.bytes).0, v4(OUTSIDE, 40000));
    assert!(
        !checksums_verify(&out.bytes),
        "the gateway never launders a corrupt packet"
    );
}

#[test]
fn ipv6_is_tracked_and_filtered_but_not_translated() {
    let engine = Engine::new(lab_settings());
    let syn = tcp6(("fd00:77::2", 40000), ("2001:db8::5", 443), SYN, 1, 0);
    let out = run(&engine, secs(1), &syn);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(out.bytes, syn, "no IPv6 NAT: bytes unchanged");
    let answer = run(
        &engine,
        secs(1),
        &tcp6(
            ("2001:db8::5", 443),
            ("fd00:77::2", 40000),
            SYN | ACK,
            50,
            2,
        ),
    );
    assert_eq!(answer.verdict, Verdict::Accept);
    let unsolicited = run(
        &engine,
        secs(1),
        &tcp6(("2001:db8::5", 5555), ("fd00:77::2", 22), SYN, 1, 0),
    );
    assert_eq!(unsolicited.verdict, Verdict::Drop(DropReason::Policy));
    assert_eq!(
        run(&engine, secs(1), &echo6("fd00:77::2", "2001:db8::5", 9)).verdict,
        Verdict::Accept
    );
}
