//! The FTP application-layer gateway (RFC 959, RFC 2428).
//!
//! Split as Linux splits it, each part in its own file:
//! - parsing: [`command`], [`reply`] read one complete line; [`telnet`] strips Telnet
//!   commands the way servers do, [`verbs`] knows which verbs are FTP; [`format`](mod@format)
//!   writes replacement arguments;
//! - following the stream: [`stream`] frames each direction into lines across segments and
//!   plans what every segment carries;
//! - the session and its expectations: [`session`] (commands, replies, user, directory,
//!   transfers; its `checks` apply the policy), [`check`] (the catalogue of checks a line can
//!   fail, one enum variant each), [`announce`] (checks and pinholes),
//!   [`pinhole`] (the pinhole table), [`refusal`] (the error replies a refusal sends),
//!   [`record`] and [`transfer`] (the log record);
//! - mangling and sequence adjustment: [`mangle`] here, `conntrack::seqadj` and
//!   `wire::tcp_adjust` below;
//! - [`control`] runs one control segment through all of it.

pub mod announce;
pub mod check;
pub mod command;
pub mod control;
#[cfg(test)]
mod control_tests;
pub mod format;
pub mod host;
#[cfg(test)]
mod host_fake;
pub mod mangle;
pub mod pinhole;
pub mod record;
pub mod refusal;
pub mod reply;
pub mod session;
#[cfg(test)]
mod session_tests;
pub mod stream;
pub mod telnet;
pub mod transfer;
pub mod verbs;

pub use control::{ControlSegment, FtpControl};
pub use pinhole::{DataMode, Pinhole, PinholeKey, Pinholes};
pub use transfer::TransferRecord;
