//! A transfer from its command to its final reply, and the transfer-log record it becomes:
//! which announcement it used, which data connection came, who and where.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::command::TransferVerb;
use super::expect::{DataMode, PinholeKey};
use super::transfer::TransferRecord;
use crate::engine::conntrack::{FlowDir, FlowKey};
use crate::engine::Flow;

/// An accepted announcement and the data connection it brought, once one came.
#[derive(Debug, Clone)]
pub struct Announced {
    /// Active or passive.
    pub mode: DataMode,
    /// PORT, EPRT, PASV or EPSV.
    pub by: &'static str,
    /// Its pinhole.
    pub key: PinholeKey,
    /// The pinhole's identity.
    pub id: u64,
    /// The data connection, once it connected.
    pub data: Option<Arc<Flow>>,
}

/// A transfer command and what it used.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// The command.
    pub verb: TransferVerb,
    /// Its argument as given.
    pub arg: String,
    /// The argument joined to the current directory.
    pub path: Option<String>,
    /// When the command was sent.
    pub started: Duration,
    /// The announcement it uses.
    pub announced: Option<Announced>,
    /// Checks its command, its announcement or its replies violated.
    pub violations: Vec<&'static str>,
}

impl Transfer {
    /// The data connection, once one came.
    pub fn data(&self) -> Option<&Arc<Flow>> {
        self.announced.as_ref().and_then(|a| a.data.as_ref())
    }
}

/// A transfer whose final reply has passed, waiting for its data connection to close (its
/// last segments may still be on their way when the reply overtakes them).
#[derive(Debug, Clone)]
pub struct Finished {
    /// The transfer.
    pub transfer: Transfer,
    /// The final reply's code.
    pub code: u16,
    /// The final reply's text.
    pub reply: String,
    /// When the final reply passed (when the record was flushed, if it is incomplete).
    pub at: Duration,
    /// Flushed before it finished (no final reply, or its data connection still open, when
    /// the replay ended): the record holds what was seen.
    pub incomplete: bool,
}

fn endpoint(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn key_ends(key: &FlowKey) -> (String, String) {
    (
        endpoint(key.src, key.src_port),
        endpoint(key.dst, key.dst_port),
    )
}

/// The log record of a finished transfer on `control` by `user`.
pub fn transfer_record(control: &Flow, user: Option<String>, finished: Finished) -> TransferRecord {
    let Finished {
        transfer,
        code,
        reply,
        at,
        incomplete,
    } = finished;
    let client_translated = control.translated_key(FlowDir::Original);
    // Each end as it sent (`data_orig`, `data_resp`) and as the other end saw it
    // (`*_translated`), as for the control connection.
    let (data_orig, data_resp, data_orig_translated, data_resp_translated, bytes, missing) =
        match transfer.data() {
            Some(flow) => {
                let (orig, resp_t) = key_ends(&flow.original);
                let (orig_t, resp) = key_ends(&flow.translated_key(FlowDir::Original));
                let state = flow.lock();
                let (bytes, missing) = (state.tcp_payload(), state.tcp_missing());
                (
                    Some(orig),
                    Some(resp),
                    Some(orig_t),
                    Some(resp_t),
                    bytes,
                    missing,
                )
            }
            None => (None, None, None, None, 0, 0),
        };
    let announced = transfer.announced.as_ref();
    TransferRecord {
        ts: transfer.started.as_secs_f64(),
        duration: at.saturating_sub(transfer.started).as_secs_f64(),
        client: endpoint(control.original.src, control.original.src_port),
        client_translated: endpoint(client_translated.src, client_translated.src_port),
        server: endpoint(control.reply.src, control.reply.src_port),
        server_translated: endpoint(control.original.dst, control.original.dst_port),
        data_orig,
        data_resp,
        data_orig_translated,
        data_resp_translated,
        user,
        command: transfer.verb.as_str().to_string(),
        path: transfer.path,
        arg: transfer.arg,
        direction: if transfer.verb.is_upload() {
            "upload"
        } else {
            "download"
        },
        mode: announced.map(|a| match a.mode {
            DataMode::Active => "active",
            DataMode::Passive => "passive",
        }),
        announced_by: announced.map(|a| a.by),
        bytes,
        missing_bytes: missing,
        reply_code: code,
        reply,
        violations: transfer.violations,
        incomplete,
    }
}
