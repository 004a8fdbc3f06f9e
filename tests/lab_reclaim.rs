//! One busy inside host past its NAT port quota, in the namespace lab of tests/lab.rs
//! (`scripts/lab.sh`, ftpgate mode, client-inside layout, `limits.nat_ports_per_host: 32`):
//! the client opens ten times its quota of short connections, one after another, each closed
//! by the server first; ftpgate takes back the ports of its closed ones, so every connection
//! is made on its first SYN (none waits for a retransmission a second later), nothing is
//! dropped for the quota, and `ftpgate status` counts the connections taken back.
//!
//! Like tests/lab.rs, the test needs root and skips (printing why; failing under `CI=true`)
//! without it or without network namespaces. Bounded: 320 connections, 60 s at most.

#[path = "lab/env.rs"]
mod env;
#[path = "lab/ftp.rs"]
mod ftp;
#[path = "lab/net.rs"]
mod net;
use ftpgate_testkit::skip;

use std::process::Command;

use env::{lab_env_or_skip, repo_dir};
use ftp::check_ok;
use net::{lab_or_skip, state_dir, FtpgateOpts, Layout, Mode, Role};
use serde_json::Value;

const QUOTA: usize = 32;
const CONNECTIONS: usize = 10 * QUOTA;

/// Serves `CONNECTIONS` connections on 198.51.100.2:7100: one byte, then the server closes.
const SERVER: &str = r#"
import socket, sys
count = int(sys.argv[1])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("198.51.100.2", 7100))
listener.listen(64)
listener.settimeout(50)
for _ in range(count):
    conn, _ = listener.accept()
    conn.sendall(b"x")
    conn.close()
"#;

/// Opens the connections one by one; prints how many were made, and how many needed more
/// than 0.9 s to connect (a dropped SYN is retransmitted after 1 s).
const CLIENT: &str = r#"
import socket, sys, time
count = int(sys.argv[1])
made = slow = 0
deadline = time.time() + 5
while True:  # the server may still be starting
    try:
        socket.create_connection(("198.51.100.2", 7100), timeout=1).close()
        count -= 1
        made += 1
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.1)
for _ in range(count):
    started = time.time()
    conn = socket.create_connection(("198.51.100.2", 7100), timeout=5)
    if time.time() - started > 0.9:
        slow += 1
    while conn.recv(16):
        pass
    conn.close()
    made += 1
print(made, slow)
"#;

fn drops(status: &Value, reason: &str) -> u64 {
    status["drops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pair| pair[0] == reason)
        .filter_map(|pair| pair[1].as_u64())
        .sum()
}

#[test]
fn a_host_opening_ten_times_its_quota_of_connections_is_never_refused() {
    let test = "a_host_opening_ten_times_its_quota_of_connections_is_never_refused";
    if lab_env_or_skip(test).is_none() {
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let rules = work.path().join("rules.yaml");
    let lab_rules = std::fs::read_to_string(repo_dir().join("rules/lab.yaml")).unwrap();
    let limits = format!("\nlimits:\n  nat_ports_per_host: {QUOTA}\n");
    std::fs::write(&rules, lab_rules + &limits).unwrap();
    let mut opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    opts.rules = rules;
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, Layout::ClientInside, Some(&opts)) else {
        return;
    };
    let count = CONNECTIONS.to_string();
    let mut server = lab
        .command(Role::Server, 60, "python3", &["-c", SERVER, &count])
        .spawn()
        .expect("start the server");
    let out = lab.run(Role::Client, "python3", &["-c", CLIENT, &count]);
    check_ok("the client's connections", &out);
    let _ = server.wait();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let figures: Vec<usize> = printed
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    assert_eq!(figures, vec![CONNECTIONS, 0], "made, slow: {printed}");

    let status = Command::new(env!("CARGO_BIN_EXE_ftpgate"))
        .args(["status", "--json", "--socket"])
        .arg(state_dir(lab.prefix()).join("ftpgate.sock"))
        .output()
        .expect("ftpgate status");
    check_ok("ftpgate status", &status);
    let status: Value = serde_json::from_slice(&status.stdout).expect("JSON status");
    assert_eq!(drops(&status, "nat_host_quota"), 0, "{status}");
    let reclaimed = status["flows_reclaimed"].as_u64().unwrap_or(0);
    assert!(
        reclaimed >= (CONNECTIONS - QUOTA) as u64,
        "taken back: {reclaimed}\n{status}"
    );
    assert!(status["bindings"].as_u64().unwrap_or(u64::MAX) <= QUOTA as u64);
    lab.down().expect("lab down");
}
