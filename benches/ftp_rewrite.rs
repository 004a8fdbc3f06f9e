//! The FTP ALG's rewrite path: one PORT command from a masqueraded client, parsed, checked,
//! given a pinhole and rewritten (new payload, length, checksums), beside a plain data
//! segment on the same control connection. Run: `cargo bench --bench ftp_rewrite`.

use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ftpgate::engine::{Engine, Verdict};
use ftpgate_testkit::conversation::Conversation;
use ftpgate_testkit::engine::{next_transmit, process_in};
use ftpgate_testkit::population;

const CLIENT: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 1, 0, 2), 40000);
const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(203, 0, 113, 7), 21);

/// Runs a measured packet, after the conversation's last (at 3 s).
fn process(engine: &Engine, packet: &[u8], storage: &mut [u8]) -> Verdict {
    process_in(engine, Duration::from_secs(10), packet, storage).0
}

/// The login is not required, so the measured segment can be the client's first.
fn engine() -> Engine {
    let mut settings = population::settings(1024);
    settings.ftp.require_login = false;
    Engine::new(settings)
}

/// Opens the control connection; the server greets (220).
fn greeted(engine: &Engine) -> Conversation<'_> {
    let mut conversation = Conversation::open(engine, CLIENT, SERVER, SERVER);
    let greeting = conversation.server_says("220 ready\r\n");
    assert_eq!(greeting.verdict, Verdict::Accept);
    conversation
}

/// An engine with an established control connection whose server greeted.
fn control_connection() -> Engine {
    let engine = engine();
    greeted(&engine);
    engine
}

/// The client's next segment carrying `text`, the same on every `control_connection`.
fn client_segment(text: &[u8]) -> Vec<u8> {
    let engine = engine();
    let conversation = greeted(&engine);
    conversation.segment(true, conversation.client.seq, text)
}

fn ftp_rewrite(c: &mut Criterion) {
    let port = client_segment(b"PORT 10,1,0,2,117,48\r\n");
    let noop = client_segment(b"NOOP\r\n");
    let mut storage = vec![0u8; 2048];
    let checked = control_connection();
    assert_eq!(process(&checked, &port, &mut storage), Verdict::Accept);
    assert_eq!(
        checked.pinhole_count(),
        1,
        "the PORT measured is accepted and rewritten"
    );
    assert!(next_transmit(&checked).is_none());
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
