//! Engine counters (lock-free) and their snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

use super::conntrack::tcp::Challenge;
use super::verdict::{DropReason, Verdict};

/// Live counters, updated by every worker.
pub struct Counters {
    packets: AtomicU64,
    accepted: AtomicU64,
    responded: AtomicU64,
    drops: [AtomicU64; DropReason::COUNT],
    flows_created: AtomicU64,
    flows_expired: AtomicU64,
    flows_evicted: AtomicU64,
    flows_reclaimed: AtomicU64,
    events_lost: AtomicU64,
    /// FTP lines refused, per check (rare: a lock is fine).
    ftp_violations: Mutex<BTreeMap<&'static str, u64>>,
    /// FTP notices (lines let through the ALG cannot vouch for), per notice.
    ftp_notices: Mutex<BTreeMap<&'static str, u64>>,
    transmit_lost: AtomicU64,
    rst_challenged: AtomicU64,
    syn_challenged: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            packets: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            responded: AtomicU64::new(0),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            flows_created: AtomicU64::new(0),
            flows_expired: AtomicU64::new(0),
            flows_evicted: AtomicU64::new(0),
            flows_reclaimed: AtomicU64::new(0),
            events_lost: AtomicU64::new(0),
            ftp_violations: Mutex::default(),
            ftp_notices: Mutex::default(),
            transmit_lost: AtomicU64::new(0),
            rst_challenged: AtomicU64::new(0),
            syn_challenged: AtomicU64::new(0),
        }
    }
}

impl Counters {
    /// Counts one processed packet by its verdict.
    pub fn count(&self, verdict: Verdict) {
        self.packets.fetch_add(1, Relaxed);
        match verdict {
            Verdict::Accept => self.accepted.fetch_add(1, Relaxed),
            Verdict::Respond(reason) => {
                self.responded.fetch_add(1, Relaxed);
                self.drops[reason.index()].fetch_add(1, Relaxed)
            }
            Verdict::Drop(reason) => self.drops[reason.index()].fetch_add(1, Relaxed),
        };
    }

    /// Counts a flow entering the table.
    pub fn flow_created(&self) {
        self.flows_created.fetch_add(1, Relaxed);
    }

    /// Counts flows leaving the table on timeout.
    pub fn flows_expired(&self, count: usize) {
        self.flows_expired.fetch_add(count as u64, Relaxed);
    }

    /// Counts a flow evicted to make room for a new one (early drop).
    pub fn flow_evicted(&self) {
        self.flows_evicted.fetch_add(1, Relaxed);
    }

    /// Counts a flow that was over, removed so its host could have its port (`reclaim`).
    pub fn flow_reclaimed(&self) {
        self.flows_reclaimed.fetch_add(1, Relaxed);
    }

    /// Counts an event that did not fit the queue.
    pub fn event_lost(&self) {
        self.events_lost.fetch_add(1, Relaxed);
    }

    /// Counts an FTP line refused by `check`.
    pub fn ftp_violation(&self, check: &'static str) {
        *self.ftp_violations.lock().entry(check).or_default() += 1;
    }

    /// Counts an FTP notice.
    pub fn ftp_notice(&self, notice: &'static str) {
        *self.ftp_notices.lock().entry(notice).or_default() += 1;
    }

    /// Counts a segment passed unapplied under RFC 5961 (see [`Challenge`]).
    pub fn challenged(&self, challenge: Challenge) {
        match challenge {
            Challenge::InexactRst => self.rst_challenged.fetch_add(1, Relaxed),
            Challenge::SynOnSynchronized => self.syn_challenged.fetch_add(1, Relaxed),
        };
    }

    /// Counts a generated packet that did not fit the transmit queue.
    pub fn transmit_lost(&self) {
        self.transmit_lost.fetch_add(1, Relaxed);
    }

    /// A consistent-enough copy of every counter plus the table sizes given.
    pub fn snapshot(&self, flows: usize, nat_bindings: usize) -> EngineStats {
        EngineStats {
            packets: self.packets.load(Relaxed),
            accepted: self.accepted.load(Relaxed),
            responded: self.responded.load(Relaxed),
            dropped: DropReason::ALL
                .iter()
                .map(|reason| (*reason, self.drops[reason.index()].load(Relaxed)))
                .collect(),
            flows,
            nat_bindings,
            flows_created: self.flows_created.load(Relaxed),
            flows_expired: self.flows_expired.load(Relaxed),
            flows_evicted: self.flows_evicted.load(Relaxed),
            flows_reclaimed: self.flows_reclaimed.load(Relaxed),
            events_lost: self.events_lost.load(Relaxed),
            ftp_violations: self
                .ftp_violations
                .lock()
                .iter()
                .map(|(check, n)| (*check, *n))
                .collect(),
            ftp_notices: self
                .ftp_notices
                .lock()
                .iter()
                .map(|(notice, n)| (*notice, *n))
                .collect(),
            transmit_lost: self.transmit_lost.load(Relaxed),
            rst_challenged: self.rst_challenged.load(Relaxed),
            syn_challenged: self.syn_challenged.load(Relaxed),
        }
    }
}

/// A snapshot of the engine's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineStats {
    /// Packets processed.
    pub packets: u64,
    /// Packets forwarded.
    pub accepted: u64,
    /// Packets answered with a RST or ICMP error instead (also counted under their reason).
    pub responded: u64,
    /// Packets not forwarded, per reason (every reason listed, zeros included).
    pub dropped: Vec<(DropReason, u64)>,
    /// Flows in the table now.
    pub flows: usize,
    /// Masquerade bindings held now.
    pub nat_bindings: usize,
    /// Flows created since start.
    pub flows_created: u64,
    /// Flows removed on timeout since start.
    pub flows_expired: u64,
    /// Flows that never became established, evicted to make room for a new flow.
    pub flows_evicted: u64,
    /// Flows that were over (TCP in CLOSE or TIME_WAIT, answered UDP silent for 2 s) removed
    /// early so that their inside host, short of NAT ports, could have one for a new flow.
    pub flows_reclaimed: u64,
    /// Events discarded because nobody polled them in time.
    pub events_lost: u64,
    /// FTP lines refused, per check that fired (only checks that fired are listed).
    pub ftp_violations: Vec<(&'static str, u64)>,
    /// FTP notices, per notice (only notices that fired are listed).
    pub ftp_notices: Vec<(&'static str, u64)>,
    /// Generated packets (FTP error replies, RSTs) discarded because nobody polled them.
    pub transmit_lost: u64,
    /// RSTs inside the window but not exact: passed to the endpoint (which answers with a
    /// challenge ACK), the flow kept as it was (RFC 5961).
    pub rst_challenged: u64,
    /// SYNs on synchronized flows: passed to the endpoint, the flow kept as it was.
    pub syn_challenged: u64,
}

impl EngineStats {
    /// The count for one drop reason.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.dropped
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// The number of FTP lines refused by one check.
    pub fn ftp_violations(&self, check: &str) -> u64 {
        self.ftp_violations
            .iter()
            .find(|(c, _)| *c == check)
            .map_or(0, |(_, n)| *n)
    }

    /// The number of FTP notices of one kind.
    pub fn ftp_notices(&self, notice: &str) -> u64 {
        self.ftp_notices
            .iter()
            .find(|(n, _)| *n == notice)
            .map_or(0, |(_, n)| *n)
    }

    /// FTP lines refused, all checks together.
    pub fn total_ftp_violations(&self) -> u64 {
        self.ftp_violations.iter().map(|(_, n)| n).sum()
    }

    /// All packets not forwarded as they were.
    pub fn total_dropped(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }

    /// The verdict lines of a summary: accepted, answered, dropped and each reason seen.
    pub fn write_verdicts(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "  accepted         {}", self.accepted)?;
        writeln!(
            f,
            "  answered         {} (RST / ICMP sent back instead)",
            self.responded
        )?;
        writeln!(
            f,
            "  dropped          {}",
            self.total_dropped() - self.responded
        )?;
        for (reason, count) in self.dropped.iter().filter(|(_, n)| *n > 0) {
            writeln!(f, "    {:<22} {count}", reason.name())?;
        }
        if self.flows_evicted > 0 {
            writeln!(
                f,
                "  flows evicted    {} (never established, for a new flow)",
                self.flows_evicted
            )?;
        }
        if self.flows_reclaimed > 0 {
            writeln!(
                f,
                "  flows reclaimed  {} (closed or idle, port taken back for a new flow)",
                self.flows_reclaimed
            )?;
        }
        if self.rst_challenged + self.syn_challenged > 0 {
            writeln!(
                f,
                "  passed unapplied {} RST not exact, {} SYN on an open flow (RFC 5961)",
                self.rst_challenged, self.syn_challenged
            )?;
        }
        let refused = self.total_ftp_violations();
        if refused > 0 {
            writeln!(f, "  ftp lines refused {refused}")?;
            for (check, count) in &self.ftp_violations {
                writeln!(f, "    {check:<22} {count}")?;
            }
        }
        let noticed: u64 = self.ftp_notices.iter().map(|(_, n)| n).sum();
        if noticed > 0 {
            writeln!(f, "  ftp notices      {noticed}")?;
            for (notice, count) in &self.ftp_notices {
                writeln!(f, "    {notice:<22} {count}")?;
            }
        }
        Ok(())
    }
}
