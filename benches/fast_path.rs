//! Fast path: one packet of an established, masqueraded TCP flow, with 1k, 100k and 1M flows
//! tracked; and one 64 KB GSO super-packet of such a flow as the TUN device hands it over
//! (virtio-net header, partial checksum), translated whole or cut into 1,448-byte segments;
//! and a run of 64 UDP datagrams of 64 bytes joined into one USO super-packet (the
//! coalescer's checks, copies and headers, per datagram; no engine, no device).
//! Run: `cargo bench --bench fast_path`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ftpgate::engine::wire::fields::set_u16;
use ftpgate::engine::wire::offload::pseudo_header_sum;
use ftpgate::engine::{Engine, PacketBuf, Verdict};
use ftpgate::io::udp_coalesce::UdpCoalescer;
use ftpgate::io::vnet::{
    process_frame, FrameBuffers, FrameOutcome, VnetHeader, GSO_TCPV4, HEADER_LEN, NEEDS_CSUM,
};
use ftpgate_testkit::engine::process_in;
use ftpgate_testkit::population as support;

fn process_one(engine: &Engine, template: &[u8], storage: &mut [u8]) -> Verdict {
    process_in(engine, Duration::from_secs(2), template, storage).0
}

fn fast_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("fast_path");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));
    for flows in [1_000u32, 100_000, 1_000_000] {
        let engine = Engine::new(support::settings(2_000_000));
        support::populate(&engine, flows);
        let (outbound, inbound) = support::data_packets(&engine, flows / 2, &[0x42; 64]);
        let mut storage = vec![0u8; 2048];
        assert_eq!(
            process_one(&engine, &outbound, &mut storage),
            Verdict::Accept
        );
        assert_eq!(
            process_one(&engine, &inbound, &mut storage),
            Verdict::Accept
        );
        group.bench_with_input(
            BenchmarkId::new("outbound_64B", flows),
            &outbound,
            |b, packet| b.iter(|| process_one(&engine, packet, &mut storage)),
        );
        group.bench_with_input(
            BenchmarkId::new("inbound_64B", flows),
            &inbound,
            |b, packet| b.iter(|| process_one(&engine, packet, &mut storage)),
        );
    }
    group.finish();
}

/// `packet` behind a virtio-net header, as a TSO super-packet cut at `gso_size`.
fn super_frame(packet: &[u8], gso_size: u16) -> Vec<u8> {
    let mut packet = packet.to_vec();
    let partial = pseudo_header_sum(&packet).expect("valid header");
    set_u16(&mut packet, 36, partial);
    let header = VnetHeader {
        flags: NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: 40,
        gso_size,
        csum_start: 20,
        csum_offset: 16,
    };
    let mut frame = header.encode().to_vec();
    frame.extend_from_slice(&packet);
    frame
}

fn run_frame(
    engine: &Engine,
    template: &[u8],
    storage: &mut [u8],
    buffers: &mut FrameBuffers,
) -> (FrameOutcome, usize) {
    storage[..template.len()].copy_from_slice(template);
    let mut written = 0;
    let outcome = process_frame(
        engine,
        Duration::from_secs(2),
        storage,
        template.len(),
        buffers,
        &mut |_: &[u8; HEADER_LEN], packet: &[u8]| written += packet.len(),
    );
    (outcome, written)
}

fn super_packet(c: &mut Criterion) {
    let mut group = c.benchmark_group("super_packet");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let payload = vec![0x42u8; 65_535 - 40];
    group.throughput(Throughput::Bytes(payload.len() as u64));
    let engine = Engine::new(support::settings(2_000_000));
    support::populate(&engine, 1_000);
    let (outbound, _) = support::data_packets(&engine, 500, &payload);
    let whole = super_frame(&outbound, 1448);
    let mut storage = vec![0u8; HEADER_LEN + 65_535 + 1024];
    let mut buffers = FrameBuffers::new(1024);
    assert_eq!(
        run_frame(&engine, &whole, &mut storage, &mut buffers).0,
        FrameOutcome::Whole
    );
    group.bench_function("outbound_64KB_whole", |b| {
        b.iter(|| run_frame(&engine, &whole, &mut storage, &mut buffers))
    });
    // The same bytes the way a flow the ALG follows takes them: cut, each segment through the
    // engine with full checksums (an ACK-only segment of an FTP control connection would do
    // the same; a non-control flow stands in so only the cutting is measured).
    let segments = whole.len() - HEADER_LEN - 40;
    let mut cut_storage = vec![0u8; 2048];
    group.bench_function("outbound_64KB_as_45_segments", |b| {
        b.iter(|| {
            let mut total = 0;
            let _ = ftpgate::engine::wire::offload::for_each_segment(
                &whole[HEADER_LEN..],
                1448,
                &mut cut_storage,
                1500,
                |segment, len| {
                    let mut buf = PacketBuf::new(segment, len);
                    if engine.process(Duration::from_secs(2), &mut buf) == Verdict::Accept {
                        total += buf.len();
                    }
                },
            );
            assert!(total > segments);
            total
        })
    });
    group.finish();
}

fn udp_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("udp_run");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let datagrams: Vec<Vec<u8>> = (0..64u16)
        .map(|id| {
            let src = (std::net::Ipv4Addr::new(198, 51, 100, 1), 20_000);
            let dst = (std::net::Ipv4Addr::new(198, 51, 100, 2), 5201);
            let mut packet = ftpgate_testkit::packet::udp(src, dst, &[id as u8; 64]);
            set_u16(&mut packet, 4, id);
            set_u16(&mut packet, 10, 0);
            let checksum = ftpgate::engine::wire::checksum::checksum_with(0, &packet[..20]);
            set_u16(&mut packet, 10, checksum);
            packet
        })
        .collect();
    group.throughput(Throughput::Elements(datagrams.len() as u64));
    let mut coalescer = UdpCoalescer::new();
    let mut frames = 0;
    for datagram in &datagrams {
        assert!(coalescer.push(datagram, &mut |_, _| frames += 1));
    }
    coalescer.flush(&mut |_, _| frames += 1);
    assert_eq!(frames, 1, "the 64 datagrams leave as one super-packet");
    group.bench_function("64_datagrams_of_64B_joined", |b| {
        b.iter(|| {
            let mut written = 0;
            for datagram in &datagrams {
                coalescer.push(datagram, &mut |_, packet| written += packet.len());
            }
            coalescer.flush(&mut |_, packet| written += packet.len());
            written
        })
    });
    group.finish();
}

criterion_group!(benches, fast_path, super_packet, udp_run);
criterion_main!(benches);
