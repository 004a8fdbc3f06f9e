//! Two small TCP load clients for `scripts/bench-lab.sh`, and the server they talk to:
//!
//! - `serve PORT`: accepts connections; answers every byte it reads with one byte; closes
//!   when the peer does (after a connection-rate exchange, it closes first, so the
//!   TIME_WAIT lands on the server and the client's ports are free again at once).
//! - `connrate ADDR:PORT SECONDS THREADS`: opens connections as fast as it can (connect,
//!   one byte each way, close) and prints `connections_per_second N`.
//! - `latency ADDR:PORT COUNT`: one connection, COUNT one-byte request/response round trips;
//!   prints `p50_us N p99_us N`.
//!
//! Std only; it runs on lab addresses inside namespaces the script made, nowhere else.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve", port] => serve(port),
        ["connrate", addr, seconds, threads] => connrate(addr, seconds, threads),
        ["latency", addr, count] => latency(addr, count),
        _ => Err("usage: netbench serve PORT | connrate ADDR:PORT SECONDS THREADS | latency ADDR:PORT COUNT".into()),
    };
    if let Err(err) = result {
        eprintln!("netbench: {err}");
        std::process::exit(1);
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Accepting threads; each serves the connection it accepted to its end, so no thread is
/// spawned per connection (that would cap the rate measured).
const SERVE_THREADS: usize = 8;

fn serve(port: &str) -> Result<()> {
    let listener = Arc::new(TcpListener::bind(("0.0.0.0", port.parse::<u16>()?))?);
    let threads: Vec<_> = (0..SERVE_THREADS)
        .map(|_| {
            let listener = Arc::clone(&listener);
            std::thread::spawn(move || loop {
                let Ok((mut stream, _)) = listener.accept() else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let mut byte = [0u8; 1];
                while let Ok(1) = stream.read(&mut byte) {
                    // A 'c' is a connection-rate probe: answer and close first.
                    if stream.write_all(&byte).is_err() || byte[0] == b'c' {
                        break;
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

fn connrate(addr: &str, seconds: &str, threads: &str) -> Result<()> {
    let addr: std::net::SocketAddr = addr.parse()?;
    let duration = Duration::from_secs_f64(seconds.parse()?);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads.parse::<usize>()?.max(1))
        .map(|_| {
            let (done, failed) = (Arc::clone(&done), Arc::clone(&failed));
            std::thread::spawn(move || {
                while start.elapsed() < duration {
                    let ok = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                        .and_then(|mut stream| {
                            stream.set_read_timeout(Some(Duration::from_secs(1)))?;
                            stream.write_all(b"c")?;
                            let mut byte = [0u8; 1];
                            stream.read_exact(&mut byte)?;
                            let mut rest = [0u8; 1];
                            let _ = stream.read(&mut rest);
                            Ok(())
                        })
                        .is_ok();
                    let counter = if ok { &done } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "connections_per_second {:.0} failed {}",
        done as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}

fn latency(addr: &str, count: &str) -> Result<()> {
    let count: usize = count.parse()?;
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut samples = Vec::with_capacity(count);
    let mut byte = [0u8; 1];
    for _ in 0..count.max(1) {
        let sent = Instant::now();
        stream.write_all(b"r")?;
        stream.read_exact(&mut byte)?;
        samples.push(sent.elapsed().as_nanos() as u64);
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!("p50_us {:.1} p99_us {:.1}", at(0.5), at(0.99));
    Ok(())
}
