//! Sequence-number adjustment after payload rewrites (the job of netfilter's
//! `nf_conntrack_seqadj.c`).
//!
//! Owns, for one direction of a TCP connection, the list of payload rewrites an ALG made, and
//! the two mappings they imply: the sender's original sequence numbers to the rewritten stream
//! the receiver sees ([`SeqAdjust::map_seq`]), and the receiver's acknowledgments and SACK edges
//! back to the sender's original stream ([`SeqAdjust::unmap_ack`],
//! [`SeqAdjust::unmap_sack_start`]). Unlike netfilter (two offsets per direction) or libalias
//! (three), it remembers every rewrite until the receiver has acknowledged it, so
//! retransmissions before, at and after any rewrite map right. It never touches packet bytes
//! (see `wire::tcp_adjust`) and never decides whether a rewrite is allowed (the ALG does).
//!
//! # Sequence-space assumption
//! All comparisons are wrap-safe: two sequence numbers are ordered by their distance taken as
//! an `i32`. That is right as long as every rewrite not yet folded by
//! [`SeqAdjust::forget_below`], and every sequence number or ack asked about, lie within
//! 2^31 bytes of each other — true of any live TCP window (at most 2^30 bytes with window
//! scaling). Callers must fold acknowledged rewrites as acks arrive, or the bound on pending
//! rewrites is reached and, on a very long connection, the assumption breaks. Answers for
//! numbers outside that window are meaningless but never panic.

use crate::engine::wire::seq::SeqNumber;
use thiserror::Error;

/// Most rewrites kept unfolded (recorded but not yet acknowledged) per direction.
pub const MAX_PENDING: usize = 32;

/// Largest original or new length of one rewrite; far above any segment, far below 2^31.
pub const MAX_REWRITE_LEN: u32 = 1 << 20;

/// Why a rewrite could not be recorded. The ALG treats any of these as a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SeqAdjustError {
    /// [`MAX_PENDING`] rewrites are already waiting for the receiver's acknowledgment.
    #[error("more than {MAX_PENDING} payload rewrites not yet acknowledged")]
    TooManyRewrites,
    /// The rewrite starts before the end of the last one recorded and repeats none of them.
    #[error("rewrite at {orig_seq} is out of stream order (last rewrite ended at {last_end})")]
    OutOfOrder {
        /// Original start of the refused rewrite.
        orig_seq: u32,
        /// Original end of the last rewrite recorded.
        last_end: u32,
    },
    /// The same original bytes were recorded before with a different replacement length.
    #[error(
        "rewrite at {orig_seq} conflicts with a recorded one ({recorded} new bytes, now {new_len})"
    )]
    Conflicting {
        /// Original start of both rewrites.
        orig_seq: u32,
        /// New length recorded first.
        recorded: u32,
        /// New length asked for now.
        new_len: u32,
    },
    /// An original or new length above [`MAX_REWRITE_LEN`].
    #[error("rewrite length {len} exceeds {MAX_REWRITE_LEN}")]
    TooLong {
        /// The offending length.
        len: u32,
    },
}

/// One rewrite as recorded: original bytes `[orig_seq, orig_seq + orig_len)` became `new_len`
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedRewrite {
    /// Original sequence number of the first replaced byte (or the insertion point).
    pub orig_seq: u32,
    /// Number of original bytes replaced (0 for a pure insertion).
    pub orig_len: u32,
    /// Number of bytes that replaced them.
    pub new_len: u32,
}

/// A pending rewrite and the cumulative offset (mod 2^32) in force just after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    rewrite: RecordedRewrite,
    /// Sum of every delta up to and including this one (folded ones too), wrapping.
    offset_after: u32,
}

impl Entry {
    fn start(&self) -> u32 {
        self.rewrite.orig_seq
    }

    fn end(&self) -> u32 {
        self.rewrite.orig_seq.wrapping_add(self.rewrite.orig_len)
    }

    /// End of the replacement in rewritten space.
    fn new_end(&self) -> u32 {
        self.end().wrapping_add(self.offset_after)
    }

    /// Start of the replacement in rewritten space.
    fn new_start(&self) -> u32 {
        self.new_end().wrapping_sub(self.rewrite.new_len)
    }
}

/// The state of a direction that has seen at least one rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Active {
    /// Offset in force before the first pending rewrite: the sum of the folded deltas.
    base: u32,
    /// Original end of the last rewrite recorded (pending or folded).
    last_end: u32,
    /// Original end of the last folded rewrite, once one was folded.
    folded_end: Option<u32>,
    /// Rewrites not yet folded, in stream order.
    pending: Vec<Entry>,
}

/// Payload rewrites in ONE direction of a TCP connection, in the sender's original sequence
/// space. `SeqAdjust::default()` is a null pointer's worth of memory and maps everything to
/// itself; the first [`record`](Self::record) allocates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqAdjust {
    active: Option<Box<Active>>,
}

impl Active {
    fn offset_before(&self, index: usize) -> u32 {
        index
            .checked_sub(1)
            .and_then(|i| self.pending.get(i))
            .map_or(self.base, |entry| entry.offset_after)
    }

    /// Maps a rewritten-space edge to the original space. An edge strictly inside a
    /// replacement maps to the replaced range's start, or its end when `round_up`.
    fn unmap(&self, edge: u32, round_up: bool) -> u32 {
        // Rewrites whose replacement ends at or before the edge: all their bytes were covered.
        let covered = self
            .pending
            .partition_point(|entry| SeqNumber(entry.new_end()).is_at_or_before(edge));
        if let Some(next) = self.pending.get(covered) {
            if SeqNumber(next.new_start()).is_before(edge) {
                return if round_up { next.end() } else { next.start() };
            }
        }
        edge.wrapping_sub(self.offset_before(covered))
    }
}

impl SeqAdjust {
    /// Records that the original bytes `[orig_seq, orig_seq + orig_len)` were replaced by
    /// `new_len` bytes.
    ///
    /// Rewrites arrive in stream order: each starts at or after the end of the previous one.
    /// Recording a pending rewrite again with the same new length (a retransmission rewritten
    /// the same way) is a no-op, and so is recording one that lies wholly below the folded
    /// (already acknowledged) part of the stream. An empty rewrite (both lengths zero) is a
    /// no-op. A pure insertion (`orig_len == 0`) at `s` counts as lying before original byte
    /// `s`: it shifts `s` itself, so it belongs to the segment that ends at `s` or contains it;
    /// an ALG prepending to a segment records it as a replacement of the segment's first byte.
    pub fn record(
        &mut self,
        orig_seq: u32,
        orig_len: u32,
        new_len: u32,
    ) -> Result<(), SeqAdjustError> {
        for len in [orig_len, new_len] {
            if len > MAX_REWRITE_LEN {
                return Err(SeqAdjustError::TooLong { len });
            }
        }
        if orig_len == 0 && new_len == 0 {
            return Ok(());
        }
        let rewrite = RecordedRewrite {
            orig_seq,
            orig_len,
            new_len,
        };
        let delta = new_len.wrapping_sub(orig_len);
        let Some(active) = self.active.as_deref_mut() else {
            self.active = Some(Box::new(Active {
                base: 0,
                last_end: orig_seq.wrapping_add(orig_len),
                folded_end: None,
                pending: vec![Entry {
                    rewrite,
                    offset_after: delta,
                }],
            }));
            return Ok(());
        };
        if let Some(same) = active
            .pending
            .iter()
            .find(|entry| entry.start() == orig_seq && entry.rewrite.orig_len == orig_len)
        {
            if same.rewrite.new_len == new_len {
                return Ok(());
            }
            return Err(SeqAdjustError::Conflicting {
                orig_seq,
                recorded: same.rewrite.new_len,
                new_len,
            });
        }
        let end = orig_seq.wrapping_add(orig_len);
        if !SeqNumber(active.last_end).is_at_or_before(orig_seq) {
            let stale = active
                .folded_end
                .is_some_and(|folded| SeqNumber(end).is_at_or_before(folded));
            if stale {
                return Ok(());
            }
            return Err(SeqAdjustError::OutOfOrder {
                orig_seq,
                last_end: active.last_end,
            });
        }
        if active.pending.len() >= MAX_PENDING {
            return Err(SeqAdjustError::TooManyRewrites);
        }
        let offset_after = active
            .offset_before(active.pending.len())
            .wrapping_add(delta);
        active.pending.push(Entry {
            rewrite,
            offset_after,
        });
        active.last_end = end;
        Ok(())
    }

    /// Sender's original sequence number -> rewritten space: shifted by every rewrite that
    /// ends at or before `orig_seq`. A number strictly inside a replaced range gets only the
    /// shift of the rewrites before it (a segment starting there cannot be mapped whole; the
    /// ALG must re-apply the rewrite, see [`overlapping`](Self::overlapping)).
    pub fn map_seq(&self, orig_seq: u32) -> u32 {
        let Some(active) = self.active.as_deref() else {
            return orig_seq;
        };
        let before = active
            .pending
            .partition_point(|entry| SeqNumber(entry.end()).is_at_or_before(orig_seq));
        orig_seq.wrapping_add(active.offset_before(before))
    }

    /// An ack or SACK right edge from the other side (rewritten space) -> the sender's
    /// original space. An ack strictly inside a replacement maps to the replaced range's
    /// original start: the receiver is never said to hold bytes it has not received whole. An
    /// ack at the end of a replacement maps to the end of the replaced range (for a deletion,
    /// whose replacement is empty, that is where the ack lands).
    pub fn unmap_ack(&self, ack: u32) -> u32 {
        match self.active.as_deref() {
            Some(active) => active.unmap(ack, false),
            None => ack,
        }
    }

    /// A SACK block's left edge (rewritten space) -> original space. Like
    /// [`unmap_ack`](Self::unmap_ack), except that an edge strictly inside a replacement maps
    /// to the replaced range's original END: the block does not hold the replacement's first
    /// bytes, so it must not claim the original range's first bytes either.
    pub fn unmap_sack_start(&self, edge: u32) -> u32 {
        match self.active.as_deref() {
            Some(active) => active.unmap(edge, true),
            None => edge,
        }
    }

    /// Whether any rewrite was ever recorded (fast path check).
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Folds the rewrites that lie wholly below `orig_acked` (original space) into the base
    /// offset, so the list stays short. Call it with the original-space value of the
    /// receiver's cumulative ack. Mappings at and above `orig_acked` do not change; below it,
    /// numbers are shifted by the folded offset, which keeps an old retransmission inside data
    /// the receiver already holds, and an old ack at or below the acknowledged point.
    pub fn forget_below(&mut self, orig_acked: u32) {
        let Some(active) = self.active.as_deref_mut() else {
            return;
        };
        let folded = active
            .pending
            .partition_point(|entry| SeqNumber(entry.end()).is_at_or_before(orig_acked));
        let Some(last) = folded.checked_sub(1).and_then(|i| active.pending.get(i)) else {
            return;
        };
        active.base = last.offset_after;
        active.folded_end = Some(last.end());
        active.pending.drain(..folded);
    }

    /// The first recorded (not yet folded) rewrite whose original range overlaps
    /// `[orig_seq, orig_seq + len)`; the ALG uses it to re-apply a rewrite to a
    /// retransmission. A pure insertion at `s` overlaps a segment with `orig_seq < s <=
    /// orig_seq + len`. An empty segment overlaps nothing.
    pub fn overlapping(&self, orig_seq: u32, len: u32) -> Option<RecordedRewrite> {
        self.rewrites_in(orig_seq, len).next()
    }

    /// Every recorded (not yet folded) rewrite overlapping `[orig_seq, orig_seq + len)`, in
    /// stream order, with the same rule as [`overlapping`](Self::overlapping); a retransmission
    /// may coalesce several rewritten segments.
    pub fn rewrites_in(
        &self,
        orig_seq: u32,
        len: u32,
    ) -> impl Iterator<Item = RecordedRewrite> + '_ {
        let pending = self
            .active
            .as_deref()
            .map_or(&[][..], |active| &active.pending[..]);
        let end = orig_seq.wrapping_add(len);
        pending
            .iter()
            .filter(move |entry| {
                if len == 0 {
                    return false;
                }
                if entry.rewrite.orig_len == 0 {
                    SeqNumber(orig_seq).is_before(entry.start())
                        && SeqNumber(entry.start()).is_at_or_before(end)
                } else {
                    SeqNumber(entry.start()).is_before(end)
                        && SeqNumber(orig_seq).is_before(entry.end())
                }
            })
            .map(|entry| entry.rewrite)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn with(rewrites: &[(u32, u32, u32)]) -> SeqAdjust {
        let mut adjust = SeqAdjust::default();
        for &(seq, old, new) in rewrites {
            adjust.record(seq, old, new).unwrap();
        }
        adjust
    }

    #[test]
    fn unused_is_small_and_identity() {
        let adjust = SeqAdjust::default();
        assert_eq!(size_of::<SeqAdjust>(), size_of::<usize>());
        assert!(!adjust.is_active());
        for n in [0, 1, 0x7fff_ffff, 0xffff_ffff] {
            assert_eq!(adjust.map_seq(n), n);
            assert_eq!(adjust.unmap_ack(n), n);
            assert_eq!(adjust.unmap_sack_start(n), n);
        }
        assert_eq!(adjust.overlapping(0, 100), None);
    }

    #[test]
    fn single_growing_rewrite() {
        // "PORT 10,0,0,2,4,1\r\n" style: 10 bytes at 1000 became 15.
        let adjust = with(&[(1000, 10, 15)]);
        assert!(adjust.is_active());
        // Retransmission before, at and after the rewrite.
        assert_eq!(adjust.map_seq(900), 900);
        assert_eq!(adjust.map_seq(1000), 1000);
        assert_eq!(
            adjust.map_seq(1005),
            1000 + 5,
            "inside: only earlier shifts"
        );
        assert_eq!(adjust.map_seq(1010), 1015);
        assert_eq!(adjust.map_seq(5000), 5005);
        // Acks before, at the start, inside, at the end and after the replacement.
        assert_eq!(adjust.unmap_ack(950), 950);
        assert_eq!(adjust.unmap_ack(1000), 1000);
        for inside in 1001..1015 {
            assert_eq!(adjust.unmap_ack(inside), 1000);
            assert_eq!(adjust.unmap_sack_start(inside), 1010);
        }
        assert_eq!(adjust.unmap_ack(1015), 1010);
        assert_eq!(adjust.unmap_ack(5005), 5000);
        assert_eq!(adjust.unmap_sack_start(1015), 1010);
    }

    #[test]
    fn single_shrinking_rewrite() {
        let adjust = with(&[(1000, 20, 12)]);
        assert_eq!(adjust.map_seq(1000), 1000);
        assert_eq!(adjust.map_seq(1020), 1012);
        assert_eq!(adjust.map_seq(1100), 1092);
        assert_eq!(adjust.unmap_ack(1000), 1000);
        assert_eq!(adjust.unmap_ack(1011), 1000);
        assert_eq!(adjust.unmap_ack(1012), 1020);
        assert_eq!(adjust.unmap_ack(1092), 1100);
    }

    #[test]
    fn deletion_ack_covers_the_deleted_bytes() {
        let adjust = with(&[(1000, 10, 0)]);
        assert_eq!(adjust.map_seq(999), 999);
        assert_eq!(adjust.map_seq(1010), 1000);
        assert_eq!(adjust.unmap_ack(1000), 1010);
        assert_eq!(adjust.unmap_ack(999), 999);
        assert_eq!(adjust.unmap_ack(1001), 1011);
    }

    #[test]
    fn insertion_shifts_its_own_position() {
        let adjust = with(&[(1000, 0, 4)]);
        assert_eq!(adjust.map_seq(999), 999);
        assert_eq!(adjust.map_seq(1000), 1004);
        assert_eq!(adjust.unmap_ack(1000), 1000);
        assert_eq!(adjust.unmap_ack(1002), 1000);
        assert_eq!(adjust.unmap_sack_start(1002), 1000);
        assert_eq!(adjust.unmap_ack(1004), 1000);
        assert_eq!(adjust.unmap_ack(1005), 1001);
        // Belongs to the segment that ends at or contains 1000, not the one starting there.
        let insertion = Some(RecordedRewrite {
            orig_seq: 1000,
            orig_len: 0,
            new_len: 4,
        });
        assert_eq!(adjust.overlapping(900, 100), insertion);
        assert_eq!(adjust.overlapping(990, 20), insertion);
        assert_eq!(adjust.overlapping(1000, 100), None);
    }

    #[test]
    fn retransmission_rewritten_again_is_a_no_op() {
        let mut adjust = with(&[(1000, 10, 15)]);
        let before = adjust.clone();
        adjust.record(1000, 10, 15).unwrap();
        assert_eq!(adjust, before);
        assert_eq!(
            adjust.record(1000, 10, 16),
            Err(SeqAdjustError::Conflicting {
                orig_seq: 1000,
                recorded: 15,
                new_len: 16
            })
        );
        assert_eq!(
            adjust.record(1005, 10, 15),
            Err(SeqAdjustError::OutOfOrder {
                orig_seq: 1005,
                last_end: 1010
            })
        );
        assert_eq!(
            adjust.record(900, 10, 15),
            Err(SeqAdjustError::OutOfOrder {
                orig_seq: 900,
                last_end: 1010
            })
        );
        // Adjacent is in order.
        adjust.record(1010, 2, 1).unwrap();
        assert_eq!(adjust.map_seq(1012), 1016);
        assert_eq!(adjust, with(&[(1000, 10, 15), (1010, 2, 1)]));
    }

    #[test]
    fn empty_rewrite_is_ignored_and_lengths_are_bounded() {
        let mut adjust = SeqAdjust::default();
        adjust.record(5, 0, 0).unwrap();
        assert!(!adjust.is_active());
        assert_eq!(
            adjust.record(5, MAX_REWRITE_LEN + 1, 0),
            Err(SeqAdjustError::TooLong {
                len: MAX_REWRITE_LEN + 1
            })
        );
        assert_eq!(
            adjust.record(5, 1, u32::MAX),
            Err(SeqAdjustError::TooLong { len: u32::MAX })
        );
        assert!(!adjust.is_active());
    }

    #[test]
    fn several_rewrites() {
        // +5 at 100, -3 at 200, +7 at 300 (same-length one at 250 changes nothing).
        let adjust = with(&[(100, 10, 15), (200, 10, 7), (250, 4, 4), (300, 2, 9)]);
        let cases = [
            (50, 50),
            (100, 100),
            (110, 115),
            (200, 205),
            (210, 212),
            (250, 252),
            (254, 256),
            (300, 302),
            (302, 311),
            (1000, 1009),
        ];
        for (orig, mapped) in cases {
            assert_eq!(adjust.map_seq(orig), mapped, "map {orig}");
            assert_eq!(adjust.unmap_ack(mapped), orig, "unmap {mapped}");
        }
        assert_eq!(adjust.unmap_ack(208), 200, "inside the shrunk one");
        assert_eq!(adjust.unmap_ack(253), 250, "inside the same-length one");
        assert_eq!(adjust.unmap_ack(305), 300);
        assert_eq!(
            adjust
                .rewrites_in(95, 300)
                .map(|r| r.orig_seq)
                .collect::<Vec<_>>(),
            [100, 200, 250, 300]
        );
        assert_eq!(
            adjust.overlapping(110, 90),
            None,
            "ends where the next starts"
        );
        assert_eq!(adjust.overlapping(109, 1).map(|r| r.orig_seq), Some(100));
        assert_eq!(adjust.overlapping(205, 100).map(|r| r.orig_seq), Some(200));
        assert_eq!(adjust.overlapping(205, 0), None);
    }

    #[test]
    fn cumulative_offset_can_exceed_u16_and_go_negative() {
        let grown = with(&[(0, 1, 40_001), (100, 1, 40_001)]);
        assert_eq!(grown.map_seq(101), 80_101);
        assert_eq!(grown.unmap_ack(80_101), 101);
        let shrunk = with(&[(1000, 50_000, 1), (60_000, 30_000, 2)]);
        assert_eq!(shrunk.map_seq(90_000), 90_000 - 79_997);
        assert_eq!(shrunk.unmap_ack(90_000 - 79_997), 90_000);
        // Negative offset across zero.
        let across = with(&[(5, 100, 1)]);
        assert_eq!(across.map_seq(105), 6);
        assert_eq!(across.unmap_ack(6), 105);
    }

    #[test]
    fn wrap_around() {
        // Replaced range crosses 2^32.
        let adjust = with(&[(0xffff_fff0, 0x20, 0x28), (0x100, 4, 2)]);
        assert_eq!(adjust.map_seq(0xffff_ffe0), 0xffff_ffe0);
        assert_eq!(adjust.map_seq(0xffff_fff0), 0xffff_fff0);
        assert_eq!(adjust.map_seq(0x10), 0x18);
        assert_eq!(adjust.map_seq(0x104), 0x10a);
        assert_eq!(adjust.unmap_ack(0x18), 0x10);
        assert_eq!(adjust.unmap_ack(0xffff_fff8), 0xffff_fff0);
        assert_eq!(adjust.unmap_ack(0x4), 0xffff_fff0);
        assert_eq!(adjust.unmap_ack(0x10a), 0x104);
        assert_eq!(adjust.unmap_ack(0x109), 0x100);
        assert!(adjust.overlapping(0xffff_ff00, 0xf1).is_some());
        assert!(adjust.overlapping(0xffff_ff00, 0xf0).is_none());
        // A rewrite ending exactly at zero, and one starting there.
        let at_zero = with(&[(0xffff_fffc, 4, 8), (0, 2, 1)]);
        assert_eq!(at_zero.map_seq(0), 4);
        assert_eq!(at_zero.map_seq(2), 5);
        assert_eq!(at_zero.unmap_ack(4), 0);
        assert_eq!(at_zero.unmap_ack(5), 2);
        assert_eq!(at_zero.unmap_ack(2), 0xffff_fffc);
    }

    #[test]
    fn forget_below_keeps_mappings_right() {
        let mut adjust = with(&[(100, 10, 15), (200, 10, 7), (300, 2, 9)]);
        let probes: Vec<u32> = (210..400).collect();
        let mapped: Vec<u32> = probes.iter().map(|&p| adjust.map_seq(p)).collect();
        let acks: Vec<u32> = (252..420).map(|a| adjust.unmap_ack(a)).collect();
        adjust.forget_below(250);
        assert_eq!(adjust.overlapping(0, 250), None, "both folded");
        let after: Vec<u32> = probes.iter().map(|&p| adjust.map_seq(p)).collect();
        assert_eq!(after, mapped);
        let after_acks: Vec<u32> = (252..420).map(|a| adjust.unmap_ack(a)).collect();
        assert_eq!(after_acks, acks);
        // Old retransmissions land inside what the receiver holds; old acks stay below 250.
        assert!(adjust.map_seq(150) <= adjust.map_seq(250));
        assert!(SeqNumber(adjust.unmap_ack(150)).is_at_or_before(250));
        // A folded rewrite seen again is stale and ignored; a pending one is a repeat.
        adjust.record(200, 10, 7).unwrap();
        adjust.record(100, 10, 15).unwrap();
        adjust.record(300, 2, 9).unwrap();
        assert_eq!(
            adjust.record(280, 30, 9),
            Err(SeqAdjustError::OutOfOrder {
                orig_seq: 280,
                last_end: 302
            })
        );
        adjust.record(400, 1, 3).unwrap();
        assert_eq!(adjust.map_seq(401), 401 + 9 + 2);
        // Folding everything keeps the offset.
        adjust.forget_below(1000);
        assert!(adjust.is_active());
        assert_eq!(adjust.map_seq(401), 412);
        assert_eq!(adjust.unmap_ack(412), 401);
        adjust.forget_below(1000);
        assert_eq!(adjust.map_seq(1000), 1011);
    }

    #[test]
    fn too_many_rewrites() {
        let mut adjust = SeqAdjust::default();
        let seq = |i: u32| 0xffff_fe00u32.wrapping_add(i * 100);
        for i in 0..MAX_PENDING as u32 {
            adjust.record(seq(i), 10, 12).unwrap();
        }
        assert_eq!(
            adjust.record(seq(32), 10, 12),
            Err(SeqAdjustError::TooManyRewrites)
        );
        // A repeat is still fine.
        adjust.record(seq(31), 10, 12).unwrap();
        assert_eq!(adjust.map_seq(seq(32)), seq(32).wrapping_add(64));
        adjust.forget_below(seq(1));
        adjust.record(seq(32), 10, 12).unwrap();
        assert_eq!(adjust.map_seq(seq(33)), seq(33).wrapping_add(66));
        assert_eq!(adjust.unmap_ack(seq(33).wrapping_add(66)), seq(33));
        assert_eq!(
            adjust.record(seq(33), 10, 12),
            Err(SeqAdjustError::TooManyRewrites)
        );
    }
}
