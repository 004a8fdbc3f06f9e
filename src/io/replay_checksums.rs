//! `replay --checksums auto|verify|ignore`: what a replay does with transport checksums a
//! capture taken on a sending host left unfinished (checksum offload), before the engine sees
//! the packet. Owns the per-host detection and the counters; the classification and the
//! arithmetic are `engine::wire::offload`'s. It never drops a packet: a checksum it leaves
//! alone is judged by the engine as on the TUN path.
//!
//! - `verify`: nothing is changed; the engine verifies as it does on a live gateway.
//! - `ignore`: every wrong TCP/UDP checksum is replaced by the full one.
//! - `auto` (the default): a host is *offloading* once one of its packets carries a checksum
//!   holding only the pseudo-header sum, or when its first checksummed packet is wrong; from
//!   then on its wrong checksums are finished. A host whose first packet verified is
//!   *finishing*: a wrong checksum from it is corruption, and left for the engine to drop.
//!
//! Finishing the checksum on input means every output packet carries a full checksum (the
//! engine's incremental updates of a full checksum keep it full).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::engine::wire::parse;
use crate::engine::wire::unfinished_checksum::{checksum_state, finish_checksum, ChecksumState};

/// How a replay treats unfinished transport checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// Detect offloading hosts and finish their checksums.
    #[default]
    Auto,
    /// Change nothing: the engine verifies.
    Verify,
    /// Finish every wrong checksum.
    Ignore,
}

/// What `auto` concluded about one sending host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostChecksums {
    /// Its checksums were finished when captured.
    Finishing,
    /// Its checksums were left to the NIC.
    Offloading,
}

/// The most hosts remembered; past it, unknown hosts are judged packet by packet (a wrong
/// checksum from them is finished only if it holds the pseudo-header sum).
const MAX_HOSTS: usize = 65_536;

/// Per-replay checksum handling.
#[derive(Debug, Default)]
pub struct ChecksumFixer {
    mode: ChecksumMode,
    hosts: HashMap<IpAddr, HostChecksums>,
    /// Packets whose checksum was finished here.
    pub finished: u64,
}

impl ChecksumFixer {
    /// A fixer in `mode`.
    pub fn new(mode: ChecksumMode) -> Self {
        Self {
            mode,
            ..Self::default()
        }
    }

    /// Hosts `auto` found offloading.
    pub fn offloading_hosts(&self) -> usize {
        self.hosts
            .values()
            .filter(|host| **host == HostChecksums::Offloading)
            .count()
    }

    /// Finishes the transport checksum of the IP packet in `bytes` when the mode says so.
    pub fn prepare(&mut self, bytes: &mut [u8]) {
        if self.mode == ChecksumMode::Verify {
            return;
        }
        let Ok(packet) = parse(bytes) else {
            return;
        };
        let state = checksum_state(bytes, &packet);
        let finish = match (self.mode, state) {
            (_, ChecksumState::NotTransport) => false,
            (_, ChecksumState::Finished) => {
                self.learn(packet.src, HostChecksums::Finishing);
                false
            }
            (ChecksumMode::Ignore, _) => true,
            (_, ChecksumState::PseudoHeaderOnly) => {
                self.hosts.insert(packet.src, HostChecksums::Offloading);
                true
            }
            (_, ChecksumState::Wrong) => {
                self.learn(packet.src, HostChecksums::Offloading) == Some(HostChecksums::Offloading)
            }
        };
        if finish && finish_checksum(bytes, &packet) {
            self.finished += 1;
        }
    }

    /// Records what a host's first packet showed; returns what is known about the host.
    fn learn(&mut self, host: IpAddr, first: HostChecksums) -> Option<HostChecksums> {
        if let Some(known) = self.hosts.get(&host) {
            return Some(*known);
        }
        if self.hosts.len() >= MAX_HOSTS {
            return None;
        }
        self.hosts.insert(host, first);
        Some(first)
    }
}
