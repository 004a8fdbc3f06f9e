//! The transfer log record: one per data transfer, and the path bookkeeping behind it.

use serde::Serialize;

/// One data transfer as the gateway saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferRecord {
    /// When the transfer command was sent (seconds since the engine's epoch; capture time
    /// in a replay).
    pub ts: f64,
    /// Seconds from the transfer command to its final reply.
    pub duration: f64,
    /// Control connection: client address:port as it sent.
    pub client: String,
    /// Control connection: client address:port as the server saw it.
    pub client_translated: String,
    /// Control connection: server address:port as it sent.
    pub server: String,
    /// Control connection: server address:port as the client saw it.
    pub server_translated: String,
    /// Data connection: initiator address:port as it sent, if one was made.
    pub data_orig: Option<String>,
    /// Data connection: responder address:port as it answered.
    pub data_resp: Option<String>,
    /// Data connection: initiator as the responder saw it.
    pub data_orig_translated: Option<String>,
    /// Data connection: responder as the initiator saw it.
    pub data_resp_translated: Option<String>,
    /// The user name given with USER (never the password).
    pub user: Option<String>,
    /// RETR, STOR, APPE, STOU, LIST, NLST or MLSD.
    pub command: String,
    /// The argument joined to the current directory (the directory itself for a listing
    /// without argument); `None` when the directory is unknown and the argument relative.
    pub path: Option<String>,
    /// The argument as given.
    pub arg: String,
    /// `upload` or `download`.
    pub direction: &'static str,
    /// `active` or `passive`; `None` when no data connection was announced.
    pub mode: Option<&'static str>,
    /// The announcement: PORT, EPRT, PASV or EPSV.
    pub announced_by: Option<&'static str>,
    /// Payload bytes the data connection carried that were seen (each byte once).
    pub bytes: u64,
    /// Sequence space the data connection advanced over that no seen segment carried (a gap
    /// in the capture), as Zeek's `missing_bytes`.
    pub missing_bytes: u64,
    /// The final reply's code; 0 when there was none (`incomplete`).
    pub reply_code: u16,
    /// The final reply's text.
    pub reply: String,
    /// The checks the transfer's command, announcement or replies violated (reported, and
    /// under `on_violation: monitor` not enforced).
    pub violations: Vec<&'static str>,
    /// Flushed when the replay ended before the transfer did: no final reply, or the data
    /// connection still open.
    pub incomplete: bool,
}

/// The directory after `CWD arg` from `cwd` (`None`: the login directory, before any
/// absolute directory was seen).
pub fn change_directory(cwd: Option<&str>, arg: &str) -> Option<String> {
    join(cwd, arg).map(|path| normalize(&path))
}

/// `arg` joined to `cwd`: absolute arguments stand alone. With no directory known (`None`,
/// a client that never sent PWD), the path is relative to the login directory (`.` for the
/// login directory itself).
pub fn join(cwd: Option<&str>, arg: &str) -> Option<String> {
    if arg.starts_with('/') {
        return Some(arg.to_string());
    }
    let Some(cwd) = cwd else {
        return Some(normalize(if arg.is_empty() { "." } else { arg }));
    };
    if arg.is_empty() {
        return Some(cwd.to_string());
    }
    Some(if cwd.ends_with('/') {
        format!("{cwd}{arg}")
    } else {
        format!("{cwd}/{arg}")
    })
}

/// The parent of a directory.
pub fn parent(cwd: Option<&str>) -> Option<String> {
    change_directory(cwd, "..")
}

/// Removes `.` and resolves `..` components; a relative path stays relative (`..` above its
/// start is kept, the start itself is `.`).
fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    match (absolute, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_string(),
        (false, false) => parts.join("/"),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn paths_follow_cwd_and_cdup() {
        assert_eq!(
            join(Some("/pub"), "robots.txt").as_deref(),
            Some("/pub/robots.txt")
        );
        assert_eq!(join(Some("/"), "a").as_deref(), Some("/a"));
        assert_eq!(join(None, "/etc/motd").as_deref(), Some("/etc/motd"));
        assert_eq!(join(None, "relative").as_deref(), Some("relative"));
        assert_eq!(join(None, "").as_deref(), Some("."));
        let sub = change_directory(None, "pub/./a");
        assert_eq!(sub.as_deref(), Some("pub/a"));
        assert_eq!(join(sub.as_deref(), "f").as_deref(), Some("pub/a/f"));
        assert_eq!(parent(Some("pub")).as_deref(), Some("."));
        assert_eq!(parent(None).as_deref(), Some(".."));
        assert_eq!(
            change_directory(Some(".."), "../x").as_deref(),
            Some("../../x")
        );
        assert_eq!(
            change_directory(Some("/pub/a"), "../b/./c").as_deref(),
            Some("/pub/b/c")
        );
        assert_eq!(parent(Some("/pub/a")).as_deref(), Some("/pub"));
        assert_eq!(parent(Some("/")).as_deref(), Some("/"));
    }
}
