//! Applies a connection's sequence adjustment to one TCP segment in place: the sequence
//! number, the acknowledgment number and the edges of every SACK block (RFC 2018, D-SACK
//! included), with the TCP checksum updated incrementally (RFC 1624) so that a segment that
//! arrived with a bad checksum leaves with a bad one.
//!
//! Owns only the byte work; what the shifts are is [`SeqAdjust`]'s business. It never changes
//! a segment's length or payload (the ALG's rewrite does), never fixes the pseudo-header part
//! of the checksum for a length change, and never panics on malformed bytes: a header too
//! short for the fixed fields is left alone, and options it cannot walk are left untouched.

use super::checksum::{update32, update_bytes};
use super::fields::tcp::{
    ACK, ACK_FLAG, CHECKSUM, DATA_OFFSET, FLAGS, MAX_HEADER_LEN, MAX_SACK_BLOCKS, MIN_HEADER_LEN,
    OPT_END, OPT_HEADER_LEN, OPT_NOP, OPT_SACK, SACK_BLOCK_LEN, SEQ,
};
use super::fields::{get_u16, get_u32, set_u16, set_u32};
use crate::engine::conntrack::seqadj::SeqAdjust;

/// Most SACK options that fit in 40 option bytes.
const MAX_SACK_OPTIONS: usize =
    (MAX_HEADER_LEN - MIN_HEADER_LEN) / (OPT_HEADER_LEN + SACK_BLOCK_LEN);

/// Shifts a TCP segment's seq by `sender` and its ack (only when the ACK flag is set) and
/// every SACK block (option kind 5, 1..=4 blocks; also D-SACK) by `receiver_acks` (the adjust
/// of the opposite direction), updating the TCP checksum incrementally so a bad checksum stays
/// bad. `segment` starts at the TCP header.
///
/// A SACK block's right edge maps like an ack ([`SeqAdjust::unmap_ack`]), its left edge with
/// [`SeqAdjust::unmap_sack_start`]; a block that falls wholly inside one replacement then
/// claims no original byte and is written as the empty block `[right, right)`.
pub fn adjust_segment(segment: &mut [u8], sender: &SeqAdjust, receiver_acks: &SeqAdjust) {
    if segment.len() < MIN_HEADER_LEN {
        return;
    }
    if sender.is_active() {
        let seq = get_u32(segment, SEQ);
        write_u32(segment, SEQ, sender.map_seq(seq));
    }
    if !receiver_acks.is_active() {
        return;
    }
    if segment[FLAGS] & ACK_FLAG != 0 {
        let ack = get_u32(segment, ACK);
        write_u32(segment, ACK, receiver_acks.unmap_ack(ack));
    }
    adjust_sack_blocks(segment, receiver_acks);
}

/// Writes a u32 at an even `offset` of the segment, updating the checksum.
fn write_u32(segment: &mut [u8], offset: usize, value: u32) {
    let old = get_u32(segment, offset);
    if old == value {
        return;
    }
    let checksum = update32(get_u16(segment, CHECKSUM), old, value);
    set_u16(segment, CHECKSUM, checksum);
    set_u32(segment, offset, value);
}

/// Where the SACK options sit: (offset of the option's kind byte, option length).
struct SackOptions {
    found: [(usize, usize); MAX_SACK_OPTIONS],
    count: usize,
}

/// Walks the options in `[MIN_HEADER_LEN, header_len)`; `None` when they are malformed (an
/// option length below 2 or past the header, a SACK length that is not 2 + 8n with
/// 1 <= n <= 4).
fn find_sack_options(segment: &[u8], header_len: usize) -> Option<SackOptions> {
    let mut sacks = SackOptions {
        found: [(0, 0); MAX_SACK_OPTIONS],
        count: 0,
    };
    let mut at = MIN_HEADER_LEN;
    while at < header_len {
        match *segment.get(at)? {
            OPT_END => break,
            OPT_NOP => at += 1,
            kind => {
                if at + 1 >= header_len {
                    return None;
                }
                let len = usize::from(*segment.get(at + 1)?);
                if len < OPT_HEADER_LEN || at + len > header_len {
                    return None;
                }
                if kind == OPT_SACK {
                    let blocks = len - OPT_HEADER_LEN;
                    let whole = blocks % SACK_BLOCK_LEN == 0;
                    let count = blocks / SACK_BLOCK_LEN;
                    if !whole || !(1..=MAX_SACK_BLOCKS).contains(&count) {
                        return None;
                    }
                    *sacks.found.get_mut(sacks.count)? = (at, len);
                    sacks.count += 1;
                }
                at += len;
            }
        }
    }
    Some(sacks)
}

/// `a < b` in sequence space.
fn seq_before(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) > 0
}

/// Maps the edges of every SACK block. The options area starts at an even offset (20) and
/// has a length that is a multiple of 4, so one incremental update over all of it is right
/// whatever the (possibly odd) offsets of the blocks inside.
fn adjust_sack_blocks(segment: &mut [u8], receiver_acks: &SeqAdjust) {
    let header_len = usize::from(segment[DATA_OFFSET] >> 4) * 4;
    if header_len <= MIN_HEADER_LEN || header_len > segment.len() {
        return;
    }
    let Some(sacks) = find_sack_options(segment, header_len) else {
        return;
    };
    if sacks.count == 0 {
        return;
    }
    let options_len = header_len - MIN_HEADER_LEN;
    let mut before = [0u8; MAX_HEADER_LEN - MIN_HEADER_LEN];
    before[..options_len].copy_from_slice(&segment[MIN_HEADER_LEN..header_len]);

    for &(at, len) in &sacks.found[..sacks.count] {
        let mut block = at + OPT_HEADER_LEN;
        while block + SACK_BLOCK_LEN <= at + len {
            let left = get_u32(segment, block);
            let right = get_u32(segment, block + 4);
            let new_right = receiver_acks.unmap_ack(right);
            let mut new_left = receiver_acks.unmap_sack_start(left);
            if seq_before(left, right) && !seq_before(new_left, new_right) {
                new_left = new_right;
            }
            set_u32(segment, block, new_left);
            set_u32(segment, block + 4, new_right);
            block += SACK_BLOCK_LEN;
        }
    }

    let after = &segment[MIN_HEADER_LEN..header_len];
    if after != &before[..options_len] {
        let checksum = update_bytes(get_u16(segment, CHECKSUM), &before[..options_len], after);
        set_u16(segment, CHECKSUM, checksum);
    }
}
