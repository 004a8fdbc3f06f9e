//! The FTP application-layer gateway (RFC 959, RFC 2428).
//!
//! Netfilter's four jobs, one file each, named for it:
//! - [`parse`]: one complete line read ([`command`], [`reply`], with [`telnet`] and
//!   [`verbs`]);
//! - [`expect`]: an announcement checked (data-port floor, the announcer's own address, FXP)
//!   and turned into one pinhole; the pinhole table;
//! - [`nat`]: what an accepted announcement becomes (the outside port, the new text);
//! - [`mangle`]: splicing the line and the segment's payload.
//!
//! Around them: [`stream`] frames each direction into lines across segments and plans what
//! every segment carries; [`session`] follows commands, replies, user, directory and
//! transfers and applies the session's policy (login, cap, pipelining, non-FTP) in its
//! `checks`; [`check`] is the catalogue of checks a line can fail; [`refusal`] writes the
//! error replies; [`record`] and [`transfer`] the log record; [`control`] runs one control
//! segment through all of it (with `budget`). Sequence adjustment is `conntrack::seqadj`
//! and `wire::tcp_adjust`.
//!
//! The ALG reaches the engine only through [`host::AlgHost`], netfilter's helper /
//! expectation shape; it never sees the engine's tables.

pub mod check;
pub mod control;
#[cfg(test)]
mod control_tests;
pub mod expect;
pub mod host;
#[cfg(test)]
mod host_fake;
pub mod mangle;
pub mod nat;
pub mod parse;
pub mod record;
pub mod refusal;
pub mod session;
#[cfg(test)]
mod session_tests;
pub mod stream;
pub mod transfer;

pub use control::{ControlSegment, FtpControl};
pub use expect::{DataMode, Pinhole, PinholeKey, Pinholes};
pub use nat::format;
pub use parse::{command, reply, telnet, verbs};
pub use transfer::TransferRecord;
