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
    /// Payload bytes carried by the data connection.
    pub bytes: u64,
    /// The final reply's code.
    pub reply_code: u16,
    /// The final reply's text.
    pub reply: String,
}

/// The directory after `CWD arg` from `cwd` (None when it cannot be known).
pub fn change_directory(cwd: Option<&str>, arg: &str) -> Option<String> {
    join(cwd, arg).map(|path| normalize(&path))
}

/// `arg` joined to `cwd`: absolute arguments stand alone.
pub fn join(cwd: Option<&str>, arg: &str) -> Option<String> {
    if arg.starts_with('/') {
        return Some(arg.to_string());
    }
    let cwd = cwd?;
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

/// Removes `.` and resolves `..` components.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
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
        assert_eq!(join(None, "relative"), None);
        assert_eq!(
            change_directory(Some("/pub/a"), "../b/./c").as_deref(),
            Some("/pub/b/c")
        );
        assert_eq!(parent(Some("/pub/a")).as_deref(), Some("/pub"));
        assert_eq!(parent(Some("/")).as_deref(), Some("/"));
    }
}
