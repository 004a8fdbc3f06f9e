//! Typed, validated engine settings: what a rule file compiles into.
//!
//! Owns the plain data the engine is configured with (networks, NAT address and port range,
//! port forwards, filter rules, timeouts, limits). It holds no parsing code: `crate::config`
//! turns YAML into these values and validates them; the engine only reads them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnetwork::IpNetwork;

/// Everything the engine needs to know about the gateway it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// Networks on the inside of the gateway; a packet whose source lies in one came from inside.
    pub inside_networks: Vec<IpNetwork>,
    /// The IPv4 address inside hosts are masqueraded to; `None` translates nothing.
    pub outside_address: Option<Ipv4Addr>,
    /// Outside ports the masquerade may allocate when an inside source port is taken.
    pub nat_ports: PortRange,
    /// Static inbound translations from the outside address to inside servers.
    pub forwards: Vec<PortForward>,
    /// The stateful filter applied to the first packet of every new flow.
    pub policy: Policy,
    /// Idle timeouts per protocol and TCP state.
    pub timeouts: Timeouts,
    /// Table sizes and tracking switches.
    pub limits: Limits,
    /// The FTP application-layer gateway.
    pub ftp: FtpSettings,
}

/// How the FTP ALG follows control connections and opens data connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpSettings {
    /// TCP ports whose connections are FTP control connections (empty: the ALG is off).
    pub control_ports: Vec<u16>,
    /// How long an announced data connection may take to arrive.
    pub pinhole_timeout: Duration,
    /// Most pinholes open at once per control connection; the oldest is closed first.
    pub max_pinholes: usize,
    /// Longest command or reply line the ALG follows; a longer PORT/EPRT/227/229 is refused.
    pub max_line: usize,
    /// Largest IP packet a rewrite may produce (the path MTU); longer output is cut at a line
    /// boundary and the sender's retransmission carries the rest.
    pub mtu: usize,
    /// Lowest data port an announcement may name; lower ones are refused (`privileged_port`).
    pub min_data_port: u16,
    /// Let a client's PORT / EPRT name a host other than itself (server-to-server "FXP"
    /// transfers): such a line passes unchanged and opens no pinhole. Off: it is a bounce.
    pub allow_fxp: bool,
    /// Refuse every announcement until the server has accepted a login (230 / 232).
    pub require_login: bool,
    /// What happens to a control connection that asks for TLS (AUTH).
    pub tls: TlsPolicy,
    /// What a violation does to the control connection.
    pub on_violation: ViolationOutcome,
    /// What happens to a control connection whose client sends a line that is not an FTP
    /// command (or whose server does not greet with 220): it can never announce again.
    pub non_ftp: NonFtpPolicy,
    /// A 227 from an outside server naming a private address (a server behind its own NAT)
    /// is rewritten to the server's control address, with a notice, instead of refused.
    pub fix_pasv_address: bool,
}

/// What the ALG does with a control connection that is not FTP (NAT slipstreaming: a
/// browser made to talk HTTP to port 21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonFtpPolicy {
    /// Marked non-FTP for good: passed as plain TCP, unread and unmodified, with a
    /// `non_ftp` notice; a client PORT / EPRT / LPRT in it naming another host or a low port
    /// still resets the connection. With the server inside (forwarded) nothing passes unread: a non-FTP
    /// client line is refused (`not_ftp`, under `on_violation`), and a server whose first
    /// reply is not 220 / 120 / 421 gets the connection reset (`not_ftp`).
    Pass,
    /// The connection is reset (`not_ftp` violation).
    Reset,
}

/// What the ALG does when a control connection asks for TLS (AUTH TLS / SSL): it cannot
/// read an encrypted stream, so it never opens a pinhole for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Let the server accept it; from its 234 on, the connection is passed unread and
    /// without pinholes (data connections need another rule, such as a forwarded range).
    PassBlind,
    /// Refuse the AUTH command as a violation (`tls_blocked`): the session stays readable.
    Block,
}

/// What a refused line does to its control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationOutcome {
    /// The line is removed; a refused command gets an FTP error reply from the gateway, a
    /// refused reply is replaced by one. Both TCP streams stay consistent.
    Reply,
    /// The control connection is reset: a RST to each end.
    Reset,
}

impl Default for FtpSettings {
    fn default() -> Self {
        Self {
            control_ports: vec![21],
            pinhole_timeout: Duration::from_secs(120),
            max_pinholes: 4,
            max_line: 512,
            mtu: 1500,
            min_data_port: 1024,
            allow_fxp: false,
            require_login: true,
            tls: TlsPolicy::PassBlind,
            on_violation: ViolationOutcome::Reply,
            non_ftp: NonFtpPolicy::Pass,
            fix_pasv_address: true,
        }
    }
}

/// An inclusive range of TCP/UDP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// First port in the range.
    pub first: u16,
    /// Last port in the range (inclusive, `>= first`).
    pub last: u16,
}

impl PortRange {
    /// A range holding exactly one port.
    pub const fn single(port: u16) -> Self {
        Self {
            first: port,
            last: port,
        }
    }

    /// Whether `port` lies in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    /// Whether the two ranges share a port.
    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// Number of ports in the range.
    pub fn len(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// A range is never empty; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Transport protocols a forward can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardProtocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// Outside address:ports -> inside server; port `outside.first + k` maps to `inside_port + k`.
#[derive(Debug, Clone, PartialEq)]
pub struct PortForward {
    /// Protocol forwarded.
    pub protocol: ForwardProtocol,
    /// Ports on the outside address that are forwarded.
    pub outside_ports: PortRange,
    /// The inside server.
    pub inside_address: Ipv4Addr,
    /// Inside port that `outside_ports.first` maps to.
    pub inside_port: u16,
}

impl PortForward {
    /// The inside port an outside port maps to, if the forward covers it.
    pub fn inside_port_for(&self, outside_port: u16) -> Option<u16> {
        self.outside_ports.contains(outside_port).then(|| {
            self.inside_port
                .wrapping_add(outside_port - self.outside_ports.first)
        })
    }

    /// The outside port an inside port maps back to, if the forward covers it.
    pub fn outside_port_for(&self, inside_port: u16) -> Option<u16> {
        let offset = inside_port.checked_sub(self.inside_port)?;
        let outside = u32::from(self.outside_ports.first) + u32::from(offset);
        (outside <= u32::from(self.outside_ports.last)).then_some(outside as u16)
    }
}

/// Which way a packet crosses the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From an inside network towards the outside.
    Outbound,
    /// From the outside towards the gateway or an inside network.
    Inbound,
}

/// What a filter rule or default does with the first packet of a new flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Track the flow and let it through.
    Accept,
    /// Discard silently.
    Drop,
    /// Discard and tell the sender: TCP RST for TCP, ICMP port/administratively unreachable otherwise.
    Reject,
}

/// Protocol a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleProtocol {
    /// Any protocol.
    Any,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP for IPv4 and ICMPv6 for IPv6.
    Icmp,
}

/// One filter rule. Empty lists match anything; rules match the packet as it arrives,
/// before any translation.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Where the rule came from (`file:line:column`), for `check` output and logs.
    pub origin: String,
    /// Direction matched; `None` matches both.
    pub direction: Option<Direction>,
    /// Protocol matched.
    pub protocol: RuleProtocol,
    /// Source networks matched.
    pub sources: Vec<IpNetwork>,
    /// Destination networks matched.
    pub destinations: Vec<IpNetwork>,
    /// Source port ranges matched (TCP/UDP only; a rule with ports never matches other protocols).
    pub source_ports: Vec<PortRange>,
    /// Destination port ranges matched (TCP/UDP only).
    pub destination_ports: Vec<PortRange>,
    /// What happens to a matching packet.
    pub action: Action,
    /// Emit a log event when the rule matches.
    pub log: bool,
}

/// Ordered rules (first match wins) and per-direction defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Rules, in file order.
    pub rules: Vec<Rule>,
    /// Action for new outbound flows no rule matched.
    pub default_outbound: Action,
    /// Action for new inbound flows no rule matched (port forwards are accepted before it).
    pub default_inbound: Action,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            default_outbound: Action::Accept,
            default_inbound: Action::Drop,
        }
    }
}

/// Idle timeouts; defaults follow Linux netfilter's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP: SYN seen, no SYN/ACK yet.
    pub tcp_syn_sent: Duration,
    /// TCP: SYN/ACK seen, handshake not complete.
    pub tcp_syn_recv: Duration,
    /// TCP: handshake complete.
    pub tcp_established: Duration,
    /// TCP: one side sent FIN.
    pub tcp_fin_wait: Duration,
    /// TCP: FIN acknowledged, other side still open.
    pub tcp_close_wait: Duration,
    /// TCP: both sides sent FIN, last ACK outstanding.
    pub tcp_last_ack: Duration,
    /// TCP: both FINs acknowledged.
    pub tcp_time_wait: Duration,
    /// TCP: reset seen.
    pub tcp_close: Duration,
    /// UDP: packets seen in one direction only.
    pub udp_unreplied: Duration,
    /// UDP: packets seen both ways.
    pub udp_replied: Duration,
    /// ICMP echo and other ICMP queries.
    pub icmp: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            tcp_syn_sent: s(120),
            tcp_syn_recv: s(60),
            tcp_established: s(432_000),
            tcp_fin_wait: s(120),
            tcp_close_wait: s(60),
            tcp_last_ack: s(30),
            tcp_time_wait: s(120),
            tcp_close: s(10),
            udp_unreplied: s(30),
            udp_replied: s(120),
            icmp: s(30),
        }
    }
}

/// Table sizes and tracking switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most flows tracked at once; new flows beyond it are refused and counted.
    pub max_flows: usize,
    /// Track a TCP flow first seen mid-connection (no SYN). Off on a border: only handshakes
    /// create TCP flows. On for analysing captures that start mid-stream.
    pub tcp_pickup: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_flows: 262_144,
            tcp_pickup: false,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            inside_networks: Vec::new(),
            outside_address: None,
            nat_ports: PortRange {
                first: 1024,
                last: 65535,
            },
            forwards: Vec::new(),
            policy: Policy::default(),
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            ftp: FtpSettings::default(),
        }
    }
}

impl EngineSettings {
    /// Whether `addr` lies in one of the inside networks.
    pub fn is_inside(&self, addr: IpAddr) -> bool {
        self.inside_networks.iter().any(|net| net.contains(addr))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn forward_maps_ranges_both_ways() {
        let fwd = PortForward {
            protocol: ForwardProtocol::Tcp,
            outside_ports: PortRange {
                first: 30000,
                last: 30009,
            },
            inside_address: Ipv4Addr::new(10, 0, 0, 5),
            inside_port: 40000,
        };
        assert_eq!(fwd.inside_port_for(30003), Some(40003));
        assert_eq!(fwd.inside_port_for(30010), None);
        assert_eq!(fwd.outside_port_for(40009), Some(30009));
        assert_eq!(fwd.outside_port_for(40010), None);
        assert_eq!(fwd.outside_port_for(39999), None);
    }

    #[test]
    fn port_ranges_overlap_only_when_sharing_a_port() {
        let a = PortRange {
            first: 10,
            last: 20,
        };
        assert!(a.overlaps(&PortRange {
            first: 20,
            last: 30
        }));
        assert!(!a.overlaps(&PortRange {
            first: 21,
            last: 30
        }));
        assert_eq!(a.len(), 11);
    }
}
