//! vsftpd as a second obliging FTP server: standalone, anonymous read access to a temp dir,
//! and `port_promiscuous=YES`, so it connects wherever a PORT tells it to (a bounce's
//! victim). Its log (`vsftpd_log_file` with `log_ftp_protocol=YES`) records every command it
//! received, so a test can show a PORT never reached it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use tempfile::TempDir;

use super::ftp::terminate;
use super::net::{Lab, Layout};

/// A running vsftpd with its own configuration, root and log.
pub struct Vsftpd {
    child: Child,
    /// Holds the configuration, the served root, the empty chroot dir and the logs.
    dir: TempDir,
}

/// The configuration. vsftpd wants the anonymous root owned by root and not writable (it
/// refuses a writable one), and an empty directory no user can write for its unprivileged
/// processes (`secure_chroot_dir`). Anonymous sessions run as the `ftp` account (Debian's
/// package makes it), which needs an existing home directory even with `anon_root` set.
/// `seccomp_sandbox=NO`: vsftpd 3.0's seccomp filter kills its session processes where the
/// libc makes syscalls it does not list ("500 OOPS: child died").
fn config(listen: &str, root: &Path, empty: &Path, log: &Path) -> String {
    format!(
        "listen=YES
listen_ipv6=NO
listen_address={listen}
listen_port=21
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
no_anon_password=YES
anon_root={root}
secure_chroot_dir={empty}
port_enable=YES
port_promiscuous=YES
connect_from_port_20=NO
pasv_enable=YES
seccomp_sandbox=NO
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file={log}
",
        root = root.display(),
        empty = empty.display(),
        log = log.display(),
    )
}

impl Vsftpd {
    /// Starts `bin` where `layout`'s FTP server listens, in its namespace, and waits until it
    /// listens.
    pub fn start(bin: &Path, lab: &Lab, layout: Layout) -> Vsftpd {
        let dir = tempfile::Builder::new()
            .prefix("ftpgate-lab-vsftpd")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().join("root");
        let empty = dir.path().join("empty");
        for d in [&root, &empty] {
            std::fs::create_dir(d).expect("vsftpd dir");
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let conf = dir.path().join("vsftpd.conf");
        let listen = layout.server_listen();
        std::fs::write(
            &conf,
            config(listen, &root, &empty, &dir.path().join("vsftpd.log")),
        )
        .expect("vsftpd.conf");
        let stderr = std::fs::File::create(dir.path().join("stderr")).expect("stderr file");
        let mut cmd = lab.command(layout.server_role(), 600, bin, &[&conf]);
        cmd.stdout(Stdio::null()).stderr(stderr);
        let child = cmd.spawn().expect("start vsftpd");
        let mut server = Vsftpd { child, dir };
        let stderr = server.dir.path().join("stderr");
        lab.wait_listening(layout, "vsftpd", &mut server.child, &stderr);
        server
    }

    /// Puts a world-readable file (vsftpd serves no other to anonymous users) in the root.
    pub fn add_file(&self, name: &str, bytes: &[u8]) {
        let path = self.root().join(name);
        std::fs::write(&path, bytes).expect("vsftpd file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }

    /// The directory anonymous users see as `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// vsftpd's log: connections, logins, every command and reply (`FTP command: Client
    /// "198.51.100.1", "PORT 198,51,100,3,158,52"`) and every transfer (`OK DOWNLOAD`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vsftpd.log")).unwrap_or_default()
    }

    /// The commands vsftpd received, in order, without their clients ("PORT 198,51,100,3,158,52").
    pub fn commands(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|line| line.split_once("FTP command: Client \"").map(|(_, r)| r))
            .filter_map(|rest| rest.split_once("\", \"").map(|(_, c)| c))
            .map(|cmd| cmd.strip_suffix('"').unwrap_or(cmd).to_string())
            .collect()
    }
}

impl Drop for Vsftpd {
    fn drop(&mut self) {
        // The listener; the per-session processes end with their sessions, or with the lab.
        terminate(&mut self.child);
    }
}
