//! Early drop, as netfilter does it, and a per-source cap on embryonic flows.
//!
//! A flow is *embryonic* from its creation until it is answered: TCP before its handshake
//! completes (SYN_SENT, SYN_RECV), UDP until a reply is seen. Every embryonic flow is charged
//! to its source address, which may hold at most `limits.max_embryonic_per_source` of them, so
//! one source cannot fill the table. When the table is full, a new flow may evict the oldest
//! flow that never became established (still embryonic, or closed/TIME_WAIT) instead of being
//! refused:
//! - a new *outbound* flow (from an inside host) evicts an inbound one first, then an outbound
//!   one;
//! - a new *inbound* flow evicts only inbound ones.
//!
//! So a flood arriving from outside (spoofed SYNs at a forward, UDP to anything) can fill the
//! table only with flows that inside hosts' new connections displace; it never displaces them.
//! Established flows are never evicted. This module owns the creation-order queues and the
//! per-source counts; it never decides policy and never touches NAT (the caller releases what
//! an evicted flow held).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use parking_lot::Mutex;

use super::flow::{Flow, FlowDir, ProtoState};
use super::key::FlowKey;
use super::table::{FlowTable, Lookup};
use super::tcp::TcpState;

/// Most queue entries examined to find one victim (entries of flows that became established
/// or left the table are discarded on the way).
const MAX_EXAMINED: usize = 64;

/// Whether a flow's protocol state is embryonic: never answered.
pub fn is_embryonic(proto: &ProtoState) -> bool {
    match proto {
        ProtoState::Tcp(tcp) => matches!(tcp.state(), TcpState::SynSent | TcpState::SynRecv),
        ProtoState::Udp { replied } => !replied,
        ProtoState::Icmp => false,
    }
}

/// Whether a flow may be evicted to make room: it never became established (or is over).
fn is_evictable(proto: &ProtoState) -> bool {
    match proto {
        ProtoState::Tcp(tcp) => matches!(
            tcp.state(),
            TcpState::SynSent | TcpState::SynRecv | TcpState::Close | TcpState::TimeWait
        ),
        ProtoState::Udp { replied } => !replied,
        ProtoState::Icmp => false,
    }
}

/// What happened to a queue entry when looking for a victim.
pub enum Victim<A> {
    /// A live flow that never became established: remove it.
    Evict(Arc<Flow<A>>),
    /// A flow past its timeout, not swept yet: remove it as expired.
    Expired(Arc<Flow<A>>),
}

/// Fewest entries a queue holds before it is compacted.
const COMPACT_FLOOR: usize = 1024;

/// One creation-order queue of eviction candidates.
#[derive(Default)]
struct Queue {
    keys: VecDeque<FlowKey>,
    /// The queue is compacted when it reaches this length: twice what the last compaction
    /// left plus [`COMPACT_FLOOR`], so each compaction is paid for by as many pushes
    /// (amortised O(1)), and the keys of flows that became established or left the table
    /// cost memory only until the next one, not for as long as the table holds flows.
    compact_at: usize,
}

/// The embryonic-flow book-keeping of one engine.
pub struct Embryonic {
    inbound: Mutex<Queue>,
    outbound: Mutex<Queue>,
    per_source: DashMap<IpAddr, u32, foldhash::fast::RandomState>,
    cap_per_source: AtomicU32,
}

impl Embryonic {
    /// Book-keeping for `cap_per_source` embryonic flows per source.
    pub fn new(cap_per_source: usize) -> Self {
        let queue = || {
            Mutex::new(Queue {
                keys: VecDeque::new(),
                compact_at: COMPACT_FLOOR,
            })
        };
        Self {
            inbound: queue(),
            outbound: queue(),
            per_source: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            cap_per_source: AtomicU32::new(u32::try_from(cap_per_source).unwrap_or(u32::MAX)),
        }
    }

    /// Changes the cap per source (a reload); sources past a lower one admit no more until
    /// they drop below it.
    pub fn set_cap_per_source(&self, cap: usize) {
        self.cap_per_source
            .store(u32::try_from(cap).unwrap_or(u32::MAX), Relaxed);
    }

    /// Charges one embryonic flow to `src`; false when `src` holds its cap already.
    pub fn admit(&self, src: IpAddr) -> bool {
        match self.per_source.entry(src) {
            Entry::Occupied(held) if *held.get() >= self.cap_per_source.load(Relaxed) => false,
            Entry::Occupied(mut held) => {
                *held.get_mut() += 1;
                true
            }
            Entry::Vacant(vacant) => {
                vacant.insert(1);
                true
            }
        }
    }

    /// Gives back a charge taken by [`admit`](Self::admit).
    pub fn release(&self, src: IpAddr) {
        if let Entry::Occupied(mut held) = self.per_source.entry(src) {
            if *held.get() <= 1 {
                held.remove();
            } else {
                *held.get_mut() -= 1;
            }
        }
    }

    /// Number of embryonic flows charged to `src`.
    pub fn held_by(&self, src: IpAddr) -> u32 {
        self.per_source.get(&src).map_or(0, |held| *held)
    }

    /// Records a flow just inserted (charged with `admit`, marked embryonic) as an eviction
    /// candidate, in creation order.
    pub fn track<A>(&self, flow: &Flow<A>, inbound: bool, table: &FlowTable<A>, now: Duration) {
        let queue = if inbound {
            &self.inbound
        } else {
            &self.outbound
        };
        let mut queue = queue.lock();
        queue.keys.push_back(flow.original);
        if queue.keys.len() >= queue.compact_at {
            queue.keys.retain(|key| match table.lookup(key, now) {
                Lookup::Found(flow, FlowDir::Original) => is_evictable(&flow.lock().proto),
                _ => false,
            });
            // The buffer keeps its size: shrinking it here would make the next growth copy
            // into a larger one while the old is still held, a higher peak under a flood.
            queue.compact_at = queue
                .keys
                .len()
                .saturating_mul(2)
                .saturating_add(COMPACT_FLOOR);
        }
    }

    /// A flow's state changed: once it is no longer embryonic, its source's charge ends.
    pub fn settle<A>(&self, flow: &Flow<A>, proto: &ProtoState) {
        if flow.embryonic.load(Relaxed)
            && !is_embryonic(proto)
            && flow.embryonic.swap(false, Relaxed)
        {
            self.release(flow.original.src);
        }
    }

    /// A flow left the table: its charge ends if it still held one.
    pub fn forget<A>(&self, flow: &Flow<A>) {
        if flow.embryonic.swap(false, Relaxed) {
            self.release(flow.original.src);
        }
    }

    /// Finds the oldest flow that may be evicted for a new flow (`inbound` says which way the
    /// new flow comes; see the module doc for the order). The caller removes it.
    pub fn victim<A>(
        &self,
        table: &FlowTable<A>,
        now: Duration,
        inbound: bool,
    ) -> Option<Victim<A>> {
        let queues: &[&Mutex<Queue>] = if inbound {
            &[&self.inbound]
        } else {
            &[&self.inbound, &self.outbound]
        };
        for queue in queues {
            let mut queue = queue.lock();
            for _ in 0..MAX_EXAMINED {
                let Some(key) = queue.keys.pop_front() else {
                    break;
                };
                match table.lookup(&key, now) {
                    Lookup::Found(flow, FlowDir::Original)
                        if flow.original == key && is_evictable(&flow.lock().proto) =>
                    {
                        return Some(Victim::Evict(flow));
                    }
                    Lookup::Expired(flow) if flow.original == key => {
                        return Some(Victim::Expired(flow));
                    }
                    _ => {}
                }
            }
        }
        None
    }
}
