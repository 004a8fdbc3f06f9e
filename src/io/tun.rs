//! The TUN device: opening it (one queue per worker, multi-queue when there are several) and
//! the worker loop that reads a packet, hands it to the engine and writes back what the
//! engine accepts or answers. A packet the engine refuses is dropped; nothing a packet
//! contains can end the loop. Workers do no file I/O: events go through the engine's queue.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tun_rs::{DeviceBuilder, InterruptEvent, SyncDevice};

use crate::config::TunSettings;
use crate::engine::{Engine, PacketBuf, Verdict};

/// Room after a packet for rewrites that grow it.
const TAILROOM: usize = 1024;
/// How long a read waits before the worker looks at its stop event again.
const READ_TIMEOUT: Duration = Duration::from_millis(500);

/// Opens the device with `settings.queues` queues, up and without addresses.
pub fn open(settings: &TunSettings) -> io::Result<Vec<SyncDevice>> {
    let mtu = u16::try_from(settings.mtu).unwrap_or(u16::MAX);
    let first = DeviceBuilder::new()
        .name(settings.name.clone())
        .mtu(mtu)
        .packet_information(false)
        .multi_queue(settings.queues > 1)
        .enable(true)
        .build_sync()?;
    let mut queues = Vec::with_capacity(settings.queues);
    for _ in 1..settings.queues {
        queues.push(first.try_clone()?);
    }
    queues.insert(0, first);
    Ok(queues)
}

/// I/O failures of one worker, counted, and the packets it read (for `ftpgate status` and
/// the metrics, per queue).
#[derive(Debug, Default)]
pub struct IoErrors {
    /// Packets read from the device.
    pub packets: AtomicU64,
    /// Reads that failed (other than timeouts and the stop event).
    pub reads: AtomicU64,
    /// Writes that failed.
    pub writes: AtomicU64,
}

/// Reads packets from `device` until `stop` fires, running each through `engine` at the time
/// since `epoch`, and writes back accepted packets and answers.
pub fn worker(
    engine: &Engine,
    device: &SyncDevice,
    stop: &InterruptEvent,
    epoch: Instant,
    mtu: usize,
    errors: &IoErrors,
) {
    let mut storage = vec![0u8; mtu.max(1500) + TAILROOM];
    loop {
        let read_room = storage.len() - TAILROOM;
        let len =
            match device.recv_intr_timeout(&mut storage[..read_room], stop, Some(READ_TIMEOUT)) {
                Ok(len) => len,
                Err(err) if stop.is_trigger() => {
                    tracing::debug!(error = %err, "worker stopping");
                    return;
                }
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(err) => {
                    errors.reads.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %err, "reading from the TUN device failed");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
        errors.packets.fetch_add(1, Ordering::Relaxed);
        let mut packet = PacketBuf::new(&mut storage, len);
        match engine.process(epoch.elapsed(), &mut packet) {
            Verdict::Accept | Verdict::Respond(_) => {
                if let Err(err) = device.send(packet.bytes()) {
                    errors.writes.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %err, len = packet.len(), "writing to the TUN device failed");
                }
            }
            Verdict::Drop(reason) => super::drop_log::dropped(packet.bytes(), reason),
        }
        while let Some(generated) = engine.poll_transmit() {
            if let Err(err) = device.send(&generated) {
                errors.writes.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, len = generated.len(), "writing to the TUN device failed");
            }
        }
    }
}
