//! The debug log of dropped packets (`RUST_LOG=debug` under `ftpgate run`): one line per
//! drop with its 5-tuple and reason, at most [`LINES_PER_SECOND`] lines a second, so that a
//! flood cannot flood the log; the drops left out are counted in the next line that is
//! written.
//!
//! Owns the rate limit. It costs one check of the log level when debug is off, never
//! changes a packet, and reads the clock only when it is about to log.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::engine::wire::parse::parse;
use crate::engine::DropReason;

/// Most drop lines written per second.
pub const LINES_PER_SECOND: u32 = 20;

/// The rate limiter's state: the current one-second window.
struct Window {
    started: Option<Instant>,
    written: u32,
    suppressed: u64,
}

static WINDOW: Mutex<Window> = Mutex::new(Window {
    started: None,
    written: 0,
    suppressed: 0,
});

/// Whether a line may be written at `now`; when it may, also how many were left out since
/// the last line written.
fn admit(window: &mut Window, now: Instant) -> Option<u64> {
    let fresh = window
        .started
        .is_none_or(|started| now.duration_since(started) >= Duration::from_secs(1));
    if fresh {
        window.started = Some(now);
        window.written = 0;
    }
    if window.written >= LINES_PER_SECOND {
        window.suppressed += 1;
        return None;
    }
    window.written += 1;
    Some(std::mem::take(&mut window.suppressed))
}

/// Logs the drop of `packet` (as the worker holds it) for `reason`, at debug level, within
/// the rate limit.
pub fn dropped(packet: &[u8], reason: DropReason) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let Some(suppressed) = admit(&mut WINDOW.lock(), Instant::now()) else {
        return;
    };
    match parse(packet) {
        Ok(parsed) => {
            let (sport, dport) = parsed.ports().unwrap_or((0, 0));
            tracing::debug!(
                reason = reason.name(),
                proto = parsed.protocol,
                src = %parsed.src,
                sport,
                dst = %parsed.dst,
                dport,
                suppressed,
                "dropped"
            );
        }
        Err(_) => tracing::debug!(
            reason = reason.name(),
            len = packet.len(),
            suppressed,
            "dropped (unparsable packet)"
        ),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn at_most_the_limit_per_second_and_the_rest_counted() {
        let mut window = Window {
            started: None,
            written: 0,
            suppressed: 0,
        };
        let start = Instant::now();
        let admitted = (0..100)
            .filter(|_| admit(&mut window, start).is_some())
            .count();
        assert_eq!(admitted, LINES_PER_SECOND as usize);
        // The next window's first line reports the ones left out.
        let later = start + Duration::from_secs(1);
        assert_eq!(
            admit(&mut window, later),
            Some(100 - u64::from(LINES_PER_SECOND))
        );
        assert_eq!(admit(&mut window, later), Some(0));
    }
}
