//! The control socket's client side, for `ftpgate status`, `flows`, `pinholes` and `reload`:
//! connect, send one request, read one answer (both bounded in time and size).
//!
//! Owns finding the socket (`--socket PATH`, or the `control.socket` of `--rules FILE`) and
//! the transport errors; it never renders (see `render`) and never touches a running engine.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{Request, Response};

/// How long the client waits for an answer (a reload reads and compiles the rule file).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read (a long flow list).
const MAX_ANSWER: u64 = 512 << 20;

/// Why a control request failed before an answer arrived.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No gateway listens on the socket.
    #[error("cannot connect to the control socket {path}: {error} (is `ftpgate run` running, and are you root?)")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// The exchange broke off.
    #[error("control socket {path}: {error}")]
    Exchange {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// The answer was not a response.
    #[error("control socket {path}: unreadable answer: {message}")]
    Answer {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The rule file naming the socket could not be used.
    #[error(transparent)]
    Rules(#[from] crate::config::ConfigError),
}

/// The socket named by `--socket`, else by the rule file's `control.socket`, else the default.
pub fn socket_path(socket: Option<&Path>, rules: Option<&Path>) -> Result<PathBuf, ClientError> {
    if let Some(socket) = socket {
        return Ok(socket.to_owned());
    }
    match rules {
        Some(rules) => Ok(crate::config::load_gateway(rules)?
            .operations
            .control_socket),
        None => Ok(PathBuf::from(crate::config::DEFAULT_CONTROL_SOCKET)),
    }
}

/// Sends `request` to the gateway at `path` and returns its answer.
pub fn request(path: &Path, request: &Request) -> Result<Response, ClientError> {
    let exchange = |error| ClientError::Exchange {
        path: path.to_owned(),
        error,
    };
    let mut stream = UnixStream::connect(path).map_err(|error| ClientError::Connect {
        path: path.to_owned(),
        error,
    })?;
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(exchange)?;
    stream
        .set_write_timeout(Some(ANSWER_TIMEOUT))
        .map_err(exchange)?;
    let mut line = serde_json::to_vec(request).map_err(|err| ClientError::Answer {
        path: path.to_owned(),
        message: err.to_string(),
    })?;
    line.push(b'\n');
    stream.write_all(&line).map_err(exchange)?;
    let mut answer = Vec::new();
    BufReader::new(io::Read::take(&stream, MAX_ANSWER))
        .read_until(b'\n', &mut answer)
        .map_err(exchange)?;
    serde_json::from_slice(&answer).map_err(|err| ClientError::Answer {
        path: path.to_owned(),
        message: err.to_string(),
    })
}
