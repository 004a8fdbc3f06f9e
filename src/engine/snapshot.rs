//! Read-only views of the engine's tables for operators: the flows (`ftpgate flows`, like
//! `conntrack -L`), the pinholes (`ftpgate pinholes`), FTP session counts, and the policy swap
//! of a reload.
//!
//! Owns copying what the tables hold into plain values. It never changes a flow, a binding or
//! a pinhole, holds each flow's lock only while copying that flow, and reads no clock: `now`
//! is passed in like everywhere in the engine.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::alg::ftp::session::SessionFacts;
use super::alg::ftp::DataMode;
use super::conntrack::tcp::TcpState;
use super::conntrack::{FlowKey, FlowNat, ProtoState};
use super::policy::CompiledPolicy;
use super::{Engine, Flow};

/// One flow as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowView {
    /// The initiator's tuple, as its packets arrived.
    pub original: FlowKey,
    /// The responder's tuple, as its packets arrive (after translation on the way out).
    pub reply: FlowKey,
    /// The translation applied.
    pub nat: FlowNat,
    /// Protocol state: a TCP state name, `unreplied`/`replied` for UDP, `echo` for ICMP.
    pub state: &'static str,
    /// Time until the flow expires unless refreshed (zero: expired, not yet swept).
    pub expires_in: Duration,
    /// Payload bytes carried (TCP, both directions).
    pub bytes: u64,
    /// For an FTP control connection, what the gateway knows of the session.
    pub ftp: Option<SessionFacts>,
    /// Whether the flow is an FTP data connection admitted through a pinhole.
    pub ftp_data: bool,
}

/// One open pinhole as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinholeView {
    /// The only source address admitted.
    pub src: IpAddr,
    /// Destination address as the data connection reaches the gateway.
    pub dst: IpAddr,
    /// Destination port as the data connection reaches the gateway.
    pub dst_port: u16,
    /// The inside endpoint the data connection is translated to, if any.
    pub translate_to: Option<(Ipv4Addr, u16)>,
    /// The outside port held for it, if any.
    pub binding: Option<u16>,
    /// Active (PORT/EPRT) or passive (PASV/EPSV).
    pub passive: bool,
    /// Time until it stops admitting (zero: expired, not yet swept).
    pub expires_in: Duration,
    /// The control connection that announced it, while it lives.
    pub control: Option<FlowKey>,
}

fn state_name(proto: &ProtoState) -> &'static str {
    match proto {
        ProtoState::Tcp(tcp) => match tcp.state() {
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
        },
        ProtoState::Udp { replied: false } => "UNREPLIED",
        ProtoState::Udp { replied: true } => "REPLIED",
        ProtoState::Icmp => "ECHO",
    }
}

fn view(flow: &Flow, now: Duration) -> FlowView {
    let state = flow.lock();
    FlowView {
        original: flow.original,
        reply: flow.reply,
        nat: flow.nat,
        state: state_name(&state.proto),
        expires_in: state.expires_at.saturating_sub(now),
        bytes: state.tcp_payload(),
        ftp: state.app.session_facts(),
        ftp_data: state.app.is_data_connection(),
    }
}

impl Engine {
    /// Copies of the flows `keep` accepts (it sees each flow's original and reply tuples), at
    /// most `limit` of them, in no particular order.
    pub fn flow_views(
        &self,
        now: Duration,
        limit: usize,
        mut keep: impl FnMut(&FlowKey, &FlowKey) -> bool,
    ) -> Vec<FlowView> {
        let mut out = Vec::new();
        self.flows.for_each(|flow| {
            if out.len() < limit && keep(&flow.original, &flow.reply) {
                out.push(view(flow, now));
            }
        });
        out
    }

    /// Copies of every open pinhole.
    pub fn pinhole_views(&self, now: Duration) -> Vec<PinholeView> {
        self.pinholes
            .snapshot()
            .into_iter()
            .map(|(key, pinhole)| PinholeView {
                src: key.src,
                dst: key.dst,
                dst_port: key.dst_port,
                translate_to: pinhole.translate_to,
                binding: pinhole.binding,
                passive: pinhole.mode == DataMode::Passive,
                expires_in: pinhole.expires_at.saturating_sub(now),
                control: pinhole.control.upgrade().map(|flow| flow.original),
            })
            .collect()
    }

    /// FTP control connections tracked now.
    pub fn ftp_session_count(&self) -> usize {
        let mut count = 0;
        self.flows.for_each(|flow| {
            if flow.lock().app.is_ftp_control() {
                count += 1;
            }
        });
        count
    }

    /// Replaces the settings that can change while running, atomically per part: the filter
    /// (a packet evaluates either the old policy or the new one, never a mix), the port
    /// forwards, timeouts, limits and FTP settings. Flows, bindings and pinholes are kept: a
    /// flow's translation stays as it was made, new flows meet the new settings, and timeouts
    /// and limits apply from the next packet of every flow. The caller has checked that
    /// nothing else changed (`io::reload::not_live_changes`).
    pub fn reconfigure(&self, new: &super::EngineSettings) {
        self.policy
            .store(std::sync::Arc::new(CompiledPolicy::new(new)));
        self.nat.set_forwards(&new.forwards);
        self.nat.set_host_quota(new.limits.nat_ports_per_host);
        self.embryonic
            .set_cap_per_source(new.limits.max_embryonic_per_source);
        self.settings.store(std::sync::Arc::new(new.clone()));
    }

    /// Rules in the policy in force.
    pub fn policy_rule_count(&self) -> usize {
        let policy = self.policy.load();
        (0..)
            .take_while(|index| policy.rule(*index).is_some())
            .count()
    }
}
