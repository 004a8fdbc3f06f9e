//! Operating a running gateway, in the namespace lab of tests/lab.rs (`scripts/lab.sh`,
//! ftpgate mode, client-inside layout): ftpgate steers g0 and g1 itself (the rule file's
//! `interfaces`, which lab.sh adds), answers `ftpgate status`, `flows`, `pinholes` and
//! `reload` on the lab's control socket, serves Prometheus metrics, and leaves no rule or
//! route behind when it stops (SIGTERM) or is killed (SIGKILL, then `ftpgate cleanup` or the
//! next run).
//!
//! Like tests/lab.rs, the tests need root and skip (printing why) without it; under CI=true a
//! skip is a failure.

#[path = "lab/env.rs"]
mod env;
#[path = "lab/ftp.rs"]
mod ftp;
#[path = "lab/net.rs"]
mod net;
use ftpgate_testkit::skip;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use env::{lab_env_or_skip, LabEnv};
use ftp::{check_ok, random_bytes, Server};
use net::{lab_or_skip, state_dir, FtpgateOpts, Lab, Layout, Mode, Role};
use serde_json::Value;

const SERVER: &str = "198.51.100.2";
const CLIENT: &str = "10.77.0.2";
const NAT: &str = "198.51.100.1";

/// Brings an ftpgate-mode lab up with `rules`, or `None` when this machine cannot (a failure
/// under CI=true).
fn lab_up(test: &str, rules: Option<PathBuf>) -> Option<(&'static LabEnv, Lab, tempfile::TempDir)> {
    lab_up_in(test, rules, Layout::ClientInside)
}

/// [`lab_up`] in `layout`.
fn lab_up_in(
    test: &str,
    rules: Option<PathBuf>,
    layout: Layout,
) -> Option<(&'static LabEnv, Lab, tempfile::TempDir)> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(env) = lab_env_or_skip(test) else {
        assert!(
            !ci,
            "{test}: the lab cannot run here, and CI=true forbids skipping"
        );
        return None;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let mut opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    if let Some(rules) = rules {
        opts.rules = rules;
    }
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, layout, Some(&opts)) else {
        assert!(
            !ci,
            "{test}: the lab cannot run here, and CI=true forbids skipping"
        );
        return None;
    };
    Some((env, lab, work))
}

/// The lab's control socket and effective rule file (lab.sh's copy, which reloads re-read).
fn socket(lab: &Lab) -> PathBuf {
    state_dir(lab.prefix()).join("ftpgate.sock")
}

fn effective_rules(lab: &Lab) -> PathBuf {
    state_dir(lab.prefix()).join("rules.yaml")
}

/// `ftpgate ARGS --socket SOCKET`, from the root namespace (the socket is a file).
fn control(lab: &Lab, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftpgate"))
        .args(args)
        .arg("--socket")
        .arg(socket(lab))
        .output()
        .expect("run ftpgate")
}

fn control_json(lab: &Lab, args: &[&str]) -> Value {
    let out = control(lab, args);
    check_ok(&format!("ftpgate {args:?}"), &out);
    serde_json::from_slice(&out.stdout).expect("JSON answer")
}

/// Polls `condition` every 50 ms for at most `secs` seconds; false if it never held.
fn eventually(secs: u64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Python ftplib client in the inside namespace that logs in anonymously, asks for PASV
/// (so the gateway opens a pinhole), touches `ready`, waits for `release`, then runs PWD on
/// the same control connection and quits; it exits 0 only if all of that worked.
struct HeldSession {
    child: Child,
    ready: PathBuf,
    release: PathBuf,
}

const HOLD_SCRIPT: &str = r#"
import ftplib, os, sys, time
ftp = ftplib.FTP()
ftp.connect(sys.argv[1], 21, timeout=20)
ftp.login("anonymous", "ops@example.org")
ftp.sendcmd("PASV")
open(sys.argv[2], "w").close()
deadline = time.time() + 120
while not os.path.exists(sys.argv[3]):
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.05)
ftp.pwd()
ftp.quit()
"#;

impl HeldSession {
    fn start(env: &LabEnv, lab: &Lab, dir: &Path) -> HeldSession {
        let ready = dir.join("held.ready");
        let release = dir.join("held.release");
        let args = [
            "-c".as_ref(),
            HOLD_SCRIPT.as_ref(),
            SERVER.as_ref(),
            ready.as_os_str(),
            release.as_os_str(),
        ];
        let child = lab
            .command(Role::Client, 180, &env.python, &args)
            .spawn()
            .expect("start the held FTP session");
        let mut session = HeldSession {
            child,
            ready,
            release,
        };
        assert!(
            eventually(30, || session.ready.exists()
                || matches!(session.child.try_wait(), Ok(Some(_)))),
            "the held session did not log in"
        );
        assert!(session.ready.exists(), "the held session failed to log in");
        session
    }

    /// Lets it run PWD and quit; true when that worked.
    fn finish(mut self) -> bool {
        std::fs::write(&self.release, b"").expect("release marker");
        self.child
            .wait()
            .expect("wait for the held session")
            .success()
    }
}

fn flows_to_port_21(lab: &Lab) -> Vec<Value> {
    let answer = control_json(lab, &["flows", "--json", "-p", "tcp", "--dport", "21"]);
    answer["flows"].as_array().cloned().unwrap_or_default()
}

#[test]
fn status_flows_and_pinholes_show_the_labs_ftp_session() {
    let test = "status_flows_and_pinholes_show_the_labs_ftp_session";
    let Some((env, lab, work)) = lab_up(test, None) else {
        return;
    };
    let _server = Server::start(env, &lab, Layout::ClientInside);
    let session = HeldSession::start(env, &lab, work.path());

    let flows = flows_to_port_21(&lab);
    assert_eq!(flows.len(), 1, "{flows:?}");
    let flow = &flows[0];
    assert_eq!(flow["original"]["src"], CLIENT, "{flow}");
    assert_eq!(flow["original"]["dst"], SERVER, "{flow}");
    assert_eq!(flow["reply"]["src"], SERVER, "{flow}");
    assert_eq!(
        flow["reply"]["dst"], NAT,
        "masqueraded to the NAT address: {flow}"
    );
    // The client's port is kept where it lies in the lab's nat_ports (20000-59999); Linux
    // picks ephemeral ports up to 60999, and one above the range is mapped into it.
    let sport = flow["original"]["sport"].as_u64().expect("a source port");
    let dport = flow["reply"]["dport"].as_u64().expect("a NAT port");
    if (20_000..=59_999).contains(&sport) {
        assert_eq!(dport, sport, "the client's port kept: {flow}");
    } else {
        assert!((20_000..=59_999).contains(&dport), "{flow}");
    }
    assert_eq!(flow["translation"], "masquerade", "{flow}");
    assert_eq!(flow["state"], "ESTABLISHED", "{flow}");
    assert_eq!(flow["ftp"]["logged_in"], true, "{flow}");
    assert_eq!(flow["ftp"]["user"], "anonymous", "{flow}");
    assert_eq!(flow["ftp"]["pinholes"], 1, "{flow}");
    assert!(flow["expires_in_s"].as_u64() > Some(60), "{flow}");

    // The text form reads like conntrack -L.
    let text = control(&lab, &["flows", "-p", "tcp", "-s", CLIENT]);
    check_ok("ftpgate flows", &text);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("src={CLIENT} dst={SERVER}"))
            && text.contains(&format!("src={SERVER} dst={NAT}"))
            && text.contains("[SNAT]")
            && text.contains("helper=ftp"),
        "{text}"
    );
    // A filter that matches nothing lists nothing.
    let none = control_json(&lab, &["flows", "--json", "-p", "udp"]);
    assert_eq!(none["flows"].as_array().map(Vec::len), Some(0), "{none}");

    let pinholes = control_json(&lab, &["pinholes", "--json"]);
    let list = pinholes["pinholes"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{pinholes}");
    assert_eq!(list[0]["src"], CLIENT, "{pinholes}");
    assert_eq!(list[0]["dst"], SERVER, "{pinholes}");
    assert_eq!(list[0]["mode"], "passive", "{pinholes}");
    assert_eq!(list[0]["control"]["src"], CLIENT, "{pinholes}");

    let status = control_json(&lab, &["status", "--json"]);
    assert_eq!(status["ftp_sessions"], 1, "{status}");
    assert_eq!(status["pinholes"], 1, "{status}");
    assert!(status["flows"].as_u64() >= Some(1), "{status}");
    assert!(status["packets"].as_u64() > Some(5), "{status}");
    assert_eq!(
        status["queues"].as_array().map(Vec::len),
        Some(2),
        "{status}"
    );
    let read: u64 = status["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|queue| queue["packets"].as_u64())
        .sum();
    assert!(
        read >= status["packets"].as_u64().unwrap_or(u64::MAX),
        "{status}"
    );
    let text = control(&lab, &["status"]);
    check_ok("ftpgate status", &text);
    assert!(String::from_utf8_lossy(&text.stdout).contains("FTP sessions         1"));

    // The session ends: its pinhole goes with it.
    assert!(session.finish(), "the held session failed");
    assert!(
        eventually(10, || control_json(&lab, &["pinholes", "--json"])
            ["pinholes"]
            .as_array()
            .is_some_and(Vec::is_empty)),
        "the pinhole outlived its session"
    );
    // A request the gateway does not understand gets an error, and the gateway goes on.
    let bad = std::os::unix::net::UnixStream::connect(socket(&lab)).and_then(|mut stream| {
        use std::io::{Read, Write};
        stream.write_all(b"{\"command\":\"shutdown\"}\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    });
    let bad = bad.expect("raw control request");
    assert!(
        bad.contains("\"answer\":\"error\"") && bad.contains("shutdown"),
        "{bad}"
    );
    check_ok("status after a bad request", &control(&lab, &["status"]));
    lab.down().expect("down");
}

/// Writes `base` and then `extra` to the rule file lab.sh made, as a new file content for a reload.
fn write_rules(lab: &Lab, base: &str, extra: &str) {
    std::fs::write(effective_rules(lab), format!("{base}{extra}")).expect("write rules");
}

#[test]
fn invalid_reload_keeps_the_policy_and_a_deny_applies_to_new_flows_only() {
    let test = "invalid_reload_keeps_the_policy_and_a_deny_applies_to_new_flows_only";
    let Some((env, lab, work)) = lab_up(test, None) else {
        return;
    };
    let _server = Server::start(env, &lab, Layout::ClientInside);
    let base = std::fs::read_to_string(effective_rules(&lab)).expect("rules");
    let session = HeldSession::start(env, &lab, work.path());
    let ping = || lab.run(Role::Client, "ping", &["-c1", "-W2", SERVER]);
    check_ok("ping before", &ping());

    write_rules(&lab, &base, "\nrules:\n  - action: allow\n");
    let out = control(&lab, &["reload"]);
    assert!(!out.status.success(), "an invalid file was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    let at = format!("{}:", effective_rules(&lab).display());
    assert!(err.contains(&at) && err.contains("allow"), "{err}");
    check_ok("ping after the refused reload", &ping());

    // A change that cannot apply live is refused with its reason.
    write_rules(&lab, &base.replace("queues: 2", "queues: 1"), "");
    let out = control(&lab, &["reload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("tun.queues"), "{err}");

    write_rules(
        &lab,
        &base,
        "\nrules:\n  - action: drop\n    proto: icmp\n  - action: drop\n    proto: tcp\n    dst_ports: 21\n",
    );
    check_ok("reload", &control(&lab, &["reload"]));
    assert!(
        !ping().status.success(),
        "a new ICMP flow passed the new policy"
    );
    let listing = lab.run(
        Role::Client,
        "curl",
        &["-s", "--max-time", "5", &format!("ftp://{SERVER}/")],
    );
    assert!(
        !listing.status.success(),
        "a new FTP connection passed the new policy"
    );
    // The control connection opened before the reload still works.
    assert!(
        session.finish(),
        "the existing session was cut by the reload"
    );
    let status = control_json(&lab, &["status", "--json"]);
    assert_eq!(status["reloads"], 1, "{status}");
    assert_eq!(status["reloads_refused"], 2, "{status}");
    assert_eq!(status["policy_rules"], 2, "{status}");
    lab.down().expect("down");
}

#[test]
fn a_reload_adds_a_port_forward_and_the_alg_follows_its_port() {
    let test = "a_reload_adds_a_port_forward_and_the_alg_follows_its_port";
    let Some((env, lab, _work)) = lab_up_in(test, None, Layout::ServerInside) else {
        return;
    };
    let _server = Server::start(env, &lab, Layout::ServerInside);
    let base = std::fs::read_to_string(effective_rules(&lab)).expect("rules");
    // A passive listing from outside through 198.51.100.1:2121: the ALG must rewrite the
    // inside server's 227 for it to work.
    let listing = || {
        lab.run(
            Layout::ServerInside.client_role(),
            "curl",
            &["-s", "--max-time", "5", &format!("ftp://{NAT}:2121/")],
        )
    };
    assert!(!listing().status.success(), "no forward on 2121 yet");
    let forwarded = base
        .replace(
            "forwards:\n",
            "forwards:\n  - proto: tcp\n    port: 2121\n    to: 10.77.0.10:21\n",
        )
        .replace("control_ports: [21]", "control_ports: [21, 2121]");
    assert_ne!(forwarded, base, "the lab's rule file changed shape");
    write_rules(&lab, &forwarded, "\ntimeouts:\n  tcp_established: 2h\n");
    let out = control(&lab, &["reload"]);
    check_ok("reload", &out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("forwards") && said.contains("ftp") && said.contains("timeouts"),
        "{said}"
    );
    check_ok("passive listing through the new forward", &listing());
    // The flow listing shows the new forward's translation.
    let flows = control_json(&lab, &["flows", "--json", "--dport", "2121"]);
    assert!(flows.to_string().contains("10.77.0.10"), "{flows}");
    lab.down().expect("down");
}

#[test]
fn a_200_mb_transfer_survives_ten_reloads() {
    let test = "a_200_mb_transfer_survives_ten_reloads";
    let Some((env, lab, work)) = lab_up(test, None) else {
        return;
    };
    let server = Server::start(env, &lab, Layout::ClientInside);
    let big = random_bytes(200 << 20);
    let source = server.root().join("big.bin");
    std::fs::write(&source, &big).expect("server file");
    drop(big);
    let local = work.path().join("big.bin");
    let url = format!("ftp://{SERVER}/big.bin");
    // Rate-limited so that the transfer is still in flight during the reloads.
    let args = ["-s", "-S", "--limit-rate", "20M", "-o"];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    args.push(local.as_os_str());
    args.push(url.as_ref());
    let mut curl = lab
        .command(Role::Client, 300, "curl", &args)
        .spawn()
        .expect("start curl");
    let base = std::fs::read_to_string(effective_rules(&lab)).expect("rules");
    assert!(
        eventually(20, || local.metadata().is_ok_and(|m| m.len() > 0)),
        "the download did not start"
    );
    for round in 0..10 {
        let extra = if round % 2 == 0 {
            "\nrules:\n  - action: drop\n    proto: udp\n    dst_ports: 9\n"
        } else {
            ""
        };
        write_rules(&lab, &base, extra);
        if round < 5 {
            check_ok(&format!("reload {round}"), &control(&lab, &["reload"]));
        } else {
            // The other half by SIGHUP, as `systemctl reload` does.
            let pid =
                std::fs::read_to_string(state_dir(lab.prefix()).join("ftpgate.pid")).expect("pid");
            let hup = Command::new("kill").args(["-HUP", pid.trim()]).output();
            check_ok("kill -HUP", &hup.expect("kill"));
            assert!(
                eventually(10, || control_json(&lab, &["status", "--json"])["reloads"]
                    == round + 1),
                "SIGHUP {round} did not reload"
            );
        }
    }
    assert!(
        matches!(curl.try_wait(), Ok(None)),
        "the transfer ended before the ten reloads did: nothing was tested"
    );
    let data = control_json(&lab, &["flows", "--json", "-p", "tcp", "-s", CLIENT]);
    let data_flows = data["flows"].as_array().cloned().unwrap_or_default();
    assert!(
        data_flows.iter().any(|f| f["ftp_data"] == true),
        "no data connection listed: {data}"
    );
    let status = curl.wait().expect("curl");
    assert!(status.success(), "curl failed: {}", lab.ftpgate_stderr());
    assert_eq!(
        lab.sha256(Role::Client, &local),
        lab.sha256(Role::Server, &source),
        "the file arrived damaged"
    );
    let status = control_json(&lab, &["status", "--json"]);
    assert_eq!(status["reloads"], 10, "{status}");
    lab.down().expect("down");
}

#[test]
fn metrics_page_passes_promtool() {
    let test = "metrics_page_passes_promtool";
    let work = tempfile::tempdir().expect("temp dir");
    let lab_rules = std::fs::read_to_string(env::repo_dir().join("rules/lab.yaml")).expect("rules");
    let rules = work.path().join("metrics.yaml");
    std::fs::write(
        &rules,
        format!("{lab_rules}\nmetrics:\n  listen: 127.0.0.1:9464\n"),
    )
    .expect("rules");
    let Some((env, lab, work)) = lab_up(test, Some(rules)) else {
        return;
    };
    let server = Server::start(env, &lab, Layout::ClientInside);
    std::fs::write(server.root().join("small.bin"), random_bytes(100_000)).expect("file");
    let local = work.path().join("small.bin");
    let get = lab.run(
        Role::Client,
        "curl",
        &[
            "-s".as_ref(),
            "-o".as_ref(),
            local.as_os_str(),
            format!("ftp://{SERVER}/small.bin").as_ref(),
        ],
    );
    check_ok("download", &get);
    check_ok(
        "ping",
        &lab.run(Role::Client, "ping", &["-c1", "-W2", SERVER]),
    );
    // The transfer is logged once its data connection closed and the event was drained.
    let page = || {
        let out = lab.run(Role::Gw, "curl", &["-sf", "http://127.0.0.1:9464/metrics"]);
        check_ok("scrape", &out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        eventually(10, || page()
            .contains("ftpgate_ftp_transfers_total{direction=")),
        "no transfer counted:\n{}",
        page()
    );
    let body = page();
    for metric in [
        "ftpgate_packets_total ",
        "ftpgate_drops_total{reason=",
        "ftpgate_flows ",
        "ftpgate_nat_bindings ",
        "ftpgate_pinholes ",
        "ftpgate_ftp_held_bytes ",
        "ftpgate_ftp_transfer_bytes_total{direction=",
        "ftpgate_tun_read_errors_total{queue=\"1\"}",
        "ftpgate_tun_packets_total{queue=\"0\"}",
        "ftpgate_tun_udp_runs_total{queue=\"0\"}",
        "ftpgate_tun_udp_run_datagrams_total{queue=\"1\"}",
    ] {
        assert!(body.contains(metric), "{metric} missing:\n{body}");
    }
    let file = work.path().join("metrics.txt");
    std::fs::write(&file, &body).expect("page");
    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).expect("page"))
        .output();
    let promtool = match promtool {
        Ok(out) => out,
        Err(err) => panic!("promtool (scripts/lab-deps.sh installs it): {err}"),
    };
    check_ok("promtool check metrics", &promtool);
    lab.down().expect("down");
}

/// `ip rule` and the routes of every table but `local` in the gateway.
fn routing(lab: &Lab) -> String {
    let rules = lab.run(Role::Gw, "ip", &["rule"]);
    let routes = lab.run(Role::Gw, "ip", &["route", "show", "table", "all"]);
    let routes = String::from_utf8_lossy(&routes.stdout)
        .lines()
        .filter(|line| !line.contains("table local"))
        .collect::<Vec<_>>()
        .join("\n");
    format!("{}{routes}\n", String::from_utf8_lossy(&rules.stdout))
}

const CLEAN_RULES: &str =
    "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n";

fn assert_clean(lab: &Lab, when: &str) {
    let now = routing(lab);
    assert!(now.starts_with(CLEAN_RULES), "{when}: rules left:\n{now}");
    assert!(
        !now.contains("proto 245") && !now.contains("26471"),
        "{when}: routes left:\n{now}"
    );
}

/// Starts ftpgate in the gateway by hand (lab.sh's was stopped) and waits for its steering.
fn start_gateway(lab: &Lab) -> Child {
    let child = lab
        .command(
            Role::Gw,
            300,
            env!("CARGO_BIN_EXE_ftpgate"),
            &[
                "run".as_ref(),
                "--rules".as_ref(),
                effective_rules(lab).as_os_str(),
            ],
        )
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start ftpgate");
    assert!(
        eventually(20, || socket(lab).exists()
            && routing(lab).contains("proto 245")),
        "ftpgate did not steer:\n{}",
        routing(lab)
    );
    child
}

/// The pid of the ftpgate that `child` (`timeout`, as `lab.command` starts it) runs.
fn gateway_pid(child: &Child) -> String {
    let out = Command::new("pgrep")
        .args(["-P", &child.id().to_string()])
        .output()
        .expect("pgrep");
    let pids = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        !pids.is_empty() && !pids.contains('\n'),
        "ftpgate pids: {pids:?}"
    );
    pids
}

#[test]
fn steering_carries_traffic_and_leaves_nothing_after_sigterm_or_sigkill() {
    let test = "steering_carries_traffic_and_leaves_nothing_after_sigterm_or_sigkill";
    let Some((env, lab, work)) = lab_up(test, None) else {
        return;
    };
    let steered = routing(&lab);
    for line in [
        "iif g0 ipproto tcp lookup 26471 proto 245",
        "iif g1 ipproto icmp lookup 26471 proto 245",
        "10200:\tfrom all lookup local proto 245",
        "default dev ftg0 table 26471 proto 245",
    ] {
        assert!(steered.contains(line), "{line} missing:\n{steered}");
    }
    assert!(
        !steered.starts_with("0:"),
        "local delivery not moved:\n{steered}"
    );
    let server = Server::start(env, &lab, Layout::ClientInside);
    std::fs::write(server.root().join("f.bin"), random_bytes(2 << 20)).expect("file");
    let local = work.path().join("f.bin");
    let get = |lab: &Lab| {
        let _ = std::fs::remove_file(&local);
        let url = format!("ftp://{SERVER}/f.bin");
        let args = [
            "-s".as_ref(),
            "-o".as_ref(),
            local.as_os_str(),
            url.as_ref(),
        ];
        check_ok("download", &lab.run(Role::Client, "curl", &args));
    };
    get(&lab);

    // SIGTERM: the gateway removes what it installed.
    let pid = std::fs::read_to_string(state_dir(lab.prefix()).join("ftpgate.pid")).expect("pid");
    check_ok(
        "kill -TERM",
        &Command::new("kill")
            .args(["-TERM", pid.trim()])
            .output()
            .expect("kill"),
    );
    assert!(
        eventually(10, || !socket(&lab).exists()),
        "ftpgate did not stop"
    );
    assert!(
        eventually(5, || routing(&lab).starts_with(CLEAN_RULES)),
        "{}",
        routing(&lab)
    );
    assert_clean(&lab, "after SIGTERM");

    // SIGKILL: the rules stay until `ftpgate cleanup` (or the next run) removes them, and
    // the sysctls the run changed go back to what they were before it (here: loose
    // reverse-path filtering on g0, which the steering turns off).
    let rp_filter_g0 = "net.ipv4.conf.g0.rp_filter";
    let set_loose = format!("{rp_filter_g0}=2");
    check_ok("sysctl", &lab.run(Role::Gw, "sysctl", &["-qw", &set_loose]));
    let sysctl = |lab: &Lab| {
        let out = lab.run(Role::Gw, "sysctl", &["-n", rp_filter_g0]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let mut child = start_gateway(&lab);
    assert_eq!(sysctl(&lab), "0", "the steering turns rp_filter off");
    get(&lab);
    let pid = gateway_pid(&child);
    check_ok(
        "kill -KILL",
        &Command::new("kill")
            .args(["-KILL", &pid])
            .output()
            .expect("kill"),
    );
    let _ = child.wait();
    assert!(
        routing(&lab).contains("proto 245"),
        "nothing left to clean?"
    );
    let cleanup = lab.run(Role::Gw, env!("CARGO_BIN_EXE_ftpgate"), &["cleanup"]);
    check_ok("ftpgate cleanup", &cleanup);
    assert_clean(&lab, "after SIGKILL and ftpgate cleanup");
    assert_eq!(sysctl(&lab), "2", "ftpgate cleanup restores the sysctls");

    // A run after a killed one starts by removing the leftovers (installing over them would
    // fail), and carries traffic.
    let mut child = start_gateway(&lab);
    let pid = gateway_pid(&child);
    check_ok(
        "kill -KILL",
        &Command::new("kill")
            .args(["-KILL", &pid])
            .output()
            .expect("kill"),
    );
    let _ = child.wait();
    let _ = std::fs::remove_file(socket(&lab));
    let mut child = start_gateway(&lab);
    get(&lab);
    let pid = gateway_pid(&child);
    check_ok(
        "kill -TERM",
        &Command::new("kill")
            .args(["-TERM", &pid])
            .output()
            .expect("kill"),
    );
    let _ = child.wait();
    assert_clean(&lab, "after a run that followed a SIGKILL");
    drop(server);
    lab.down().expect("down");
}

/// The host's own ICMP error about a packet ftpgate forwarded (here: no host answers ARP for
/// 198.51.100.77 on the outside segment) reaches the inside client translated, so its
/// connection fails with "no route to host" (curl's exit 7) instead of running into its
/// timeout (exit 28); and with RUST_LOG=debug each drop is logged with its 5-tuple and reason.
#[test]
fn host_icmp_errors_reach_the_client_and_drops_are_logged() {
    let test = "host_icmp_errors_reach_the_client_and_drops_are_logged";
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if lab_env_or_skip(test).is_none() {
        assert!(
            !ci,
            "{test}: the lab cannot run here, and CI=true forbids skipping"
        );
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let envs = [("RUST_LOG", "ftpgate=debug")];
    let lab = match Lab::up_with_env(
        test,
        Mode::Ftpgate,
        Layout::ClientInside,
        Some(&opts),
        &envs,
    ) {
        Ok(lab) => lab,
        Err(err) => panic!("{err:?}"),
    };
    let out = lab.run(
        Role::Client,
        "curl",
        &["-sS", "--connect-timeout", "30", "http://198.51.100.77/"],
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "curl did not fail with the ICMP error: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A new inbound flow is dropped by the policy, and the drop is logged.
    let ping = lab.run(Role::Server, "ping", &["-c1", "-W1", NAT]);
    assert!(!ping.status.success(), "an inbound ping passed");
    assert!(
        eventually(5, || {
            let log = lab.ftpgate_stderr();
            log.lines().any(|line| {
                line.contains("dropped")
                    && line.contains("reason=\"policy\"")
                    && line.contains(&format!("src={SERVER}"))
                    && line.contains(&format!("dst={NAT}"))
            })
        }),
        "no drop line:\n{}",
        lab.ftpgate_stderr()
    );
    lab.down().expect("down");
}
