//! The narrow interface between the FTP ALG and the engine around it, in the shape of
//! netfilter's helper / expectation API: reserve and release a data port, open, close and look
//! up an expectation (a pinhole), report an event, send a generated segment, read the
//! settings and the engine-wide control-stream budget. The engine implements it
//! (`engine::alg_host`); unit tests implement a small fake of it, so a session can be driven
//! without a whole engine.
//!
//! The ALG reaches the engine only through this trait. It must never grow a method that hands
//! out a table (flows, bindings, pinholes) whole: each method is one operation.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use super::control::budget::ControlBudget;
use super::expect::{Pinhole, PinholeKey};
use crate::engine::events::Event;
use crate::engine::nat::PortShortage;
use crate::engine::settings::EngineSettings;
use crate::engine::wire::respond::SegmentSpec;

/// What the FTP ALG may ask of the engine.
pub trait AlgHost {
    /// The settings in force now (a reload swaps them whole; a reader sees one version).
    fn settings(&self) -> arc_swap::Guard<Arc<EngineSettings>>;

    /// Reserves an outside TCP port for the inside data endpoint `inside` (the masquerade's
    /// binding for it, held until released or used by the data connection).
    fn reserve_data_port(&self, inside: (Ipv4Addr, u16)) -> Result<u16, PortShortage>;

    /// Gives back a port [`reserve_data_port`](Self::reserve_data_port) returned.
    fn release_data_port(&self, outside_port: u16);

    /// A fresh identity for a new expectation.
    fn expectation_id(&self) -> u64;

    /// Opens an expectation; returns the one it replaced on the same key, if any.
    fn open_expectation(&self, key: PinholeKey, pinhole: Pinhole) -> Option<Pinhole>;

    /// Closes the expectation on `key` if it is still the one with `id`, and returns it.
    fn close_expectation(&self, key: &PinholeKey, id: u64) -> Option<Pinhole>;

    /// Whether the expectation with `id` is still open on `key` and admitting at `now`.
    fn expectation_is_live(&self, key: &PinholeKey, id: u64, now: Duration) -> bool;

    /// Reports an event (a violation or notice is also counted under its name).
    fn report(&self, event: Event);

    /// Sends a TCP segment the ALG wrote itself (an error reply, a RST), sent like a
    /// forwarded packet: the host writes it in place into its transmit buffer (no allocation).
    fn send(&self, segment: &SegmentSpec<'_>);

    /// The engine-wide control-stream memory budget every control connection shares.
    fn control_budget(&self) -> &Arc<ControlBudget>;
}
