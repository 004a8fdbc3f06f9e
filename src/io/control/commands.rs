//! The command-line side of `ftpgate status`, `flows`, `pinholes` and `reload`: their
//! arguments and what they print. Each finds the socket from `--socket PATH` or from the
//! `control.socket` of `--rules FILE`.
//!
//! Owns argument shapes and exit outcomes; it never talks to an engine except through the
//! socket.

use std::net::IpAddr;
use std::path::PathBuf;

use super::client;
use super::protocol::{FlowFilter, Request, Response};

/// Where the running gateway's control socket is.
#[derive(Debug, Clone, clap::Args)]
#[group(required = false, multiple = false)]
pub struct Target {
    /// The rule file the gateway runs with (its `control.socket` is used).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The control socket (default /run/ftpgate/ftpgate.sock).
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

/// `ftpgate flows` filters, like `conntrack -L`'s.
#[derive(Debug, Clone, clap::Args)]
pub struct FlowsArgs {
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Protocol: tcp, udp, icmp or a number.
    #[arg(short = 'p', long = "proto")]
    pub protocol: Option<String>,
    /// Original source address.
    #[arg(short = 's', long)]
    pub src: Option<IpAddr>,
    /// Original destination address.
    #[arg(short = 'd', long)]
    pub dst: Option<IpAddr>,
    /// Original source port.
    #[arg(long)]
    pub sport: Option<u16>,
    /// Original destination port.
    #[arg(long)]
    pub dport: Option<u16>,
    /// Reply source address.
    #[arg(short = 'r', long)]
    pub reply_src: Option<IpAddr>,
    /// Reply destination address (the NAT address of a masqueraded flow).
    #[arg(short = 'q', long)]
    pub reply_dst: Option<IpAddr>,
    /// List at most this many flows.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Which control command to run.
#[derive(Debug, Clone)]
pub enum Command {
    /// `status`.
    Status {
        /// Print JSON.
        json: bool,
    },
    /// `flows`.
    Flows(FlowsArgs),
    /// `pinholes`.
    Pinholes {
        /// Print JSON.
        json: bool,
    },
    /// `reload`.
    Reload,
}

/// Runs a control command against the gateway `target` names; returns what to print on
/// standard output, or the gateway's (or the transport's) error.
pub fn execute(target: &Target, command: Command) -> anyhow::Result<String> {
    let socket = client::socket_path(target.socket.as_deref(), target.rules.as_deref())?;
    let (request, json) = match &command {
        Command::Status { json } => (Request::Status, *json),
        Command::Flows(args) => (
            Request::Flows {
                filter: FlowFilter {
                    protocol: args.protocol.clone(),
                    src: args.src,
                    dst: args.dst,
                    sport: args.sport,
                    dport: args.dport,
                    reply_src: args.reply_src,
                    reply_dst: args.reply_dst,
                    limit: args.limit,
                },
            },
            args.json,
        ),
        Command::Pinholes { json } => (Request::Pinholes, *json),
        Command::Reload => (Request::Reload, false),
    };
    let response = client::request(&socket, &request)?;
    if let Response::Error { message } = &response {
        anyhow::bail!("{message}");
    }
    if json {
        let mut text = serde_json::to_string_pretty(&response)?;
        text.push('\n');
        return Ok(text);
    }
    Ok(match response {
        Response::Status(status) => super::render::status(&status),
        Response::Flows { flows, truncated } => super::render::flows(&flows, truncated),
        Response::Pinholes { pinholes } => super::render::pinholes(&pinholes),
        Response::Reloaded { message, .. } => format!("{message}\n"),
        Response::Error { message } => anyhow::bail!("{message}"),
    })
}
