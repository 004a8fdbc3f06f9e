//! What `ftpgate run` does besides moving packets: the control socket thread, reloads (asked
//! over the socket or by SIGHUP), the Prometheus endpoint, and telling systemd where the
//! service is (`READY=1`, `RELOADING=1`, `STOPPING=1`).
//!
//! Owns the threads and sockets of these services and their start and stop order. It never
//! touches packets, and nothing here can block a worker: each service has its own thread and
//! bounded exchanges with its clients.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Scope;
use std::time::Instant;

use sd_notify::NotifyState;

use super::control::handler::ControlContext;
use super::control::server::ControlSocket;
use super::metrics::{MetricsEndpoint, TransferTally};
use super::reload::Reloader;
use super::tun::IoErrors;
use crate::config::Gateway;
use crate::engine::Engine;

/// The running services around the engine.
pub struct ControlPlane {
    socket: ControlSocket,
    metrics: Option<MetricsEndpoint>,
    transfers: Arc<TransferTally>,
    reloader: Reloader,
    reload_requested: Arc<AtomicBool>,
    stop: AtomicBool,
}

impl ControlPlane {
    /// Binds the control socket (and the metrics endpoint, when configured) and hooks SIGHUP.
    pub fn start(gateway: &Gateway, rules: &Path) -> Result<Self, String> {
        let path = &gateway.operations.control_socket;
        let socket = ControlSocket::bind(path)
            .map_err(|err| format!("cannot listen on control socket {}: {err}", path.display()))?;
        let metrics = match gateway.operations.metrics_listen {
            Some(addr) => Some(
                MetricsEndpoint::bind(addr)
                    .map_err(|err| format!("cannot listen for metrics on {addr}: {err}"))?,
            ),
            None => None,
        };
        let reload_requested = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload_requested))
            .map_err(|err| format!("cannot install the SIGHUP handler: {err}"))?;
        tracing::info!(socket = %socket.path().display(), "control socket listening");
        Ok(Self {
            socket,
            metrics,
            transfers: Arc::default(),
            reloader: Reloader::new(rules, gateway.clone()),
            reload_requested,
            stop: AtomicBool::new(false),
        })
    }

    /// Starts the service threads in `scope`; they end after [`ControlPlane::stop`].
    pub fn spawn<'scope, 'env>(
        &'env self,
        scope: &'scope Scope<'scope, 'env>,
        engine: &'env Engine,
        epoch: Instant,
        queues: &'env [IoErrors],
    ) {
        let context = ControlContext {
            engine,
            epoch,
            reloader: &self.reloader,
            queues,
        };
        std::thread::Builder::new()
            .name("ftpgate-control".into())
            .spawn_scoped(scope, move || {
                self.socket.serve(&self.stop, |request| {
                    let reload = matches!(request, super::control::protocol::Request::Reload);
                    if reload {
                        notify_reloading();
                    }
                    let response = context.handle(request);
                    if reload {
                        notify(&[NotifyState::Ready]);
                    }
                    response
                })
            })
            .expect("spawning the control thread");
        if let Some(metrics) = &self.metrics {
            std::thread::Builder::new()
                .name("ftpgate-metrics".into())
                .spawn_scoped(scope, move || {
                    metrics.serve(&self.stop, engine, queues, &self.reloader, &self.transfers)
                })
                .expect("spawning the metrics thread");
        }
        notify(&[NotifyState::Ready]);
    }

    /// Where the event sink counts FTP transfers for the metrics.
    pub fn transfer_tally(&self) -> Arc<TransferTally> {
        Arc::clone(&self.transfers)
    }

    /// Reloads when SIGHUP asked for it; call it from the housekeeping loop.
    pub fn tick(&self, engine: &Engine) {
        if self.reload_requested.swap(false, Ordering::Relaxed) {
            tracing::info!("SIGHUP: reloading {}", self.reloader.path().display());
            notify_reloading();
            // The outcome is logged by the reloader either way.
            let _ = self.reloader.reload(engine);
            notify(&[NotifyState::Ready]);
        }
    }

    /// Tells the service threads (and systemd) that the gateway is stopping.
    pub fn stop(&self) {
        notify(&[NotifyState::Stopping]);
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn notify_reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

/// Tells systemd, when it started us with a notify socket; a failure is logged, not fatal.
fn notify(states: &[NotifyState<'_>]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!(error = %err, "cannot notify systemd");
    }
}
