//! Whether this machine can run the lab: root, network namespaces, the tools, a python with
//! pyftpdlib. A missing tool is installed once with `scripts/lab-deps.sh`; what still fails
//! becomes a skip reason (testkit/src/skip.rs: a failure under `CI=true`). Checked once per
//! test binary. vsftpd and ProFTPD, which only the attack tests need, are checked on their own
//! (`vsftpd`, `proftpd`), so their absence skips those tests alone.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::skip::skip;

/// Commands the lab scripts and the clients run, whatever the mode.
const TOOLS: &[&str] = &[
    "ip",
    "nft",
    "curl",
    "lftp",
    "sysctl",
    "setsid",
    "timeout",
    "sha256sum",
    "ping",
];

/// What the tests need to know about the machine once it is fit for the lab.
#[derive(Debug)]
pub struct LabEnv {
    /// An interpreter that imports pyftpdlib (absolute path).
    pub python: PathBuf,
}

/// The crate root.
pub fn repo_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `scripts/NAME` in the crate.
pub fn script(name: &str) -> PathBuf {
    repo_dir().join("scripts").join(name)
}

/// The lab environment, or why the lab tests must be skipped on this machine.
pub fn lab_env() -> Result<&'static LabEnv, &'static str> {
    static ENV: OnceLock<Result<LabEnv, String>> = OnceLock::new();
    ENV.get_or_init(probe).as_ref().map_err(String::as_str)
}

/// Runs the check and prints `skipped: REASON` when the lab cannot run here.
pub fn lab_env_or_skip(test: &str) -> Option<&'static LabEnv> {
    match lab_env() {
        Ok(env) => Some(env),
        Err(reason) => {
            skip(test, reason);
            None
        }
    }
}

fn probe() -> Result<LabEnv, String> {
    if !is_root() {
        return Err("the lab needs root (network namespaces, nftables, TUN)".into());
    }
    if missing_tools().is_some() || find_python().is_none() {
        install_deps();
    }
    if let Some(missing) = missing_tools() {
        return Err(format!(
            "missing {} and scripts/lab-deps.sh could not install it",
            missing.join(", ")
        ));
    }
    let python = find_python()
        .ok_or("no python3 with pyftpdlib, and scripts/lab-deps.sh could not install it")?;
    namespaces_work()?;
    Ok(LabEnv { python })
}

/// Runs `scripts/lab-deps.sh`, at most once per test binary; its output explains failures.
fn install_deps() {
    static RAN: OnceLock<()> = OnceLock::new();
    RAN.get_or_init(|| {
        let status = Command::new("bash")
            .arg(script("lab-deps.sh"))
            .stdin(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            println!("lab-deps.sh did not finish cleanly: {status:?}");
        }
    });
}

/// The vsftpd binary, or why the tests that run it must be skipped: like `lab_env`, with one
/// try at installing it. Call it after `lab_env` (it needs root to install).
pub fn vsftpd() -> Result<&'static Path, &'static str> {
    static VSFTPD: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VSFTPD
        .get_or_init(|| {
            if find_vsftpd().is_none() {
                install_deps();
            }
            let bin =
                find_vsftpd().ok_or("no vsftpd, and scripts/lab-deps.sh could not install it")?;
            // Anonymous sessions run as `ftp` (vsftpd's ftp_username), which the package adds.
            let account = Command::new("getent").args(["passwd", "ftp"]).output();
            match account {
                Ok(out) if out.status.success() => Ok(bin),
                _ => Err(
                    "vsftpd is installed, but there is no ftp account for its anonymous \
                          sessions (reinstall the vsftpd package)"
                        .into(),
                ),
            }
        })
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(String::as_str)
}

/// `vsftpd`, printing `skipped: REASON` when it is missing.
pub fn vsftpd_or_skip(test: &str) -> Option<&'static Path> {
    match vsftpd() {
        Ok(path) => Some(path),
        Err(reason) => {
            skip(test, reason);
            None
        }
    }
}

/// Where `scripts/lab-deps.sh` unpacks Debian's proftpd-core (the package conflicts with
/// vsftpd's, so it is not installed as one).
pub const PROFTPD: &str = "/opt/ftpgate-lab/proftpd/usr/sbin/proftpd";

/// The ProFTPD binary, or why the tests that run it must be skipped: like `vsftpd`, with one
/// try at unpacking it, and the `ftp` account its anonymous sessions run as.
pub fn proftpd() -> Result<&'static Path, &'static str> {
    static PROFTPD_BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PROFTPD_BIN
        .get_or_init(|| {
            if !proftpd_runs() {
                install_deps();
            }
            if !proftpd_runs() {
                return Err(format!(
                    "{PROFTPD} is missing or does not run (ldd it), and scripts/lab-deps.sh \
                     could not unpack it"
                ));
            }
            match Command::new("getent").args(["passwd", "ftp"]).output() {
                Ok(out) if out.status.success() => Ok(PathBuf::from(PROFTPD)),
                _ => Err("no ftp account for ProFTPD's anonymous sessions \
                          (the vsftpd package adds it)"
                    .into()),
            }
        })
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(String::as_str)
}

/// `proftpd`, printing `skipped: REASON` (failing under `CI=true`) when it is missing.
pub fn proftpd_or_skip(test: &str) -> Option<&'static Path> {
    match proftpd() {
        Ok(path) => Some(path),
        Err(reason) => {
            skip(test, reason);
            None
        }
    }
}

fn proftpd_runs() -> bool {
    Command::new(PROFTPD)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// vsftpd on PATH or in /usr/sbin (where Debian puts it, and which a PATH may lack).
fn find_vsftpd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("vsftpd"))
        .find(|bin| bin.is_file())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(cmd).is_file()))
}

fn missing_tools() -> Option<Vec<&'static str>> {
    let missing: Vec<&'static str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    (!missing.is_empty()).then_some(missing)
}

/// The first of `python3` (on PATH) and `/usr/bin/python3` that imports pyftpdlib, as the
/// interpreter's own path (a pyenv shim resolves to the real binary).
fn find_python() -> Option<PathBuf> {
    ["python3", "/usr/bin/python3"].iter().find_map(|py| {
        let out = Command::new(py)
            .args(["-c", "import sys, pyftpdlib; print(sys.executable)"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let path = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
    })
}

/// Creates and deletes one namespace, so a sandbox without them skips instead of failing.
fn namespaces_work() -> Result<(), String> {
    let name = format!("ftlprobe{}", std::process::id());
    let add = Command::new("ip")
        .args(["netns", "add", &name])
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if !add.status.success() {
        return Err(format!(
            "cannot create a network namespace: {}",
            String::from_utf8_lossy(&add.stderr).trim()
        ));
    }
    let del = Command::new("ip").args(["netns", "del", &name]).output();
    match del {
        Ok(out) if out.status.success() => Ok(()),
        other => Err(format!("cannot delete namespace {name}: {other:?}")),
    }
}
