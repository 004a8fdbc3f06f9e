//! Measures heap bytes per tracked flow: allocations are counted while an engine is filled
//! with established, masqueraded TCP flows. Run: `cargo run --release --example flow_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use ftpgate::engine::Engine;
use ftpgate_testkit::population as support;

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    println!(
        "{:>10}  {:>14}  {:>14}",
        "flows", "heap bytes", "bytes/flow"
    );
    for flows in [1_000u32, 100_000, 1_000_000] {
        let before = LIVE_BYTES.load(Ordering::Relaxed);
        let engine = Engine::new(support::settings(2_000_000));
        support::populate(&engine, flows);
        let used = LIVE_BYTES.load(Ordering::Relaxed) - before;
        assert_eq!(engine.stats().flows, flows as usize);
        println!(
            "{flows:>10}  {used:>14}  {:>14.1}",
            used as f64 / f64::from(flows)
        );
        drop(engine);
    }
}
