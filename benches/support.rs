//! Shared by the benchmark and the memory probe (each uses part of it): an engine populated
//! with N established, masqueraded TCP flows, and a packet of one of them.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::time::Duration;

use etherparse::PacketBuilder;
use ftpgate::engine::settings::{EngineSettings, Limits, PortRange};
use ftpgate::engine::{Engine, PacketBuf, Verdict};

pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// Inside endpoints share outside ports per endpoint (endpoint-independent mapping), so a
/// million flows are 40,000 inside endpoints times 25 destinations each.
const ENDPOINTS: u32 = 40_000;

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

pub fn segment(
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    syn: bool,
    ack: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let mut builder =
        PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64).tcp(src.1, dst.1, 1000, 64240);
    if syn {
        builder = builder.syn();
    }
    if let Some(ack) = ack {
        builder = builder.ack(ack);
    }
    let mut out = Vec::with_capacity(payload.len() + 64);
    builder.write(&mut out, payload).unwrap();
    out
}

fn flow_endpoints(index: u32) -> ((Ipv4Addr, u16), (Ipv4Addr, u16)) {
    let endpoint = index % ENDPOINTS;
    let destination = index / ENDPOINTS;
    let inside = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 1, 0, 0)) + endpoint / 100);
    let inside_port = 10_000 + (endpoint % 100) as u16;
    let server = Ipv4Addr::from(u32::from(Ipv4Addr::new(203, 0, 113, 0)) + destination);
    ((inside, inside_port), (server, 443))
}

fn run(engine: &Engine, packet: &[u8]) -> (Verdict, Vec<u8>) {
    let mut storage = packet.to_vec();
    storage.resize(packet.len() + 64, 0);
    let mut buf = PacketBuf::new(&mut storage, packet.len());
    let verdict = engine.process(Duration::from_secs(1), &mut buf);
    (verdict, buf.bytes().to_vec())
}

/// Opens `count` TCP connections through the engine (SYN, SYN/ACK, ACK each).
pub fn populate(engine: &Engine, count: u32) {
    for index in 0..count {
        let (inside, server) = flow_endpoints(index);
        let (verdict, out) = run(engine, &segment(inside, server, true, None, b""));
        assert_eq!(verdict, Verdict::Accept, "flow {index}");
        let outside_port = u16::from_be_bytes([out[20], out[21]]);
        let (verdict, _) = run(
            engine,
            &segment(server, (OUTSIDE, outside_port), true, Some(1001), b""),
        );
        assert_eq!(verdict, Verdict::Accept);
        let (verdict, _) = run(engine, &segment(inside, server, false, Some(1001), b""));
        assert_eq!(verdict, Verdict::Accept);
    }
}

/// A data segment of flow `index` from the inside, and the matching answer from outside.
pub fn data_packets(engine: &Engine, index: u32, payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (inside, server) = flow_endpoints(index);
    let outbound = segment(inside, server, false, Some(1001), payload);
    let (_, out) = run(engine, &outbound);
    let outside_port = u16::from_be_bytes([out[20], out[21]]);
    let inbound = segment(server, (OUTSIDE, outside_port), false, Some(1001), payload);
    (outbound, inbound)
}
