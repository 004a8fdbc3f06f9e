//! Link layers of captured frames: which link types exist, where the IP packet starts inside
//! a frame, and how long the IP packet says it is.
//!
//! Owns link-header parsing only. It never reads files and never looks past the IP header's
//! length fields: validating the IP packet is the engine's job. Every function takes untrusted
//! bytes and reports short input as a value, never by panicking.

use std::fmt;

use thiserror::Error;

/// Link-layer header type of a capture interface (the LINKTYPE_* registry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// BSD loopback (0): a 4-byte address family in the capturing host's byte order.
    Null,
    /// Ethernet II (1), possibly with 802.1Q / 802.1ad VLAN tags.
    #[default]
    Ethernet,
    /// Raw IP (101; files from some BSDs carry the DLT values 12 or 14), IPv4 or IPv6.
    Raw,
    /// OpenBSD loopback (108): a 4-byte address family in network byte order.
    Loop,
    /// Linux cooked capture v1 (113), a 16-byte header ending in an EtherType.
    LinuxSll,
    /// Raw IPv4 (228).
    Ipv4,
    /// Raw IPv6 (229).
    Ipv6,
    /// Linux cooked capture v2 (276), a 20-byte header starting with an EtherType.
    LinuxSll2,
    /// Any other link type, by its LINKTYPE_* number.
    Other(u32),
}

impl LinkType {
    /// The link type a file's LINKTYPE value names.
    pub fn from_u32(value: u32) -> Self {
        match value {
            0 => Self::Null,
            1 => Self::Ethernet,
            12 | 14 | 101 => Self::Raw,
            108 => Self::Loop,
            113 => Self::LinuxSll,
            228 => Self::Ipv4,
            229 => Self::Ipv6,
            276 => Self::LinuxSll2,
            other => Self::Other(other),
        }
    }

    /// The LINKTYPE value to write into a file (raw IP is always written as 101).
    pub fn to_u32(self) -> u32 {
        match self {
            Self::Null => 0,
            Self::Ethernet => 1,
            Self::Raw => 101,
            Self::Loop => 108,
            Self::LinuxSll => 113,
            Self::Ipv4 => 228,
            Self::Ipv6 => 229,
            Self::LinuxSll2 => 276,
            Self::Other(value) => value,
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("BSD loopback"),
            Self::Ethernet => f.write_str("Ethernet"),
            Self::Raw => f.write_str("raw IP"),
            Self::Loop => f.write_str("OpenBSD loopback"),
            Self::LinuxSll => f.write_str("Linux cooked (SLL)"),
            Self::Ipv4 => f.write_str("raw IPv4"),
            Self::Ipv6 => f.write_str("raw IPv6"),
            Self::LinuxSll2 => f.write_str("Linux cooked v2 (SLL2)"),
            Self::Other(value) => write!(f, "link type {value}"),
        }
    }
}

/// Why a frame's link header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkError {
    /// The frame ends inside its link-layer header (including VLAN tags).
    #[error("{link_type} frame of {len} bytes is shorter than its {needed}-byte link header")]
    Truncated {
        /// Link type of the frame.
        link_type: LinkType,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes the frame has.
        len: usize,
    },
    /// The link type is not one this module can parse.
    #[error("unsupported {0}")]
    Unsupported(LinkType),
}

/// A frame split at the IP packet: `link_header ++ ip_packet ++ trailer` is the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameParts<'a> {
    /// Bytes before the IP packet.
    pub link_header: &'a [u8],
    /// The IP packet, cut to the length its header states when that is shorter than the
    /// rest of the frame.
    pub ip_packet: &'a [u8],
    /// Bytes after the IP packet: Ethernet padding, a frame check sequence, ...
    pub trailer: &'a [u8],
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const SLL_HEADER_LEN: usize = 16;
const SLL_PROTOCOL_AT: usize = 14;
const SLL_HATYPE_AT: usize = 2;
const SLL2_HEADER_LEN: usize = 20;
const SLL2_HATYPE_AT: usize = 8;
const ARPHRD_NETLINK: u16 = 824;
const LOOPBACK_HEADER_LEN: usize = 4;
/// Address families for IPv4 and IPv6 on the systems that write loopback captures
/// (IPv6: Linux 10, Windows 23, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30).
const AF_INET: u32 = 2;
const AF_INET6: [u32; 5] = [10, 23, 24, 28, 30];

/// Byte offset of the IP packet inside `frame`, read from its link-layer header.
///
/// `Ok(None)` for frames that carry no IP packet (ARP, LLDP, netlink, an unknown address
/// family...); the replay passes those through or skips them. When `Ok(Some(offset))`,
/// `offset <= frame.len()`; the IP packet itself (which may be empty) is not checked.
/// Raw link types return `Some(0)`. An Ethernet frame may carry any number of 802.1Q /
/// 802.1ad tags; so may a cooked (SLL/SLL2) frame whose protocol field is a VLAN EtherType.
pub fn ip_offset(link_type: LinkType, frame: &[u8]) -> Result<Option<usize>, LinkError> {
    let truncated = |needed: usize| LinkError::Truncated {
        link_type,
        needed,
        len: frame.len(),
    };
    match link_type {
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Ok(Some(0)),
        LinkType::Ethernet => {
            let ethertype =
                be16(frame, ETHERNET_HEADER_LEN - 2).ok_or(truncated(ETHERNET_HEADER_LEN))?;
            ethertype_payload(link_type, frame, ETHERNET_HEADER_LEN, ethertype)
        }
        LinkType::LinuxSll => {
            let protocol = be16(frame, SLL_PROTOCOL_AT).ok_or(truncated(SLL_HEADER_LEN))?;
            let hatype = be16(frame, SLL_HATYPE_AT).ok_or(truncated(SLL_HEADER_LEN))?;
            if hatype == ARPHRD_NETLINK {
                return Ok(None);
            }
            ethertype_payload(link_type, frame, SLL_HEADER_LEN, protocol)
        }
        LinkType::LinuxSll2 => {
            if frame.len() < SLL2_HEADER_LEN {
                return Err(truncated(SLL2_HEADER_LEN));
            }
            let protocol = be16(frame, 0).ok_or(truncated(SLL2_HEADER_LEN))?;
            let hatype = be16(frame, SLL2_HATYPE_AT).ok_or(truncated(SLL2_HEADER_LEN))?;
            if hatype == ARPHRD_NETLINK {
                return Ok(None);
            }
            ethertype_payload(link_type, frame, SLL2_HEADER_LEN, protocol)
        }
        LinkType::Null | LinkType::Loop => {
            let family = frame
                .get(..LOOPBACK_HEADER_LEN)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .ok_or(truncated(LOOPBACK_HEADER_LEN))?;
            // Null is in the writer's byte order, which the file does not record: try both.
            let candidates = if link_type == LinkType::Loop {
                [u32::from_be_bytes(family); 2]
            } else {
                [u32::from_le_bytes(family), u32::from_be_bytes(family)]
            };
            let is_ip = candidates
                .iter()
                .any(|af| *af == AF_INET || AF_INET6.contains(af));
            Ok(is_ip.then_some(LOOPBACK_HEADER_LEN))
        }
        LinkType::Other(_) => Err(LinkError::Unsupported(link_type)),
    }
}

/// Follows VLAN tags from an EtherType at the end of a `header_len`-byte header.
fn ethertype_payload(
    link_type: LinkType,
    frame: &[u8],
    header_len: usize,
    mut ethertype: u16,
) -> Result<Option<usize>, LinkError> {
    let mut offset = header_len;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        let needed = offset + VLAN_TAG_LEN;
        // A tag is 2 bytes of priority / VLAN id, then the next EtherType.
        ethertype = be16(frame, offset + 2).ok_or(LinkError::Truncated {
            link_type,
            needed,
            len: frame.len(),
        })?;
        offset = needed;
    }
    if frame.len() < offset {
        return Err(LinkError::Truncated {
            link_type,
            needed: offset,
            len: frame.len(),
        });
    }
    Ok(matches!(ethertype, ETHERTYPE_IPV4 | ETHERTYPE_IPV6).then_some(offset))
}

/// Reads a big-endian u16 at `at`, if the bytes are there.
fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

/// Length of the IP packet starting at `ip_bytes[0]`, as its header states: the IPv4 total
/// length, or the IPv6 payload length plus the 40-byte fixed header.
///
/// `None` when the bytes are too short for the fixed header (20 bytes for IPv4, 40 for IPv6),
/// when the version is neither 4 nor 6, for an IPv4 total length below 20 (as captured on a
/// host with segmentation offload, where it can be 0), and for an IPv6 payload length of 0
/// with a hop-by-hop header (a possible jumbogram). In all those cases the caller should keep
/// the whole rest of the frame. The value may exceed `ip_bytes.len()` (a truncated capture):
/// clamping it to the available bytes is the caller's job.
pub fn ip_packet_len(ip_bytes: &[u8]) -> Option<usize> {
    const IPV4_MIN_HEADER: usize = 20;
    const IPV6_HEADER: usize = 40;
    const IPV6_HOP_BY_HOP: u8 = 0;
    match ip_bytes.first()? >> 4 {
        4 if ip_bytes.len() >= IPV4_MIN_HEADER => {
            let total = usize::from(be16(ip_bytes, 2)?);
            (total >= IPV4_MIN_HEADER).then_some(total)
        }
        6 if ip_bytes.len() >= IPV6_HEADER => {
            let payload = usize::from(be16(ip_bytes, 4)?);
            if payload == 0 && ip_bytes.get(6) == Some(&IPV6_HOP_BY_HOP) {
                return None;
            }
            Some(payload + IPV6_HEADER)
        }
        _ => None,
    }
}

/// Splits `frame` into link header, IP packet and trailer ([`ip_offset`], then
/// [`ip_packet_len`] clamped to the frame). `Ok(None)` for frames without an IP packet.
pub fn split_frame(link_type: LinkType, frame: &[u8]) -> Result<Option<FrameParts<'_>>, LinkError> {
    let Some(offset) = ip_offset(link_type, frame)? else {
        return Ok(None);
    };
    let (link_header, rest) = frame.split_at(offset.min(frame.len()));
    let ip_len = ip_packet_len(rest).map_or(rest.len(), |len| len.min(rest.len()));
    let (ip_packet, trailer) = rest.split_at(ip_len);
    Ok(Some(FrameParts {
        link_header,
        ip_packet,
        trailer,
    }))
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
