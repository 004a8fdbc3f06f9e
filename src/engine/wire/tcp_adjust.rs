//! Applies a connection's sequence adjustment to one TCP segment in place: the sequence
//! number, the acknowledgment number and the edges of every SACK block (RFC 2018, D-SACK
//! included), with the TCP checksum updated incrementally (RFC 1624) so that a segment that
//! arrived with a bad checksum leaves with a bad one.
//!
//! Owns only the byte work; what the shifts are is [`SeqAdjust`]'s business. It never changes
//! a segment's length or payload (the ALG's rewrite does), never fixes the pseudo-header part
//! of the checksum for a length change, and never panics on malformed bytes: a header the
//! [`TcpView`] refuses is left alone, and options it cannot walk are left untouched.

use super::fields::tcp::{
    ACK_FLAG, MAX_HEADER_LEN, MAX_SACK_BLOCKS, MIN_HEADER_LEN, OPT_END, OPT_HEADER_LEN, OPT_NOP,
    OPT_SACK, SACK_BLOCK_LEN, SYN,
};
use super::fields::{get_u32, set_u32};
use super::seq::SeqNumber;
use super::view::TcpView;
use crate::engine::conntrack::seqadj::SeqAdjust;

/// Most SACK options that fit in 40 option bytes.
const MAX_SACK_OPTIONS: usize =
    (MAX_HEADER_LEN - MIN_HEADER_LEN) / (OPT_HEADER_LEN + SACK_BLOCK_LEN);

/// Shifts a TCP segment's seq by `sender` and its ack (only when the ACK flag is set) and
/// every SACK block (option kind 5, 1..=4 blocks; also D-SACK) by `receiver_acks` (the adjust
/// of the opposite direction), updating the TCP checksum incrementally so a bad checksum stays
/// bad. `segment` starts at the TCP header. A SYN's seq is its sender's ISN, before any byte a
/// rewrite could shift: it is never moved (a SYN retransmitted late in a connection whose
/// early rewrites were folded must not reach the receiver as a SYN with another ISN).
///
/// A SACK block's right edge maps like an ack ([`SeqAdjust::unmap_ack`]), its left edge with
/// [`SeqAdjust::unmap_sack_start`]; a block that falls wholly inside one replacement then
/// claims no original byte and is written as the empty block `[right, right)`.
///
/// The writes go through [`TcpView`], whose setters keep the checksum; a segment the view
/// refuses (shorter than its fixed header, or a data offset below 5 or past the bytes given:
/// never one the parser accepted) is left alone.
pub fn adjust_segment(segment: &mut [u8], sender: &SeqAdjust, receiver_acks: &SeqAdjust) {
    let Ok(mut tcp) = TcpView::new_checked(segment) else {
        return;
    };
    if sender.is_active() && !tcp.has(SYN) {
        tcp.set_seq_number(sender.map_seq(tcp.seq_number()));
    }
    if !receiver_acks.is_active() {
        return;
    }
    if tcp.has(ACK_FLAG) {
        tcp.set_ack_number(receiver_acks.unmap_ack(tcp.ack_number()));
    }
    adjust_sack_blocks(&mut tcp, receiver_acks);
}

/// Where the SACK options sit in the option bytes: (offset of the kind byte, option length).
struct SackOptions {
    found: [(usize, usize); MAX_SACK_OPTIONS],
    count: usize,
}

/// Walks the option bytes; `None` when they are malformed (an option length below 2 or past
/// the header, a SACK length that is not 2 + 8n with 1 <= n <= 4).
fn find_sack_options(options: &[u8]) -> Option<SackOptions> {
    let mut sacks = SackOptions {
        found: [(0, 0); MAX_SACK_OPTIONS],
        count: 0,
    };
    let end = options.len();
    let mut at = 0;
    while at < end {
        match options[at] {
            OPT_END => break,
            OPT_NOP => at += 1,
            kind => {
                if at + 1 >= end {
                    return None;
                }
                let len = usize::from(options[at + 1]);
                if len < OPT_HEADER_LEN || at + len > end {
                    return None;
                }
                if kind == OPT_SACK {
                    let blocks = len - OPT_HEADER_LEN;
                    let whole = blocks.is_multiple_of(SACK_BLOCK_LEN);
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

/// Maps the edges of every SACK block; [`TcpView::edit_options`] folds the change into the
/// checksum with one update over the whole options area.
fn adjust_sack_blocks(tcp: &mut TcpView<&mut [u8]>, receiver_acks: &SeqAdjust) {
    let Some(sacks) = find_sack_options(tcp.options()) else {
        return;
    };
    if sacks.count == 0 {
        return;
    }
    tcp.edit_options(|options| {
        for &(at, len) in &sacks.found[..sacks.count] {
            let mut block = at + OPT_HEADER_LEN;
            while block + SACK_BLOCK_LEN <= at + len {
                let left = get_u32(options, block);
                let right = get_u32(options, block + 4);
                let new_right = receiver_acks.unmap_ack(right);
                let mut new_left = receiver_acks.unmap_sack_start(left);
                if SeqNumber(left).is_before(right) && !SeqNumber(new_left).is_before(new_right) {
                    new_left = new_right;
                }
                set_u32(options, block, new_left);
                set_u32(options, block + 4, new_right);
                block += SACK_BLOCK_LEN;
            }
        }
    });
}

#[cfg(test)]
mod test {
    use etherparse::TcpHeader;
    use proptest::prelude::*;

    use super::super::fields::tcp::{ACK, CHECKSUM, DATA_OFFSET, FLAGS, SEQ};
    use super::*;

    const SRC: [u8; 4] = [10, 77, 0, 2];
    const DST: [u8; 4] = [198, 51, 100, 2];
    const PAYLOAD: &[u8] = b"PORT 198,51,100,1,4,126\r\n";

    /// A segment with a right checksum, built and summed by etherparse (independent of ours).
    fn segment(seq: u32, ack: Option<u32>, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut header = TcpHeader::new(40000, 21, seq, 64240);
        header.ack = ack.is_some();
        header.acknowledgment_number = ack.unwrap_or(0x5a5a_5a5a);
        header.psh = true;
        header.set_options_raw(options).unwrap();
        header.checksum = header.calc_checksum_ipv4_raw(SRC, DST, payload).unwrap();
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    /// Full recomputation of the checksum, compared with the one in the segment.
    fn checksum_verifies(bytes: &[u8]) -> bool {
        let (header, payload) = TcpHeader::from_slice(bytes).unwrap();
        header.calc_checksum_ipv4_raw(SRC, DST, payload).unwrap() == header.checksum
    }

    fn sack_option(blocks: &[(u32, u32)]) -> Vec<u8> {
        let mut option = vec![OPT_SACK, (2 + 8 * blocks.len()) as u8];
        for (left, right) in blocks {
            option.extend_from_slice(&left.to_be_bytes());
            option.extend_from_slice(&right.to_be_bytes());
        }
        option
    }

    fn blocks_at(bytes: &[u8], at: usize, count: usize) -> Vec<(u32, u32)> {
        (0..count)
            .map(|i| {
                let block = at + 2 + 8 * i;
                (get_u32(bytes, block), get_u32(bytes, block + 4))
            })
            .collect()
    }

    /// Client -> server rewrites: 10 bytes at 1000 became 15 (+5), 20 at 2000 became 12 (-8).
    fn client_adjust() -> SeqAdjust {
        let mut adjust = SeqAdjust::default();
        adjust.record(1000, 10, 15).unwrap();
        adjust.record(2000, 20, 12).unwrap();
        adjust
    }

    /// Server -> client: 30 bytes at 7000 became 33 (+3).
    fn server_adjust() -> SeqAdjust {
        let mut adjust = SeqAdjust::default();
        adjust.record(7000, 30, 33).unwrap();
        adjust
    }

    #[test]
    fn seq_and_ack_shift_with_a_right_checksum() {
        for payload in [PAYLOAD, &PAYLOAD[..24], b""] {
            let mut bytes = segment(1500, Some(7100), &[], payload);
            adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
            assert_eq!(get_u32(&bytes, SEQ), 1505);
            assert_eq!(get_u32(&bytes, ACK), 7097);
            assert!(checksum_verifies(&bytes));
        }
    }

    #[test]
    fn ack_untouched_without_the_ack_flag() {
        let mut bytes = segment(999, None, &[], PAYLOAD);
        let ack = get_u32(&bytes, ACK);
        let mut shift_all = SeqAdjust::default();
        shift_all.record(0, 1, 100).unwrap();
        adjust_segment(&mut bytes, &client_adjust(), &shift_all);
        assert_eq!(get_u32(&bytes, ACK), ack);
        assert_eq!(get_u32(&bytes, SEQ), 999);
        assert!(checksum_verifies(&bytes));
    }

    #[test]
    fn a_syn_keeps_its_isn_even_after_rewrites_were_folded() {
        let mut folded = client_adjust();
        folded.forget_below(3000);
        for adjust in [client_adjust(), folded] {
            // A SYN/ACK retransmitted late: the ack still maps, the seq (the ISN) stays.
            let mut bytes = segment(1500, Some(7100), &[], b"");
            bytes[FLAGS] |= SYN;
            let mut header = TcpHeader::from_slice(&bytes).unwrap().0;
            header.checksum = header.calc_checksum_ipv4_raw(SRC, DST, b"").unwrap();
            bytes[..header.header_len()].copy_from_slice(&header.to_bytes());
            adjust_segment(&mut bytes, &adjust, &server_adjust());
            assert_eq!(get_u32(&bytes, SEQ), 1500);
            assert_eq!(get_u32(&bytes, ACK), 7097);
            assert!(checksum_verifies(&bytes));
        }
    }

    #[test]
    fn inactive_adjusts_leave_the_segment_alone() {
        let original = segment(1500, Some(7100), &sack_option(&[(7200, 7300)]), PAYLOAD);
        let mut bytes = original.clone();
        adjust_segment(&mut bytes, &SeqAdjust::default(), &SeqAdjust::default());
        assert_eq!(bytes, original);
    }

    #[test]
    fn bad_checksum_stays_bad() {
        let mut bytes = segment(1500, Some(7100), &[1, 1], PAYLOAD);
        bytes[CHECKSUM + 1] ^= 0x21;
        adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
        assert!(!checksum_verifies(&bytes));
        // Undoing the corruption shows the update itself was exact.
        bytes[CHECKSUM + 1] ^= 0x21;
        assert!(checksum_verifies(&bytes));
    }

    /// Rewritten-space blocks and what they must become in the server's original space.
    const BLOCKS: [((u32, u32), (u32, u32)); 4] = [
        ((7103, 7203), (7100, 7200)),
        ((7010, 7040), (7030, 7037)), // left inside the replacement: rounded up
        ((6900, 7020), (6900, 7000)), // right inside: rounded down
        ((7005, 7020), (7000, 7000)), // wholly inside: emptied
    ];

    fn check_sack(options: &[u8], at: usize, count: usize) {
        let mut bytes = segment(1500, Some(7303), options, PAYLOAD);
        assert_eq!(
            blocks_at(&bytes, at, count),
            BLOCKS[..count].iter().map(|b| b.0).collect::<Vec<_>>()
        );
        adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
        assert_eq!(get_u32(&bytes, ACK), 7300);
        assert_eq!(
            blocks_at(&bytes, at, count),
            BLOCKS[..count].iter().map(|b| b.1).collect::<Vec<_>>(),
            "option at {at}"
        );
        assert!(checksum_verifies(&bytes), "option at {at}");
    }

    #[test]
    fn sack_blocks_at_aligned_offsets() {
        // NOP NOP SACK: blocks start at 24.
        for count in 1..=4 {
            let mut options = vec![OPT_NOP, OPT_NOP];
            let blocks: Vec<_> = BLOCKS[..count].iter().map(|b| b.0).collect();
            options.extend(sack_option(&blocks));
            check_sack(&options, 22, count);
        }
        // Timestamps, NOP NOP, SACK with three blocks (the usual Linux layout).
        let mut options = vec![OPT_NOP, OPT_NOP, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        options.extend([OPT_NOP, OPT_NOP]);
        options.extend(sack_option(
            &BLOCKS[..3].iter().map(|b| b.0).collect::<Vec<_>>(),
        ));
        check_sack(&options, 34, 3);
    }

    #[test]
    fn sack_blocks_at_odd_offsets() {
        for count in 1..=4 {
            let mut options = vec![OPT_NOP];
            let blocks: Vec<_> = BLOCKS[..count].iter().map(|b| b.0).collect();
            options.extend(sack_option(&blocks));
            check_sack(&options, 21, count);
        }
        // Timestamps then one NOP: SACK kind at 31, blocks at 33.
        let mut options = vec![8, 10, 0, 0, 0, 1, 0, 0, 0, 2, OPT_NOP];
        options.extend(sack_option(
            &BLOCKS[..3].iter().map(|b| b.0).collect::<Vec<_>>(),
        ));
        check_sack(&options, 31, 3);
        // Window scale (3 bytes) in front: SACK at 23.
        let mut options = vec![3, 3, 7];
        options.extend(sack_option(
            &BLOCKS[..2].iter().map(|b| b.0).collect::<Vec<_>>(),
        ));
        check_sack(&options, 23, 2);
    }

    #[test]
    fn two_sack_options_are_both_adjusted() {
        let mut options = vec![OPT_NOP];
        options.extend(sack_option(&[BLOCKS[0].0]));
        options.extend(sack_option(&[BLOCKS[1].0]));
        let mut bytes = segment(1500, Some(7303), &options, PAYLOAD);
        adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
        assert_eq!(blocks_at(&bytes, 21, 1), [BLOCKS[0].1]);
        assert_eq!(blocks_at(&bytes, 31, 1), [BLOCKS[1].1]);
        assert!(checksum_verifies(&bytes));
    }

    #[test]
    fn dsack_block_below_the_ack() {
        // D-SACK: the first block reports a duplicate below the cumulative ack.
        let options = [
            vec![OPT_NOP, OPT_NOP],
            sack_option(&[(7033, 7053), (8003, 8103)]),
        ]
        .concat();
        let mut bytes = segment(1500, Some(7503), &options, PAYLOAD);
        adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
        assert_eq!(get_u32(&bytes, ACK), 7500);
        assert_eq!(blocks_at(&bytes, 22, 2), [(7030, 7050), (8000, 8100)]);
        assert!(checksum_verifies(&bytes));
    }

    #[test]
    fn malformed_options_are_left_untouched() {
        let sack = sack_option(&[BLOCKS[0].0]);
        let layouts: [Vec<u8>; 5] = [
            [vec![8, 0], sack.clone()].concat(),              // length 0
            [vec![8, 1], sack.clone()].concat(),              // length 1
            [sack.clone(), vec![8, 40]].concat(),             // runs past the header
            vec![OPT_SACK, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0], // not 2 + 8n
            [vec![OPT_NOP; 3], vec![OPT_SACK]].concat(),      // length byte past the header
        ];
        for options in layouts {
            let mut bytes = segment(1500, Some(7303), &options, PAYLOAD);
            let before = bytes[MIN_HEADER_LEN..bytes.len() - PAYLOAD.len()].to_vec();
            adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
            assert_eq!(
                &bytes[MIN_HEADER_LEN..bytes.len() - PAYLOAD.len()],
                &before[..]
            );
            assert_eq!(get_u32(&bytes, SEQ), 1505);
            assert_eq!(get_u32(&bytes, ACK), 7300);
            assert!(checksum_verifies(&bytes), "{options:?}");
        }
    }

    #[test]
    fn end_of_options_stops_the_walk() {
        // After END, bytes are padding and must not be read as a SACK.
        let options = [vec![OPT_END, OPT_NOP], sack_option(&[BLOCKS[0].0])].concat();
        let mut bytes = segment(1500, Some(7303), &options, PAYLOAD);
        adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
        assert_eq!(blocks_at(&bytes, 22, 1), [BLOCKS[0].0]);
        assert!(checksum_verifies(&bytes));
    }

    #[test]
    fn short_or_lying_headers_do_not_panic() {
        let full = segment(1500, Some(7303), &sack_option(&[BLOCKS[0].0]), PAYLOAD);
        for len in 0..full.len() {
            let mut bytes = full[..len].to_vec();
            adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
        }
        for offset in 0..16u8 {
            let mut bytes = full[..32].to_vec();
            bytes[DATA_OFFSET] = offset << 4;
            adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut bytes = bytes;
            adjust_segment(&mut bytes, &client_adjust(), &server_adjust());
        }

        #[test]
        fn sack_anywhere_keeps_the_checksum_right(
            lead in proptest::collection::vec(prop_oneof![Just(vec![OPT_NOP]), Just(vec![3u8, 3, 9]), Just(vec![2u8, 4, 5, 180])], 0..4),
            blocks in proptest::collection::vec((any::<u32>(), any::<u32>()), 1..=4),
            isn in any::<u32>(),
            rewrites in proptest::collection::vec((0u32..200, 0u32..40, 0u32..40), 0..6),
            payload in proptest::collection::vec(any::<u8>(), 0..9),
        ) {
            let mut lead = lead;
            while lead.iter().map(Vec::len).sum::<usize>() + 2 + 8 * blocks.len() > 40 {
                lead.pop();
            }
            let lead: Vec<u8> = lead.concat();
            let mut receiver = SeqAdjust::default();
            let mut at = isn;
            for (gap, old, new) in rewrites {
                at = at.wrapping_add(gap);
                receiver.record(at, old, new).unwrap();
                at = at.wrapping_add(old);
            }
            let blocks: Vec<(u32, u32)> = blocks
                .into_iter()
                .map(|(l, r)| (isn.wrapping_add(l % 600), isn.wrapping_add(r % 600)))
                .collect();
            let options = [lead.clone(), sack_option(&blocks)].concat();
            let mut bytes = segment(77, Some(isn.wrapping_add(300)), &options, &payload);
            adjust_segment(&mut bytes, &SeqAdjust::default(), &receiver);
            prop_assert!(checksum_verifies(&bytes));
            let at = MIN_HEADER_LEN + lead.len();
            for (i, (left, right)) in blocks_at(&bytes, at, blocks.len()).into_iter().enumerate() {
                let (old_left, old_right) = blocks[i];
                prop_assert_eq!(right, receiver.unmap_ack(old_right));
                let left_mapped = receiver.unmap_sack_start(old_left);
                prop_assert!(left == left_mapped || left == right);
            }
        }
    }
}
