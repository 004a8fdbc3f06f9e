//! Timestamp resolutions of capture files and the conversions between file ticks and
//! [`Duration`]s since the Unix epoch.
//!
//! Owns the arithmetic only; it never touches a file. The reader turns ticks into a
//! `Duration` with [`TimestampResolution::ticks_to_duration`] and the writer turns the
//! `Duration` back with [`TimestampResolution::duration_to_ticks`]; for every resolution of
//! at most one tick per nanosecond the second is the exact inverse of the first, so a capture
//! read and written again keeps its timestamps bit for bit.

use std::fmt;
use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A timestamp resolution, stored as a pcapng `if_tsresol` code.
///
/// With the high bit clear the code `n` means ticks of 10^-n seconds; with it set, ticks of
/// 2^-(n & 0x7f) seconds. Classic pcap files have either [`MICRO`](Self::MICRO) or
/// [`NANO`](Self::NANO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimestampResolution(u8);

impl TimestampResolution {
    /// Microseconds (`if_tsresol` 6), the pcapng default and classic pcap's usual resolution.
    pub const MICRO: Self = Self(6);
    /// Nanoseconds (`if_tsresol` 9), classic pcap with the nanosecond magic number.
    pub const NANO: Self = Self(9);

    /// The resolution an `if_tsresol` code names, or `None` if its tick does not fit a u64
    /// count per second (10^20 and up, 2^64 and up).
    pub fn from_code(code: u8) -> Option<Self> {
        let res = Self(code);
        res.ticks_per_second().map(|_| res)
    }

    /// The `if_tsresol` code.
    pub fn code(self) -> u8 {
        self.0
    }

    /// Ticks per second, or `None` for a code whose tick count per second overflows a u64.
    pub fn ticks_per_second(self) -> Option<u64> {
        let exponent = u32::from(self.0 & 0x7f);
        if self.0 & 0x80 == 0 {
            10u64.checked_pow(exponent)
        } else {
            1u64.checked_shl(exponent)
        }
    }

    /// Converts a tick count (plus a whole-second offset, pcapng's `if_tsoffset`) to the time
    /// since the epoch, rounding down to the nanosecond. `None` if the result is before the
    /// epoch or beyond what a `Duration` holds.
    pub fn ticks_to_duration(self, ticks: u64, offset_secs: i64) -> Option<Duration> {
        let per_sec = self.ticks_per_second()?;
        let secs = i128::from(ticks / per_sec) + i128::from(offset_secs);
        let frac = u128::from(ticks % per_sec);
        let nanos = frac * NANOS_PER_SEC / u128::from(per_sec);
        let secs = u64::try_from(secs).ok()?;
        let nanos = u32::try_from(nanos).ok()?;
        Some(Duration::new(secs, nanos))
    }

    /// Converts a time since the epoch to a tick count relative to `offset_secs`.
    ///
    /// The fractional part is the last tick at or before the timestamp, so a timestamp made by
    /// [`ticks_to_duration`](Self::ticks_to_duration) maps back to the tick it came from. `None`
    /// if the count is negative or overflows a u64.
    pub fn duration_to_ticks(self, time: Duration, offset_secs: i64) -> Option<u64> {
        let per_sec = u128::from(self.ticks_per_second()?);
        let secs = i128::from(time.as_secs()) - i128::from(offset_secs);
        let nanos = u128::from(time.subsec_nanos());
        // Largest f with floor(f * 1e9 / per_sec) <= nanos, i.e. f < (nanos + 1) * per_sec / 1e9.
        let frac = ((nanos + 1) * per_sec).div_ceil(NANOS_PER_SEC) - 1;
        let total = secs
            .checked_mul(i128::try_from(per_sec).ok()?)?
            .checked_add(i128::try_from(frac).ok()?)?;
        u64::try_from(total).ok()
    }
}

impl Default for TimestampResolution {
    fn default() -> Self {
        Self::MICRO
    }
}

impl fmt::Display for TimestampResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.0 & 0x7f;
        if self.0 & 0x80 == 0 {
            write!(f, "10^-{exponent} s")
        } else {
            write!(f, "2^-{exponent} s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(
            TimestampResolution::MICRO.ticks_per_second(),
            Some(1_000_000)
        );
        assert_eq!(
            TimestampResolution::NANO.ticks_per_second(),
            Some(1_000_000_000)
        );
        assert_eq!(
            TimestampResolution::from_code(0x80 | 20).and_then(|r| r.ticks_per_second()),
            Some(1 << 20)
        );
        assert_eq!(
            TimestampResolution::from_code(19).map(|r| r.code()),
            Some(19)
        );
        assert!(TimestampResolution::from_code(20).is_none());
        assert!(TimestampResolution::from_code(0x80 | 64).is_none());
        assert_eq!(
            TimestampResolution::from_code(0x80 | 63).map(|r| r.code()),
            Some(0xbf)
        );
    }

    #[test]
    fn micro_and_nano() {
        let us = TimestampResolution::MICRO;
        let t = us.ticks_to_duration(1_515_933_236_562_913, 0).unwrap();
        assert_eq!(t, Duration::new(1_515_933_236, 562_913_000));
        assert_eq!(us.duration_to_ticks(t, 0), Some(1_515_933_236_562_913));
        // A finer timestamp is truncated to the tick at or before it.
        assert_eq!(
            us.duration_to_ticks(Duration::new(1, 1_999), 0),
            Some(1_000_001)
        );
        let ns = TimestampResolution::NANO;
        let t = Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(
            ns.ticks_to_duration(ns.duration_to_ticks(t, 0).unwrap(), 0),
            Some(t)
        );
    }

    #[test]
    fn binary_resolutions_round_trip() {
        for code in [0x80 | 1, 0x80 | 10, 0x80 | 20, 0x80 | 29] {
            let res = TimestampResolution::from_code(code).unwrap();
            let per_sec = res.ticks_per_second().unwrap();
            for frac in [0, 1, 2, per_sec / 3, per_sec - 2, per_sec - 1] {
                let ticks = 1_600_000_000 * per_sec + frac;
                let t = res.ticks_to_duration(ticks, 0).unwrap();
                assert_eq!(
                    res.duration_to_ticks(t, 0),
                    Some(ticks),
                    "code {code:#x} frac {frac}"
                );
            }
        }
    }

    #[test]
    fn finer_than_nanoseconds_keeps_the_duration() {
        // More than one tick per nanosecond: ticks cannot all survive, the Duration does.
        for code in [0x80 | 30, 0x80 | 40, 12] {
            let res = TimestampResolution::from_code(code).unwrap();
            let ticks = 3 * res.ticks_per_second().unwrap() + 12_345;
            let t = res.ticks_to_duration(ticks, 0).unwrap();
            let back = res.duration_to_ticks(t, 0).unwrap();
            assert_eq!(res.ticks_to_duration(back, 0), Some(t), "code {code:#x}");
        }
    }

    #[test]
    fn offsets_and_limits() {
        let us = TimestampResolution::MICRO;
        assert_eq!(
            us.ticks_to_duration(5_000_000, 100),
            Some(Duration::from_secs(105))
        );
        assert_eq!(
            us.duration_to_ticks(Duration::from_secs(105), 100),
            Some(5_000_000)
        );
        assert_eq!(us.ticks_to_duration(5_000_000, -10), None);
        assert_eq!(us.duration_to_ticks(Duration::from_secs(5), 10), None);
        assert_eq!(us.duration_to_ticks(Duration::from_secs(u64::MAX), 0), None);
        let ps = TimestampResolution::from_code(12).unwrap();
        let t = ps.ticks_to_duration(10_000_000_123_456_789_012, 0).unwrap();
        assert_eq!(t, Duration::new(10_000_000, 123_456_789));
        assert_eq!(
            ps.ticks_to_duration(ps.duration_to_ticks(t, 0).unwrap(), 0),
            Some(t)
        );
    }
}
