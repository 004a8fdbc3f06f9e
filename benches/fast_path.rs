//! Fast path: one packet of an established, masqueraded TCP flow, with 1k, 100k and 1M flows
//! tracked. Run: `cargo bench --bench fast_path`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ftpgate::engine::{Engine, PacketBuf, Verdict};

#[path = "support.rs"]
mod support;

fn process_one(engine: &Engine, template: &[u8], storage: &mut [u8]) -> Verdict {
    storage[..template.len()].copy_from_slice(template);
    let mut buf = PacketBuf::new(storage, template.len());
    engine.process(Duration::from_secs(2), &mut buf)
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

criterion_group!(benches, fast_path);
criterion_main!(benches);
