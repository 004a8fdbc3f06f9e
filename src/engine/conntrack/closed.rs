//! Closed connections per holder, oldest first: the TCP flows that reached CLOSE or TIME_WAIT,
//! filed under the address that holds what they hold (for a masqueraded flow, the inside host
//! whose outside port it keeps). A holder short of ports takes back its own oldest closed
//! connection's instead of being refused: RFC 7857 §2.2 lets a NAT reuse the mapping of a
//! connection in TIME_WAIT, and netfilter likewise lets a new connection replace one in
//! TIME_WAIT.
//!
//! Owns the queues only. It never removes a flow and never touches NAT: the caller removes the
//! flow it is handed and releases what it held. It never waits for a flow's lock (a flow
//! locked elsewhere is busy, and the caller may hold one), and never locks a flow while
//! holding one of its own locks.
//!
//! Memory: one key (40 bytes) per closing seen, at most `cap` (the table's size) per holder.
//! The periodic sweep ([`ClosedFlows::prune`]) drops each queue's leading entries whose flows
//! left the table or are open again, so a queue holds its closed flows in the table plus
//! stale entries behind the oldest of them, which reach the front within one timeout.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use dashmap::DashMap;

use super::flow::{Flow, FlowDir, ProtoState};
use super::key::FlowKey;
use super::table::FlowTable;

/// Most queue entries examined to find one closed flow (entries of flows that left the
/// table or were reopened are discarded on the way).
const MAX_EXAMINED: usize = 64;

/// Whether a flow's protocol state is a closed TCP connection (CLOSE or TIME_WAIT).
pub fn is_closed(proto: &ProtoState) -> bool {
    matches!(proto, ProtoState::Tcp(tcp) if tcp.state().is_closed())
}

/// The closed connections of every holder.
pub struct ClosedFlows {
    per_holder: DashMap<IpAddr, VecDeque<FlowKey>, foldhash::fast::RandomState>,
    cap: usize,
}

impl ClosedFlows {
    /// Queues keeping at most `cap` closings per holder (the oldest entry goes first).
    pub fn new(cap: usize) -> Self {
        Self {
            per_holder: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            cap: cap.max(1),
        }
    }

    /// Records that the flow with original tuple `key`, held by `holder`, just closed.
    pub fn record(&self, holder: IpAddr, key: FlowKey) {
        let cap = self.cap;
        let mut queue = self.per_holder.entry(holder).or_default();
        while queue.len() >= cap {
            queue.pop_front();
        }
        queue.push_back(key);
    }

    /// Takes the oldest flow of `holder` that is still in `table` and still closed off its
    /// queue; the caller removes it. `None` when the holder has none.
    pub fn take_oldest<A>(&self, holder: IpAddr, table: &FlowTable<A>) -> Option<Arc<Flow<A>>> {
        for _ in 0..MAX_EXAMINED {
            // One entry at a time: the queue's lock is released before the flow is looked at.
            let key = self.pop_front(holder)?;
            if let Some(flow) = closed_flow(table, &key) {
                return Some(flow);
            }
        }
        None
    }

    fn pop_front(&self, holder: IpAddr) -> Option<FlowKey> {
        let mut queue = self.per_holder.get_mut(&holder)?;
        let key = queue.pop_front();
        let emptied = queue.is_empty();
        drop(queue);
        if emptied {
            self.per_holder
                .remove_if(&holder, |_, queue| queue.is_empty());
        }
        key
    }

    /// Drops each holder's leading entries whose flows left `table` or are open again (the
    /// periodic sweep). Closed flows leave in about the order they closed (one timeout for
    /// all), so that is nearly every stale entry, at a cost of the entries dropped.
    pub fn prune<A>(&self, table: &FlowTable<A>) {
        self.per_holder.retain(|_, queue| {
            while queue.front().is_some_and(|key| {
                // try_lock never waits, so looking at a flow under the queue's lock is safe.
                closed_flow(table, key).is_none()
            }) {
                queue.pop_front();
            }
            !queue.is_empty()
        });
    }

    /// Entries queued, all holders together.
    pub fn len(&self) -> usize {
        self.per_holder.iter().map(|queue| queue.len()).sum()
    }

    /// Whether no closing is queued.
    pub fn is_empty(&self) -> bool {
        self.per_holder.is_empty()
    }
}

/// The flow whose original tuple is `key`, if it is in `table` and closed. A flow locked
/// elsewhere is busy (or is the caller's own) and counts as not closed; it is never waited for.
fn closed_flow<A>(table: &FlowTable<A>, key: &FlowKey) -> Option<Arc<Flow<A>>> {
    let (flow, dir) = table.get(key)?;
    let closed = flow.try_lock().is_some_and(|state| is_closed(&state.proto));
    (dir == FlowDir::Original && flow.original == *key && closed).then_some(flow)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::engine::conntrack::{FlowNat, FlowState};
    use crate::engine::wire::parse::PROTO_TCP;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            protocol: PROTO_TCP,
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            src_port: port,
            dst_port: 80,
        }
    }

    fn flow(port: u16, proto: ProtoState) -> Arc<Flow<()>> {
        let key = key(port);
        let state = FlowState {
            expires_at: Duration::from_secs(100),
            proto,
            app: (),
        };
        Arc::new(Flow::new(key, key.inverse(), FlowNat::None, state))
    }

    fn closed(port: u16) -> Arc<Flow<()>> {
        use crate::engine::conntrack::tcp::TcpTracker;
        let syn = crate::engine::wire::TcpInfo {
            src_port: port,
            dst_port: 80,
            seq: 1,
            ack: 0,
            flags: crate::engine::wire::fields::tcp::SYN,
            window: 1000,
            header_len: 20,
            payload_len: 0,
            window_scale: None,
        };
        let mut tracker = TcpTracker::from_syn(&syn);
        tracker.reset();
        flow(port, ProtoState::Tcp(tracker))
    }

    #[test]
    fn the_oldest_closed_flow_still_in_the_table_comes_first() {
        let table = FlowTable::new(16);
        let closings = ClosedFlows::new(8);
        let holder = key(0).src;
        let (gone, reopened, first, second) =
            (closed(1), flow(2, ProtoState::Icmp), closed(3), closed(4));
        for f in [&reopened, &first, &second] {
            assert!(table.insert((*f).clone()).is_ok());
        }
        for f in [&gone, &reopened, &first, &second] {
            closings.record(holder, f.original);
        }
        let taken = closings.take_oldest(holder, &table).expect("a closed flow");
        assert!(
            Arc::ptr_eq(&taken, &first),
            "skips the flow that left and the open one"
        );
        assert_eq!(closings.len(), 1);
        let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
        assert!(closings.take_oldest(other, &table).is_none(), "per holder");
        assert!(table.insert(gone.clone()).is_ok());
        closings.record(holder, gone.original);
        closings.record(holder, reopened.original);
        closings.prune(&table);
        assert_eq!(
            closings.len(),
            3,
            "the first is closed and stays, the rest behind it"
        );
        table.remove(&second);
        closings.prune(&table);
        assert_eq!(
            closings.len(),
            2,
            "the leading entry went; the next is closed"
        );
        table.remove(&gone);
        closings.prune(&table);
        assert!(closings.is_empty(), "gone left, the open one with it");
        assert!(closings.take_oldest(holder, &table).is_none());
    }

    #[test]
    fn a_holder_queue_keeps_at_most_its_cap() {
        let closings = ClosedFlows::new(3);
        let holder = key(0).src;
        for port in 1..=10 {
            closings.record(holder, key(port));
        }
        assert_eq!(closings.len(), 3);
        assert_eq!(
            closings.pop_front(holder),
            Some(key(8)),
            "the oldest went first"
        );
    }
}
