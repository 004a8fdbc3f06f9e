//! `replay` on captures the test builds: every checksum in the output verifies, dropped
//! packets are left out, and each translated flow is consistent in both directions.

use ftpgate_testkit as support;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ftpgate::engine::DropReason;
use ftpgate::io::capture::{
    CaptureFormat, CaptureReader, CaptureWriter, InterfaceInfo, LinkType, TimestampResolution,
};
use ftpgate::io::replay::{replay_file, RecordedAt, ReplayOptions};
use support::*;

const ETHERNET_IPV4: [u8; 14] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
const ETHERNET_ARP: [u8; 14] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06,
];

/// Traffic as it reaches the gateway from both sides: two inside clients on the same source
/// port to one server, a UDP exchange, a ping, a session to the forwarded FTP port, and an
/// unsolicited inbound SYN.
fn gateway_traffic(client2_outside_port: u16) -> Vec<Vec<u8>> {
    vec![
        tcp((CLIENT, 40000), (SERVER, 21), SYN, 100, 0, b""),
        tcp((CLIENT2, 40000), (SERVER, 21), SYN, 900, 0, b""),
        tcp((SERVER, 21), (OUTSIDE, 40000), SYN | ACK, 5000, 101, b""),
        tcp(
            (SERVER, 21),
            (OUTSIDE, client2_outside_port),
            SYN | ACK,
            7000,
            901,
            b"",
        ),
        tcp((CLIENT, 40000), (SERVER, 21), ACK, 101, 5001, b""),
        tcp((CLIENT2, 40000), (SERVER, 21), ACK, 901, 7001, b""),
        tcp(
            (SERVER, 21),
            (OUTSIDE, 40000),
            ACK | PSH,
            5001,
            101,
            b"220 ready\r\n",
        ),
        tcp(
            (CLIENT, 40000),
            (SERVER, 21),
            ACK | PSH,
            101,
            5012,
            b"USER anonymous\r\n",
        ),
        tcp(
            (SERVER, 21),
            (OUTSIDE, client2_outside_port),
            ACK | PSH,
            7001,
            901,
            b"220 ready\r\n",
        ),
        udp((CLIENT, 45000), (SERVER, 53), b"query"),
        udp((SERVER, 53), (OUTSIDE, 45000), b"answer"),
        echo(CLIENT2, SERVER, 31234, true),
        echo(SERVER, OUTSIDE, 31234, false),
        tcp((SERVER, 50000), (OUTSIDE, 2121), SYN, 1, 0, b""),
        tcp(
            (INSIDE_SERVER, 21),
            (SERVER, 50000),
            SYN | ACK,
            3000,
            2,
            b"",
        ),
        tcp((SERVER, 6666), (OUTSIDE, 22), SYN, 1, 0, b""), // unsolicited: dropped
        tcp((CLIENT, 40000), (SERVER, 21), FIN | ACK, 117, 5012, b""),
        tcp((SERVER, 21), (OUTSIDE, 40000), FIN | ACK, 5012, 118, b""),
    ]
}

fn timestamp(index: usize) -> Duration {
    Duration::from_secs(1_700_000_000) + Duration::from_millis(10 * index as u64)
}

fn write_capture(
    path: &Path,
    format: &CaptureFormat,
    link_header: &[u8],
    packets: &[Vec<u8>],
    extra: &[(usize, Vec<u8>)],
) {
    let mut writer = CaptureWriter::create(path, format).unwrap();
    for (index, packet) in packets.iter().enumerate() {
        writer
            .write_packet(timestamp(index), 0, link_header, packet)
            .unwrap();
        for (after, frame) in extra.iter().filter(|(after, _)| *after == index) {
            let _ = after;
            writer
                .write_packet(timestamp(index) + Duration::from_millis(5), 0, frame, &[])
                .unwrap();
        }
    }
    writer.finish().unwrap();
}

fn read_frames(path: &Path) -> Vec<(Duration, Vec<u8>)> {
    CaptureReader::open(path)
        .unwrap()
        .map(|frame| {
            let frame = frame.unwrap();
            (frame.timestamp, frame.data)
        })
        .collect()
}

/// Checks the replay output against its input: checksums, drops, and that each inside
/// endpoint maps to one outside port with replies going back to it.
fn assert_consistent(input: &[Vec<u8>], output: &[(Duration, Vec<u8>)], ip_offset: usize) {
    let by_time: HashMap<Duration, &Vec<u8>> =
        output.iter().map(|(ts, frame)| (*ts, frame)).collect();
    let mut outbound: HashMap<(IpAddr, u16), (IpAddr, u16)> = HashMap::new();
    let mut inbound: HashMap<(IpAddr, u16), (IpAddr, u16)> = HashMap::new();
    for (index, packet) in input.iter().enumerate() {
        let Some(frame) = by_time.get(&timestamp(index)) else {
            assert_eq!(
                index, 15,
                "only the unsolicited SYN is dropped (lost frame {index})"
            );
            continue;
        };
        let sent = &frame[ip_offset..];
        assert!(checksums_verify(sent), "frame {index}: checksums verify");
        let (before_src, before_dst) = endpoints(packet);
        let (after_src, after_dst) = endpoints(sent);
        if before_src.0 != after_src.0
            && after_src.0 == IpAddr::V4(OUTSIDE)
            && before_src.0 != IpAddr::V4(INSIDE_SERVER)
        {
            // Masqueraded on the way out: one outside port per inside endpoint.
            assert_eq!(after_src.0, IpAddr::V4(OUTSIDE));
            let previous = outbound.insert(before_src, after_src);
            assert!(
                previous.is_none_or(|p| p == after_src),
                "frame {index}: stable mapping"
            );
        }
        if before_dst.0 != after_dst.0
            && before_dst.0 == IpAddr::V4(OUTSIDE)
            && after_dst.0 != IpAddr::V4(INSIDE_SERVER)
        {
            inbound.insert(before_dst, after_dst);
        }
    }
    for (outside, inside) in &inbound {
        assert_eq!(
            outbound.get(inside),
            Some(outside),
            "replies to {outside:?} reach the host that sent from it"
        );
    }
    assert_eq!(
        inbound.len(),
        4,
        "replies came back to every masqueraded endpoint"
    );
    let outside_ports: std::collections::HashSet<_> = outbound.values().collect();
    assert_eq!(
        outside_ports.len(),
        outbound.len(),
        "no two inside endpoints share an outside port"
    );
}

/// Replays a capture recorded on the lab gateway with the lab's settings.
fn replay_lab(input: &Path, output: &Path) -> ftpgate::io::replay::ReplaySummary {
    replay_file(lab_settings(), input, output, &ReplayOptions::default()).unwrap()
}

/// The outside port the engine will give the second client (the first keeps 40000).
fn second_client_port(settings: ftpgate::engine::EngineSettings) -> u16 {
    let engine = ftpgate::engine::Engine::new(settings);
    let _ = run(
        &engine,
        secs(1),
        &tcp((CLIENT, 40000), (SERVER, 21), SYN, 100, 0, b""),
    );
    outside_port(&run(
        &engine,
        secs(1),
        &tcp((CLIENT2, 40000), (SERVER, 21), SYN, 900, 0, b""),
    ))
}

#[test]
fn replay_of_an_ethernet_pcap_translates_consistently_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (input_path, output_path) = (dir.path().join("in.pcap"), dir.path().join("out.pcap"));
    let port = second_client_port(lab_settings());
    let packets = gateway_traffic(port);
    let frames: Vec<Vec<u8>> = packets.clone();
    let arp = [&ETHERNET_ARP[..], &[0u8; 28]].concat();
    let format = CaptureFormat::pcap(LinkType::Ethernet, 65535, TimestampResolution::MICRO);
    write_capture(
        &input_path,
        &format,
        &ETHERNET_IPV4,
        &frames,
        &[(3, arp.clone())],
    );

    let summary = replay_lab(&input_path, &output_path);
    assert_eq!(summary.frames_read, packets.len() as u64 + 1);
    assert_eq!(summary.not_ip, 1);
    assert_eq!(summary.engine.drops(DropReason::Policy), 1);
    assert_eq!(summary.frames_written, summary.frames_read - 1);
    assert_eq!(summary.input_error, None);

    let output = read_frames(&output_path);
    assert!(
        output.iter().any(|(_, frame)| frame == &arp),
        "non-IP frames are copied unchanged"
    );
    let ip_frames: Vec<_> = output
        .into_iter()
        .filter(|(_, frame)| frame[12..14] == [0x08, 0x00])
        .collect();
    assert!(
        ip_frames
            .iter()
            .all(|(_, frame)| frame[..14] == ETHERNET_IPV4),
        "link headers kept"
    );
    assert_consistent(&packets, &ip_frames, 14);
}

#[test]
fn replay_of_a_raw_ip_pcapng_keeps_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let (input_path, output_path) = (dir.path().join("in.pcapng"), dir.path().join("out.pcapng"));
    let packets = gateway_traffic(second_client_port(lab_settings()));
    let interface = InterfaceInfo {
        link_type: LinkType::Raw,
        snaplen: 0,
        ts_resolution: TimestampResolution::NANO,
        ts_offset: 0,
    };
    let format = CaptureFormat::pcapng(vec![interface]);
    write_capture(&input_path, &format, &[], &packets, &[]);
    let summary = replay_lab(&input_path, &output_path);
    assert_eq!(summary.frames_written, packets.len() as u64 - 1);
    let reader = CaptureReader::open(&output_path).unwrap();
    assert_eq!(reader.format().kind, ftpgate::io::capture::FileKind::PcapNg);
    assert_consistent(&packets, &read_frames(&output_path), 0);
}

#[test]
fn a_capture_recorded_inside_is_replayed_as_the_outside_wire() {
    let dir = tempfile::tempdir().unwrap();
    let (input_path, output_path) = (dir.path().join("in.pcap"), dir.path().join("out.pcap"));
    // Recorded on the client: replies are addressed to the client itself.
    let packets = vec![
        tcp((CLIENT, 40000), (SERVER, 21), SYN, 100, 0, b""),
        tcp((SERVER, 21), (CLIENT, 40000), SYN | ACK, 5000, 101, b""),
        tcp((CLIENT, 40000), (SERVER, 21), ACK, 101, 5001, b""),
        tcp((SERVER, 6000), (CLIENT, 40001), SYN, 1, 0, b""), // nobody asked for it
    ];
    let format = CaptureFormat::pcap(LinkType::Raw, 65535, TimestampResolution::MICRO);
    write_capture(&input_path, &format, &[], &packets, &[]);
    let summary = replay_file(
        lab_settings(),
        &input_path,
        &output_path,
        &ReplayOptions {
            recorded_at: RecordedAt::Inside,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    assert_eq!(summary.engine.accepted, 3);
    let output = read_frames(&output_path);
    assert_eq!(output.len(), 3);
    assert_eq!(
        endpoints(&output[0].1),
        (v4(OUTSIDE, 40000), v4(SERVER, 21))
    );
    assert_eq!(
        endpoints(&output[1].1),
        (v4(SERVER, 21), v4(OUTSIDE, 40000)),
        "as it arrived outside"
    );
    assert!(output.iter().all(|(_, frame)| checksums_verify(frame)));
}

#[test]
fn a_truncated_capture_keeps_what_was_read_and_reports_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let (input_path, output_path) = (dir.path().join("in.pcap"), dir.path().join("out.pcap"));
    let packets = gateway_traffic(second_client_port(lab_settings()));
    let format = CaptureFormat::pcap(LinkType::Raw, 65535, TimestampResolution::MICRO);
    write_capture(&input_path, &format, &[], &packets, &[]);
    let bytes = std::fs::read(&input_path).unwrap();
    std::fs::write(&input_path, &bytes[..bytes.len() - 10]).unwrap();
    let summary = replay_lab(&input_path, &output_path);
    assert!(summary.input_error.is_some());
    assert_eq!(summary.frames_read, packets.len() as u64 - 1);
    assert_eq!(
        read_frames(&output_path).len() as u64,
        summary.frames_written
    );
}
