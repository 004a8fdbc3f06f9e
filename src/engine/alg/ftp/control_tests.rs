//! Unit tests of one control connection's segments through the ALG (`FtpControl`) against a
//! fake host: lines across segments, the rewrite and its sequence shift, the error reply the
//! ALG sends itself. Real packets, no engine: no flow table, no translation, no filter.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use etherparse::PacketBuilder;

use super::control::{ControlSegment, FtpControl};
use super::host_fake::{masquerade_settings, masqueraded_control, FakeHost, CLIENT, SERVER};
use crate::engine::conntrack::FlowDir;
use crate::engine::packet::PacketBuf;
use crate::engine::verdict::DropReason;
use crate::engine::wire::parse::{parse, transport_checksum_ok, Transport};
use crate::engine::Flow;

const CLIENT_ISN: u32 = 1000;
const SERVER_ISN: u32 = 7000;

/// A control connection past its handshake, with each side's next sequence number as sent.
struct Talk {
    host: FakeHost,
    flow: Arc<Flow>,
    control: FtpControl,
    next: [u32; 2],
}

/// What became of a segment: the verdict and the bytes that left.
struct Sent {
    result: Result<(), DropReason>,
    packet: Vec<u8>,
}

impl Sent {
    fn payload(&self) -> Vec<u8> {
        let parsed = parse(&self.packet).unwrap();
        let Transport::Tcp(tcp) = parsed.transport else {
            panic!("not TCP")
        };
        let at = parsed.l4_offset + tcp.header_len;
        self.packet[at..at + tcp.payload_len].to_vec()
    }

    fn seq_ack(&self) -> (u32, u32) {
        let Transport::Tcp(tcp) = parse(&self.packet).unwrap().transport else {
            panic!("not TCP")
        };
        (tcp.seq, tcp.ack)
    }
}

impl Talk {
    fn new() -> Self {
        let mut talk = Self {
            host: FakeHost::new(masquerade_settings()),
            flow: masqueraded_control(),
            control: FtpControl::starting_at(CLIENT_ISN + 1),
            next: [CLIENT_ISN, SERVER_ISN],
        };
        talk.segment(FlowDir::Original, CLIENT_ISN, 0, b"", true);
        talk.segment(FlowDir::Reply, SERVER_ISN, CLIENT_ISN + 1, b"", true);
        talk.next = [CLIENT_ISN + 1, SERVER_ISN + 1];
        talk
    }

    /// Sends `payload` from `dir` at its next sequence number, acknowledging everything the
    /// other side sent, and moves the sequence number on.
    fn say(&mut self, dir: FlowDir, payload: &[u8]) -> Sent {
        let (seq, ack) = (self.next[dir.index()], self.next[1 - dir.index()]);
        self.next[dir.index()] = seq.wrapping_add(payload.len() as u32);
        self.segment(dir, seq, ack, payload, false)
    }

    fn segment(&mut self, dir: FlowDir, seq: u32, ack: u32, payload: &[u8], syn: bool) -> Sent {
        let (src, dst) = match dir {
            FlowDir::Original => ((CLIENT, 40000), (SERVER, 21)),
            FlowDir::Reply => ((SERVER, 21), (Ipv4Addr::new(203, 0, 113, 7), 40000)),
        };
        let builder =
            PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64).tcp(src.1, dst.1, seq, 65000);
        let builder = match (syn, dir) {
            (true, FlowDir::Original) => builder.syn(),
            (true, FlowDir::Reply) => builder.syn().ack(ack),
            (false, _) => builder.ack(ack).psh(),
        };
        let mut bytes = vec![0; 2048];
        let mut cursor = std::io::Cursor::new(&mut bytes[..]);
        builder.write(&mut cursor, payload).unwrap();
        let len = cursor.position() as usize;
        let packet = parse(&bytes[..len]).unwrap();
        let Transport::Tcp(tcp) = packet.transport else {
            panic!("not TCP")
        };
        let mut buf = PacketBuf::new(&mut bytes, len);
        let result = self.control.on_segment(ControlSegment {
            host: &self.host,
            flow: &self.flow,
            dir,
            now: Duration::from_secs(1),
            buf: &mut buf,
            packet: &packet,
            tcp: &tcp,
            server_window: 65000,
        });
        let packet = buf.bytes().to_vec();
        Sent { result, packet }
    }

    /// Greeting, USER, PASS, 230.
    fn logged_in(mut self) -> Self {
        self.say(FlowDir::Reply, b"220 ready\r\n");
        self.say(FlowDir::Original, b"USER ann\r\n");
        self.say(FlowDir::Reply, b"331 password\r\n");
        self.say(FlowDir::Original, b"PASS secret\r\n");
        self.say(FlowDir::Reply, b"230 welcome\r\n");
        self
    }
}

fn checksums_ok(packet: &[u8]) -> bool {
    parse(packet).is_ok_and(|parsed| transport_checksum_ok(packet, &parsed))
}

#[test]
fn a_port_cut_across_segments_is_withheld_then_sent_whole_rewritten_and_acks_map_back() {
    let mut talk = Talk::new().logged_in();
    let first = talk.next[0];
    let head = talk.say(FlowDir::Original, b"PORT 10,0,0");
    assert_eq!(head.result, Err(DropReason::FtpWithheld));
    let tail = talk.say(FlowDir::Original, b",5,195,80\r\n");
    assert_eq!(tail.result, Ok(()));
    // The segment now carries the whole line, rewritten, from the line's first byte.
    assert_eq!(tail.payload(), b"PORT 203,0,113,7,238,72\r\n");
    assert_eq!(tail.seq_ack().0, first);
    assert!(checksums_ok(&tail.packet));
    // The rewritten line is 3 bytes longer: the server acknowledges the longer stream, the
    // client sees its own numbers.
    let server_ack = talk.next[0].wrapping_add(3);
    let seq = talk.next[1];
    let reply = talk.segment(FlowDir::Reply, seq, server_ack, b"200 ok\r\n", false);
    assert_eq!(reply.result, Ok(()));
    assert_eq!(reply.seq_ack(), (seq, talk.next[0]));
    assert!(checksums_ok(&reply.packet));
    assert_eq!(talk.host.expectations().len(), 1);
}

#[test]
fn a_refused_line_is_removed_and_its_error_reply_sent_in_the_servers_name() {
    let mut talk = Talk::new().logged_in();
    let acked_by_server = talk.next[0];
    let bounce = talk.say(FlowDir::Original, b"PORT 192,0,2,9,0,25\r\n");
    assert_eq!(bounce.result, Ok(()));
    assert!(
        bounce.payload().is_empty(),
        "the bounce never reaches the server"
    );
    assert_eq!(talk.host.violations().len(), 1);
    let log = talk.host.log.lock().unwrap();
    assert_eq!(log.sent.len(), 1, "one error reply");
    let reply = &log.sent[0];
    let parsed = parse(reply).unwrap();
    assert_eq!(
        (parsed.src, parsed.dst),
        (IpAddr::V4(SERVER), IpAddr::V4(CLIENT))
    );
    assert!(checksums_ok(reply));
    let Transport::Tcp(tcp) = parsed.transport else {
        panic!("not TCP")
    };
    // In the server's stream right after its last line, acknowledging no more of the
    // client's stream than the server itself has.
    assert_eq!((tcp.seq, tcp.ack), (talk.next[1], acked_by_server));
    let at = parsed.l4_offset + tcp.header_len;
    assert!(reply[at..].starts_with(b"5"));
    assert!(log.expectations.is_empty() && log.reserved.is_empty());
}

#[test]
fn a_line_refused_under_reset_resets_and_every_later_segment_is_refused_until_a_new_syn() {
    let mut talk = Talk::new().logged_in();
    talk.host = FakeHost::new({
        let mut settings = masquerade_settings();
        settings.ftp.on_violation = crate::engine::settings::ViolationOutcome::Reset;
        settings
    });
    let bounce = talk.say(FlowDir::Original, b"PORT 192,0,2,9,0,25\r\n");
    assert_eq!(bounce.result, Err(DropReason::FtpViolationReset));
    assert!(talk.control.is_reset_by_gateway());
    let later = talk.say(FlowDir::Reply, b"200 ok\r\n");
    assert_eq!(later.result, Err(DropReason::FtpViolationReset));
    // A new connection on the tuple (a SYN with a new ISN) starts a new session.
    let fresh = talk.segment(FlowDir::Original, 90_000, 0, b"", true);
    assert_eq!(fresh.result, Ok(()));
    assert!(!talk.control.is_reset_by_gateway());
}

#[test]
fn a_partial_line_held_past_the_hold_timeout_is_aged_out_with_a_rst_to_each_end() {
    let mut talk = Talk::new().logged_in();
    let held = talk.say(FlowDir::Original, b"PORT 10,0,0");
    assert_eq!(held.result, Err(DropReason::FtpWithheld));
    let timeout = talk.host.settings_now().limits.ftp_held_timeout;
    let soon = Duration::from_secs(1) + timeout / 2;
    assert!(!talk.control.age_out(&talk.host, &talk.flow, soon));
    let late = Duration::from_secs(1) + timeout;
    assert!(talk.control.age_out(&talk.host, &talk.flow, late));
    assert_eq!(talk.host.violations(), ["held_timeout"]);
    assert!(talk.control.is_reset_by_gateway());
    let log = talk.host.log.lock().unwrap();
    let ends: Vec<_> = log
        .sent
        .iter()
        .map(|rst| {
            assert!(checksums_ok(rst));
            parse(rst).unwrap().dst
        })
        .collect();
    assert_eq!(ends, [IpAddr::V4(SERVER), IpAddr::V4(CLIENT)]);
}
