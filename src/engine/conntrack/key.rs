//! The 5-tuple that identifies one direction of a flow.

use std::net::IpAddr;

use crate::engine::wire::ParsedPacket;

/// Protocol, addresses and ports of one direction of a flow. For ICMP echo the identifier
/// takes the place of a port (see [`ParsedPacket::ports`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Transport protocol number.
    pub protocol: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl FlowKey {
    /// The key of a packet, if its protocol is tracked by 5-tuple.
    pub fn of_packet(packet: &ParsedPacket) -> Option<Self> {
        let (src_port, dst_port) = packet.ports()?;
        Some(Self {
            protocol: packet.protocol,
            src: packet.src,
            dst: packet.dst,
            src_port,
            dst_port,
        })
    }

    /// The same flow seen from the other end.
    pub fn inverse(&self) -> Self {
        Self {
            protocol: self.protocol,
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }
}

impl std::fmt::Display for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.protocol {
            1 | 58 => "icmp",
            6 => "tcp",
            17 => "udp",
            _ => "ip",
        };
        let endpoint = |addr: IpAddr, port: u16| match addr {
            IpAddr::V4(v4) => format!("{v4}:{port}"),
            IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        };
        write!(
            f,
            "{name} {} -> {}",
            endpoint(self.src, self.src_port),
            endpoint(self.dst, self.dst_port)
        )
    }
}
