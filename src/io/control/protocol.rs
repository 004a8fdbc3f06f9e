//! The control socket's wire format: one JSON request line in, one JSON response line out,
//! then the server closes the connection.
//!
//! Owns the request and response types, the bound on a request's size, and the parsing that
//! turns any bytes into either a request or a clear error. It does no I/O and touches no
//! engine: the server reads, this parses, the handler answers.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Longest request accepted, newline included. A longer one is refused unread.
pub const MAX_REQUEST: usize = 4096;
/// Most flows one `flows` answer lists, whatever the request asks.
pub const MAX_FLOWS_LISTED: usize = 100_000;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// Counters and table sizes.
    Status,
    /// The flow table, filtered.
    Flows {
        /// Which flows to list.
        #[serde(default)]
        filter: FlowFilter,
    },
    /// The open pinholes.
    Pinholes,
    /// Re-read the rule file and swap the policy.
    Reload,
}

/// Which flows `flows` lists, like `conntrack -L`'s options: every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFilter {
    /// `tcp`, `udp`, `icmp` or a protocol number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Source of the original direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// Destination of the original direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<IpAddr>,
    /// Source port of the original direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    /// Destination port of the original direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    /// Source of the reply direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_src: Option<IpAddr>,
    /// Destination of the reply direction (the NAT address of a masqueraded flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_dst: Option<IpAddr>,
    /// Most flows listed (default and ceiling [`MAX_FLOWS_LISTED`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl FlowFilter {
    /// The protocol number asked for; `Err` for a name or number that is not one.
    pub fn protocol_number(&self) -> Result<Option<u8>, String> {
        let Some(text) = &self.protocol else {
            return Ok(None);
        };
        let number = match text.to_ascii_lowercase().as_str() {
            "tcp" => 6,
            "udp" => 17,
            "icmp" => 1,
            "icmpv6" | "ipv6-icmp" => 58,
            other => other.parse::<u8>().map_err(|_| {
                format!("unknown protocol `{text}` (tcp, udp, icmp, icmpv6 or a number 0-255)")
            })?,
        };
        Ok(Some(number))
    }

    /// Whether a flow with these tuples is listed (`protocol` already resolved).
    pub fn matches(&self, protocol: Option<u8>, original: &Endpoints, reply: &Endpoints) -> bool {
        protocol.is_none_or(|p| p == original.protocol)
            && self.src.is_none_or(|a| a == original.src)
            && self.dst.is_none_or(|a| a == original.dst)
            && self.sport.is_none_or(|p| p == original.sport)
            && self.dport.is_none_or(|p| p == original.dport)
            && self.reply_src.is_none_or(|a| a == reply.src)
            && self.reply_dst.is_none_or(|a| a == reply.dst)
    }
}

/// One direction's 5-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Protocol number.
    pub protocol: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (ICMP: the echo identifier).
    pub sport: u16,
    /// Destination port (ICMP: the echo identifier).
    pub dport: u16,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "lowercase")]
pub enum Response {
    /// The request could not be carried out; the text says why.
    Error {
        /// What went wrong, for a person.
        message: String,
    },
    /// `status`.
    Status(Box<Status>),
    /// `flows`.
    Flows {
        /// The flows listed.
        flows: Vec<FlowEntry>,
        /// Whether the limit cut the list short.
        truncated: bool,
    },
    /// `pinholes`.
    Pinholes {
        /// The pinholes open.
        pinholes: Vec<PinholeEntry>,
    },
    /// `reload` succeeded.
    Reloaded {
        /// What changed, for a person.
        message: String,
        /// Rules in the policy now in force.
        rules: usize,
    },
}

/// The gateway's counters and table sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The rule file in force.
    pub rules_file: String,
    /// Seconds since `run` started.
    pub uptime_s: u64,
    /// Packets the engine processed.
    pub packets: u64,
    /// Packets forwarded.
    pub accepted: u64,
    /// Packets answered (RST / ICMP) instead of forwarded.
    pub answered: u64,
    /// Packets not forwarded, by reason (non-zero reasons only).
    pub drops: Vec<(String, u64)>,
    /// Flows tracked.
    pub flows: usize,
    /// Flows created since start.
    pub flows_created: u64,
    /// Flows expired since start.
    pub flows_expired: u64,
    /// Flows that were over (closed TCP, idle answered UDP) removed early so their inside
    /// host could have a NAT port.
    #[serde(default)]
    pub flows_reclaimed: u64,
    /// Masquerade bindings held.
    pub bindings: usize,
    /// Pinholes open.
    pub pinholes: usize,
    /// FTP control connections tracked.
    pub ftp_sessions: usize,
    /// FTP lines refused, by check.
    pub refusals: Vec<(String, u64)>,
    /// Events that did not fit the event queue.
    pub events_lost: u64,
    /// Rules in the policy in force.
    pub policy_rules: usize,
    /// Successful reloads since start.
    pub reloads: u64,
    /// Refused reloads since start.
    pub reloads_refused: u64,
    /// Per TUN queue: read and write errors.
    pub queues: Vec<QueueStatus>,
}

/// One TUN queue's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// Queue index.
    pub queue: usize,
    /// Packets read.
    pub packets: u64,
    /// Failed reads.
    pub read_errors: u64,
    /// Failed writes.
    pub write_errors: u64,
    /// UDP super-packets written (runs of datagrams joined).
    pub udp_runs: u64,
    /// Datagrams those super-packets carried.
    pub udp_run_datagrams: u64,
}

/// One flow, as `ftpgate flows` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowEntry {
    /// The initiator's tuple, as its packets arrive.
    pub original: Endpoints,
    /// The responder's tuple, as its packets arrive.
    pub reply: Endpoints,
    /// `masquerade`, `forward` or `none`.
    pub translation: String,
    /// Protocol state.
    pub state: String,
    /// Seconds until it expires unless refreshed.
    pub expires_in_s: u64,
    /// TCP payload bytes carried.
    pub bytes: u64,
    /// FTP control connection facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftp: Option<crate::engine::SessionFacts>,
    /// Whether it is an FTP data connection.
    pub ftp_data: bool,
}

/// One pinhole, as `ftpgate pinholes` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinholeEntry {
    /// The only source admitted.
    pub src: IpAddr,
    /// Destination as the data connection reaches the gateway.
    pub dst: IpAddr,
    /// Destination port as the data connection reaches the gateway.
    pub dport: u16,
    /// `ADDRESS:PORT` it is translated to, if any.
    pub translate_to: Option<String>,
    /// Outside port held for it.
    pub binding: Option<u16>,
    /// `active` or `passive`.
    pub mode: String,
    /// Seconds until it stops admitting.
    pub expires_in_s: u64,
    /// The control connection's original tuple.
    pub control: Option<Endpoints>,
}

/// Parses one request. `bytes` is what the client sent up to and including its newline (or
/// up to its end of stream); the error texts are sent back as they are.
pub fn parse_request(bytes: &[u8]) -> Result<Request, String> {
    if bytes.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "request is not UTF-8".to_owned())?;
    let line = text.strip_suffix('\n').unwrap_or(text);
    if line.trim().is_empty() {
        return Err("empty request (send one JSON object, e.g. {\"command\":\"status\"})".into());
    }
    if line.contains('\n') {
        return Err("one request per connection, on one line".into());
    }
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|err| format!("bad request: {err}"))?;
    // Serde ignores unknown fields next to an internal tag: refuse them here.
    if let Some(object) = value.as_object() {
        if let Some(key) = object
            .keys()
            .find(|key| !matches!(key.as_str(), "command" | "filter"))
        {
            return Err(format!("bad request: unknown field `{key}`"));
        }
    }
    let request: Request =
        serde_json::from_value(value).map_err(|err| format!("bad request: {err}"))?;
    if let Request::Flows { filter } = &request {
        filter.protocol_number()?;
    }
    Ok(request)
}

/// The response line for `response` (JSON and a newline).
pub fn encode_response(response: &Response) -> Vec<u8> {
    let mut line = serde_json::to_vec(response).unwrap_or_else(|err| {
        format!("{{\"answer\":\"error\",\"message\":\"cannot encode the answer: {err}\"}}")
            .into_bytes()
    });
    line.push(b'\n');
    line
}

#[cfg(test)]
mod test {
    use super::*;

    fn error_of(bytes: &[u8]) -> String {
        match parse_request(bytes) {
            Ok(request) => panic!("accepted {request:?}"),
            Err(message) => message,
        }
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(
            parse_request(b"{\"command\":\"status\"}\n"),
            Ok(Request::Status)
        );
        assert_eq!(
            parse_request(b"{\"command\":\"reload\"}"),
            Ok(Request::Reload)
        );
        assert_eq!(
            parse_request(b"{\"command\":\"pinholes\"}\n"),
            Ok(Request::Pinholes)
        );
        assert_eq!(
            parse_request(b"{\"command\":\"flows\"}\n"),
            Ok(Request::Flows {
                filter: FlowFilter::default()
            })
        );
        let request = parse_request(
            b"{\"command\":\"flows\",\"filter\":{\"protocol\":\"tcp\",\"src\":\"10.0.0.2\",\"dport\":21}}\n",
        );
        let Ok(Request::Flows { filter }) = request else {
            panic!("{request:?}");
        };
        assert_eq!(filter.protocol_number(), Ok(Some(6)));
        assert_eq!(filter.dport, Some(21));
        assert_eq!(filter.src, "10.0.0.2".parse().ok());
    }

    #[test]
    fn requests_round_trip() {
        let request = Request::Flows {
            filter: FlowFilter {
                protocol: Some("udp".into()),
                reply_dst: "198.51.100.1".parse().ok(),
                limit: Some(3),
                ..FlowFilter::default()
            },
        };
        let line = serde_json::to_string(&request).unwrap();
        assert_eq!(parse_request(line.as_bytes()), Ok(request));
    }

    #[test]
    fn bad_requests_get_clear_errors() {
        assert!(error_of(b"").starts_with("empty request"));
        assert!(error_of(b"  \n").starts_with("empty request"));
        assert_eq!(error_of(b"\xff\xfe\n"), "request is not UTF-8");
        assert!(error_of(b"status\n").starts_with("bad request:"));
        let unknown = error_of(b"{\"command\":\"shutdown\"}\n");
        assert!(unknown.contains("unknown variant `shutdown`"), "{unknown}");
        assert!(error_of(b"{}\n").contains("missing field `command`"));
        let extra = error_of(b"{\"command\":\"status\",\"verbose\":true}\n");
        assert!(extra.contains("unknown field `verbose`"), "{extra}");
        let filter = error_of(b"{\"command\":\"flows\",\"filter\":{\"colour\":1}}\n");
        assert!(filter.contains("unknown field `colour`"), "{filter}");
        let proto = error_of(b"{\"command\":\"flows\",\"filter\":{\"protocol\":\"sctpx\"}}\n");
        assert!(proto.starts_with("unknown protocol `sctpx`"), "{proto}");
        let addr = error_of(b"{\"command\":\"flows\",\"filter\":{\"src\":\"10.0.0.300\"}}\n");
        assert!(addr.starts_with("bad request:"), "{addr}");
        let port = error_of(b"{\"command\":\"flows\",\"filter\":{\"dport\":70000}}\n");
        assert!(port.starts_with("bad request:"), "{port}");
        assert!(
            error_of(b"{\"command\":\"status\"}\n{\"command\":\"status\"}\n")
                .starts_with("one request per connection")
        );
        let long = vec![b' '; MAX_REQUEST + 1];
        assert!(error_of(&long).starts_with("request longer than"));
    }

    #[test]
    fn filter_matches_both_tuples() {
        let original = Endpoints {
            protocol: 6,
            src: "10.77.0.2".parse().unwrap(),
            dst: "198.51.100.2".parse().unwrap(),
            sport: 40000,
            dport: 21,
        };
        let reply = Endpoints {
            protocol: 6,
            src: original.dst,
            dst: "198.51.100.1".parse().unwrap(),
            sport: 21,
            dport: 40000,
        };
        let filter = |f: FlowFilter| {
            let protocol = f.protocol_number().unwrap();
            f.matches(protocol, &original, &reply)
        };
        assert!(filter(FlowFilter::default()));
        assert!(filter(FlowFilter {
            protocol: Some("TCP".into()),
            dport: Some(21),
            reply_dst: "198.51.100.1".parse().ok(),
            ..FlowFilter::default()
        }));
        assert!(!filter(FlowFilter {
            protocol: Some("udp".into()),
            ..FlowFilter::default()
        }));
        assert!(!filter(FlowFilter {
            src: "198.51.100.2".parse().ok(),
            ..FlowFilter::default()
        }));
    }

    #[test]
    fn responses_round_trip() {
        let response = Response::Reloaded {
            message: "policy replaced".into(),
            rules: 3,
        };
        let line = encode_response(&response);
        assert_eq!(line.last(), Some(&b'\n'));
        let back: Response = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, response);
    }
}
