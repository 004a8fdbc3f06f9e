//! Parsing, the first of the ALG's four jobs: one complete control line read the way servers
//! read it. [`command`] reads a client command (PORT, EPRT and the rest) and [`reply`] a
//! server reply (227, 229, 257, multi-line framing); [`telnet`] strips Telnet commands as
//! servers do; [`verbs`] knows which verbs are FTP.
//!
//! Parsers are pure functions of the line's bytes: they never decide whether a line is
//! allowed (that is `expect` and the session) and never change it (that is `nat` and
//! `mangle`).

pub mod command;
pub mod reply;
pub mod telnet;
pub mod verbs;
