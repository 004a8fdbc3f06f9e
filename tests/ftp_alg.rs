//! FTP ALG scenarios through the engine: active and passive, PORT / EPRT / PASV / EPSV,
//! client behind NAT and server behind a port forward, uploads and downloads. Each asserts
//! the exact bytes forwarded, the adjusted sequence and ack numbers, valid checksums, that
//! the data connection gets in once and nothing else does, and the transfer log record.

use ftpgate_testkit as support;

use std::net::{IpAddr, Ipv4Addr};

use ftpgate::engine::{DropReason, Engine, Event, Verdict};
use support::conversation::{parse_six, six, Conversation};
use support::*;

fn transfers(engine: &Engine) -> Vec<ftpgate::engine::alg::ftp::TransferRecord> {
    let mut out = Vec::new();
    while let Some(event) = engine.poll_event() {
        if let Event::Transfer(record) = event {
            out.push(*record);
        }
    }
    out
}

/// A logged-in session from the inside client 10.77.0.2:40000 to the outside server.
fn nat_client_session(engine: &Engine) -> Conversation<'_> {
    let mut c = Conversation::open(engine, (CLIENT, 40000), (SERVER, 21), (SERVER, 21));
    login(&mut c);
    c
}

/// A logged-in session from an outside client to the inside server behind 198.51.100.1:2121.
fn forwarded_server_session(engine: &Engine) -> Conversation<'_> {
    let mut c = Conversation::open(
        engine,
        (OUTSIDE_CLIENT, 50000),
        (OUTSIDE, 2121),
        (INSIDE_SERVER, 21),
    );
    login(&mut c);
    c
}

/// The opening SYN of a data connection attempt, through the engine.
fn data_syn(
    engine: &Engine,
    at: u64,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    seq: u32,
) -> Outcome {
    run(engine, secs(at), &tcp(src, dst, SYN, seq, 0, b""))
}

fn login(c: &mut Conversation<'_>) {
    c.log_in();
    c.client_says("PWD\r\n");
    c.server_says("257 \"/pub\" is the current directory\r\n");
}

#[test]
fn active_download_with_the_client_behind_nat() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client_session(&engine);

    // client sends PORT 10,77,0,2,117,48 -> gateway forwards PORT 198,51,100,1,x,y
    let port_line = format!("PORT {}\r\n", six(CLIENT, 30000));
    let seq_before = c.client.seq;
    let sent = c.client_says(&port_line);
    assert_eq!(sent.verdict, Verdict::Accept);
    let (addr, outside_port) = parse_six(&sent.text());
    assert_eq!(addr, OUTSIDE);
    assert_eq!(outside_port, 30000, "the client's port is kept when free");
    assert_eq!(sent.text(), format!("PORT {}\r\n", six(OUTSIDE, 30000)));
    assert_eq!(
        sent.seq, seq_before,
        "the rewritten segment starts where it did"
    );
    let delta = sent.payload.len() as i64 - port_line.len() as i64;
    assert_ne!(delta, 0, "the rewrite changed the length");

    // The server's ack (in the rewritten stream) reaches the client in the client's own stream.
    assert_eq!(
        c.server_acks(),
        c.client.seq,
        "ack names the client's own position"
    );
    c.server_says("200 PORT command successful\r\n");
    let retr = c.client_says("RETR robots.txt\r\n");
    assert_eq!(retr.text(), "RETR robots.txt\r\n");
    assert_eq!(
        retr.seq as i64,
        (c.client.seq - 17) as i64 + delta,
        "later seqs shift by the length change"
    );
    c.server_says("150 Opening BINARY mode data connection\r\n");

    // The server connects from port 20 to 198.51.100.1:30000 -> forwarded to 10.77.0.2:30000.
    let syn = data_syn(&engine, 20, (SERVER, 20), (OUTSIDE, 30000), 9000);
    assert_eq!(syn.verdict, Verdict::Accept);
    assert_eq!(endpoints(&syn.bytes), (v4(SERVER, 20), v4(CLIENT, 30000)));
    assert!(checksums_verify(&syn.bytes));
    // The pinhole is one-shot and peer-restricted.
    let again = data_syn(&engine, 20, (SERVER, 21000), (OUTSIDE, 30000), 1);
    assert_eq!(again.verdict, Verdict::Drop(DropReason::Policy));
    let foreign = data_syn(&engine, 20, (ROUTER, 20), (OUTSIDE, 30000), 1);
    assert_eq!(foreign.verdict, Verdict::Drop(DropReason::Policy));
    let data_ack = run(
        &engine,
        secs(20),
        &tcp((CLIENT, 30000), (SERVER, 20), SYN | ACK, 100, 9001, b""),
    );
    assert_eq!(data_ack.verdict, Verdict::Accept);
    assert_eq!(endpoints(&data_ack.bytes).0, v4(OUTSIDE, 30000));
    let body = vec![b'x'; 77];
    let data = run(
        &engine,
        secs(21),
        &tcp((SERVER, 20), (OUTSIDE, 30000), ACK | PSH, 9001, 101, &body),
    );
    assert_eq!(data.verdict, Verdict::Accept);

    // The 226 overtakes the data connection's end: the record waits for the data to finish.
    c.server_says("226 Transfer complete\r\n");
    assert!(
        transfers(&engine).is_empty(),
        "logged before the data connection closed"
    );
    let retransmitted = run(
        &engine,
        secs(21),
        &tcp(
            (SERVER, 20),
            (OUTSIDE, 30000),
            ACK | PSH,
            9001,
            101,
            &body[..40],
        ),
    );
    assert_eq!(retransmitted.verdict, Verdict::Accept);
    let fin = run(
        &engine,
        secs(22),
        &tcp((SERVER, 20), (OUTSIDE, 30000), FIN | ACK, 9078, 101, b""),
    );
    assert_eq!(fin.verdict, Verdict::Accept);
    let log = transfers(&engine);
    assert_eq!(log.len(), 1);
    let record = &log[0];
    assert_eq!(record.command, "RETR");
    assert_eq!(record.user.as_deref(), Some("anonymous"));
    assert_eq!(record.path.as_deref(), Some("/pub/robots.txt"));
    assert_eq!(
        (record.direction, record.mode, record.announced_by),
        ("download", Some("active"), Some("PORT"))
    );
    assert_eq!(
        record.bytes, 77,
        "each byte counted once, retransmissions included"
    );
    assert_eq!(record.reply_code, 226);
    assert_eq!(record.client, "10.77.0.2:40000");
    assert_eq!(record.client_translated, "198.51.100.1:40000");
    assert_eq!(record.data_orig.as_deref(), Some("198.51.100.2:20"));
    // As for the control connection: each end as it sent, and as the other end saw it.
    assert_eq!(record.data_resp.as_deref(), Some("10.77.0.2:30000"));
    assert_eq!(
        record.data_resp_translated.as_deref(),
        Some("198.51.100.1:30000")
    );
    assert_eq!(
        record.data_orig_translated.as_deref(),
        Some("198.51.100.2:20")
    );
    assert_eq!(engine.pinhole_count(), 0);
}

#[test]
fn passive_upload_to_a_server_behind_a_port_forward() {
    let engine = Engine::new(lab_settings());
    let mut c = forwarded_server_session(&engine);
    c.client_says("PASV\r\n");
    // server sends 227 with its inside address -> client receives the outside address
    let reply = format!(
        "227 Entering Passive Mode ({}).\r\n",
        six(INSIDE_SERVER, 40100)
    );
    let seq_before = c.server.seq;
    let out = c.server_says(&reply);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(
        out.text(),
        format!("227 Entering Passive Mode ({}).\r\n", six(OUTSIDE, 40100))
    );
    assert_eq!(out.seq, seq_before);
    assert_eq!(
        c.client_acks(),
        c.server.seq,
        "client ack translated into the server's stream"
    );
    // The client connects to 198.51.100.1:40100 -> reaches 10.77.0.10:40100.
    let syn = data_syn(&engine, 30, (OUTSIDE_CLIENT, 50001), (OUTSIDE, 40100), 7);
    assert_eq!(syn.verdict, Verdict::Accept);
    assert_eq!(
        endpoints(&syn.bytes),
        (v4(OUTSIDE_CLIENT, 50001), v4(INSIDE_SERVER, 40100))
    );
    let other_port = data_syn(&engine, 30, (OUTSIDE_CLIENT, 50002), (OUTSIDE, 40101), 7);
    assert_eq!(
        other_port.verdict,
        Verdict::Drop(DropReason::Policy),
        "only the announced port"
    );
    let stor = c.client_says("STOR upload.bin\r\n");
    assert_eq!(stor.text(), "STOR upload.bin\r\n");
    c.server_says("150 Ok to send data\r\n");
    let _ = run(
        &engine,
        secs(31),
        &tcp(
            (INSIDE_SERVER, 40100),
            (OUTSIDE_CLIENT, 50001),
            SYN | ACK,
            70,
            8,
            b"",
        ),
    );
    let body = vec![7u8; 1000];
    let data = run(
        &engine,
        secs(31),
        &tcp((OUTSIDE_CLIENT, 50001), (OUTSIDE, 40100), ACK, 8, 71, &body),
    );
    assert_eq!(data.verdict, Verdict::Accept);
    // The client closes the data connection before the server's 226: logged at the 226.
    let fin = tcp(
        (OUTSIDE_CLIENT, 50001),
        (OUTSIDE, 40100),
        FIN | ACK,
        1008,
        71,
        b"",
    );
    assert_eq!(run(&engine, secs(31), &fin).verdict, Verdict::Accept);
    c.server_says("226 Transfer complete\r\n");
    let log = transfers(&engine);
    assert_eq!(log.len(), 1);
    let record = &log[0];
    assert_eq!(
        (record.command.as_str(), record.direction, record.mode),
        ("STOR", "upload", Some("passive"))
    );
    assert_eq!(record.bytes, 1000);
    assert_eq!(record.server, "10.77.0.10:21");
    assert_eq!(record.server_translated, "198.51.100.1:2121");
    assert_eq!(record.path.as_deref(), Some("/pub/upload.bin"));
}

#[test]
fn epsv_and_eprt_open_pinholes_and_eprt_is_rewritten() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client_session(&engine);
    // EPRT from the NATed client is rewritten to the outside address.
    let out = c.client_says(&format!("EPRT |1|{CLIENT}|31000|\r\n"));
    assert_eq!(out.text(), format!("EPRT |1|{OUTSIDE}|31000|\r\n"));
    c.server_says("200 EPRT ok\r\n");
    // EPSV: the server (outside, untranslated) keeps its port; the NATed client may connect.
    c.client_says("EPSV\r\n");
    let reply = c.server_says("229 Entering Extended Passive Mode (|||41000|)\r\n");
    assert_eq!(
        reply.text(),
        "229 Entering Extended Passive Mode (|||41000|)\r\n"
    );
    let syn = data_syn(&engine, 40, (CLIENT, 45000), (SERVER, 41000), 1);
    assert_eq!(syn.verdict, Verdict::Accept);
    assert_eq!(endpoints(&syn.bytes).0 .0, IpAddr::V4(OUTSIDE));
    assert_eq!(engine.pinhole_count(), 1, "the EPRT pinhole is still open");
}

#[test]
fn epsv_from_a_forwarded_server_keeps_its_port_when_free() {
    let engine = Engine::new(lab_settings());
    let mut c = forwarded_server_session(&engine);
    c.client_says("EPSV\r\n");
    let reply = c.server_says("229 Entering Extended Passive Mode (|||42000|)\r\n");
    assert_eq!(
        reply.text(),
        "229 Entering Extended Passive Mode (|||42000|)\r\n"
    );
    let syn = data_syn(&engine, 40, (OUTSIDE_CLIENT, 50001), (OUTSIDE, 42000), 1);
    assert_eq!(endpoints(&syn.bytes).1, v4(INSIDE_SERVER, 42000));
}

#[test]
fn a_port_naming_another_host_is_removed_and_opens_nothing() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client_session(&engine);
    let out = c.client_says(&format!(
        "PORT {}\r\n",
        six(Ipv4Addr::new(198, 51, 100, 99), 30000)
    ));
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(
        out.payload.is_empty(),
        "the server never sees the bounce PORT"
    );
    assert_eq!(engine.pinhole_count(), 0);
    let violation = std::iter::from_fn(|| engine.poll_event())
        .find(|e| matches!(e, Event::FtpViolation { .. }));
    assert!(
        matches!(
            violation,
            Some(Event::FtpViolation {
                check: "foreign_address",
                ..
            })
        ),
        "{violation:?}"
    );
    // The stream stays consistent: the next command arrives at the right place.
    let next = c.client_says("NOOP\r\n");
    assert_eq!(next.text(), "NOOP\r\n");
    assert_eq!(c.server_acks(), c.client.seq);
}

#[test]
fn a_port_split_over_three_segments_is_rewritten_whole() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client_session(&engine);
    let start = c.client.seq;
    let line = format!("PORT {}\r\n", six(CLIENT, 30000));
    let (a, rest) = line.split_at(3);
    let (b, d) = rest.split_at(8);
    assert_eq!(
        c.client_says(a).verdict,
        Verdict::Drop(DropReason::FtpWithheld)
    );
    assert_eq!(
        c.client_says(b).verdict,
        Verdict::Drop(DropReason::FtpWithheld)
    );
    let out = c.client_says(d);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(out.seq, start, "sent from the line's start");
    assert_eq!(out.text(), format!("PORT {}\r\n", six(OUTSIDE, 30000)));
    assert_eq!(c.server_acks(), c.client.seq);
}

#[test]
fn retransmissions_before_at_and_after_a_rewrite_and_sack_are_consistent() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client_session(&engine);
    let before_at = c.client.seq;
    let before = c.client_says("TYPE I\r\n");
    let port_at = c.client.seq;
    let port = c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
    let after_at = c.client.seq;
    let after = c.client_says("RETR a\r\n");
    let second_port = c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30001)));
    // Retransmissions are forwarded exactly as the first time.
    let again = |c: &mut Conversation<'_>, at: u32, text: String| c.client_at(at, &text);
    let before_again = again(&mut c, before_at, "TYPE I\r\n".into());
    assert_eq!(
        (before_again.seq, before_again.payload.clone()),
        (before.seq, before.payload.clone())
    );
    let port_again = again(&mut c, port_at, format!("PORT {}\r\n", six(CLIENT, 30000)));
    assert_eq!(
        (port_again.seq, port_again.payload.clone()),
        (port.seq, port.payload.clone())
    );
    let after_again = again(&mut c, after_at, "RETR a\r\n".into());
    assert_eq!(
        (after_again.seq, after_again.payload.clone()),
        (after.seq, after.payload.clone())
    );
    // Two rewrites accumulate.
    let port_len = format!("PORT {}\r\n", six(CLIENT, 30000)).len();
    let d1 = port.payload.len() as i64 - port_len as i64;
    assert_eq!(second_port.seq as i64 - after_at as i64, d1 + 8);

    // The server missed the RETR segment: it acks up to it and SACKs the second PORT beyond.
    let second_port_at = after_at + 8;
    let (sack_left, sack_right) = (
        second_port.seq,
        second_port.seq + second_port.payload.len() as u32,
    );
    let mut sack = tcp(
        (SERVER, 21),
        (OUTSIDE, 40000),
        ACK,
        c.server.seq,
        after.seq,
        b"",
    );
    add_sack(&mut sack, sack_left, sack_right);
    let out = run(&engine, secs(90), &sack);
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(checksums_verify(&out.bytes));
    let tcp_header = &out.bytes[20..];
    assert_eq!(
        u32::from_be_bytes(tcp_header[8..12].try_into().unwrap()),
        after_at,
        "ack mapped"
    );
    let left = u32::from_be_bytes(tcp_header[24..28].try_into().unwrap());
    let right = u32::from_be_bytes(tcp_header[28..32].try_into().unwrap());
    assert_eq!(
        (left, right),
        (second_port_at, c.client.seq),
        "SACK edges in the client's own stream"
    );
    assert_eq!(
        c.server_acks(),
        c.client.seq,
        "cumulative ack after two rewrites"
    );
}

/// Appends a SACK option (NOP NOP kind 5 len 10) to a TCP/IPv4 packet built without options.
fn add_sack(packet: &mut Vec<u8>, left: u32, right: u32) {
    let mut option = vec![1, 1, 5, 10];
    option.extend_from_slice(&left.to_be_bytes());
    option.extend_from_slice(&right.to_be_bytes());
    packet.splice(40..40, option);
    packet[32] = (8 << 4) | (packet[32] & 0x0f);
    let total = packet.len() as u16;
    packet[2..4].copy_from_slice(&total.to_be_bytes());
    packet[10..12].fill(0);
    let header_checksum = fold_checksum(&packet[..20], 0);
    packet[10..12].copy_from_slice(&header_checksum.to_be_bytes());
    packet[36..38].fill(0);
    let mut pseudo = 0u32;
    for chunk in packet[12..20].chunks(2) {
        pseudo += u32::from(u16::from_be_bytes([chunk[0], chunk[1]]));
    }
    pseudo += 6 + (packet.len() as u32 - 20);
    let checksum = fold_checksum(&packet[20..], pseudo);
    packet[36..38].copy_from_slice(&checksum.to_be_bytes());
}

fn fold_checksum(bytes: &[u8], initial: u32) -> u16 {
    let mut sum = initial;
    for chunk in bytes.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from_be_bytes([chunk[0], 0])
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn pinholes_expire_and_are_capped_per_session() {
    let mut settings = lab_settings();
    settings.ftp.max_pinholes = 2;
    let engine = Engine::new(settings);
    let mut c = nat_client_session(&engine);
    for port in [30000, 30001] {
        c.client_says(&format!("PORT {}\r\n", six(CLIENT, port)));
        c.server_says("200 ok\r\n");
    }
    // A third unused announcement is over the cap: refused, and the client told so.
    let third = c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30002)));
    assert_eq!(third.text(), "", "the server never sees it");
    let mut buf = vec![0; ftpgate::engine::MAX_GENERATED];
    let len = engine
        .poll_transmit(&mut buf)
        .expect("an error reply for the client");
    let reply = buf[..len].to_vec();
    assert!(
        String::from_utf8_lossy(&reply).ends_with("501 Refused by the gateway (pinhole_cap).\r\n")
    );
    assert_eq!(engine.pinhole_count(), 2);
    assert_eq!(engine.stats().ftp_violations("pinhole_cap"), 1);
    let refused = data_syn(&engine, 50, (SERVER, 20), (OUTSIDE, 30002), 1);
    assert_eq!(refused.verdict, Verdict::Drop(DropReason::Policy));
    // After the pinhole timeout (120 s) nothing gets in.
    let late = data_syn(&engine, 500, (SERVER, 20), (OUTSIDE, 30001), 1);
    assert_eq!(late.verdict, Verdict::Drop(DropReason::Policy));
}

#[test]
fn a_multi_line_227_is_rewritten_where_it_names_the_address() {
    let engine = Engine::new(lab_settings());
    let mut c = forwarded_server_session(&engine);
    c.client_says("PASV\r\n");
    let out = c.server_says(&format!(
        "227-Entering Passive Mode ({})\r\n227 OK\r\n",
        six(INSIDE_SERVER, 40200)
    ));
    assert_eq!(
        out.text(),
        format!(
            "227-Entering Passive Mode ({})\r\n227 OK\r\n",
            six(OUTSIDE, 40200)
        )
    );
    assert_eq!(engine.pinhole_count(), 1);
    assert_eq!(c.client_acks(), c.server.seq);
}

#[test]
fn a_rewrite_that_would_exceed_the_mtu_is_cut_at_a_line_and_the_rest_follows() {
    let port_line = format!("PORT {}\r\n", six(CLIENT, 30000));
    let segment = format!("{port_line}{}", "NOOP\r\n".repeat(8));
    // The segment fits the path MTU as sent; the rewrite adds 4 bytes, which would not.
    let mtu = 40 + segment.len() + 2;
    let mut settings = lab_settings();
    settings.ftp.mtu = mtu;
    settings.ftp.require_login = false;
    let engine = Engine::new(settings);
    let mut c = Conversation::open(&engine, (CLIENT, 40000), (SERVER, 21), (SERVER, 21));
    c.server_says("220 ready\r\n");
    let out = c.client_says(&segment);
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(
        out.bytes.len() <= mtu,
        "the forwarded packet respects the MTU"
    );
    assert!(out.payload.len() < segment.len(), "cut short");
    assert!(
        out.text().ends_with("\r\n")
            && out
                .text()
                .starts_with(&format!("PORT {}", six(OUTSIDE, 30000)))
    );
    // The server acks what it got; the client resends the rest from there, as TCP does.
    let acked = c.server_acks();
    let rest_at = acked as usize - 1001;
    assert!(
        rest_at < segment.len() && segment[..rest_at].ends_with("\r\n"),
        "acked up to a line boundary"
    );
    let rest = c.client_at(acked, &segment[rest_at..]);
    assert_eq!(rest.verdict, Verdict::Accept);
    assert_eq!(
        format!("{}{}", out.text(), rest.text()),
        format!("PORT {}\r\n{}", six(OUTSIDE, 30000), "NOOP\r\n".repeat(8))
    );
    assert_eq!(c.server_acks(), 1001 + segment.len() as u32);
}

fn tcp6_data(
    src: (&str, u16),
    dst: (&str, u16),
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let s: std::net::Ipv6Addr = src.0.parse().unwrap();
    let d: std::net::Ipv6Addr = dst.0.parse().unwrap();
    let mut builder =
        etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64).tcp(src.1, dst.1, seq, 64240);
    if flags & SYN != 0 {
        builder = builder.syn();
    }
    if flags & ACK != 0 {
        builder = builder.ack(ack);
    }
    let mut out = Vec::new();
    builder.write(&mut out, payload).unwrap();
    out
}

#[test]
fn eprt_over_ipv6_opens_a_pinhole_without_translation() {
    let mut settings = lab_settings();
    settings.ftp.require_login = false; // no login: the EPRT follows the greeting
    let engine = Engine::new(settings);
    let (client, server) = (("fd00:77::2", 40000), ("2001:db8::5", 21));
    assert_eq!(
        run(
            &engine,
            secs(1),
            &tcp6_data(client, server, SYN, 100, 0, b"")
        )
        .verdict,
        Verdict::Accept
    );
    assert_eq!(
        run(
            &engine,
            secs(1),
            &tcp6_data(server, client, SYN | ACK, 900, 101, b"")
        )
        .verdict,
        Verdict::Accept
    );
    let greeting = tcp6_data(server, client, ACK, 901, 101, b"220 ok\r\n");
    assert_eq!(run(&engine, secs(1), &greeting).verdict, Verdict::Accept);
    let eprt = tcp6_data(
        client,
        server,
        ACK,
        101,
        909,
        b"EPRT |2|fd00:77::2|30000|\r\n",
    );
    let out = run(&engine, secs(2), &eprt);
    assert_eq!(
        (out.verdict, &out.bytes),
        (Verdict::Accept, &eprt),
        "no IPv6 NAT: forwarded unchanged"
    );
    assert_eq!(engine.pinhole_count(), 1);
    let data = tcp6_data(("2001:db8::5", 20), ("fd00:77::2", 30000), SYN, 1, 0, b"");
    assert_eq!(
        run(&engine, secs(3), &data).verdict,
        Verdict::Accept,
        "admitted through the pinhole"
    );
    let again = tcp6_data(
        ("2001:db8::5", 21000),
        ("fd00:77::2", 30000),
        SYN,
        1,
        0,
        b"",
    );
    assert_eq!(
        run(&engine, secs(3), &again).verdict,
        Verdict::Drop(DropReason::Policy),
        "one-shot"
    );
    // An EPRT naming another IPv6 host is removed.
    let bounce = tcp6_data(
        client,
        server,
        ACK,
        128,
        909,
        b"EPRT |2|2001:db8::66|30001|\r\n",
    );
    let out = run(&engine, secs(4), &bounce);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(
        out.bytes.len(),
        60,
        "the line was removed; an empty segment remains"
    );
    assert_eq!(engine.pinhole_count(), 0);
}

#[test]
fn pinholes_close_with_their_control_connection() {
    let engine = Engine::new(lab_settings());
    let mut c = nat_client_session(&engine);
    c.client_says(&format!("PORT {}\r\n", six(CLIENT, 30000)));
    assert_eq!(engine.pinhole_count(), 1);
    // The client resets the control connection (in window).
    let reset = run(
        &engine,
        secs(60),
        &tcp((CLIENT, 40000), (SERVER, 21), RST, c.client.seq, 0, b""),
    );
    assert_eq!(reset.verdict, Verdict::Accept);
    assert_eq!(
        engine.pinhole_count(),
        0,
        "no data connection outlives its control connection"
    );
    let late = data_syn(&engine, 61, (SERVER, 20), (OUTSIDE, 30000), 1);
    assert_eq!(late.verdict, Verdict::Drop(DropReason::Policy));
}
