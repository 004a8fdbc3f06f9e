//! Tests of the stream planner: splits, merges, retransmissions, out-of-order segments.

use super::*;

const MAX: usize = 512;

fn may_announce(line: &[u8]) -> bool {
    let word = b"PORT";
    let n = line.len().min(word.len());
    line[..n].eq_ignore_ascii_case(&word[..n])
}

/// Replaces every PORT line with "PORT NEW\r\n"; records the lines seen. An over-long line
/// offered before it ends is decided when it ends.
fn rewrite_port(
    seen: &mut Vec<(u32, Vec<u8>)>,
) -> impl FnMut(u32, &[u8], bool) -> LineDecision + '_ {
    move |start, line, ended| {
        if !ended {
            return LineDecision::Defer;
        }
        seen.push((start, line.to_vec()));
        if line.starts_with(b"PORT") {
            LineDecision::Replace(b"PORT NEW\r\n".to_vec())
        } else {
            LineDecision::Keep
        }
    }
}

fn stream_at(seq: u32) -> LineStream {
    let mut stream = LineStream::default();
    stream.start_at(seq);
    stream
}

#[test]
fn a_whole_command_is_replaced_and_the_rewrite_recorded() {
    let mut s = stream_at(100);
    let mut seen = Vec::new();
    let plan = s.plan(
        100,
        b"PORT 1,2,3,4,5,6\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(
        plan,
        SegmentPlan::Rebuilt {
            start: 100,
            payload: b"PORT NEW\r\n".to_vec(),
            lead_in: 0,
        }
    );
    assert_eq!(seen, vec![(100, b"PORT 1,2,3,4,5,6\r\n".to_vec())]);
    assert_eq!(
        s.adjust.map_seq(118),
        110,
        "following bytes shift by the length change"
    );
}

#[test]
fn several_commands_in_one_segment_are_each_handled() {
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    let plan = s.plan(
        0,
        b"NOOP\r\nPORT 1\r\nTYPE I\r\nPORT 2\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(
        plan,
        SegmentPlan::Rebuilt {
            start: 0,
            payload: b"NOOP\r\nPORT NEW\r\nTYPE I\r\nPORT NEW\r\n".to_vec(),
            lead_in: 0,
        }
    );
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[2].0, 14, "each line's own start");
}

#[test]
fn a_command_split_over_three_segments_is_withheld_then_sent_whole() {
    let mut s = stream_at(1000);
    let mut seen = Vec::new();
    assert_eq!(
        s.plan(
            1000,
            b"NOOP\r\nPO",
            MAX,
            may_announce,
            rewrite_port(&mut seen)
        ),
        SegmentPlan::Rebuilt {
            start: 1000,
            payload: b"NOOP\r\n".to_vec(),
            lead_in: 0,
        },
        "complete lines go on, the partial PORT stays back"
    );
    assert_eq!(
        s.plan(
            1008,
            b"RT 1,2,3",
            MAX,
            may_announce,
            rewrite_port(&mut seen)
        ),
        SegmentPlan::Withhold(WithholdReason::PartialLine)
    );
    assert_eq!(
        s.plan(
            1016,
            b",4,5,6\r\n",
            MAX,
            may_announce,
            rewrite_port(&mut seen)
        ),
        SegmentPlan::Rebuilt {
            start: 1006,
            payload: b"PORT NEW\r\n".to_vec(),
            lead_in: 0,
        }
    );
    assert_eq!(
        seen.last().unwrap(),
        &(1006, b"PORT 1,2,3,4,5,6\r\n".to_vec())
    );
}

#[test]
fn a_partial_line_that_cannot_announce_passes_at_once() {
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    assert_eq!(
        s.plan(0, b"NO", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Unchanged
    );
    assert_eq!(
        s.plan(2, b"OP\r\n", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Unchanged
    );
    assert_eq!(seen, vec![(0, b"NOOP\r\n".to_vec())]);
}

#[test]
fn a_withheld_line_that_turns_out_harmless_is_released_unchanged() {
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    assert_eq!(
        s.plan(0, b"PO", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Withhold(WithholdReason::PartialLine)
    );
    assert_eq!(
        s.plan(2, b"ST x\r\n", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Rebuilt {
            start: 0,
            payload: b"POST x\r\n".to_vec(),
            lead_in: 0,
        }
    );
}

#[test]
fn retransmissions_carry_the_same_replacement() {
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    let first = s.plan(
        0,
        b"NOOP\r\nPORT 1,2,3,4,5,6\r\nPWD\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    // The whole segment again.
    let again = s.plan(
        0,
        b"NOOP\r\nPORT 1,2,3,4,5,6\r\nPWD\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(first, again);
    assert_eq!(seen.len(), 3, "old bytes are not parsed twice");
    // A retransmission starting inside the replaced line is widened back to its start.
    let inside = s.plan(
        11,
        b"1,2,3,4,5,6\r\nPWD\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(
        inside,
        SegmentPlan::Rebuilt {
            start: 6,
            payload: b"PORT NEW\r\nPWD\r\n".to_vec(),
            lead_in: 0,
        }
    );
    // Bytes before the rewrite pass unchanged; after it they only shift.
    assert_eq!(
        s.plan(0, b"NOOP\r\n", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Unchanged
    );
    assert_eq!(
        s.plan(24, b"PWD\r\n", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Unchanged
    );
    assert_eq!(s.adjust.map_seq(24), 16);
}

#[test]
fn an_out_of_order_segment_waits_for_the_gap() {
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    assert_eq!(
        s.plan(
            6,
            b"PORT 1,2,3,4,5,6\r\n",
            MAX,
            may_announce,
            rewrite_port(&mut seen)
        ),
        SegmentPlan::Withhold(WithholdReason::OutOfOrder)
    );
    assert!(seen.is_empty());
    assert_eq!(
        s.plan(0, b"NOOP\r\n", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Unchanged
    );
    let filled = s.plan(
        6,
        b"PORT 1,2,3,4,5,6\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(
        filled,
        SegmentPlan::Rebuilt {
            start: 6,
            payload: b"PORT NEW\r\n".to_vec(),
            lead_in: 0,
        }
    );
}

#[test]
fn an_overlapping_segment_is_handled_as_old_plus_new_bytes() {
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    let _ = s.plan(0, b"NOOP\r\nPO", MAX, may_announce, rewrite_port(&mut seen));
    let plan = s.plan(
        0,
        b"NOOP\r\nPORT 9,9,9,9,9,9\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(
        plan,
        SegmentPlan::Rebuilt {
            start: 0,
            payload: b"NOOP\r\nPORT NEW\r\n".to_vec(),
            lead_in: 0,
        }
    );
    assert_eq!(seen.len(), 2);
}

#[test]
fn an_over_long_announcement_is_withheld_and_offered_by_its_prefix_when_it_ends() {
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    let mut long = b"PORT ".to_vec();
    long.extend(std::iter::repeat_n(b'0', 600));
    assert_eq!(
        s.plan(0, &long, MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Withhold(WithholdReason::PartialLine)
    );
    assert!(s.overlong());
    let rest = s.plan(
        long.len() as u32,
        b"1,2,3,4,5,6\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(seen.len(), 1, "offered once, when it ends");
    assert_eq!(seen[0].0, 0);
    assert_eq!(
        seen[0].1,
        long[..MAX].to_vec(),
        "by its first MAX bytes, no line feed"
    );
    // The session's replacement stands for the whole line.
    assert_eq!(
        rest,
        SegmentPlan::Rebuilt {
            start: 0,
            payload: b"PORT NEW\r\n".to_vec(),
            lead_in: 0,
        }
    );
    assert_eq!(s.adjust.map_seq(long.len() as u32 + 13), 10);
}

#[test]
fn inserted_bytes_lead_the_next_segment_until_acknowledged() {
    let mut s = stream_at(100);
    let mut seen = Vec::new();
    assert_eq!(
        s.plan(
            100,
            b"200 ok\r\n",
            MAX,
            may_announce,
            rewrite_port(&mut seen)
        ),
        SegmentPlan::Unchanged
    );
    assert!(s.at_line_boundary());
    assert_eq!(
        s.insert(b"501 no\r\n".to_vec()),
        Some(108),
        "sent at the old next byte"
    );
    assert_eq!(
        s.adjust.map_seq(108),
        116,
        "the sender's next byte comes after it"
    );
    // Not yet acknowledged: the sender's next segment carries it first.
    let next = s.plan(
        108,
        b"421 bye\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(
        next,
        SegmentPlan::Rebuilt {
            start: 108,
            payload: b"501 no\r\n421 bye\r\n".to_vec(),
            lead_in: 8,
        }
    );
    // Acknowledged (receiver's space): a retransmission of the sender's bytes goes alone.
    s.acknowledged(116);
    assert_eq!(s.acked(), Some(108));
    let again = s.plan(
        108,
        b"421 bye\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(again, SegmentPlan::Unchanged);
    // Not between lines: nothing is inserted.
    s.plan(117, b"22", MAX, may_announce, rewrite_port(&mut seen));
    assert_eq!(s.insert(b"501 no\r\n".to_vec()), None);
}

#[test]
fn unacknowledged_bytes_are_bounded_and_new_ones_wait_for_acks() {
    use super::MAX_UNACKED;
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    let chunk = b"NOOP\r\n".repeat(1000);
    let mut at = 0u32;
    while at as usize + chunk.len() <= MAX_UNACKED {
        let plan = s.plan(at, &chunk, MAX, may_announce, rewrite_port(&mut seen));
        assert_eq!(plan, SegmentPlan::Unchanged);
        at += chunk.len() as u32;
    }
    assert_eq!(
        s.plan(at, &chunk, MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Withhold(WithholdReason::Backlog)
    );
    s.acknowledged(at);
    assert_eq!(
        s.plan(at, &chunk, MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Unchanged
    );
}

#[test]
fn an_ack_beyond_what_was_forwarded_forgets_nothing_withheld() {
    let mut s = stream_at(0);
    let mut seen = Vec::new();
    assert_eq!(
        s.plan(
            0,
            b"NOOP\r\nPOR",
            MAX,
            may_announce,
            rewrite_port(&mut seen)
        ),
        SegmentPlan::Rebuilt {
            start: 0,
            payload: b"NOOP\r\n".to_vec(),
            lead_in: 0,
        }
    );
    // The receiver got 6 bytes; an ack for 9 (or 1000) counts as 6.
    s.acknowledged(1000);
    assert_eq!(s.acked(), Some(6));
    let rest = s.plan(
        9,
        b"T 1,2,3,4,5,6\r\n",
        MAX,
        may_announce,
        rewrite_port(&mut seen),
    );
    assert_eq!(
        rest,
        SegmentPlan::Rebuilt {
            start: 6,
            payload: b"PORT NEW\r\n".to_vec(),
            lead_in: 0,
        }
    );
    // Bytes acknowledged are not forwarded again, whatever a retransmission says; changed
    // bytes still kept are refused.
    assert_eq!(
        s.plan(0, b"PORT 6,6,", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Withhold(WithholdReason::Inconsistent)
    );
    s.acknowledged(16);
    assert_eq!(
        s.plan(0, b"PORT 6,6,", MAX, may_announce, rewrite_port(&mut seen)),
        SegmentPlan::Rebuilt {
            start: 24,
            payload: Vec::new(),
            lead_in: 0,
        }
    );
}

#[test]
fn an_over_long_line_decided_as_it_passes_max_line_is_not_withheld_any_further() {
    // Replaced at once: the bytes read so far become the replacement, the rest passes, and
    // nothing more is asked when the line ends.
    let mut s = stream_at(0);
    let mut offers = Vec::new();
    let mut long = b"PORT ".to_vec();
    long.extend(std::iter::repeat_n(b'9', 700));
    let mut decide = |_: u32, line: &[u8], ended: bool| {
        offers.push((line.len(), ended));
        if ended {
            LineDecision::Keep
        } else {
            LineDecision::Replace(b"REFUSED ".to_vec())
        }
    };
    assert_eq!(
        s.plan(0, &long, MAX, may_announce, &mut decide),
        SegmentPlan::Rebuilt {
            start: 0,
            payload: b"REFUSED ".to_vec(),
            lead_in: 0
        }
    );
    let tail = b"99999\r\nNOOP\r\n";
    assert_eq!(
        s.plan(long.len() as u32, tail, MAX, may_announce, &mut decide),
        SegmentPlan::Unchanged,
        "the rest of the line, and the next, pass"
    );
    assert_eq!(
        offers,
        [(MAX, false), (6, true)],
        "the NOOP is offered, the tail is not"
    );
    assert!(s.at_line_boundary());
    // Kept at once: nothing is withheld from then on.
    let mut s = stream_at(0);
    let keep = |_: u32, _: &[u8], _: bool| LineDecision::Keep;
    assert_eq!(
        s.plan(0, &long, MAX, may_announce, keep),
        SegmentPlan::Unchanged
    );
    assert!(!s.holding_overlong());
}
