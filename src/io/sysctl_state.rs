//! The sysctl values the steering changed, kept on disk while it runs: one file per network
//! namespace under [`STATE_DIR`], written before each value is changed, so that a run killed
//! before it could put them back (SIGKILL, a crash) has them put back by the next run or by
//! `ftpgate cleanup`.
//!
//! Owns that file only: it never decides which sysctls to set (the steering does), and it
//! never writes a sysctl other than one the file names, under `/proc/sys`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Where the state files live (the unit's `RuntimeDirectory`, kept across restarts).
pub const STATE_DIR: &str = "/run/ftpgate";

/// The state file of the network namespace this process runs in.
pub fn state_file() -> PathBuf {
    // `net:[4026531840]`: unique per namespace while it exists.
    let namespace = std::fs::read_link("/proc/self/ns/net")
        .ok()
        .and_then(|link| {
            let text = link.to_string_lossy().into_owned();
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            (!digits.is_empty()).then_some(digits)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Path::new(STATE_DIR).join(format!("sysctls-net-{namespace}"))
}

/// Records `saved` (sysctl file, value before the steering changed it), replacing what the
/// file held.
pub fn save(file: &Path, saved: &[(PathBuf, String)]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = String::new();
    for (path, value) in saved {
        text.push_str(&format!("{}\t{value}\n", path.display()));
    }
    let partial = file.with_extension("new");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, file)
}

/// Puts back every value the file names (the first one recorded for a path wins: that is the
/// value before any change), then removes the file. Returns how many were put back. A path
/// outside `/proc/sys`, or one that no longer exists (a TUN device's own entries), is skipped.
pub fn restore(file: &Path) -> std::io::Result<usize> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut done: Vec<&str> = Vec::new();
    for line in text.lines() {
        let Some((path, value)) = line.split_once('\t') else {
            continue;
        };
        let inside_proc_sys = Path::new(path).starts_with("/proc/sys") && !path.contains("..");
        if !inside_proc_sys || done.contains(&path) || !Path::new(path).exists() {
            continue;
        }
        if let Err(err) = std::fs::write(path, value) {
            tracing::warn!(path, error = %err, "cannot restore sysctl");
            continue;
        }
        done.push(path);
    }
    forget(file)?;
    Ok(done.len())
}

/// Removes the file (the values were put back by the run itself).
pub fn forget(file: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(file) {
        Err(err) if err.kind() != ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn saved_values_round_trip_and_foreign_paths_are_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state");
        assert_eq!(restore(&file).unwrap(), 0, "no file, nothing to do");
        let outside = dir.path().join("not-a-sysctl");
        std::fs::write(&outside, "keep").unwrap();
        let saved = vec![
            (outside.clone(), "overwritten?".to_owned()),
            (PathBuf::from("/proc/sys/net/../../etc/x"), "1".to_owned()),
            (PathBuf::from("/proc/sys/net/no/such/entry"), "1".to_owned()),
        ];
        save(&file, &saved).unwrap();
        assert!(file.exists());
        assert_eq!(restore(&file).unwrap(), 0);
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert!(!file.exists(), "removed once restored");
    }

    #[test]
    fn the_state_file_is_named_after_the_network_namespace() {
        let name = state_file();
        assert!(name.starts_with(STATE_DIR));
        let text = name.to_string_lossy().into_owned();
        assert!(text.contains("sysctls-net-"), "{text}");
    }
}
