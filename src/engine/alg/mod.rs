//! Application-layer gateways: protocol-aware helpers that follow a flow's payload.
//!
//! [`app`] is the per-flow state and the hooks the pipeline calls on it, whichever helper
//! follows the flow; [`ftp`] is the one helper today. The engine reaches a helper only
//! through those hooks, and a helper reaches the engine only through its host interface
//! (`ftp::host::AlgHost`).

pub mod app;
pub mod ftp;

pub use app::App;
