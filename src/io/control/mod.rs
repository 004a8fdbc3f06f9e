//! The control socket of a running gateway and the commands that use it: `ftpgate status`,
//! `flows`, `pinholes` and `reload`.
//!
//! `protocol` is the wire format (one JSON line each way), `server` the socket `run` listens
//! on, `handler` what a request sees of the gateway, `client` and `render` the command side,
//! `commands` the command-line arguments. Nothing here touches packets; the only change a
//! request can make is a reload of the policy.

pub mod client;
pub mod commands;
pub mod handler;
pub mod protocol;
pub mod render;
pub mod server;
