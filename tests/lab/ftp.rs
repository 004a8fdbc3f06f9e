//! FTP peers in the lab: a pyftpdlib server (`scripts/ftp-server.py`) and the clients under
//! test (curl in four modes, lftp, python ftplib), each doing one get, put or list per session.
//! Shared by tests/lab.rs and tests/lab_attacks.rs, each of which uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::env::{script, LabEnv};
use super::net::{Lab, Layout};

/// A running lab FTP server with its own root directory and command transcript.
pub struct Server {
    child: Child,
    /// Holds the served root and the transcript.
    dir: TempDir,
}

impl Server {
    /// Starts the server for `layout` and waits until it listens.
    pub fn start(env: &LabEnv, lab: &Lab, layout: Layout) -> Server {
        Server::start_with(env, lab, layout, &[])
    }

    /// `start` with more arguments for ftp-server.py (`--permit-foreign`).
    pub fn start_with(env: &LabEnv, lab: &Lab, layout: Layout, extra: &[&str]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("ftpgate-lab-server")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("server root");
        let ready = dir.path().join("ready");
        let mut args: Vec<PathBuf> = vec![script("ftp-server.py")];
        for arg in ["--root", "--address", "--transcript", "--ready", "--log"] {
            args.push(arg.into());
            args.push(match arg {
                "--root" => root.clone(),
                "--address" => layout.server_listen().into(),
                "--transcript" => dir.path().join("transcript"),
                "--ready" => ready.clone(),
                _ => dir.path().join("server.log"),
            });
        }
        args.extend(extra.iter().map(PathBuf::from));
        let mut cmd = lab.command(layout.server_role(), 600, &env.python, &args);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().expect("start ftp-server.py");
        let mut server = Server { child, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !ready.exists() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("ftp-server.py exited ({status}): {}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "ftp-server.py not listening after 15 s: {}",
                server.log()
            );
            sleep(Duration::from_millis(20));
        }
        server
    }

    /// The directory the server serves.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Commands received ("<- ...") and replies sent ("-> ...") so far.
    pub fn transcript(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("transcript")).unwrap_or_default()
    }

    /// pyftpdlib's own log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Ends a program started with `Lab::command`: the child is `timeout`, which passes SIGTERM
/// on to the program; SIGKILL if that is not enough. The lab's `down` would end a straggler
/// too.
pub fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The FTP clients under test, each pinned to one way of opening data connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// curl's default: EPSV.
    CurlEpsv,
    /// `curl --disable-epsv`: PASV.
    CurlPasv,
    /// `curl --ftp-port -`: EPRT.
    CurlEprt,
    /// `curl --ftp-port - --disable-eprt`: PORT.
    CurlPort,
    /// lftp, passive, PASV.
    LftpPassive,
    /// lftp, active, PORT.
    LftpActive,
    /// python ftplib, passive: PASV.
    FtplibPassive,
    /// python ftplib, active: PORT.
    FtplibActive,
}

/// One FTP session's job.
pub enum Op<'a> {
    Get { remote: &'a str, local: &'a Path },
    Put { local: &'a Path, remote: &'a str },
    List,
}

impl Client {
    /// The data-connection command this client must use, and only that one.
    pub fn announcement(self) -> &'static str {
        match self {
            Client::CurlEpsv => "EPSV",
            Client::CurlPasv | Client::LftpPassive | Client::FtplibPassive => "PASV",
            Client::CurlEprt => "EPRT",
            Client::CurlPort | Client::LftpActive | Client::FtplibActive => "PORT",
        }
    }

    /// Whether the server opens the data connections.
    pub fn active(self) -> bool {
        matches!(self.announcement(), "PORT" | "EPRT")
    }

    /// Runs one session doing `op` against `host` from the client's namespace; stdout holds
    /// a listing, stderr the client's view of the control dialogue.
    pub fn run(self, env: &LabEnv, lab: &Lab, layout: Layout, op: &Op) -> Output {
        let host = layout.server_dial();
        let role = layout.client_role();
        match self {
            Client::CurlEpsv | Client::CurlPasv | Client::CurlEprt | Client::CurlPort => {
                let mut args: Vec<String> = vec!["-sS".into(), "-v".into()];
                args.extend(
                    match self {
                        Client::CurlEpsv => &[][..],
                        Client::CurlPasv => &["--disable-epsv"][..],
                        Client::CurlEprt => &["--ftp-port", "-"][..],
                        _ => &["--ftp-port", "-", "--disable-eprt"][..],
                    }
                    .iter()
                    .map(|s| s.to_string()),
                );
                match op {
                    Op::Get { remote, local } => {
                        args.push("-o".into());
                        args.push(local.display().to_string());
                        args.push(format!("ftp://{host}/{remote}"));
                    }
                    Op::Put { local, remote } => {
                        args.push("-T".into());
                        args.push(local.display().to_string());
                        args.push(format!("ftp://{host}/{remote}"));
                    }
                    Op::List => args.push(format!("ftp://{host}/")),
                }
                lab.run(role, "curl", &args)
            }
            Client::LftpPassive | Client::LftpActive => {
                let passive = if self == Client::LftpPassive {
                    "on"
                } else {
                    "off"
                };
                let job = match op {
                    Op::Get { remote, local } => format!("get {remote} -o {}", local.display()),
                    Op::Put { local, remote } => format!("put {} -o {remote}", local.display()),
                    Op::List => "ls".to_string(),
                };
                let script = format!(
                    "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; \
                     set xfer:clobber on; set ftp:passive-mode {passive}; \
                     set ftp:prefer-epsv no; debug 5; {job}; bye"
                );
                lab.run(role, "lftp", &["-e", &script, &format!("ftp://{host}")])
            }
            Client::FtplibPassive | Client::FtplibActive => {
                let mut args: Vec<String> = vec![
                    script("ftp-client.py").display().to_string(),
                    "--host".into(),
                    host.into(),
                    "--verbose".into(),
                ];
                if self == Client::FtplibActive {
                    args.push("--active".into());
                }
                match op {
                    Op::Get { remote, local } => {
                        args.extend(["get".into(), remote.to_string()]);
                        args.push(local.display().to_string());
                    }
                    Op::Put { local, remote } => {
                        args.extend(["put".into(), local.display().to_string()]);
                        args.push(remote.to_string());
                    }
                    Op::List => args.push("list".into()),
                }
                // ftplib's --verbose dialogue goes to stdout; keep stdout for listings only
                // by moving the dialogue lines ("*cmd*", "*resp*") to stderr afterwards.
                let mut out = lab.run(role, &env.python, &args);
                split_ftplib_dialogue(&mut out);
                out
            }
        }
    }
}

/// Asserts the session succeeded, showing the client's dialogue when it did not.
pub fn check_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Moves ftplib's debug lines from stdout to stderr.
fn split_ftplib_dialogue(out: &mut Output) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (dialogue, listing): (Vec<&str>, Vec<&str>) = stdout
        .lines()
        .partition(|line| line.starts_with("*cmd*") || line.starts_with("*resp*"));
    let mut stderr = out.stderr.clone();
    for line in dialogue {
        stderr.extend_from_slice(line.as_bytes());
        stderr.push(b'\n');
    }
    out.stderr = stderr;
    out.stdout = listing.join("\n").into_bytes();
}

/// Data-connection commands ("PASV", "EPSV", "PORT", "EPRT") the server received, in order.
pub fn announcements(transcript: &str) -> Vec<&str> {
    transcript
        .lines()
        .filter_map(|line| line.strip_prefix("<- "))
        .filter_map(|cmd| cmd.split_whitespace().next())
        .filter(|cmd| matches!(*cmd, "PASV" | "EPSV" | "PORT" | "EPRT"))
        .collect()
}

/// `len` bytes from /dev/urandom.
pub fn random_bytes(len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0; len];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf
}
