//! The lab gateway the engine tests run against: its addresses and `lab_settings()`. Owns
//! settings and names only; it never runs a packet.

use std::net::Ipv4Addr;

use ftpgate::engine::settings::{EngineSettings, ForwardProtocol, PortForward, PortRange};

pub const INSIDE_NET: &str = "10.77.0.0/24";
pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
pub const CLIENT2: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 3);
pub const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const INSIDE_SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 10);
pub const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
/// An outside client of the forwarded inside server.
pub const OUTSIDE_CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);
/// A third outside host (what a bounce names).
pub const THIRD_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 3);

/// The lab gateway: 10.77.0.0/24 inside, masqueraded to 198.51.100.1, tcp 2121 and udp 5353
/// forwarded to 10.77.0.10.
pub fn lab_settings() -> EngineSettings {
    EngineSettings {
        inside_networks: vec![INSIDE_NET.parse().unwrap(), "fd00:77::/64".parse().unwrap()],
        outside_address: Some(OUTSIDE),
        nat_ports: PortRange {
            first: 20000,
            last: 59999,
        },
        forwards: vec![
            PortForward {
                protocol: ForwardProtocol::Tcp,
                outside_ports: PortRange::single(2121),
                inside_address: INSIDE_SERVER,
                inside_port: 21,
            },
            PortForward {
                protocol: ForwardProtocol::Udp,
                outside_ports: PortRange::single(5353),
                inside_address: INSIDE_SERVER,
                inside_port: 53,
            },
        ],
        ..EngineSettings::default()
    }
}
