//! Wire formats: validated views of IPv4/IPv6/TCP/UDP/ICMP packets and in-place field writes.
//!
//! Parsing and validation are done with etherparse; etherparse cannot edit a packet in place,
//! so the writers here put fields into the buffer at the offsets of [`fields`] and keep every
//! checksum right by incremental update (RFC 1624). Nothing here knows about flows or policy;
//! `tcp_adjust` applies a connection's sequence shifts, which it is handed, to one segment.

pub mod checksum;
pub mod fields;
pub mod offload;
pub mod parse;
pub mod respond;
pub mod seq;
pub mod tcp_adjust;
pub mod unfinished_checksum;
pub mod view;
pub mod write;

pub use parse::{parse, IcmpKind, ParsedPacket, TcpInfo, Transport};
