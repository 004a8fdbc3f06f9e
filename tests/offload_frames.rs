//! Frames as a TUN device with offloads hands them over (virtio-net header, partial
//! checksums, GSO super-packets), through `io::vnet::process_frame` and the engine, in
//! memory: a PORT inside a super-packet on a control connection is still rewritten, a bulk
//! super-packet is translated whole with its partial checksum kept right, and a SYN whose
//! checksum is partial is completed before the engine verifies it.

use ftpgate_testkit as support;

use std::net::Ipv4Addr;

use ftpgate::engine::wire::fields::{get_u16, set_u16};
use ftpgate::engine::wire::offload::{complete_partial, for_each_segment, pseudo_header_sum};
use ftpgate::engine::Engine;
use ftpgate::io::vnet::{
    process_frame, FrameBuffers, FrameOutcome, VnetHeader, GSO_NONE, GSO_TCPV4, HEADER_LEN,
    NEEDS_CSUM, PLAIN,
};
use support::conversation::{six, Conversation};
use support::*;

/// `packet` as the kernel hands it over: its TCP checksum field holding the pseudo-header
/// sum, behind a header saying so (and cutting at `gso_size` when it is a super-packet).
fn frame(packet: &[u8], gso_size: u16) -> Vec<u8> {
    let mut packet = packet.to_vec();
    let partial = pseudo_header_sum(&packet).unwrap();
    set_u16(&mut packet, 36, partial);
    let header = VnetHeader {
        flags: NEEDS_CSUM,
        gso_type: if gso_size == 0 { GSO_NONE } else { GSO_TCPV4 },
        hdr_len: 40,
        gso_size,
        csum_start: 20,
        csum_offset: 16,
    };
    let mut out = header.encode().to_vec();
    out.extend_from_slice(&packet);
    out.resize(out.len() + 70_000, 0);
    out
}

/// Runs one frame; returns the outcome and every (header, packet) written back.
fn through(
    engine: &Engine,
    at: u64,
    mut bytes: Vec<u8>,
    len: usize,
) -> (FrameOutcome, Vec<(VnetHeader, Vec<u8>)>) {
    let mut buffers = FrameBuffers::new(1024);
    let mut sent = Vec::new();
    let outcome = process_frame(
        engine,
        secs(at),
        &mut bytes,
        len,
        &mut buffers,
        &mut |header: &[u8; HEADER_LEN], packet: &[u8]| {
            sent.push((VnetHeader::decode(header).unwrap(), packet.to_vec()))
        },
    );
    (outcome, sent)
}

fn payload(packet: &[u8]) -> &[u8] {
    let header = usize::from(packet[32] >> 4) * 4;
    &packet[20 + header..]
}

#[test]
fn port_inside_a_super_packet_is_rewritten() {
    let engine = Engine::new(lab_settings());
    let mut c = Conversation::open(&engine, (CLIENT, 40000), (SERVER, 21), (SERVER, 21));
    c.server_says("220 ready\r\n");
    c.client_says("USER anonymous\r\n");
    c.server_says("331 Guest login ok\r\n");
    c.client_says("PASS guest@\r\n");
    c.server_says("230 Logged in\r\n");

    // The client's stack sends "PORT ..." as one super-packet cut every 8 bytes.
    let line = format!("PORT {}\r\n", six(CLIENT, 30000));
    let packet = tcp(
        (CLIENT, 40000),
        (SERVER, 21),
        ACK | PSH,
        c.client.seq,
        c.client.rcv,
        line.as_bytes(),
    );
    let len = HEADER_LEN + packet.len();
    let (outcome, sent) = through(&engine, 20, frame(&packet, 8), len);
    assert_eq!(
        outcome,
        FrameOutcome::Segmented(3),
        "a control super-packet is cut"
    );
    let mut forwarded = Vec::new();
    for (header, bytes) in &sent {
        assert_eq!(
            header.encode(),
            PLAIN,
            "segments go back whole, checksummed"
        );
        assert!(checksums_verify(bytes));
        assert_eq!(&bytes[12..16], &OUTSIDE.octets());
        forwarded.extend_from_slice(payload(bytes));
    }
    assert_eq!(
        String::from_utf8_lossy(&forwarded),
        format!("PORT {}\r\n", six(OUTSIDE, 30000)),
        "the server gets the rewritten PORT"
    );
    assert_eq!(engine.pinhole_count(), 1);
}

#[test]
fn bulk_super_packet_is_translated_whole() {
    let engine = Engine::new(lab_settings());
    let client = (CLIENT, 40001);
    let server = (SERVER, 5201);
    let syn = tcp(client, server, SYN, 100, 0, b"");
    let (outcome, sent) = through(&engine, 1, frame(&syn, 0), HEADER_LEN + syn.len());
    assert_eq!(outcome, FrameOutcome::Plain);
    assert_eq!(
        sent.len(),
        1,
        "a SYN with a partial checksum is completed, then passes"
    );
    let nat_port = get_u16(&sent[0].1, 20);
    let syn_ack = tcp(server, (OUTSIDE, nat_port), SYN | ACK, 900, 101, b"");
    assert_eq!(
        run(&engine, secs(1), &syn_ack).verdict,
        ftpgate::engine::Verdict::Accept
    );

    let data: Vec<u8> = (0..60_000u32).map(|i| (i % 253) as u8).collect();
    let packet = tcp(client, server, ACK, 101, 901, &data);
    let len = HEADER_LEN + packet.len();
    let (outcome, sent) = through(&engine, 2, frame(&packet, 1448), len);
    assert_eq!(outcome, FrameOutcome::Whole);
    assert_eq!(sent.len(), 1, "one frame back");
    let (header, bytes) = &sent[0];
    assert_eq!((header.gso_type, header.gso_size), (GSO_TCPV4, 1448));
    assert_eq!(header.flags, NEEDS_CSUM);
    assert_eq!(&bytes[12..20], &[198, 51, 100, 1, 198, 51, 100, 2]);
    assert_eq!(get_u16(bytes, 20), nat_port);
    assert_eq!(
        get_u16(bytes, 36),
        pseudo_header_sum(bytes).unwrap(),
        "the partial checksum follows the new addresses"
    );
    assert_eq!(payload(bytes), &data[..]);
    let mut completed = bytes.clone();
    assert!(complete_partial(&mut completed, 20, 16));
    assert!(
        checksums_verify(&completed),
        "completed as the kernel would"
    );
    let mut scratch = vec![0u8; 1500];
    let cut = for_each_segment(bytes, 1448, &mut scratch, 1500, |segment, n| {
        assert!(checksums_verify(&segment[..n]), "every segment verifies");
    });
    assert_eq!(cut, Ok(42));
}

#[test]
fn super_packet_without_a_flow_is_cut_and_judged_segment_by_segment() {
    let engine = Engine::new(lab_settings());
    let stray = (Ipv4Addr::new(10, 77, 0, 9), 40002);
    let packet = tcp(stray, (SERVER, 80), ACK, 1, 1, &[7u8; 4000]);
    let len = HEADER_LEN + packet.len();
    let (outcome, sent) = through(&engine, 1, frame(&packet, 1448), len);
    assert_eq!(outcome, FrameOutcome::Segmented(3));
    assert!(
        sent.is_empty(),
        "mid-stream segments of no flow are dropped"
    );
    assert_eq!(engine.stats().packets, 3);
}

#[test]
fn unusable_frames_are_dropped() {
    let engine = Engine::new(lab_settings());
    let (outcome, sent) = through(&engine, 1, vec![0u8; 64], 4);
    assert_eq!((outcome, sent.len()), (FrameOutcome::Malformed, 0));
    let packet = tcp((CLIENT, 1), (SERVER, 2), ACK, 1, 1, &[1u8; 100]);
    let mut bytes = frame(&packet, 0);
    bytes[1] = 3; // UFO, which the device never enables
    let (outcome, _) = through(&engine, 1, bytes, HEADER_LEN + packet.len());
    assert_eq!(outcome, FrameOutcome::Malformed);
}
