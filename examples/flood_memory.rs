//! Heap memory of the engine at `max_flows` under a SYN flood, against the bound the README
//! documents. Spoofed SYNs from distinct sources arrive at a port forward (three times the
//! table size, so early drop evicts all the time), then inside hosts open connections
//! through the full table. Allocations are counted; the figures are printed, not asserted.
//! Run: `cargo run --release --example flood_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicIsize, Ordering};

use ftpgate::engine::settings::{ForwardProtocol, PortForward, PortRange};
use ftpgate::engine::{Engine, Verdict};
use ftpgate_testkit::population as support;
use ftpgate_testkit::{run, secs, tcp, SYN};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);

fn grew(by: isize) {
    let now = LIVE_BYTES.fetch_add(by, Ordering::Relaxed) + by;
    PEAK_BYTES.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The README's bound per tracked flow under a flood (table entries, flow, binding, the
/// eviction queue's share, the per-source count and the table's growth peak), in bytes.
const DOCUMENTED_BYTES_PER_FLOW: f64 = 1750.0;

fn process(engine: &Engine, packet: &[u8]) -> Verdict {
    run(engine, secs(1), packet).verdict
}

fn main() {
    println!(
        "{:>10} {:>10} {:>8} {:>14} {:>10} {:>12} {:>10}",
        "max_flows", "SYNs", "evicted", "peak heap", "bytes/flow", "bound", "inside ok"
    );
    for max_flows in [10_000usize, 100_000, 262_144] {
        let before = LIVE_BYTES.load(Ordering::Relaxed);
        PEAK_BYTES.store(before, Ordering::Relaxed);
        let mut settings = support::settings(max_flows);
        settings.forwards.push(PortForward {
            protocol: ForwardProtocol::Tcp,
            outside_ports: PortRange::single(21),
            inside_address: Ipv4Addr::new(10, 0, 0, 21),
            inside_port: 21,
        });
        let engine = Engine::new(settings);
        let syns = 3 * max_flows as u32;
        for n in 0..syns {
            let source = Ipv4Addr::from(0x0b00_0000 + n); // 11.0.0.0/8: distinct spoofed sources
            let syn = tcp(
                (source, 1024 + (n % 50_000) as u16),
                (support::OUTSIDE, 21),
                SYN,
                1000,
                0,
                b"",
            );
            process(&engine, &syn);
        }
        let mut inside_ok = 0;
        for n in 0..1000u32 {
            let inside = (
                Ipv4Addr::new(10, 2, (n / 250) as u8, (n % 250) as u8 + 1),
                40_000,
            );
            let syn = tcp(
                inside,
                (Ipv4Addr::new(203, 0, 113, 9), 443),
                SYN,
                1000,
                0,
                b"",
            );
            if process(&engine, &syn) == Verdict::Accept {
                inside_ok += 1;
            }
        }
        let stats = engine.stats();
        let peak = PEAK_BYTES.load(Ordering::Relaxed) - before;
        let bound = DOCUMENTED_BYTES_PER_FLOW * max_flows as f64;
        println!(
            "{max_flows:>10} {syns:>10} {:>8} {peak:>14} {:>10.1} {:>12.0} {:>6}/1000",
            stats.flows_evicted,
            peak as f64 / max_flows as f64,
            bound,
            inside_ok
        );
        assert_eq!(stats.flows, max_flows);
        drop(engine);
    }
}
