//! The FTP ALG's rewrite path: one PORT command from a masqueraded client, parsed, checked,
//! given a pinhole and rewritten (new payload, length, checksums), beside a plain data
//! segment on the same control connection. Run: `cargo bench --bench ftp_rewrite`.

use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ftpgate::engine::{Engine, PacketBuf, Verdict};

#[path = "support.rs"]
mod support;

const CLIENT: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 1, 0, 2), 40000);
const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(203, 0, 113, 7), 21);

fn process(engine: &Engine, packet: &[u8], storage: &mut [u8]) -> Verdict {
    storage[..packet.len()].copy_from_slice(packet);
    let mut buf = PacketBuf::new(storage, packet.len());
    engine.process(Duration::from_secs(2), &mut buf)
}

/// An engine with an established control connection whose server greeted (220); the
/// client's next byte is 1001. The login is not required, so the measured segment can be the
/// client's first.
fn control_connection() -> Engine {
    let mut settings = support::settings(1024);
    settings.ftp.require_login = false;
    let engine = Engine::new(settings);
    let mut storage = vec![0u8; 2048];
    let steps = [
        support::segment(CLIENT, SERVER, true, None, b""),
        support::segment(SERVER, (support::OUTSIDE, CLIENT.1), true, Some(1001), b""),
        support::segment(CLIENT, SERVER, false, Some(1001), b""),
        with_seq(
            support::segment(
                SERVER,
                (support::OUTSIDE, CLIENT.1),
                false,
                Some(1001),
                b"220 ready\r\n",
            ),
            1001,
        ),
    ];
    for packet in steps {
        assert_eq!(process(&engine, &packet, &mut storage), Verdict::Accept);
    }
    engine
}

fn with_seq(mut packet: Vec<u8>, seq: u32) -> Vec<u8> {
    // Sequence number and a checksum fixed for it (RFC 1624, as the engine does).
    let old = u32::from_be_bytes(packet[24..28].try_into().unwrap());
    packet[24..28].copy_from_slice(&seq.to_be_bytes());
    let mut sum = u32::from(!u16::from_be_bytes([packet[36], packet[37]]));
    for (o, n) in [(old >> 16, seq >> 16), (old & 0xffff, seq & 0xffff)] {
        sum += (!o & 0xffff) + n;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    packet[36..38].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    packet
}

fn ftp_rewrite(c: &mut Criterion) {
    let port = with_seq(
        support::segment(
            CLIENT,
            SERVER,
            false,
            Some(1001),
            b"PORT 10,1,0,2,117,48\r\n",
        ),
        1001,
    );
    let noop = with_seq(
        support::segment(CLIENT, SERVER, false, Some(1001), b"NOOP\r\n"),
        1001,
    );
    let mut storage = vec![0u8; 2048];
    let checked = control_connection();
    assert_eq!(process(&checked, &port, &mut storage), Verdict::Accept);
    assert_eq!(
        checked.pinhole_count(),
        1,
        "the PORT measured is accepted and rewritten"
    );
    assert!(checked.poll_transmit().is_none());
    let mut group = c.benchmark_group("ftp_control");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("port_rewritten", |b| {
        b.iter_batched_ref(
            control_connection,
            |engine| assert_eq!(process(engine, &port, &mut storage), Verdict::Accept),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("noop_followed", |b| {
        b.iter_batched_ref(
            control_connection,
            |engine| assert_eq!(process(engine, &noop, &mut storage), Verdict::Accept),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, ftp_rewrite);
criterion_main!(benches);
