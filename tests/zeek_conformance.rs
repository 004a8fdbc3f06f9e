//! Conformance with the Zeek monitor on real captures (../shared/captures/zeek): replayed in
//! analysis mode (rules/analysis.yaml), the transfer log must agree with Zeek's ftp.log on
//! data channels (passive or active, initiator, responder and port) and on transfers (command,
//! user, reply code, byte count where the capture holds the data), and analysis mode drops
//! and changes nothing. Skipped, saying so, where ../shared is absent (a failure under
//! `CI=true`: testkit/src/skip.rs).

use ftpgate_testkit as support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ftpgate::engine::alg::ftp::TransferRecord;
use ftpgate::io::replay::{replay_file, ReplayOptions};
use support::skip::skip;

fn zeek_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/zeek");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(
            "zeek_conformance",
            "../shared is absent, so the Zeek captures are not there",
        );
        None
    }
}

/// Rows of a Zeek TSV log as field-name -> value maps.
fn zeek_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut fields: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(names) = line.strip_prefix("#fields\t") {
            fields = names.split('\t').map(str::to_string).collect();
        } else if !line.starts_with('#') && !line.is_empty() {
            rows.push(
                fields
                    .iter()
                    .cloned()
                    .zip(line.split('\t').map(str::to_string))
                    .collect(),
            );
        }
    }
    rows
}

fn our_log(zeek: &Path, capture: &str) -> Vec<TransferRecord> {
    let settings = ftpgate::config::load_file(Path::new("rules/analysis.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("transfers.jsonl");
    let options = ReplayOptions {
        transfer_log: Some(log.clone()),
        ..ReplayOptions::default()
    };
    let summary = replay_file(
        settings,
        &zeek.join("pcaps").join(capture),
        &dir.path().join("out.pcap"),
        &options,
    )
    .unwrap();
    assert_eq!(summary.input_error, None);
    // A monitor drops nothing and changes nothing: every frame read is written.
    assert_eq!(summary.engine.total_dropped(), 0, "{summary}");
    assert_eq!(summary.frames_written, summary.frames_read, "{summary}");
    assert_eq!(summary.frames_generated, 0, "{summary}");
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .map(|value| record_from_json(&value))
        .collect()
}

fn record_from_json(value: &serde_json::Value) -> TransferRecord {
    let text = |key: &str| value[key].as_str().map(str::to_string);
    TransferRecord {
        ts: value["ts"].as_f64().unwrap(),
        duration: value["duration"].as_f64().unwrap(),
        client: text("client").unwrap(),
        client_translated: text("client_translated").unwrap(),
        server: text("server").unwrap(),
        server_translated: text("server_translated").unwrap(),
        data_orig: text("data_orig"),
        data_resp: text("data_resp"),
        data_orig_translated: text("data_orig_translated"),
        data_resp_translated: text("data_resp_translated"),
        user: text("user"),
        command: text("command").unwrap(),
        path: text("path"),
        arg: text("arg").unwrap(),
        direction: if value["direction"] == "upload" {
            "upload"
        } else {
            "download"
        },
        mode: match value["mode"].as_str() {
            Some("active") => Some("active"),
            Some("passive") => Some("passive"),
            _ => None,
        },
        announced_by: None,
        bytes: value["bytes"].as_u64().unwrap(),
        missing_bytes: value["missing_bytes"].as_u64().unwrap(),
        reply_code: value["reply_code"].as_u64().unwrap() as u16,
        reply: text("reply").unwrap(),
        violations: value["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| &*Box::leak(name.as_str().unwrap().to_string().into_boxed_str()))
            .collect(),
        incomplete: value["incomplete"].as_bool().unwrap(),
    }
}

/// "a.b.c.d:p" or "[v6]:p" -> (host, port)
fn split_endpoint(endpoint: &str) -> (String, String) {
    let (host, port) = endpoint.rsplit_once(':').unwrap();
    (host.trim_matches(['[', ']']).to_string(), port.to_string())
}

fn check(baseline: &str, capture: &str, expect_transfers: usize) {
    let Some(zeek) = zeek_dir() else { return };
    let rows = zeek_rows(&zeek.join("baselines").join(baseline).join("ftp.log"));
    let ours = our_log(&zeek, capture);
    assert_eq!(
        ours.len(),
        expect_transfers,
        "{capture}: transfers logged: {ours:#?}"
    );

    // Every data connection we logged is one Zeek saw announced.
    let channels: Vec<(String, String, String, String)> = rows
        .iter()
        .filter(|row| row["data_channel.passive"] != "-")
        .map(|row| {
            let mode = if row["data_channel.passive"] == "T" {
                "passive"
            } else {
                "active"
            };
            (
                mode.to_string(),
                row["data_channel.orig_h"].clone(),
                row["data_channel.resp_h"].clone(),
                row["data_channel.resp_p"].clone(),
            )
        })
        .collect();
    for record in ours.iter().filter(|r| r.data_orig.is_some()) {
        let (orig_h, _) = split_endpoint(record.data_orig.as_deref().unwrap());
        let (resp_h, resp_p) = split_endpoint(record.data_resp.as_deref().unwrap());
        let ours = (record.mode.unwrap().to_string(), orig_h, resp_h, resp_p);
        assert!(
            channels.contains(&ours),
            "{capture}: data channel {ours:?} not in Zeek's {channels:?}"
        );
    }
    // Every transfer Zeek logged is in our log with the same user and reply, and the same size
    // where the capture holds the data connection (Zeek otherwise reads the size from a
    // SIZE or 150 reply). Zeek pairs the QUIT reply (221) with a transfer still pending when
    // the session ends; that row's reply is Zeek's artefact, not the transfer's.
    for row in rows
        .iter()
        .filter(|row| ["RETR", "STOR", "APPE", "STOU"].contains(&row["command"].as_str()))
    {
        let code: u16 = row["reply_code"].parse().unwrap_or(0);
        let found = ours.iter().find(|r| {
            r.command == row["command"]
                && (r.reply_code == code || code == 221)
                && row["arg"].ends_with(&r.arg)
                && (["-", "<unknown>"].contains(&row["user"].as_str())
                    || r.user.as_deref() == Some(row["user"].as_str()))
                && (row["file_size"] == "-"
                    || r.data_orig.is_none()
                    || row["file_size"] == r.bytes.to_string())
        });
        assert!(
            found.is_some(),
            "{capture}: Zeek's {} {} ({} bytes, reply {code}) missing from {ours:#?}",
            row["command"],
            row["arg"],
            row["file_size"]
        );
    }
}

#[test]
fn ipv4_active_and_passive() {
    check("scripts.base.protocols.ftp.ftp-ipv4", "ipv4.pcap", 4);
}

#[test]
fn ipv6_eprt_and_epsv() {
    check("scripts.base.protocols.ftp.ftp-ipv6", "ipv6.pcap", 5);
}

#[test]
fn a_session_picked_up_mid_stream() {
    check(
        "scripts.base.protocols.ftp.ftp-get-file-size",
        "ftp-with-numbers-in-filename.pcap",
        4,
    );
}

/// 688 PASV + RETR whose 227s name the server's public address (a server behind NAT, a
/// `reply_redirect` to a gateway), and a control stream with segments the capture lacks: the
/// monitor reports the redirects and reads past the gaps, so every RETR is logged.
#[test]
fn gaps_and_redirected_replies_lose_no_transfer() {
    check(
        "scripts.base.protocols.ftp.cwd-navigation",
        "cwd-navigation.pcap",
        687,
    );
}

#[test]
fn ipv6_retr_from_samba() {
    check(
        "scripts.base.protocols.ftp.ftp-samba-retr",
        "ipv6-retr-samba.pcap",
        1,
    );
}

#[test]
fn multiline_banner_then_retr() {
    check(
        "scripts.base.protocols.ftp.ftp-multiline-reply",
        "ipv6-multiline-reply.pcap",
        1,
    );
}

/// Zeek's expected-data-channel-cap capture: 500 PORT commands naming 10.0.0.200, a host that
/// is not the client (10.0.0.1). Replayed with `on_violation: reply` (a gateway), every one is
/// refused, answered and removed, and no pinhole stays open.
#[test]
fn five_hundred_foreign_ports_are_all_refused_by_a_gateway() {
    let Some(zeek) = zeek_dir() else { return };
    let mut settings = ftpgate::config::load_file(Path::new("rules/analysis.yaml")).unwrap();
    settings.ftp.on_violation = ftpgate::engine::settings::ViolationOutcome::Reply;
    let engine = ftpgate::engine::Engine::new(settings);
    let dir = tempfile::tempdir().unwrap();
    let summary = ftpgate::io::replay::replay_with(
        &engine,
        &zeek.join("pcaps/ftp-many-port-expected.pcap"),
        &dir.path().join("out.pcap"),
        &ReplayOptions::default(),
    )
    .unwrap();
    let stats = engine.stats();
    assert_eq!(stats.total_ftp_violations(), 500, "{summary}");
    assert_eq!(
        summary.frames_generated, 500,
        "each refusal answered, and the answer written to the output"
    );
    assert_eq!(stats.ftp_violations("foreign_address"), 500, "{summary}");
    assert_eq!(engine.pinhole_count(), 0);
    assert!(
        stats.flows <= 2,
        "one control connection, nothing else: {summary}"
    );
    assert_eq!(engine.stats().nat_bindings, 0);
}

/// The same capture in analysis mode (`on_violation: monitor`): every PORT is reported and
/// counted, nothing is removed or inserted (frames in = frames out), and the pinholes the
/// monitor follows them with are all closed when the replay ends.
#[test]
fn five_hundred_foreign_ports_are_all_reported_by_the_monitor() {
    let Some(zeek) = zeek_dir() else { return };
    let settings = ftpgate::config::load_file(Path::new("rules/analysis.yaml")).unwrap();
    let engine = ftpgate::engine::Engine::new(settings);
    let dir = tempfile::tempdir().unwrap();
    let summary = ftpgate::io::replay::replay_with(
        &engine,
        &zeek.join("pcaps/ftp-many-port-expected.pcap"),
        &dir.path().join("out.pcap"),
        &ReplayOptions::default(),
    )
    .unwrap();
    let stats = engine.stats();
    assert_eq!(stats.ftp_violations("foreign_address"), 500, "{summary}");
    assert_eq!(summary.frames_generated, 0, "{summary}");
    assert_eq!(summary.frames_written, summary.frames_read, "{summary}");
    assert_eq!(engine.pinhole_count(), 0, "{summary}");
}
