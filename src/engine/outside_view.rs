//! Reconstruction of the outside wire for captures recorded on an inside host, where no NAT
//! happened: a packet from outside there is addressed to the inside host itself, and acks the
//! inside host's stream as it was sent, before any ALG rewrite. Given such a packet, this
//! finds the flow (or the pinhole) it belongs to and rewrites it into the packet the gateway
//! would have received on its outside interface, so the replay can run it through the engine
//! like real traffic.

use std::net::IpAddr;
use std::time::Duration;

use super::alg::App;
use super::conntrack::{FlowDir, FlowKey, FlowNat, Lookup};
use super::packet::PacketBuf;
use super::wire::fields;
use super::wire::view::IpView;
use super::wire::write::rewrite_endpoints;
use super::wire::{parse, IcmpKind, ParsedPacket, Transport};
use super::Engine;

impl Engine {
    /// Rewrites a packet from outside addressed to an inside host into the form it would have
    /// had on the outside wire. Returns false, leaving the packet as it is, when it is not
    /// such a packet or nothing translated answers to it.
    pub fn reconstruct_outside_arrival(&self, now: Duration, packet: &mut PacketBuf<'_>) -> bool {
        let Ok(parsed) = parse(packet.bytes()) else {
            return false;
        };
        if self.settings().is_inside(parsed.src) || !self.settings().is_inside(parsed.dst) {
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
        let arrival = match self.flows.lookup(&key.inverse(), now) {
            Lookup::Found(flow, dir) if flow.nat != FlowNat::None => {
                // The packet is the other direction of `dir`, as the gateway delivered it.
                if dir == FlowDir::Original {
                    self.restore_rewritten_acks(packet, &parsed, &flow.lock().app);
                }
                match dir {
                    FlowDir::Original => flow.reply,
                    FlowDir::Reply => flow.original,
                }
            }
            Lookup::Found(..) | Lookup::Expired(_) => return false,
            Lookup::Missing => match self.pinhole_arrival(&parsed, &key) {
                Some(arrival) => arrival,
                None => return false,
            },
        };
        rewrite_endpoints(
            packet.bytes_mut(),
            &parsed,
            (arrival.src, arrival.src_port),
            (arrival.dst, arrival.dst_port),
        );
        true
    }

    /// A data connection opened by an outside peer through a pinhole that translates to the
    /// inside endpoint this packet is addressed to.
    fn pinhole_arrival(&self, parsed: &ParsedPacket, key: &FlowKey) -> Option<FlowKey> {
        let (IpAddr::V4(inside), Transport::Tcp(_)) = (parsed.dst, parsed.transport) else {
            return None;
        };
        let pinhole = self
            .pinholes
            .find_translating_to(parsed.src, (inside, key.dst_port))?;
        Some(FlowKey {
            dst: pinhole.dst,
            dst_port: pinhole.dst_port,
            ..*key
        })
    }

    /// The inside host's peer acknowledged the inside host's stream as sent; on the outside
    /// wire it acknowledged the stream as the ALG rewrote it.
    fn restore_rewritten_acks(&self, packet: &mut PacketBuf<'_>, parsed: &ParsedPacket, app: &App) {
        let (Some(adjust), Transport::Tcp(tcp)) = (app.initiator_adjust(), parsed.transport) else {
            return;
        };
        if !adjust.is_active() || !tcp.has(fields::tcp::ACK_FLAG) {
            return;
        }
        let bytes = packet.bytes_mut();
        let Ok(mut ip) = IpView::new_checked_at(bytes, parsed.l4_offset, parsed.protocol) else {
            return;
        };
        if let Ok(mut tcp) = ip.tcp_mut() {
            tcp.set_ack_number(adjust.map_seq(tcp.ack_number()));
        }
    }
}
