//! A small fake of [`AlgHost`] for unit tests: settings it is given, data ports handed out
//! from a counter (or refused, to test a shortage), expectations in a plain map, events and
//! sent packets kept in lists to be looked at. Test-only; it must never model more of the
//! engine than the interface says (no flows, no translation, no counters beyond events).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::control::budget::ControlBudget;
use super::expect::{Pinhole, PinholeKey};
use super::host::AlgHost;
use crate::engine::alg::App;
use crate::engine::conntrack::{FlowKey, FlowNat, FlowState, ProtoState};
use crate::engine::events::Event;
use crate::engine::nat::PortShortage;
use crate::engine::settings::EngineSettings;
use crate::engine::wire::parse::PROTO_TCP;
use crate::engine::wire::respond::{tcp_segment, SegmentSpec};
use crate::engine::Flow;

/// The inside client of [`masqueraded_control`].
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
/// The outside server of [`masqueraded_control`].
pub const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
/// The gateway's outside address in [`masquerade_settings`].
pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

/// Settings masquerading 10.0.0.0/8 behind [`OUTSIDE`], FTP settings at their defaults.
pub fn masquerade_settings() -> EngineSettings {
    EngineSettings {
        inside_networks: vec!["10.0.0.0/8".parse().unwrap()],
        outside_address: Some(OUTSIDE),
        ..EngineSettings::default()
    }
}

/// The control connection CLIENT:40000 -> SERVER:21, masqueraded to OUTSIDE:40000.
pub fn masqueraded_control() -> Arc<Flow> {
    let key = |src: Ipv4Addr, src_port, dst: Ipv4Addr, dst_port| FlowKey {
        protocol: PROTO_TCP,
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        src_port,
        dst_port,
    };
    let control = Flow::new(
        key(CLIENT, 40000, SERVER, 21),
        key(SERVER, 21, OUTSIDE, 40000),
        FlowNat::Masquerade {
            protocol: PROTO_TCP,
            outside_port: 40000,
        },
        FlowState {
            expires_at: Duration::MAX,
            // The ALG never reads its control connection's tracker.
            proto: ProtoState::Icmp,
            app: App::None,
        },
    );
    Arc::new(control)
}

/// What the fake has been asked to do.
#[derive(Debug, Default)]
pub struct FakeLog {
    /// Data ports reserved and not released: outside port -> inside endpoint.
    pub reserved: HashMap<u16, (Ipv4Addr, u16)>,
    /// Data ports released, in order.
    pub released: Vec<u16>,
    /// Open expectations.
    pub expectations: HashMap<PinholeKey, Pinhole>,
    /// Events reported, in order.
    pub events: Vec<Event>,
    /// Packets sent, in order.
    pub sent: Vec<Vec<u8>>,
}

/// The fake host.
pub struct FakeHost {
    settings: arc_swap::ArcSwap<EngineSettings>,
    budget: Arc<ControlBudget>,
    /// The next data port handed out; `None`: every reservation fails.
    next_port: Mutex<Option<u16>>,
    next_id: Mutex<u64>,
    /// Everything asked of it.
    pub log: Mutex<FakeLog>,
}

impl FakeHost {
    /// A host with `settings`, handing out data ports from 61000 up.
    pub fn new(settings: EngineSettings) -> Self {
        Self {
            settings: arc_swap::ArcSwap::from_pointee(settings),
            budget: Arc::default(),
            next_port: Mutex::new(Some(61000)),
            next_id: Mutex::new(0),
            log: Mutex::default(),
        }
    }

    /// The settings it was given.
    pub fn settings_now(&self) -> Arc<EngineSettings> {
        self.settings.load_full()
    }

    /// From now on every data-port reservation fails (the range is exhausted).
    pub fn exhaust_ports(&self) {
        *self.next_port.lock().unwrap() = None;
    }

    /// The names of the violations reported, in order.
    pub fn violations(&self) -> Vec<&'static str> {
        let log = self.log.lock().unwrap();
        log.events
            .iter()
            .filter_map(|event| match event {
                Event::FtpViolation { check, .. } => Some(*check),
                _ => None,
            })
            .collect()
    }

    /// The open expectations.
    pub fn expectations(&self) -> Vec<(PinholeKey, Pinhole)> {
        let log = self.log.lock().unwrap();
        log.expectations
            .iter()
            .map(|(key, pinhole)| (*key, pinhole.clone()))
            .collect()
    }
}

impl AlgHost for FakeHost {
    fn settings(&self) -> arc_swap::Guard<Arc<EngineSettings>> {
        self.settings.load()
    }

    fn reserve_data_port(&self, inside: (Ipv4Addr, u16)) -> Result<u16, PortShortage> {
        let mut next = self.next_port.lock().unwrap();
        let port = next.ok_or(PortShortage::RangeExhausted)?;
        *next = port.checked_add(1);
        self.log.lock().unwrap().reserved.insert(port, inside);
        Ok(port)
    }

    fn release_data_port(&self, outside_port: u16) {
        let mut log = self.log.lock().unwrap();
        assert!(
            log.reserved.remove(&outside_port).is_some(),
            "port {outside_port} released but not reserved"
        );
        log.released.push(outside_port);
    }

    fn expectation_id(&self) -> u64 {
        let mut id = self.next_id.lock().unwrap();
        *id += 1;
        *id
    }

    fn open_expectation(&self, key: PinholeKey, pinhole: Pinhole) -> Option<Pinhole> {
        self.log.lock().unwrap().expectations.insert(key, pinhole)
    }

    fn close_expectation(&self, key: &PinholeKey, id: u64) -> Option<Pinhole> {
        let mut log = self.log.lock().unwrap();
        if log.expectations.get(key).is_some_and(|p| p.id == id) {
            log.expectations.remove(key)
        } else {
            None
        }
    }

    fn expectation_is_live(&self, key: &PinholeKey, id: u64, now: Duration) -> bool {
        let log = self.log.lock().unwrap();
        log.expectations
            .get(key)
            .is_some_and(|p| p.id == id && p.expires_at > now)
    }

    fn report(&self, event: Event) {
        self.log.lock().unwrap().events.push(event);
    }

    fn send(&self, segment: &SegmentSpec<'_>) {
        if let Some(packet) = tcp_segment(segment) {
            self.log.lock().unwrap().sent.push(packet);
        }
    }

    fn control_budget(&self) -> &Arc<ControlBudget> {
        &self.budget
    }
}
