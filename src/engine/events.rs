//! Events the engine reports to its driver through `poll_event`: rule hits with `log: true`,
//! FTP transfers, FTP security violations.
//! A bounded queue: when the driver falls behind, new events are counted as lost.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;

use super::alg::ftp::TransferRecord;
use super::conntrack::{FlowDir, FlowKey};
use super::settings::{Action, Direction};

/// Most events held before new ones are dropped.
const QUEUE_CAPACITY: usize = 4096;

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
    /// An FTP control line was refused and removed from the stream.
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
    },
}

/// Bounded FIFO of events.
#[derive(Default)]
pub struct EventQueue {
    queue: Mutex<VecDeque<Event>>,
}

impl EventQueue {
    /// Queues an event; false if the queue was full and the event was dropped.
    pub fn push(&self, event: Event) -> bool {
        let mut queue = self.queue.lock();
        if queue.len() >= QUEUE_CAPACITY {
            return false;
        }
        queue.push_back(event);
        true
    }

    /// Takes the oldest event.
    pub fn pop(&self) -> Option<Event> {
        self.queue.lock().pop_front()
    }
}
