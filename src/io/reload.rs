//! Reloading the rule file of a running gateway (`ftpgate reload`, SIGHUP): re-read and
//! validate it; if it is valid and changes only what can change live (the filter: `rules`
//! and `policy`; `forwards`, `timeouts`, `ftp`, and `limits` but `max_flows`), apply it
//! atomically per part; otherwise keep everything in force and say why
//! (`FILE:LINE:COLUMN: message` for an invalid file, the keys for a change that needs a
//! restart: the TUN device, interfaces, sockets, the NAT's addresses and ports, the table size).
//!
//! Owns the rule-file path of the run and the settings last applied, and counts reloads. It
//! never touches flows, bindings or pinholes: every one of them survives a reload.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::config::Gateway;
use crate::engine::Engine;

/// The rule file of a running gateway and what of it is in force.
pub struct Reloader {
    path: PathBuf,
    running: Mutex<Gateway>,
    reloads: AtomicU64,
    refused: AtomicU64,
}

/// A successful reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Rules in the new policy.
    pub rules: usize,
    /// What happened, for a person.
    pub message: String,
}

/// The settings that cannot change while running, as the rule file names them, that differ
/// between `old` and `new`: the TUN device and steering are set up once, the sockets are
/// bound once, and existing bindings and the flow table are sized and addressed by the NAT
/// settings.
pub fn not_live_changes(old: &Gateway, new: &Gateway) -> Vec<&'static str> {
    let (a, b) = (&old.engine, &new.engine);
    let checks: [(&'static str, bool); 10] = [
        ("tun.name", old.tun.name != new.tun.name),
        ("tun.queues", old.tun.queues != new.tun.queues),
        ("tun.mtu", old.tun.mtu != new.tun.mtu),
        (
            "interfaces",
            old.operations.interfaces != new.operations.interfaces,
        ),
        (
            "control.socket",
            old.operations.control_socket != new.operations.control_socket,
        ),
        (
            "metrics.listen",
            old.operations.metrics_listen != new.operations.metrics_listen,
        ),
        ("inside", a.inside_networks != b.inside_networks),
        ("outside_address", a.outside_address != b.outside_address),
        ("nat_ports", a.nat_ports != b.nat_ports),
        ("limits.max_flows", a.limits.max_flows != b.limits.max_flows),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(key, _)| key)
        .collect()
}

/// The sections a reload applies live that differ between `old` and `new`.
pub fn live_changes(old: &Gateway, new: &Gateway) -> Vec<&'static str> {
    let (a, b) = (&old.engine, &new.engine);
    let mut limits = a.limits;
    limits.max_flows = b.limits.max_flows;
    let checks: [(&'static str, bool); 5] = [
        ("policy", a.policy != b.policy),
        ("forwards", a.forwards != b.forwards),
        ("timeouts", a.timeouts != b.timeouts),
        ("limits", limits != b.limits),
        ("ftp", a.ftp != b.ftp),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(key, _)| key)
        .collect()
}

impl Reloader {
    /// The reloader of a gateway started from `path` with `gateway`.
    pub fn new(path: &Path, gateway: Gateway) -> Self {
        Self {
            path: path.to_owned(),
            running: Mutex::new(gateway),
            reloads: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The rule file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Successful and refused reloads so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.reloads.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }

    /// Re-reads the rule file and applies its policy to `engine`, or says why not.
    pub fn reload(&self, engine: &Engine) -> Result<Reloaded, String> {
        let mut running = self.running.lock();
        let outcome = crate::config::load_gateway(&self.path)
            .map_err(|err| format!("{err}; the policy in force is unchanged"))
            .and_then(|new| {
                let changed = not_live_changes(&running, &new);
                if changed.is_empty() {
                    Ok(new)
                } else {
                    Err(format!(
                        "{}: {} changed, which cannot change while running (restart ftpgate to apply it); the policy in force is unchanged",
                        self.path.display(),
                        changed.join(", ")
                    ))
                }
            });
        match outcome {
            Ok(new) => {
                engine.reconfigure(&new.engine);
                let rules = new.engine.policy.rules.len();
                let changed = live_changes(&running, &new);
                *running = new;
                self.reloads.fetch_add(1, Ordering::Relaxed);
                let changed = if changed.is_empty() {
                    "nothing changed".to_owned()
                } else {
                    format!("{} changed", changed.join(", "))
                };
                let message = format!(
                    "{}: applied ({rules} rules; {changed}); flows, bindings and pinholes kept",
                    self.path.display()
                );
                tracing::info!("{message}");
                Ok(Reloaded { rules, message })
            }
            Err(message) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("reload refused: {message}");
                Err(message)
            }
        }
    }
}

#[cfg(test)]
mod test {
    use std::time::Duration;

    use super::*;
    use crate::engine::{PacketBuf, Verdict};

    const ACCEPT_ALL: &str = "inside: 10.0.0.0/24\noutside_address: 192.0.2.1\n";
    const DROP_PORT_80: &str = "inside: 10.0.0.0/24\noutside_address: 192.0.2.1\nrules:\n  - action: drop\n    proto: tcp\n    dst_ports: 80\n";

    fn syn(src_port: u16, dst_port: u16) -> Vec<u8> {
        let mut packet = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 0, 0, 2], [198, 51, 100, 2], 64)
            .tcp(src_port, dst_port, 1, 1024)
            .syn()
            .write(&mut packet, &[])
            .unwrap();
        packet
    }

    /// The verdict on a SYN to `port` from a source port not used before.
    fn verdict(engine: &Engine, port: u16) -> Verdict {
        static NEXT_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(40000);
        let src_port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        let mut storage = syn(src_port, port);
        let len = storage.len();
        storage.resize(2048, 0);
        let mut buf = PacketBuf::new(&mut storage, len);
        engine.process(Duration::from_secs(1), &mut buf)
    }

    #[test]
    fn valid_reload_swaps_policy_invalid_or_not_live_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yaml");
        std::fs::write(&path, ACCEPT_ALL).unwrap();
        let gateway = crate::config::load_gateway(&path).unwrap();
        let engine = Engine::new(gateway.engine.clone());
        let reloader = Reloader::new(&path, gateway);
        assert_eq!(verdict(&engine, 80), Verdict::Accept);
        let flows_before = engine.stats().flows;

        std::fs::write(&path, DROP_PORT_80).unwrap();
        let done = reloader.reload(&engine).unwrap();
        assert_eq!(done.rules, 1);
        assert_eq!(engine.stats().flows, flows_before, "flows kept");
        assert!(matches!(verdict(&engine, 80), Verdict::Drop(_)));
        assert_eq!(verdict(&engine, 81), Verdict::Accept);

        std::fs::write(&path, "inside: 10.0.0.0/24\nrules:\n  - action: allow\n").unwrap();
        let err = reloader.reload(&engine).unwrap_err();
        let expected = format!("{}:3:13:", path.display());
        assert!(err.starts_with(&expected), "{err}");
        assert!(
            matches!(verdict(&engine, 80), Verdict::Drop(_)),
            "old policy kept"
        );

        std::fs::write(&path, format!("{ACCEPT_ALL}tun:\n  name: other0\n")).unwrap();
        let err = reloader.reload(&engine).unwrap_err();
        assert!(err.contains("tun.name changed"), "{err}");
        assert!(
            matches!(verdict(&engine, 80), Verdict::Drop(_)),
            "old policy kept"
        );
        assert_eq!(reloader.counts(), (1, 2));
    }

    /// An inbound SYN from outside to the outside address's `port`.
    fn inbound_verdict(engine: &Engine, port: u16) -> Verdict {
        let mut storage = Vec::new();
        etherparse::PacketBuilder::ipv4([198, 51, 100, 2], [192, 0, 2, 1], 64)
            .tcp(50000, port, 1, 1024)
            .syn()
            .write(&mut storage, &[])
            .unwrap();
        let len = storage.len();
        storage.resize(2048, 0);
        let mut buf = PacketBuf::new(&mut storage, len);
        engine.process(Duration::from_secs(1), &mut buf)
    }

    #[test]
    fn forwards_timeouts_limits_and_ftp_apply_live_max_flows_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yaml");
        let deny_inbound = format!("{ACCEPT_ALL}policy:\n  inbound: drop\n");
        std::fs::write(&path, &deny_inbound).unwrap();
        let gateway = crate::config::load_gateway(&path).unwrap();
        let engine = Engine::new(gateway.engine.clone());
        let reloader = Reloader::new(&path, gateway);
        assert!(matches!(inbound_verdict(&engine, 2222), Verdict::Drop(_)));
        let changed = format!(
            "{deny_inbound}forwards:\n  - proto: tcp\n    port: 2222\n    to: 10.0.0.9:22\n\
             timeouts:\n  tcp_established: 1h\nlimits:\n  nat_ports_per_host: 64\n\
             ftp:\n  control_ports: [21, 2121]\n  min_data_port: 2000\n"
        );
        std::fs::write(&path, changed).unwrap();
        let done = reloader.reload(&engine).unwrap();
        for section in ["forwards", "timeouts", "limits", "ftp"] {
            assert!(done.message.contains(section), "{}", done.message);
        }
        assert_eq!(
            inbound_verdict(&engine, 2222),
            Verdict::Accept,
            "the new forward"
        );
        let settings = engine.settings();
        assert_eq!(settings.timeouts.tcp_established, Duration::from_secs(3600));
        assert_eq!(settings.limits.nat_ports_per_host, 64);
        assert_eq!(settings.ftp.control_ports, [21, 2121]);
        assert_eq!(settings.ftp.min_data_port, 2000);

        std::fs::write(&path, format!("{deny_inbound}limits:\n  max_flows: 1000\n")).unwrap();
        let err = reloader.reload(&engine).unwrap_err();
        assert!(err.contains("limits.max_flows changed"), "{err}");
        assert_eq!(engine.settings().limits.nat_ports_per_host, 64, "all kept");
    }
}
