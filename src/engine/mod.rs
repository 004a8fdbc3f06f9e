//! The sans-I/O packet engine: `process(now, packet) -> Verdict`.
//!
//! Owns connection tracking, NAT and the stateful filter, and the counters and events they
//! produce. It never reads the clock (time is an argument), never touches files or sockets,
//! and never panics on packet bytes. It is shared by reference between worker threads.

pub mod alg;
pub mod conntrack;
pub mod nat;
pub mod packet;
pub mod policy;
pub mod settings;
pub mod stats;
pub mod verdict;
pub mod wire;

mod admission;
mod alg_host;
mod events;
mod outside_view;
mod pipeline;
mod reclaim;
mod snapshot;
mod transmit;

use std::time::Duration;

pub use alg::ftp::session::SessionFacts;
pub use events::{Event, FlowSummary};
pub use packet::PacketBuf;
pub use settings::EngineSettings;
pub use snapshot::{FlowView, PinholeView};
pub use stats::EngineStats;
pub use transmit::{Transmit, MAX_GENERATED, TRANSMIT_BYTES, TRANSMIT_CAPACITY};
pub use verdict::{DropReason, Verdict};

use alg::ftp::Pinholes;
use alg::App;
use alg_host::{Out, PacketHost};
use conntrack::eviction::Embryonic;
use conntrack::reclaimable::Reclaimable;
use conntrack::FlowTable;
use events::{BoundedQueue, EVENT_CAPACITY};
use nat::Nat;
use policy::CompiledPolicy;
use stats::Counters;
use transmit::{Outbox, Popped};
use wire::respond::SegmentSpec;

/// A tracked flow as the engine keeps it: conntrack's flow with the gateways' per-flow state
/// ([`alg::App`]) in its application slot.
pub type Flow = conntrack::Flow<App>;

/// The packet engine. Create one per gateway and share it (`&Engine`) between workers.
pub struct Engine {
    /// Swapped whole by [`Engine::reconfigure`] (with the policy, the port forwards and the
    /// caps kept outside it); a reader sees one version.
    settings: arc_swap::ArcSwap<EngineSettings>,
    /// Swapped whole by [`Engine::reconfigure`]; a packet evaluates one version.
    policy: arc_swap::ArcSwap<CompiledPolicy>,
    flows: FlowTable<App>,
    embryonic: Embryonic,
    /// Closed connections and answered UDP flows per inside host, whose ports a host short of
    /// them takes back (`reclaim`).
    reclaimable: Reclaimable,
    nat: Nat,
    pinholes: Pinholes,
    ftp_budget: std::sync::Arc<alg::ftp::control::budget::ControlBudget>,
    counters: Counters,
    events: BoundedQueue<Event>,
    /// Packets generated outside a worker's own [`Transmit`] (the sweep, `process`).
    outbox: Outbox,
}

impl Engine {
    /// Builds an engine from validated settings.
    pub fn new(settings: EngineSettings) -> Self {
        Self {
            policy: arc_swap::ArcSwap::from_pointee(CompiledPolicy::new(&settings)),
            flows: FlowTable::new(settings.limits.max_flows),
            embryonic: Embryonic::new(settings.limits.max_embryonic_per_source),
            reclaimable: Reclaimable::new(settings.limits.max_flows),
            nat: Nat::new(&settings),
            pinholes: Pinholes::default(),
            ftp_budget: Default::default(),
            counters: Counters::default(),
            events: BoundedQueue::new(EVENT_CAPACITY),
            outbox: Outbox::default(),
            settings: arc_swap::ArcSwap::from_pointee(settings),
        }
    }

    /// The settings the engine runs with now (a reload may replace them: see
    /// [`Engine::reconfigure`]).
    pub fn settings(&self) -> arc_swap::Guard<std::sync::Arc<EngineSettings>> {
        self.settings.load()
    }

    /// Processes one IP packet at time `now` (any monotonic clock; capture time in replay),
    /// rewriting it in place. See [`Verdict`] for what the caller does next. The packets it
    /// generates (an FTP error reply, a RST) wait in the engine's outbox for
    /// [`Engine::poll_transmit`]; a worker passes its own buffer instead
    /// ([`Engine::process_with`]).
    pub fn process(&self, now: Duration, packet: &mut PacketBuf<'_>) -> Verdict {
        self.run(now, packet, Out::Outbox)
    }

    /// [`Engine::process`], with the packets it generates appended to `transmit`, in order,
    /// for the caller to send after `packet` (see [`Transmit::pop`]); one that does not fit
    /// is counted as lost (`transmit_lost`). No lock is taken for them.
    pub fn process_with(
        &self,
        now: Duration,
        packet: &mut PacketBuf<'_>,
        transmit: &mut Transmit,
    ) -> Verdict {
        self.run(now, packet, Out::Worker(transmit))
    }

    fn run(&self, now: Duration, packet: &mut PacketBuf<'_>, out: Out<'_>) -> Verdict {
        let host = PacketHost::new(self, out);
        let verdict = pipeline::process(&host, now, packet);
        self.counters.count(verdict);
        verdict
    }

    /// Whether a GSO super-packet (one header in front of many segments' payload, as the
    /// kernel hands it over with offloads on) may go through [`Engine::process`] whole at
    /// `now`: it is TCP without SYN, FIN or RST, or UDP, of a live flow no ALG follows. Such a
    /// packet has its headers translated once; the engine checks no checksum on it. Any other
    /// super-packet must be cut into segments first (`wire::offload::for_each_segment`), so
    /// that the ALG reads and rewrites the control stream segment by segment, as ever.
    pub fn passes_whole(&self, now: Duration, packet: &[u8]) -> bool {
        pipeline::passes_whole(self, now, packet)
    }

    /// Removes every flow idle past its timeout at `now`; returns how many were removed.
    /// Call it periodically (about once a second); lookups also ignore expired flows, so the
    /// call frequency changes memory use, never behaviour.
    pub fn expire(&self, now: Duration) -> usize {
        let removed = self.flows.expire(now, |flow| self.forget(flow));
        self.counters.flows_expired(removed);
        reclaim::prune(self, now);
        for pinhole in self.pinholes.expire(now) {
            pinhole.release(self);
        }
        self.age_out_ftp_controls(now);
        removed
    }

    /// Resets every FTP control connection that has held bytes without progress past
    /// `limits.ftp_held_timeout` (see `App::age_out`). Costs nothing while no connection
    /// holds bytes.
    fn age_out_ftp_controls(&self, now: Duration) {
        if self.ftp_budget.used() == 0 {
            return;
        }
        self.flows.for_each(|flow| {
            let mut state = flow.lock();
            if state.app.age_out(self, flow, now) {
                state.gateway_reset(now, &self.settings().timeouts);
            }
        });
    }

    /// Gives back what a flow that left the table held: its binding, its pinholes.
    fn forget(&self, flow: &Flow) {
        self.embryonic.forget(flow);
        self.nat.release(flow);
        flow.lock().app.on_flow_end(self, flow);
    }

    /// Logs every FTP transfer still waiting for its data connection to close. Call it when
    /// the input ends (the end of a replay, a stopping gateway), before the last `poll_event`.
    pub fn finish(&self) {
        self.flows
            .for_each(|flow| flow.lock().app.on_finish(self, flow));
    }

    /// The input ended (the end of a replay): every FTP transfer still open is logged with
    /// what was seen and marked incomplete (`incomplete: true`), and its session's pinholes
    /// close. The events each control connection produced are handed to `drain` before the
    /// next one is flushed, so none is lost to the queue's bound. Sessions stay in the table.
    pub fn flush(&self, now: Duration, mut drain: impl FnMut(Event)) {
        self.flows.for_each(|flow| {
            flow.lock().app.on_input_end(self, flow, now);
            while let Some(event) = self.events.pop() {
                drain(event);
            }
        });
    }

    /// Queues an event, counting it as lost when the queue is full.
    fn emit(&self, event: Event) {
        if !self.events.push(event) {
            self.counters.event_lost();
        }
    }

    /// Writes a packet the engine generates (an FTP error reply, a RST) into `out`, counting
    /// it as lost when `out` is full. A segment that cannot be built (mixed families, over
    /// 65,535 bytes) is not sent, as ever.
    fn generate(&self, out: &mut Out<'_>, segment: &SegmentSpec<'_>) {
        let Some(len) = segment.total_len() else {
            return;
        };
        let write = |bytes: &mut [u8]| segment.write(bytes, len);
        let queued = match out {
            Out::Worker(transmit) => transmit.push_with(len, write),
            Out::Outbox => self.outbox.push_with(len, write),
        };
        if !queued {
            self.counters.transmit_lost();
        }
    }

    /// Copies the oldest packet of the engine's outbox into `buf` and returns its length: a
    /// packet the engine wrote itself outside a worker's [`Transmit`] (the sweep's RSTs in
    /// [`Engine::expire`]; an FTP error reply or RST of [`Engine::process`]). The driver
    /// sends it like a forwarded packet (it is an IP packet addressed to its receiver); call
    /// it after every packet until it returns `None`: while the outbox is empty that costs
    /// one atomic load. `buf` should hold [`MAX_GENERATED`] bytes: a longer packet is
    /// dropped and counted as lost (`transmit_lost`), never truncated.
    pub fn poll_transmit(&self, buf: &mut [u8]) -> Option<usize> {
        loop {
            match self.outbox.pop_into(buf)? {
                Popped::Packet(len) => return Some(len),
                Popped::TooLong => self.counters.transmit_lost(),
            }
        }
    }

    /// FTP control-stream bytes held and kept by all control connections now.
    pub fn ftp_buffered(&self) -> usize {
        self.ftp_budget.used()
    }

    /// Number of FTP data-connection pinholes open.
    pub fn pinhole_count(&self) -> usize {
        self.pinholes.len()
    }

    /// A snapshot of the counters and table sizes.
    pub fn stats(&self) -> EngineStats {
        self.counters
            .snapshot(self.flows.len(), self.nat.binding_count())
    }

    /// Takes the oldest pending event (rule log hits, ...), if any.
    pub fn poll_event(&self) -> Option<Event> {
        self.events.pop()
    }
}
