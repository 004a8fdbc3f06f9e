//! `ftpgate replay`: runs a capture through the engine in capture order, with each packet's
//! timestamp as the engine's time, and writes the result to a capture of the same kind.
//! Owns the file handling, the progress display and the summary; every decision about a
//! packet is the engine's.
//!
//! Where the capture was recorded decides what the output shows:
//! - [`RecordedAt::Gateway`]: the capture is what reached the gateway from both sides; the
//!   output is what the gateway sends on (accepted packets, rewritten; answers to rejected ones).
//! - [`RecordedAt::Inside`]: the capture was recorded on an inside host with no NAT on the
//!   path; replies from outside are first turned into what would have arrived on the outside
//!   interface, and the output is the outside wire in both directions.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::capture::{
    split_frame, CaptureError, CaptureReader, CaptureWriter, CapturedPacket, FrameParts, LinkType,
};
use super::events::{EventSink, LogError};
use super::replay_checksums::{ChecksumFixer, ChecksumMode};
use crate::engine::{
    Engine, EngineSettings, EngineStats, PacketBuf, Transmit, Verdict, MAX_GENERATED,
};

/// Room after a packet for rewrites that grow it.
const TAILROOM: usize = 1024;
/// Largest IP packet plus tailroom.
const BUFFER_LEN: usize = 65_535 + TAILROOM;
/// Engine time between expiry sweeps.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Packets between progress-bar updates.
const PROGRESS_STEP: u64 = 4096;

/// Where the replayed capture was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordedAt {
    /// On the gateway: packets from both sides as they reached it.
    #[default]
    Gateway,
    /// On an inside host, with no translation on the path.
    Inside,
}

/// How to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Where the capture was recorded.
    pub recorded_at: RecordedAt,
    /// Where to write the FTP transfer log (JSON lines); `-` is standard output; none: not
    /// written.
    pub transfer_log: Option<PathBuf>,
    /// What to do with transport checksums left unfinished by offload.
    pub checksums: ChecksumMode,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading the input or writing the output capture failed.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// Writing the transfer log failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Frames read from the input.
    pub frames_read: u64,
    /// Frames that carry no IP packet (ARP, LLDP, ...): copied to the output unchanged.
    pub not_ip: u64,
    /// Frames whose link-layer header was cut short or of a link type not supported: left out.
    pub bad_link: u64,
    /// Frames written to the output (accepted packets, answers, packets the engine wrote
    /// itself, non-IP frames).
    pub frames_written: u64,
    /// Packets the engine wrote itself (FTP error replies, RSTs to reset control connections),
    /// included in `frames_written`.
    pub frames_generated: u64,
    /// Rule hits with `log: true`.
    pub rule_events: u64,
    /// FTP transfers logged.
    pub transfers: u64,
    /// Packets whose transport checksum was finished before the engine saw them
    /// (`--checksums`).
    pub checksums_finished: u64,
    /// Sending hosts found to leave their checksums to offload (`--checksums auto`).
    pub offloading_hosts: usize,
    /// The engine's counters at the end.
    pub engine: EngineStats,
    /// A read error that ended the replay early, after the frames before it were processed.
    pub input_error: Option<String>,
}

/// Replays `input` through a new engine with `settings`, writing to `output`.
pub fn replay_file(
    settings: EngineSettings,
    input: &Path,
    output: &Path,
    options: &ReplayOptions,
) -> Result<ReplaySummary, ReplayError> {
    let engine = Engine::new(settings);
    replay_with(&engine, input, output, options)
}

/// Replays `input` through `engine`, writing to `output`.
pub fn replay_with(
    engine: &Engine,
    input: &Path,
    output: &Path,
    options: &ReplayOptions,
) -> Result<ReplaySummary, ReplayError> {
    let mut reader = CaptureReader::open(input)?;
    let mut writer = CaptureWriter::create(output, reader.format())?;
    let mut interfaces_written = reader.format().interfaces.len();
    let events = EventSink::create(options.transfer_log.as_deref())?;
    let mut summary = Replay::new(engine, options.recorded_at, events);
    summary.checksums = ChecksumFixer::new(options.checksums);
    let progress = progress_bar();
    let mut frame = CapturedPacket::default();
    loop {
        match reader.next_packet(&mut frame) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                summary.input_error = Some(error.to_string());
                break;
            }
        }
        while frame.interface >= interfaces_written {
            // A pcapng interface described after the first packet.
            let Some(info) = reader.format().interfaces.get(interfaces_written).copied() else {
                break;
            };
            writer.add_interface(&info)?;
            interfaces_written += 1;
        }
        summary.frame(&frame, &mut writer)?;
        summary.events.drain(engine)?;
        if summary.frames_read.is_multiple_of(PROGRESS_STEP) {
            progress.set_position(summary.frames_read);
        }
    }
    progress.finish_and_clear();
    writer.finish()?;
    // Whatever is still open is logged with what the capture held, marked incomplete.
    summary.events.drain(engine)?;
    let mut logged = Ok(());
    engine.flush(summary.last_time, |event| {
        if logged.is_ok() {
            logged = summary.events.handle(event);
        }
    });
    logged?;
    summary.finish()
}

fn progress_bar() -> ProgressBar {
    // Drawn on stderr only when it is a terminal.
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} frames replayed ({per_sec})") {
        bar.set_style(style);
    }
    bar
}

struct Replay<'e> {
    engine: &'e Engine,
    recorded_at: RecordedAt,
    buffer: Vec<u8>,
    /// The outside-wire form of an inbound packet, when the output shows the outside wire.
    arrival: Vec<u8>,
    /// The packets the engine generates for the frame being replayed.
    transmit: Transmit,
    /// Where a packet of the engine's outbox (the sweep's RSTs) is copied to be written.
    generated: Vec<u8>,
    next_sweep: Option<Duration>,
    /// The latest capture time seen: when the flush at the end happens.
    last_time: Duration,
    frames_read: u64,
    not_ip: u64,
    bad_link: u64,
    frames_written: u64,
    frames_generated: u64,
    events: EventSink,
    checksums: ChecksumFixer,
    input_error: Option<String>,
}

impl<'e> Replay<'e> {
    fn new(engine: &'e Engine, recorded_at: RecordedAt, events: EventSink) -> Self {
        Self {
            engine,
            recorded_at,
            buffer: vec![0; BUFFER_LEN],
            arrival: Vec::new(),
            transmit: Transmit::new(),
            generated: vec![0; MAX_GENERATED],
            next_sweep: None,
            last_time: Duration::ZERO,
            frames_read: 0,
            not_ip: 0,
            bad_link: 0,
            frames_written: 0,
            frames_generated: 0,
            events,
            checksums: ChecksumFixer::default(),
            input_error: None,
        }
    }

    fn frame(
        &mut self,
        frame: &CapturedPacket,
        writer: &mut CaptureWriter,
    ) -> Result<(), CaptureError> {
        self.frames_read += 1;
        let now = frame.timestamp;
        self.last_time = self.last_time.max(now);
        if self.next_sweep.is_none_or(|at| now >= at) {
            self.engine.expire(now);
            self.next_sweep = Some(now + SWEEP_INTERVAL);
        }
        let parts = match split_frame(frame.link_type, &frame.data) {
            Ok(Some(parts)) => parts,
            Ok(None) => {
                self.not_ip += 1;
                self.frames_written += 1;
                return writer.write_packet(now, frame.interface, &frame.data, &[]);
            }
            Err(_) => {
                self.bad_link += 1;
                return Ok(());
            }
        };
        let len = parts.ip_packet.len().min(BUFFER_LEN - TAILROOM);
        self.buffer[..len].copy_from_slice(&parts.ip_packet[..len]);
        self.checksums.prepare(&mut self.buffer[..len]);
        let (verdict, out_len, show_arrival) = {
            let mut packet = PacketBuf::new(&mut self.buffer, len);
            let show_arrival = self.recorded_at == RecordedAt::Inside
                && from_outside(self.engine, &mut packet, now);
            if show_arrival {
                self.arrival.clear();
                self.arrival.extend_from_slice(packet.bytes());
            }
            let verdict = self
                .engine
                .process_with(now, &mut packet, &mut self.transmit);
            (verdict, packet.len(), show_arrival)
        };
        let packet = if show_arrival && verdict == Verdict::Accept {
            &self.arrival[..]
        } else {
            &self.buffer[..out_len]
        };
        match verdict {
            Verdict::Accept => {
                self.frames_written += 1;
                writer.write_packet(now, frame.interface, parts.link_header, packet)?;
            }
            Verdict::Respond(_) => {
                self.frames_written += 1;
                let header = answer_link_header(frame.link_type, parts.link_header);
                writer.write_packet(now, frame.interface, &header, packet)?;
            }
            Verdict::Drop(reason) => {
                tracing::debug!(frame = self.frames_read, reason = reason.name(), "dropped");
            }
        }
        self.write_generated(now, frame, &parts, writer)
    }

    /// Writes the packets the engine generated since the last frame, oldest first (the
    /// sweep's RSTs from the engine's outbox, then this frame's): with the frame's link header
    /// when they travel on, with the answer's when they go back to the frame's sender.
    fn write_generated(
        &mut self,
        now: Duration,
        frame: &CapturedPacket,
        parts: &FrameParts<'_>,
        writer: &mut CaptureWriter,
    ) -> Result<(), CaptureError> {
        let link_header = parts.link_header;
        let mut sender = None; // the frame's source, parsed only when something was generated
        let mut write = |generated: &[u8]| {
            let sender = *sender.get_or_insert_with(|| {
                crate::engine::wire::parse(parts.ip_packet)
                    .ok()
                    .map(|parsed| parsed.src)
            });
            let to_sender = crate::engine::wire::parse(generated)
                .is_ok_and(|parsed| Some(parsed.dst) == sender);
            let header = if to_sender {
                answer_link_header(frame.link_type, link_header)
            } else {
                link_header.to_vec()
            };
            self.frames_written += 1;
            self.frames_generated += 1;
            writer.write_packet(now, frame.interface, &header, generated)
        };
        while let Some(len) = self.engine.poll_transmit(&mut self.generated) {
            write(&self.generated[..len])?;
        }
        while let Some(generated) = self.transmit.pop() {
            write(generated)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<ReplaySummary, ReplayError> {
        self.events.flush()?;
        let counts = self.events.counts;
        Ok(ReplaySummary {
            frames_read: self.frames_read,
            not_ip: self.not_ip,
            bad_link: self.bad_link,
            frames_written: self.frames_written,
            frames_generated: self.frames_generated,
            rule_events: counts.rule_hits,
            transfers: counts.transfers,
            checksums_finished: self.checksums.finished,
            offloading_hosts: self.checksums.offloading_hosts(),
            engine: self.engine.stats(),
            input_error: self.input_error,
        })
    }
}

/// For inside recordings: whether the packet came from outside, after turning a reply to an
/// inside host into its outside-wire form.
fn from_outside(engine: &Engine, packet: &mut PacketBuf<'_>, now: Duration) -> bool {
    engine.reconstruct_outside_arrival(now, packet)
        || crate::engine::wire::parse(packet.bytes())
            .is_ok_and(|parsed| !engine.settings().is_inside(parsed.src))
}

/// The link header for an answer travelling back to the packet's sender: Ethernet source and
/// destination swapped; other link layers kept.
fn answer_link_header(link_type: LinkType, header: &[u8]) -> Vec<u8> {
    let mut answer = header.to_vec();
    if link_type == LinkType::Ethernet && answer.len() >= 12 {
        let (dst, rest) = answer.split_at_mut(6);
        dst.swap_with_slice(&mut rest[..6]);
    }
    answer
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = &self.engine;
        writeln!(f, "frames read        {}", self.frames_read)?;
        writeln!(f, "  not IP           {} (copied unchanged)", self.not_ip)?;
        writeln!(f, "  bad link header  {}", self.bad_link)?;
        writeln!(f, "IP packets         {}", stats.packets)?;
        if self.checksums_finished > 0 {
            writeln!(
                f,
                "  checksums finished {} (offloaded, from {} hosts)",
                self.checksums_finished, self.offloading_hosts
            )?;
        }
        stats.write_verdicts(f)?;
        writeln!(f, "frames written     {}", self.frames_written)?;
        if self.frames_generated > 0 {
            writeln!(
                f,
                "  generated        {} (FTP error replies, RSTs)",
                self.frames_generated
            )?;
        }
        writeln!(f, "flows created      {}", stats.flows_created)?;
        writeln!(f, "flows at end       {}", stats.flows)?;
        writeln!(f, "flows expired      {}", stats.flows_expired)?;
        writeln!(f, "flows reclaimed    {}", stats.flows_reclaimed)?;
        writeln!(f, "NAT bindings       {}", stats.nat_bindings)?;
        writeln!(f, "rule log events    {}", self.rule_events)?;
        writeln!(f, "FTP transfers      {}", self.transfers)?;
        if let Some(error) = &self.input_error {
            writeln!(f, "input ended early: {error}")?;
        }
        Ok(())
    }
}
