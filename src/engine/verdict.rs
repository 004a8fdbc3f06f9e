//! What the engine decides about a packet, and the counted reasons for every drop.
//!
//! Verdicts are data, not errors: a malformed packet is an ordinary outcome with a reason.

/// The engine's decision about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward the (possibly rewritten) packet in the buffer.
    Accept,
    /// Discard the packet; the reason is counted.
    Drop(DropReason),
    /// Discard the packet and send the buffer's new contents back towards its sender instead:
    /// a TCP RST or an ICMP destination-unreachable built in place. The reason is counted.
    Respond(DropReason),
}

macro_rules! drop_reasons {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// Why a packet was not forwarded as it was.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum DropReason {
            $($(#[doc = $doc])* $variant,)*
        }

        impl DropReason {
            /// Number of reasons.
            pub const COUNT: usize = [$($name,)*].len();

            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];

            /// Stable snake_case name used in summaries, logs and metrics.
            pub fn name(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $name,)*
                }
            }

            /// Index into a per-reason counter array.
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

drop_reasons! {
    /// Shorter than the headers it claims to carry.
    Truncated => "truncated",
    /// Not IPv4 or IPv6, or an IP header that fails validation (bad IHL, total length, version).
    MalformedIp => "malformed_ip",
    /// The IPv4 header checksum does not verify.
    BadIpChecksum => "bad_ip_checksum",
    /// A TCP, UDP or ICMP header that fails validation (bad data offset, length field, options).
    MalformedTransport => "malformed_transport",
    /// A packet that would create or change connection state carries a bad transport checksum.
    BadChecksum => "bad_checksum",
    /// An IP fragment: the engine does not reassemble, and a fragment cannot be matched to a flow.
    Fragment => "fragment",
    /// A transport protocol the engine cannot track or translate.
    UnsupportedProtocol => "unsupported_protocol",
    /// A TCP segment that is not a SYN and belongs to no tracked flow.
    TcpNoFlow => "tcp_no_flow",
    /// TCP flags that no valid segment carries (SYN+FIN, SYN+RST, none at all...).
    TcpInvalidFlags => "tcp_invalid_flags",
    /// A TCP segment that is invalid in the flow's state (a handshake answer with the wrong
    /// ack, data before the SYN/ACK). A SYN on an established flow is passed, not dropped.
    TcpInvalidState => "tcp_invalid_state",
    /// A RST whose sequence number lies outside the receiver's window. (One inside it but
    /// not exact is passed to its receiver and changes nothing: `EngineStats::rst_challenged`.)
    RstOutOfWindow => "rst_out_of_window",
    /// An ICMP error whose quoted packet belongs to no tracked flow.
    IcmpErrorNoFlow => "icmp_error_no_flow",
    /// An ICMP message that starts no flow and belongs to none (an unsolicited echo reply...).
    IcmpUnsolicited => "icmp_unsolicited",
    /// The flow table is full and no flow that never became established could be evicted
    /// for the new one (see `conntrack::eviction`); the new flow was refused.
    TableFull => "table_full",
    /// A new flow whose reply tuple is already another flow's (or its own: a "land" packet
    /// from an address and port to the same address and port).
    TupleConflict => "tuple_conflict",
    /// The source already holds `limits.max_embryonic_per_source` flows that were never
    /// answered; its new flow was refused.
    SourceFlowCap => "source_flow_cap",
    /// No outside port was free for a new masqueraded flow.
    NatPortsExhausted => "nat_ports_exhausted",
    /// The inside host holds `limits.nat_ports_per_host` outside ports of the protocol
    /// (bindings and FTP pinhole ports): its new flow was refused; other hosts are unaffected.
    NatHostQuota => "nat_host_quota",
    /// FTP control bytes withheld: they end inside a line that may still be a PORT, EPRT,
    /// 227 or 229, and go on with the segment that completes it.
    FtpWithheld => "ftp_withheld",
    /// An FTP control segment beyond a gap in its stream: it waits for the retransmission.
    FtpOutOfOrder => "ftp_out_of_order",
    /// An FTP control segment retransmitting bytes the ALG already read with different
    /// content (a TCP-overlap evasion: the copy the gateway checked never reached the receiver).
    FtpInconsistentRetransmission => "ftp_inconsistent_retransmission",
    /// New FTP control bytes beyond the unacknowledged bytes the ALG keeps (64 KiB): they
    /// wait for the receiver's acknowledgments.
    FtpBacklog => "ftp_unacked_backlog",
    /// New FTP control bytes that would take their connection past
    /// `limits.ftp_buffer_per_connection`, or all control connections past
    /// `limits.ftp_buffer_total`: dropped unread; the sender's retransmission passes once
    /// acknowledgments have freed room.
    FtpBufferBudget => "ftp_buffer_budget",
    /// An FTP rewrite that does not fit the packet buffer.
    FtpNoRoom => "ftp_no_room",
    /// An FTP control line broke the ALG's policy and `on_violation: reset` is set: the
    /// segment is answered with a RST, and its receiver gets one too.
    FtpViolationReset => "ftp_violation_reset",
    /// A filter rule or default policy dropped the packet.
    Policy => "policy",
    /// A filter rule or default policy rejected the packet (a RST or ICMP error was sent back).
    PolicyReject => "policy_reject",
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn reasons_have_distinct_names_and_dense_indices() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
        for (i, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
    }
}
