//! The `ftpgate` binary as a user runs it: `check` and `replay`.

use ftpgate_testkit as support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ftpgate::io::capture::{split_frame, CaptureReader};
use support::skip::skip;
use support::{checksums_verify, endpoints};

fn ftpgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftpgate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run ftpgate")
}

fn shared_capture(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures/zeek/pcaps")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        skip(
            "cli",
            &format!("../shared is absent, so {name} is not there"),
        );
        None
    }
}

#[test]
fn check_prints_the_compiled_policy() {
    let out = ftpgate(&["check", "rules/gateway.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("198.51.100.1:2121 -> 10.77.0.10:21"),
        "{text}"
    );
    assert!(
        text.contains("rules/gateway.yaml:"),
        "rules name their origin: {text}"
    );
}

#[test]
fn check_names_file_line_and_column_of_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "inside:\n  - 10.77.0.0/24\noutside_address: 198.51.100.300\n",
    )
    .unwrap();
    let out = ftpgate(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:18:", file.display())), "{err}");
    assert!(err.contains("198.51.100.300"), "{err}");
}

#[test]
fn replay_of_a_real_capture_with_the_client_behind_nat() {
    let Some(capture) = shared_capture("ipv4.pcap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("nat.pcap");
    let log_path = dir.path().join("transfers.jsonl");
    let out = ftpgate(&[
        "replay",
        "--rules",
        "rules/replay-client-nat.yaml",
        capture.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
        "--recorded-at",
        "inside",
        "--log",
        log_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("frames written     95"), "{summary}");
    assert!(summary.contains("FTP transfers      4"), "{summary}");

    let client = IpAddr::V4(Ipv4Addr::new(141, 142, 220, 235));
    let outside = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    // The client's control stream as it left the gateway, by sequence number.
    let mut client_stream: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut server_acks = Vec::new();
    for frame in CaptureReader::open(&out_path).unwrap() {
        let frame = frame.unwrap();
        let parts = split_frame(frame.link_type, &frame.data).unwrap().unwrap();
        let packet = parts.ip_packet;
        assert!(checksums_verify(packet));
        let (src, dst) = endpoints(packet);
        assert!(
            src.0 != client && dst.0 != client,
            "the inside address never reaches the outside wire"
        );
        assert!(src.0 == outside || dst.0 == outside);
        let tcp = &packet[20..];
        let header = usize::from(tcp[12] >> 4) * 4;
        let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
        let ack = u32::from_be_bytes(tcp[8..12].try_into().unwrap());
        if src == (outside, 50003) && packet.len() > 20 + header {
            client_stream.insert(seq, tcp[header..].to_vec());
        }
        if dst == (outside, 50003) && tcp[13] & 0x10 != 0 {
            server_acks.push(ack);
        }
    }
    // Contiguous, no gap and no inconsistent overlap.
    let mut stream = Vec::new();
    let first = *client_stream.keys().next().unwrap();
    for (seq, bytes) in &client_stream {
        let at = (seq - first) as usize;
        assert!(
            at <= stream.len(),
            "gap in the rewritten control stream at {seq}"
        );
        let overlap = (stream.len() - at).min(bytes.len());
        assert_eq!(
            &stream[at..at + overlap],
            &bytes[..overlap],
            "retransmission differs"
        );
        stream.extend_from_slice(&bytes[overlap..]);
    }
    let text = String::from_utf8_lossy(&stream);
    assert!(text.contains("PORT 198,51,100,1,131,46\r\n"), "{text}");
    assert!(
        !text.contains("141,142,220,235"),
        "no inside address left in the stream"
    );
    let end = first + stream.len() as u32;
    assert!(
        server_acks
            .iter()
            .all(|ack| ack.wrapping_sub(first) <= end - first + 1),
        "every ack names a position in the rewritten stream"
    );
    assert!(
        server_acks.contains(&(end + 1)),
        "the server acknowledges the whole rewritten stream (and FIN)"
    );

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.lines().count(), 4);
    assert!(
        log.contains(r#""mode":"active""#)
            && log.contains(r#""data_resp":"141.142.220.235:33582""#)
            && log.contains(r#""data_resp_translated":"198.51.100.1:33582""#),
        "{log}"
    );
}

#[test]
fn analysis_mode_writes_the_transfer_log_to_standard_output() {
    let Some(capture) = shared_capture("retr.pcap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.pcap");
    let out = ftpgate(&[
        "replay",
        "--rules",
        "rules/analysis.yaml",
        capture.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
        "--log",
        "-",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        records.len(),
        1,
        "only the transfer log on stdout: {stdout}"
    );
    assert_eq!(records[0]["command"], "RETR");
    assert_eq!(
        records[0]["bytes"], 16557,
        "Zeek's file-analysis baseline: /README, 16557 bytes"
    );
    assert_eq!(records[0]["announced_by"], "EPSV");
    assert!(String::from_utf8_lossy(&out.stderr).contains("FTP transfers      1"));
}
