//! The engine's side of the FTP ALG's interface (`alg::ftp::host::AlgHost`): each operation
//! the ALG may ask for, done on the engine's own tables and queues. Two hosts: the engine
//! itself, whose generated packets go to its outbox (the sweep, a session ended outside a
//! packet), and [`PacketHost`], the engine while it processes one packet, whose generated
//! packets go where that packet's caller said ([`Out`]: its own `Transmit`, or the outbox).
//!
//! It owns nothing and decides nothing: it must never hold state of its own (beyond the
//! borrowed `Out` of one packet) or make a policy choice; the ALG decides, the engine's
//! tables keep.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use super::alg::ftp::control::budget::ControlBudget;
use super::alg::ftp::host::AlgHost;
use super::alg::ftp::{Pinhole, PinholeKey};
use super::events::Event;
use super::nat::PortShortage;
use super::settings::EngineSettings;
use super::transmit::Transmit;
use super::wire::parse::PROTO_TCP;
use super::wire::respond::SegmentSpec;
use super::{reclaim, Engine};

impl AlgHost for Engine {
    fn settings(&self) -> arc_swap::Guard<Arc<EngineSettings>> {
        Engine::settings(self)
    }

    fn reserve_data_port(&self, inside: (Ipv4Addr, u16)) -> Result<u16, PortShortage> {
        // Only closed TCP connections are asked about, whose standing does not depend on the
        // time: the host has no clock here.
        reclaim::retrying(
            self,
            Duration::ZERO,
            (inside.0, PROTO_TCP),
            |_| true,
            || self.nat.acquire_port(PROTO_TCP, inside),
        )
    }

    fn release_data_port(&self, outside_port: u16) {
        self.nat.release_port(PROTO_TCP, outside_port);
    }

    fn expectation_id(&self) -> u64 {
        self.pinholes.next_id()
    }

    fn open_expectation(&self, key: PinholeKey, pinhole: Pinhole) -> Option<Pinhole> {
        self.pinholes.open(key, pinhole)
    }

    fn close_expectation(&self, key: &PinholeKey, id: u64) -> Option<Pinhole> {
        self.pinholes.close(key, id)
    }

    fn expectation_is_live(&self, key: &PinholeKey, id: u64, now: Duration) -> bool {
        self.pinholes.is_live(key, id, now)
    }

    fn report(&self, event: Event) {
        match &event {
            Event::FtpViolation { check, .. } => self.counters.ftp_violation(check),
            Event::FtpNotice { notice, .. } => self.counters.ftp_notice(notice),
            _ => {}
        }
        self.emit(event);
    }

    fn send(&self, segment: &SegmentSpec<'_>) {
        self.generate(&mut Out::Outbox, segment);
    }

    fn control_budget(&self) -> &Arc<ControlBudget> {
        &self.ftp_budget
    }
}

/// Where the packets generated while one packet goes through the engine are written.
pub(crate) enum Out<'a> {
    /// The calling worker's own buffer (`Engine::process_with`): no lock.
    Worker(&'a mut Transmit),
    /// The engine's outbox (`Engine::process`), drained by `Engine::poll_transmit`.
    Outbox,
}

/// The engine while it processes one packet: the engine's tables, and the packet caller's
/// [`Out`] for what the ALG generates. Built on the stack per packet (no allocation).
pub(crate) struct PacketHost<'a> {
    /// The engine.
    pub engine: &'a Engine,
    out: RefCell<Out<'a>>,
}

impl<'a> PacketHost<'a> {
    pub fn new(engine: &'a Engine, out: Out<'a>) -> Self {
        Self {
            engine,
            out: RefCell::new(out),
        }
    }
}

impl AlgHost for PacketHost<'_> {
    fn settings(&self) -> arc_swap::Guard<Arc<EngineSettings>> {
        Engine::settings(self.engine)
    }

    fn reserve_data_port(&self, inside: (Ipv4Addr, u16)) -> Result<u16, PortShortage> {
        self.engine.reserve_data_port(inside)
    }

    fn release_data_port(&self, outside_port: u16) {
        self.engine.release_data_port(outside_port);
    }

    fn expectation_id(&self) -> u64 {
        self.engine.expectation_id()
    }

    fn open_expectation(&self, key: PinholeKey, pinhole: Pinhole) -> Option<Pinhole> {
        self.engine.open_expectation(key, pinhole)
    }

    fn close_expectation(&self, key: &PinholeKey, id: u64) -> Option<Pinhole> {
        self.engine.close_expectation(key, id)
    }

    fn expectation_is_live(&self, key: &PinholeKey, id: u64, now: Duration) -> bool {
        self.engine.expectation_is_live(key, id, now)
    }

    fn report(&self, event: Event) {
        self.engine.report(event);
    }

    fn send(&self, segment: &SegmentSpec<'_>) {
        self.engine.generate(&mut self.out.borrow_mut(), segment);
    }

    fn control_budget(&self) -> &Arc<ControlBudget> {
        self.engine.control_budget()
    }
}
