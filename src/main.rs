//! The `ftpgate` command: `check` a rule file, `replay` a capture through the engine, `run`
//! the gateway, and ask a running one for its `status`, `flows`, `pinholes` or a `reload`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Stateful NAT and firewall with an FTP application-layer gateway.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Recorded {
    /// On the gateway.
    Gateway,
    /// On an inside host.
    Inside,
}

/// `--checksums`: what replay does with transport checksums offload left unfinished.
#[derive(Clone, Copy, ValueEnum)]
enum Checksums {
    /// Find hosts whose checksums were left to the NIC and finish theirs.
    Auto,
    /// Change nothing; packets with bad checksums are dropped where the gateway verifies.
    Verify,
    /// Finish every wrong TCP/UDP checksum.
    Ignore,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway on the TUN device named in the rule file, until SIGINT or SIGTERM.
    Run {
        /// The YAML rule file.
        #[arg(long)]
        rules: PathBuf,
        /// Write the FTP transfer log (JSON lines) to this file (`-`: standard output).
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Validate a rule file and print the compiled policy.
    Check {
        /// The YAML rule file.
        file: PathBuf,
    },
    /// Run a pcap or pcapng capture through the engine and write the rewritten packets.
    Replay {
        /// The YAML rule file (says which side is inside).
        #[arg(long)]
        rules: PathBuf,
        /// The capture to read.
        input: PathBuf,
        /// Where to write the packets the engine accepted, rewritten.
        #[arg(long)]
        out: PathBuf,
        /// Where the capture was recorded: `gateway` (packets as they reached the gateway from
        /// both sides) or `inside` (on an inside host, no NAT on the path; the output then
        /// shows the outside wire).
        #[arg(long, value_enum, default_value_t = Recorded::Gateway)]
        recorded_at: Recorded,
        /// Write the FTP transfer log (JSON lines) to this file (`-`: standard output).
        #[arg(long)]
        log: Option<PathBuf>,
        /// Transport checksums left unfinished by offload (captures taken on the sending
        /// host): `auto` finishes those of hosts found offloading, `verify` changes nothing,
        /// `ignore` finishes every wrong one.
        #[arg(long, value_enum, default_value_t = Checksums::Auto)]
        checksums: Checksums,
    },
    /// Show a running gateway's counters and table sizes.
    Status {
        #[command(flatten)]
        target: control::Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a running gateway's flows (both tuples, translation, state, time left).
    Flows {
        #[command(flatten)]
        target: control::Target,
        #[command(flatten)]
        filter: control::FlowsArgs,
    },
    /// List a running gateway's FTP data-connection pinholes.
    Pinholes {
        #[command(flatten)]
        target: control::Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove the steering rules and routes a gateway that was killed left behind (a gateway
    /// that stops normally removes its own; `run` also removes leftovers when it starts).
    Cleanup,
    /// Make a running gateway re-read its rule file and swap its policy (as SIGHUP does).
    Reload {
        #[command(flatten)]
        target: control::Target,
    },
}

use ftpgate::io::control::commands as control;

fn control_command(target: &control::Target, command: control::Command) -> anyhow::Result<()> {
    print!("{}", control::execute(target, command)?);
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or a pipe gets plain `key=value` text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Check { file } => check(&file),
        Command::Run { rules, log } => run(&rules, log.as_deref()),
        Command::Replay {
            rules,
            input,
            out,
            recorded_at,
            log,
            checksums,
        } => replay(&rules, &input, &out, recorded_at, log, checksums),
        Command::Status { target, json } => {
            control_command(&target, control::Command::Status { json })
        }
        Command::Flows { target, filter } => {
            control_command(&target, control::Command::Flows(filter))
        }
        Command::Pinholes { target, json } => {
            control_command(&target, control::Command::Pinholes { json })
        }
        Command::Reload { target } => control_command(&target, control::Command::Reload),
        Command::Cleanup => {
            ftpgate::io::steering::Steering::remove_leftovers().map_err(anyhow::Error::from)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ftpgate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(rules: &std::path::Path, log: Option<&std::path::Path>) -> anyhow::Result<()> {
    let gateway = ftpgate::config::load_gateway(rules)?;
    let summary = ftpgate::io::run::run(gateway, log, rules)?;
    eprint!("{summary}");
    Ok(())
}

fn check(file: &std::path::Path) -> anyhow::Result<()> {
    // The whole file, `run`'s sections too (tun, interfaces, control, metrics).
    let gateway = ftpgate::config::load_gateway(file)?;
    print!("{}", ftpgate::config::describe(&gateway.engine));
    Ok(())
}

fn replay(
    rules: &std::path::Path,
    input: &std::path::Path,
    out: &std::path::Path,
    recorded_at: Recorded,
    log: Option<PathBuf>,
    checksums: Checksums,
) -> anyhow::Result<()> {
    use ftpgate::io::replay::{replay_file, RecordedAt, ReplayOptions};
    use ftpgate::io::replay_checksums::ChecksumMode;
    let settings = ftpgate::config::load_file(rules)?;
    let recorded_at = match recorded_at {
        Recorded::Gateway => RecordedAt::Gateway,
        Recorded::Inside => RecordedAt::Inside,
    };
    let log_on_stdout = log.as_deref().is_some_and(|path| path.as_os_str() == "-");
    let options = ReplayOptions {
        recorded_at,
        transfer_log: log,
        checksums: match checksums {
            Checksums::Auto => ChecksumMode::Auto,
            Checksums::Verify => ChecksumMode::Verify,
            Checksums::Ignore => ChecksumMode::Ignore,
        },
    };
    let summary = replay_file(settings, input, out, &options)?;
    if log_on_stdout {
        // Standard output carries the transfer log; the summary goes beside the diagnostics.
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    match summary.input_error {
        Some(error) => anyhow::bail!("{}: capture ended with an error: {error}", input.display()),
        None => Ok(()),
    }
}
