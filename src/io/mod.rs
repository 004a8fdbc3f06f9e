//! All of ftpgate's I/O lives here: capture files and their replay, the TUN device loop,
//! where events are written, and what operates a running gateway (its steering over netlink,
//! the control socket and its commands, reloads, the metrics endpoint, systemd notifications).
//!
//! The engine is sans-I/O and works on bare IP packets; this layer owns files, devices,
//! sockets and the clock, and adapts what they deliver to the engine's inputs.

pub mod capture;
pub mod control;
pub mod control_plane;
pub mod drop_log;
pub mod events;
pub mod metrics;
pub mod reload;
pub mod replay;
pub mod replay_checksums;
pub mod run;
pub mod steering;
pub mod sysctl_state;
pub mod tun;
pub mod udp_coalesce;
pub mod vnet;
