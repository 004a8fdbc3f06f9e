//! Running packets through an `Engine`: the kit's only contact with the engine's packet
//! API (`Engine::process`, `PacketBuf`, `Engine::poll_transmit`), so a change of those is
//! a change here alone, and the FTP reports it queued. It builds no packet and judges no
//! output; it hands back what the engine did.

use std::time::Duration;

use ftpgate::engine::{Engine, Event, PacketBuf, Verdict};

/// Result of pushing one packet through the engine.
pub struct Outcome {
    pub verdict: Verdict,
    pub bytes: Vec<u8>,
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Copies `packet` into `storage` (the rest is tailroom) and runs it through `engine` at
/// `now`; the packet out is `storage[..len]`. Allocates nothing (the benches' loop).
#[inline]
pub fn process_in(
    engine: &Engine,
    now: Duration,
    packet: &[u8],
    storage: &mut [u8],
) -> (Verdict, usize) {
    storage[..packet.len()].copy_from_slice(packet);
    let mut buf = PacketBuf::new(storage, packet.len());
    let verdict = engine.process(now, &mut buf);
    (verdict, buf.len())
}

/// Runs `packet` through `engine` at `now` in a buffer with 256 bytes of tailroom.
pub fn run(engine: &Engine, now: Duration, packet: &[u8]) -> Outcome {
    let mut storage = vec![0; packet.len() + 256];
    let (verdict, len) = process_in(engine, now, packet, &mut storage);
    storage.truncate(len);
    Outcome {
        verdict,
        bytes: storage,
    }
}

/// The next packet the engine wrote itself (an FTP error reply, a reset), if any.
pub fn next_transmit(engine: &Engine) -> Option<Vec<u8>> {
    let mut packet = vec![0; ftpgate::engine::MAX_GENERATED];
    let len = engine.poll_transmit(&mut packet)?;
    packet.truncate(len);
    Some(packet)
}

/// The FTP ALG's reports taken from the engine's event queue: violations (check, outcome,
/// line) and notices (notice, line), in order.
#[derive(Debug, Default)]
pub struct FtpReports {
    pub violations: Vec<(&'static str, &'static str, String)>,
    pub notices: Vec<(&'static str, String)>,
}

impl FtpReports {
    /// The checks that fired.
    pub fn checks(&self) -> Vec<&'static str> {
        self.violations.iter().map(|v| v.0).collect()
    }

    /// The notices given.
    pub fn notice_names(&self) -> Vec<&'static str> {
        self.notices.iter().map(|n| n.0).collect()
    }

    /// (check, outcome) of every violation, and every notice's name.
    pub fn outcomes(&self) -> (Vec<(&'static str, &'static str)>, Vec<&'static str>) {
        let violations = self.violations.iter().map(|v| (v.0, v.1)).collect();
        (violations, self.notice_names())
    }
}

/// Takes every pending event off the engine's queue, keeping the FTP reports.
pub fn ftp_reports(engine: &Engine) -> FtpReports {
    let mut out = FtpReports::default();
    while let Some(event) = engine.poll_event() {
        match event {
            Event::FtpViolation {
                check,
                outcome,
                line,
                ..
            } => out.violations.push((check, outcome, line)),
            Event::FtpNotice { notice, line, .. } => out.notices.push((notice, line)),
            _ => {}
        }
    }
    out
}
