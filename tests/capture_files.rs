//! Reads every capture in `../shared/captures/zeek/pcaps` (real FTP traces), checks that the
//! packet counts are plausible (exact for the files whose counts were cross-checked with
//! tcpdump), that every Ethernet frame yields an IP packet, and that writing a file back and
//! reading it again keeps every timestamp and byte. Skipped when `../shared` is absent (a
//! failure under `CI=true`: testkit/src/skip.rs).

use ftpgate_testkit::skip;

use std::path::{Path, PathBuf};

use ftpgate::io::capture::{
    ip_offset, split_frame, CaptureReader, CaptureWriter, CapturedPacket, FileKind, LinkType,
};
use skip::skip;

/// Packet counts as `tcpdump -r FILE | wc -l` reports them.
const KNOWN_COUNTS: &[(&str, u64)] = &[
    ("bigtransfer.pcap", 83),
    ("bruteforce.pcap", 606),
    ("cwd-navigation.pcap", 8317),
    ("fake-long-commands.pcap", 40),
    ("fake-server-delays-all.pcap", 41),
    ("ftp-auth-tls.pcap", 84),
    ("ftp-invalid-reply-code.pcap", 23),
    ("ftp-many-port-expected.pcap", 1008),
    ("ftp-missing-reply-code.pcap", 23),
    ("ftp-missing-space-after-reply-code.pcap", 23),
    ("ftp-password-pass-command.pcap", 15),
    ("ftp-with-numbers-in-filename.pcap", 798),
    ("ipv4.pcap", 95),
    ("ipv6-multiline-reply.pcap", 50),
    ("ipv6-retr-samba.pcap", 37),
    ("ipv6-violation.pcap", 19),
    ("ipv6.pcap", 136),
    ("retr.pcap", 67),
];

fn capture_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/zeek/pcaps");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(
            "capture_files",
            &format!("{} is absent because ../shared is absent", dir.display()),
        );
        None
    }
}

fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list capture directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn read_all(path: &Path) -> (CaptureReader, Vec<CapturedPacket>) {
    let mut reader = CaptureReader::open(path).unwrap_or_else(|err| panic!("{err}"));
    let packets = reader
        .by_ref()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|err| panic!("{err}"));
    (reader, packets)
}

#[test]
fn every_capture_reads_with_plausible_counts() {
    let Some(dir) = capture_dir() else { return };
    let files = capture_files(&dir);
    assert!(!files.is_empty(), "no captures in {}", dir.display());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let size = std::fs::metadata(&path).unwrap().len();
        let (reader, packets) = read_all(&path);
        let count = packets.len() as u64;
        assert!(count > 0, "{name}: no packets");
        // Every pcap record costs at least a 16-byte header, after a 24-byte file header.
        assert!(
            24 + 16 * count <= size,
            "{name}: {count} packets in {size} bytes"
        );
        if let Some((_, expected)) = KNOWN_COUNTS.iter().find(|(known, _)| *known == name) {
            assert_eq!(count, *expected, "{name}");
        }
        assert_eq!(reader.packets_read(), count);
        let format = reader.format();
        assert!(!format.interfaces.is_empty(), "{name}: no interface");
        for (number, packet) in packets.iter().enumerate() {
            assert!(packet.interface < format.interfaces.len());
            assert!(packet.data.len() <= packet.original_len as usize);
            // Real traces are from this century.
            assert!(packet.timestamp.as_secs() > 946_684_800, "{name} #{number}");
        }
    }
}

#[test]
fn every_ethernet_frame_yields_an_ip_packet() {
    let Some(dir) = capture_dir() else { return };
    for path in capture_files(&dir) {
        let name = path.display();
        let (_, packets) = read_all(&path);
        for (number, packet) in packets.iter().enumerate() {
            if packet.link_type != LinkType::Ethernet {
                continue;
            }
            let offset = ip_offset(packet.link_type, &packet.data)
                .unwrap_or_else(|err| panic!("{name} #{number}: {err}"));
            let offset = offset.unwrap_or_else(|| panic!("{name} #{number}: no IP packet"));
            let parts = split_frame(packet.link_type, &packet.data)
                .unwrap_or_else(|err| panic!("{name} #{number}: {err}"))
                .unwrap_or_else(|| panic!("{name} #{number}: no IP packet"));
            assert_eq!(parts.link_header.len(), offset);
            let ethertype = u16::from_be_bytes([packet.data[offset - 2], packet.data[offset - 1]]);
            let version = parts.ip_packet.first().map(|b| b >> 4);
            let expected = if ethertype == 0x86dd { 6 } else { 4 };
            assert_eq!(version, Some(expected), "{name} #{number}");
            // Only padding or a frame check sequence may follow the IP packet.
            assert!(parts.trailer.len() <= 46, "{name} #{number}");
        }
    }
}

#[test]
fn written_copies_read_back_identically() {
    let Some(dir) = capture_dir() else { return };
    let out_dir = tempfile::tempdir().expect("temp dir");
    for path in capture_files(&dir) {
        let name = path.display();
        let (reader, packets) = read_all(&path);
        let copy = out_dir.path().join("copy");
        let mut writer = CaptureWriter::create(&copy, reader.format())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        for packet in &packets {
            // Split and rejoin, as the replay does; the trailer goes with the IP packet here
            // so the copy is byte for byte.
            let parts = split_frame(packet.link_type, &packet.data).ok().flatten();
            let (header, rest) = match parts {
                Some(parts) => packet.data.split_at(parts.link_header.len()),
                None => (&packet.data[..], &[][..]),
            };
            writer
                .write_packet(packet.timestamp, packet.interface, header, rest)
                .unwrap_or_else(|err| panic!("{name}: {err}"));
        }
        writer
            .finish()
            .unwrap_or_else(|err| panic!("{name}: {err}"));

        let (copy_reader, copied) = read_all(&copy);
        assert_eq!(copy_reader.format().kind, FileKind::Pcap);
        assert_eq!(
            copy_reader.format().interfaces[0].link_type,
            reader.format().interfaces[0].link_type
        );
        assert_eq!(copied.len(), packets.len(), "{name}");
        for (original, copy) in packets.iter().zip(&copied) {
            assert_eq!(copy.timestamp, original.timestamp, "{name}");
            assert_eq!(copy.interface, original.interface, "{name}");
            assert_eq!(copy.data, original.data, "{name}");
        }
    }
}
