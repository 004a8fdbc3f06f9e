//! One lab (four network namespaces around a gateway) per test, built and torn down with
//! `scripts/lab.sh`. The guard takes the lab down when dropped, also when the test panics.
//! Shared by tests/lab.rs and tests/lab_attacks.rs, each of which uses only part of it.
#![allow(dead_code)]

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::env::{repo_dir, script};
use super::skip::skip;

/// Who does the NAT in the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Linux: nftables masquerade (and DNAT) with the kernel's FTP helper.
    Kernel,
    /// `ftpgate run` on a TUN device, fed by policy routing.
    Ftpgate,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Kernel => "kernel",
            Mode::Ftpgate => "ftpgate",
        }
    }
}

/// Which side of the gateway the FTP server is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Client 10.77.0.2 inside (masqueraded), server 198.51.100.2 outside.
    ClientInside,
    /// Server 10.77.0.10 inside behind the forward of 198.51.100.1:21, client 198.51.100.2
    /// outside.
    ServerInside,
}

impl Layout {
    fn arg(self) -> &'static str {
        match self {
            Layout::ClientInside => "client-inside",
            Layout::ServerInside => "server-inside",
        }
    }

    /// The namespace the FTP server runs in.
    pub fn server_role(self) -> Role {
        match self {
            Layout::ClientInside => Role::Server,
            Layout::ServerInside => Role::Client,
        }
    }

    /// The namespace the FTP client runs in.
    pub fn client_role(self) -> Role {
        match self {
            Layout::ClientInside => Role::Client,
            Layout::ServerInside => Role::Server,
        }
    }

    /// The address the FTP server listens on.
    pub fn server_listen(self) -> &'static str {
        match self {
            Layout::ClientInside => "198.51.100.2",
            Layout::ServerInside => "10.77.0.10",
        }
    }

    /// The address the FTP client connects to.
    pub fn server_dial(self) -> &'static str {
        match self {
            Layout::ClientInside => "198.51.100.2",
            Layout::ServerInside => "198.51.100.1",
        }
    }
}

/// A namespace of the lab (`lab.sh exec PREFIX ROLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The inside host.
    Client,
    /// The gateway.
    Gw,
    /// The outside host 198.51.100.2.
    Server,
    /// The second outside host 198.51.100.3.
    Third,
}

impl Role {
    fn arg(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Gw => "gw",
            Role::Server => "server",
            Role::Third => "third",
        }
    }
}

/// Why `Lab::up` did not give a lab.
#[derive(Debug)]
pub enum UpError {
    /// The machine cannot do this mode (the kernel lacks the FTP helper, say): skip.
    Unavailable(String),
    /// Anything else: fail.
    Failed(String),
}

/// Options for `ftpgate` mode.
#[derive(Clone, Debug)]
pub struct FtpgateOpts {
    pub bin: PathBuf,
    pub rules: PathBuf,
    pub log: PathBuf,
}

impl FtpgateOpts {
    /// The ftpgate binary under test with the lab's rule file (rules/lab.yaml), logging
    /// transfers to `log`.
    pub fn ftpgate(log: PathBuf) -> FtpgateOpts {
        FtpgateOpts {
            bin: env!("CARGO_BIN_EXE_ftpgate").into(),
            rules: repo_dir().join("rules/lab.yaml"),
            log,
        }
    }
}

/// Brings up the lab, or `None` (with a printed reason; a panic under `CI=true`) when this
/// machine cannot run it.
pub fn lab_or_skip(
    test: &str,
    mode: Mode,
    layout: Layout,
    ftpgate: Option<&FtpgateOpts>,
) -> Option<Lab> {
    match Lab::up(test, mode, layout, ftpgate) {
        Ok(lab) => Some(lab),
        Err(UpError::Unavailable(reason)) => {
            skip(test, reason.trim());
            None
        }
        Err(UpError::Failed(err)) => panic!("{err}"),
    }
}

/// `lab.sh state PREFIX`: the lab's state directory (mode, layout, ftpgate's output).
pub fn state_dir(prefix: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(script("lab.sh"))
        .args(["state", prefix])
        .output()
        .expect("lab.sh state");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A lab that is up. Dropping it runs `lab.sh down PREFIX`.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    up: bool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `ftl` + pid + a per-process counter + a hash of the test name, in hex: unique between
/// tests of one run and between runs at once, and at most 15 characters.
fn unique_prefix(test: &str) -> String {
    let mut hasher = DefaultHasher::new();
    test.hash(&mut hasher);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) % 256;
    let pid = std::process::id() & 0x3f_ffff;
    format!("ftl{pid:x}{n:02x}{:04x}", hasher.finish() & 0xffff)
}

impl Lab {
    /// Brings up a lab for `test`.
    pub fn up(
        test: &str,
        mode: Mode,
        layout: Layout,
        ftpgate: Option<&FtpgateOpts>,
    ) -> Result<Lab, UpError> {
        Lab::up_with_env(test, mode, layout, ftpgate, &[])
    }

    /// `up`, with extra environment variables for lab.sh (FTPGATE_LAB_TUN_TIMEOUT, say).
    pub fn up_with_env(
        test: &str,
        mode: Mode,
        layout: Layout,
        ftpgate: Option<&FtpgateOpts>,
        envs: &[(&str, &str)],
    ) -> Result<Lab, UpError> {
        let prefix = unique_prefix(test);
        let mut cmd = Command::new("bash");
        cmd.envs(envs.iter().copied());
        cmd.arg(script("lab.sh")).args([
            "up",
            &prefix,
            "--mode",
            mode.arg(),
            "--layout",
            layout.arg(),
        ]);
        if let Some(opts) = ftpgate {
            cmd.arg("--ftpgate")
                .arg(&opts.bin)
                .arg("--rules")
                .arg(&opts.rules)
                .arg("--log")
                .arg(&opts.log);
            // The Python stand-in does not steer; lab.sh does it for it.
            if opts.bin.ends_with("tun_standin.py") {
                cmd.args(["--steering", "script"]);
            }
        }
        // From here on the guard owns the prefix: a half-built lab is torn down too (lab.sh
        // does it itself on failure; down is idempotent).
        let lab = Lab { prefix, up: true };
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| UpError::Failed(format!("cannot run lab.sh: {e}")))?;
        if out.status.success() {
            return Ok(lab);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.contains("kernel mode unavailable") {
            Err(UpError::Unavailable(stderr))
        } else {
            Err(UpError::Failed(format!(
                "lab.sh up {} failed ({}):\n{stderr}",
                lab.prefix, out.status
            )))
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// What ftpgate (ftpgate mode) has written to its stderr so far: its warnings, the
    /// refused FTP lines among them. Empty in kernel mode.
    pub fn ftpgate_stderr(&self) -> String {
        std::fs::read_to_string(state_dir(&self.prefix).join("ftpgate.stderr")).unwrap_or_default()
    }

    /// ftpgate's stderr once `logged` holds for it, or after 5 s if it never does. ftpgate
    /// logs events (refused lines, notices) from its housekeeping thread, which drains them
    /// every 250 ms, so a line may come a little after the packet that caused it.
    pub fn ftpgate_stderr_once(&self, logged: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stderr = self.ftpgate_stderr();
            if logged(&stderr) || Instant::now() >= deadline {
                return stderr;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A command that runs `program args...` in `role`'s namespace, killed after `secs`.
    pub fn command<S: AsRef<OsStr>>(
        &self,
        role: Role,
        secs: u32,
        program: impl AsRef<OsStr>,
        args: &[S],
    ) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(script("lab.sh"))
            .args(["exec", &self.prefix, role.arg(), "--", "timeout", "-k", "5"])
            .arg(secs.to_string())
            .arg(program)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `program args...` in `role`'s namespace and returns its output, whatever its status.
    pub fn run<S: AsRef<OsStr>>(
        &self,
        role: Role,
        program: impl AsRef<OsStr>,
        args: &[S],
    ) -> Output {
        let mut cmd = self.command(role, 60, program, args);
        match cmd.output() {
            Ok(out) => out,
            Err(err) => panic!("cannot run {cmd:?}: {err}"),
        }
    }

    /// Waits, 15 s at most, until the FTP server `name` just started as `child` in `layout`'s
    /// server namespace listens on port 21 of its address; panics with what it wrote to
    /// `stderr` if it exits first or never listens.
    pub fn wait_listening(&self, layout: Layout, name: &str, child: &mut Child, stderr: &Path) {
        let printed = || std::fs::read_to_string(stderr).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(15);
        let socket = format!("{}:21", layout.server_listen());
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name} exited ({status}): {}", printed());
            }
            let ss = self.run(layout.server_role(), "ss", &["-Hltn"]);
            if String::from_utf8_lossy(&ss.stdout)
                .split_whitespace()
                .any(|word| word == socket)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} not listening on {socket} after 15 s: {}",
                printed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SHA-256 of `path`, computed in `role`'s namespace.
    pub fn sha256(&self, role: Role, path: &Path) -> String {
        let out = self.run(role, "sha256sum", &[path]);
        assert!(
            out.status.success(),
            "sha256sum {}: {out:?}",
            path.display()
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// Takes the lab down now (ftpgate gets SIGTERM, so it can finish its log) and reports
    /// a failure to do so.
    pub fn down(mut self) -> Result<(), String> {
        self.up = false;
        down(&self.prefix)
    }
}

fn down(prefix: &str) -> Result<(), String> {
    let out = Command::new("bash")
        .arg(script("lab.sh"))
        .args(["down", prefix])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run lab.sh down {prefix}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "lab.sh down {prefix}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.up {
            if let Err(err) = down(&self.prefix) {
                eprintln!("{err}");
            }
        }
    }
}
