//! The simulated world: endpoints and layouts, both ends' scripts, the engine with its
//! settings, and the per-packet checks (`World::process`, `drain`, `control`). It owns the
//! oracle's state; it must never read the engine's internals, only what the gateway sent.

use super::*;

#[derive(Clone, Copy)]
pub(crate) struct Layout {
    /// The client's real address (its port is `CLIENT_PORT`).
    pub(crate) c_real: Addr,
    /// The client as the server sees it (port learned from the forwarded SYN).
    pub(crate) c_view: Addr,
    /// The server's real address (port 21).
    pub(crate) s_real: Addr,
    /// The server as the client sees it (port 21).
    pub(crate) s_view: Addr,
}

pub(crate) const CLIENT_INSIDE: Layout = Layout {
    c_real: INSIDE_CLIENT,
    c_view: GATEWAY,
    s_real: OUTSIDE_SERVER,
    s_view: OUTSIDE_SERVER,
};

pub(crate) const SERVER_INSIDE: Layout = Layout {
    c_real: OUTSIDE_CLIENT,
    c_view: OUTSIDE_CLIENT,
    s_real: INSIDE_SERVER,
    s_view: GATEWAY,
};

/// A data connection the engine admitted.
#[derive(Clone, Copy)]
pub(crate) struct DataFlow {
    /// As its initiator sent it.
    pub(crate) src: Endpoint,
    pub(crate) dst: Endpoint,
    /// As the gateway forwarded it.
    pub(crate) out_src: Endpoint,
    pub(crate) out_dst: Endpoint,
    pub(crate) i_seq: u32,
    pub(crate) r_seq: u32,
}

pub(crate) struct World {
    pub(crate) engine: Engine,
    pub(crate) layout: Layout,
    /// The client's port as the server sees it.
    pub(crate) c_view_port: u16,
    pub(crate) min_data_port: u16,
    pub(crate) wscale: bool,
    /// Announcements cannot be matched exactly (small MTU).
    pub(crate) weak: bool,
    /// The rule file requires a login before any announcement.
    pub(crate) require_login: bool,
    /// The client received, in this connection, a line that may be a login reply (230 / 232 /
    /// 235 anywhere in it: a superset of what the ALG may count as a login).
    pub(crate) maybe_logged_in: bool,
    /// The packet being processed made the gateway publish that it stops reading.
    pub(crate) stopped_reading_now: bool,
    pub(crate) now: Duration,
    pub(crate) packet: Box<[u8]>,
    /// Where a packet the engine generated is copied from its outbox.
    pub(crate) generated: Box<[u8]>,
    /// `engine.pinhole_count()` after the last packet.
    pub(crate) pinholes: usize,
    /// A side retransmitted, with other bytes, bytes the gateway had consumed without
    /// forwarding them (see `TOLERATE_HELD_LINE_DESYNC`).
    pub(crate) desync: [bool; 2],
    /// The TCP segment in `packet` as written: its ends and whether its checksum is right.
    pub(crate) sent: Option<(Endpoint, Endpoint, bool)>,
    /// 0: the client's stream, 1: the server's.
    pub(crate) tx: [Tx; 2],
    pub(crate) rx: [Rx; 2],
    pub(crate) credits: Vec<Credit>,
    pub(crate) data: Vec<DataFlow>,
    /// The server, as it reads the client's stream.
    pub(crate) model: ModelServer,
    pub(crate) intents: Intents,
}

/// The server's own passive announcements, used up by admitted passive data connections.
pub(crate) struct Intents {
    /// Ports announced by the server's own bytes in earlier connections (a reconnect empties
    /// the scripts; their pinholes may still be used).
    pub(crate) archived: Vec<u16>,
    /// Ports at the server already used by an admitted passive data connection.
    pub(crate) used: Vec<u16>,
    /// Reused buffer.
    pub(crate) scratch: Vec<u16>,
}

impl Intents {
    pub(crate) fn new() -> Self {
        Self {
            archived: Vec::with_capacity(MAX_CREDITS),
            used: Vec::with_capacity(MAX_DATA),
            scratch: Vec::with_capacity(MAX_CREDITS),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.archived.clear();
        self.used.clear();
    }

    /// Uses one announcement of `port` by the server's own bytes (this connection's script
    /// or an earlier one's); false when none is left.
    pub(crate) fn take(&mut self, server: &Tx, port: u16) -> bool {
        self.scratch.clear();
        server.own_ports(&mut self.scratch);
        let count = |v: &[u16]| v.iter().filter(|&&p| p == port).count();
        let announced = count(&self.scratch) + count(&self.archived);
        if announced > count(&self.used) {
            self.used.push(port);
            true
        } else {
            false
        }
    }

    /// Keeps the announcements of a connection whose script is about to be emptied.
    pub(crate) fn archive(&mut self, server: &Tx) {
        server.own_ports(&mut self.archived);
        self.archived.truncate(MAX_CREDITS);
    }
}

pub(crate) fn rule_ftp_out() -> Rule {
    Rule {
        origin: "fuzz:1:1".to_string(),
        direction: Some(Direction::Outbound),
        protocol: RuleProtocol::Tcp,
        sources: Vec::new(),
        destinations: Vec::new(),
        source_ports: Vec::new(),
        destination_ports: vec![PortRange::single(FTP)],
        action: Action::Accept,
        log: true,
    }
}

pub(crate) fn base_settings() -> EngineSettings {
    EngineSettings {
        inside_networks: vec!["10.77.0.0/24".parse().unwrap()],
        outside_address: Some(Ipv4Addr::from(GATEWAY)),
        nat_ports: PortRange {
            first: NAT_FIRST,
            last: NAT_FIRST + 100,
        },
        policy: Policy {
            rules: vec![rule_ftp_out()],
            default_outbound: Action::Drop,
            default_inbound: Action::Drop,
        },
        limits: Limits {
            max_flows: 8,
            tcp_pickup: false,
            ..Limits::default()
        },
        ..EngineSettings::default()
    }
}

thread_local! {
    static BASE: EngineSettings = base_settings();
    pub(crate) static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Buffers reused from one input to the next.
pub(crate) struct Scratch {
    pub(crate) packet: Box<[u8]>,
    /// Where a packet the engine generated is copied from its outbox.
    pub(crate) generated: Box<[u8]>,
    pub(crate) tx: [Tx; 2],
    pub(crate) rx: [Rx; 2],
    pub(crate) credits: Vec<Credit>,
    pub(crate) data: Vec<DataFlow>,
    /// The server, as it reads the client's stream.
    pub(crate) model: ModelServer,
    pub(crate) intents: Intents,
}

pub(crate) fn settings_for(cfg0: u8, cfg1: u8) -> EngineSettings {
    let mut s = BASE.with(Clone::clone);
    if cfg0 & 1 != 0 {
        s.forwards.push(PortForward {
            protocol: ForwardProtocol::Tcp,
            outside_ports: PortRange::single(FTP),
            inside_address: Ipv4Addr::from(INSIDE_SERVER),
            inside_port: FTP,
        });
    }
    let ftp = &mut s.ftp;
    if cfg0 & 2 != 0 {
        ftp.on_violation = ViolationOutcome::Reset;
        ftp.non_ftp = NonFtpPolicy::Reset;
    }
    ftp.allow_fxp = cfg0 & 4 != 0;
    ftp.require_login = cfg0 & 8 == 0;
    if cfg0 & 16 != 0 {
        ftp.tls = TlsPolicy::Block;
    }
    if cfg0 & 32 != 0 {
        ftp.max_pinholes = 1;
    }
    if cfg0 & 64 != 0 {
        s.nat_ports.last = NAT_FIRST + 2;
    }
    // A rewrite longer than the MTU is cut at a line boundary and the rest waits for the
    // sender's retransmission, with its pinhole already open: exact checks need no cut.
    s.ftp.mtu = if cfg0 & 128 != 0 { 256 } else { 65535 };
    if cfg1 & 32 != 0 {
        s.ftp.max_line = 64;
    }
    if cfg1 & 64 != 0 {
        s.ftp.pinhole_timeout = Duration::from_secs(5);
    }
    if cfg1 & 128 != 0 {
        s.ftp.min_data_port = 30000;
    }
    s
}

/// Fuzzer bytes, read one field at a time; zeros past the end.
pub(crate) struct Input<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Input<'a> {
    pub(crate) fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }

    pub(crate) fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// Whether a server line may be a login reply (a superset: the code anywhere in it).
fn is_login_reply(line: &[u8]) -> bool {
    [&b"230"[..], b"232", b"235"]
        .iter()
        .any(|code| line.windows(3).any(|w| w == *code))
}

pub(crate) fn show(p: &[u8]) -> String {
    match inspect(p) {
        Some(s) => format!(
            "{}:{} -> {}:{} seq {} flags {:#04x} {:?}",
            ip(s.src.0),
            s.src.1,
            ip(s.dst.0),
            s.dst.1,
            s.seq,
            s.flags,
            String::from_utf8_lossy(&p[s.payload.0..s.payload.1])
        ),
        None => format!("non-TCP packet of {} bytes", p.len()),
    }
}

pub(crate) fn ip(addr: Addr) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(addr))
}

impl World {
    /// The endpoint of each side as itself: 0 the client, 1 the server.
    pub(crate) fn real(&self, side: usize) -> Endpoint {
        if side == 0 {
            (self.layout.c_real, CLIENT_PORT)
        } else {
            (self.layout.s_real, FTP)
        }
    }

    /// The endpoint of each side as the other side sees it.
    pub(crate) fn view(&self, side: usize) -> Endpoint {
        if side == 0 {
            (self.layout.c_view, self.c_view_port)
        } else {
            (self.layout.s_view, FTP)
        }
    }

    /// Writes a TCP segment into `packet`; returns its length.
    pub(crate) fn write(&mut self, spec: &Spec<'_>) -> usize {
        self.sent = Some((spec.src, spec.dst, !spec.bad_checksum));
        write_tcp(&mut self.packet, spec)
    }

    /// Feeds a packet the gateway sent on the control connection to its receiver: `from` is
    /// the sending side (0 the client: the server receives it and the model server reads
    /// it).
    pub(crate) fn deliver(&mut self, from: usize, seg: &Seg, packet: &[u8]) {
        if !seg.tcp_ok {
            return; // the receiver discards it
        }
        let World {
            rx,
            tx,
            credits,
            model,
            maybe_logged_in,
            stopped_reading_now,
            ..
        } = self;
        let rx = &mut rx[from];
        if seg.flags & TCP_SYN != 0 {
            let new_isn = !rx.started || rx.base != seg.seq.wrapping_add(1);
            if !new_isn {
                // A retransmitted SYN: the receiving stack answers it with an ACK and keeps
                // its connection as it was, reading none of its payload (that came with the
                // first copy).
                return;
            }
            rx.restart(seg.seq.wrapping_add(1));
            if from == 1 {
                *maybe_logged_in = false; // a new connection: nothing survives
            }
            if from == 0 {
                model.reconnected();
                // A notice published while this SYN was processed is about the new connection.
                model.gateway_stopped_reading = *stopped_reading_now;
                if model.variant.replies {
                    tx[1].push(b"220 model server ready\r\n");
                }
            }
        }
        // A receiving stack never delivers a RST's payload (Linux drops the segment after the
        // RST checks, an inexact one after its challenge ACK): the model reads none of it.
        let payload = if seg.flags & TCP_RST != 0 {
            &[][..]
        } else {
            &packet[seg.payload.0..seg.payload.1]
        };
        let seq = seg.seq.wrapping_add(u32::from(seg.flags & TCP_SYN != 0));
        rx.receive(seq, payload, |line| {
            if from == 0 {
                model.read(line, &mut tx[1], credits);
            } else if !model.non_ftp || ignored(Oracle::NonFtp) {
                *maybe_logged_in |= is_login_reply(line);
                server_line_credits(line, credits);
            } else {
                *maybe_logged_in |= is_login_reply(line);
                trace!("    the client received a server line in a non-FTP session");
            }
        });
    }

    /// Runs the packet in `self.packet[..len]` through the engine and checks what comes out.
    /// Returns the verdict and, when forwarded, the packet as it left.
    pub(crate) fn process(&mut self, len: usize) -> (Verdict, Option<Seg>) {
        self.now += Duration::from_secs(1);
        self.stopped_reading_now = false;
        let input = self.sent.take();
        trace!("in  {}", show(&self.packet[..len]));
        let mut buf = PacketBuf::new(&mut self.packet, len);
        let verdict = self.engine.process(self.now, &mut buf);
        let out_len = buf.len();
        if tracing() {
            trace!("    {verdict:?} pinholes {}", self.engine.pinhole_count());
            if !matches!(verdict, Verdict::Drop(_)) {
                trace!("out {}", show(&self.packet[..out_len]));
            }
        }
        let mut out = None;
        match verdict {
            Verdict::Accept => {
                let seg = inspect(&self.packet[..out_len]);
                if let (Some((_, _, ok)), Some(o)) = (input, seg) {
                    assert_eq!(ok, o.tcp_ok, "TCP checksum validity changed on the way");
                }
                out = seg;
            }
            Verdict::Respond(_) => {
                let o = inspect(&self.packet[..out_len]);
                if let (Some((src, dst, _)), Some(o)) = (input, o) {
                    assert!(o.tcp_ok, "a RST the gateway answered with does not verify");
                    assert_eq!(
                        (o.src, o.dst),
                        (dst, src),
                        "answer not sent back to the sender"
                    );
                    assert!(o.flags & TCP_RST != 0, "TCP answer without RST");
                }
            }
            Verdict::Drop(_) => {}
        }
        self.drain();
        self.pinholes = self.engine.pinhole_count();
        (verdict, out)
    }

    /// Takes the engine's own packets and events; checks and delivers its packets.
    pub(crate) fn drain(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            trace!("    event {event:?}");
            // The gateway says it no longer reads this connection, by policy: TLS it cannot
            // read, or (server outside) a client that is not FTP, passed as plain TCP.
            if let Event::FtpNotice { notice, .. } = event {
                let client_inside = self.layout.c_view != self.layout.c_real;
                if notice == "tls_pass_blind"
                    || (notice == "non_ftp" && (client_inside || ignored(Oracle::BounceUnread)))
                {
                    self.model.gateway_stopped_reading = true;
                    self.stopped_reading_now = true;
                }
            }
        }
        let mut generated = std::mem::take(&mut self.generated);
        while let Some(len) = self.engine.poll_transmit(&mut generated) {
            let packet = &generated[..len];
            trace!(
                "gen {:?}",
                String::from_utf8_lossy(&packet[40.min(packet.len())..])
            );
            let seg = inspect(packet).expect("the gateway generated a non-TCP packet");
            assert!(seg.tcp_ok, "a generated packet does not verify");
            let to_client = (self.view(1), self.real(0));
            let to_server = (self.view(0), self.real(1));
            let ends = (seg.src, seg.dst);
            if seg.dst == self.real(1)
                && seg.src.0 == self.view(0).0
                && seg.src.1 != self.view(0).1
                && seg.flags & TCP_RST != 0
            {
                // A RST to the server for a new connection whose SYN the gateway refused:
                // the client's translated port is not known here; the server never saw it.
                trace!("    a RST to the server from another translated port: ignored");
                continue;
            }
            assert!(
                ends == to_client || ends == to_server,
                "a generated packet between {:?} is not for a control endpoint",
                ends
            );
            let side = usize::from(ends == to_client);
            self.deliver(side, &seg, packet);
        }
        self.generated = generated;
    }

    /// Sends a control segment from `side` and follows it through.
    pub(crate) fn control(&mut self, side: usize, spec: &Spec<'_>) -> Verdict {
        let len = self.write(spec);
        let pinholes = self.pinholes;
        Credit::compact(&mut self.credits);
        let credits = self.credits.len();
        let (verdict, out) = self.process(len);
        let Some(seg) = out else {
            let opened = self.pinholes > pinholes;
            if !self.weak && matches!(verdict, Verdict::Drop(_)) {
                assert!(
                    !opened,
                    "a pinhole opened for a control segment the gateway did not forward ({verdict:?})"
                );
            }
            return verdict;
        };
        if seg.flags & TCP_SYN != 0 && side == 0 {
            self.c_view_port = seg.src.1;
        }
        let (from, to) = (self.view(side), self.real(1 - side));
        assert_eq!(
            (seg.src, seg.dst),
            (from, to),
            "control segment translated wrongly"
        );
        let packet = std::mem::take(&mut self.packet);
        self.deliver(side, &seg, &packet);
        self.packet = packet;
        self.drain();
        let login_readable = !self.weak && !self.rx[1].gap() && !self.rx[1].lost;
        if self.pinholes > pinholes
            && self.require_login
            && login_readable
            && !ignored(Oracle::Login)
        {
            assert!(
                self.maybe_logged_in,
                "a pinhole opened in a connection where the client never received a login reply"
            );
        }
        if !self.weak && !self.desync[side] && !self.rx[side].gap() && self.pinholes > pinholes {
            let announcer = self.view(side).0;
            let named = self.credits[credits..]
                .iter()
                .any(|c| c.active == (side == 0) && (!c.active || c.addr == announcer));
            assert!(
                named,
                "a pinhole opened for a segment that delivered no announcement naming its sender \
                 (the model server has read a line that is not FTP in this connection: {})",
                self.model.non_ftp
            );
        }
        verdict
    }
}
