//! Wire formats: validated views of IPv4/IPv6/TCP/UDP/ICMP packets and in-place field writes.
//!
//! Parsing and validation are done with etherparse; etherparse cannot edit a packet in place,
//! so the writers here go through the typed views of [`view`] (checked once, setters that keep
//! every checksum right by incremental update, RFC 1624); [`fields`] holds the offsets and
//! flag bits the views' ranges are made of. Nothing here knows about flows or policy, and
//! nothing outside `view` should add an IP header length to a transport offset by hand;
//! `tcp_adjust` applies a connection's sequence shifts, which it is handed, to one segment.

pub mod checksum;
pub mod fields;
pub mod offload;
pub mod parse;
pub mod respond;
pub mod seq;
pub mod tcp_adjust;
#[cfg(test)]
mod test_vectors;
pub mod unfinished_checksum;
pub mod view;
pub mod write;

pub use parse::{parse, IcmpKind, ParsedPacket, TcpInfo, Transport};
