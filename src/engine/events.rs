//! Events the engine reports to its driver through `poll_event`: rule hits with `log: true`,
//! FTP transfers, FTP security violations and policy notices, resource limits a host reached.
//! The bounded queue they wait in: when the driver falls behind, new items are counted as
//! lost. (The packets the engine writes itself wait in `transmit`'s buffers.)

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::alg::ftp::TransferRecord;
use super::conntrack::{FlowDir, FlowKey};
use super::settings::{Action, Direction};

/// Most events held before new ones are dropped.
pub const EVENT_CAPACITY: usize = 4096;

/// The packet that triggered an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    /// Tuple of the packet as it arrived.
    pub key: FlowKey,
    /// Which way it crossed the gateway.
    pub direction: Direction,
}

/// Something the driver should log.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A rule with `log: true` matched the first packet of a flow.
    RuleMatched {
        /// Engine time of the packet.
        at: Duration,
        /// Where the rule is written (`file:line:column`).
        rule: String,
        /// What the rule did.
        action: Action,
        /// The packet.
        flow: FlowSummary,
    },
    /// An FTP data transfer finished (its final reply arrived).
    Transfer(Box<TransferRecord>),
    /// An FTP control line was refused: it never reached its receiver.
    FtpViolation {
        /// Engine time.
        at: Duration,
        /// The control connection (as its client sent).
        control: FlowKey,
        /// Which side sent the line: `Original` is the client.
        from: FlowDir,
        /// The check that fired (snake_case).
        check: &'static str,
        /// The offending line, escaped.
        line: String,
        /// What happened to the connection: `reply` (an FTP error reply instead) or `reset`.
        outcome: &'static str,
    },
    /// A host reached a resource limit (`nat_host_quota`): reported once per episode, until
    /// the host falls below the limit again; every refusal is counted.
    LimitReached {
        /// Engine time.
        at: Duration,
        /// The limit (snake_case, as its drop reason is named).
        limit: &'static str,
        /// The host that reached it.
        host: IpAddr,
    },
    /// An FTP line the policy lets through although the ALG cannot vouch for it.
    FtpNotice {
        /// Engine time.
        at: Duration,
        /// The control connection (as its client sent).
        control: FlowKey,
        /// What was allowed (snake_case): `tls_pass_blind`, `fxp_allowed`.
        notice: &'static str,
        /// The line, escaped.
        line: String,
    },
}

/// Bounded FIFO. Its length is mirrored in an atomic, so polling an empty queue (what every
/// worker does after every packet) takes no lock.
pub struct BoundedQueue<T> {
    queue: Mutex<VecDeque<T>>,
    len: AtomicUsize,
    capacity: usize,
}

impl<T> BoundedQueue<T> {
    /// An empty queue holding at most `capacity` items.
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Queues an item; false if the queue was full and the item was dropped.
    pub fn push(&self, item: T) -> bool {
        let mut queue = self.queue.lock();
        if queue.len() >= self.capacity {
            return false;
        }
        queue.push_back(item);
        self.len.store(queue.len(), Ordering::Release);
        true
    }

    /// Takes the oldest item.
    pub fn pop(&self) -> Option<T> {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut queue = self.queue.lock();
        let item = queue.pop_front();
        self.len.store(queue.len(), Ordering::Release);
        item
    }
}
