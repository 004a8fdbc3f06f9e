//! Network address translation: masquerade of inside hosts to the outside address, static
//! port forwards to inside servers, and the header rewrites that apply a flow's translation
//! to its packets (ICMP errors included). Owns the binding table; the flow table stores the
//! resulting tuples.

mod bindings;
mod icmp_error;
pub mod quota;

use arc_swap::ArcSwap;
use std::net::{IpAddr, Ipv4Addr};

pub use bindings::{Bindings, PortShortage};
pub use icmp_error::translate_icmp_error;

use crate::engine::conntrack::{Flow, FlowDir, FlowKey, FlowNat};
use crate::engine::settings::{EngineSettings, ForwardProtocol, PortForward};
use crate::engine::verdict::DropReason;
use crate::engine::wire::parse::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::engine::wire::write::rewrite_endpoints;
use crate::engine::wire::ParsedPacket;

/// Why a new flow got no translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatRefused {
    /// The counted reason.
    pub reason: DropReason,
    /// The first refusal of a host's quota episode: the driver should log it.
    pub report: bool,
}

impl NatRefused {
    /// Refused for want of a port (the host's quota or the whole range), not for policy.
    pub fn is_shortage(&self) -> bool {
        matches!(
            self.reason,
            DropReason::NatHostQuota | DropReason::NatPortsExhausted
        )
    }
}

/// The translator.
pub struct Nat {
    outside: Option<Ipv4Addr>,
    /// Swapped whole by a reload ([`Nat::set_forwards`]).
    forwards: ArcSwap<Vec<PortForward>>,
    bindings: Bindings,
}

fn forward_protocol(forward: &PortForward) -> u8 {
    match forward.protocol {
        ForwardProtocol::Tcp => PROTO_TCP,
        ForwardProtocol::Udp => PROTO_UDP,
    }
}

/// The outside ports the forwards claim, per protocol: never allocated to the masquerade.
fn reserved_ports(forwards: &[PortForward]) -> Vec<(u8, crate::engine::settings::PortRange)> {
    forwards
        .iter()
        .map(|forward| (forward_protocol(forward), forward.outside_ports))
        .collect()
}

impl Nat {
    /// A translator for the gateway's settings.
    pub fn new(settings: &EngineSettings) -> Self {
        Self {
            outside: settings.outside_address,
            forwards: ArcSwap::from_pointee(settings.forwards.clone()),
            bindings: Bindings::new(settings.nat_ports, reserved_ports(&settings.forwards))
                .with_host_quota(settings.limits.nat_ports_per_host),
        }
    }

    /// New port forwards (a reload): new inbound flows meet them, and the masquerade no longer
    /// allocates their outside ports; flows already translated keep their translation.
    pub fn set_forwards(&self, forwards: &[PortForward]) {
        self.bindings.set_reserved(reserved_ports(forwards));
        self.forwards.store(std::sync::Arc::new(forwards.to_vec()));
    }

    /// A new per-host port quota (a reload).
    pub fn set_host_quota(&self, quota: usize) {
        self.bindings.set_host_quota(quota);
    }

    /// Outside ports an inside host holds for a protocol (bindings and pinhole ports).
    pub fn ports_held_by(&self, protocol: u8, host: Ipv4Addr) -> u32 {
        self.bindings.held_by(protocol, host)
    }

    /// The inside endpoint holding an outside port, if it is bound.
    pub fn inside_of(&self, protocol: u8, outside_port: u16) -> Option<(Ipv4Addr, u16)> {
        self.bindings.inside_of(protocol, outside_port)
    }

    /// Number of live masquerade bindings.
    pub fn binding_count(&self) -> usize {
        self.bindings.len()
    }

    /// The port forward an inbound tuple hits, if any.
    pub fn forward_for(&self, key: &FlowKey) -> Option<(Ipv4Addr, u16)> {
        let outside = self.outside?;
        if key.dst != IpAddr::V4(outside) {
            return None;
        }
        self.forwards.load().iter().find_map(|forward| {
            if forward_protocol(forward) != key.protocol {
                return None;
            }
            let port = forward.inside_port_for(key.dst_port)?;
            Some((forward.inside_address, port))
        })
    }

    /// Decides the translation of a new flow whose first packet has tuple `key`. `masquerade`
    /// says the packet goes from an inside network to the outside; `inbound` that it comes from
    /// the outside. Returns the flow's reply tuple and what it holds.
    pub fn translate_new(
        &self,
        key: &FlowKey,
        masquerade: bool,
        inbound: bool,
    ) -> Result<(FlowKey, FlowNat), NatRefused> {
        if masquerade {
            if let (Some(outside), IpAddr::V4(src)) = (self.outside, key.src) {
                if matches!(key.protocol, PROTO_TCP | PROTO_UDP | PROTO_ICMP) {
                    let port = self
                        .bindings
                        .acquire(key.protocol, (src, key.src_port))
                        .map_err(|shortage| match shortage {
                            PortShortage::RangeExhausted => NatRefused {
                                reason: DropReason::NatPortsExhausted,
                                report: false,
                            },
                            PortShortage::HostQuota { report } => NatRefused {
                                reason: DropReason::NatHostQuota,
                                report,
                            },
                        })?;
                    let translated = FlowKey {
                        src: IpAddr::V4(outside),
                        src_port: port,
                        ..*key
                    };
                    let nat = FlowNat::Masquerade {
                        protocol: key.protocol,
                        outside_port: port,
                    };
                    return Ok((translated.inverse(), nat));
                }
            }
        }
        if inbound {
            if let Some((inside, port)) = self.forward_for(key) {
                let translated = FlowKey {
                    dst: IpAddr::V4(inside),
                    dst_port: port,
                    ..*key
                };
                return Ok((translated.inverse(), FlowNat::Forward));
            }
        }
        Ok((key.inverse(), FlowNat::None))
    }

    /// Holds an outside TCP/UDP port for an inside endpoint outside any flow (an FTP data
    /// connection announced but not yet made); give it back with [`Nat::release_port`].
    pub fn acquire_port(&self, protocol: u8, inside: (Ipv4Addr, u16)) -> Result<u16, PortShortage> {
        self.bindings.acquire(protocol, inside)
    }

    /// Gives back a port held with [`Nat::acquire_port`].
    pub fn release_port(&self, protocol: u8, outside_port: u16) {
        self.bindings.release(protocol, outside_port);
    }

    /// Gives back what a flow held (its masquerade binding), when the flow ends or could not
    /// be inserted.
    pub fn release<A>(&self, flow: &Flow<A>) {
        self.release_nat(flow.nat);
    }

    /// As [`Nat::release`], from the translation alone.
    pub fn release_nat(&self, nat: FlowNat) {
        if let FlowNat::Masquerade {
            protocol,
            outside_port,
        } = nat
        {
            self.bindings.release(protocol, outside_port);
        }
    }
}

/// Rewrites a packet of `flow` travelling in `dir` to its translated tuple.
pub fn apply<A>(bytes: &mut [u8], packet: &ParsedPacket, flow: &Flow<A>, dir: FlowDir) {
    let current = match dir {
        FlowDir::Original => &flow.original,
        FlowDir::Reply => &flow.reply,
    };
    let target = flow.translated_key(dir);
    if target != *current {
        rewrite_endpoints(
            bytes,
            packet,
            (target.src, target.src_port),
            (target.dst, target.dst_port),
        );
    }
}
