//! The FTP application-layer gateway (RFC 959, RFC 2428).
//!
//! So far: the pure line parsers and formatters the gateway is built on. [`command`] reads
//! client lines (PORT, EPRT, EPSV, ...), [`reply`] reads server lines (227, 229, 257 and the
//! multi-line framing), [`format`](mod@format) writes replacement address arguments. Each takes or returns
//! one complete line and keeps no state.

pub mod command;
pub mod format;
pub mod reply;
