//! The flow table: both tuples of every flow map to it, so a packet finds its flow from
//! either direction. Safe to share between threads; bounded by a cap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::flow::{Flow, FlowDir};
use super::key::FlowKey;

/// The direction `key` has in `flow`, one of whose tuples it is. The table stores no
/// direction beside the flow (8 bytes less per tuple, 16 per flow): the two tuples differ.
fn dir_of<A>(key: &FlowKey, flow: &Flow<A>) -> FlowDir {
    if *key == flow.original {
        FlowDir::Original
    } else {
        FlowDir::Reply
    }
}

/// Result of looking a packet's tuple up.
pub enum Lookup<A> {
    /// A live flow, and the direction the tuple belongs to.
    Found(Arc<Flow<A>>, FlowDir),
    /// A flow that has expired but has not been swept yet.
    Expired(Arc<Flow<A>>),
    /// No flow has this tuple.
    Missing,
}

/// Why a flow could not be inserted.
pub enum InsertError<A> {
    /// The table holds its maximum number of flows.
    Full,
    /// Another flow with the same original tuple was inserted first (a race between workers).
    Exists(Arc<Flow<A>>, FlowDir),
    /// The reply tuple belongs to another flow, or equals the original tuple.
    ReplyTaken,
}

/// Concurrent flow table.
pub struct FlowTable<A> {
    map: DashMap<FlowKey, Arc<Flow<A>>, foldhash::fast::RandomState>,
    count: AtomicUsize,
    max: usize,
}

impl<A> FlowTable<A> {
    /// An empty table holding at most `max` flows.
    pub fn new(max: usize) -> Self {
        Self {
            map: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            count: AtomicUsize::new(0),
            max,
        }
    }

    /// Number of flows tracked (including expired ones not yet swept).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finds the flow a tuple belongs to.
    pub fn lookup(&self, key: &FlowKey, now: Duration) -> Lookup<A> {
        let Some(flow) = self.map.get(key).map(|flow| flow.clone()) else {
            return Lookup::Missing;
        };
        if flow.is_expired(now) {
            Lookup::Expired(flow)
        } else {
            let dir = dir_of(key, &flow);
            Lookup::Found(flow, dir)
        }
    }

    /// The flow a tuple belongs to and the tuple's direction, expired or not.
    pub fn get(&self, key: &FlowKey) -> Option<(Arc<Flow<A>>, FlowDir)> {
        self.map
            .get(key)
            .map(|flow| (flow.clone(), dir_of(key, &flow)))
    }

    /// Inserts a flow under both of its tuples.
    pub fn insert(&self, flow: Arc<Flow<A>>) -> Result<(), InsertError<A>> {
        if flow.original == flow.reply {
            return Err(InsertError::ReplyTaken);
        }
        if self.count.fetch_add(1, Ordering::Relaxed) >= self.max {
            self.count.fetch_sub(1, Ordering::Relaxed);
            return Err(InsertError::Full);
        }
        match self.map.entry(flow.original) {
            Entry::Occupied(existing) => {
                self.count.fetch_sub(1, Ordering::Relaxed);
                let found = existing.get();
                let dir = dir_of(&flow.original, found);
                return Err(InsertError::Exists(found.clone(), dir));
            }
            Entry::Vacant(vacant) => {
                vacant.insert(flow.clone());
            }
        }
        let reply_inserted = match self.map.entry(flow.reply) {
            Entry::Occupied(_) => false,
            Entry::Vacant(vacant) => {
                vacant.insert(flow.clone());
                true
            }
        };
        if !reply_inserted {
            self.map
                .remove_if(&flow.original, |_, found| Arc::ptr_eq(found, &flow));
            self.count.fetch_sub(1, Ordering::Relaxed);
            return Err(InsertError::ReplyTaken);
        }
        Ok(())
    }

    /// Removes a flow (both tuples); false if another thread removed it first.
    pub fn remove(&self, flow: &Arc<Flow<A>>) -> bool {
        let same = |_: &FlowKey, found: &Arc<Flow<A>>| Arc::ptr_eq(found, flow);
        let removed = self.map.remove_if(&flow.original, same).is_some();
        self.map.remove_if(&flow.reply, same);
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// Removes every flow expired at `now`, calling `on_removed` for each; returns the count.
    pub fn expire(&self, now: Duration, mut on_removed: impl FnMut(&Flow<A>)) -> usize {
        let expired: Vec<Arc<Flow<A>>> = self
            .map
            .iter()
            .filter(|entry| *entry.key() == entry.original && entry.is_expired(now))
            .map(|entry| entry.value().clone())
            .collect();
        let mut removed = 0;
        for flow in expired {
            if self.remove(&flow) {
                on_removed(&flow);
                removed += 1;
            }
        }
        removed
    }

    /// Calls `visit` for every flow (once each, from its original tuple).
    pub fn for_each(&self, mut visit: impl FnMut(&Flow<A>)) {
        for entry in self.map.iter() {
            if *entry.key() == entry.original {
                visit(entry.value());
            }
        }
    }
}
