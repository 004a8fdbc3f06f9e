//! Reading capture files: [`CaptureReader`] detects classic pcap or pcapng from the magic
//! number and yields the frames in file order.
//!
//! Owns the file handle, pcap-parser's streaming buffer (refilling and growing it) and the
//! translation of parser errors into [`CaptureError`]s with file, byte offset and packet
//! number. Block meanings live in the private `blocks` module. It never panics on file contents: a
//! corrupt or truncated file ends the stream with an error, and the packets delivered before
//! it stay valid.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapError, PcapNGReader};

use super::blocks::{handle_block, FileState, Step};
use super::{CaptureError, CaptureFormat, CapturedPacket, FileKind};

/// Initial size of the read buffer; it must hold at least one whole record or block.
const INITIAL_BUFFER: usize = 256 * 1024;
/// The buffer grows (doubling) up to this size for large blocks; beyond it a length field is
/// taken to be corrupt.
const MAX_BUFFER: usize = 64 * 1024 * 1024;

/// A pcap or pcapng file being read, one packet at a time.
///
/// ```no_run
/// use ftpgate::io::capture::{CaptureReader, CapturedPacket};
/// # fn main() -> Result<(), ftpgate::io::capture::CaptureError> {
/// let mut reader = CaptureReader::open("trace.pcap")?;
/// let mut packet = CapturedPacket::default();
/// while reader.next_packet(&mut packet)? {
///     println!("{:?} {} bytes", packet.timestamp, packet.data.len());
/// }
/// # Ok(())
/// # }
/// ```
pub struct CaptureReader {
    path: PathBuf,
    parser: Box<dyn PcapReaderIterator + Send>,
    /// The last I/O error of the file, which pcap-parser reduces to `ReadError`.
    read_error: Arc<Mutex<Option<io::Error>>>,
    buffer_size: usize,
    kind: FileKind,
    format: CaptureFormat,
    state: FileState,
    packets: u64,
    finished: bool,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("packets", &self.packets)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl CaptureReader {
    /// Opens a capture file, detects its format and reads its headers up to the first packet.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref().to_path_buf();
        let io_error = |source| CaptureError::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(io_error)?;
        let kind = sniff(&path, &mut file)?;
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let read_error = Arc::new(Mutex::new(None));
        let source = ErrorKeepingRead {
            inner: file,
            error: Arc::clone(&read_error),
        };
        let parser: Result<Box<dyn PcapReaderIterator + Send>, _> = match kind {
            FileKind::Pcap => LegacyPcapReader::new(INITIAL_BUFFER, source)
                .map(|r| Box::new(r) as Box<dyn PcapReaderIterator + Send>),
            FileKind::PcapNg => PcapNGReader::new(INITIAL_BUFFER, source)
                .map(|r| Box::new(r) as Box<dyn PcapReaderIterator + Send>),
        };
        let parser =
            parser.map_err(|err| header_error(&path, kind, err, read_error.lock().take()))?;
        let mut reader = Self {
            path,
            parser,
            read_error,
            buffer_size: INITIAL_BUFFER,
            kind,
            format: CaptureFormat {
                kind,
                interfaces: Vec::new(),
            },
            state: FileState::default(),
            packets: 0,
            finished: false,
        };
        // Learn the interfaces described before the first packet. An error here is met
        // again, and reported, by the first `next_packet`.
        let _ = reader.advance(None);
        Ok(reader)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What a writer needs to mirror this file: pcap or pcapng, and the interfaces with their
    /// link types, snapshot lengths and timestamp resolutions.
    ///
    /// Right after [`open`](Self::open) it holds every interface described before the first
    /// packet; pcapng may describe more later, which then appear here as they are read.
    pub fn format(&self) -> &CaptureFormat {
        &self.format
    }

    /// Number of packets delivered so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// Reads the next packet into `packet`, reusing its buffer. `Ok(false)` at the end of the
    /// file. After an error, or the end, every further call returns `Ok(false)`.
    pub fn next_packet(&mut self, packet: &mut CapturedPacket) -> Result<bool, CaptureError> {
        if self.finished {
            return Ok(false);
        }
        let result = self.advance(Some(packet));
        if !matches!(result, Ok(true)) {
            self.finished = true;
        }
        result
    }

    /// Consumes blocks until one carries a packet. With a packet buffer, fills it and returns
    /// true; without, stops before that block (leaving it for later) and returns false.
    /// Returns false at the end of the file.
    fn advance(&mut self, mut packet: Option<&mut CapturedPacket>) -> Result<bool, CaptureError> {
        loop {
            let offset = self.parser.consumed() as u64;
            let number = self.packets + 1;
            let outcome = match self.parser.next() {
                Ok((len, block)) => Ok((
                    len,
                    handle_block(
                        &block,
                        &mut self.state,
                        &mut self.format,
                        packet.as_deref_mut(),
                    ),
                )),
                Err(err) => Err(err.to_owned_vec()),
            };
            match outcome {
                Ok((len, Ok(step))) => match step {
                    Step::PacketAhead => return Ok(false),
                    Step::Metadata => self.parser.consume(len),
                    Step::Packet => {
                        self.parser.consume(len);
                        self.packets = number;
                        return Ok(true);
                    }
                },
                Ok((_, Err(detail))) => {
                    return Err(CaptureError::Corrupt {
                        path: self.path.clone(),
                        offset,
                        packet: number,
                        detail,
                    })
                }
                Err(PcapError::Eof) => return Ok(false),
                Err(err) => self.recover(err, offset, number)?,
            }
        }
    }

    /// Deals with a parser error: refills or grows the buffer when more data is needed, and
    /// turns everything else into the error to report.
    fn recover(
        &mut self,
        err: PcapError<&'static [u8]>,
        offset: u64,
        packet: u64,
    ) -> Result<(), CaptureError> {
        match err {
            // The parser says "too small" before it knows whether the file has the bytes: a
            // truncated file with a large length field must not grow the buffer for nothing.
            PcapError::Incomplete(_) | PcapError::BufferTooSmall
                if self.parser.reader_exhausted() =>
            {
                Err(self.truncated(offset, packet))
            }
            PcapError::Incomplete(_) | PcapError::BufferTooSmall
                if self.parser.data().len() < self.buffer_size =>
            {
                let refilled = self.parser.refill().is_ok();
                if refilled {
                    Ok(())
                } else {
                    Err(self.read_failure())
                }
            }
            PcapError::Incomplete(_) | PcapError::BufferTooSmall => {
                if self.buffer_size >= MAX_BUFFER {
                    return Err(CaptureError::TooLarge {
                        path: self.path.clone(),
                        offset,
                        packet,
                        limit: MAX_BUFFER,
                    });
                }
                self.buffer_size = (self.buffer_size * 2).min(MAX_BUFFER);
                self.parser.grow(self.buffer_size);
                Ok(())
            }
            PcapError::UnexpectedEof => Err(self.truncated(offset, packet)),
            PcapError::ReadError => Err(self.read_failure()),
            other => Err(CaptureError::Corrupt {
                path: self.path.clone(),
                offset,
                packet,
                detail: parser_detail(self.record_name(), &other),
            }),
        }
    }

    fn truncated(&self, offset: u64, packet: u64) -> CaptureError {
        CaptureError::Truncated {
            path: self.path.clone(),
            offset,
            packet,
            what: self.record_name(),
        }
    }

    fn record_name(&self) -> &'static str {
        match self.kind {
            FileKind::Pcap => "packet record",
            FileKind::PcapNg => "pcapng block",
        }
    }

    fn read_failure(&self) -> CaptureError {
        let source = self
            .read_error
            .lock()
            .take()
            .unwrap_or_else(|| io::Error::other("read failed"));
        CaptureError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl Iterator for CaptureReader {
    type Item = Result<CapturedPacket, CaptureError>;

    /// Yields each packet in a freshly allocated buffer; prefer
    /// [`next_packet`](CaptureReader::next_packet) in a hot loop.
    fn next(&mut self) -> Option<Self::Item> {
        let mut packet = CapturedPacket::default();
        match self.next_packet(&mut packet) {
            Ok(true) => Some(Ok(packet)),
            Ok(false) => None,
            Err(err) => Some(Err(err)),
        }
    }
}

/// Reads the magic number and says which format it announces.
fn sniff(path: &Path, file: &mut File) -> Result<FileKind, CaptureError> {
    let mut magic = Vec::with_capacity(4);
    file.by_ref()
        .take(4)
        .read_to_end(&mut magic)
        .map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let Ok(bytes) = <[u8; 4]>::try_from(magic.as_slice()) else {
        return Err(CaptureError::Truncated {
            path: path.to_path_buf(),
            offset: 0,
            packet: 1,
            what: "file header",
        });
    };
    match u32::from_le_bytes(bytes) {
        0x0a0d_0d0a => Ok(FileKind::PcapNg),
        // Microsecond, nanosecond and "modified" pcap written little-endian, then the
        // microsecond and nanosecond magics written big-endian.
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 => Ok(FileKind::Pcap),
        _ => Err(CaptureError::UnknownFormat {
            path: path.to_path_buf(),
            magic,
        }),
    }
}

/// The error for a file header (pcap header or first section header) that did not parse.
fn header_error(
    path: &Path,
    kind: FileKind,
    err: PcapError<&'static [u8]>,
    io_error: Option<io::Error>,
) -> CaptureError {
    let path = path.to_path_buf();
    match (err, io_error) {
        (PcapError::ReadError, source) => CaptureError::Io {
            path,
            source: source.unwrap_or_else(|| io::Error::other("read failed")),
        },
        (PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof, _) => {
            CaptureError::Truncated {
                path,
                offset: 0,
                packet: 1,
                what: "file header",
            }
        }
        (other, _) => CaptureError::Corrupt {
            path,
            offset: 0,
            packet: 1,
            detail: parser_detail(
                match kind {
                    FileKind::Pcap => "pcap file header",
                    FileKind::PcapNg => "pcapng section header block",
                },
                &other,
            ),
        },
    }
}

fn parser_detail(what: &str, err: &PcapError<&'static [u8]>) -> String {
    match err {
        PcapError::HeaderNotRecognized => format!("{what} has an unknown magic number"),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("malformed {what} (lengths inconsistent or too small: {kind:?})")
        }
        other => format!("{what}: {other}"),
    }
}

/// A `Read` that keeps the last error, because pcap-parser reports only that one happened.
struct ErrorKeepingRead<R> {
    inner: R,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for ErrorKeepingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    let kind = err.kind();
                    *self.error.lock() = Some(err);
                    return Err(kind.into());
                }
                ok => return ok,
            }
        }
    }
}
