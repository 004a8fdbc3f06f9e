//! Whether this machine can run the lab: root, network namespaces, the tools, a python with
//! pyftpdlib. A missing tool is installed once with `scripts/lab-deps.sh`; what still fails
//! becomes a skip reason. Checked once per test binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

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
            println!("skipped: {test}: {reason}");
            None
        }
    }
}

fn probe() -> Result<LabEnv, String> {
    if !is_root() {
        return Err("the lab needs root (network namespaces, nftables, TUN)".into());
    }
    if missing_tools().is_some() || find_python().is_none() {
        // One try at installing; its output explains failures.
        let status = Command::new("bash")
            .arg(script("lab-deps.sh"))
            .stdin(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            println!("lab-deps.sh did not finish cleanly: {status:?}");
        }
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
