//! The engine shared by several worker threads (as with a multi-queue TUN device): flows
//! created concurrently never share an outside tuple, and counters add up.

use ftpgate_testkit as support;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use ftpgate::engine::{Engine, Verdict};
use support::*;

#[test]
fn concurrent_workers_create_distinct_bindings_and_exact_counts() {
    let engine = Engine::new(lab_settings());
    let outside_ports = Mutex::new(Vec::new());
    const WORKERS: u8 = 4;
    const FLOWS_PER_WORKER: u16 = 500;
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let engine = &engine;
            let outside_ports = &outside_ports;
            scope.spawn(move || {
                // Every worker's hosts use the same source ports: the allocator must separate them.
                let host = Ipv4Addr::new(10, 77, 0, 100 + worker);
                let mut mine = Vec::new();
                for port in 0..FLOWS_PER_WORKER {
                    let out = run(
                        engine,
                        secs(1),
                        &udp((host, 30000 + port), (SERVER, 53), b"q"),
                    );
                    assert_eq!(out.verdict, Verdict::Accept);
                    mine.push(outside_port(&out));
                    // The same flow again from this worker resolves to the same binding.
                    let again = run(
                        engine,
                        secs(1),
                        &udp((host, 30000 + port), (SERVER, 53), b"q"),
                    );
                    assert_eq!(outside_port(&again), *mine.last().unwrap());
                }
                outside_ports.lock().unwrap().extend(mine);
            });
        }
    });
    let ports = outside_ports.into_inner().unwrap();
    let distinct: HashSet<_> = ports.iter().collect();
    let total = usize::from(WORKERS) * usize::from(FLOWS_PER_WORKER);
    assert_eq!(distinct.len(), total, "no two flows share an outside port");
    let stats = engine.stats();
    assert_eq!(stats.flows, total);
    assert_eq!(stats.nat_bindings, total);
    assert_eq!(stats.packets, 2 * total as u64);
    assert_eq!(stats.accepted, 2 * total as u64);
}

#[test]
fn concurrent_first_packets_of_one_flow_create_it_once() {
    for _ in 0..50 {
        let engine = Engine::new(lab_settings());
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let engine = &engine;
                scope.spawn(move || {
                    let out = run(engine, secs(1), &udp((CLIENT, 40000), (SERVER, 53), b"q"));
                    assert_eq!(out.verdict, Verdict::Accept);
                    assert_eq!(outside_port(&out), 40000);
                });
            }
        });
        let stats = engine.stats();
        assert_eq!((stats.flows, stats.nat_bindings), (1, 1));
    }
}
