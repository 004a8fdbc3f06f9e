//! Interpretation of parsed pcap / pcapng blocks: which ones describe interfaces, which carry
//! packets, and how a packet block becomes a [`CapturedPacket`].
//!
//! Owns the per-file bookkeeping (sections, interface numbering, byte order, last timestamp).
//! It never reads the file and never manages buffers: [`super::reader`] hands it one parsed
//! block at a time. Problems come back as a plain description; the reader adds file, offset
//! and packet number.

use std::time::Duration;

use pcap_parser::pcapng::{Block, EnhancedPacketBlock, SimplePacketBlock, UnknownBlock};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{LegacyPcapBlock, PcapBlockOwned, PcapHeader};

use super::link::LinkType;
use super::timestamp::TimestampResolution;
use super::{CaptureFormat, CapturedPacket, InterfaceInfo};

/// Block type of the obsolete Packet Block, which pcap-parser reports as unknown.
const PB_TYPE: u32 = 2;
/// Fixed part of an obsolete Packet Block's body: interface id (2), drops count (2),
/// timestamp (4 + 4), captured length (4), original length (4).
const PB_FIXED_LEN: usize = 20;

/// What one block meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The block carried a packet, now in the caller's [`CapturedPacket`].
    Packet,
    /// The block carried no packet (header, interface description, statistics, ...).
    Metadata,
    /// The block carries a packet but no packet buffer was given: leave it unconsumed.
    PacketAhead,
}

/// Where the blocks read so far have left us.
#[derive(Debug, Default)]
pub(super) struct FileState {
    /// Index in [`CaptureFormat::interfaces`] of the current section's interface 0.
    section_base: usize,
    /// Whether the current pcapng section is big-endian.
    big_endian: bool,
    /// Timestamp of the previous packet, given to Simple Packet Blocks (which have none).
    last_timestamp: Duration,
}

/// Interprets one block, updating `state` and `format`, and filling `packet` for packet blocks.
pub(super) fn handle_block(
    block: &PcapBlockOwned<'_>,
    state: &mut FileState,
    format: &mut CaptureFormat,
    packet: Option<&mut CapturedPacket>,
) -> Result<Step, String> {
    match block {
        PcapBlockOwned::LegacyHeader(header) => {
            format.interfaces = vec![pcap_interface(header)];
            Ok(Step::Metadata)
        }
        PcapBlockOwned::Legacy(record) => match packet {
            Some(packet) => {
                pcap_record(record, format, packet)?;
                Ok(Step::Packet)
            }
            None => Ok(Step::PacketAhead),
        },
        PcapBlockOwned::NG(block) => ng_block(block, state, format, packet),
    }
}

/// The single interface a classic pcap file header describes.
fn pcap_interface(header: &PcapHeader) -> InterfaceInfo {
    // The upper bits of the link-type field may carry FCS information; the type is 16 bits.
    let link_type = LinkType::from_u32(header.network.0 as u32 & 0xffff);
    let ts_resolution = if header.is_nanosecond_precision() {
        TimestampResolution::NANO
    } else {
        TimestampResolution::MICRO
    };
    InterfaceInfo {
        link_type,
        snaplen: header.snaplen,
        ts_resolution,
        ts_offset: 0,
    }
}

fn pcap_record(
    record: &LegacyPcapBlock<'_>,
    format: &CaptureFormat,
    packet: &mut CapturedPacket,
) -> Result<(), String> {
    let interface = format
        .interfaces
        .first()
        .ok_or("packet record before the file header")?;
    let res = interface.ts_resolution;
    let per_sec = res.ticks_per_second().unwrap_or(1_000_000);
    let timestamp = u64::from(record.ts_sec)
        .checked_mul(per_sec)
        .and_then(|ticks| ticks.checked_add(u64::from(record.ts_usec)))
        .and_then(|ticks| res.ticks_to_duration(ticks, 0))
        .ok_or("timestamp out of range")?;
    fill(
        packet,
        timestamp,
        0,
        interface.link_type,
        record.data,
        record.origlen,
    );
    Ok(())
}

fn ng_block(
    block: &Block<'_>,
    state: &mut FileState,
    format: &mut CaptureFormat,
    packet: Option<&mut CapturedPacket>,
) -> Result<Step, String> {
    let carries_packet = match block {
        Block::EnhancedPacket(_) | Block::SimplePacket(_) => true,
        Block::Unknown(unknown) => is_obsolete_packet_block(unknown, state.big_endian),
        _ => false,
    };
    let packet = match (carries_packet, packet) {
        (true, None) => return Ok(Step::PacketAhead),
        (true, Some(packet)) => packet,
        (false, _) => {
            ng_metadata(block, state, format)?;
            return Ok(Step::Metadata);
        }
    };
    match block {
        Block::EnhancedPacket(epb) => enhanced_packet(epb, state, format, packet)?,
        Block::SimplePacket(spb) => simple_packet(spb, state, format, packet)?,
        Block::Unknown(pb) => obsolete_packet(pb, state, format, packet)?,
        _ => return Ok(Step::Metadata),
    }
    state.last_timestamp = packet.timestamp;
    Ok(Step::Packet)
}

fn ng_metadata(
    block: &Block<'_>,
    state: &mut FileState,
    format: &mut CaptureFormat,
) -> Result<(), String> {
    match block {
        Block::SectionHeader(shb) => {
            state.section_base = format.interfaces.len();
            state.big_endian = shb.big_endian();
        }
        Block::InterfaceDescription(idb) => {
            let number = format.interfaces.len().saturating_sub(state.section_base);
            let ts_resolution =
                TimestampResolution::from_code(idb.if_tsresol).ok_or_else(|| {
                    format!(
                        "interface {number} has an unusable if_tsresol code {:#04x}",
                        idb.if_tsresol
                    )
                })?;
            format.interfaces.push(InterfaceInfo {
                link_type: LinkType::from_u32(u32::from(idb.linktype.0 as u16)),
                snaplen: idb.snaplen,
                ts_resolution,
                ts_offset: idb.if_tsoffset,
            });
        }
        _ => {}
    }
    Ok(())
}

/// The global index and description of the current section's interface `id`.
fn interface(
    id: u32,
    state: &FileState,
    format: &CaptureFormat,
) -> Result<(usize, InterfaceInfo), String> {
    let described = format.interfaces.len().saturating_sub(state.section_base);
    usize::try_from(id)
        .ok()
        .filter(|id| *id < described)
        .and_then(|id| {
            let index = state.section_base.checked_add(id)?;
            Some((index, *format.interfaces.get(index)?))
        })
        .ok_or_else(|| {
            format!("packet block names interface {id}, but the section describes {described}")
        })
}

fn timestamp(info: &InterfaceInfo, high: u32, low: u32) -> Result<Duration, String> {
    let ticks = (u64::from(high) << 32) | u64::from(low);
    info.ts_resolution
        .ticks_to_duration(ticks, info.ts_offset)
        .ok_or_else(|| {
            format!(
                "timestamp {ticks} at {} is out of range",
                info.ts_resolution
            )
        })
}

fn enhanced_packet(
    epb: &EnhancedPacketBlock<'_>,
    state: &FileState,
    format: &CaptureFormat,
    packet: &mut CapturedPacket,
) -> Result<(), String> {
    let (index, info) = interface(epb.if_id, state, format)?;
    let timestamp = timestamp(&info, epb.ts_high, epb.ts_low)?;
    fill(
        packet,
        timestamp,
        index,
        info.link_type,
        epb.packet_data(),
        epb.origlen,
    );
    Ok(())
}

fn simple_packet(
    spb: &SimplePacketBlock<'_>,
    state: &FileState,
    format: &CaptureFormat,
    packet: &mut CapturedPacket,
) -> Result<(), String> {
    let (index, info) = interface(0, state, format)?;
    // The captured length is implicit: the original length, cut to the snapshot length.
    let mut len = spb.data.len().min(spb.origlen as usize);
    if info.snaplen != 0 {
        len = len.min(info.snaplen as usize);
    }
    let data = spb.data.get(..len).unwrap_or(spb.data);
    fill(
        packet,
        state.last_timestamp,
        index,
        info.link_type,
        data,
        spb.origlen,
    );
    Ok(())
}

fn is_obsolete_packet_block(block: &UnknownBlock<'_>, big_endian: bool) -> bool {
    // pcap-parser reads every block type little-endian.
    let block_type = if big_endian {
        block.block_type.swap_bytes()
    } else {
        block.block_type
    };
    block_type == PB_TYPE
}

fn obsolete_packet(
    pb: &UnknownBlock<'_>,
    state: &FileState,
    format: &CaptureFormat,
    packet: &mut CapturedPacket,
) -> Result<(), String> {
    let body = pb.data;
    let field = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = body.get(at..at + 4)?.try_into().ok()?;
        Some(if state.big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    };
    let too_short = || format!("packet block body of {} bytes is too short", body.len());
    let first = field(0).ok_or_else(too_short)?;
    // The interface id is the first 16-bit half, in the section's byte order.
    let if_id = if state.big_endian {
        first >> 16
    } else {
        first & 0xffff
    };
    let ts_high = field(4).ok_or_else(too_short)?;
    let ts_low = field(8).ok_or_else(too_short)?;
    let caplen = field(12).ok_or_else(too_short)?;
    let origlen = field(16).ok_or_else(too_short)?;
    let data = usize::try_from(caplen)
        .ok()
        .and_then(|len| body.get(PB_FIXED_LEN..PB_FIXED_LEN.checked_add(len)?))
        .ok_or_else(|| {
            format!(
                "packet block claims {caplen} captured bytes but holds {}",
                body.len().saturating_sub(PB_FIXED_LEN)
            )
        })?;
    let (index, info) = interface(if_id, state, format)?;
    let timestamp = timestamp(&info, ts_high, ts_low)?;
    fill(packet, timestamp, index, info.link_type, data, origlen);
    Ok(())
}

fn fill(
    packet: &mut CapturedPacket,
    timestamp: Duration,
    interface: usize,
    link_type: LinkType,
    data: &[u8],
    original_len: u32,
) {
    packet.timestamp = timestamp;
    packet.interface = interface;
    packet.link_type = link_type;
    packet.data.clear();
    packet.data.extend_from_slice(data);
    packet.original_len = original_len;
}
