//! ProFTPD as an obliging FTP server for the Telnet IAC attack: standalone, anonymous read
//! access to a temp dir, `AllowForeignAddress on` (it obeys a PORT naming a third host), no
//! DNS or ident lookups (the lab has no resolver), and an `ExtendedLog` of every command it
//! read, after its own Telnet processing, so a test can show what it obeyed. It never
//! starts outside the lab namespace it is given, and never touches /etc/proftpd.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use tempfile::TempDir;

use super::ftp::terminate;
use super::net::{Lab, Layout};

/// A running ProFTPD with its own configuration, root and logs.
pub struct Proftpd {
    child: Child,
    /// Holds the configuration, the served root, the pid and scoreboard files and the logs.
    dir: TempDir,
}

/// The configuration. ProFTPD runs as root in the namespace and drops to `nobody` (its
/// sessions to `ftp` for anonymous logins); the served root must be readable by them, and
/// its logs must not sit in a world-writable directory (the temp dir is root's, 0755).
fn config(listen: &str, dir: &Path, root: &Path) -> String {
    let d = dir.display();
    format!(
        "ServerType standalone
ServerName \"ftpgate lab ProFTPD\"
UseIPv6 off
Port 21
DefaultAddress {listen}
SocketBindTight on
User nobody
Group nogroup
PidFile {d}/proftpd.pid
ScoreboardFile {d}/proftpd.scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
<IfModule mod_ident.c>
  IdentLookups off
</IfModule>
AuthPAM off
RequireValidShell off
AllowForeignAddress on
SystemLog {d}/system.log
LogFormat commands \"%m %J\"
ExtendedLog {d}/commands.log ALL commands
TransferLog {d}/xfer.log
<Anonymous {root}>
  User ftp
  Group nogroup
  UserAlias anonymous ftp
  RequireValidShell off
  <Limit WRITE>
    DenyAll
  </Limit>
</Anonymous>
",
        root = root.display(),
    )
}

impl Proftpd {
    /// Starts `bin` where `layout`'s FTP server listens, in its namespace, and waits until it
    /// listens.
    pub fn start(bin: &Path, lab: &Lab, layout: Layout) -> Proftpd {
        let dir = tempfile::Builder::new()
            .prefix("ftpgate-lab-proftpd")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("proftpd root");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let listen = layout.server_listen();
        let conf = dir.path().join("proftpd.conf");
        std::fs::write(&conf, config(listen, dir.path(), &root)).expect("proftpd.conf");
        let stderr = std::fs::File::create(dir.path().join("stderr")).expect("stderr file");
        let args = ["--nodaemon".into(), "-c".into(), conf.into_os_string()];
        let mut cmd = lab.command(layout.server_role(), 600, bin, &args);
        cmd.stdout(Stdio::null()).stderr(stderr);
        let child = cmd.spawn().expect("start proftpd");
        let mut server = Proftpd { child, dir };
        let stderr = server.dir.path().join("stderr");
        lab.wait_listening(layout, "proftpd", &mut server.child, &stderr);
        server
    }

    /// Puts a world-readable file in the anonymous root.
    pub fn add_file(&self, name: &str, bytes: &[u8]) {
        let path = self.root().join(name);
        std::fs::write(&path, bytes).expect("proftpd file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }

    /// The directory anonymous users see as `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The commands ProFTPD read, one per line as it understood them ("PORT
    /// 198,51,100,3,158,52", "PASS (hidden)").
    pub fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("commands.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| line.trim_end().to_string())
            .collect()
    }

    /// What ProFTPD printed: startup, sessions, why it would not start.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for Proftpd {
    fn drop(&mut self) {
        // The listener; the session processes end with their sessions, or with the lab.
        terminate(&mut self.child);
    }
}
