//! Truncated, corrupt and mutated capture files: errors name file, offset and packet, the
//! packets before the damage stay usable, and nothing panics.

use super::handmade::{two_sections, Ng};
use super::*;

/// A little-endian µs pcap with three Ethernet frames; returns the bytes and record offsets.
fn three_packet_pcap() -> (Vec<u8>, Vec<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.pcap");
    let format = CaptureFormat::pcap(LinkType::Ethernet, 65535, TimestampResolution::MICRO);
    let mut writer = CaptureWriter::create(&path, &format).unwrap();
    let mut offsets = Vec::new();
    let mut offset = 24;
    for i in 0..3u8 {
        let (header, ip) = eth_frame(i, 40);
        offsets.push(offset);
        offset += 16 + header.len() + ip.len();
        writer.write_packet(ts(10, 0), 0, &header, &ip).unwrap();
    }
    writer.finish().unwrap();
    (std::fs::read(&path).unwrap(), offsets)
}

#[test]
fn truncated_pcap_keeps_earlier_packets() {
    let (bytes, offsets) = three_packet_pcap();
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "cut.pcap", &bytes[..bytes.len() - 5]);
    let (packets, err) = read_until_error(&path);
    assert_eq!(packets.len(), 2);
    assert_eq!(packets[1].data.last(), Some(&1));
    match err {
        Some(CaptureError::Truncated {
            offset,
            packet,
            ref path,
            ..
        }) => {
            assert_eq!(offset, offsets[2] as u64);
            assert_eq!(packet, 3);
            assert!(path.ends_with("cut.pcap"));
        }
        other => panic!("expected a truncation error, got {other:?}"),
    }
    let message = err.unwrap().to_string();
    assert!(
        message.contains("cut.pcap") && message.contains(&format!("byte {}", offsets[2])),
        "{message}"
    );
}

#[test]
fn every_prefix_reads_cleanly_or_reports_truncation() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("p.pcap", three_packet_pcap().0),
        ("p.pcapng", two_sections()),
    ] {
        let full_path = temp_file(&dir, name, &bytes);
        let (_, full) = read_all(&full_path);
        for len in 0..bytes.len() {
            let path = temp_file(&dir, name, &bytes[..len]);
            let (packets, err) = read_until_error(&path);
            assert_eq!(packets[..], full[..packets.len()], "{name} cut at {len}");
            match err {
                None | Some(CaptureError::Truncated { .. }) => {}
                Some(other) => panic!("{name} cut at {len}: {other}"),
            }
        }
    }
}

#[test]
fn corrupt_blocks_are_reported_with_their_offset() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = |bytes: &[u8]| -> (usize, CaptureError) {
        let path = temp_file(&dir, "corrupt.pcapng", bytes);
        let (packets, err) = read_until_error(&path);
        (packets.len(), err.expect("an error"))
    };

    // Trailing block length disagreeing with the leading one.
    let mut ng = Ng::new(false);
    ng.shb();
    ng.idb(1, 0, None);
    ng.epb(0, 1, &[0; 14]);
    let bad = ng.epb(0, 2, &[0; 14]);
    let last = ng.bytes.len() - 4;
    ng.bytes[last] ^= 0x40;
    let (read, err) = corrupt(&ng.bytes);
    assert_eq!(read, 1);
    assert!(
        matches!(err, CaptureError::Corrupt { offset, packet: 2, .. } if offset == bad as u64),
        "{err}"
    );

    // A packet on an interface the section never described.
    let mut ng = Ng::new(true);
    ng.shb();
    ng.idb(1, 0, None);
    ng.epb(7, 1, &[0; 14]);
    let (_, err) = corrupt(&ng.bytes);
    assert!(err.to_string().contains("interface 7"), "{err}");

    // An if_tsresol that no u64 can count.
    let mut ng = Ng::new(false);
    ng.shb();
    ng.idb(1, 0, Some(25));
    ng.epb(0, 1, &[0; 14]);
    let (_, err) = corrupt(&ng.bytes);
    assert!(
        matches!(err, CaptureError::Corrupt { packet: 1, .. })
            && err.to_string().contains("if_tsresol"),
        "{err}"
    );

    // A pcap record claiming two gigabytes.
    let (mut bytes, offsets) = three_packet_pcap();
    bytes[offsets[1] + 8..offsets[1] + 12].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let path = temp_file(&dir, "huge.pcap", &bytes);
    let (packets, err) = read_until_error(&path);
    assert_eq!(packets.len(), 1);
    assert!(
        matches!(err, Some(CaptureError::Truncated { packet: 2, .. })),
        "{err:?}"
    );
}

#[test]
fn unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = CaptureReader::open(dir.path().join("missing.pcap")).unwrap_err();
    assert!(matches!(err, CaptureError::Io { .. }), "{err}");
    let err = CaptureReader::open(temp_file(&dir, "empty.pcap", &[])).unwrap_err();
    assert!(
        matches!(err, CaptureError::Truncated { offset: 0, .. }),
        "{err}"
    );
    let err = CaptureReader::open(temp_file(&dir, "gif.pcap", b"GIF89a")).unwrap_err();
    assert!(matches!(err, CaptureError::UnknownFormat { .. }), "{err}");
    assert!(err.to_string().contains("gif.pcap"));
    let err = CaptureReader::open(temp_file(
        &dir,
        "short.pcap",
        &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0],
    ))
    .unwrap_err();
    assert!(
        matches!(err, CaptureError::Truncated { offset: 0, .. }),
        "{err}"
    );
    // A section header whose byte-order magic is wrong.
    let mut ng = Ng::new(false);
    ng.shb();
    ng.bytes[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let err = CaptureReader::open(temp_file(&dir, "bom.pcapng", &ng.bytes)).unwrap_err();
    assert!(
        matches!(err, CaptureError::Corrupt { offset: 0, .. }),
        "{err}"
    );
}

#[test]
fn mutated_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (name, bytes) in [
        ("m.pcap", three_packet_pcap().0),
        ("m.pcapng", two_sections()),
    ] {
        for _ in 0..400 {
            let mut mutated = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % mutated.len() as u64) as usize;
                mutated[at] = next() as u8;
            }
            let path = temp_file(&dir, name, &mutated);
            let (packets, _) = read_until_error(&path);
            assert!(packets.len() <= 16);
        }
    }
}
