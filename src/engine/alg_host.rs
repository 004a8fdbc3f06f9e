//! The engine's side of the FTP ALG's interface (`alg::ftp::host::AlgHost`): each operation
//! the ALG may ask for, done on the engine's own tables and queues.
//!
//! It owns nothing and decides nothing: it must never hold state of its own or make a policy
//! choice; the ALG decides, the engine's tables keep.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use super::alg::ftp::control::budget::ControlBudget;
use super::alg::ftp::host::AlgHost;
use super::alg::ftp::{Pinhole, PinholeKey};
use super::events::Event;
use super::nat::PortShortage;
use super::settings::EngineSettings;
use super::wire::parse::PROTO_TCP;
use super::Engine;

impl AlgHost for Engine {
    fn settings(&self) -> arc_swap::Guard<Arc<EngineSettings>> {
        Engine::settings(self)
    }

    fn reserve_data_port(&self, inside: (Ipv4Addr, u16)) -> Result<u16, PortShortage> {
        self.nat.acquire_port(PROTO_TCP, inside)
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

    fn send(&self, packet: Vec<u8>) {
        self.transmit(packet);
    }

    fn control_budget(&self) -> &Arc<ControlBudget> {
        &self.ftp_budget
    }
}
