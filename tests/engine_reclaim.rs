//! A host short of NAT ports takes back the port of its own oldest closed connection (CLOSE
//! or TIME_WAIT) instead of being refused: for a new connection at its per-host quota or
//! when the range is exhausted, and for an FTP data port. Open connections, reopened ones and
//! other hosts' are never taken, and late segments of a taken-back connection never reach the
//! connection that now holds its port.

use ftpgate_testkit as support;

use std::net::{IpAddr, Ipv4Addr};

use ftpgate::engine::settings::PortRange;
use ftpgate::engine::{DropReason, Engine, EngineSettings, Event, Verdict};
use support::conversation::{six, Conversation};
use support::*;

const HTTP: u16 = 80;

fn settings(quota: usize) -> EngineSettings {
    let mut settings = lab_settings();
    settings.limits.nat_ports_per_host = quota;
    settings
}

/// How an opened connection ends.
#[derive(Clone, Copy)]
enum Ending {
    /// Both FINs exchanged and acknowledged: TIME_WAIT.
    Fins,
    /// The client resets it: CLOSE.
    Reset,
    /// Left established.
    Open,
}

/// Opens a connection from `host:port` to the server at `at` seconds and ends it as told;
/// returns its outside port, or the verdict that refused its SYN.
fn connection(
    engine: &Engine,
    at: u64,
    host: Ipv4Addr,
    port: u16,
    ending: Ending,
) -> Result<u16, Verdict> {
    connection_to(engine, at, (host, port), SERVER, ending)
}

/// [`connection`] to `server` instead of the lab's server.
fn connection_to(
    engine: &Engine,
    at: u64,
    (host, port): (Ipv4Addr, u16),
    server: Ipv4Addr,
    ending: Ending,
) -> Result<u16, Verdict> {
    let syn = run(
        engine,
        secs(at),
        &tcp((host, port), (server, HTTP), SYN, 100, 0, b""),
    );
    if syn.verdict != Verdict::Accept {
        return Err(syn.verdict);
    }
    let outside = outside_port(&syn);
    let from_server =
        |flags, seq, ack| tcp((server, HTTP), (OUTSIDE, outside), flags, seq, ack, b"");
    let from_client = |flags, seq, ack| tcp((host, port), (server, HTTP), flags, seq, ack, b"");
    let steps = match ending {
        Ending::Open => vec![from_server(SYN | ACK, 900, 101), from_client(ACK, 101, 901)],
        Ending::Reset => vec![
            from_server(SYN | ACK, 900, 101),
            from_client(ACK, 101, 901),
            from_client(RST, 101, 0),
        ],
        Ending::Fins => vec![
            from_server(SYN | ACK, 900, 101),
            from_client(ACK, 101, 901),
            from_client(FIN | ACK, 101, 901),
            from_server(FIN | ACK, 901, 102),
            from_client(ACK, 102, 902),
        ],
    };
    for packet in steps {
        assert_eq!(run(engine, secs(at), &packet).verdict, Verdict::Accept);
    }
    Ok(outside)
}

/// The state of the flow from `host:port`, if it is in the table.
fn state_of(engine: &Engine, host: Ipv4Addr, port: u16) -> Option<&'static str> {
    let views = engine.flow_views(secs(0), usize::MAX, |original, _| {
        original.src == IpAddr::V4(host) && original.src_port == port
    });
    views.first().map(|view| view.state)
}

fn limit_events(engine: &Engine) -> usize {
    std::iter::from_fn(|| engine.poll_event())
        .filter(|event| matches!(event, Event::LimitReached { .. }))
        .count()
}

#[test]
fn a_busy_client_keeps_opening_connections_past_its_quota_oldest_closed_taken_first() {
    let engine = Engine::new(settings(4));
    for (n, port) in (45000..45004).enumerate() {
        assert!(connection(&engine, 1 + n as u64, CLIENT, port, Ending::Fins).is_ok());
    }
    assert_eq!(state_of(&engine, CLIENT, 45000), Some("TIME_WAIT"));
    // Far more connections than the quota, each closed in turn: none is refused.
    for port in 45004..45040 {
        assert_eq!(
            connection(&engine, 10, CLIENT, port, Ending::Fins).map(|_| ()),
            Ok(())
        );
        assert!(engine.stats().nat_bindings <= 4);
    }
    let stats = engine.stats();
    assert_eq!(stats.flows_reclaimed, 36);
    assert_eq!(stats.drops(DropReason::NatHostQuota), 0);
    assert_eq!(limit_events(&engine), 0, "nothing was refused");
    // The oldest went first; the newest four are still there, in TIME_WAIT.
    assert_eq!(state_of(&engine, CLIENT, 45000), None);
    assert_eq!(state_of(&engine, CLIENT, 45035), None);
    for port in 45036..45040 {
        assert_eq!(state_of(&engine, CLIENT, port), Some("TIME_WAIT"));
    }
}

#[test]
fn reset_connections_are_taken_back_but_open_ones_never() {
    let engine = Engine::new(settings(4));
    connection(&engine, 1, CLIENT, 45000, Ending::Open).unwrap();
    connection(&engine, 2, CLIENT, 45001, Ending::Reset).unwrap();
    connection(&engine, 3, CLIENT, 45002, Ending::Open).unwrap();
    connection(&engine, 4, CLIENT, 45003, Ending::Reset).unwrap();
    // Two new connections take the two reset ones, oldest first, and stay open.
    connection(&engine, 5, CLIENT, 45010, Ending::Open).unwrap();
    assert_eq!(state_of(&engine, CLIENT, 45001), None);
    assert_eq!(state_of(&engine, CLIENT, 45003), Some("CLOSE"));
    connection(&engine, 5, CLIENT, 45011, Ending::Open).unwrap();
    assert_eq!(state_of(&engine, CLIENT, 45003), None);
    // Only open connections remain: refused, logged once, nothing taken.
    for port in 45012..45015 {
        assert_eq!(
            connection(&engine, 6, CLIENT, port, Ending::Open),
            Err(Verdict::Drop(DropReason::NatHostQuota))
        );
    }
    assert_eq!(limit_events(&engine), 1);
    let stats = engine.stats();
    assert_eq!((stats.flows_reclaimed, stats.flows), (2, 4));
    for port in [45000, 45002, 45010, 45011] {
        assert_eq!(state_of(&engine, CLIENT, port), Some("ESTABLISHED"));
    }
}

#[test]
fn another_hosts_closed_connections_are_not_taken() {
    let engine = Engine::new(settings(2));
    for port in [45000, 45001] {
        connection(&engine, 1, CLIENT2, port, Ending::Fins).unwrap();
        connection(&engine, 1, CLIENT, port, Ending::Open).unwrap();
    }
    assert_eq!(
        connection(&engine, 2, CLIENT, 45002, Ending::Open),
        Err(Verdict::Drop(DropReason::NatHostQuota))
    );
    assert_eq!(engine.stats().flows_reclaimed, 0);
    assert_eq!(state_of(&engine, CLIENT2, 45000), Some("TIME_WAIT"));
    // The other host takes back its own.
    connection(&engine, 3, CLIENT2, 45002, Ending::Open).unwrap();
    assert_eq!(state_of(&engine, CLIENT2, 45000), None);
    assert_eq!(engine.stats().flows_reclaimed, 1);
}

#[test]
fn a_connection_reopened_on_its_tuple_is_open_again_and_not_taken() {
    let engine = Engine::new(settings(2));
    let outside = connection(&engine, 1, CLIENT, 45000, Ending::Fins).unwrap();
    connection(&engine, 1, CLIENT, 45001, Ending::Open).unwrap();
    // A new connection on the TIME_WAIT tuple (a higher ISN, as Linux picks it).
    let reopened = [
        tcp((CLIENT, 45000), (SERVER, HTTP), SYN, 50_000, 0, b""),
        tcp(
            (SERVER, HTTP),
            (OUTSIDE, outside),
            SYN | ACK,
            70_000,
            50_001,
            b"",
        ),
        tcp((CLIENT, 45000), (SERVER, HTTP), ACK, 50_001, 70_001, b""),
    ];
    for packet in reopened {
        assert_eq!(run(&engine, secs(2), &packet).verdict, Verdict::Accept);
    }
    assert_eq!(state_of(&engine, CLIENT, 45000), Some("ESTABLISHED"));
    assert_eq!(
        connection(&engine, 3, CLIENT, 45002, Ending::Open),
        Err(Verdict::Drop(DropReason::NatHostQuota))
    );
    assert_eq!(engine.stats().flows_reclaimed, 0);
}

#[test]
fn an_exhausted_range_takes_back_a_closed_connection_and_its_late_segments_stay_out() {
    let mut small = settings(usize::MAX);
    small.nat_ports = PortRange {
        first: 30000,
        last: 30001,
    };
    let engine = Engine::new(small);
    let first = connection(&engine, 1, CLIENT, 45000, Ending::Fins).unwrap();
    connection(&engine, 2, CLIENT, 45001, Ending::Fins).unwrap();
    // The range is full; the next connection gets the oldest closed connection's port.
    let syn = run(
        &engine,
        secs(3),
        &tcp((CLIENT, 45002), (SERVER, HTTP), SYN, 7000, 0, b""),
    );
    assert_eq!(syn.verdict, Verdict::Accept);
    assert_eq!(outside_port(&syn), first);
    assert_eq!(engine.stats().drops(DropReason::NatPortsExhausted), 0);
    // The old connection's server retransmits its FIN to that port: it is not the new
    // connection's answer and is not forwarded to it.
    let late_fin = tcp((SERVER, HTTP), (OUTSIDE, first), FIN | ACK, 901, 102, b"");
    assert_ne!(run(&engine, secs(3), &late_fin).verdict, Verdict::Accept);
    let syn_ack = tcp((SERVER, HTTP), (OUTSIDE, first), SYN | ACK, 300, 7001, b"");
    let answered = run(&engine, secs(3), &syn_ack);
    assert_eq!(answered.verdict, Verdict::Accept);
    assert_eq!(
        endpoints(&answered.bytes).1,
        v4(CLIENT, 45002),
        "the new connection's answer reaches its client"
    );
}

#[test]
fn an_ftp_data_port_at_the_quota_takes_back_a_closed_connection() {
    let engine = Engine::new(settings(3));
    let mut control = Conversation::open(&engine, (CLIENT, 40000), (SERVER, 21), (SERVER, 21));
    control.log_in();
    connection(&engine, 1, CLIENT, 45000, Ending::Reset).unwrap();
    connection(&engine, 1, CLIENT, 45001, Ending::Open).unwrap();
    let port = control.client_says(&format!("PORT {}\r\n", six(CLIENT, 50000)));
    assert!(
        port.text().starts_with("PORT 198,51,100,1,"),
        "{}",
        port.text()
    );
    assert_eq!(engine.stats().ftp_violations("nat_host_quota"), 0);
    assert_eq!(engine.stats().flows_reclaimed, 1);
    assert_eq!(state_of(&engine, CLIENT, 45000), None);
    // With only open connections left, the next PORT is refused as before.
    control.server_says("200 ok\r\n");
    let refused = control.client_says(&format!("PORT {}\r\n", six(CLIENT, 50001)));
    assert!(refused.payload.is_empty(), "{}", refused.text());
    assert_eq!(engine.stats().ftp_violations("nat_host_quota"), 1);
}

/// A connection from `host:port` to `server:HTTP`, closed with FINs.
fn closed_to(engine: &Engine, host: Ipv4Addr, port: u16, server: Ipv4Addr) {
    assert!(connection_to(engine, 1, (host, port), server, Ending::Fins).is_ok());
}

#[test]
fn a_port_shared_by_several_closed_connections_comes_back_when_all_of_them_go() {
    // Linux reuses one local port towards different servers: every port of this host is
    // shared by three closed connections, one per server.
    let engine = Engine::new(settings(3));
    let servers = [SERVER, ROUTER, Ipv4Addr::new(198, 51, 100, 3)];
    for port in 45000..45003 {
        for server in servers {
            closed_to(&engine, CLIENT, port, server);
        }
    }
    assert_eq!(engine.stats().nat_bindings, 3);
    for port in 45010..45013 {
        assert_eq!(
            connection(&engine, 2, CLIENT, port, Ending::Open).map(|_| ()),
            Ok(())
        );
    }
    assert_eq!(engine.stats().flows_reclaimed, 9);
    assert_eq!(engine.stats().drops(DropReason::NatHostQuota), 0);
}

#[test]
fn a_closed_connection_sharing_its_port_with_an_open_one_frees_nothing_but_the_next_does() {
    let engine = Engine::new(settings(2));
    closed_to(&engine, CLIENT, 45000, ROUTER);
    // The same inside endpoint's open connection keeps port 45000 bound.
    connection(&engine, 2, CLIENT, 45000, Ending::Open).unwrap();
    connection(&engine, 3, CLIENT, 45001, Ending::Fins).unwrap();
    connection(&engine, 4, CLIENT, 45002, Ending::Open).unwrap();
    assert_eq!(engine.stats().flows_reclaimed, 2, "the first freed nothing");
    assert_eq!(state_of(&engine, CLIENT, 45000), Some("ESTABLISHED"));
    assert_eq!(state_of(&engine, CLIENT, 45001), None);
}
