//! The per-host NAT port quota (RFC 6888 REQ-4): how many outside ports one inside host holds
//! per protocol, masquerade bindings and ports reserved for FTP pinholes alike.
//!
//! A host at its quota is refused new ports; no other host is affected, and the first refusal
//! of each episode is reported (until the host falls below its quota again) so the driver
//! logs it once rather than once per packet. Owns the counts only; it never allocates ports.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

/// Ports one host holds for one protocol.
#[derive(Debug, Default)]
struct Held {
    ports: u32,
    /// A refusal was reported since the host last fell below its quota.
    reported: bool,
}

/// A refused port: the host holds its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverQuota {
    /// This is the first refusal since the host was last below its quota: log it.
    pub report: bool,
}

/// Port counts per (protocol, inside host).
pub struct HostQuota {
    held: DashMap<(u8, Ipv4Addr), Held, foldhash::fast::RandomState>,
    quota: AtomicU32,
}

impl HostQuota {
    /// Each host may hold `quota` ports per protocol.
    pub fn new(quota: usize) -> Self {
        Self {
            held: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            quota: AtomicU32::new(u32::try_from(quota).unwrap_or(u32::MAX)),
        }
    }

    /// Changes the quota (a reload): hosts already past a lower one keep what they hold and
    /// get no more until they drop below it.
    pub fn set_quota(&self, quota: usize) {
        self.quota
            .store(u32::try_from(quota).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Counts one more port for `host`, unless it holds its quota.
    pub fn take(&self, protocol: u8, host: Ipv4Addr) -> Result<(), OverQuota> {
        let mut held = self.held.entry((protocol, host)).or_default();
        if held.ports >= self.quota.load(Ordering::Relaxed) {
            let report = !held.reported;
            held.reported = true;
            return Err(OverQuota { report });
        }
        held.ports += 1;
        Ok(())
    }

    /// Counts one port fewer for `host`.
    pub fn give_back(&self, protocol: u8, host: Ipv4Addr) {
        if let Entry::Occupied(mut held) = self.held.entry((protocol, host)) {
            let value = held.get_mut();
            value.ports = value.ports.saturating_sub(1);
            value.reported = false;
            if value.ports == 0 {
                held.remove();
            }
        }
    }

    /// Ports `host` holds for `protocol`.
    pub fn held_by(&self, protocol: u8, host: Ipv4Addr) -> u32 {
        self.held
            .get(&(protocol, host))
            .map_or(0, |held| held.ports)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_host_at_its_quota_is_refused_and_reported_once_per_episode() {
        let quota = HostQuota::new(2);
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        assert!(quota.take(6, a).is_ok() && quota.take(6, a).is_ok());
        assert_eq!(quota.take(6, a), Err(OverQuota { report: true }));
        assert_eq!(quota.take(6, a), Err(OverQuota { report: false }));
        assert!(quota.take(6, b).is_ok(), "another host is not affected");
        assert!(
            quota.take(17, a).is_ok(),
            "another protocol has its own count"
        );
        quota.give_back(6, a);
        assert!(quota.take(6, a).is_ok());
        assert_eq!(quota.take(6, a), Err(OverQuota { report: true }));
        assert_eq!(quota.held_by(6, a), 2);
    }
}
