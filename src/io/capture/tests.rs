//! Round trips through [`CaptureWriter`] and [`CaptureReader`], hand-built files in the
//! layouts the writer does not produce (big-endian, several sections, SPB and obsolete PB
//! blocks), and corrupt or truncated input.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn ts(secs: u64, nanos: u32) -> Duration {
    Duration::new(secs, nanos)
}

/// An Ethernet frame carrying a small IPv4 packet whose last byte is `tag`.
fn eth_frame(tag: u8, payload: usize) -> (Vec<u8>, Vec<u8>) {
    let header = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = 20 + payload;
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ];
    ip.extend_from_slice(&[10, 77, 0, 2, 198, 51, 100, 2]);
    ip.extend((0..payload).map(|i| i as u8));
    if let Some(last) = ip.last_mut() {
        *last = tag;
    }
    (header, ip)
}

fn read_all(path: &Path) -> (CaptureFormat, Vec<CapturedPacket>) {
    let mut reader = CaptureReader::open(path).expect("open");
    let packets: Vec<_> = reader.by_ref().collect::<Result<_, _>>().expect("read");
    (reader.format().clone(), packets)
}

/// Reads until the first error, returning the packets and the error.
fn read_until_error(path: &Path) -> (Vec<CapturedPacket>, Option<CaptureError>) {
    let mut reader = match CaptureReader::open(path) {
        Ok(reader) => reader,
        Err(err) => return (Vec::new(), Some(err)),
    };
    let mut packets = Vec::new();
    for item in reader.by_ref() {
        match item {
            Ok(packet) => packets.push(packet),
            Err(err) => return (packets, Some(err)),
        }
    }
    assert!(reader.next().is_none(), "reader is fused");
    (packets, None)
}

fn temp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

#[test]
fn pcap_microseconds_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("us.pcap");
    let format = CaptureFormat::pcap(LinkType::Ethernet, 65535, TimestampResolution::MICRO);
    let times = [
        ts(1_300_000_000, 0),
        ts(1_300_000_000, 999_999_000),
        ts(1_300_000_001, 1_000),
    ];
    let mut writer = CaptureWriter::create(&path, &format).unwrap();
    let mut frames = Vec::new();
    for (i, time) in times.iter().enumerate() {
        let (header, ip) = eth_frame(i as u8, 10 + i);
        writer.write_packet(*time, 0, &header, &ip).unwrap();
        frames.push([header, ip].concat());
    }
    writer.finish().unwrap();

    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond magic"
    );
    let (read_format, packets) = read_all(&path);
    assert_eq!(read_format, format);
    assert_eq!(packets.len(), 3);
    for ((packet, time), frame) in packets.iter().zip(times).zip(&frames) {
        assert_eq!(packet.timestamp, time);
        assert_eq!(packet.interface, 0);
        assert_eq!(packet.link_type, LinkType::Ethernet);
        assert_eq!(&packet.data, frame);
        assert_eq!(packet.original_len as usize, frame.len());
    }
}

#[test]
fn pcap_nanoseconds_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ns.pcap");
    let format = CaptureFormat::pcap(LinkType::Raw, 262_144, TimestampResolution::NANO);
    let times = [
        ts(1_700_000_000, 1),
        ts(1_700_000_000, 123_456_789),
        ts(4_000_000_000, 999_999_999),
    ];
    let mut writer = CaptureWriter::create(&path, &format).unwrap();
    for (i, time) in times.iter().enumerate() {
        let (_, ip) = eth_frame(i as u8, 4);
        writer.write_packet(*time, 0, &[], &ip).unwrap();
    }
    writer.finish().unwrap();

    let (read_format, packets) = read_all(&path);
    assert_eq!(read_format, format);
    let read_times: Vec<_> = packets.iter().map(|p| p.timestamp).collect();
    assert_eq!(read_times, times);
    assert_eq!(packets[2].data, eth_frame(2, 4).1);
    assert_eq!(
        ip_offset(packets[2].link_type, &packets[2].data),
        Ok(Some(0))
    );
}

#[test]
fn pcapng_two_interfaces_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.pcapng");
    let format = CaptureFormat::pcapng(vec![
        InterfaceInfo {
            link_type: LinkType::Ethernet,
            snaplen: 0,
            ts_resolution: TimestampResolution::MICRO,
            ts_offset: 0,
        },
        InterfaceInfo {
            link_type: LinkType::LinuxSll2,
            snaplen: 9000,
            ts_resolution: TimestampResolution::from_code(0x80 | 20).unwrap(),
            ts_offset: 1_000_000_000,
        },
    ]);
    let sll2 = [
        0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    // The binary-resolution timestamps are whole ticks of 2^-20 s, as a file would hold.
    let tick = |n: u64| Duration::from_nanos((n * 1_000_000_000) >> 20);
    let packets_in = [
        (ts(1_600_000_000, 250_000_000), 0usize),
        (ts(1_600_000_000, 0) + tick(3), 1),
        (ts(1_600_000_001, 7_000), 0),
        (ts(1_600_000_002, 0) + tick((1 << 20) - 1), 1),
    ];
    let mut writer = CaptureWriter::create(&path, &format).unwrap();
    let mut frames = Vec::new();
    let mut ips = Vec::new();
    for (i, (time, interface)) in packets_in.iter().enumerate() {
        let (eth, ip) = eth_frame(i as u8, 7 + i);
        let header = if *interface == 0 { eth } else { sll2.to_vec() };
        writer
            .write_packet(*time, *interface, &header, &ip)
            .unwrap();
        frames.push([header, ip.clone()].concat());
        ips.push(ip);
    }
    writer.finish().unwrap();

    let (read_format, packets) = read_all(&path);
    assert_eq!(read_format, format);
    assert_eq!(packets.len(), packets_in.len());
    for (i, (time, interface)) in packets_in.into_iter().enumerate() {
        let packet = &packets[i];
        assert_eq!(packet.timestamp, time);
        assert_eq!(packet.interface, interface);
        assert_eq!(packet.link_type, format.interfaces[interface].link_type);
        assert_eq!(packet.data, frames[i]);
        let parts = split_frame(packet.link_type, &packet.data)
            .unwrap()
            .unwrap();
        assert_eq!(parts.ip_packet, &ips[i][..]);
    }
}

#[test]
fn next_packet_reuses_the_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reuse.pcap");
    let format = CaptureFormat::pcap(LinkType::Ethernet, 65535, TimestampResolution::MICRO);
    let mut writer = CaptureWriter::create(&path, &format).unwrap();
    for i in 0..5u8 {
        let (header, ip) = eth_frame(i, 30 - usize::from(i));
        writer.write_packet(ts(1, 0), 0, &header, &ip).unwrap();
    }
    writer.finish().unwrap();
    let mut reader = CaptureReader::open(&path).unwrap();
    let mut packet = CapturedPacket::default();
    let mut count = 0;
    while reader.next_packet(&mut packet).unwrap() {
        count += 1;
        assert_eq!(packet.data.last(), Some(&(count - 1)));
    }
    assert_eq!(count, 5);
    assert_eq!(reader.packets_read(), 5);
    assert!(!reader.next_packet(&mut packet).unwrap());
}

#[test]
fn grown_frames_raise_the_snapshot_length() {
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [
        (
            "snap.pcap",
            CaptureFormat::pcap(LinkType::Ethernet, 60, TimestampResolution::MICRO),
        ),
        (
            "snap.pcapng",
            CaptureFormat::pcapng(vec![InterfaceInfo {
                link_type: LinkType::Ethernet,
                snaplen: 60,
                ts_resolution: TimestampResolution::NANO,
                ts_offset: 0,
            }]),
        ),
    ] {
        let path = dir.path().join(name);
        let mut writer = CaptureWriter::create(&path, &format).unwrap();
        let (header, ip) = eth_frame(9, 80);
        writer.write_packet(ts(5, 5), 0, &header, &ip).unwrap();
        writer.finish().unwrap();
        let (read_format, packets) = read_all(&path);
        assert_eq!(read_format.interfaces[0].snaplen, 114, "{name}");
        assert_eq!(packets[0].data.len(), 114, "{name}");
    }
}

#[test]
fn writer_rejects_what_it_cannot_express() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.pcap");
    let info = InterfaceInfo {
        link_type: LinkType::Ethernet,
        snaplen: 0,
        ts_resolution: TimestampResolution::MICRO,
        ts_offset: 0,
    };
    let two = CaptureFormat {
        kind: FileKind::Pcap,
        interfaces: vec![info, info],
    };
    assert!(matches!(
        CaptureWriter::create(&path, &two),
        Err(CaptureError::Unwritable { .. })
    ));
    let odd = CaptureFormat::pcap(
        LinkType::Ethernet,
        0,
        TimestampResolution::from_code(3).unwrap(),
    );
    assert!(matches!(
        CaptureWriter::create(&path, &odd),
        Err(CaptureError::Unwritable { .. })
    ));

    let format = CaptureFormat::pcap(LinkType::Ethernet, 0, TimestampResolution::MICRO);
    let mut writer = CaptureWriter::create(&path, &format).unwrap();
    assert!(matches!(
        writer.write_packet(ts(1, 0), 1, &[0; 14], &[]),
        Err(CaptureError::NoSuchInterface {
            interface: 1,
            count: 1,
            ..
        })
    ));
    assert!(matches!(
        writer.write_packet(ts(1 << 33, 0), 0, &[0; 14], &[]),
        Err(CaptureError::TimestampOutOfRange { .. })
    ));
    assert!(matches!(
        writer.add_interface(&info),
        Err(CaptureError::Unwritable { .. })
    ));

    let path = dir.path().join("bad.pcapng");
    let mut writer = CaptureWriter::create(&path, &CaptureFormat::pcapng(vec![])).unwrap();
    let wide = InterfaceInfo {
        link_type: LinkType::Other(70_000),
        ..info
    };
    assert!(matches!(
        writer.add_interface(&wide),
        Err(CaptureError::LinkTypeTooLarge { .. })
    ));
    assert_eq!(writer.add_interface(&info).unwrap(), 0);
    writer.write_packet(ts(1, 0), 0, &[1, 2, 3], &[]).unwrap();
    writer.finish().unwrap();
    let (read_format, packets) = read_all(&path);
    assert_eq!(read_format.interfaces, vec![info]);
    assert_eq!(packets[0].data, vec![1, 2, 3]);
}

#[path = "tests_handmade.rs"]
mod handmade;

#[path = "tests_corrupt.rs"]
mod corrupt;
