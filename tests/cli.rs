//! The `ftpgate` binary as a user runs it: `check` and `replay`.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ftpgate::io::capture::{split_frame, CaptureReader};
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
        println!("skipped: ../shared is absent, so {name} is not there");
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
    let out = ftpgate(&[
        "replay",
        "--rules",
        "rules/replay-client-nat.yaml",
        capture.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
        "--recorded-at",
        "inside",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("frames read        95"), "{summary}");
    // The two active-mode data connections the server opens need an FTP ALG: refused.
    assert!(summary.contains("policy                 2"), "{summary}");

    let client = IpAddr::V4(Ipv4Addr::new(141, 142, 220, 235));
    let outside = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    let mut frames = 0;
    for frame in CaptureReader::open(&out_path).unwrap() {
        let frame = frame.unwrap();
        let parts = split_frame(frame.link_type, &frame.data).unwrap().unwrap();
        assert!(checksums_verify(parts.ip_packet));
        let (src, dst) = endpoints(parts.ip_packet);
        assert!(
            src.0 != client && dst.0 != client,
            "the inside address never reaches the outside wire"
        );
        assert!(src.0 == outside || dst.0 == outside);
        frames += 1;
    }
    assert_eq!(
        frames, 79,
        "control connection and both passive data connections"
    );
}
