//! The control socket's server: a Unix stream socket (mode 0600) that answers one request
//! per connection, on a thread of its own.
//!
//! Owns the socket file (created at start, removed at stop; a stale one left by a killed run
//! is replaced, a live one belonging to another gateway is not) and the bounds that keep a
//! client from stalling anything: requests of at most [`MAX_REQUEST`] bytes, read and write
//! timeouts, one connection at a time. It never touches packets: a slow client delays only
//! other control clients, never the workers.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::protocol::{encode_response, parse_request, Request, Response, MAX_REQUEST};

/// How long a client may take to send its request, or to take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// A bound control socket; the file is removed when it is dropped.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds the socket at `path` (creating its directory, mode 0755, when missing) with
    /// mode 0600. A socket file nobody answers on is stale and replaced.
    pub fn bind(path: &Path) -> io::Result<Self> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent)?;
                std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running gateway", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        // Connecting needs write permission on the socket file: with the usual umask nobody
        // but root can connect between the bind and the chmod to 0600.
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            path: path.to_owned(),
        })
    }

    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answers requests with `handle` until `stop` is set.
    pub fn serve(&self, stop: &AtomicBool, handle: impl Fn(Request) -> Response) {
        while !stop.load(Ordering::Relaxed) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Err(err) = answer(stream, &handle) {
                        tracing::debug!(error = %err, "control client went away");
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::warn!(error = %err, "control socket accept failed");
                    std::thread::sleep(POLL);
                }
            }
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads one request line (bounded, timed), answers it, closes.
fn answer(mut stream: UnixStream, handle: &impl Fn(Request) -> Response) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let response = match read_request(&mut stream) {
        Ok(bytes) => match parse_request(&bytes) {
            Ok(request) => handle(request),
            Err(message) => Response::Error { message },
        },
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Response::Error {
                message: format!("no complete request within {} s", CLIENT_TIMEOUT.as_secs()),
            }
        }
        Err(err) => return Err(err),
    };
    stream.write_all(&encode_response(&response))?;
    stream.flush()?;
    // What the client sent past its request (an overlong one) is discarded, so that closing
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

/// The bytes up to and including the first newline, or to the end of the stream; one byte
/// more than [`MAX_REQUEST`] at most, so that an overlong request is recognised as such.
/// The whole request must arrive within [`CLIENT_TIMEOUT`], however it is trickled.
fn read_request(stream: &mut UnixStream) -> io::Result<Vec<u8>> {
    let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
    let mut request = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while request.len() <= MAX_REQUEST {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let room = (MAX_REQUEST + 1 - request.len()).min(chunk.len());
        let read = match stream.read(&mut chunk[..room]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if let Some(end) = chunk[..read].iter().position(|&b| b == b'\n') {
            request.extend_from_slice(&chunk[..=end]);
            break;
        }
        request.extend_from_slice(&chunk[..read]);
    }
    Ok(request)
}

#[cfg(test)]
mod test {
    use std::sync::Arc;

    use super::*;
    use crate::io::control::client;

    fn serve_in_thread(path: &Path) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
        let socket = ControlSocket::bind(path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            socket.serve(&flag, |request| match request {
                Request::Status => Response::Error {
                    message: "status seen".into(),
                },
                other => Response::Error {
                    message: format!("{other:?}"),
                },
            })
        });
        (stop, thread)
    }

    fn raw(path: &Path, bytes: &[u8], close_write: bool) -> String {
        let mut stream = UnixStream::connect(path).unwrap();
        stream.write_all(bytes).unwrap();
        if close_write {
            stream.shutdown(std::net::Shutdown::Write).unwrap();
        }
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn answers_requests_and_errors_and_survives_stalled_clients() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ctl.sock");
        let (stop, thread) = serve_in_thread(&path);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second gateway cannot take a live socket.
        assert!(ControlSocket::bind(&path).is_err());

        let answer = client::request(&path, &Request::Status).unwrap();
        assert_eq!(
            answer,
            Response::Error {
                message: "status seen".into()
            }
        );
        assert!(raw(&path, b"nonsense\n", false).contains("bad request"));
        assert!(raw(&path, b"", true).contains("empty request"));
        let long = vec![b'x'; MAX_REQUEST * 3];
        assert!(raw(&path, &long, true).contains("request longer than"));
        // A client that connects and says nothing gets a timeout answer; meanwhile a second
        // client still gets its answer once the first is dealt with.
        let stalled = UnixStream::connect(&path).unwrap();
        let answer = client::request(&path, &Request::Pinholes).unwrap();
        assert_eq!(
            answer,
            Response::Error {
                message: "Pinholes".into()
            }
        );
        drop(stalled);

        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert!(!path.exists(), "socket file removed at stop");
        // A stale file (nobody listening) is replaced.
        std::fs::write(&path, b"").unwrap();
        let (stop, thread) = serve_in_thread(&path);
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
    }
}
