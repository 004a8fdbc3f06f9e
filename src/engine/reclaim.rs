//! Taking back the outside port of a closed connection for a new one of the same inside host
//! (RFC 7857 §2.2; netfilter lets a new connection replace one in TIME_WAIT likewise).
//!
//! Without it, a host at its NAT port quota waits for its closed connections to leave
//! TIME_WAIT (`timeouts.tcp_time_wait`, 2 minutes), which caps one busy client at
//! `limits.nat_ports_per_host` new connections per 2 minutes (34 a second by default).
//!
//! Owns the order of those steps: a masqueraded connection's closing is filed under the inside
//! host holding its binding; a port refused for a shortage (the host's quota, or the range)
//! takes back that host's oldest closed connection, which leaves the table as an expired flow
//! would (its binding and pinholes given back, counted as `flows_reclaimed`), and asks again,
//! a few times at most. It never takes an open connection, nor another host's, and never
//! decides a translation itself.

use std::net::{IpAddr, Ipv4Addr};

use super::conntrack::FlowNat;
use super::{Engine, Flow};

/// Most closed connections taken back for one port. One frees nothing while another flow of
/// the same inside endpoint shares its binding (Linux reuses a local port towards different
/// destinations, so two or three flows often share one), so several may go for one port.
const MAX_RECLAIMS: usize = 16;

/// Files a flow that has just reached CLOSE or TIME_WAIT under the inside host whose outside
/// port it holds (nothing when it holds none). Call it with the flow unlocked.
pub fn note_closed(engine: &Engine, flow: &Flow) {
    if let FlowNat::Masquerade {
        protocol,
        outside_port,
    } = flow.nat
    {
        if let Some((host, _)) = engine.nat.inside_of(protocol, outside_port) {
            engine.closed.record(IpAddr::V4(host), flow.original);
        }
    }
}

/// Removes `host`'s oldest closed connection from the table; false when it has none.
fn take_back(engine: &Engine, host: Ipv4Addr) -> bool {
    let Some(flow) = engine.closed.take_oldest(IpAddr::V4(host), &engine.flows) else {
        return false;
    };
    if engine.flows.remove(&flow) {
        engine.forget(&flow);
        engine.counters.flow_reclaimed();
    }
    true
}

/// Runs `acquire`; while it fails for a port shortage (`short`) and `host` has a closed
/// connection, takes that back and runs it again. When it still fails, the first refusal is
/// returned (it is the one that says whether to log the episode).
pub fn retrying<T, E>(
    engine: &Engine,
    host: Ipv4Addr,
    short: impl Fn(&E) -> bool,
    mut acquire: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let first_refusal = match acquire() {
        Err(refusal) if short(&refusal) => refusal,
        other => return other,
    };
    for _ in 0..MAX_RECLAIMS {
        if !take_back(engine, host) {
            break;
        }
        match acquire() {
            Err(refusal) if short(&refusal) => continue,
            other => return other,
        }
    }
    Err(first_refusal)
}
