//! Expectations, the second of the ALG's four jobs: each data-connection announcement (PORT /
//! EPRT from the client, 227 / 229 from the server) checked against the control connection
//! and the rule file (the data-port floor, the announcer's own address, the FXP opt-in), and
//! turned into exactly one pinhole: an expectation admitting one TCP connection from the
//! control connection's peer to the announced address and port, until it expires. Any source
//! port is allowed (active-mode servers use port 20 or another). The pinhole table lives
//! here too (the engine holds one and reaches it through `AlgHost`).
//!
//! It never chooses the outside port or writes the new text (that is `nat`), and the
//! session's own checks (login, cap, pipelining) stay in `session::checks`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;

use super::check::Check;
use super::host::AlgHost;
use super::nat;
use crate::engine::conntrack::FlowDir;
use crate::engine::Flow;

/// Why an announcement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub Check);

/// An accepted announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The pinhole opened for it.
    pub key: PinholeKey,
    /// Its identity.
    pub id: u64,
    /// The address and port the line must carry instead, when they change.
    pub rewrite_to: Option<(IpAddr, u16)>,
}

/// What the session needs to know to open a pinhole.
pub struct Announcement<'a> {
    /// The engine (data ports, expectations, settings).
    pub host: &'a dyn AlgHost,
    /// The control connection.
    pub control: &'a Arc<Flow>,
    /// Engine time.
    pub now: Duration,
    /// Who announces: the client (active) or the server (passive).
    pub mode: DataMode,
    /// The announced address.
    pub addr: IpAddr,
    /// The announced port.
    pub port: u16,
}

impl Announcement<'_> {
    /// Checks the announcement and prepares its pinhole (the caller opens it). `Ok(None)`: a
    /// client's PORT / EPRT naming another host that the rule file allows (FXP); it passes
    /// unchanged and needs no pinhole here.
    pub fn accept(&self) -> Result<Option<(Accepted, Pinhole)>, Refusal> {
        let settings = &self.host.settings().ftp;
        let flow = self.control;
        // The announcer's own address before and after translation, and the peer that will
        // connect, as its packets reach the gateway.
        let (own, own_translated, peer) = match self.mode {
            DataMode::Active => (
                flow.original.src,
                flow.translated_key(FlowDir::Original).src,
                flow.reply.src,
            ),
            DataMode::Passive => (flow.reply.src, flow.original.dst, flow.original.src),
        };
        if self.port < settings.min_data_port {
            return Err(Refusal(Check::PrivilegedPort));
        }
        if self.addr.is_ipv4() != own.is_ipv4() {
            return Err(Refusal(Check::FamilyMismatch));
        }
        if self.addr != own {
            return match self.mode {
                DataMode::Active if settings.allow_fxp => Ok(None),
                DataMode::Active => Err(Refusal(Check::ForeignAddress)),
                DataMode::Passive => Err(Refusal(Check::ReplyRedirect)),
            };
        }
        let endpoint = nat::data_endpoint(self.host, (self.addr, self.port), own_translated)
            .map_err(|shortage| Refusal(Check::NoOutsidePort(shortage)))?;
        let key = PinholeKey {
            src: peer,
            dst: endpoint.dst,
            dst_port: endpoint.dst_port,
        };
        Ok(Some(self.prepare(
            key,
            settings.pinhole_timeout,
            endpoint.translate_to,
            endpoint.binding,
            endpoint.rewrite_to,
        )))
    }
}

impl Announcement<'_> {
    /// The pinhole for exactly what the line names, unchecked and untranslated: how a
    /// monitor (`on_violation: monitor`) follows an announcement it reported, so the data
    /// connection the endpoints make is the one logged.
    pub fn as_named(&self) -> (Accepted, Pinhole) {
        let peer = match self.mode {
            DataMode::Active => self.control.reply.src,
            DataMode::Passive => self.control.original.src,
        };
        let key = PinholeKey {
            src: peer,
            dst: self.addr,
            dst_port: self.port,
        };
        let timeout = self.host.settings().ftp.pinhole_timeout;
        self.prepare(key, timeout, None, None, None)
    }

    /// The one place an announcement's pinhole is built: a fresh identity, the pinhole
    /// `timeout` from now, the announcing control connection.
    fn prepare(
        &self,
        key: PinholeKey,
        timeout: Duration,
        translate_to: Option<(Ipv4Addr, u16)>,
        binding: Option<u16>,
        rewrite_to: Option<(IpAddr, u16)>,
    ) -> (Accepted, Pinhole) {
        let id = self.host.expectation_id();
        let pinhole = Pinhole {
            id,
            expires_at: self.now.saturating_add(timeout),
            translate_to,
            binding,
            mode: self.mode,
            control: Arc::downgrade(self.control),
        };
        let accepted = Accepted {
            key,
            id,
            rewrite_to,
        };
        (accepted, pinhole)
    }
}

/// What a data connection's first packet must look like (TCP implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PinholeKey {
    /// The only source address admitted.
    pub src: IpAddr,
    /// Destination address as the packet reaches the gateway.
    pub dst: IpAddr,
    /// Destination port as the packet reaches the gateway.
    pub dst_port: u16,
}

/// How the data connection is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// The server connects to the client (PORT / EPRT).
    Active,
    /// The client connects to the server (PASV / EPSV).
    Passive,
}

/// One expected data connection.
#[derive(Debug, Clone)]
pub struct Pinhole {
    /// Identity, so a session can tell its own pinhole from a newer one on the same key.
    pub id: u64,
    /// When it stops admitting.
    pub expires_at: Duration,
    /// The inside endpoint the connection is translated to, when the announcement was rewritten.
    pub translate_to: Option<(Ipv4Addr, u16)>,
    /// The outside port (TCP binding) held for it, released if it is never used.
    pub binding: Option<u16>,
    /// Active or passive.
    pub mode: DataMode,
    /// The control connection that announced it.
    pub control: Weak<Flow>,
}

impl Pinhole {
    /// Gives back what an unused expectation held (its reserved data port).
    pub fn release(&self, host: &dyn AlgHost) {
        if let Some(port) = self.binding {
            host.release_data_port(port);
        }
    }
}

/// All open pinholes.
#[derive(Default)]
pub struct Pinholes {
    map: DashMap<PinholeKey, Pinhole, foldhash::fast::RandomState>,
    next_id: AtomicU64,
}

impl Pinholes {
    /// A fresh identity for a new pinhole.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Number of open pinholes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Opens a pinhole; returns the one it replaced on the same key, if any.
    pub fn open(&self, key: PinholeKey, pinhole: Pinhole) -> Option<Pinhole> {
        self.map.insert(key, pinhole)
    }

    /// Takes the pinhole a connection's first packet matches (one-shot). An expired one is
    /// removed and returned as `Err` so its binding can be released.
    pub fn take(&self, key: &PinholeKey, now: Duration) -> Option<Result<Pinhole, Pinhole>> {
        let (_, pinhole) = self.map.remove(key)?;
        Some(if pinhole.expires_at > now {
            Ok(pinhole)
        } else {
            Err(pinhole)
        })
    }

    /// Whether the pinhole with `id` is still open on `key` and admitting at `now`.
    pub fn is_live(&self, key: &PinholeKey, id: u64, now: Duration) -> bool {
        self.map
            .get(key)
            .is_some_and(|pinhole| pinhole.id == id && pinhole.expires_at > now)
    }

    /// Closes a session's pinhole, if it is still the one with `id`.
    pub fn close(&self, key: &PinholeKey, id: u64) -> Option<Pinhole> {
        self.map
            .remove_if(key, |_, pinhole| pinhole.id == id)
            .map(|(_, pinhole)| pinhole)
    }

    /// The pinhole admitting `src` whose connection is translated to `inside` (a linear scan:
    /// for reconstructing captures, not for the packet path).
    pub fn find_translating_to(&self, src: IpAddr, inside: (Ipv4Addr, u16)) -> Option<PinholeKey> {
        self.map
            .iter()
            .find(|entry| entry.key().src == src && entry.translate_to == Some(inside))
            .map(|entry| *entry.key())
    }

    /// A copy of every open pinhole (for operators' views; not for the packet path).
    pub fn snapshot(&self) -> Vec<(PinholeKey, Pinhole)> {
        self.map
            .iter()
            .map(|entry| (*entry.key(), entry.value().clone()))
            .collect()
    }

    /// Removes every pinhole expired at `now`.
    pub fn expire(&self, now: Duration) -> Vec<Pinhole> {
        let expired: Vec<PinholeKey> = self
            .map
            .iter()
            .filter(|entry| entry.expires_at <= now)
            .map(|entry| *entry.key())
            .collect();
        expired
            .iter()
            .filter_map(|key| self.map.remove_if(key, |_, p| p.expires_at <= now))
            .map(|(_, pinhole)| pinhole)
            .collect()
    }
}
