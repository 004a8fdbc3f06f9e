//! Translation of ICMP errors about translated flows: the outer destination and the quoted
//! packet are turned back into what the error's receiver knows (RFC 5508 section 4.2).

use super::Flow;
use crate::engine::conntrack::FlowDir;
use crate::engine::wire::parse::QuotedPacket;
use crate::engine::wire::write::{rewrite_ipv4_addresses, rewrite_quoted};
use crate::engine::wire::ParsedPacket;

/// Rewrites an ICMP error travelling in `dir` of `flow`, whose quote is a packet of the other
/// direction as it left the gateway.
pub fn translate_icmp_error<A>(
    bytes: &mut [u8],
    packet: &ParsedPacket,
    quoted: &QuotedPacket,
    flow: &Flow<A>,
    dir: FlowDir,
) {
    let (quoted_before, own_before) = match dir {
        FlowDir::Original => (&flow.reply, &flow.original),
        FlowDir::Reply => (&flow.original, &flow.reply),
    };
    rewrite_quoted(
        bytes,
        packet,
        quoted,
        (quoted_before.src, quoted_before.src_port),
        (quoted_before.dst, quoted_before.dst_port),
    );
    if packet.is_ipv4() {
        let target = flow.translated_key(dir);
        // The error's sender keeps its address unless it is the flow's own peer.
        let src = if packet.src == own_before.src {
            target.src
        } else {
            packet.src
        };
        rewrite_ipv4_addresses(bytes, src, target.dst);
    }
}
