//! Capture files: finding the IP packet inside a captured link-layer frame.
//!
//! Owns link layers. It never interprets IP or TCP beyond the length fields needed to strip
//! link-layer padding, and it never decides what happens to a packet.
//!
//! - [`link`]: [`LinkType`], [`ip_offset`], [`ip_packet_len`], [`split_frame`].

pub mod link;

pub use link::{ip_offset, ip_packet_len, split_frame, FrameParts, LinkError, LinkType};
