//! The TUN device: opening it (one queue per worker, multi-queue when there are several; the
//! virtio-net header with TSO/USO/checksum offloads unless turned off; its transmit queue
//! length) and the worker loop that reads a frame, hands it to the engine (through
//! [`vnet::process_frame`] when offloads are on) and writes back what the engine accepts or
//! answers, then what the engine generated. A packet the engine refuses is dropped; nothing a
//! packet contains can end the loop. Workers do no file I/O: events go through the engine's
//! queue.
//!
//! One syscall per frame read and one per frame written while traffic flows: the device is
//! non-blocking, and a worker waits (poll on the device and the stop event) only when a read
//! finds nothing. A busy worker looks at the stop event every [`STOP_CHECK_EVERY`] frames.

use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tun_rs::{DeviceBuilder, InterruptEvent, SyncDevice};

use super::vnet::{self, FrameBuffers, FrameOutcome, HEADER_LEN, MAX_PACKET};
use crate::config::TunSettings;
use crate::engine::Engine;

/// Room after a packet for rewrites that grow it.
const TAILROOM: usize = 1024;
/// Frames a busy worker handles between two looks at its stop event.
const STOP_CHECK_EVERY: u32 = 256;

/// Opens the device with `settings.queues` queues, up and without addresses.
pub fn open(settings: &TunSettings) -> io::Result<Vec<SyncDevice>> {
    let mtu = u16::try_from(settings.mtu).unwrap_or(u16::MAX);
    let txqueuelen = u32::try_from(settings.txqueuelen).unwrap_or(u32::MAX);
    let first = DeviceBuilder::new()
        .name(settings.name.clone())
        .mtu(mtu)
        .packet_information(false)
        .multi_queue(settings.queues > 1)
        .offload(settings.offload)
        .tx_queue_len(txqueuelen)
        .enable(true)
        .build_sync()?;
    let mut queues = Vec::with_capacity(settings.queues);
    for _ in 1..settings.queues {
        queues.push(first.try_clone()?);
    }
    queues.insert(0, first);
    for queue in &queues {
        queue.set_nonblocking(true)?;
    }
    Ok(queues)
}

/// I/O failures and offload work of one worker, counted, and the packets it read (for
/// `ftpgate status` and the metrics, per queue).
#[derive(Debug, Default)]
pub struct IoErrors {
    /// Frames read from the device.
    pub packets: AtomicU64,
    /// Reads that failed (other than "nothing to read" and the stop event).
    pub reads: AtomicU64,
    /// Writes that failed.
    pub writes: AtomicU64,
    /// Super-packets translated whole.
    pub whole: AtomicU64,
    /// Super-packets cut into segments (an FTP control connection, a new flow, ...).
    pub segmented: AtomicU64,
    /// Frames with an unusable virtio-net header or super-packet, dropped.
    pub malformed: AtomicU64,
}

/// Reads frames from `device` until `stop` fires, running each through `engine` at the time
/// since `epoch`, and writes back accepted packets and answers. `offload` says whether the
/// device was opened with the virtio-net header.
pub fn worker(
    engine: &Engine,
    device: &SyncDevice,
    stop: &InterruptEvent,
    epoch: Instant,
    offload: bool,
    errors: &IoErrors,
) {
    let mut frame = vec![0u8; HEADER_LEN + MAX_PACKET + TAILROOM];
    let mut buffers = FrameBuffers::new(TAILROOM);
    let mut since_stop_check = 0u32;
    let mut send = |header: &[u8; HEADER_LEN], packet: &[u8]| {
        let result = if offload {
            device.send_vectored(&[IoSlice::new(header), IoSlice::new(packet)])
        } else {
            device.send(packet)
        };
        if let Err(err) = result {
            errors.writes.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, len = packet.len(), "writing to the TUN device failed");
        }
    };
    loop {
        let start = if offload { 0 } else { HEADER_LEN };
        let read_room = HEADER_LEN + MAX_PACKET;
        match device.recv(&mut frame[start..read_room]) {
            Ok(len) => {
                errors.packets.fetch_add(1, Ordering::Relaxed);
                let now = epoch.elapsed();
                if offload {
                    let outcome =
                        vnet::process_frame(engine, now, &mut frame, len, &mut buffers, &mut send);
                    count(errors, outcome);
                } else {
                    vnet::process_one(engine, now, &mut frame[start..], len, &mut send);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                since_stop_check = 0;
                match device.wait_readable_intr(stop) {
                    Ok(()) => continue,
                    Err(_) if stop.is_trigger() => return,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => {
                        errors.reads.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(error = %err, "waiting on the TUN device failed");
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                errors.reads.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %err, "reading from the TUN device failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        }
        while let Some(generated) = engine.poll_transmit() {
            send(&vnet::PLAIN, &generated);
        }
        since_stop_check += 1;
        if since_stop_check >= STOP_CHECK_EVERY {
            since_stop_check = 0;
            if stop.is_trigger() {
                tracing::debug!("worker stopping");
                return;
            }
        }
    }
}

fn count(errors: &IoErrors, outcome: FrameOutcome) {
    let counter = match outcome {
        FrameOutcome::Plain => return,
        FrameOutcome::Whole => &errors.whole,
        FrameOutcome::Segmented(_) => &errors.segmented,
        FrameOutcome::Malformed => &errors.malformed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}
