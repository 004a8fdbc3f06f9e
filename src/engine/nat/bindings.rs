//! Masquerade bindings: which outside port (or echo identifier) belongs to which inside
//! endpoint. Mapping is endpoint-independent (RFC 4787 REQ-1): every flow from one inside
//! address:port shares one outside port, and an outside port belongs to one inside endpoint
//! at a time, so no two flows ever share an outside tuple. Bindings are reference-counted by
//! the flows using them and freed with the last one.

use arc_swap::ArcSwap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::quota::HostQuota;
use crate::engine::settings::PortRange;

type Hasher = foldhash::fast::RandomState;

/// Key of a binding on the inside: protocol, inside address, inside port.
type InsideKey = (u8, Ipv4Addr, u16);

#[derive(Debug)]
struct Binding {
    inside: (Ipv4Addr, u16),
    refs: u32,
}

/// Why no outside port was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortShortage {
    /// Every port of the range is taken.
    RangeExhausted,
    /// The inside host holds its quota (`report`: first refusal of the episode).
    HostQuota {
        /// Log this one.
        report: bool,
    },
}

impl PortShortage {
    /// The counted name: `nat_ports_exhausted` or `nat_host_quota`.
    pub fn name(self) -> &'static str {
        match self {
            PortShortage::RangeExhausted => "nat_ports_exhausted",
            PortShortage::HostQuota { .. } => "nat_host_quota",
        }
    }
}

/// The binding table and port allocator.
pub struct Bindings {
    range: PortRange,
    quota: HostQuota,
    /// Swapped whole when the port forwards change (a reload).
    reserved: ArcSwap<Vec<(u8, PortRange)>>,
    by_outside: DashMap<(u8, u16), Binding, Hasher>,
    by_inside: DashMap<InsideKey, u16, Hasher>,
    cursor: AtomicU32,
}

impl Bindings {
    /// Allocates from `range`, never handing out a port in `reserved` (port forwards).
    pub fn new(range: PortRange, reserved: Vec<(u8, PortRange)>) -> Self {
        Self {
            range,
            reserved: ArcSwap::from_pointee(reserved),
            by_outside: DashMap::with_hasher(Hasher::default()),
            by_inside: DashMap::with_hasher(Hasher::default()),
            cursor: AtomicU32::new(0),
            quota: HostQuota::new(usize::MAX),
        }
    }

    /// Ports the allocator must not hand out from now on (the port forwards after a reload);
    /// bindings already on them stay until their flows end.
    pub fn set_reserved(&self, reserved: Vec<(u8, PortRange)>) {
        self.reserved.store(std::sync::Arc::new(reserved));
    }

    /// Changes the per-host quota (a reload).
    pub fn set_host_quota(&self, quota: usize) {
        self.quota.set_quota(quota);
    }

    /// The same allocator with at most `quota` ports per inside host and protocol.
    pub fn with_host_quota(mut self, quota: usize) -> Self {
        self.quota = HostQuota::new(quota);
        self
    }

    /// Ports `host` holds for `protocol`.
    pub fn held_by(&self, protocol: u8, host: Ipv4Addr) -> u32 {
        self.quota.held_by(protocol, host)
    }

    /// Number of live bindings.
    pub fn len(&self) -> usize {
        self.by_outside.len()
    }

    /// Whether there are no bindings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The outside port for a new flow from `inside`: its existing binding, else the inside
    /// port itself when free and in range, else the next free port of the range. `None` when
    /// the range is exhausted or the host holds its quota of ports.
    pub fn acquire(&self, protocol: u8, inside: (Ipv4Addr, u16)) -> Result<u16, PortShortage> {
        match self.by_inside.entry((protocol, inside.0, inside.1)) {
            Entry::Occupied(existing) => {
                let port = *existing.get();
                if let Some(mut binding) = self.by_outside.get_mut(&(protocol, port)) {
                    binding.refs += 1;
                }
                Ok(port)
            }
            Entry::Vacant(vacant) => {
                self.quota
                    .take(protocol, inside.0)
                    .map_err(|over| PortShortage::HostQuota {
                        report: over.report,
                    })?;
                let Some(port) = self.claim_free_port(protocol, inside) else {
                    self.quota.give_back(protocol, inside.0);
                    return Err(PortShortage::RangeExhausted);
                };
                vacant.insert(port);
                Ok(port)
            }
        }
    }

    /// Drops one flow's reference to the binding on `outside_port`, freeing it with the last.
    pub fn release(&self, protocol: u8, outside_port: u16) {
        let inside = {
            let Some(mut binding) = self.by_outside.get_mut(&(protocol, outside_port)) else {
                return;
            };
            binding.refs = binding.refs.saturating_sub(1);
            if binding.refs > 0 {
                return;
            }
            binding.inside
        };
        // Lock order as in `acquire`: the inside entry first, then the outside one.
        if let Entry::Occupied(entry) = self.by_inside.entry((protocol, inside.0, inside.1)) {
            if *entry.get() == outside_port {
                let removed = self
                    .by_outside
                    .remove_if(&(protocol, outside_port), |_, binding| binding.refs == 0);
                if removed.is_some() {
                    entry.remove();
                    self.quota.give_back(protocol, inside.0);
                }
            }
        }
    }

    /// The inside endpoint bound to an outside port.
    pub fn inside_of(&self, protocol: u8, outside_port: u16) -> Option<(Ipv4Addr, u16)> {
        self.by_outside
            .get(&(protocol, outside_port))
            .map(|binding| binding.inside)
    }

    fn usable(&self, protocol: u8, port: u16) -> bool {
        self.range.contains(port)
            && !self
                .reserved
                .load()
                .iter()
                .any(|(proto, ports)| *proto == protocol && ports.contains(port))
    }

    fn try_claim(&self, protocol: u8, port: u16, inside: (Ipv4Addr, u16)) -> bool {
        if !self.usable(protocol, port) {
            return false;
        }
        match self.by_outside.entry((protocol, port)) {
            Entry::Occupied(_) => false,
            Entry::Vacant(vacant) => {
                vacant.insert(Binding { inside, refs: 1 });
                true
            }
        }
    }

    fn claim_free_port(&self, protocol: u8, inside: (Ipv4Addr, u16)) -> Option<u16> {
        if self.try_claim(protocol, inside.1, inside) {
            return Some(inside.1);
        }
        let size = self.range.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % size;
        (0..size)
            .map(|step| self.range.first + ((start + step) % size) as u16)
            .find(|port| self.try_claim(protocol, *port, inside))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const TCP: u8 = 6;

    fn host(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    #[test]
    fn keeps_a_free_source_port_and_shares_it_per_inside_endpoint() {
        let b = Bindings::new(
            PortRange {
                first: 1024,
                last: 65535,
            },
            vec![],
        );
        assert_eq!(b.acquire(TCP, (host(2), 40000)), Ok(40000));
        assert_eq!(b.acquire(TCP, (host(2), 40000)), Ok(40000));
        assert_eq!(b.len(), 1);
        b.release(TCP, 40000);
        assert_eq!(b.len(), 1, "still referenced by one flow");
        b.release(TCP, 40000);
        assert!(b.is_empty());
    }

    #[test]
    fn two_inside_hosts_on_one_port_get_distinct_outside_ports() {
        let b = Bindings::new(
            PortRange {
                first: 1024,
                last: 65535,
            },
            vec![],
        );
        let first = b.acquire(TCP, (host(2), 40000)).unwrap();
        let second = b.acquire(TCP, (host(3), 40000)).unwrap();
        assert_eq!(first, 40000);
        assert_ne!(first, second);
        assert_eq!(b.inside_of(TCP, second), Some((host(3), 40000)));
    }

    #[test]
    fn out_of_range_and_reserved_ports_are_not_kept_and_exhaustion_is_reported() {
        let reserved = vec![(TCP, PortRange::single(5001))];
        let b = Bindings::new(
            PortRange {
                first: 5000,
                last: 5002,
            },
            reserved,
        );
        let a = b.acquire(TCP, (host(2), 80)).unwrap();
        let c = b.acquire(TCP, (host(3), 5001)).unwrap();
        assert!([5000, 5002].contains(&a) && [5000, 5002].contains(&c) && a != c);
        assert_eq!(
            b.acquire(TCP, (host(4), 9)),
            Err(PortShortage::RangeExhausted)
        );
        assert_eq!(b.held_by(TCP, host(4)), 0, "a refused host holds nothing");
        // Another protocol has its own port space.
        assert_eq!(b.acquire(17, (host(4), 5000)), Ok(5000));
    }
}
