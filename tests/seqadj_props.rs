//! Properties of the sequence adjustment against a model: random rewrites of a random stream
//! over a random ISN (often one that wraps past 2^32). The model builds the original and the
//! rewritten stream; the adjust must map every untouched byte to itself, give back every edge
//! it mapped, and map every ack edge to exactly the prefix of the original stream the receiver
//! holds whole.

use ftpgate::engine::conntrack::seqadj::{RecordedRewrite, SeqAdjust};
use proptest::prelude::*;

/// A rewrite drawn at random: gap after the previous one, original and new length.
type Draw = (u32, u32, u32);

/// One piece of the stream: original range `[orig, orig + orig_len)` (offsets from the ISN)
/// shown as rewritten range `[new, new + new_len)`; `copy` when the bytes pass unchanged.
#[derive(Debug, Clone, Copy)]
struct Piece {
    copy: bool,
    orig: u32,
    orig_len: u32,
    new: u32,
    new_len: u32,
}

/// The original and rewritten streams as offsets from the ISN.
struct Model {
    pieces: Vec<Piece>,
    rewrites: Vec<RecordedRewrite>,
    orig_len: u32,
    /// For each rewritten byte, the original offset it carries (None: replacement text).
    rewritten: Vec<Option<u32>>,
}

impl Model {
    fn new(isn: u32, draws: &[Draw], tail: u32) -> Self {
        let mut model = Model {
            pieces: Vec::new(),
            rewrites: Vec::new(),
            orig_len: 0,
            rewritten: Vec::new(),
        };
        let mut previous_insertion_at = None;
        for &(gap, old, new) in draws {
            if old == 0 && new == 0 {
                continue;
            }
            // Two insertions at one point would look like one retransmitted: keep them apart.
            let gap = if old == 0 && gap == 0 && previous_insertion_at == Some(model.orig_len) {
                1
            } else {
                gap
            };
            model.copy(gap);
            model.rewrites.push(RecordedRewrite {
                orig_seq: isn.wrapping_add(model.orig_len),
                orig_len: old,
                new_len: new,
            });
            model.push(false, old, new);
            previous_insertion_at = (old == 0).then_some(model.orig_len);
        }
        model.copy(tail);
        model
    }

    fn copy(&mut self, len: u32) {
        if len > 0 {
            self.push(true, len, len);
        }
    }

    fn push(&mut self, copy: bool, orig_len: u32, new_len: u32) {
        let piece = Piece {
            copy,
            orig: self.orig_len,
            orig_len,
            new: self.rewritten.len() as u32,
            new_len,
        };
        for i in 0..new_len {
            self.rewritten.push(copy.then_some(piece.orig + i));
        }
        self.orig_len += orig_len;
        self.pieces.push(piece);
    }

    /// Whether original byte offset `p` was replaced.
    fn replaced(&self, p: u32) -> bool {
        self.pieces
            .iter()
            .any(|piece| !piece.copy && piece.orig <= p && p < piece.orig + piece.orig_len)
    }

    /// The original prefix the receiver holds whole after rewritten prefix `a`; a replacement
    /// received in part counts from its start, or (for a SACK left edge) `round_up` from its
    /// end.
    fn held(&self, a: u32, round_up: bool) -> u32 {
        let mut held = 0;
        for piece in &self.pieces {
            let value = if piece.copy {
                if piece.new > a {
                    continue;
                }
                piece.orig + (a - piece.new).min(piece.orig_len)
            } else if piece.new + piece.new_len <= a {
                piece.orig + piece.orig_len
            } else if piece.new < a {
                if round_up {
                    piece.orig + piece.orig_len
                } else {
                    piece.orig
                }
            } else {
                continue;
            };
            held = held.max(value);
        }
        held
    }
}

fn isn() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (0u32..6000).prop_map(|x| x.wrapping_sub(3000)),
        (0u32..6000).prop_map(|x| x.wrapping_add(0x7fff_f000)),
    ]
}

fn draws(max: usize) -> impl Strategy<Value = Vec<Draw>> {
    proptest::collection::vec((0u32..60, 0u32..40, 0u32..40), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn maps_agree_with_the_rewritten_stream(isn in isn(), draws in draws(31), tail in 0u32..60) {
        let model = Model::new(isn, &draws, tail);
        let mut adjust = SeqAdjust::default();
        for rewrite in &model.rewrites {
            adjust.record(rewrite.orig_seq, rewrite.orig_len, rewrite.new_len).unwrap();
            // A retransmission rewritten the same way changes nothing.
            adjust.record(rewrite.orig_seq, rewrite.orig_len, rewrite.new_len).unwrap();
        }
        prop_assert_eq!(adjust.is_active(), !model.rewrites.is_empty());
        let new_len = model.rewritten.len() as u32;

        for p in 0..=model.orig_len {
            if model.replaced(p) {
                continue;
            }
            let seq = isn.wrapping_add(p);
            let mapped = adjust.map_seq(seq).wrapping_sub(isn);
            if p < model.orig_len {
                prop_assert_eq!(model.rewritten.get(mapped as usize).copied(), Some(Some(p)));
            } else {
                prop_assert_eq!(mapped, new_len);
            }
            prop_assert_eq!(adjust.unmap_ack(adjust.map_seq(seq)), seq);
        }

        let mut last = 0;
        for a in 0..=new_len {
            let ack = adjust.unmap_ack(isn.wrapping_add(a)).wrapping_sub(isn);
            let left = adjust.unmap_sack_start(isn.wrapping_add(a)).wrapping_sub(isn);
            prop_assert!(ack <= model.orig_len, "ack edge {a} -> {ack} past the stream");
            prop_assert!(ack >= last, "unmap_ack not monotonic at {a}");
            prop_assert_eq!(ack, model.held(a, false), "ack edge {}", a);
            prop_assert_eq!(left, model.held(a, true), "SACK left edge {}", a);
            last = ack;
        }

        for rewrite in &model.rewrites {
            if rewrite.orig_len > 0 {
                prop_assert_eq!(adjust.overlapping(rewrite.orig_seq, rewrite.orig_len), Some(*rewrite));
            } else {
                // An insertion belongs to the segment ending at it (which may also hold the
                // rewrite before it, found first).
                let before = rewrite.orig_seq.wrapping_sub(1);
                prop_assert!(adjust.rewrites_in(before, 1).any(|r| r == *rewrite));
                prop_assert_eq!(adjust.overlapping(rewrite.orig_seq, 1).filter(|r| r == rewrite), None);
            }
        }
        for piece in model.pieces.iter().filter(|piece| piece.copy) {
            let found = adjust.overlapping(isn.wrapping_add(piece.orig), piece.orig_len);
            let end = isn.wrapping_add(piece.orig + piece.orig_len);
            prop_assert!(found.is_none_or(|r| r.orig_len == 0 && r.orig_seq == end));
        }
    }

    #[test]
    fn folding_keeps_what_is_above_the_ack(
        isn in isn(),
        draws in draws(120),
        tail in 0u32..60,
        every in 1usize..12,
    ) {
        let model = Model::new(isn, &draws, tail);
        let mut adjust = SeqAdjust::default();
        let mut reference = SeqAdjust::default();
        let mut acked = 0;
        for (i, rewrite) in model.rewrites.iter().enumerate() {
            if i % every == 0 {
                // The receiver acknowledged everything before this rewrite.
                acked = rewrite.orig_seq.wrapping_sub(isn);
                adjust.forget_below(rewrite.orig_seq);
            }
            adjust.record(rewrite.orig_seq, rewrite.orig_len, rewrite.new_len).unwrap();
            if i < 32 {
                reference.record(rewrite.orig_seq, rewrite.orig_len, rewrite.new_len).unwrap();
            }
        }
        let new_len = model.rewritten.len() as u32;
        let acked_new = adjust.map_seq(isn.wrapping_add(acked)).wrapping_sub(isn);
        for p in acked..=model.orig_len {
            if model.replaced(p) {
                continue;
            }
            let mapped = adjust.map_seq(isn.wrapping_add(p)).wrapping_sub(isn);
            if p < model.orig_len {
                prop_assert_eq!(model.rewritten.get(mapped as usize).copied(), Some(Some(p)));
            }
        }
        for a in acked_new..=new_len {
            let ack = adjust.unmap_ack(isn.wrapping_add(a)).wrapping_sub(isn);
            prop_assert_eq!(ack, model.held(a, false), "ack edge {}", a);
        }
        // Below the fold, acks never reach past what was acknowledged.
        for a in 0..acked_new {
            let ack = adjust.unmap_ack(isn.wrapping_add(a)).wrapping_sub(isn) as i32;
            prop_assert!(ack <= acked as i32);
        }
        // The unfolded reference agrees wherever its 32 rewrites reach.
        if model.rewrites.len() <= 32 {
            for p in acked..=model.orig_len {
                let seq = isn.wrapping_add(p);
                prop_assert_eq!(adjust.map_seq(seq), reference.map_seq(seq));
            }
        }
    }
}
