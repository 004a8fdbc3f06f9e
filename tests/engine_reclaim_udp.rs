//! A host short of NAT ports for UDP takes back its own oldest answered UDP flow that has been
//! silent for 2 s (a DNS query from a fresh port, say) instead of being refused. Flows in use,
//! flows never answered, other hosts' and other protocols' are never taken.

use ftpgate_testkit as support;

use ftpgate::engine::{DropReason, Engine, EngineSettings, Verdict};
use support::*;

const DNS: u16 = 53;

fn settings(quota: usize) -> EngineSettings {
    let mut settings = lab_settings();
    settings.limits.nat_ports_per_host = quota;
    settings
}

/// A query from `port` at `at` seconds; its outside port, or the verdict that refused it.
fn query(engine: &Engine, at: u64, port: u16) -> Result<u16, Verdict> {
    let out = run(
        engine,
        secs(at),
        &udp((CLIENT, port), (SERVER, DNS), b"query"),
    );
    if out.verdict != Verdict::Accept {
        return Err(out.verdict);
    }
    Ok(outside_port(&out))
}

/// The server's answer to the query that left on `outside`, at `at` seconds.
fn answer(engine: &Engine, at: u64, outside: u16) -> Verdict {
    run(
        engine,
        secs(at),
        &udp((SERVER, DNS), (OUTSIDE, outside), b"answer"),
    )
    .verdict
}

fn exchange(engine: &Engine, at: u64, port: u16) -> Result<u16, Verdict> {
    let outside = query(engine, at, port)?;
    assert_eq!(answer(engine, at, outside), Verdict::Accept);
    Ok(outside)
}

#[test]
fn a_host_querying_from_fresh_ports_past_its_quota_is_never_refused() {
    let engine = Engine::new(settings(8));
    for port in 50000..50008 {
        exchange(&engine, 1, port).unwrap();
    }
    // Two seconds later, eight more queries from new ports: each takes back an old one.
    for port in 50008..50016 {
        assert!(exchange(&engine, 3, port).is_ok(), "port {port}");
    }
    // And 40 more over the next ten seconds, four a second: as many as the quota allows
    // when each port must have been silent for 2 s.
    for (n, port) in (50016..50056).enumerate() {
        assert!(
            exchange(&engine, 5 + n as u64 / 4, port).is_ok(),
            "port {port}"
        );
    }
    let stats = engine.stats();
    assert_eq!(stats.flows_reclaimed, 48);
    assert_eq!(stats.drops(DropReason::NatHostQuota), 0);
    assert!(stats.nat_bindings <= 8);
}

#[test]
fn a_udp_flow_in_use_is_not_taken_and_an_idle_one_is() {
    let engine = Engine::new(settings(2));
    let busy = exchange(&engine, 1, 50000).unwrap();
    exchange(&engine, 1, 50001).unwrap();
    // The first keeps talking; the second stays silent.
    for at in 2..=3 {
        assert_eq!(query(&engine, at, 50000), Ok(busy));
    }
    assert!(exchange(&engine, 3, 50002).is_ok(), "takes the silent one");
    assert_eq!(engine.stats().flows_reclaimed, 1);
    // Now both flows were heard from within 2 s: refused, nothing taken.
    assert_eq!(
        query(&engine, 3, 50003),
        Err(Verdict::Drop(DropReason::NatHostQuota))
    );
    assert_eq!(engine.stats().flows_reclaimed, 1);
    // The busy flow's answers still arrive on its port.
    assert_eq!(answer(&engine, 3, busy), Verdict::Accept);
}

#[test]
fn an_unanswered_udp_flow_is_never_taken() {
    let engine = Engine::new(settings(2));
    for port in [50000, 50001] {
        query(&engine, 1, port).unwrap();
    }
    assert_eq!(
        query(&engine, 20, 50002),
        Err(Verdict::Drop(DropReason::NatHostQuota))
    );
    assert_eq!(engine.stats().flows_reclaimed, 0);
}

#[test]
fn a_shortage_of_one_protocol_takes_nothing_of_another_or_of_another_host() {
    let engine = Engine::new(settings(1));
    exchange(&engine, 1, 50000).unwrap();
    // An open TCP connection holds the host's one TCP port.
    let syn = tcp((CLIENT, 40000), (SERVER, 80), SYN, 1, 0, b"");
    assert_eq!(run(&engine, secs(1), &syn).verdict, Verdict::Accept);
    let second = tcp((CLIENT, 40001), (SERVER, 80), SYN, 1, 0, b"");
    assert_eq!(
        run(&engine, secs(5), &second).verdict,
        Verdict::Drop(DropReason::NatHostQuota),
        "the idle UDP flow frees no TCP port"
    );
    // Another host's queries do not take this host's idle flow either: it has its own quota.
    let other = run(
        &engine,
        secs(5),
        &udp((CLIENT2, 50000), (SERVER, DNS), b"q"),
    );
    assert_eq!(other.verdict, Verdict::Accept);
    assert_eq!(engine.stats().flows_reclaimed, 0);
    // This host's next query takes its own idle one.
    assert!(exchange(&engine, 5, 50001).is_ok());
    assert_eq!(engine.stats().flows_reclaimed, 1);
}
