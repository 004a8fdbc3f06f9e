//! ftpgate: a stateful NAT and firewall with an FTP application-layer gateway.
//!
//! Layers: [`engine`] is sans-I/O (packets and time in, verdicts and events out);
//! [`config`] turns YAML rule files into engine settings; [`io`] does all I/O.

pub mod config;
pub mod engine;
pub mod io;
