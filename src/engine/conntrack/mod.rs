//! Connection tracking: flow tuples, the concurrent flow table, per-flow protocol state
//! (the TCP state machine, UDP and ICMP) and idle timeouts. Knows nothing of NAT policy or
//! rules; it stores whatever tuples the pipeline gives it.

mod flow;
mod key;
mod table;
pub mod tcp;

pub use flow::{Flow, FlowDir, FlowNat, FlowState, ProtoState};
pub use key::FlowKey;
pub use table::{FlowTable, InsertError, Lookup};
