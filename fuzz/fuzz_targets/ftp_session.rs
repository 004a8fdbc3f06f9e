//! A whole FTP control session through the engine, from fuzzer bytes: the client behind the
//! masquerade, the server outside. The input is read as a list of segments (who sends, a
//! sequence offset relative to that side's stream, flags, payload), so the fuzzer explores
//! splits, overlaps, retransmissions, gaps, hostile lines and stray data connections.
//!
//! Checked on every packet: no panic; whatever the gateway forwards verifies (IP and TCP
//! checksums) when the input did; a data connection gets in only through a pinhole some
//! announcement opened, and at most once per announcement.
//!
//! Run: `cargo +nightly fuzz run ftp_session -- -max_len=2048`.

#![no_main]

use std::net::Ipv4Addr;
use std::time::Duration;

use etherparse::PacketBuilder;
use ftpgate::engine::settings::{EngineSettings, PortRange};
use ftpgate::engine::{Engine, PacketBuf, Verdict};
use libfuzzer_sys::fuzz_target;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const CLIENT_ISN: u32 = 1000;
const SERVER_ISN: u32 = 5000;

fn settings() -> EngineSettings {
    EngineSettings {
        inside_networks: vec!["10.77.0.0/24".parse().unwrap()],
        outside_address: Some(OUTSIDE),
        nat_ports: PortRange { first: 20000, last: 20100 },
        ..EngineSettings::default()
    }
}

fn segment(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    let mut builder = PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64).tcp(src.1, dst.1, seq, 65535);
    if flags & 0x02 != 0 {
        builder = builder.syn();
    }
    if flags & 0x10 != 0 {
        builder = builder.ack(ack);
    }
    if flags & 0x01 != 0 {
        builder = builder.fin();
    }
    if flags & 0x04 != 0 {
        builder = builder.rst();
    }
    let mut out = Vec::new();
    let _ = builder.write(&mut out, payload);
    out
}

fn verifies(packet: &[u8]) -> bool {
    let Ok(sliced) = etherparse::SlicedPacket::from_ip(packet) else {
        return false;
    };
    let (Some(etherparse::NetSlice::Ipv4(ip)), Some(etherparse::TransportSlice::Tcp(tcp))) = (sliced.net, sliced.transport) else {
        return false;
    };
    let header = ip.header().to_header();
    header.calc_header_checksum() == ip.header().header_checksum()
        && tcp.calc_checksum_ipv4(header.source, header.destination).ok() == Some(tcp.checksum())
}

struct Session {
    engine: Engine,
    now: u64,
    storage: Vec<u8>,
}

impl Session {
    fn send(&mut self, packet: &[u8]) -> (Verdict, Vec<u8>) {
        self.now += 1;
        self.storage[..packet.len()].copy_from_slice(packet);
        let mut buf = PacketBuf::new(&mut self.storage, packet.len());
        let verdict = self.engine.process(Duration::from_secs(self.now), &mut buf);
        let out = buf.bytes().to_vec();
        if verdict == Verdict::Accept && verifies(packet) {
            assert!(verifies(&out), "a valid packet left the gateway with a bad checksum");
        }
        (verdict, out)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Session {
        engine: Engine::new(settings()),
        now: 0,
        storage: vec![0; 4096],
    };
    let (client, server) = ((CLIENT, 40000), (SERVER, 21));
    s.send(&segment(client, server, 0x02, CLIENT_ISN - 1, 0, b""));
    s.send(&segment(server, (OUTSIDE, 40000), 0x12, SERVER_ISN - 1, CLIENT_ISN, b""));
    s.send(&segment(client, server, 0x10, CLIENT_ISN, SERVER_ISN, b""));

    let mut input = data;
    let mut admitted = 0usize;
    while input.len() >= 4 {
        let (head, rest) = input.split_at(4);
        let len = usize::from(head[3]).min(rest.len());
        let (payload, rest) = rest.split_at(len);
        input = rest;
        let offset = u32::from(u16::from_be_bytes([head[1], head[2]]));
        match head[0] % 4 {
            0 => {
                s.send(&segment(client, server, 0x10 | (head[0] & 0x05), CLIENT_ISN.wrapping_add(offset), SERVER_ISN, payload));
            }
            1 => {
                s.send(&segment(server, (OUTSIDE, 40000), 0x10 | (head[0] & 0x05), SERVER_ISN.wrapping_add(offset), CLIENT_ISN, payload));
            }
            2 => {
                // A data connection attempt from the server to an outside port.
                let port = 20000 + (offset % 101) as u16;
                let before = s.engine.pinhole_count();
                let (verdict, _) = s.send(&segment((SERVER, 20), (OUTSIDE, port), 0x02, 1, 0, b""));
                if verdict == Verdict::Accept {
                    admitted += 1;
                    assert_eq!(s.engine.pinhole_count() + 1, before, "admitted only by taking a pinhole");
                }
            }
            _ => {
                // The same from a host that was never announced.
                let port = 20000 + (offset % 101) as u16;
                let (verdict, _) = s.send(&segment((Ipv4Addr::new(192, 0, 2, 9), 20), (OUTSIDE, port), 0x02, 1, 0, b""));
                assert_ne!(verdict, Verdict::Accept, "a foreign host got through");
            }
        }
    }
    let _ = admitted;
});
