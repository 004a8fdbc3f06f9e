//! Answers control requests from a running gateway's state: counters and table sizes from
//! the engine, flows and pinholes from its read-only views, reloads through the reloader.
//!
//! Owns the translation from engine views to the wire types. It never changes a flow, a
//! binding or a pinhole; the only thing it can change is the policy, through `reload`.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::protocol::{
    Endpoints, FlowEntry, FlowFilter, PinholeEntry, QueueStatus, Request, Response, Status,
    MAX_FLOWS_LISTED,
};
use crate::engine::conntrack::{FlowKey, FlowNat};
use crate::engine::Engine;
use crate::io::reload::Reloader;
use crate::io::tun::IoErrors;

/// What a control request can see and do.
pub struct ControlContext<'a> {
    /// The running engine.
    pub engine: &'a Engine,
    /// When `run` started (the engine's clock starts here).
    pub epoch: Instant,
    /// Reloads the rule file.
    pub reloader: &'a Reloader,
    /// Per TUN queue I/O errors.
    pub queues: &'a [IoErrors],
}

fn endpoints(key: &FlowKey) -> Endpoints {
    Endpoints {
        protocol: key.protocol,
        src: key.src,
        dst: key.dst,
        sport: key.src_port,
        dport: key.dst_port,
    }
}

impl ControlContext<'_> {
    /// The answer to `request`.
    pub fn handle(&self, request: Request) -> Response {
        match request {
            Request::Status => Response::Status(Box::new(self.status())),
            Request::Flows { filter } => self.flows(&filter),
            Request::Pinholes => self.pinholes(),
            Request::Reload => match self.reloader.reload(self.engine) {
                Ok(done) => Response::Reloaded {
                    message: done.message,
                    rules: done.rules,
                },
                Err(message) => Response::Error { message },
            },
        }
    }

    fn status(&self) -> Status {
        let stats = self.engine.stats();
        let (reloads, reloads_refused) = self.reloader.counts();
        Status {
            rules_file: self.reloader.path().display().to_string(),
            uptime_s: self.epoch.elapsed().as_secs(),
            packets: stats.packets,
            accepted: stats.accepted,
            answered: stats.responded,
            drops: stats
                .dropped
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(reason, n)| (reason.name().to_owned(), *n))
                .collect(),
            flows: stats.flows,
            flows_created: stats.flows_created,
            flows_expired: stats.flows_expired,
            flows_reclaimed: stats.flows_reclaimed,
            bindings: stats.nat_bindings,
            pinholes: self.engine.pinhole_count(),
            ftp_sessions: self.engine.ftp_session_count(),
            refusals: stats
                .ftp_violations
                .iter()
                .map(|(check, n)| ((*check).to_owned(), *n))
                .collect(),
            events_lost: stats.events_lost,
            policy_rules: self.engine.policy_rule_count(),
            reloads,
            reloads_refused,
            queues: self
                .queues
                .iter()
                .enumerate()
                .map(|(queue, errors)| QueueStatus {
                    queue,
                    packets: errors.packets.load(Ordering::Relaxed),
                    read_errors: errors.reads.load(Ordering::Relaxed),
                    write_errors: errors.writes.load(Ordering::Relaxed),
                    udp_runs: errors.udp_runs.load(Ordering::Relaxed),
                    udp_run_datagrams: errors.udp_run_datagrams.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }

    fn flows(&self, filter: &FlowFilter) -> Response {
        let protocol = match filter.protocol_number() {
            Ok(protocol) => protocol,
            Err(message) => return Response::Error { message },
        };
        let limit = filter
            .limit
            .unwrap_or(MAX_FLOWS_LISTED)
            .min(MAX_FLOWS_LISTED);
        // One more than the limit tells whether the list was cut.
        let mut views = self.engine.flow_views(
            self.epoch.elapsed(),
            limit.saturating_add(1),
            |original, reply| filter.matches(protocol, &endpoints(original), &endpoints(reply)),
        );
        let truncated = views.len() > limit;
        views.truncate(limit);
        let flows = views
            .into_iter()
            .map(|view| FlowEntry {
                original: endpoints(&view.original),
                reply: endpoints(&view.reply),
                translation: match view.nat {
                    FlowNat::None => "none",
                    FlowNat::Masquerade { .. } => "masquerade",
                    FlowNat::Forward => "forward",
                }
                .to_owned(),
                state: view.state.to_owned(),
                expires_in_s: view.expires_in.as_secs(),
                bytes: view.bytes,
                ftp: view.ftp,
                ftp_data: view.ftp_data,
            })
            .collect();
        Response::Flows { flows, truncated }
    }

    fn pinholes(&self) -> Response {
        let pinholes = self
            .engine
            .pinhole_views(self.epoch.elapsed())
            .into_iter()
            .map(|view| PinholeEntry {
                src: view.src,
                dst: view.dst,
                dport: view.dst_port,
                translate_to: view
                    .translate_to
                    .map(|(addr, port)| format!("{}:{port}", IpAddr::V4(addr))),
                binding: view.binding,
                mode: if view.passive { "passive" } else { "active" }.to_owned(),
                expires_in_s: view.expires_in.as_secs(),
                control: view.control.as_ref().map(endpoints),
            })
            .collect();
        Response::Pinholes { pinholes }
    }
}
