//! Taking back the outside port of a flow that is over, or idle, for a new one of the same
//! inside host: a TCP connection in CLOSE or TIME_WAIT (RFC 7857 §2.2; netfilter lets a new
//! connection replace one in TIME_WAIT likewise), or an answered UDP flow silent for
//! [`UDP_IDLE`] (a DNS query, say).
//!
//! Without it, a host at its NAT port quota waits for its closed connections to leave
//! TIME_WAIT (`timeouts.tcp_time_wait`, 2 minutes) and its answered UDP flows to expire
//! (`timeouts.udp_replied`, 2 minutes), which caps one busy client at
//! `limits.nat_ports_per_host` new connections, or DNS queries from fresh ports, per 2 minutes
//! (34 a second by default). Taking back an idle UDP flow's mapping before 2 minutes departs
//! from RFC 4787 REQ-5; it happens only when that host's own new flow would otherwise be
//! refused, and never to a UDP flow that carried a packet in the last [`UDP_IDLE`].
//!
//! Owns the order of those steps: a masqueraded flow is filed under the inside host holding
//! its binding when it becomes a candidate (a TCP connection closes, a UDP flow is answered);
//! a port refused for a shortage (the host's quota, or the range) takes back that host's
//! oldest candidate of the same protocol that may go now, which leaves the table as an
//! expired flow would (its binding and pinholes given back, counted as `flows_reclaimed`),
//! and asks again, a few times at most. It never takes an open TCP connection, a UDP flow
//! in use, or another host's, and never decides a translation itself.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::conntrack::reclaimable::Standing;
use super::conntrack::{FlowNat, FlowState, ProtoState};
use super::settings::Timeouts;
use super::{App, Engine, Flow};

/// Most flows taken back for one port. One frees nothing while another flow of the same
/// inside endpoint shares its binding (Linux reuses a local port towards different
/// destinations, so two or three flows often share one), so several may go for one port.
const MAX_RECLAIMS: usize = 16;

/// How long an answered UDP flow must have been silent before its port may be taken back
/// (netfilter calls a UDP flow still active 2 s after it began a stream).
pub const UDP_IDLE: Duration = Duration::from_secs(2);

/// Whether a flow's state makes it a candidate: a TCP connection closed, a UDP flow answered.
pub fn is_candidate(proto: &ProtoState) -> bool {
    match proto {
        ProtoState::Tcp(tcp) => tcp.state().is_closed(),
        ProtoState::Udp { replied } => *replied,
        ProtoState::Icmp => false,
    }
}

/// Whether a candidate's port may be taken back at `now`.
fn standing(state: &FlowState<App>, now: Duration, timeouts: &Timeouts) -> Standing {
    match &state.proto {
        ProtoState::Tcp(tcp) if tcp.state().is_closed() => Standing::Take,
        ProtoState::Udp { replied: true } => {
            // Its expiry is its last packet plus `udp_replied`.
            let last_packet = state.expires_at.saturating_sub(timeouts.udp_replied);
            if now >= last_packet.saturating_add(UDP_IDLE) {
                Standing::Take
            } else {
                Standing::NotYet
            }
        }
        _ => Standing::Never,
    }
}

/// Files a flow that has just become a candidate under the inside host whose outside port it
/// holds (nothing when it holds none). Call it with the flow unlocked.
pub fn note_candidate(engine: &Engine, flow: &Flow) {
    if let FlowNat::Masquerade {
        protocol,
        outside_port,
    } = flow.nat
    {
        if let Some((host, _)) = engine.nat.inside_of(protocol, outside_port) {
            engine.reclaimable.record(IpAddr::V4(host), flow.original);
        }
    }
}

/// Removes `host`'s oldest `protocol` flow that may go at `now`; false when it has none.
fn take_back(engine: &Engine, now: Duration, host: Ipv4Addr, protocol: u8) -> bool {
    let timeouts = engine.settings().timeouts;
    let Some(flow) =
        engine
            .reclaimable
            .take_oldest((IpAddr::V4(host), protocol), &engine.flows, |state| {
                standing(state, now, &timeouts)
            })
    else {
        return false;
    };
    if engine.flows.remove(&flow) {
        engine.forget(&flow);
        engine.counters.flow_reclaimed();
    }
    true
}

/// The sweep's part: drops queue entries of flows gone or open again.
pub fn prune(engine: &Engine, now: Duration) {
    let timeouts = engine.settings().timeouts;
    engine
        .reclaimable
        .prune(&engine.flows, |state| standing(state, now, &timeouts));
}

/// Runs `acquire`; while it fails for a port shortage (`short`) and `host` has a `protocol`
/// flow that may go at `now`, takes that back and runs it again. When it still fails, the
/// first refusal is returned (it is the one that says whether to log the episode).
pub fn retrying<T, E>(
    engine: &Engine,
    now: Duration,
    (host, protocol): (Ipv4Addr, u8),
    short: impl Fn(&E) -> bool,
    mut acquire: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let first_refusal = match acquire() {
        Err(refusal) if short(&refusal) => refusal,
        other => return other,
    };
    for _ in 0..MAX_RECLAIMS {
        if !take_back(engine, now, host, protocol) {
            break;
        }
        match acquire() {
            Err(refusal) if short(&refusal) => continue,
            other => return other,
        }
    }
    Err(first_refusal)
}
