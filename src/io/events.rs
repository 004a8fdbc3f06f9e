//! Where the engine's events go: transfer records to the transfer log (JSON lines, a file or
//! standard output), rule hits and FTP violations to the diagnostic log. Shared by `replay`
//! and `run`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::engine::{Engine, Event};

/// Why the transfer log could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write the transfer log: {source}")]
pub struct LogError {
    /// The log file (`-` for standard output).
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Counts of what was drained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Rule hits with `log: true`.
    pub rule_hits: u64,
    /// FTP transfers logged.
    pub transfers: u64,
}

/// The consumer of engine events.
pub struct EventSink {
    log: Option<(PathBuf, BufWriter<Box<dyn Write + Send>>)>,
    /// Added to engine times in records: the wall-clock time of the engine's epoch (zero
    /// when engine time already is wall-clock time, as in a replay).
    epoch_offset: f64,
    /// What has been drained so far.
    pub counts: EventCounts,
    /// Where transfers are also counted for the metrics endpoint (`run` only).
    tally: Option<std::sync::Arc<super::metrics::TransferTally>>,
}

impl EventSink {
    /// A sink writing transfer records to `path` (`-`: standard output), or nowhere.
    pub fn create(path: Option<&Path>) -> Result<Self, LogError> {
        let log = match path {
            Some(path) if path.as_os_str() == "-" => {
                let out: Box<dyn Write + Send> = Box::new(std::io::stdout());
                Some((path.to_owned(), BufWriter::new(out)))
            }
            Some(path) => {
                let file = File::create(path).map_err(|source| LogError {
                    path: path.to_owned(),
                    source,
                })?;
                let out: Box<dyn Write + Send> = Box::new(file);
                Some((path.to_owned(), BufWriter::new(out)))
            }
            None => None,
        };
        Ok(Self {
            log,
            epoch_offset: 0.0,
            counts: EventCounts::default(),
            tally: None,
        })
    }

    /// Records carry wall-clock time: the engine's time zero was `epoch` (since the Unix epoch).
    pub fn with_epoch(mut self, epoch: std::time::Duration) -> Self {
        self.epoch_offset = epoch.as_secs_f64();
        self
    }

    /// Transfers are also counted, by direction and mode, in `tally`.
    pub fn with_tally(mut self, tally: std::sync::Arc<super::metrics::TransferTally>) -> Self {
        self.tally = Some(tally);
        self
    }

    /// Takes every pending event from the engine.
    pub fn drain(&mut self, engine: &Engine) -> Result<(), LogError> {
        while let Some(event) = engine.poll_event() {
            self.handle(event)?;
        }
        Ok(())
    }

    /// Flushes the transfer log.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if let Some((path, log)) = &mut self.log {
            log.flush().map_err(|source| LogError {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Writes or logs one event.
    pub fn handle(&mut self, event: Event) -> Result<(), LogError> {
        match event {
            Event::RuleMatched {
                rule, action, flow, ..
            } => {
                self.counts.rule_hits += 1;
                tracing::info!(
                    target: "ftpgate::rules",
                    rule = %rule,
                    action = ?action,
                    direction = ?flow.direction,
                    flow = %flow.key,
                    "rule matched"
                );
            }
            Event::Transfer(mut record) => {
                self.counts.transfers += 1;
                if let Some(tally) = &self.tally {
                    tally.add(record.direction, record.mode, record.bytes);
                }
                record.ts += self.epoch_offset;
                if let Some((path, log)) = &mut self.log {
                    serde_json::to_writer(&mut *log, &record)
                        .map_err(std::io::Error::from)
                        .and_then(|()| log.write_all(b"\n"))
                        .map_err(|source| LogError {
                            path: path.clone(),
                            source,
                        })?;
                }
            }
            Event::FtpViolation {
                control,
                from,
                check,
                line,
                outcome,
                ..
            } => {
                tracing::warn!(
                    target: "ftpgate::ftp",
                    control = %control,
                    from = ?from,
                    check,
                    line = %line,
                    outcome,
                    "ftp line refused"
                );
            }
            Event::LimitReached { limit, host, .. } => {
                tracing::warn!(target: "ftpgate::limits", limit, host = %host, "limit reached");
            }
            Event::FtpNotice {
                control,
                notice,
                line,
                ..
            } => {
                tracing::info!(
                    target: "ftpgate::ftp",
                    control = %control,
                    notice,
                    line = %line,
                    "ftp line allowed by policy"
                );
            }
        }
        Ok(())
    }
}
