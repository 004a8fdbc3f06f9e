//! The per-packet path: parse, find or create the flow, filter new flows, update state,
//! translate. Each step's failure is a counted verdict; no step panics on packet bytes.
//!
//! A flow's application state (`alg::App`) is reached only through its hooks: the pipeline
//! never names a helper's protocol. It owns the lock order those hooks need (a control
//! connection's lock before its data connection's, never both taken the other way).

use std::sync::Arc;
use std::time::Duration;

use super::admission::{self, Refused};
use super::alg::app::{Segment, SegmentOutcome};
use super::alg::ftp::mangle::{recompute_tcp_checksum, replace_payload};
use super::alg::ftp::{Pinhole, PinholeKey};
use super::alg::App;
use super::alg_host::PacketHost;
use super::conntrack::tcp::{valid_flags, TcpTracker, TcpUpdate};
use super::conntrack::{FlowDir, FlowKey, FlowNat, FlowState, InsertError, Lookup, ProtoState};
use super::events::{Event, FlowSummary};
use super::nat;
use super::packet::PacketBuf;
use super::policy::{Candidate, CompiledPolicy};
use super::reclaim;
use super::settings::{Action, Direction};
use super::verdict::{DropReason, Verdict};
use super::wire::fields::tcp::{ACK_FLAG, FIN, RST, SYN};
use super::wire::parse::{transport_checksum_ok, QuotedPacket};
use super::wire::respond::build_reject;
use super::wire::{parse, IcmpKind, ParsedPacket, Transport};
use super::{Engine, Flow};

/// Runs one packet through the engine.
pub fn process(host: &PacketHost<'_>, now: Duration, buf: &mut PacketBuf<'_>) -> Verdict {
    let engine = host.engine;
    let packet = match parse(buf.bytes()) {
        Ok(packet) => packet,
        Err(DropReason::UnsupportedProtocol) => return other_protocol(engine, buf.bytes()),
        Err(reason) => return Verdict::Drop(reason),
    };
    if buf.len() > packet.ip_len {
        // Link-layer padding after the IP packet is not part of it.
        buf.set_len(packet.ip_len);
    }
    match packet.transport {
        Transport::Icmp(IcmpKind::Error(quoted)) => icmp_error(engine, now, buf, &packet, &quoted),
        Transport::Icmp(IcmpKind::Other { .. }) => untracked(engine, now, buf, &packet),
        _ => tracked(host, now, buf, &packet),
    }
}

/// See [`Engine::passes_whole`].
pub fn passes_whole(engine: &Engine, now: Duration, bytes: &[u8]) -> bool {
    let Ok(packet) = parse(bytes) else {
        return false;
    };
    match packet.transport {
        Transport::Tcp(tcp) if tcp.flags & (SYN | FIN | RST) == 0 => {}
        Transport::Udp { .. } => {}
        _ => return false,
    }
    let Some(key) = FlowKey::of_packet(&packet) else {
        return false;
    };
    match engine.flows.lookup(&key, now) {
        Lookup::Found(flow, _) => !flow.lock().app.reads_payload(),
        Lookup::Expired(_) | Lookup::Missing => false,
    }
}

fn direction_of(engine: &Engine, packet: &ParsedPacket) -> Direction {
    if engine.settings().is_inside(packet.src) {
        Direction::Outbound
    } else {
        Direction::Inbound
    }
}

/// TCP, UDP and ICMP echo: packets that belong to a flow by 5-tuple.
fn tracked(
    host: &PacketHost<'_>,
    now: Duration,
    buf: &mut PacketBuf<'_>,
    packet: &ParsedPacket,
) -> Verdict {
    let engine = host.engine;
    let Some(key) = FlowKey::of_packet(packet) else {
        return Verdict::Drop(DropReason::UnsupportedProtocol);
    };
    if let Transport::Tcp(tcp) = &packet.transport {
        if !valid_flags(tcp.flags) {
            return Verdict::Drop(DropReason::TcpInvalidFlags);
        }
    }
    match engine.flows.lookup(&key, now) {
        Lookup::Found(flow, dir) => return on_flow(host, now, buf, packet, &flow, dir),
        Lookup::Expired(flow) => {
            if engine.flows.remove(&flow) {
                engine.forget(&flow);
                engine.counters.flows_expired(1);
            }
        }
        Lookup::Missing => {}
    }
    match new_flow(host, now, buf, packet, key) {
        Ok(verdict) => verdict,
        Err((flow, dir)) => on_flow(host, now, buf, packet, &flow, dir),
    }
}

/// Cuts a segment down to its header (same seq, flags and options), checksums recomputed.
fn strip_payload(buf: &mut PacketBuf<'_>, packet: &ParsedPacket, tcp: &super::wire::TcpInfo) {
    // An empty payload always fits the buffer the packet came in.
    if replace_payload(buf, packet, tcp, tcp.seq, &[]).is_ok() {
        recompute_tcp_checksum(buf, packet);
    }
}

/// The verdict for a segment of a control connection the gateway reset: answered with a RST,
/// or dropped where no answer may be sent (a RST is never answered).
fn reset_by_gateway(buf: &mut PacketBuf<'_>, packet: &ParsedPacket) -> Verdict {
    if build_reject(buf, packet) {
        Verdict::Respond(DropReason::FtpViolationReset)
    } else {
        Verdict::Drop(DropReason::FtpViolationReset)
    }
}

/// A packet of a known flow: update its state, refresh its timeout, translate it.
fn on_flow(
    host: &PacketHost<'_>,
    now: Duration,
    buf: &mut PacketBuf<'_>,
    packet: &ParsedPacket,
    flow: &Arc<Flow>,
    dir: FlowDir,
) -> Verdict {
    let engine = host.engine;
    let mut report_closing = None;
    let newly_candidate;
    {
        let mut guard = flow.lock();
        let state = &mut *guard;
        let was_candidate = reclaim::is_candidate(&state.proto);
        match (&mut state.proto, &packet.transport) {
            (ProtoState::Tcp(tracker), Transport::Tcp(segment)) => {
                let changes_state = segment.flags & (SYN | FIN | RST) != 0;
                if changes_state && !transport_checksum_ok(buf.bytes(), packet) {
                    return Verdict::Drop(DropReason::BadChecksum);
                }
                match tracker.update(dir.index(), segment) {
                    Err(reason) => return Verdict::Drop(reason),
                    Ok(TcpUpdate::Challenged(_)) if state.app.is_reset_by_gateway() => {
                        // The gateway reset this control connection at both ends: nothing of
                        // it reaches anyone, a challenge neither.
                        return reset_by_gateway(buf, packet);
                    }
                    Ok(TcpUpdate::Challenged(challenge)) => {
                        // RFC 5961: the endpoint answers it; the gateway keeps everything.
                        engine.counters.challenged(challenge);
                        if state.app.reads_payload() && segment.payload_len > 0 {
                            // Its receiver must read none of it (a SYN with a new ISN and TFO
                            // data, a RST with a payload), and the ALG did not read it: it
                            // goes without its bytes, which still draws the challenge ACK.
                            strip_payload(buf, packet, segment);
                        }
                        drop(guard);
                        nat::apply(buf.bytes_mut(), packet, flow, dir);
                        return Verdict::Accept;
                    }
                    Ok(update) => {
                        let segment = Segment {
                            host,
                            flow,
                            dir,
                            now,
                            buf: &mut *buf,
                            packet,
                            tcp: segment,
                            tracker,
                            reopened: matches!(update, TcpUpdate::Reopened),
                        };
                        match state.app.on_segment(segment) {
                            SegmentOutcome::Forward => {}
                            SegmentOutcome::DataClosing(control) => report_closing = Some(control),
                            SegmentOutcome::Reset => {
                                state.gateway_reset(now, &engine.settings().timeouts);
                                return reset_by_gateway(buf, packet);
                            }
                            SegmentOutcome::Drop(reason) => return Verdict::Drop(reason),
                        }
                    }
                }
            }
            (ProtoState::Udp { replied }, _) => *replied |= dir == FlowDir::Reply,
            (ProtoState::Icmp, Transport::Icmp(kind)) => {
                let expected = match dir {
                    FlowDir::Original => matches!(kind, IcmpKind::EchoRequest { .. }),
                    FlowDir::Reply => matches!(kind, IcmpKind::EchoReply { .. }),
                };
                if !expected {
                    return Verdict::Drop(DropReason::IcmpUnsolicited);
                }
            }
            _ => {}
        }
        engine.embryonic.settle(flow, &state.proto);
        state.refresh(now, &engine.settings().timeouts);
        newly_candidate = !was_candidate && reclaim::is_candidate(&state.proto);
    }
    if newly_candidate {
        reclaim::note_candidate(engine, flow);
    }
    if let Some(control) = report_closing {
        // The data flow's lock is released: locks go control first, then data.
        control.lock().app.on_data_closing(host, &control, flow);
    }
    nat::apply(buf.bytes_mut(), packet, flow, dir);
    Verdict::Accept
}

/// Whether a packet without a flow may start one (before the filter is asked).
fn may_start_flow(engine: &Engine, packet: &ParsedPacket) -> Result<(), DropReason> {
    match packet.transport {
        Transport::Tcp(tcp) => {
            let opening = tcp.has(SYN) && !tcp.has(ACK_FLAG);
            if tcp.has(RST) || !(opening || engine.settings().limits.tcp_pickup) {
                return Err(DropReason::TcpNoFlow);
            }
            Ok(())
        }
        Transport::Icmp(IcmpKind::EchoReply { .. }) => Err(DropReason::IcmpUnsolicited),
        _ => Ok(()),
    }
}

/// Asks the filter about the first packet of a flow; `Ok` when it is accepted.
fn filter(
    engine: &Engine,
    now: Duration,
    buf: &mut PacketBuf<'_>,
    packet: &ParsedPacket,
    direction: Direction,
    forwarded: bool,
) -> Result<(), Verdict> {
    let candidate = Candidate {
        direction,
        protocol: packet.protocol,
        src: packet.src,
        dst: packet.dst,
        ports: match packet.transport {
            Transport::Tcp(_) | Transport::Udp { .. } => packet.ports(),
            Transport::Icmp(_) => None,
        },
        forwarded,
    };
    let policy = engine.policy.load();
    let decision = policy.evaluate(&candidate);
    if decision.log {
        log_rule_hit(
            engine,
            &policy,
            now,
            packet,
            direction,
            decision.rule,
            decision.action,
        );
    }
    match decision.action {
        Action::Accept => Ok(()),
        Action::Drop => Err(Verdict::Drop(DropReason::Policy)),
        Action::Reject if build_reject(buf, packet) => {
            Err(Verdict::Respond(DropReason::PolicyReject))
        }
        Action::Reject => Err(Verdict::Drop(DropReason::PolicyReject)),
    }
}

fn log_rule_hit(
    engine: &Engine,
    policy: &CompiledPolicy,
    now: Duration,
    packet: &ParsedPacket,
    direction: Direction,
    rule: Option<usize>,
    action: Action,
) {
    let origin = rule
        .and_then(|index| policy.rule(index))
        .map_or_else(|| "default".to_string(), |rule| rule.origin.clone());
    let key = FlowKey::of_packet(packet).unwrap_or(FlowKey {
        protocol: packet.protocol,
        src: packet.src,
        dst: packet.dst,
        src_port: 0,
        dst_port: 0,
    });
    let event = Event::RuleMatched {
        at: now,
        rule: origin,
        action,
        flow: FlowSummary { key, direction },
    };
    if !engine.events.push(event) {
        engine.counters.event_lost();
    }
}

/// Creates the flow a packet starts. `Err` hands back a flow another worker created for the
/// same tuple in the meantime.
fn new_flow(
    host: &PacketHost<'_>,
    now: Duration,
    buf: &mut PacketBuf<'_>,
    packet: &ParsedPacket,
    key: FlowKey,
) -> Result<Verdict, (Arc<Flow>, FlowDir)> {
    let engine = host.engine;
    if let Err(reason) = may_start_flow(engine, packet) {
        return Ok(Verdict::Drop(reason));
    }
    if !transport_checksum_ok(buf.bytes(), packet) {
        return Ok(Verdict::Drop(DropReason::BadChecksum));
    }
    if let Transport::Tcp(tcp) = packet.transport {
        if tcp.has(SYN | ACK_FLAG) {
            return Ok(syn_ack_pickup(host, now, buf, packet, &tcp, key));
        }
    }
    let direction = direction_of(engine, packet);
    let inbound = direction == Direction::Inbound;
    let admitted = take_pinhole(engine, now, packet, &key);
    if admitted.is_none() {
        let forwarded = inbound && engine.nat.forward_for(&key).is_some();
        if let Err(verdict) = filter(engine, now, buf, packet, direction, forwarded) {
            return Ok(verdict);
        }
    }
    let translated = match admitted
        .as_ref()
        .map(|(_, pinhole)| (pinhole.translate_to, pinhole.binding))
    {
        Some((Some((inside, port)), Some(outside_port))) => {
            let translated = FlowKey {
                dst: std::net::IpAddr::V4(inside),
                dst_port: port,
                ..key
            };
            let nat = FlowNat::Masquerade {
                protocol: key.protocol,
                outside_port,
            };
            Ok((translated.inverse(), nat))
        }
        _ => {
            let masquerade = !inbound && !engine.settings().is_inside(packet.dst);
            match key.src {
                std::net::IpAddr::V4(host) if masquerade => reclaim::retrying(
                    engine,
                    now,
                    (host, key.protocol),
                    |refused: &nat::NatRefused| refused.is_shortage(),
                    || engine.nat.translate_new(&key, masquerade, inbound),
                ),
                _ => engine.nat.translate_new(&key, masquerade, inbound),
            }
        }
    };
    let (reply, translation) = match translated {
        Ok(found) => found,
        Err(refused) => {
            if refused.report {
                engine.emit(Event::LimitReached {
                    at: now,
                    limit: refused.reason.name(),
                    host: packet.src,
                });
            }
            return Ok(Verdict::Drop(refused.reason));
        }
    };
    let proto = match packet.transport {
        Transport::Tcp(tcp) if tcp.has(SYN) => ProtoState::Tcp(TcpTracker::from_syn(&tcp)),
        Transport::Tcp(tcp) => ProtoState::Tcp(TcpTracker::picked_up(&tcp)),
        Transport::Udp { .. } => ProtoState::Udp { replied: false },
        Transport::Icmp(_) => ProtoState::Icmp,
    };
    let app = App::for_new_flow(
        &engine.settings(),
        &key,
        &reply,
        &packet.transport,
        admitted.as_ref().map(|(_, pinhole)| pinhole),
    );
    // A connection a helper reads, picked up mid-stream or opened by a SYN carrying data (TCP
    // Fast Open): its first segment may already carry a command.
    let reads_first_segment = app.reads_first_segment(&packet.transport);
    let mut state = FlowState {
        expires_at: now,
        proto,
        app,
    };
    state.refresh(now, &engine.settings().timeouts);
    let flow = Arc::new(Flow::new(key, reply, translation, state));
    match admission::insert(engine, now, &flow, inbound, admitted.is_none()) {
        Ok(()) => {
            engine.counters.flow_created();
            if let Some((pinhole_key, pinhole)) = &admitted {
                attach_data_connection(pinhole_key, pinhole, &flow);
            }
            if reads_first_segment {
                // Follow its first segment like any other.
                return Ok(on_flow(host, now, buf, packet, &flow, FlowDir::Original));
            }
            nat::apply(buf.bytes_mut(), packet, &flow, FlowDir::Original);
            Ok(Verdict::Accept)
        }
        Err(refused) => {
            engine.nat.release_nat(translation);
            match (refused.reason(), refused) {
                (Some(reason), _) => Ok(Verdict::Drop(reason)),
                (None, Refused::Insert(InsertError::Exists(existing, dir))) => Err((existing, dir)),
                (None, _) => Ok(Verdict::Drop(DropReason::TupleConflict)),
            }
        }
    }
}

/// A flow first seen at its SYN/ACK (`limits.tcp_pickup`; the SYN was not captured): the
/// flow is created as the SYN would have created it, initiator first, and the SYN/ACK then
/// follows as the responder's answer. Only where no translation applies (a translated
/// connection's SYN/ACK cannot be matched to a binding that was never made).
fn syn_ack_pickup(
    host: &PacketHost<'_>,
    now: Duration,
    buf: &mut PacketBuf<'_>,
    packet: &ParsedPacket,
    tcp: &super::wire::TcpInfo,
    reply: FlowKey,
) -> Verdict {
    let engine = host.engine;
    let original = reply.inverse();
    let inside = |addr| engine.settings().is_inside(addr);
    let direction = if inside(original.src) {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let translated = match direction {
        Direction::Outbound => engine.settings().outside_address.is_some() && !inside(original.dst),
        Direction::Inbound => engine.nat.forward_for(&original).is_some(),
    };
    if translated {
        return Verdict::Drop(DropReason::TcpNoFlow);
    }
    let candidate = Candidate {
        direction,
        protocol: packet.protocol,
        src: original.src,
        dst: original.dst,
        ports: Some((original.src_port, original.dst_port)),
        forwarded: false,
    };
    if engine.policy.load().evaluate(&candidate).action != Action::Accept {
        return Verdict::Drop(DropReason::Policy);
    }
    let app = App::for_syn_ack_pickup(&engine.settings(), &original, &reply, tcp);
    let mut state = FlowState {
        expires_at: now,
        proto: ProtoState::Tcp(TcpTracker::before_syn_ack(tcp)),
        app,
    };
    state.refresh(now, &engine.settings().timeouts);
    let flow = Arc::new(Flow::new(original, reply, FlowNat::None, state));
    match engine.flows.insert(flow.clone()) {
        Ok(()) => {
            engine.counters.flow_created();
            on_flow(host, now, buf, packet, &flow, FlowDir::Reply)
        }
        Err(InsertError::Full) => Verdict::Drop(DropReason::TableFull),
        Err(InsertError::ReplyTaken) => Verdict::Drop(DropReason::TupleConflict),
        Err(InsertError::Exists(existing, dir)) => on_flow(host, now, buf, packet, &existing, dir),
    }
}

/// The pinhole a connection's opening SYN matches, taken (one-shot). An expired one is
/// given back and ignored.
fn take_pinhole(
    engine: &Engine,
    now: Duration,
    packet: &ParsedPacket,
    key: &FlowKey,
) -> Option<(PinholeKey, Pinhole)> {
    let Transport::Tcp(tcp) = packet.transport else {
        return None;
    };
    if !tcp.has(SYN) || tcp.has(ACK_FLAG) || engine.pinholes.is_empty() {
        return None;
    }
    let pinhole_key = PinholeKey {
        src: key.src,
        dst: key.dst,
        dst_port: key.dst_port,
    };
    match engine.pinholes.take(&pinhole_key, now)? {
        Ok(pinhole) => Some((pinhole_key, pinhole)),
        Err(expired) => {
            expired.release(engine);
            None
        }
    }
}

/// Tells the control connection its data connection arrived.
fn attach_data_connection(key: &PinholeKey, pinhole: &Pinhole, data: &Arc<Flow>) {
    let Some(control) = pinhole.control.upgrade() else {
        return;
    };
    control.lock().app.on_data_admitted(key, data);
}

/// ICMP messages that are neither echo nor errors: filtered per packet, never translated.
fn untracked(
    engine: &Engine,
    now: Duration,
    buf: &mut PacketBuf<'_>,
    packet: &ParsedPacket,
) -> Verdict {
    let direction = direction_of(engine, packet);
    let needs_masquerade = direction == Direction::Outbound
        && packet.is_ipv4()
        && engine.settings().outside_address.is_some()
        && !engine.settings().is_inside(packet.dst);
    if needs_masquerade {
        return Verdict::Drop(DropReason::UnsupportedProtocol);
    }
    match filter(engine, now, buf, packet, direction, false) {
        Ok(()) => Verdict::Accept,
        Err(verdict) => verdict,
    }
}

/// A protocol the engine does not track (IGMP, GRE, 6in4, ESP...): each packet is filtered
/// on its own by the policy (addresses and protocol; rules naming ports never match it) and
/// passed untranslated. One that would need masquerading is dropped: there is no port to
/// translate it by.
fn other_protocol(engine: &Engine, bytes: &[u8]) -> Verdict {
    let Some((src, dst, protocol)) = super::wire::parse::addresses(bytes) else {
        return Verdict::Drop(DropReason::UnsupportedProtocol);
    };
    let inside = |addr| engine.settings().is_inside(addr);
    let direction = if inside(src) {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let needs_masquerade = direction == Direction::Outbound
        && src.is_ipv4()
        && engine.settings().outside_address.is_some()
        && !inside(dst);
    if needs_masquerade {
        return Verdict::Drop(DropReason::UnsupportedProtocol);
    }
    let candidate = Candidate {
        direction,
        protocol,
        src,
        dst,
        ports: None,
        forwarded: false,
    };
    match engine.policy.load().evaluate(&candidate).action {
        Action::Accept => Verdict::Accept,
        Action::Drop => Verdict::Drop(DropReason::Policy),
        Action::Reject => Verdict::Drop(DropReason::PolicyReject),
    }
}

/// An ICMP error: admitted only if it quotes a packet of a tracked flow and travels back to
/// that packet's sender; translated like the flow.
fn icmp_error(
    engine: &Engine,
    now: Duration,
    buf: &mut PacketBuf<'_>,
    packet: &ParsedPacket,
    quoted: &QuotedPacket,
) -> Verdict {
    if packet.dst != quoted.src {
        return Verdict::Drop(DropReason::IcmpErrorNoFlow);
    }
    let quoted_key = FlowKey {
        protocol: quoted.protocol,
        src: quoted.src,
        dst: quoted.dst,
        src_port: quoted.src_port,
        dst_port: quoted.dst_port,
    };
    match engine.flows.lookup(&quoted_key.inverse(), now) {
        Lookup::Found(flow, dir) => {
            nat::translate_icmp_error(buf.bytes_mut(), packet, quoted, &flow, dir);
            Verdict::Accept
        }
        Lookup::Expired(_) | Lookup::Missing => Verdict::Drop(DropReason::IcmpErrorNoFlow),
    }
}
