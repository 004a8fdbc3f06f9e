//! Replays of real FTP sessions recorded on the inside host of a namespace lab with checksum
//! offload on (tests/captures/, made by scripts/make-captures.sh): every transfer record is
//! checked field by field against what the capture holds, in analysis mode
//! (rules/analysis.yaml) and NAT mode (rules/replay-lab-nat.yaml, `--recorded-at inside`).
//! The byte counts are computed here from the capture itself (data-connection payload
//! present, each sequence position once), not taken from the engine.

use ftpgate_testkit::skip;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ftpgate::engine::wire::{parse, Transport};
use ftpgate::engine::Engine;
use ftpgate::io::capture::{split_frame, CaptureReader, CapturedPacket};
use ftpgate::io::replay::{replay_with, RecordedAt, ReplayOptions, ReplaySummary};
use ftpgate::io::replay_checksums::ChecksumMode;

fn capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/captures")
        .join(name)
}

/// The seven transfers of a full session: (command, arg, path, direction), in order. The
/// client (python's ftplib) logs in, sends `CWD pub` and never PWD, so paths are relative
/// to the login directory.
const SESSION: [(&str, &str, &str, &str); 7] = [
    ("RETR", "hello.txt", "pub/hello.txt", "download"),
    ("STOR", "up.bin", "pub/up.bin", "upload"),
    ("APPE", "up.bin", "pub/up.bin", "upload"),
    ("STOU", "", "pub", "upload"),
    ("LIST", "", "pub", "download"),
    ("NLST", "", "pub", "download"),
    ("MLSD", "", "pub", "download"),
];

/// Payload bytes each TCP connection carried in the capture, keyed by its two ends as
/// "a:p" / "[v6]:p" strings in either order: each sequence position counted once.
fn payload_present(path: &Path) -> HashMap<(String, String), u64> {
    let mut reader = CaptureReader::open(path).unwrap();
    let mut frame = CapturedPacket::default();
    let mut seen: HashMap<(String, String), HashSet<u32>> = HashMap::new();
    while reader.next_packet(&mut frame).unwrap() {
        let Ok(Some(parts)) = split_frame(frame.link_type, &frame.data) else {
            continue;
        };
        let Ok(packet) = parse(parts.ip_packet) else {
            continue;
        };
        let Transport::Tcp(tcp) = packet.transport else {
            continue;
        };
        let src = endpoint(packet.src, tcp.src_port);
        let dst = endpoint(packet.dst, tcp.dst_port);
        let positions = seen.entry((src, dst)).or_default();
        for offset in 0..tcp.payload_len as u32 {
            positions.insert(tcp.seq.wrapping_add(offset));
        }
    }
    let mut bytes: HashMap<(String, String), u64> = HashMap::new();
    for ((src, dst), positions) in seen {
        let count = positions.len() as u64;
        *bytes.entry((src.clone(), dst.clone())).or_default() += count;
        *bytes.entry((dst, src)).or_default() += count;
    }
    bytes
}

fn endpoint(addr: std::net::IpAddr, port: u16) -> String {
    match addr {
        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

struct Replayed {
    summary: ReplaySummary,
    records: Vec<serde_json::Value>,
    output: PathBuf,
    _dir: tempfile::TempDir,
}

fn replay(name: &str, rules: &str, recorded_at: RecordedAt, checksums: ChecksumMode) -> Replayed {
    let settings = ftpgate::config::load_file(Path::new(rules)).unwrap();
    let engine = Engine::new(settings);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("transfers.jsonl");
    let output = dir.path().join("out.pcap");
    let options = ReplayOptions {
        recorded_at,
        transfer_log: Some(log.clone()),
        checksums,
    };
    let summary = replay_with(&engine, &capture(name), &output, &options).unwrap();
    assert_eq!(summary.input_error, None);
    let records = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    Replayed {
        summary,
        records,
        output,
        _dir: dir,
    }
}

fn analysis(name: &str) -> Replayed {
    replay(
        name,
        "rules/analysis.yaml",
        RecordedAt::Gateway,
        ChecksumMode::Auto,
    )
}

fn nat(name: &str) -> Replayed {
    replay(
        name,
        "rules/replay-lab-nat.yaml",
        RecordedAt::Inside,
        ChecksumMode::Auto,
    )
}

/// Checks one record against the capture: command, arg, path, direction, mode, bytes of the
/// data connection present in the capture, missing_bytes, reply.
fn check_record(
    record: &serde_json::Value,
    expected: (&str, &str, &str, &str),
    mode: &str,
    present: &HashMap<(String, String), u64>,
) {
    let (command, arg, path, direction) = expected;
    assert_eq!(record["command"], command, "{record}");
    assert_eq!(record["arg"], arg, "{record}");
    assert_eq!(record["path"], path, "{record}");
    assert_eq!(record["direction"], direction, "{record}");
    assert_eq!(record["mode"], mode, "{record}");
    let ends = (
        record["data_orig"].as_str().expect("a data connection"),
        record["data_resp"].as_str().expect("a data connection"),
    );
    let bytes = present[&(ends.0.to_string(), ends.1.to_string())];
    assert!(bytes > 0, "{record}");
    assert_eq!(record["bytes"], bytes, "{record}");
    assert_eq!(record["missing_bytes"], 0, "{record}");
    assert_eq!(record["reply_code"], 226, "{record}");
    assert_eq!(record["reply"], "Transfer complete.", "{record}");
    assert_eq!(record["incomplete"], false, "{record}");
}

fn check_session(name: &str, mode: &str) {
    let present = payload_present(&capture(name));
    for replayed in [analysis(name), nat(name)] {
        let summary = &replayed.summary;
        assert!(summary.checksums_finished > 0, "offloaded: {summary}");
        assert_eq!(summary.engine.total_dropped(), 0, "{summary}");
        assert_eq!(summary.frames_written, summary.frames_read, "{summary}");
        assert_eq!(summary.frames_generated, 0, "{summary}");
        assert_eq!(replayed.records.len(), SESSION.len(), "{summary}");
        for (record, expected) in replayed.records.iter().zip(SESSION) {
            check_record(record, expected, mode, &present);
            assert_eq!(record["violations"], serde_json::json!([]), "{record}");
        }
    }
}

#[test]
fn ipv4_passive_session_logged_exactly() {
    check_session("v4-passive.pcap", "passive");
}

#[test]
fn ipv4_active_session_logged_exactly() {
    check_session("v4-active.pcap", "active");
}

#[test]
fn ipv6_passive_session_logged_exactly() {
    check_session("v6-passive.pcap", "passive");
}

#[test]
fn ipv6_active_session_logged_exactly() {
    check_session("v6-active.pcap", "active");
}

/// Under NAT, the client's side of the control connection and of an active-mode data
/// connection is shown translated, by the control connection's convention.
#[test]
fn nat_records_follow_the_control_connections_convention() {
    let replayed = nat("v4-active.pcap");
    for record in &replayed.records {
        let client = record["client"].as_str().unwrap();
        let (_, port) = client.rsplit_once(':').unwrap();
        assert!(client.starts_with("10.77.0.2:"), "{record}");
        assert!(
            record["client_translated"]
                .as_str()
                .unwrap()
                .starts_with("198.51.100.1:"),
            "{record}"
        );
        assert!(!port.is_empty());
        // Active mode: the server initiates; the client responds behind the NAT.
        assert!(record["data_orig"]
            .as_str()
            .unwrap()
            .starts_with("198.51.100.2:"));
        assert!(record["data_resp"]
            .as_str()
            .unwrap()
            .starts_with("10.77.0.2:"));
        assert!(
            record["data_resp_translated"]
                .as_str()
                .unwrap()
                .starts_with("198.51.100.1:"),
            "{record}"
        );
    }
}

/// Without finishing the offloaded checksums, the sessions vanish: what `--checksums auto`
/// fixes.
#[test]
fn verifying_unfinished_checksums_loses_the_sessions() {
    let replayed = replay(
        "v4-passive.pcap",
        "rules/analysis.yaml",
        RecordedAt::Gateway,
        ChecksumMode::Verify,
    );
    assert!(replayed.summary.engine.total_dropped() > 0);
    assert!(replayed.records.len() < SESSION.len());
    let ignored = replay(
        "v4-passive.pcap",
        "rules/analysis.yaml",
        RecordedAt::Gateway,
        ChecksumMode::Ignore,
    );
    assert_eq!(ignored.records.len(), SESSION.len());
}

/// A capture cut mid-transfer: the RETR is flushed at the end with what was seen.
#[test]
fn a_transfer_cut_by_the_end_of_the_capture_is_flushed_incomplete() {
    let present = payload_present(&capture("v4-cut.pcap"));
    for replayed in [analysis("v4-cut.pcap"), nat("v4-cut.pcap")] {
        assert_eq!(replayed.records.len(), 1, "{}", replayed.summary);
        let record = &replayed.records[0];
        assert_eq!(record["command"], "RETR");
        assert_eq!(record["path"], "pub/big.bin");
        assert_eq!(record["incomplete"], true);
        assert_eq!(record["reply_code"], 0);
        let ends = (
            record["data_orig"].as_str().unwrap().to_string(),
            record["data_resp"].as_str().unwrap().to_string(),
        );
        let bytes = present[&ends];
        assert!(bytes > 0 && bytes < 20_000, "cut mid-transfer: {bytes}");
        assert_eq!(record["bytes"], bytes);
        assert_eq!(record["missing_bytes"], 0);
    }
}

/// The cut capture with its first data segment left out (a gap, as when a capture misses
/// packets): the record's bytes are what the capture holds, and the gap is missing_bytes.
#[test]
fn a_gap_in_the_data_connection_counts_as_missing_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let gapped = dir.path().join("gapped.pcap");
    let mut reader = CaptureReader::open(capture("v4-cut.pcap")).unwrap();
    let mut writer = ftpgate::io::capture::CaptureWriter::create(&gapped, reader.format()).unwrap();
    let mut frame = CapturedPacket::default();
    let (mut data_segments, mut left_out) = (0, 0);
    while reader.next_packet(&mut frame).unwrap() {
        let parts = split_frame(frame.link_type, &frame.data).unwrap().unwrap();
        let packet = parse(parts.ip_packet).unwrap();
        if let Transport::Tcp(tcp) = packet.transport {
            if tcp.src_port >= 40000 && tcp.payload_len > 0 {
                data_segments += 1;
                if data_segments == 1 {
                    left_out = tcp.payload_len as u64;
                    continue;
                }
            }
        }
        writer
            .write_packet(frame.timestamp, frame.interface, &frame.data, &[])
            .unwrap();
    }
    writer.finish().unwrap();
    assert!(data_segments >= 2 && left_out > 0);

    let full = payload_present(&capture("v4-cut.pcap"));
    let present = payload_present(&gapped);
    let settings = ftpgate::config::load_file(Path::new("rules/analysis.yaml")).unwrap();
    let log = dir.path().join("log.jsonl");
    let options = ReplayOptions {
        transfer_log: Some(log.clone()),
        ..ReplayOptions::default()
    };
    let engine = Engine::new(settings);
    replay_with(&engine, &gapped, &dir.path().join("out.pcap"), &options).unwrap();
    let record: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let ends = (
        record["data_orig"].as_str().unwrap().to_string(),
        record["data_resp"].as_str().unwrap().to_string(),
    );
    assert_eq!(present[&ends] + left_out, full[&ends]);
    assert_eq!(record["bytes"], present[&ends], "{record}");
    assert_eq!(record["missing_bytes"], left_out, "{record}");
}

/// A bounce the server obeyed (PORT naming 10.77.0.3, not the client's 10.77.0.2): analysis
/// mode reports it and logs the transfer with the data connection the capture holds; a
/// gateway refuses it, answers the client, and the data connection never gets in.
#[test]
fn a_bounce_is_reported_and_followed_by_the_monitor_and_refused_by_the_gateway() {
    let present = payload_present(&capture("v4-bounce.pcap"));
    let monitored = analysis("v4-bounce.pcap");
    let summary = &monitored.summary;
    assert_eq!(
        summary.engine.ftp_violations("foreign_address"),
        1,
        "{summary}"
    );
    assert_eq!(summary.frames_written, summary.frames_read, "{summary}");
    assert_eq!(summary.frames_generated, 0, "{summary}");
    let record = &monitored.records[0];
    assert_eq!(record["command"], "RETR");
    assert_eq!(record["violations"], serde_json::json!(["foreign_address"]));
    assert_eq!(record["data_resp"], "10.77.0.3:50000");
    assert_eq!(record["bytes"], 1000);
    let ends = (
        record["data_orig"].as_str().unwrap().to_string(),
        "10.77.0.3:50000".to_string(),
    );
    assert_eq!(present[&ends], 1000);

    let gateway = nat("v4-bounce.pcap");
    let summary = &gateway.summary;
    assert_eq!(
        summary.engine.ftp_violations("foreign_address"),
        1,
        "{summary}"
    );
    assert_eq!(
        summary.frames_generated, 1,
        "the 501 to the client: {summary}"
    );
    assert!(summary.engine.total_dropped() > 0, "{summary}");
    let record = &gateway.records[0];
    assert_eq!(record["violations"], serde_json::json!(["foreign_address"]));
    assert!(record["data_orig"].is_null(), "{record}");
}

/// tshark on a NAT-mode output: no checksum error, and no TCP analysis flag the input did
/// not have. Fails under CI=true when tshark is missing (scripts/lab-deps.sh installs it).
#[test]
fn nat_output_passes_tshark_checksum_and_tcp_analysis() {
    if std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_err()
    {
        skip::skip(
            "nat_output_passes_tshark_checksum_and_tcp_analysis",
            "tshark is missing (scripts/lab-deps.sh installs it)",
        );
        return;
    }
    for name in [
        "v4-passive.pcap",
        "v4-active.pcap",
        "v6-passive.pcap",
        "v6-active.pcap",
        "v4-cut.pcap",
    ] {
        let replayed = nat(name);
        let errors = tshark_count(
            &replayed.output,
            "tcp.checksum.status == 0 || ip.checksum.status == 0",
        );
        assert_eq!(errors, 0, "{name}: checksum errors in the output");
        let checked = tshark_count(&replayed.output, "tcp.checksum.status == 1");
        assert_eq!(
            checked as u64, replayed.summary.frames_written,
            "{name}: every output segment has a verified checksum"
        );
        let flags_in = tshark_count(&capture(name), "tcp.analysis.flags");
        let flags_out = tshark_count(&replayed.output, "tcp.analysis.flags");
        assert_eq!(flags_out, flags_in, "{name}: new TCP analysis flags");
    }
}

/// Packets of `capture` matching the display `filter`, with checksum validation on.
fn tshark_count(capture: &Path, filter: &str) -> usize {
    let out = std::process::Command::new("tshark")
        .args([
            "-n",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .arg("-r")
        .arg(capture)
        .args(["-Y", filter])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}
