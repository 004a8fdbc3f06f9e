//! A populated engine for the benches and the memory probes (`examples/flow_memory.rs`,
//! `examples/flood_memory.rs`): settings with room for N flows, N established, masqueraded
//! TCP flows opened through the engine, and a data packet of one of them each way. It owns
//! the flows' addressing plan only; packets come from `packet`, running them from `engine`.

use std::net::Ipv4Addr;

use ftpgate::engine::settings::{EngineSettings, Limits, PortRange};
use ftpgate::engine::{Engine, Verdict};

use crate::engine::{run, secs};
use crate::packet::{tcp, ACK, SYN};

pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// Inside endpoints share outside ports per endpoint (endpoint-independent mapping), so a
/// million flows are 40,000 inside endpoints times 25 destinations each.
const ENDPOINTS: u32 = 40_000;
/// Every flow's first sequence number, each way.
const ISN: u32 = 1000;

/// 10.0.0.0/8 inside, masqueraded to `OUTSIDE` on ports 1024-65535, room for `max_flows`.
pub fn settings(max_flows: usize) -> EngineSettings {
    EngineSettings {
        inside_networks: vec!["10.0.0.0/8".parse().unwrap()],
        outside_address: Some(OUTSIDE),
        nat_ports: PortRange {
            first: 1024,
            last: 65535,
        },
        limits: Limits {
            max_flows,
            tcp_pickup: false,
            ..Limits::default()
        },
        ..EngineSettings::default()
    }
}

fn flow_endpoints(index: u32) -> ((Ipv4Addr, u16), (Ipv4Addr, u16)) {
    let endpoint = index % ENDPOINTS;
    let destination = index / ENDPOINTS;
    let inside = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 1, 0, 0)) + endpoint / 100);
    let inside_port = 10_000 + (endpoint % 100) as u16;
    let server = Ipv4Addr::from(u32::from(Ipv4Addr::new(203, 0, 113, 0)) + destination);
    ((inside, inside_port), (server, 443))
}

/// Opens `count` TCP connections through the engine (SYN, SYN/ACK, ACK each).
pub fn populate(engine: &Engine, count: u32) {
    for index in 0..count {
        let (inside, server) = flow_endpoints(index);
        let out = run(engine, secs(1), &tcp(inside, server, SYN, ISN, 0, b""));
        assert_eq!(out.verdict, Verdict::Accept, "flow {index}");
        let outside = (OUTSIDE, u16::from_be_bytes([out.bytes[20], out.bytes[21]]));
        let syn_ack = tcp(server, outside, SYN | ACK, ISN, ISN + 1, b"");
        assert_eq!(run(engine, secs(1), &syn_ack).verdict, Verdict::Accept);
        let ack = tcp(inside, server, ACK, ISN + 1, ISN + 1, b"");
        assert_eq!(run(engine, secs(1), &ack).verdict, Verdict::Accept);
    }
}

/// A data segment of flow `index` from the inside, and the matching answer from outside.
pub fn data_packets(engine: &Engine, index: u32, payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (inside, server) = flow_endpoints(index);
    let outbound = tcp(inside, server, ACK, ISN + 1, ISN + 1, payload);
    let out = run(engine, secs(1), &outbound);
    let outside = (OUTSIDE, u16::from_be_bytes([out.bytes[20], out.bytes[21]]));
    let inbound = tcp(server, outside, ACK, ISN + 1, ISN + 1, payload);
    (outbound, inbound)
}
