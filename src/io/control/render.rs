//! Text for people: how `ftpgate status`, `flows` and `pinholes` print an answer without
//! `--json`. Flows read like `conntrack -L` lines. Pure formatting; no I/O.

use std::fmt::Write;

use super::protocol::{Endpoints, FlowEntry, PinholeEntry, Status};

fn protocol_name(protocol: u8) -> String {
    match protocol {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        other => other.to_string(),
    }
}

/// One direction's tuple; an ICMP echo's identifier is in the source port of the original
/// direction and the destination port of the reply.
fn tuple(out: &mut String, endpoints: &Endpoints, reply: bool) {
    let _ = write!(out, "src={} dst={} ", endpoints.src, endpoints.dst);
    if matches!(endpoints.protocol, 1 | 58) {
        let id = if reply {
            endpoints.dport
        } else {
            endpoints.sport
        };
        let _ = write!(out, "id={id} ");
    } else {
        let _ = write!(out, "sport={} dport={} ", endpoints.sport, endpoints.dport);
    }
}

/// `status` as aligned lines.
pub fn status(status: &Status) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        let _ = writeln!(out, "{key:<20} {value}");
    };
    line("rules", status.rules_file.clone());
    line("uptime", format!("{} s", status.uptime_s));
    line("packets", status.packets.to_string());
    line("  accepted", status.accepted.to_string());
    line("  answered", status.answered.to_string());
    let dropped: u64 = status.drops.iter().map(|(_, n)| n).sum();
    line("  dropped", dropped.to_string());
    for (reason, count) in &status.drops {
        line(&format!("    {reason}"), count.to_string());
    }
    line("flows", status.flows.to_string());
    line("  created", status.flows_created.to_string());
    line("  expired", status.flows_expired.to_string());
    line("  reclaimed", status.flows_reclaimed.to_string());
    line("bindings", status.bindings.to_string());
    line("pinholes", status.pinholes.to_string());
    line("FTP sessions", status.ftp_sessions.to_string());
    let refused: u64 = status.refusals.iter().map(|(_, n)| n).sum();
    line("FTP refusals", refused.to_string());
    for (check, count) in &status.refusals {
        line(&format!("    {check}"), count.to_string());
    }
    line("events lost", status.events_lost.to_string());
    line("policy rules", status.policy_rules.to_string());
    line(
        "reloads",
        format!("{} ({} refused)", status.reloads, status.reloads_refused),
    );
    for queue in &status.queues {
        line(
            &format!("queue {}", queue.queue),
            format!(
                "packets {}, read errors {}, write errors {}, UDP runs {} ({} datagrams)",
                queue.packets,
                queue.read_errors,
                queue.write_errors,
                queue.udp_runs,
                queue.udp_run_datagrams
            ),
        );
    }
    out
}

/// One line per flow, like `conntrack -L`: protocol, seconds left, state, both tuples, then
/// the translation and the FTP facts in brackets.
pub fn flows(flows: &[FlowEntry], truncated: bool) -> String {
    let mut out = String::new();
    for flow in flows {
        let _ = write!(
            out,
            "{:<6} {:>3} {:>6} ",
            protocol_name(flow.original.protocol),
            flow.original.protocol,
            flow.expires_in_s
        );
        if flow.original.protocol == 6 {
            let _ = write!(out, "{} ", flow.state);
        }
        tuple(&mut out, &flow.original, false);
        tuple(&mut out, &flow.reply, true);
        match flow.translation.as_str() {
            "masquerade" => out.push_str("[SNAT] "),
            "forward" => out.push_str("[DNAT] "),
            _ => {}
        }
        if flow.bytes > 0 {
            let _ = write!(out, "bytes={} ", flow.bytes);
        }
        if let Some(ftp) = &flow.ftp {
            let _ = write!(out, "helper=ftp logged_in={} ", ftp.logged_in);
            if let Some(user) = &ftp.user {
                let _ = write!(out, "user={user:?} ");
            }
            if let Some(cwd) = &ftp.cwd {
                let _ = write!(out, "cwd={cwd:?} ");
            }
            let _ = write!(out, "pinholes={} ", ftp.pinholes);
            if ftp.blind {
                out.push_str("tls ");
            }
        }
        if flow.ftp_data {
            out.push_str("[ftp-data] ");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "ftpgate: {} flow entries listed{}.",
        flows.len(),
        if truncated { " (limit reached)" } else { "" }
    );
    out
}

/// One line per pinhole.
pub fn pinholes(pinholes: &[PinholeEntry]) -> String {
    let mut out = String::new();
    for hole in pinholes {
        let _ = write!(
            out,
            "{:>4} {:<7} src={} dst={} dport={}",
            hole.expires_in_s, hole.mode, hole.src, hole.dst, hole.dport
        );
        if let Some(to) = &hole.translate_to {
            let _ = write!(out, " to={to}");
        }
        if let Some(port) = hole.binding {
            let _ = write!(out, " binding={port}");
        }
        if let Some(control) = &hole.control {
            let _ = write!(
                out,
                " control={}:{}->{}:{}",
                control.src, control.sport, control.dst, control.dport
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "ftpgate: {} pinholes open.", pinholes.len());
    out
}
