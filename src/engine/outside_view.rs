//! Reconstruction of the outside wire for captures recorded on an inside host, where no NAT
//! happened: a reply there is addressed to the inside host itself. Given such a packet, this
//! finds the flow it answers and rewrites it into the packet the gateway would have received
//! on its outside interface, so the replay can run it through the engine like real traffic.

use std::time::Duration;

use super::conntrack::{FlowDir, FlowKey, FlowNat, Lookup};
use super::packet::PacketBuf;
use super::wire::write::rewrite_endpoints;
use super::wire::{parse, IcmpKind, Transport};
use super::Engine;

impl Engine {
    /// Rewrites a packet from outside addressed to an inside host into the form it would have
    /// had on the outside wire of a translated flow. Returns false, leaving the packet as it is,
    /// when it is not such a packet or no translated flow answers to it.
    pub fn reconstruct_outside_arrival(&self, now: Duration, packet: &mut PacketBuf<'_>) -> bool {
        let Ok(parsed) = parse(packet.bytes()) else {
            return false;
        };
        if self.settings.is_inside(parsed.src) || !self.settings.is_inside(parsed.dst) {
            return false;
        }
        if matches!(
            parsed.transport,
            Transport::Icmp(IcmpKind::Error(_) | IcmpKind::Other { .. })
        ) {
            return false;
        }
        let Some(key) = FlowKey::of_packet(&parsed) else {
            return false;
        };
        let Lookup::Found(flow, FlowDir::Original) = self.flows.lookup(&key.inverse(), now) else {
            return false;
        };
        if flow.nat == FlowNat::None {
            return false;
        }
        let arrival = flow.reply;
        rewrite_endpoints(
            packet.bytes_mut(),
            &parsed,
            (arrival.src, arrival.src_port),
            (arrival.dst, arrival.dst_port),
        );
        true
    }
}
