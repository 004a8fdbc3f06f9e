//! Capture files: reading pcap / pcapng captures into link-layer frames, finding the IP packet
//! inside a frame, and writing frames back as the same kind of file.
//!
//! Owns file formats and link layers. It never interprets IP or TCP beyond the length fields
//! needed to strip link-layer padding, and it never decides what happens to a packet: the
//! replay loop hands the IP packets to the engine and gives the results to [`CaptureWriter`].
//!
//! - [`reader`]: [`CaptureReader`] over classic pcap (either byte order, micro- or nanosecond
//!   timestamps) and pcapng (several sections and interfaces, EPB / SPB / obsolete PB blocks).
//! - [`link`]: [`LinkType`], [`ip_offset`], [`ip_packet_len`], [`split_frame`].
//! - [`writer`]: [`CaptureWriter`], writing little-endian pcap or pcapng.
//! - [`timestamp`]: resolutions and tick conversions.

use std::time::Duration;

mod blocks;
pub mod error;
pub mod link;
pub mod reader;
pub mod timestamp;
pub mod writer;

#[cfg(test)]
mod tests;

pub use error::CaptureError;
pub use link::{ip_offset, ip_packet_len, split_frame, FrameParts, LinkError, LinkType};
pub use reader::CaptureReader;
pub use timestamp::TimestampResolution;
pub use writer::CaptureWriter;

/// One frame from a capture file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedPacket {
    /// Capture time since the Unix epoch. A pcapng Simple Packet Block has none and gets the
    /// previous packet's (zero if it is the first).
    pub timestamp: Duration,
    /// Index of the capture interface in [`CaptureFormat::interfaces`] (always 0 for pcap).
    pub interface: usize,
    /// Link type of that interface: how to find the IP packet in `data`.
    pub link_type: LinkType,
    /// The captured bytes of the frame (at most the snapshot length).
    pub data: Vec<u8>,
    /// Length of the frame on the wire; larger than `data.len()` if the capture cut it.
    pub original_len: u32,
}

/// Which of the two capture file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// Classic libpcap format: one file header, one link type.
    Pcap,
    /// pcapng: blocks, possibly several interfaces with their own link types.
    PcapNg,
}

/// One capture interface: what a pcap file header or a pcapng interface description says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Link-layer header type of its frames.
    pub link_type: LinkType,
    /// Snapshot length: the most bytes captured per frame (0 in pcapng means no limit).
    pub snaplen: u32,
    /// Timestamp resolution.
    pub ts_resolution: TimestampResolution,
    /// Seconds added to every timestamp (pcapng `if_tsoffset`; 0 for pcap).
    pub ts_offset: i64,
}

/// What a writer needs to produce a file like the one read: its kind and its interfaces.
///
/// pcapng interfaces of all sections are numbered in file order; a file with several sections
/// is mirrored as one section holding all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureFormat {
    /// pcap or pcapng.
    pub kind: FileKind,
    /// The interfaces, indexed by [`CapturedPacket::interface`]. Exactly one for pcap.
    pub interfaces: Vec<InterfaceInfo>,
}

impl CaptureFormat {
    /// A classic pcap format with one interface.
    pub fn pcap(link_type: LinkType, snaplen: u32, ts_resolution: TimestampResolution) -> Self {
        Self {
            kind: FileKind::Pcap,
            interfaces: vec![InterfaceInfo {
                link_type,
                snaplen,
                ts_resolution,
                ts_offset: 0,
            }],
        }
    }

    /// A pcapng format with the given interfaces.
    pub fn pcapng(interfaces: Vec<InterfaceInfo>) -> Self {
        Self {
            kind: FileKind::PcapNg,
            interfaces,
        }
    }
}
