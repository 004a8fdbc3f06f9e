//! Flows whose outside port may be taken back, per holder and protocol, oldest first: TCP
//! connections that reached CLOSE or TIME_WAIT, and answered UDP flows, filed under the
//! address that holds what they hold (for a masqueraded flow, the inside host whose outside
//! port it keeps). A holder short of ports takes back its own oldest one instead of being
//! refused: RFC 7857 §2.2 lets a NAT reuse the mapping of a connection in TIME_WAIT, and
//! netfilter likewise lets a new connection replace one in TIME_WAIT. Whether a queued flow
//! may go *now* is the caller's call ([`Standing`]): this module knows no timeout.
//!
//! Owns the queues only. It never removes a flow and never touches NAT: the caller removes the
//! flow it is handed and releases what it held. It never waits for a flow's lock (a flow
//! locked elsewhere is busy, and the caller may hold one), and never locks a flow while
//! holding one of its own locks.
//!
//! Memory: one key (40 bytes) per flow filed, at most `cap` (the table's size) per holder and
//! protocol. The periodic sweep ([`Reclaimable::prune`]) drops each queue's leading entries
//! whose flows left the table or may never go, so a queue holds its candidates in the table
//! plus stale entries behind the oldest of them, which reach the front within one timeout.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use dashmap::DashMap;

use super::flow::{Flow, FlowDir, FlowState};
use super::key::FlowKey;
use super::table::FlowTable;

/// Most queue entries examined to find one flow to take back.
const MAX_EXAMINED: usize = 64;
/// Most entries not yet to go examined for one flow: a host whose candidates are all in use
/// costs that many looks per refused packet, not `MAX_EXAMINED`.
const MAX_NOT_YET: usize = 4;

/// What a queued flow is to a holder short of ports, as the caller judges its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It may go now.
    Take,
    /// Not yet (a UDP flow still in use): it keeps its place in the queue, at the back.
    NotYet,
    /// Never (a connection open again): its entry is dropped.
    Never,
}

/// Queue key: the holder and the protocol of the ports it holds.
type Holder = (IpAddr, u8);

/// The candidates of every holder.
pub struct Reclaimable {
    per_holder: DashMap<Holder, VecDeque<FlowKey>, foldhash::fast::RandomState>,
    cap: usize,
}

impl Reclaimable {
    /// Queues keeping at most `cap` entries per holder and protocol (the oldest goes first).
    pub fn new(cap: usize) -> Self {
        Self {
            per_holder: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            cap: cap.max(1),
        }
    }

    /// Files the flow with original tuple `key`, held by `holder`, as a candidate.
    pub fn record(&self, holder: IpAddr, key: FlowKey) {
        let mut queue = self.per_holder.entry((holder, key.protocol)).or_default();
        while queue.len() >= self.cap {
            queue.pop_front();
        }
        queue.push_back(key);
    }

    /// Takes the oldest flow of `holder` for `protocol` that is in `table` and that `standing`
    /// lets go off its queue; the caller removes it. `None` when there is none now.
    pub fn take_oldest<A>(
        &self,
        (holder, protocol): Holder,
        table: &FlowTable<A>,
        standing: impl Fn(&FlowState<A>) -> Standing,
    ) -> Option<Arc<Flow<A>>> {
        let mut not_yet = 0;
        for _ in 0..MAX_EXAMINED {
            // One entry at a time: the queue's lock is released before the flow is looked at.
            let key = self.pop_front((holder, protocol))?;
            let Some(flow) = filed_flow(table, &key) else {
                continue;
            };
            match judge(&flow, &standing) {
                Standing::Take => return Some(flow),
                Standing::NotYet => {
                    self.record(holder, key);
                    not_yet += 1;
                    if not_yet == MAX_NOT_YET {
                        return None;
                    }
                }
                Standing::Never => {}
            }
        }
        None
    }

    fn pop_front(&self, holder: Holder) -> Option<FlowKey> {
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

    /// Drops each queue's leading entries whose flows left `table` or that `standing` says
    /// may never go (the periodic sweep). Candidates leave in about the order they were
    /// filed (one timeout for all), so that is nearly every stale entry, at a cost of the
    /// entries dropped.
    pub fn prune<A>(&self, table: &FlowTable<A>, standing: impl Fn(&FlowState<A>) -> Standing) {
        self.per_holder.retain(|_, queue| {
            // try_lock never waits, so looking at a flow under the queue's lock is safe.
            while queue.front().is_some_and(|key| {
                filed_flow(table, key).is_none_or(|flow| judge(&flow, &standing) == Standing::Never)
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

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.per_holder.is_empty()
    }
}

/// The flow whose original tuple is `key`, if it is in `table`.
fn filed_flow<A>(table: &FlowTable<A>, key: &FlowKey) -> Option<Arc<Flow<A>>> {
    let (flow, dir) = table.get(key)?;
    (dir == FlowDir::Original && flow.original == *key).then_some(flow)
}

/// `standing` of a flow's state; a flow locked elsewhere is busy (or is the caller's own) and
/// is not yet to go. Never waits for the lock.
fn judge<A>(flow: &Flow<A>, standing: &impl Fn(&FlowState<A>) -> Standing) -> Standing {
    flow.try_lock()
        .map_or(Standing::NotYet, |state| standing(&state))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::engine::conntrack::{FlowNat, ProtoState};
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

    /// The standing the engine gives: a closed TCP connection goes, an ICMP flow (standing
    /// in for one open again) never, anything else not yet.
    fn standing(state: &FlowState<()>) -> Standing {
        match &state.proto {
            ProtoState::Tcp(tcp) if tcp.state().is_closed() => Standing::Take,
            ProtoState::Icmp => Standing::Never,
            _ => Standing::NotYet,
        }
    }

    #[test]
    fn the_oldest_flow_that_may_go_comes_first() {
        let table = FlowTable::new(16);
        let queues = Reclaimable::new(8);
        let holder = (key(0).src, PROTO_TCP);
        let (gone, reopened, first, second) =
            (closed(1), flow(2, ProtoState::Icmp), closed(3), closed(4));
        for f in [&reopened, &first, &second] {
            assert!(table.insert((*f).clone()).is_ok());
        }
        for f in [&gone, &reopened, &first, &second] {
            queues.record(holder.0, f.original);
        }
        let taken = queues.take_oldest(holder, &table, standing).expect("one");
        assert!(
            Arc::ptr_eq(&taken, &first),
            "skips the flow that left and the open one"
        );
        assert_eq!(queues.len(), 1);
        let other = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), PROTO_TCP);
        assert!(
            queues.take_oldest(other, &table, standing).is_none(),
            "per holder"
        );
        let udp = (holder.0, crate::engine::wire::parse::PROTO_UDP);
        assert!(
            queues.take_oldest(udp, &table, standing).is_none(),
            "per protocol"
        );
        assert!(table.insert(gone.clone()).is_ok());
        queues.record(holder.0, gone.original);
        queues.record(holder.0, reopened.original);
        queues.prune(&table, standing);
        assert_eq!(
            queues.len(),
            3,
            "the first may go and stays, the rest behind it"
        );
        table.remove(&second);
        queues.prune(&table, standing);
        assert_eq!(queues.len(), 2, "the leading entry went; the next may go");
        table.remove(&gone);
        queues.prune(&table, standing);
        assert!(queues.is_empty(), "gone left, the open one with it");
        assert!(queues.take_oldest(holder, &table, standing).is_none());
    }

    #[test]
    fn a_flow_not_yet_to_go_keeps_its_entry_at_the_back() {
        let table = FlowTable::new(16);
        let queues = Reclaimable::new(8);
        let holder = (key(0).src, PROTO_TCP);
        let busy = flow(1, ProtoState::Udp { replied: true });
        let later = closed(2);
        for f in [&busy, &later] {
            assert!(table.insert((*f).clone()).is_ok());
            queues.record(holder.0, f.original);
        }
        let taken = queues.take_oldest(holder, &table, standing).expect("one");
        assert!(Arc::ptr_eq(&taken, &later));
        assert_eq!(
            queues.pop_front(holder),
            Some(busy.original),
            "kept, at the back"
        );
        // A flow locked elsewhere is not yet to go either, and is never waited for.
        let held = closed(3);
        assert!(table.insert(held.clone()).is_ok());
        queues.record(holder.0, held.original);
        let guard = held.lock();
        assert!(queues.take_oldest(holder, &table, standing).is_none());
        drop(guard);
        assert!(queues.take_oldest(holder, &table, standing).is_some());
    }

    #[test]
    fn a_holder_whose_candidates_are_in_use_costs_a_few_looks_per_refusal() {
        let table = FlowTable::new(16);
        let queues = Reclaimable::new(16);
        let holder = (key(0).src, PROTO_TCP);
        for port in 1..=MAX_NOT_YET as u16 {
            let busy = flow(port, ProtoState::Udp { replied: true });
            assert!(table.insert(busy.clone()).is_ok());
            queues.record(holder.0, busy.original);
        }
        let ready = closed(100);
        assert!(table.insert(ready.clone()).is_ok());
        queues.record(holder.0, ready.original);
        assert!(
            queues.take_oldest(holder, &table, standing).is_none(),
            "gave up"
        );
        // The ones in use went behind it: the next refusal finds it at once.
        let taken = queues.take_oldest(holder, &table, standing).expect("one");
        assert!(Arc::ptr_eq(&taken, &ready));
        assert_eq!(queues.len(), MAX_NOT_YET);
    }

    #[test]
    fn a_holder_queue_keeps_at_most_its_cap() {
        let queues = Reclaimable::new(3);
        let holder = key(0).src;
        for port in 1..=10 {
            queues.record(holder, key(port));
        }
        assert_eq!(queues.len(), 3);
        assert_eq!(
            queues.pop_front((holder, PROTO_TCP)),
            Some(key(8)),
            "the oldest went first"
        );
    }
}
