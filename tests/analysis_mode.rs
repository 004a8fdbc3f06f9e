//! Analysis mode (rules/analysis.yaml) as a monitor, through the engine: a session first
//! seen at its SYN/ACK is picked up and followed; a transfer command longer than
//! `ftp.max_line` is logged with its violation; protocols the engine does not track pass,
//! while a gateway decides them by its policy; `Engine::flush` logs what is still open.

use ftpgate_testkit as support;

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use ftpgate::engine::alg::ftp::TransferRecord;
use ftpgate::engine::settings::Action;
use ftpgate::engine::{DropReason, Engine, Event, Verdict};
use support::*;

fn analysis() -> Engine {
    Engine::new(ftpgate::config::load_file(Path::new("rules/analysis.yaml")).unwrap())
}

fn transfers(engine: &Engine) -> Vec<TransferRecord> {
    let mut out = Vec::new();
    while let Some(event) = engine.poll_event() {
        if let Event::Transfer(record) = event {
            out.push(*record);
        }
    }
    out
}

/// One TCP connection driven segment by segment, both sides' sequence numbers tracked.
struct Connection<'e> {
    engine: &'e Engine,
    client: (Ipv4Addr, u16),
    server: (Ipv4Addr, u16),
    client_seq: u32,
    server_seq: u32,
}

impl Connection<'_> {
    fn client(&mut self, flags: u8, payload: &[u8]) -> Verdict {
        let packet = tcp(
            self.client,
            self.server,
            flags,
            self.client_seq,
            self.server_seq,
            payload,
        );
        self.client_seq = self.client_seq.wrapping_add(payload.len() as u32);
        self.client_seq += u32::from(flags & (SYN | FIN) != 0);
        run(self.engine, secs(2), &packet).verdict
    }

    fn server(&mut self, flags: u8, payload: &[u8]) -> Verdict {
        let packet = tcp(
            self.server,
            self.client,
            flags,
            self.server_seq,
            self.client_seq,
            payload,
        );
        self.server_seq = self.server_seq.wrapping_add(payload.len() as u32);
        self.server_seq += u32::from(flags & (SYN | FIN) != 0);
        run(self.engine, secs(2), &packet).verdict
    }

    fn says(&mut self, client: &str, server: &str) {
        assert_eq!(self.client(ACK | PSH, client.as_bytes()), Verdict::Accept);
        assert_eq!(self.server(ACK | PSH, server.as_bytes()), Verdict::Accept);
    }
}

/// A control connection whose SYN the capture missed: its first packet is the SYN/ACK.
fn picked_up_at_syn_ack(engine: &Engine) -> Connection<'_> {
    let mut c = Connection {
        engine,
        client: (CLIENT, 40000),
        server: (SERVER, 21),
        client_seq: 1001,
        server_seq: 5000,
    };
    assert_eq!(c.server(SYN | ACK, b""), Verdict::Accept, "SYN/ACK first");
    assert_eq!(c.client(ACK, b""), Verdict::Accept);
    assert_eq!(
        c.server(ACK | PSH, b"220 ready\r\n"),
        Verdict::Accept,
        "the greeting"
    );
    c.says("USER anonymous\r\n", "331 ok\r\n");
    c.says("PASS x\r\n", "230 in\r\n");
    c
}

/// A passive transfer on the control connection `c`: PASV, the command, 150, a data
/// connection carrying `data`, 226.
fn passive_transfer(c: &mut Connection<'_>, command: &str, data: &[u8]) {
    c.says(
        "PASV\r\n",
        "227 Entering Passive Mode (198,51,100,2,156,64).\r\n",
    );
    c.says(command, "150 here it comes\r\n");
    let mut data_connection = Connection {
        engine: c.engine,
        client: (CLIENT, 40001),
        server: (SERVER, 40000),
        client_seq: 7000,
        server_seq: 9000,
    };
    assert_eq!(data_connection.client(SYN, b""), Verdict::Accept);
    assert_eq!(data_connection.server(SYN | ACK, b""), Verdict::Accept);
    assert_eq!(data_connection.client(ACK, b""), Verdict::Accept);
    assert_eq!(data_connection.server(ACK | PSH, data), Verdict::Accept);
    assert_eq!(data_connection.server(FIN | ACK, b""), Verdict::Accept);
    assert_eq!(data_connection.client(FIN | ACK, b""), Verdict::Accept);
    assert_eq!(c.server(ACK | PSH, b"226 done\r\n"), Verdict::Accept);
}

#[test]
fn a_session_first_seen_at_its_syn_ack_is_followed() {
    let engine = analysis();
    let mut c = picked_up_at_syn_ack(&engine);
    c.says("CWD pub\r\n", "250 ok\r\n");
    passive_transfer(&mut c, "RETR a.txt\r\n", &[b'x'; 300]);
    let log = transfers(&engine);
    assert_eq!(log.len(), 1, "{log:#?}");
    let record = &log[0];
    assert_eq!(record.client, "10.77.0.2:40000");
    assert_eq!(record.server, "198.51.100.2:21");
    assert_eq!(record.user.as_deref(), Some("anonymous"));
    assert_eq!(record.path.as_deref(), Some("pub/a.txt"));
    assert_eq!(record.mode, Some("passive"));
    assert_eq!(record.data_resp.as_deref(), Some("198.51.100.2:40000"));
    assert_eq!((record.bytes, record.missing_bytes), (300, 0));
    assert_eq!(record.reply_code, 226);
}

#[test]
fn a_transfer_command_longer_than_max_line_is_logged_with_its_violation() {
    let engine = analysis();
    let max_line = engine.settings().ftp.max_line;
    let mut c = picked_up_at_syn_ack(&engine);
    let name = "n".repeat(max_line + 100);
    passive_transfer(&mut c, &format!("STOR {name}\r\n"), b"");
    let log = transfers(&engine);
    assert_eq!(log.len(), 1, "{log:#?}");
    let record = &log[0];
    assert_eq!(record.command, "STOR");
    assert_eq!(record.direction, "upload");
    assert!(name.starts_with(&record.arg) && record.arg.len() > 100);
    assert_eq!(record.violations, vec!["line_too_long"]);
    assert_eq!(record.reply_code, 226);
    assert!(record.data_orig.is_some());
    assert_eq!(
        engine.stats().ftp_violations("line_too_long"),
        1,
        "counted as a violation"
    );
}

#[test]
fn flush_logs_a_transfer_still_open_as_incomplete() {
    let engine = analysis();
    let mut c = picked_up_at_syn_ack(&engine);
    c.says(
        "PASV\r\n",
        "227 Entering Passive Mode (198,51,100,2,156,64).\r\n",
    );
    c.says("RETR big\r\n", "150 here it comes\r\n");
    assert!(transfers(&engine).is_empty());
    let mut flushed = Vec::new();
    engine.flush(Duration::from_secs(9), |event| {
        if let Event::Transfer(record) = event {
            flushed.push(*record);
        }
    });
    assert_eq!(flushed.len(), 1);
    assert!(flushed[0].incomplete);
    assert_eq!((flushed[0].reply_code, flushed[0].duration), (0, 7.0));
    assert_eq!(engine.pinhole_count(), 0, "its pinhole closed");
}

/// An IPv4 packet of `protocol` with a valid header and a few payload bytes.
fn ipv4(protocol: u8, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut packet = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 1, protocol, 0, 0];
    packet.extend_from_slice(&src.octets());
    packet.extend_from_slice(&dst.octets());
    packet.extend_from_slice(&[0x16, 0, 0xfa, 0x04, 224, 0, 0, 22]);
    let sum = packet[..20]
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum::<u32>();
    let folded = (sum & 0xffff) + (sum >> 16);
    let checksum = !(((folded & 0xffff) + (folded >> 16)) as u16);
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
    packet
}

#[test]
fn untracked_protocols_pass_analysis_and_follow_a_gateways_policy() {
    const IGMP: u8 = 2;
    const GRE: u8 = 47;
    const SIX_IN_FOUR: u8 = 41;
    let engine = analysis();
    for protocol in [IGMP, GRE, SIX_IN_FOUR] {
        let packet = ipv4(protocol, SERVER, CLIENT);
        assert_eq!(run(&engine, secs(1), &packet).verdict, Verdict::Accept);
    }

    let mut settings = lab_settings();
    settings.policy.default_inbound = Action::Drop;
    let gateway = Engine::new(settings);
    let from_outside = ipv4(GRE, SERVER, CLIENT);
    assert_eq!(
        run(&gateway, secs(1), &from_outside).verdict,
        Verdict::Drop(DropReason::Policy)
    );
    let to_outside = ipv4(GRE, CLIENT, SERVER);
    assert_eq!(
        run(&gateway, secs(1), &to_outside).verdict,
        Verdict::Drop(DropReason::UnsupportedProtocol),
        "it would need masquerading, which it has no port for"
    );
    let inside_to_inside = ipv4(IGMP, CLIENT, CLIENT2);
    let passed = run(&gateway, secs(1), &inside_to_inside);
    assert_eq!(passed.verdict, Verdict::Accept);
    assert_eq!(passed.bytes, inside_to_inside, "passed untranslated");
}

/// A data segment reordered behind the FIN and the 226 (as multi-queue forwarding does):
/// the record waits for it, and counts every byte with nothing missing.
#[test]
fn a_segment_reordered_behind_the_fin_is_counted_before_the_record_is_written() {
    let engine = analysis();
    let mut c = picked_up_at_syn_ack(&engine);
    c.says(
        "PASV\r\n",
        "227 Entering Passive Mode (198,51,100,2,156,64).\r\n",
    );
    c.says("RETR a\r\n", "150 here it comes\r\n");
    let data = |flags, seq, payload: &[u8]| {
        let packet = tcp((SERVER, 40000), (CLIENT, 40001), flags, seq, 7001, payload);
        run(&engine, secs(3), &packet).verdict
    };
    let client = |flags, seq, ack| {
        let packet = tcp((CLIENT, 40001), (SERVER, 40000), flags, seq, ack, b"");
        run(&engine, secs(3), &packet).verdict
    };
    assert_eq!(client(SYN, 7000, 0), Verdict::Accept);
    assert_eq!(data(SYN | ACK, 9000, b""), Verdict::Accept);
    assert_eq!(client(ACK, 7001, 9001), Verdict::Accept);
    assert_eq!(data(ACK | PSH, 9101, &[b'b'; 100]), Verdict::Accept);
    assert_eq!(data(FIN | ACK, 9201, b""), Verdict::Accept);
    assert_eq!(c.server(ACK | PSH, b"226 done\r\n"), Verdict::Accept);
    assert!(transfers(&engine).is_empty(), "100 bytes still missing");
    assert_eq!(data(ACK | PSH, 9001, &[b'a'; 100]), Verdict::Accept);
    let log = transfers(&engine);
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].bytes, log[0].missing_bytes), (200, 0));
    assert!(!log[0].incomplete);
}
