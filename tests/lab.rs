//! The network-namespace lab: real FTP clients and a real FTP server talk through a gateway
//! namespace (`scripts/lab.sh`), with Linux's NAT and FTP helper (`kernel`) or ftpgate on a
//! TUN device (`ftpgate`) doing the translation. One matrix, both modes, both layouts:
//!
//! - client-inside: the client 10.77.0.2 is masqueraded to 198.51.100.1 and talks to the
//!   server 198.51.100.2;
//! - server-inside: the client 198.51.100.2 reaches the server 10.77.0.10 through the forward
//!   of 198.51.100.1:21.
//!
//! Each client (curl EPSV, PASV, EPRT and PORT; lftp passive and active; ftplib passive and
//! active) downloads and uploads a 1-byte and a 3 MB file (SHA-256 compared in the sending and
//! receiving namespaces) and lists the directory, one session each. The server's transcript
//! shows which data-connection command each session used (only the client's own) and what the
//! gateway made of the addresses in it.
//!
//! The tests need root; they skip (printing why; failing under `CI=true`) without it, without
//! network namespaces, or when a tool is missing and `scripts/lab-deps.sh` cannot install it.
//! The ftpgate-mode tests run like the kernel-mode ones (see `matrix!`).

#[path = "lab/bounce.rs"]
mod bounce;
#[path = "lab/env.rs"]
mod env;
#[path = "lab/ftp.rs"]
mod ftp;
#[path = "lab/net.rs"]
mod net;
use ftpgate_testkit::skip;

use std::path::Path;

use bounce::{bounce, check_refused, Sink, THIRD_SINK};
use env::{lab_env_or_skip, repo_dir};
use ftp::{announcements, check_ok, random_bytes, Client, Op, Server};
use net::{lab_or_skip, state_dir, FtpgateOpts, Lab, Layout, Mode, Role, UpError};

/// Size of the large file: 3 MiB and a bit, so it ends mid-segment.
const BIG: usize = 3 * 1024 * 1024 + 4321;

/// The whole matrix cell: `client` through a `mode` gateway in `layout`.
fn transfer_matrix(test: &str, mode: Mode, layout: Layout, client: Client) {
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let work = tempfile::Builder::new()
        .prefix("ftpgate-lab-client")
        .tempdir()
        .expect("temp dir");
    let log = work.path().join("transfers.jsonl");
    let opts = (mode == Mode::Ftpgate).then(|| FtpgateOpts::ftpgate(log.clone()));
    let Some(lab) = lab_or_skip(test, mode, layout, opts.as_ref()) else {
        return;
    };
    let server = Server::start(env, &lab, layout);
    let files = [("one.bin", random_bytes(1)), ("big.bin", random_bytes(BIG))];
    for (name, bytes) in &files {
        std::fs::write(server.root().join(name), bytes).expect("server file");
        std::fs::write(work.path().join(name), bytes).expect("client file");
    }

    let client_ns = layout.client_role();
    let server_ns = layout.server_role();
    for (name, _) in &files {
        let local = work.path().join(format!("got-{name}"));
        let out = client.run(
            env,
            &lab,
            layout,
            &Op::Get {
                remote: name,
                local: &local,
            },
        );
        check_ok(&format!("{client:?} get {name}"), &out);
        assert_eq!(
            lab.sha256(client_ns, &local),
            lab.sha256(server_ns, &server.root().join(name)),
            "{client:?}: downloaded {name} differs"
        );
    }
    for (name, _) in &files {
        let local = work.path().join(name);
        let remote = format!("up-{name}");
        let out = client.run(
            env,
            &lab,
            layout,
            &Op::Put {
                local: &local,
                remote: &remote,
            },
        );
        check_ok(&format!("{client:?} put {name}"), &out);
        assert_eq!(
            lab.sha256(client_ns, &local),
            lab.sha256(server_ns, &server.root().join(&remote)),
            "{client:?}: uploaded {remote} differs"
        );
    }
    let out = client.run(env, &lab, layout, &Op::List);
    check_ok(&format!("{client:?} list"), &out);
    check_listing(client, &String::from_utf8_lossy(&out.stdout));

    let transcript = server.transcript();
    check_announcements(client, layout, &transcript, &out);
    drop(server);

    if mode == Mode::Ftpgate {
        // ftpgate writes a record when the final reply passes; SIGTERM lets it finish the file.
        lab.down().expect("lab down");
        check_transfer_log(client, &log);
    }
}

/// The listing names every file, the big ones with their size.
fn check_listing(client: Client, listing: &str) {
    for name in ["one.bin", "big.bin", "up-one.bin", "up-big.bin"] {
        let line = listing
            .lines()
            .find(|line| line.split_whitespace().last() == Some(name))
            .unwrap_or_else(|| panic!("{client:?}: {name} missing from the listing:\n{listing}"));
        if name.ends_with("big.bin") {
            assert!(
                line.split_whitespace().any(|w| w == BIG.to_string()),
                "{client:?}: {name} listed without its size {BIG}: {line}"
            );
        }
    }
}

/// Every data connection was announced the client's way, and the addresses in the
/// announcements are what the gateway must make of them.
fn check_announcements(
    client: Client,
    layout: Layout,
    transcript: &str,
    list_out: &std::process::Output,
) {
    let seen = announcements(transcript);
    assert_eq!(
        seen,
        vec![client.announcement(); 5],
        "{client:?}: one {} per transfer (2 gets, 2 puts, 1 list), nothing else; transcript:\n{transcript}",
        client.announcement()
    );
    let received = |prefix: &str| -> Vec<&str> {
        transcript
            .lines()
            .filter_map(|l| l.strip_prefix("<- "))
            .filter(|l| l.starts_with(prefix))
            .collect()
    };
    // The address a client's PORT/EPRT must carry when it reaches the server: the
    // masquerade address for the inside client, the outside client's own address otherwise.
    let client_as_seen = match layout {
        Layout::ClientInside => "198.51.100.1",
        Layout::ServerInside => "198.51.100.2",
    };
    match client.announcement() {
        "PORT" => {
            let expected = format!("PORT {},", client_as_seen.replace('.', ","));
            for line in received("PORT") {
                assert!(
                    line.starts_with(&expected),
                    "{client:?}: {line}, not {expected}..."
                );
            }
        }
        "EPRT" => {
            let expected = format!("EPRT |1|{client_as_seen}|");
            for line in received("EPRT") {
                assert!(
                    line.starts_with(&expected),
                    "{client:?}: {line}, not {expected}..."
                );
            }
        }
        "PASV" if layout == Layout::ServerInside => {
            // The server says 10,77,0,10; the outside client must read the gateway's address.
            assert!(
                transcript.contains("-> 227 Entering passive mode (10,77,0,10,"),
                "{client:?}: the inside server's 227 should name itself:\n{transcript}"
            );
            let dialogue = String::from_utf8_lossy(&list_out.stderr);
            let replies: Vec<&str> = dialogue
                .lines()
                .filter(|l| l.contains("227 Entering passive mode"))
                .collect();
            assert!(
                !replies.is_empty(),
                "{client:?}: no 227 in the client's dialogue:\n{dialogue}"
            );
            for reply in replies {
                assert!(
                    reply.contains("(198,51,100,1,"),
                    "{client:?}: the client read {reply}, not the gateway's address"
                );
            }
        }
        _ => {}
    }
}

/// ftpgate's transfer log has one record per transfer, as the client made it.
fn check_transfer_log(client: Client, log: &Path) {
    let text = std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("transfer log {}: {e}", log.display()));
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let expect = [
        ("RETR", "one.bin", "download", 1),
        ("RETR", "big.bin", "download", BIG),
        ("STOR", "up-one.bin", "upload", 1),
        ("STOR", "up-big.bin", "upload", BIG),
    ];
    for (command, arg, direction, bytes) in expect {
        let found = records.iter().any(|r| {
            r["command"] == command
                && r["arg"].as_str().is_some_and(|a| a.ends_with(arg))
                && r["direction"] == direction
                && r["bytes"] == bytes as u64
                && r["announced_by"] == client.announcement()
                && r["mode"] == if client.active() { "active" } else { "passive" }
                && r["reply_code"] == 226
        });
        assert!(found, "{client:?}: no record of {command} {arg}:\n{text}");
    }
    assert!(
        records.iter().any(|r| r["command"] == "LIST"),
        "{client:?}: no LIST record:\n{text}"
    );
}

/// `#[test] fn NAME() BODY` with the attributes given in braces.
macro_rules! test_with_attrs {
    ({$(#[$attr:meta])*} $name:ident $body:block) => {
        #[test]
        $(#[$attr])*
        fn $name() $body
    };
}

/// The matrix: one test per client, layout and mode. The attributes in braces after
/// `ftpgate:` go on every ftpgate-mode test (none today: all of them run).
macro_rules! matrix {
    (ftpgate: $ftpgate:tt; $($name:ident => $client:expr,)*) => {
        mod kernel_client_inside {
            $(#[test] fn $name() {
                super::transfer_matrix(concat!("kci-", stringify!($name)), super::Mode::Kernel,
                    super::Layout::ClientInside, $client);
            })*
        }
        mod kernel_server_inside {
            $(#[test] fn $name() {
                super::transfer_matrix(concat!("ksi-", stringify!($name)), super::Mode::Kernel,
                    super::Layout::ServerInside, $client);
            })*
        }
        mod ftpgate_client_inside {
            $(test_with_attrs!($ftpgate $name {
                super::transfer_matrix(concat!("fci-", stringify!($name)), super::Mode::Ftpgate,
                    super::Layout::ClientInside, $client);
            });)*
        }
        mod ftpgate_server_inside {
            $(test_with_attrs!($ftpgate $name {
                super::transfer_matrix(concat!("fsi-", stringify!($name)), super::Mode::Ftpgate,
                    super::Layout::ServerInside, $client);
            });)*
        }
    };
}

matrix! {
    ftpgate: {};
    curl_epsv => crate::Client::CurlEpsv,
    curl_pasv => crate::Client::CurlPasv,
    curl_eprt => crate::Client::CurlEprt,
    curl_port => crate::Client::CurlPort,
    lftp_passive => crate::Client::LftpPassive,
    lftp_active => crate::Client::LftpActive,
    ftplib_passive => crate::Client::FtplibPassive,
    ftplib_active => crate::Client::FtplibActive,
}

/// Whether namespace `name` exists.
fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

const ROLES: [&str; 4] = ["client", "gw", "server", "third"];

#[test]
fn kernel_lab_has_its_topology_and_goes_away() {
    let test = "kernel_lab_has_its_topology_and_goes_away";
    let Some(_env) = lab_env_or_skip(test) else {
        return;
    };
    let Some(lab) = lab_or_skip(test, Mode::Kernel, Layout::ClientInside, None) else {
        return;
    };
    let prefix = lab.prefix().to_string();
    for role in ROLES {
        assert!(netns_exists(&format!("{prefix}-{role}")), "{prefix}-{role}");
    }
    let ping = |role, addr: &str| lab.run(role, "ping", &["-c1", "-W2", addr]);
    // Inside to both outside hosts through the NAT; the outside segment is one bridge.
    check_ok("client -> server", &ping(Role::Client, "198.51.100.2"));
    check_ok("client -> third", &ping(Role::Client, "198.51.100.3"));
    check_ok("server -> third", &ping(Role::Server, "198.51.100.3"));
    // The outside has no route to the inside network.
    assert!(!ping(Role::Server, "10.77.0.2").status.success());
    // The FTP helper is assigned explicitly, not by the kernel's automatic assignment.
    let rules = lab.run(Role::Gw, "nft", &["list", "ruleset"]);
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(rules.contains("type \"ftp\" protocol tcp"), "{rules}");
    assert!(
        rules.contains("tcp dport 21 ct helper set \"ftp-standard\""),
        "{rules}"
    );
    assert!(rules.contains("masquerade"), "{rules}");
    let state = state_dir(&prefix);
    assert!(state.join("mode").exists());

    lab.down().expect("down");
    for role in ROLES {
        assert!(
            !netns_exists(&format!("{prefix}-{role}")),
            "{prefix}-{role} left behind"
        );
    }
    assert!(!state.exists(), "{} left behind", state.display());
}

#[test]
fn guard_takes_the_lab_down_when_a_test_panics() {
    let test = "guard_takes_the_lab_down_when_a_test_panics";
    let Some(_env) = lab_env_or_skip(test) else {
        return;
    };
    let prefix = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let Some(lab) = lab_or_skip(test, Mode::Kernel, Layout::ServerInside, None) else {
            return;
        };
        *prefix.lock().unwrap() = Some(lab.prefix().to_string());
        panic!("a failing lab test");
    });
    let Some(prefix) = prefix.into_inner().unwrap() else {
        return; // skipped inside
    };
    assert!(result.is_err());
    for role in ROLES {
        assert!(
            !netns_exists(&format!("{prefix}-{role}")),
            "{prefix}-{role} left behind"
        );
    }
}

#[test]
fn two_labs_with_the_same_interface_names_coexist() {
    let test = "two_labs_with_the_same_interface_names_coexist";
    let Some(_env) = lab_env_or_skip(test) else {
        return;
    };
    let Some(first) = lab_or_skip(test, Mode::Kernel, Layout::ClientInside, None) else {
        return;
    };
    let Some(second) = lab_or_skip(test, Mode::Kernel, Layout::ServerInside, None) else {
        return;
    };
    assert_ne!(first.prefix(), second.prefix());
    for lab in [&first, &second] {
        check_ok(
            lab.prefix(),
            &lab.run(Role::Server, "ping", &["-c1", "-W2", "198.51.100.1"]),
        );
    }
    // A third host answers in each lab, on its own segment.
    check_ok(
        "third",
        &first.run(Role::Third, "ping", &["-c1", "-W2", "198.51.100.2"]),
    );
    check_ok(
        "third",
        &second.run(Role::Third, "ping", &["-c1", "-W2", "198.51.100.2"]),
    );
}

/// ftpgate mode's plumbing, with `tests/lab/tun_standin.py` (a 1:1 NAT of 10.77.0.2 to
/// 198.51.100.1 on a TUN device, no ALG) in ftpgate's place: the policy routing steers both
/// directions through the TUN, including packets for the NAT address the gateway owns, and
/// what comes back out of the TUN is forwarded. Passive FTP needs no ALG behind a 1:1 NAT.
#[test]
fn ftpgate_mode_routes_both_directions_through_the_tun() {
    let test = "ftpgate_mode_routes_both_directions_through_the_tun";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let opts = FtpgateOpts {
        bin: repo_dir().join("tests/lab/tun_standin.py"),
        rules: repo_dir().join("rules/lab.yaml"),
        log: work.path().join("standin.json"),
    };
    let layout = Layout::ClientInside;
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, layout, Some(&opts)) else {
        return;
    };
    let rules = lab.run(Role::Gw, "ip", &["rule"]);
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(
        !rules.starts_with("0:"),
        "the local rule is still first:\n{rules}"
    );
    for rule in [
        "iif g0 ipproto tcp lookup 100",
        "iif g1 ipproto tcp lookup 100",
        "200:\tfrom all lookup local",
    ] {
        assert!(rules.contains(rule), "{rule} missing:\n{rules}");
    }
    check_ok(
        "client -> server",
        &lab.run(Role::Client, "ping", &["-c1", "-W2", "198.51.100.2"]),
    );
    let server = Server::start(env, &lab, layout);
    let big = random_bytes(BIG);
    std::fs::write(server.root().join("big.bin"), &big).expect("server file");
    let local = work.path().join("big.bin");
    let out = Client::CurlEpsv.run(
        env,
        &lab,
        layout,
        &Op::Get {
            remote: "big.bin",
            local: &local,
        },
    );
    check_ok("curl through the stand-in", &out);
    assert_eq!(std::fs::read(&local).expect("downloaded"), big);
    // The server saw the NAT address: the connection went through the TUN.
    assert!(
        server.log().contains("198.51.100.1"),
        "server log:\n{}",
        server.log()
    );
    drop(server);
    lab.down().expect("down");
    let counts = std::fs::read_to_string(&opts.log).expect("the stand-in's log (SIGTERM)");
    let counts: serde_json::Value = serde_json::from_str(&counts).expect("json");
    assert!(counts["outbound"].as_u64() > Some(100), "{counts}");
    assert!(counts["inbound"].as_u64() > Some(100), "{counts}");
}

#[test]
fn ftpgate_mode_up_fails_cleanly_when_the_gateway_exits() {
    let test = "ftpgate_mode_up_fails_cleanly_when_the_gateway_exits";
    let Some(_env) = lab_env_or_skip(test) else {
        return;
    };
    let opts = FtpgateOpts {
        bin: "/bin/false".into(),
        rules: repo_dir().join("rules/lab.yaml"),
        log: "/dev/null".into(),
    };
    match Lab::up(test, Mode::Ftpgate, Layout::ClientInside, Some(&opts)) {
        Ok(lab) => panic!("lab {} came up without a gateway", lab.prefix()),
        Err(UpError::Failed(err)) => {
            assert!(
                err.contains("exited (status 1) before TUN device ftg0 came up"),
                "{err}"
            );
            // "lab.sh up PREFIX failed ..."
            let prefix = err.split_whitespace().nth(2).unwrap_or_default();
            assert!(prefix.starts_with("ftl"), "{err}");
            for role in ROLES {
                assert!(
                    !netns_exists(&format!("{prefix}-{role}")),
                    "{prefix}-{role}"
                );
            }
        }
        Err(UpError::Unavailable(reason)) => panic!("{reason}"),
    }
}

#[test]
fn ftpgate_mode_up_times_out_without_the_tun_and_stops_the_gateway() {
    let test = "ftpgate_mode_up_times_out_without_the_tun_and_stops_the_gateway";
    let Some(_env) = lab_env_or_skip(test) else {
        return;
    };
    // The stand-in makes the device the rule file names; lab.sh waits for ftg0.
    let work = tempfile::tempdir().expect("temp dir");
    let rules = work.path().join("other-tun.yaml");
    std::fs::write(&rules, "tun: {name: other0, queues: 1}\n").expect("rules");
    let log = work.path().join("standin.json");
    let opts = FtpgateOpts {
        bin: repo_dir().join("tests/lab/tun_standin.py"),
        rules,
        log: log.clone(),
    };
    let envs = [("FTPGATE_LAB_TUN_TIMEOUT", "2")];
    match Lab::up_with_env(
        test,
        Mode::Ftpgate,
        Layout::ClientInside,
        Some(&opts),
        &envs,
    ) {
        Ok(lab) => panic!("lab {} came up without ftg0", lab.prefix()),
        Err(UpError::Failed(err)) => {
            assert!(err.contains("TUN device ftg0 did not come up"), "{err}");
            assert!(err.contains("stand-in on other0"), "{err}");
        }
        Err(UpError::Unavailable(reason)) => panic!("{reason}"),
    }
    // Taken down: the stand-in got SIGTERM and wrote its log on the way out.
    assert!(log.exists(), "the stand-in was not stopped with SIGTERM");
}

/// The kernel's FTP helper is what makes active FTP work in kernel mode (it is assigned
/// explicitly, never automatically): without it the server reads the client's private
/// address in PORT, refuses it, and the transfer fails. A control for the matrix above.
#[test]
fn kernel_mode_needs_its_ftp_helper_for_active_ftp() {
    let test = "kernel_mode_needs_its_ftp_helper_for_active_ftp";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let layout = Layout::ClientInside;
    let Some(lab) = lab_or_skip(test, Mode::Kernel, layout, None) else {
        return;
    };
    let flush = lab.run(
        Role::Gw,
        "nft",
        &["flush", "chain", "ip", "ftplab", "helpers"],
    );
    check_ok("nft flush chain", &flush);
    let server = Server::start(env, &lab, layout);
    std::fs::write(server.root().join("one.bin"), b"x").expect("server file");
    let work = tempfile::tempdir().expect("temp dir");
    let local = work.path().join("one.bin");
    let get = Op::Get {
        remote: "one.bin",
        local: &local,
    };
    let out = Client::CurlPort.run(env, &lab, layout, &get);
    assert!(
        !out.status.success(),
        "active FTP worked without the helper"
    );
    let transcript = server.transcript();
    assert!(
        transcript.contains("<- PORT 10,77,0,2,"),
        "the PORT should arrive unrewritten:\n{transcript}"
    );
    // Passive FTP needs no helper behind a masquerade when the forward chain lets the
    // client's new connections out.
    let out = Client::CurlEpsv.run(env, &lab, layout, &get);
    check_ok("passive without the helper", &out);
}

/// rules/lab.yaml says what lab.sh builds: the inside network, the NAT address on g1, the
/// forward of port 21 to the server-inside layout's server, the TUN device. Needs no root.
#[test]
fn lab_rule_file_matches_the_topology() {
    use ftpgate::engine::settings::{Action, ForwardProtocol, PortForward, PortRange};
    use std::net::Ipv4Addr;

    let path = repo_dir().join("rules/lab.yaml");
    let gateway = ftpgate::config::load_gateway(&path).unwrap_or_else(|e| panic!("{e}"));
    // lab.sh waits for ftg0 unless told otherwise (--tun).
    assert_eq!(gateway.tun.name, "ftg0");
    assert_eq!(gateway.tun.queues, 2);
    let s = gateway.engine;
    assert_eq!(s.inside_networks, vec!["10.77.0.0/24".parse().unwrap()]);
    assert_eq!(s.outside_address, Some(Ipv4Addr::new(198, 51, 100, 1)));
    assert_eq!(
        s.nat_ports,
        PortRange {
            first: 20000,
            last: 59999
        }
    );
    assert_eq!(
        s.forwards,
        vec![PortForward {
            protocol: ForwardProtocol::Tcp,
            outside_ports: PortRange::single(21),
            inside_address: Ipv4Addr::new(10, 77, 0, 10),
            inside_port: 21,
        }]
    );
    // The forwarded port lies outside the masquerade's range, so the two never compete.
    assert!(!(s.nat_ports.first..=s.nat_ports.last).contains(&21));
    assert_eq!(s.policy.default_outbound, Action::Accept);
    assert_eq!(s.policy.default_inbound, Action::Drop);
    assert_eq!(s.ftp.control_ports, vec![21]);
}

/// The reference's known weakness (DESIGN.md): netfilter's helper passes a PORT naming a
/// third host to the server unchanged, and a server that obeys it (`--permit-foreign`) sends
/// the file to that host. ftpgate must refuse this; the attack suite compares the two.
#[test]
fn kernel_mode_lets_a_bounce_port_through() {
    let test = "kernel_mode_lets_a_bounce_port_through";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let layout = Layout::ClientInside;
    let Some(lab) = lab_or_skip(test, Mode::Kernel, layout, None) else {
        return;
    };
    let server = Server::start_with(env, &lab, layout, &["--permit-foreign"]);
    std::fs::write(
        server.root().join("secret.txt"),
        b"bounced to the third host",
    )
    .unwrap();
    let work = tempfile::tempdir().expect("temp dir");
    let mut sink = Sink::start(env, &lab, Role::Third, THIRD_SINK, work.path(), 30);
    let out = bounce(env, &lab, &[]);
    check_ok("bounce", &out);
    assert!(sink.wait(), "the third host got no connection");
    assert_eq!(sink.received(), b"bounced to the third host");
    assert!(
        server.transcript().contains("<- PORT 198,51,100,3,158,52"),
        "{}",
        server.transcript()
    );
}

/// The same bounce through ftpgate: the PORT naming the third host never reaches the obliging
/// server, the third host receives nothing, the client's PORT is answered by the gateway with
/// a 501 in the server's name (the default `on_violation: reply`; a real Linux client accepts
/// the inserted reply), and ftpgate logs the refusal with the check that fired.
#[test]
fn ftpgate_mode_refuses_a_bounce_port() {
    let test = "ftpgate_mode_refuses_a_bounce_port";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let layout = Layout::ClientInside;
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, layout, Some(&opts)) else {
        return;
    };
    let server = Server::start_with(env, &lab, layout, &["--permit-foreign"]);
    std::fs::write(
        server.root().join("secret.txt"),
        b"must not reach the third host",
    )
    .unwrap();
    let mut sink = Sink::start(env, &lab, Role::Third, THIRD_SINK, work.path(), 8);
    let out = bounce(env, &lab, &["--timeout", "4"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the bounce must not succeed: {said}");
    assert!(
        said.contains("501 Refused by the gateway (foreign_address)"),
        "the client is answered in the server's name (on_violation: reply): {said}"
    );
    let _ = sink.wait();
    assert!(sink.received().is_empty(), "the third host received data");
    assert!(
        !server.transcript().contains("PORT 198,51,100,3"),
        "the server saw the bounce PORT: {}",
        server.transcript()
    );
    check_refused(&lab, "foreign_address");
}

/// The same bounce with `on_violation: reset`: both ends of the control connection are
/// reset by the gateway (the client's socket sees the reset), the server never sees the PORT
/// and the third host receives nothing.
#[test]
fn ftpgate_mode_resets_a_bounce_when_the_rule_file_says_so() {
    let test = "ftpgate_mode_resets_a_bounce_when_the_rule_file_says_so";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let rules = std::fs::read_to_string(repo_dir().join("rules/lab.yaml")).unwrap();
    let rules = rules.replace(
        "ftp:\n  control_ports: [21]\n",
        "ftp:\n  control_ports: [21]\n  on_violation: reset\n",
    );
    assert!(
        rules.contains("on_violation: reset"),
        "rules/lab.yaml changed shape"
    );
    let mut opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    opts.rules = work.path().join("reset.yaml");
    std::fs::write(&opts.rules, rules).unwrap();
    let layout = Layout::ClientInside;
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, layout, Some(&opts)) else {
        return;
    };
    let server = Server::start_with(env, &lab, layout, &["--permit-foreign"]);
    std::fs::write(server.root().join("secret.txt"), b"must not leave").unwrap();
    let mut sink = Sink::start(env, &lab, Role::Third, THIRD_SINK, work.path(), 8);
    let out = bounce(env, &lab, &["--timeout", "4"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the bounce must not succeed: {said}");
    assert!(
        said.contains("ConnectionResetError"),
        "the client's control connection is reset: {said}"
    );
    let _ = sink.wait();
    assert!(sink.received().is_empty(), "the third host received data");
    assert!(!server.transcript().contains("PORT 198,51,100,3"));
    check_refused(&lab, "foreign_address");
    let stderr = lab.ftpgate_stderr_once(|stderr| stderr.contains("outcome=\"reset\""));
    assert!(stderr.contains("outcome=\"reset\""), "{stderr}");
}
