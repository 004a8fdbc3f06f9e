//! Attacks through the gateway, in the namespace lab of tests/lab.rs (`scripts/lab.sh`,
//! client-inside layout): the inside client 10.77.0.2 abuses its control connection to an
//! outside server that obeys whatever PORT it reads. Each attack runs twice, as a comparison:
//! through Linux's NAT with its FTP helper (`kernel`), which lets it through, and through
//! ftpgate, which refuses the PORT, so that the server never reads it, and logs the check
//! that fired.
//!
//! - FTP bounce (RFC 2577) against vsftpd (`port_promiscuous=YES`): the PORT names the
//!   third host 198.51.100.3, and the server sends it the file. (tests/lab.rs has the same
//!   pair against pyftpdlib.)
//! - NAT pinning: the PORT names the client's own address with a privileged port (23, a
//!   telnet), and a server that accepts privileged ports (pyftpdlib with
//!   `--permit-privileged`) connects to it; a gateway that translates the PORT opens the
//!   inside host's port 23 to the outside server.
//!
//! How ftpgate refuses (the line dropped, or dropped with an error reply to the client) is
//! not asserted: only that the attack fails. Like tests/lab.rs, the tests need root and skip
//! (printing why; failing under `CI=true`) without it, without network namespaces, or when a
//! tool (vsftpd here) is missing and `scripts/lab-deps.sh` cannot install it.

#[path = "lab/bounce.rs"]
mod bounce;
#[path = "lab/env.rs"]
mod env;
#[path = "lab/ftp.rs"]
mod ftp;
#[path = "lab/net.rs"]
mod net;
use ftpgate_testkit::skip;
#[path = "lab/vsftpd.rs"]
mod vsftpd;

use bounce::{bounce, bounce_to, check_refused, Sink, THIRD_SINK};
use env::{lab_env_or_skip, vsftpd_or_skip};
use ftp::{check_ok, Server};
use net::{lab_or_skip, FtpgateOpts, Layout, Mode, Role};
use vsftpd::Vsftpd;

/// The inside client's privileged port that the NAT pinning attempt names.
const PINNED: &str = "10.77.0.2:23";

/// How long the sinks wait for a connection that must not come, in seconds; the client gives
/// up on its PORT sooner (`--timeout`) when ftpgate drops the line without a reply.
const SINK_TIMEOUT: u32 = 8;
const CLIENT_TIMEOUT: &str = "4";

/// vsftpd's PORT obeyed through the kernel: the helper passes the PORT naming the third host
/// unchanged (its address is not the client's, so it neither rewrites it nor opens an
/// expectation), vsftpd logs it and connects to the third host, which receives the file.
#[test]
fn kernel_mode_lets_a_bounce_port_through_to_vsftpd() {
    let test = "kernel_mode_lets_a_bounce_port_through_to_vsftpd";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let Some(bin) = vsftpd_or_skip(test) else {
        return;
    };
    let Some(lab) = lab_or_skip(test, Mode::Kernel, Layout::ClientInside, None) else {
        return;
    };
    let server = Vsftpd::start(bin, &lab, Layout::ClientInside);
    server.add_file("secret.txt", b"bounced by vsftpd");
    let work = tempfile::tempdir().expect("temp dir");
    let mut sink = Sink::start(env, &lab, Role::Third, THIRD_SINK, work.path(), 30);

    let out = bounce(env, &lab, &[]);
    check_ok("bounce through the kernel", &out);
    assert!(sink.wait(), "the third host got no connection");
    assert_eq!(sink.received(), b"bounced by vsftpd");
    // From the server itself: the bounce uses the server's address, not the gateway's.
    let peer = sink.peer().unwrap_or_default();
    assert!(peer.starts_with("198.51.100.2:"), "peer {peer}");
    let log = server.log();
    assert!(
        server
            .commands()
            .contains(&"PORT 198,51,100,3,158,52".to_string()),
        "vsftpd did not log the bounce PORT:\n{log}"
    );
    assert!(
        log.contains("OK DOWNLOAD: Client \"198.51.100.1\", \"/secret.txt\""),
        "{log}"
    );
}

/// The same bounce through ftpgate: the PORT naming the third host is refused
/// (`foreign_address`) and never reaches vsftpd, whose log has the session's login but no
/// PORT and no download; the client's bounce fails and the third host receives nothing.
#[test]
fn ftpgate_mode_refuses_a_bounce_port_to_vsftpd() {
    let test = "ftpgate_mode_refuses_a_bounce_port_to_vsftpd";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let Some(bin) = vsftpd_or_skip(test) else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, Layout::ClientInside, Some(&opts)) else {
        return;
    };
    let server = Vsftpd::start(bin, &lab, Layout::ClientInside);
    server.add_file("secret.txt", b"must not reach the third host");
    let mut sink = Sink::start(
        env,
        &lab,
        Role::Third,
        THIRD_SINK,
        work.path(),
        SINK_TIMEOUT,
    );

    let out = bounce(env, &lab, &["--timeout", CLIENT_TIMEOUT]);
    assert!(
        !out.status.success(),
        "the bounce must not succeed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!sink.wait(), "the third host got a connection");
    assert!(sink.received().is_empty(), "the third host received data");
    let commands = server.commands();
    assert!(
        commands.iter().any(|c| c == "USER anonymous"),
        "vsftpd logged no session (is its log written?):\n{}",
        server.log()
    );
    assert!(
        !commands.iter().any(|c| c.starts_with("PORT")),
        "vsftpd got a PORT:\n{}",
        server.log()
    );
    assert!(!server.log().contains("OK DOWNLOAD"), "{}", server.log());
    check_refused(&lab, "foreign_address");
}

/// NAT pinning through the kernel: the inside client's PORT names its own address with port
/// 23. The helper treats it like any active-mode PORT: it rewrites it to the masquerade
/// address and keeps the port (`PORT 198,51,100,1,0,23` reaches the server), and it expects
/// the server's connection to 198.51.100.1:23, which it forwards to 10.77.0.2:23 as related
/// traffic. The inside listener on port 23 receives the file from the outside server.
#[test]
fn kernel_mode_opens_an_inside_privileged_port_to_the_server() {
    let test = "kernel_mode_opens_an_inside_privileged_port_to_the_server";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let Some(lab) = lab_or_skip(test, Mode::Kernel, Layout::ClientInside, None) else {
        return;
    };
    let server = Server::start_with(
        env,
        &lab,
        Layout::ClientInside,
        &["--permit-foreign", "--permit-privileged"],
    );
    std::fs::write(server.root().join("secret.txt"), b"to the inside port 23").unwrap();
    let work = tempfile::tempdir().expect("temp dir");
    let mut sink = Sink::start(env, &lab, Role::Client, PINNED, work.path(), 30);

    let out = bounce_to(env, &lab, "198.51.100.2", PINNED, "secret.txt", &[]);
    check_ok("PORT to the client's own port 23 through the kernel", &out);
    assert!(sink.wait(), "the inside port 23 got no connection");
    assert_eq!(sink.received(), b"to the inside port 23");
    let peer = sink.peer().unwrap_or_default();
    assert!(peer.starts_with("198.51.100.2:"), "peer {peer}");
    let transcript = server.transcript();
    assert!(
        transcript.contains("<- PORT 198,51,100,1,0,23\n"),
        "the helper should rewrite the address and keep port 23:\n{transcript}"
    );
}

/// The same PORT through ftpgate: it names the client's own address, but a privileged port,
/// and ftpgate refuses it (`privileged_port`) before the server reads it, so the server never
/// connects, the client's transfer fails and the inside listener on port 23 receives nothing.
#[test]
fn ftpgate_mode_refuses_a_port_naming_a_privileged_port() {
    let test = "ftpgate_mode_refuses_a_port_naming_a_privileged_port";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, Layout::ClientInside, Some(&opts)) else {
        return;
    };
    let server = Server::start_with(
        env,
        &lab,
        Layout::ClientInside,
        &["--permit-foreign", "--permit-privileged"],
    );
    std::fs::write(server.root().join("secret.txt"), b"must not reach port 23").unwrap();
    let mut sink = Sink::start(env, &lab, Role::Client, PINNED, work.path(), SINK_TIMEOUT);

    let out = bounce_to(
        env,
        &lab,
        "198.51.100.2",
        PINNED,
        "secret.txt",
        &["--timeout", CLIENT_TIMEOUT],
    );
    assert!(
        !out.status.success(),
        "the transfer to port 23 must not succeed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!sink.wait(), "the inside port 23 got a connection");
    assert!(
        sink.received().is_empty(),
        "the inside port 23 received data"
    );
    let transcript = server.transcript();
    assert!(
        transcript.contains("<- USER anonymous"),
        "no session in the server's transcript:\n{transcript}"
    );
    assert!(
        !transcript.contains("<- PORT"),
        "the server got a PORT:\n{transcript}"
    );
    check_refused(&lab, "privileged_port");
}
