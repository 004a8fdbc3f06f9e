//! Admission of a new flow into the table: the per-source embryonic cap, and early drop when
//! the table is full (an evicted flow gives back its binding and pinholes like an expired one).
//!
//! Owns only the order of those steps; which flow is a victim is `conntrack::eviction`'s call.
//! It never touches packet bytes.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use super::alg::App;
use super::conntrack::eviction::{is_embryonic, Victim};
use super::conntrack::InsertError;
use super::verdict::DropReason;
use super::{Engine, Flow};

/// Most flows evicted for one new flow (another worker may take the room made).
const MAX_EVICTIONS: usize = 4;

/// Why a new flow was not inserted.
pub enum Refused {
    /// Its source holds its cap of embryonic flows.
    SourceCap,
    /// The table refused it.
    Insert(InsertError<App>),
}

impl Refused {
    /// The counted drop reason, unless the flow already exists (handed back to the caller).
    pub fn reason(&self) -> Option<DropReason> {
        match self {
            Refused::SourceCap => Some(DropReason::SourceFlowCap),
            Refused::Insert(InsertError::Full) => Some(DropReason::TableFull),
            Refused::Insert(InsertError::ReplyTaken) => Some(DropReason::TupleConflict),
            Refused::Insert(InsertError::Exists(..)) => None,
        }
    }
}

/// Inserts a new flow. An embryonic one (`charge`) is charged to its source first; when the
/// table is full, flows that never became established are evicted for it (see
/// `conntrack::eviction` for which). On `Err` nothing stays charged or inserted.
pub fn insert(
    engine: &Engine,
    now: Duration,
    flow: &Arc<Flow>,
    inbound: bool,
    charge: bool,
) -> Result<(), Refused> {
    let charged = charge && is_embryonic(&flow.lock().proto);
    if charged {
        if !engine.embryonic.admit(flow.original.src) {
            return Err(Refused::SourceCap);
        }
        flow.embryonic.store(true, Relaxed);
    }
    let mut result = engine.flows.insert(flow.clone());
    for _ in 0..MAX_EVICTIONS {
        if !matches!(result, Err(InsertError::Full)) || !make_room(engine, now, inbound) {
            break;
        }
        result = engine.flows.insert(flow.clone());
    }
    match result {
        Ok(()) => {
            if charged {
                engine.embryonic.track(flow, inbound, &engine.flows, now);
            }
            Ok(())
        }
        Err(error) => {
            engine.embryonic.forget(flow);
            Err(Refused::Insert(error))
        }
    }
}

/// Removes one flow that never became established; false when there is none to remove.
fn make_room(engine: &Engine, now: Duration, inbound: bool) -> bool {
    let Some(victim) = engine.embryonic.victim(&engine.flows, now, inbound) else {
        return false;
    };
    let (flow, evicted) = match victim {
        Victim::Evict(flow) => (flow, true),
        Victim::Expired(flow) => (flow, false),
    };
    if engine.flows.remove(&flow) {
        engine.forget(&flow);
        if evicted {
            engine.counters.flow_evicted();
        } else {
            engine.counters.flows_expired(1);
        }
    }
    true
}
