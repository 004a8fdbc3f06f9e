//! Errors of capture-file reading and writing.
//!
//! Owns the error type only. Every variant names the file; reading errors also name the byte
//! offset of the record or block at fault and the number of the packet being read (1-based:
//! packet `n` failed, packets `1..n` were delivered and stay valid).

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::link::LinkType;
use super::timestamp::TimestampResolution;

/// What went wrong reading or writing a capture file.
#[derive(Debug, Error)]
pub enum CaptureError {
    /// The operating system refused to open, read, create or write the file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The file starts with neither a pcap nor a pcapng magic number.
    #[error("{}: not a pcap or pcapng file (first bytes {magic:02x?})", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// The first (up to four) bytes of the file.
        magic: Vec<u8>,
    },
    /// The file ends in the middle of its header or of a record.
    #[error("{}: truncated at byte {offset}: the file ends inside the {what} (packet {packet})", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Byte offset of the incomplete header, record or block.
        offset: u64,
        /// Number of the packet being read (1-based).
        packet: u64,
        /// What was incomplete ("file header", "record or block").
        what: &'static str,
    },
    /// A header, record or block is malformed.
    #[error("{}: corrupt data at byte {offset} (packet {packet}): {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the malformed header, record or block.
        offset: u64,
        /// Number of the packet being read (1-based).
        packet: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// A record or block is larger than the reader accepts, most likely a corrupt length.
    #[error("{}: record or block at byte {offset} (packet {packet}) is larger than the {limit}-byte limit; corrupt length field?", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record or block.
        offset: u64,
        /// Number of the packet being read (1-based).
        packet: u64,
        /// Largest record or block the reader buffers.
        limit: usize,
    },
    /// The writer was asked for a packet on an interface the file does not describe.
    #[error("{}: no interface {interface} in this capture ({count} described)", path.display())]
    NoSuchInterface {
        /// The file.
        path: PathBuf,
        /// The interface asked for.
        interface: usize,
        /// How many interfaces the file describes.
        count: usize,
    },
    /// The writer cannot express this format: a classic pcap file with other than one
    /// interface, or with a resolution pcap has no magic number for.
    #[error("{}: cannot write {detail}", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// What cannot be written.
        detail: String,
    },
    /// A timestamp does not fit the file's resolution and time fields.
    #[error("{}: timestamp {seconds}.{nanos:09} s does not fit {resolution} ticks", path.display())]
    TimestampOutOfRange {
        /// The file.
        path: PathBuf,
        /// Whole seconds since the epoch.
        seconds: u64,
        /// Nanoseconds within the second.
        nanos: u32,
        /// The interface's timestamp resolution.
        resolution: TimestampResolution,
    },
    /// A frame is too long for a 32-bit captured-length field.
    #[error("{}: a frame of {len} bytes does not fit a capture record", path.display())]
    FrameTooLong {
        /// The file.
        path: PathBuf,
        /// Frame length in bytes.
        len: usize,
    },
    /// A link type that the pcapng interface block's 16-bit field cannot hold.
    #[error("{}: {link_type} does not fit a pcapng interface description", path.display())]
    LinkTypeTooLarge {
        /// The file.
        path: PathBuf,
        /// The link type.
        link_type: LinkType,
    },
}
