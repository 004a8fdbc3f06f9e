//! Events the engine reports to its driver through `poll_event`: rule hits with `log: true`.
//! A bounded queue: when the driver falls behind, new events are counted as lost.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;

use super::conntrack::FlowKey;
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
