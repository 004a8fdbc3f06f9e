//! Writing capture files: [`CaptureWriter`] produces the same kind of file as a
//! [`CaptureFormat`] describes, little-endian.
//!
//! Owns the output file and the two on-disk layouts:
//! - classic pcap: a 24-byte file header (magic for micro- or nanoseconds, version 2.4,
//!   snapshot length, link type), then per frame a 16-byte record header and the bytes;
//! - pcapng: one Section Header Block, one Interface Description Block per interface (link
//!   type, snapshot length, `if_tsresol`, `if_tsoffset`), then an Enhanced Packet Block per
//!   frame.
//!
//! Frames are written whole, never cut to the snapshot length: a rewritten packet may have
//! grown. If a frame exceeds its interface's snapshot length, [`CaptureWriter::finish`] raises
//! that length in the header, because libpcap truncates records longer than it. Records are
//! written with captured length = original length = the frame's new length.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CaptureError, CaptureFormat, FileKind, InterfaceInfo, TimestampResolution};

const PCAP_MAGIC_MICRO: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANO: u32 = 0xa1b2_3c4d;
const PCAP_SNAPLEN_AT: u64 = 16;
const SHB_TYPE: u32 = 0x0a0d_0d0a;
const IDB_TYPE: u32 = 1;
const EPB_TYPE: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Offset of the snapshot length inside an Interface Description Block.
const IDB_SNAPLEN_AT: u64 = 12;
const OPT_END: u16 = 0;
const OPT_SHB_USERAPPL: u16 = 4;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
const USER_APPLICATION: &[u8] = b"ftpgate";

/// An interface as written: its description and where its snapshot length sits in the file.
#[derive(Debug)]
struct Interface {
    info: InterfaceInfo,
    snaplen_at: u64,
    longest_frame: u32,
}

/// A capture file being written.
#[derive(Debug)]
pub struct CaptureWriter {
    path: PathBuf,
    out: BufWriter<File>,
    kind: FileKind,
    interfaces: Vec<Interface>,
    /// Bytes written so far, i.e. the offset of the next byte.
    position: u64,
}

impl CaptureWriter {
    /// Creates (or truncates) `path` and writes the file header for `format`: a pcap header,
    /// or a pcapng section header and one interface description per interface.
    pub fn create(path: impl AsRef<Path>, format: &CaptureFormat) -> Result<Self, CaptureError> {
        let path = path.as_ref().to_path_buf();
        let pcap_interface = match format.kind {
            FileKind::Pcap => Some(check_pcap(&path, format)?),
            FileKind::PcapNg => None,
        };
        let file = File::create(&path).map_err(|source| CaptureError::Io {
            path: path.clone(),
            source,
        })?;
        let mut writer = Self {
            path,
            out: BufWriter::new(file),
            kind: format.kind,
            interfaces: Vec::new(),
            position: 0,
        };
        match pcap_interface {
            Some(info) => writer.write_pcap_header(info)?,
            None => {
                writer.write_section_header()?;
                for info in &format.interfaces {
                    writer.add_interface(info)?;
                }
            }
        }
        Ok(writer)
    }

    /// Describes one more interface (pcapng only: a pcap file has exactly one) and returns its
    /// index, for interfaces a pcapng input describes after its first packet.
    pub fn add_interface(&mut self, info: &InterfaceInfo) -> Result<usize, CaptureError> {
        if self.kind == FileKind::Pcap {
            return Err(self.unwritable("a second interface into a classic pcap file".into()));
        }
        let link_type =
            u16::try_from(info.link_type.to_u32()).map_err(|_| CaptureError::LinkTypeTooLarge {
                path: self.path.clone(),
                link_type: info.link_type,
            })?;
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&link_type.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&info.snaplen.to_le_bytes());
        if info.ts_resolution != TimestampResolution::MICRO {
            push_option(&mut body, OPT_IF_TSRESOL, &[info.ts_resolution.code()]);
        }
        if info.ts_offset != 0 {
            push_option(&mut body, OPT_IF_TSOFFSET, &info.ts_offset.to_le_bytes());
        }
        if body.len() > 8 {
            push_option(&mut body, OPT_END, &[]);
        }
        let snaplen_at = self.position + IDB_SNAPLEN_AT;
        self.write_block(IDB_TYPE, &body, &[])?;
        self.interfaces.push(Interface {
            info: *info,
            snaplen_at,
            longest_frame: 0,
        });
        Ok(self.interfaces.len() - 1)
    }

    /// Writes one frame: `link_header` followed by `ip_packet`, on `interface`, at `timestamp`
    /// (since the Unix epoch). To copy a frame unchanged, pass it whole as `link_header` and
    /// an empty `ip_packet`.
    pub fn write_packet(
        &mut self,
        timestamp: Duration,
        interface: usize,
        link_header: &[u8],
        ip_packet: &[u8],
    ) -> Result<(), CaptureError> {
        let count = self.interfaces.len();
        let info = match self.interfaces.get(interface) {
            Some(written) => written.info,
            None => {
                return Err(CaptureError::NoSuchInterface {
                    path: self.path.clone(),
                    interface,
                    count,
                })
            }
        };
        let frame_len = link_header
            .len()
            .checked_add(ip_packet.len())
            .and_then(|len| u32::try_from(len).ok())
            .ok_or_else(|| CaptureError::FrameTooLong {
                path: self.path.clone(),
                len: link_header.len().saturating_add(ip_packet.len()),
            })?;
        let out_of_range = || CaptureError::TimestampOutOfRange {
            path: self.path.clone(),
            seconds: timestamp.as_secs(),
            nanos: timestamp.subsec_nanos(),
            resolution: info.ts_resolution,
        };
        match self.kind {
            FileKind::Pcap => {
                let seconds = u32::try_from(timestamp.as_secs()).map_err(|_| out_of_range())?;
                let fraction = if info.ts_resolution == TimestampResolution::NANO {
                    timestamp.subsec_nanos()
                } else {
                    timestamp.subsec_micros()
                };
                let mut header = [0u8; 16];
                for (chunk, value) in header
                    .chunks_exact_mut(4)
                    .zip([seconds, fraction, frame_len, frame_len])
                {
                    chunk.copy_from_slice(&value.to_le_bytes());
                }
                self.put(&header)?;
                self.put(link_header)?;
                self.put(ip_packet)?;
            }
            FileKind::PcapNg => {
                let ticks = info
                    .ts_resolution
                    .duration_to_ticks(timestamp, info.ts_offset)
                    .ok_or_else(out_of_range)?;
                let if_id = u32::try_from(interface).map_err(|_| out_of_range())?;
                let mut fixed = [0u8; 20];
                let values = [
                    if_id,
                    (ticks >> 32) as u32,
                    ticks as u32,
                    frame_len,
                    frame_len,
                ];
                for (chunk, value) in fixed.chunks_exact_mut(4).zip(values) {
                    chunk.copy_from_slice(&value.to_le_bytes());
                }
                self.write_block(EPB_TYPE, &fixed, &[link_header, ip_packet])?;
            }
        }
        if let Some(written) = self.interfaces.get_mut(interface) {
            written.longest_frame = written.longest_frame.max(frame_len);
        }
        Ok(())
    }

    /// Flushes the buffered output and raises every snapshot length that a frame exceeded.
    /// A writer dropped without this flushes on a best-effort basis, ignoring errors, and
    /// leaves the snapshot lengths as they were.
    pub fn finish(mut self) -> Result<(), CaptureError> {
        self.flush()?;
        let path = self.path.clone();
        let io_error = |source| CaptureError::Io {
            path: path.clone(),
            source,
        };
        let mut file = self
            .out
            .into_inner()
            .map_err(|err| io_error(err.into_error()))?;
        for written in &self.interfaces {
            // pcapng's 0 means "no limit".
            let unlimited = self.kind == FileKind::PcapNg && written.info.snaplen == 0;
            if !unlimited && written.longest_frame > written.info.snaplen {
                file.seek(SeekFrom::Start(written.snaplen_at))
                    .map_err(io_error)?;
                file.write_all(&written.longest_frame.to_le_bytes())
                    .map_err(io_error)?;
            }
        }
        file.flush().map_err(io_error)
    }

    /// Flushes the buffered output to the file.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.out.flush().map_err(|source| CaptureError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn write_pcap_header(&mut self, info: &InterfaceInfo) -> Result<(), CaptureError> {
        let magic = if info.ts_resolution == TimestampResolution::NANO {
            PCAP_MAGIC_NANO
        } else {
            PCAP_MAGIC_MICRO
        };
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&magic.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        header.extend_from_slice(&info.snaplen.to_le_bytes());
        header.extend_from_slice(&info.link_type.to_u32().to_le_bytes());
        self.put(&header)?;
        self.interfaces.push(Interface {
            info: *info,
            snaplen_at: PCAP_SNAPLEN_AT,
            longest_frame: 0,
        });
        Ok(())
    }

    fn write_section_header(&mut self) -> Result<(), CaptureError> {
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
        push_option(&mut body, OPT_SHB_USERAPPL, USER_APPLICATION);
        push_option(&mut body, OPT_END, &[]);
        self.write_block(SHB_TYPE, &body, &[])
    }

    /// Writes a pcapng block: type, total length, `fixed`, the `data` parts padded together to
    /// a multiple of 4, and the total length again.
    fn write_block(
        &mut self,
        block_type: u32,
        fixed: &[u8],
        data: &[&[u8]],
    ) -> Result<(), CaptureError> {
        let data_len: usize = data.iter().map(|part| part.len()).sum();
        let padding = (4 - data_len % 4) % 4;
        let total = 12 + fixed.len() + data_len + padding;
        let total = u32::try_from(total).map_err(|_| CaptureError::FrameTooLong {
            path: self.path.clone(),
            len: data_len,
        })?;
        self.put(&block_type.to_le_bytes())?;
        self.put(&total.to_le_bytes())?;
        self.put(fixed)?;
        for part in data {
            self.put(part)?;
        }
        self.put(&[0u8; 3][..padding])?;
        self.put(&total.to_le_bytes())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        self.out
            .write_all(bytes)
            .map_err(|source| CaptureError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    fn unwritable(&self, detail: String) -> CaptureError {
        CaptureError::Unwritable {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Checks that a classic pcap file can express `format`, and returns its one interface.
fn check_pcap<'f>(
    path: &Path,
    format: &'f CaptureFormat,
) -> Result<&'f InterfaceInfo, CaptureError> {
    let unwritable = |detail: String| CaptureError::Unwritable {
        path: path.to_path_buf(),
        detail,
    };
    let [info] = format.interfaces.as_slice() else {
        return Err(unwritable(format!(
            "a classic pcap file with {} interfaces (it has exactly one)",
            format.interfaces.len()
        )));
    };
    if info.ts_resolution != TimestampResolution::MICRO
        && info.ts_resolution != TimestampResolution::NANO
    {
        return Err(unwritable(format!(
            "a classic pcap file with {} timestamps (only micro- or nanoseconds)",
            info.ts_resolution
        )));
    }
    if info.ts_offset != 0 {
        return Err(unwritable(
            "a classic pcap file with a timestamp offset".into(),
        ));
    }
    Ok(info)
}

/// Appends a pcapng option (code, length, value padded to 4 bytes), little-endian.
fn push_option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    // Option values here are a few bytes long.
    body.extend_from_slice(&(value.len() as u16).to_le_bytes());
    body.extend_from_slice(value);
    body.resize(body.len() + (4 - value.len() % 4) % 4, 0);
}
