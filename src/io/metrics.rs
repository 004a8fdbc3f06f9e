//! The Prometheus endpoint of `ftpgate run` (`metrics.listen`, off by default): a minimal
//! HTTP/1.0 server on its own thread answering `GET /metrics` with the OpenMetrics text that
//! the prometheus-client crate encodes from a fresh snapshot of the engine's counters, or,
//! for a client that does not ask for OpenMetrics (`Accept`), the same metrics in the classic
//! Prometheus text format (what `promtool check metrics` reads).
//!
//! Owns the listening socket, the metric names (all `ftpgate_`) and the per-scrape registry.
//! It never changes the engine, and a client cannot stall anything but this thread: requests
//! are bounded in size and time and served one at a time.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::reload::Reloader;
use super::tun::IoErrors;
use crate::engine::Engine;

/// Longest request head read.
const MAX_REQUEST: usize = 8192;
/// How long a client may take to send its request or take the page.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// `(direction, mode)` of a transfer.
type TransferKind = (&'static str, &'static str);

/// FTP transfers logged, by direction and mode: (transfers, bytes). Filled by the event sink.
#[derive(Debug, Default)]
pub struct TransferTally {
    by: Mutex<BTreeMap<TransferKind, (u64, u64)>>,
}

impl TransferTally {
    /// Counts one transfer.
    pub fn add(&self, direction: &'static str, mode: Option<&'static str>, bytes: u64) {
        let mut by = self.by.lock();
        let entry = by
            .entry((direction, mode.unwrap_or("unknown")))
            .or_default();
        entry.0 += 1;
        entry.1 += bytes;
    }

    fn snapshot(&self) -> Vec<(TransferKind, (u64, u64))> {
        self.by.lock().iter().map(|(k, v)| (*k, *v)).collect()
    }
}

/// The bound metrics socket.
pub struct MetricsEndpoint {
    listener: TcpListener,
}

type Labels = Vec<(String, String)>;

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let metric = Counter::<u64>::default();
    metric.inc_by(value);
    registry.register(name, help, metric);
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: usize) {
    let metric = Gauge::<i64>::default();
    metric.set(i64::try_from(value).unwrap_or(i64::MAX));
    registry.register(name, help, metric);
}

fn labelled_counter(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels, u64)>,
) {
    let family = Family::<Labels, Counter<u64>>::default();
    for (labels, value) in values {
        family.get_or_create(&labels).inc_by(value);
    }
    registry.register(name, help, family);
}

/// Which of a queue's counters a per-queue metric shows.
type QueueCounter = fn(&IoErrors) -> &AtomicU64;

fn label(key: &str, value: impl Into<String>) -> Labels {
    vec![(key.to_owned(), value.into())]
}

/// The page: every metric from one snapshot, OpenMetrics text.
pub fn render(
    engine: &Engine,
    queues: &[IoErrors],
    reloader: &Reloader,
    transfers: &TransferTally,
) -> String {
    let stats = engine.stats();
    let mut registry = Registry::with_prefix("ftpgate");
    counter(
        &mut registry,
        "packets",
        "Packets the engine processed",
        stats.packets,
    );
    counter(
        &mut registry,
        "packets_accepted",
        "Packets forwarded",
        stats.accepted,
    );
    counter(
        &mut registry,
        "packets_answered",
        "Packets answered with a RST or ICMP error instead of forwarded",
        stats.responded,
    );
    labelled_counter(
        &mut registry,
        "drops",
        "Packets not forwarded, by reason",
        stats
            .dropped
            .iter()
            .map(|(reason, n)| (label("reason", reason.name()), *n)),
    );
    labelled_counter(
        &mut registry,
        "ftp_refusals",
        "FTP lines refused, by check",
        stats
            .ftp_violations
            .iter()
            .map(|(check, n)| (label("check", *check), *n)),
    );
    let tally = transfers.snapshot();
    let by_mode = |(direction, mode): (&str, &str)| {
        vec![
            ("direction".to_owned(), direction.to_owned()),
            ("mode".to_owned(), mode.to_owned()),
        ]
    };
    labelled_counter(
        &mut registry,
        "ftp_transfers",
        "FTP transfers logged, by direction and mode",
        tally.iter().map(|(key, (n, _))| (by_mode(*key), *n)),
    );
    labelled_counter(
        &mut registry,
        "ftp_transfer_bytes",
        "Bytes of FTP transfers logged, by direction and mode",
        tally
            .iter()
            .map(|(key, (_, bytes))| (by_mode(*key), *bytes)),
    );
    counter(
        &mut registry,
        "flows_created",
        "Flows created",
        stats.flows_created,
    );
    counter(
        &mut registry,
        "flows_expired",
        "Flows expired",
        stats.flows_expired,
    );
    counter(
        &mut registry,
        "flows_reclaimed",
        "Flows over (closed TCP, idle answered UDP) removed early so their host could have a NAT port",
        stats.flows_reclaimed,
    );
    counter(
        &mut registry,
        "events_lost",
        "Events that did not fit the event queue",
        stats.events_lost,
    );
    let (reloads, refused) = reloader.counts();
    counter(&mut registry, "reloads", "Successful reloads", reloads);
    counter(&mut registry, "reloads_refused", "Refused reloads", refused);
    gauge(&mut registry, "flows", "Flows tracked", stats.flows);
    gauge(
        &mut registry,
        "nat_bindings",
        "Masquerade bindings held",
        stats.nat_bindings,
    );
    gauge(
        &mut registry,
        "pinholes",
        "FTP data-connection pinholes open",
        engine.pinhole_count(),
    );
    gauge(
        &mut registry,
        "ftp_held_bytes",
        "FTP control-stream bytes held (withheld partial lines) and kept (read, not yet acknowledged)",
        engine.ftp_buffered(),
    );
    let per_queue: [(&str, &str, QueueCounter); 5] = [
        ("tun_packets", "Packets read from the TUN device, by queue", |q| &q.packets),
        ("tun_read_errors", "Failed reads from the TUN device, by queue", |q| &q.reads),
        ("tun_write_errors", "Failed writes to the TUN device, by queue", |q| &q.writes),
        (
            "tun_udp_runs",
            "UDP super-packets written to the TUN device (consecutive datagrams of a flow joined), by queue",
            |q| &q.udp_runs,
        ),
        (
            "tun_udp_run_datagrams",
            "Datagrams carried by those UDP super-packets, by queue",
            |q| &q.udp_run_datagrams,
        ),
    ];
    for (name, help, counter) in per_queue {
        labelled_counter(
            &mut registry,
            name,
            help,
            queues.iter().enumerate().map(|(queue, counters)| {
                let value = counter(counters).load(Ordering::Relaxed);
                (label("queue", queue.to_string()), value)
            }),
        );
    }
    let mut page = String::new();
    if let Err(err) = encode(&mut page, &registry) {
        tracing::error!(error = %err, "cannot encode the metrics");
    }
    page
}

impl MetricsEndpoint {
    /// Listens on `addr`.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        tracing::info!(%addr, "metrics endpoint listening");
        Ok(Self { listener })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves scrapes until `stop` is set.
    pub fn serve(
        &self,
        stop: &AtomicBool,
        engine: &Engine,
        queues: &[IoErrors],
        reloader: &Reloader,
        transfers: &TransferTally,
    ) {
        while !stop.load(Ordering::Relaxed) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let page = || render(engine, queues, reloader, transfers);
                    if let Err(err) = answer(stream, page) {
                        tracing::debug!(error = %err, "metrics client went away");
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::warn!(error = %err, "metrics accept failed");
                    std::thread::sleep(POLL);
                }
            }
        }
    }
}

/// Reads the request head (bounded, timed) and answers `GET /metrics` with the page.
fn answer(mut stream: TcpStream, page: impl FnOnce() -> String) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    // The whole head must arrive within the timeout, however it is trickled.
    let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        if head.len() > MAX_REQUEST {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large\n",
            );
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => head.extend_from_slice(&chunk[..read]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = first
        .split(|&b| b == b' ' || b == b'\r')
        .filter(|w| !w.is_empty());
    let openmetrics = String::from_utf8_lossy(&head).lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("accept:") && line.contains("application/openmetrics-text")
    });
    match (words.next(), words.next()) {
        (Some(b"GET"), Some(b"/metrics")) if openmetrics => respond(
            &mut stream,
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            &page(),
        ),
        (Some(b"GET"), Some(b"/metrics")) => respond(
            &mut stream,
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            &classic_text(&page()),
        ),
        (Some(b"GET"), Some(_)) => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            "only /metrics is served\n",
        ),
        _ => respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            "send GET /metrics\n",
        ),
    }
}

/// The classic Prometheus text format of an OpenMetrics page: a counter family's HELP and
/// TYPE lines take its samples' `_total` name, and the `# EOF` and `# UNIT` lines go.
pub fn classic_text(openmetrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.insert(name.to_owned());
            }
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    // What the client sent past the head (an overlong one) is discarded, so that closing
    // does not reset the connection before the client has read the answer.
    stream.set_nonblocking(true)?;
    let mut sink = [0u8; 4096];
    for _ in 0..64 {
        match stream.read(&mut sink) {
            Ok(read) if read > 0 => {}
            _ => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use super::{answer, classic_text};

    const PAGE: &str = "# HELP ftpgate_packets Packets.\n# TYPE ftpgate_packets counter\nftpgate_packets_total 5\n# EOF\n";

    /// What the endpoint answers to `request`.
    fn exchange(request: &str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(request.as_bytes()).unwrap();
        answer(server, || PAGE.to_owned()).unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_classic_text_or_openmetrics_and_refuses_the_rest() {
        let classic = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
        assert!(classic.starts_with("HTTP/1.0 200 OK\r\n"), "{classic}");
        assert!(classic.contains("text/plain; version=0.0.4"), "{classic}");
        assert!(
            classic.contains("# TYPE ftpgate_packets_total counter"),
            "{classic}"
        );
        assert!(!classic.contains("# EOF"), "{classic}");
        let open = exchange(
            "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n",
        );
        assert!(open.contains("application/openmetrics-text"), "{open}");
        assert!(open.ends_with("# EOF\n"), "{open}");
        assert!(exchange("GET / HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 404"));
        assert!(exchange("POST /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 400"));
        assert!(exchange("\r\n\r\n").starts_with("HTTP/1.0 400"));
        let long = format!("GET /metrics HTTP/1.0\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        assert!(exchange(&long).starts_with("HTTP/1.0 431"));
    }

    #[test]
    fn classic_text_names_counter_families_by_their_samples() {
        let page = "# HELP ftpgate_packets Packets.\n# TYPE ftpgate_packets counter\nftpgate_packets_total 5\n# HELP ftpgate_flows Flows.\n# TYPE ftpgate_flows gauge\nftpgate_flows 2\n# EOF\n";
        assert_eq!(
            classic_text(page),
            "# HELP ftpgate_packets_total Packets.\n# TYPE ftpgate_packets_total counter\nftpgate_packets_total 5\n# HELP ftpgate_flows Flows.\n# TYPE ftpgate_flows gauge\nftpgate_flows 2\n"
        );
    }
}
