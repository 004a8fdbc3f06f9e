//! The TUN device: opening it (one queue per worker, multi-queue when there are several; the
//! virtio-net header with TSO/USO/checksum offloads unless turned off; its transmit queue
//! length) and the worker loop that reads a frame, hands it to the engine (through
//! [`vnet::process_frame`] when offloads are on) and writes back what the engine accepts or
//! answers, then what the engine generated. A packet the engine refuses is dropped; nothing a
//! packet contains can end the loop. Workers do no file I/O: events go through the engine's
//! queue.
//!
//! One syscall per frame read and one per frame written: reads block, with no poll in front.
//! UDP datagrams are the exception that saves: while one waits in the worker's
//! [`UdpCoalescer`], queued frames are read without blocking and a run of datagrams of one
//! flow is written as one USO super-packet.
//! To stop, [`WorkerStop`] sets a flag and interrupts each worker's blocked read with a
//! signal whose handler does nothing ([`WAKE_SIGNAL`], installed without `SA_RESTART`, so the
//! read returns `EINTR`); it repeats the signal until every worker has left its loop.

use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tun_rs::{DeviceBuilder, SyncDevice};

use super::udp_coalesce::{self, UdpCoalescer};
use super::vnet::{self, FrameBuffers, FrameOutcome, HEADER_LEN, MAX_PACKET};
use crate::config::TunSettings;
use crate::engine::{Engine, MAX_GENERATED};

/// Room after a packet for rewrites that grow it.
const TAILROOM: usize = 1024;
/// The signal that interrupts a worker's blocked read when the gateway stops. Its handler
/// does nothing, so the signal sent from elsewhere is harmless.
pub const WAKE_SIGNAL: libc::c_int = libc::SIGUSR2;
/// How long the stopper waits between two rounds of wake-up signals.
const WAKE_RETRY: Duration = Duration::from_millis(10);
/// How long the stopper keeps waking workers before it gives up (and says so).
const WAKE_GIVE_UP: Duration = Duration::from_secs(10);

extern "C" fn on_wake(_: libc::c_int) {}

/// The workers' stop request, and the threads to wake when it is made.
pub struct WorkerStop {
    requested: AtomicBool,
    /// Workers inside their loop. A worker leaves this list (under the lock) before its
    /// thread ends, so every thread listed is alive while the lock is held.
    running: Mutex<Vec<libc::pthread_t>>,
}

impl WorkerStop {
    /// Installs the wake-up signal's handler (process-wide).
    pub fn new() -> io::Result<Self> {
        // SAFETY: a zeroed sigaction is valid; the handler is an empty extern "C" fn, which is
        // async-signal-safe; no SA_RESTART, so blocking reads return EINTR.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_wake as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0;
            libc::sigaction(WAKE_SIGNAL, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            requested: AtomicBool::new(false),
            running: Mutex::new(Vec::new()),
        })
    }

    /// Whether the workers must stop.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// Asks every worker to stop and wakes them until all have left their loops.
    pub fn stop_workers(&self) {
        self.requested.store(true, Ordering::Release);
        let started = Instant::now();
        loop {
            {
                let running = self.running.lock();
                if running.is_empty() {
                    return;
                }
                for thread in running.iter() {
                    // SAFETY: the thread is alive while it is listed and the lock is held.
                    unsafe { libc::pthread_kill(*thread, WAKE_SIGNAL) };
                }
            }
            if started.elapsed() > WAKE_GIVE_UP {
                tracing::error!("TUN workers do not stop");
                return;
            }
            std::thread::sleep(WAKE_RETRY);
        }
    }

    /// Lists the calling thread as a running worker until the guard is dropped.
    fn enter(&self) -> Running<'_> {
        // SAFETY: pthread_self has no preconditions.
        let thread = unsafe { libc::pthread_self() };
        self.running.lock().push(thread);
        Running { stop: self, thread }
    }
}

/// A worker's place in [`WorkerStop`]'s list.
struct Running<'a> {
    stop: &'a WorkerStop,
    thread: libc::pthread_t,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.stop.running.lock().retain(|t| *t != self.thread);
    }
}

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
    Ok(queues)
}

/// I/O failures and offload work of one worker, counted, and the packets it read (for
/// `ftpgate status` and the metrics, per queue).
#[derive(Debug, Default)]
pub struct IoErrors {
    /// Frames read from the device.
    pub packets: AtomicU64,
    /// Reads that failed (other than the wake-up signal).
    pub reads: AtomicU64,
    /// Writes that failed.
    pub writes: AtomicU64,
    /// Super-packets translated whole.
    pub whole: AtomicU64,
    /// Super-packets cut into segments (an FTP control connection, a new flow, ...).
    pub segmented: AtomicU64,
    /// Frames with an unusable virtio-net header or super-packet, dropped.
    pub malformed: AtomicU64,
    /// UDP super-packets written (runs of two or more datagrams joined).
    pub udp_runs: AtomicU64,
    /// The datagrams those super-packets carried.
    pub udp_run_datagrams: AtomicU64,
}

/// Most frames a worker reads in one burst before it writes what it holds.
const BURST: usize = 64;

/// Reads frames from `device` until `stop` is requested, running each through `engine` at the time
/// since `epoch`, and writes back accepted packets and answers. `offload` says whether the
/// device was opened with the virtio-net header.
///
/// With offloads, UDP datagrams the engine accepts go through a [`UdpCoalescer`]: while one
/// waits to be written, the worker reads the frames already queued without blocking
/// (`preadv2` with `RWF_NOWAIT`, up to [`BURST`]) and consecutive datagrams of one flow leave
/// as one super-packet. Anything else is written at once, after the run it follows.
pub fn worker(
    engine: &Engine,
    device: &SyncDevice,
    stop: &WorkerStop,
    epoch: Instant,
    offload: bool,
    errors: &IoErrors,
) {
    let mut frame = vec![0u8; HEADER_LEN + MAX_PACKET + TAILROOM];
    let mut buffers = FrameBuffers::new(TAILROOM);
    let mut generated = vec![0u8; MAX_GENERATED];
    let _running = stop.enter();
    let coalesce = offload && device.udp_gso();
    if offload && !coalesce {
        tracing::info!("the TUN device takes no UDP offload: UDP datagrams are written one by one");
    }
    let mut writer = Writer {
        device,
        offload,
        coalesce,
        errors,
        coalescer: UdpCoalescer::new(),
        scratch: vec![0u8; MAX_PACKET],
    };
    let mut nowait_works = true;
    let start = if offload { 0 } else { HEADER_LEN };
    let read_room = HEADER_LEN + MAX_PACKET;
    loop {
        if stop.is_requested() {
            tracing::debug!("worker stopping");
            return;
        }
        match device.recv(&mut frame[start..read_room]) {
            Ok(len) => writer.frame(engine, epoch, &mut frame, start, len, &mut buffers),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                errors.reads.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %err, "reading from the TUN device failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        }
        let mut taken = 1;
        while nowait_works && writer.coalescer.is_pending() && taken < BURST {
            match read_nowait(device, &mut frame[start..read_room]) {
                Ok(len) => writer.frame(engine, epoch, &mut frame, start, len, &mut buffers),
                Err(err) => {
                    let kind = err.kind();
                    if kind != io::ErrorKind::WouldBlock && kind != io::ErrorKind::Interrupted {
                        tracing::warn!(error = %err, "reads without blocking fail: UDP datagrams are written one by one");
                        nowait_works = false;
                    }
                    break;
                }
            }
            taken += 1;
        }
        writer.flush();
        while let Some(len) = engine.poll_transmit(&mut generated) {
            writer.write(&vnet::PLAIN, &generated[..len]);
        }
    }
}

/// A worker's way back into the device: UDP datagrams into the coalescer, everything else
/// written at once after the pending run.
struct Writer<'a> {
    device: &'a SyncDevice,
    offload: bool,
    /// Whether UDP datagrams are joined: offloads on, the device takes USO, and no
    /// super-packet has been refused.
    coalesce: bool,
    errors: &'a IoErrors,
    coalescer: UdpCoalescer,
    /// Where a refused super-packet is cut back into its datagrams.
    scratch: Vec<u8>,
}

impl Writer<'_> {
    /// Runs one frame (`len` bytes read at `start`) through the engine and sends what it
    /// accepts, answers and generates, in order.
    fn frame(
        &mut self,
        engine: &Engine,
        epoch: Instant,
        frame: &mut [u8],
        start: usize,
        len: usize,
        buffers: &mut FrameBuffers,
    ) {
        self.errors.packets.fetch_add(1, Ordering::Relaxed);
        let now = epoch.elapsed();
        let (offload, errors) = (self.offload, self.errors);
        let mut send = |header: &[u8; HEADER_LEN], packet: &[u8]| self.send(header, packet);
        if offload {
            let outcome = vnet::process_frame(engine, now, frame, len, buffers, &mut send);
            count(errors, outcome);
        } else {
            let transmit = &mut buffers.transmit;
            vnet::process_one(engine, now, &mut frame[start..], len, transmit, &mut send);
        }
        // What the frame generated (this worker's own buffer: no lock) goes after it.
        if !buffers.transmit.is_empty() {
            self.flush();
            while let Some(generated) = buffers.transmit.pop() {
                self.write(&vnet::PLAIN, generated);
            }
        }
    }

    fn send(&mut self, header: &[u8; HEADER_LEN], packet: &[u8]) {
        if self.coalesce && *header == vnet::PLAIN {
            let (device, errors, scratch) = (self.device, self.errors, &mut self.scratch);
            let mut refused = false;
            let mut write = |header: &[u8; HEADER_LEN], packet: &[u8]| {
                refused |= write_run(device, errors, scratch, header, packet);
            };
            let taken = self.coalescer.push(packet, &mut write);
            self.note_refusal(refused);
            if taken {
                return;
            }
        }
        self.write(header, packet);
    }

    /// Writes the pending run, then `packet`.
    fn write(&mut self, header: &[u8; HEADER_LEN], packet: &[u8]) {
        self.flush();
        write_frame(self.device, self.offload, self.errors, header, packet);
    }

    fn flush(&mut self) {
        if !self.coalescer.is_pending() {
            return;
        }
        let (device, errors, scratch) = (self.device, self.errors, &mut self.scratch);
        let mut refused = false;
        let mut write = |header: &[u8; HEADER_LEN], packet: &[u8]| {
            refused |= write_run(device, errors, scratch, header, packet);
        };
        self.coalescer.flush(&mut write);
        self.note_refusal(refused);
        errors
            .udp_runs
            .store(self.coalescer.runs, Ordering::Relaxed);
        let datagrams = self.coalescer.datagrams;
        errors.udp_run_datagrams.store(datagrams, Ordering::Relaxed);
    }

    /// After a refused super-packet: stop coalescing (the kernel takes no USO from us).
    fn note_refusal(&mut self, refused: bool) {
        if refused && self.coalesce {
            self.coalesce = false;
            tracing::warn!(
                "the TUN device refused a UDP super-packet (cut and written one by one): UDP datagrams are written one by one from now on"
            );
        }
    }
}

/// Writes a frame the coalescer handed over; true if it was a super-packet the device
/// refused (then cut and written datagram by datagram).
fn write_run(
    device: &SyncDevice,
    errors: &IoErrors,
    scratch: &mut [u8],
    header: &[u8; HEADER_LEN],
    packet: &[u8],
) -> bool {
    let mut write = |header: &[u8; HEADER_LEN], packet: &[u8]| {
        device
            .send_vectored(&[IoSlice::new(header), IoSlice::new(packet)])
            .map(|_| ())
    };
    match udp_coalesce::write_or_cut(header, packet, scratch, &mut write) {
        Ok(refused) => refused,
        Err(err) => {
            errors.writes.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, len = packet.len(), "writing to the TUN device failed");
            *header != vnet::PLAIN
        }
    }
}

fn write_frame(
    device: &SyncDevice,
    offload: bool,
    errors: &IoErrors,
    header: &[u8; HEADER_LEN],
    packet: &[u8],
) {
    let result = if offload {
        device.send_vectored(&[IoSlice::new(header), IoSlice::new(packet)])
    } else {
        device.send(packet)
    };
    if let Err(err) = result {
        errors.writes.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %err, len = packet.len(), "writing to the TUN device failed");
    }
}

/// One read that returns `WouldBlock` instead of waiting when the queue is empty, whatever
/// the descriptor's mode (so the next blocking read needs no mode change).
fn read_nowait(device: &SyncDevice, buf: &mut [u8]) -> io::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, writable for its whole length during the call; the
    // descriptor is the device's, open while `device` is borrowed.
    let read = unsafe { libc::preadv2(device.as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT) };
    usize::try_from(read).map_err(|_| io::Error::last_os_error())
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
