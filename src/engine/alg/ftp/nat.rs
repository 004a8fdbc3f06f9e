//! NAT, the third of the ALG's four jobs: what an accepted announcement becomes. The port
//! choice ([`data_endpoint`]: a masqueraded announcer gets an outside port reserved for its
//! inside endpoint, and the pinhole translates to it) and the new text ([`Argument`]: the
//! argument of PORT, EPRT, 227 or 229 written again, in the line's own syntax, naming the
//! outside endpoint; [`format`](mod@format) writes the digits).
//!
//! It never checks what a line may announce (that is `expect`) and never touches the packet
//! (that is `mangle`): it returns the endpoint and the text, and the caller splices.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use super::host::AlgHost;
use crate::engine::nat::PortShortage;

pub mod format;

use format::ArgText;

/// Where the peer's data connection reaches the gateway, and what it becomes there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataEndpoint {
    /// Destination address of the data connection as it reaches the gateway.
    pub dst: IpAddr,
    /// Destination port of the data connection as it reaches the gateway.
    pub dst_port: u16,
    /// The inside endpoint the connection is translated to, when the announcer is masqueraded.
    pub translate_to: Option<(Ipv4Addr, u16)>,
    /// The outside port reserved for it (released if the connection never comes).
    pub binding: Option<u16>,
    /// The endpoint the line must name instead, when it changes.
    pub rewrite_to: Option<(IpAddr, u16)>,
}

/// The data endpoint for an announcement of the announcer's own `announced` address and
/// port, when the announcer's address becomes `translated` on its way out: a masqueraded
/// IPv4 announcer gets an outside port reserved for `announced` (its binding), anything else
/// is reached where it said.
pub fn data_endpoint(
    host: &dyn AlgHost,
    announced: (IpAddr, u16),
    translated: IpAddr,
) -> Result<DataEndpoint, PortShortage> {
    let (addr, port) = announced;
    match (addr, translated) {
        (IpAddr::V4(inside), IpAddr::V4(outside)) if inside != outside => {
            let outside_port = host.reserve_data_port((inside, port))?;
            Ok(DataEndpoint {
                dst: IpAddr::V4(outside),
                dst_port: outside_port,
                translate_to: Some((inside, port)),
                binding: Some(outside_port),
                rewrite_to: Some((IpAddr::V4(outside), outside_port)),
            })
        }
        _ => Ok(DataEndpoint {
            dst: addr,
            dst_port: port,
            translate_to: None,
            binding: None,
            rewrite_to: None,
        }),
    }
}

/// An announcement's address argument: its syntax and where it sits in the line (the range
/// the parser returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Argument {
    /// `h1,h2,h3,h4,p1,p2` (PORT, 227): IPv4 only.
    HostPort(Range<usize>),
    /// `<d>af<d>addr<d>port<d>` (EPRT), written with the line's own delimiter.
    Extended {
        /// Where it sits.
        arg: Range<usize>,
        /// The line's delimiter.
        delimiter: u8,
    },
    /// The port digits of a 229 (the address is the control connection's).
    PortOnly(Range<usize>),
}

impl Argument {
    /// The text that replaces the argument so that it names `to`, and where it goes; `None`
    /// when the syntax cannot name it (an IPv6 address in a PORT or 227).
    pub fn rewritten(&self, to: (IpAddr, u16)) -> Option<(Range<usize>, ArgText)> {
        match (self, to) {
            (Argument::HostPort(arg), (IpAddr::V4(addr), port)) => {
                Some((arg.clone(), format::host_port(addr, port)))
            }
            (Argument::HostPort(_), _) => None,
            (Argument::Extended { arg, delimiter }, (addr, port)) => Some((
                arg.clone(),
                format::extended_host_port(*delimiter, addr, port),
            )),
            (Argument::PortOnly(arg), (_, port)) => Some((arg.clone(), format::epsv_port(port))),
        }
    }
}

#[cfg(test)]
mod test {
    use std::net::Ipv6Addr;

    use super::*;

    #[test]
    fn each_syntax_is_rewritten_in_place_or_refused_when_it_cannot_name_the_endpoint() {
        let outside = (IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)), 61000);
        let v6 = (IpAddr::V6(Ipv6Addr::LOCALHOST), 61000);
        let text = |arg: &Argument, to| {
            arg.rewritten(to)
                .map(|(range, text)| (range, text.to_string()))
        };
        let port = Argument::HostPort(5..22);
        assert_eq!(
            text(&port, outside),
            Some((5..22, "203,0,113,7,238,72".into()))
        );
        assert_eq!(text(&port, v6), None);
        let eprt = Argument::Extended {
            arg: 5..24,
            delimiter: b'!',
        };
        assert_eq!(
            text(&eprt, outside),
            Some((5..24, "!1!203.0.113.7!61000!".into()))
        );
        assert_eq!(text(&eprt, v6), Some((5..24, "!2!::1!61000!".into())));
        let epsv = Argument::PortOnly(40..45);
        assert_eq!(text(&epsv, outside), Some((40..45, "61000".into())));
    }
}
