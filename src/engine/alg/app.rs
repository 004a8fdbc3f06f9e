//! The per-flow application state ([`App`]): what the gateways keep for one flow, and the
//! hooks the pipeline and the engine call on it without knowing which gateway follows the
//! flow: a segment of the flow, a data connection admitted through an expectation or
//! closing, the flow leaving the table, the input ending, the held-timeout sweep. Also the
//! helper lookup for a new flow ([`App::for_new_flow`], [`App::for_syn_ack_pickup`]) and the
//! queries the snapshot and the outside view ask.
//!
//! It owns the dispatch to each helper and nothing of its protocol: what FTP does is in
//! `ftp`. The dispatch takes no flow's lock: the pipeline holds the flow's when a hook runs
//! and owns the lock order (a control connection before its data connections; a helper may
//! read a data connection of the control connection it follows, never the reverse).
//! Conntrack and io must never import it: conntrack keeps it as an opaque type parameter of
//! `Flow`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::ftp::host::AlgHost;
use super::ftp::session::SessionFacts;
use super::ftp::{ControlSegment, FtpControl, Pinhole, PinholeKey};
use crate::engine::conntrack::seqadj::SeqAdjust;
use crate::engine::conntrack::tcp::TcpTracker;
use crate::engine::conntrack::{FlowDir, FlowKey};
use crate::engine::packet::PacketBuf;
use crate::engine::settings::EngineSettings;
use crate::engine::verdict::DropReason;
use crate::engine::wire::fields::tcp::SYN;
use crate::engine::wire::{ParsedPacket, TcpInfo, Transport};
use crate::engine::Flow;

/// What the application-layer gateways keep for one flow.
///
/// An enum over the helpers rather than a trait object: the hooks are a `match`, so a flow
/// no helper follows costs one discriminant test per packet and no allocation or indirect
/// call, and every helper's part of each hook reads in one place below. A new helper is one
/// more variant (and its arm in each hook).
#[derive(Debug, Default)]
pub enum App {
    /// Nothing: no gateway follows the flow.
    #[default]
    None,
    /// An FTP control connection.
    FtpControl(Box<FtpControl>),
    /// A data connection, admitted through an expectation (a pinhole) of a control
    /// connection.
    Data(DataConnection),
}

/// A data connection's link to the control connection that expected it.
#[derive(Debug)]
pub struct DataConnection {
    /// The control connection.
    control: Weak<Flow>,
    /// Whether the control connection has been told the data connection is closing.
    closing_reported: bool,
}

/// One TCP segment of a flow, after its tracker took it, as the pipeline hands it over.
pub struct Segment<'a, 'b> {
    /// The engine, as the gateways see it.
    pub host: &'a dyn AlgHost,
    /// The flow.
    pub flow: &'a Arc<Flow>,
    /// Direction of the segment.
    pub dir: FlowDir,
    /// Engine time.
    pub now: Duration,
    /// The packet.
    pub buf: &'a mut PacketBuf<'b>,
    /// Its parsed headers.
    pub packet: &'a ParsedPacket,
    /// Its TCP fields.
    pub tcp: &'a TcpInfo,
    /// The flow's tracker, as the segment left it.
    pub tracker: &'a TcpTracker,
    /// Both ends opened a new connection on the tuple with this segment (the tracker's
    /// `Reopened`): nothing of the old connection's application state may survive.
    pub reopened: bool,
}

/// What the pipeline does with a segment after [`App::on_segment`].
#[derive(Debug)]
pub enum SegmentOutcome {
    /// Forward it.
    Forward,
    /// Forward it; once the flow's lock is released, tell this control connection its data
    /// connection is closing ([`App::on_data_closing`]).
    DataClosing(Arc<Flow>),
    /// The gateway reset the connection (the receiver has been sent a RST): the flow closes
    /// and the sender is answered with a RST.
    Reset,
    /// Drop it, for this reason.
    Drop(DropReason),
}

impl App {
    /// The state of a new flow from its first packet (travelling in the original
    /// direction): a data connection when it came through `expectation`, else the helper
    /// the flow's ports call for, if any.
    pub fn for_new_flow(
        settings: &EngineSettings,
        original: &FlowKey,
        reply: &FlowKey,
        transport: &Transport,
        expectation: Option<&Pinhole>,
    ) -> Self {
        match (expectation, transport) {
            (Some(pinhole), _) => App::Data(DataConnection {
                control: pinhole.control.clone(),
                closing_reported: false,
            }),
            (None, Transport::Tcp(tcp)) if is_ftp_control(settings, original, reply) => {
                App::FtpControl(Box::new(if tcp.has(SYN) {
                    FtpControl::starting_at(tcp.seq.wrapping_add(1))
                } else {
                    // Picked up mid-stream: both streams start at the first byte seen.
                    FtpControl::picked_up()
                }))
            }
            _ => App::None,
        }
    }

    /// The state of a TCP flow first seen at its SYN/ACK (the SYN was not captured): the
    /// initiator's first byte is the one the SYN/ACK acknowledges.
    pub fn for_syn_ack_pickup(
        settings: &EngineSettings,
        original: &FlowKey,
        reply: &FlowKey,
        syn_ack: &TcpInfo,
    ) -> Self {
        if is_ftp_control(settings, original, reply) {
            App::FtpControl(Box::new(FtpControl::starting_at(syn_ack.ack)))
        } else {
            App::None
        }
    }

    /// Whether the flow's first packet must go through [`on_segment`](Self::on_segment)
    /// like any later one: a helper reads the flow's bytes and the packet may carry some (a
    /// connection picked up mid-stream, or a SYN with data: TCP Fast Open).
    pub fn reads_first_segment(&self, transport: &Transport) -> bool {
        self.reads_payload()
            && matches!(transport, Transport::Tcp(tcp) if !tcp.has(SYN) || tcp.payload_len > 0)
    }

    /// Whether a helper reads this flow's bytes (so a packet of it is never passed whole,
    /// and bytes it must not read are stripped rather than forwarded).
    pub fn reads_payload(&self) -> bool {
        matches!(self, App::FtpControl(_))
    }

    /// Whether this is a control connection the gateway reset: until a SYN with a new ISN
    /// opens another one on the tuple, nothing of it reaches anyone.
    pub fn is_reset_by_gateway(&self) -> bool {
        matches!(self, App::FtpControl(control) if control.is_reset_by_gateway())
    }

    /// Whether this is an FTP control connection (for the session count).
    pub fn is_ftp_control(&self) -> bool {
        matches!(self, App::FtpControl(_))
    }

    /// What the gateway knows of an FTP control connection's session, for the snapshot.
    pub fn session_facts(&self) -> Option<SessionFacts> {
        match self {
            App::FtpControl(control) => Some(control.session.facts()),
            _ => None,
        }
    }

    /// Whether this is a data connection admitted through an expectation.
    pub fn is_data_connection(&self) -> bool {
        matches!(self, App::Data(_))
    }

    /// The sequence adjustment a helper applies to the initiator's stream, if one rewrites
    /// it (to map the peer's acks back, when reconstructing the outside wire).
    pub fn initiator_adjust(&self) -> Option<&SeqAdjust> {
        match self {
            App::FtpControl(control) => Some(control.client_adjust()),
            _ => None,
        }
    }

    /// A segment of the flow, after its tracker took it (not a challenged one: see
    /// [`reads_payload`](Self::reads_payload) and
    /// [`is_reset_by_gateway`](Self::is_reset_by_gateway)). The flow's lock is held.
    #[inline]
    pub fn on_segment(&mut self, seg: Segment<'_, '_>) -> SegmentOutcome {
        match self {
            App::None => SegmentOutcome::Forward,
            App::FtpControl(control) => ftp_control_segment(control, seg),
            App::Data(data) => data.on_segment(&seg),
        }
    }

    /// A data connection this control connection expected (`key`) arrived. The control
    /// connection's lock is held; the data connection's is not.
    pub fn on_data_admitted(&mut self, key: &PinholeKey, data: &Arc<Flow>) {
        if let App::FtpControl(control) = self {
            control.session.data_connected(key, data.clone());
        }
    }

    /// A data connection of this control connection is closing (it has sent its FIN or RST
    /// with nothing missing). The control connection's lock is held; the data's is not.
    pub fn on_data_closing(&mut self, host: &dyn AlgHost, control: &Flow, data: &Arc<Flow>) {
        if let App::FtpControl(ftp) = self {
            ftp.session.data_closing(host, control, data);
        }
    }

    /// The flow left the table (expired or evicted): what it expected closes, what it
    /// still owes the log is logged.
    pub fn on_flow_end(&mut self, host: &dyn AlgHost, flow: &Flow) {
        if let App::FtpControl(control) = self {
            control.session.end(host, flow);
        }
    }

    /// `Engine::finish`: what waits only for a data connection to close is logged.
    pub fn on_finish(&mut self, host: &dyn AlgHost, flow: &Flow) {
        if let App::FtpControl(control) = self {
            control.session.flush(host, flow);
        }
    }

    /// `Engine::flush`, the input ended: everything still open is logged as seen, marked
    /// incomplete, and what the flow expected closes. The flow stays in the table.
    pub fn on_input_end(&mut self, host: &dyn AlgHost, flow: &Flow, now: Duration) {
        if let App::FtpControl(control) = self {
            control.session.flush_at_end(host, flow, now);
        }
    }

    /// The held-timeout sweep: true when the helper reset the connection because it held
    /// bytes without progress too long (the caller closes the flow's tracker:
    /// `FlowState::gateway_reset`).
    pub fn age_out(&mut self, host: &dyn AlgHost, flow: &Flow, now: Duration) -> bool {
        match self {
            App::FtpControl(control) => control.age_out(host, flow, now),
            _ => false,
        }
    }
}

impl DataConnection {
    /// A data connection's transfer is logged once it closes with nothing missing: segments
    /// reordered behind the FIN still count. Its control connection is told once.
    fn on_segment(&mut self, seg: &Segment<'_, '_>) -> SegmentOutcome {
        let closing = seg.tracker.closing() && !seg.tracker.has_gaps();
        if closing && !self.closing_reported {
            self.closing_reported = true;
            if let Some(control) = self.control.upgrade() {
                return SegmentOutcome::DataClosing(control);
            }
        }
        SegmentOutcome::Forward
    }
}

/// A segment of an FTP control connection through the ALG.
fn ftp_control_segment(control: &mut FtpControl, seg: Segment<'_, '_>) -> SegmentOutcome {
    let Segment {
        host,
        flow,
        dir,
        now,
        buf,
        packet,
        tcp,
        tracker,
        reopened,
    } = seg;
    if reopened {
        // Both ends opened a new connection on the tuple: a new session, nothing of the old
        // one kept (its client starts at the SYN/ACK's ack).
        control.session.end(host, flow);
        *control = FtpControl::starting_at(tcp.ack);
    }
    let closed = tracker.state().is_closed();
    let segment = ControlSegment {
        host,
        flow,
        dir,
        now,
        buf,
        packet,
        tcp,
        server_window: tracker.window_field(FlowDir::Reply.index()),
    };
    match control.on_segment(segment) {
        Ok(()) => {}
        Err(DropReason::FtpViolationReset) => {
            // Both ends learn the connection is gone; the flow closes.
            host.send(&control.receiver_reset(flow, dir, tcp));
            control.session.end(host, flow);
            return SegmentOutcome::Reset;
        }
        Err(reason) => return SegmentOutcome::Drop(reason),
    }
    if closed {
        control.session.end(host, flow);
    }
    SegmentOutcome::Forward
}

/// The helper lookup: which helper follows a new TCP flow. Today one, FTP: the flow's
/// destination port, as sent or as forwarded to an inside server, is a control port.
fn is_ftp_control(settings: &EngineSettings, original: &FlowKey, reply: &FlowKey) -> bool {
    let ports = &settings.ftp.control_ports;
    ports.contains(&original.dst_port) || ports.contains(&reply.src_port)
}
