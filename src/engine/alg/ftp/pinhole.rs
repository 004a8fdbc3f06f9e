//! Pinholes: the data connections FTP control connections announced, each admitting exactly
//! one TCP connection from the control connection's peer to the announced address and port,
//! until it expires. Any source port is allowed (active-mode servers use port 20 or another).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;

use dashmap::DashMap;

use crate::engine::conntrack::Flow;

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
