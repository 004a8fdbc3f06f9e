//! Connection tracking: flow tuples, the concurrent flow table, per-flow protocol state
//! (the TCP state machine, UDP and ICMP) and idle timeouts. Knows nothing of NAT policy or
//! rules; it stores whatever tuples the pipeline gives it. A flow's application-layer state
//! is an opaque type parameter: conntrack must never import a gateway (`alg`). `eviction`
//! chooses which never-answered flow makes room when the table is full, and charges
//! embryonic flows to their source; `reclaimable` files closed connections and answered UDP
//! flows under their holder so a holder short of ports can take one back. `seqadj` keeps the sequence-number shifts an ALG payload
//! rewrite implies.

pub mod eviction;
mod flow;
mod key;
pub mod reclaimable;
pub mod seqadj;
mod table;
pub mod tcp;

pub use flow::{Flow, FlowDir, FlowNat, FlowState, ProtoState};
pub use key::FlowKey;
pub use table::{FlowTable, InsertError, Lookup};
