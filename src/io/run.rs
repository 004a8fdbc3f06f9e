//! `ftpgate run`: the gateway on a TUN device. Opens the device, starts one worker per queue
//! and the control plane (control socket, reloads, metrics: `control_plane`), and in the main
//! thread sweeps expired state once a second, writes the transfer log, reloads on SIGHUP, and
//! waits for SIGINT or SIGTERM to stop everything cleanly.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::control_plane::ControlPlane;
use super::events::{EventSink, LogError};
use super::tun::{self, IoErrors, WorkerStop};
use crate::config::Gateway;
use crate::engine::{Engine, EngineStats};

/// How often expired flows and pinholes are swept and events drained.
const HOUSEKEEPING: Duration = Duration::from_millis(250);

/// Why the gateway could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The TUN device could not be opened.
    #[error("cannot open TUN device `{name}` ({queues} queue(s)): {source}")]
    Open {
        /// Device name.
        name: String,
        /// Queues asked for.
        queues: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
    Signals(std::io::Error),
    /// The workers' wake-up signal could not be installed.
    #[error("cannot install the workers' wake-up signal handler: {0}")]
    StopEvent(std::io::Error),
    /// The transfer log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The control socket, the metrics endpoint or the steering could not be set up.
    #[error("{0}")]
    Operations(String),
}

/// What a run did, for the exit summary.
#[derive(Debug)]
pub struct RunSummary {
    /// Engine counters at the end.
    pub engine: EngineStats,
    /// FTP transfers logged.
    pub transfers: u64,
    /// Failed reads from the device.
    pub read_errors: u64,
    /// Failed writes to the device.
    pub write_errors: u64,
    /// GSO super-packets translated whole, cut into segments, and dropped as unusable.
    pub super_packets: [u64; 3],
    /// UDP super-packets written, and the datagrams they carried.
    pub udp_runs: [u64; 2],
}

/// Runs the gateway until SIGINT or SIGTERM; `rules` is the file it was loaded from (reloads
/// read it again).
pub fn run(
    gateway: Gateway,
    transfer_log: Option<&Path>,
    rules: &Path,
) -> Result<RunSummary, RunError> {
    let stop_requested = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop_requested))
            .map_err(RunError::Signals)?;
    }
    let queues = tun::open(&gateway.tun).map_err(|source| RunError::Open {
        name: gateway.tun.name.clone(),
        queues: gateway.tun.queues,
        source,
    })?;
    let steering = if gateway.operations.interfaces.steer() {
        let installed = super::steering::Steering::install(
            &gateway.operations.interfaces,
            &gateway.tun.name,
            gateway.engine.outside_address,
        );
        Some(installed.map_err(|err| RunError::Operations(err.to_string()))?)
    } else {
        None
    };
    let plane = ControlPlane::start(&gateway, rules).map_err(RunError::Operations)?;
    let epoch = Instant::now();
    let wall_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut events = EventSink::create(transfer_log)?
        .with_epoch(wall_epoch)
        .with_tally(plane.transfer_tally());
    let stop = WorkerStop::new().map_err(RunError::StopEvent)?;
    let engine = Engine::new(gateway.engine);
    let errors: Vec<IoErrors> = queues.iter().map(|_| IoErrors::default()).collect();
    let offload = gateway.tun.offload;
    tracing::info!(device = %gateway.tun.name, queues = queues.len(), "ftpgate running");

    let outcome = std::thread::scope(|scope| {
        for (index, device) in queues.iter().enumerate() {
            let (engine, stop, errors) = (&engine, &stop, &errors[index]);
            std::thread::Builder::new()
                .name(format!("ftpgate-q{index}"))
                .spawn_scoped(scope, move || {
                    tun::worker(engine, device, stop, epoch, offload, errors)
                })
                .expect("spawning a worker thread");
        }
        plane.spawn(scope, &engine, epoch, &errors);
        let outcome = housekeeping(&engine, &mut events, &stop_requested, epoch, &plane);
        plane.stop();
        stop.stop_workers();
        outcome
    });
    if let Some(steering) = steering {
        if let Err(err) = steering.remove() {
            tracing::error!(error = %err, "removing the steering failed");
        }
    }
    engine.finish();
    events.drain(&engine)?;
    events.flush()?;
    outcome?;
    tracing::info!("ftpgate stopped");
    Ok(RunSummary {
        engine: engine.stats(),
        transfers: events.counts.transfers,
        read_errors: errors.iter().map(|e| e.reads.load(Ordering::Relaxed)).sum(),
        write_errors: errors
            .iter()
            .map(|e| e.writes.load(Ordering::Relaxed))
            .sum(),
        udp_runs: [0, 1].map(|which| {
            errors
                .iter()
                .map(|e| [&e.udp_runs, &e.udp_run_datagrams][which].load(Ordering::Relaxed))
                .sum()
        }),
        super_packets: [0, 1, 2].map(|which| {
            errors
                .iter()
                .map(|e| [&e.whole, &e.segmented, &e.malformed][which].load(Ordering::Relaxed))
                .sum()
        }),
    })
}

/// Expiry and event draining until a stop signal arrives.
fn housekeeping(
    engine: &Engine,
    events: &mut EventSink,
    stop: &AtomicBool,
    epoch: Instant,
    plane: &ControlPlane,
) -> Result<(), LogError> {
    let mut next_sweep = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(HOUSEKEEPING);
        plane.tick(engine);
        let now = epoch.elapsed();
        if now >= next_sweep {
            engine.expire(now);
            next_sweep = now + Duration::from_secs(1);
        }
        events.drain(engine)?;
        events.flush()?;
    }
    Ok(())
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stats = &self.engine;
        writeln!(f, "packets            {}", stats.packets)?;
        stats.write_verdicts(f)?;
        writeln!(f, "flows created      {}", stats.flows_created)?;
        writeln!(f, "FTP transfers      {}", self.transfers)?;
        writeln!(f, "TUN read errors    {}", self.read_errors)?;
        writeln!(f, "TUN write errors   {}", self.write_errors)?;
        let [whole, segmented, malformed] = self.super_packets;
        writeln!(
            f,
            "super-packets      {whole} whole, {segmented} segmented, {malformed} malformed"
        )?;
        let [runs, datagrams] = self.udp_runs;
        writeln!(f, "UDP runs joined    {runs} ({datagrams} datagrams)")
    }
}
