//! Wrap-safe TCP sequence numbers: [`SeqNumber`] compares 32-bit sequence and acknowledgement
//! numbers the way RFC 793 §3.3 asks (serial-number arithmetic, RFC 1982), so `0x0000_0010` is
//! after `0xffff_fff0`.
//!
//! This module owns the comparisons only. It must never hold connection state or decide what a
//! segment means: callers say which numbers they compare.

/// A TCP sequence (or acknowledgement) number, ordered modulo 2^32 within half the space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl From<u32> for SeqNumber {
    fn from(value: u32) -> Self {
        SeqNumber(value)
    }
}

impl SeqNumber {
    /// Signed distance from `other` to `self` (positive: `self` is after `other`).
    fn offset_from(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `self` comes strictly after `other`.
    pub fn is_after(self, other: impl Into<SeqNumber>) -> bool {
        self.offset_from(other.into()) > 0
    }

    /// `self` comes strictly before `other`.
    pub fn is_before(self, other: impl Into<SeqNumber>) -> bool {
        other.into().offset_from(self) > 0
    }

    /// `self` is `other` or comes before it.
    pub fn is_at_or_before(self, other: impl Into<SeqNumber>) -> bool {
        other.into().offset_from(self) >= 0
    }

    /// The later of the two.
    pub fn later(self, other: impl Into<SeqNumber>) -> SeqNumber {
        let other = other.into();
        if self.is_after(other) {
            self
        } else {
            other
        }
    }

    /// The earlier of the two.
    pub fn earlier(self, other: impl Into<SeqNumber>) -> SeqNumber {
        let other = other.into();
        if self.is_after(other) {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SeqNumber;

    #[test]
    fn orders_across_the_wrap() {
        let before_wrap = SeqNumber(0xffff_fff0);
        assert!(SeqNumber(0x10).is_after(before_wrap));
        assert!(before_wrap.is_before(0x10));
        assert!(!before_wrap.is_after(0x10));
        assert_eq!(before_wrap.later(0x10), SeqNumber(0x10));
        assert_eq!(SeqNumber(0x10).earlier(before_wrap), before_wrap);
    }

    #[test]
    fn equal_numbers_are_neither_before_nor_after() {
        let seq = SeqNumber(1000);
        assert!(!seq.is_after(1000));
        assert!(!seq.is_before(1000));
        assert!(seq.is_at_or_before(1000));
        assert_eq!(seq.later(1000), seq);
    }

    #[test]
    fn exactly_half_the_space_apart_is_unordered() {
        // RFC 1982 leaves 2^31 apart undefined: neither is before, after or equal to the other.
        assert!(SeqNumber(0x7fff_ffff).is_after(0));
        assert!(SeqNumber(0).is_at_or_before(0x7fff_ffff));
        for (a, b) in [(0x8000_0000, 0), (0, 0x8000_0000)] {
            assert!(!SeqNumber(a).is_after(b));
            assert!(!SeqNumber(a).is_before(b));
            assert!(!SeqNumber(a).is_at_or_before(b));
        }
    }
}
