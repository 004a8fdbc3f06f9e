//! Hand-built capture files in layouts the writer does not produce: big-endian pcap, and a
//! two-section pcapng (both byte orders) with SPB, obsolete PB and skipped blocks.

use super::*;

/// Builds pcapng blocks in either byte order.
pub(super) struct Ng {
    big_endian: bool,
    pub(super) bytes: Vec<u8>,
}

impl Ng {
    pub(super) fn new(big_endian: bool) -> Self {
        Self {
            big_endian,
            bytes: Vec::new(),
        }
    }

    fn u16(&self, value: u16) -> [u8; 2] {
        if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        }
    }

    fn u32(&self, value: u32) -> [u8; 4] {
        if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        }
    }

    /// Appends a block; returns its offset.
    pub(super) fn block(&mut self, block_type: u32, body: &[u8]) -> usize {
        let start = self.bytes.len();
        let mut body = body.to_vec();
        body.resize(body.len().div_ceil(4) * 4, 0);
        let total = self.u32(12 + body.len() as u32);
        let block_type = self.u32(block_type);
        self.bytes.extend_from_slice(&block_type);
        self.bytes.extend_from_slice(&total);
        self.bytes.extend_from_slice(&body);
        self.bytes.extend_from_slice(&total);
        start
    }

    pub(super) fn shb(&mut self) -> usize {
        let mut body = self.u32(0x1a2b_3c4d).to_vec();
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body)
    }

    pub(super) fn idb(&mut self, link_type: u16, snaplen: u32, tsresol: Option<u8>) -> usize {
        let mut body = self.u16(link_type).to_vec();
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(snaplen));
        if let Some(code) = tsresol {
            body.extend_from_slice(&self.u16(9));
            body.extend_from_slice(&self.u16(1));
            body.extend_from_slice(&[code, 0, 0, 0]);
            body.extend_from_slice(&[0; 4]);
        }
        self.block(1, &body)
    }

    pub(super) fn epb(&mut self, if_id: u32, ticks: u64, data: &[u8]) -> usize {
        let mut body = self.u32(if_id).to_vec();
        body.extend_from_slice(&self.u32((ticks >> 32) as u32));
        body.extend_from_slice(&self.u32(ticks as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(data.len() as u32 + 4));
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    pub(super) fn spb(&mut self, origlen: u32, data: &[u8]) -> usize {
        let mut body = self.u32(origlen).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    pub(super) fn pb(&mut self, if_id: u16, ticks: u64, data: &[u8]) -> usize {
        let mut body = self.u16(if_id).to_vec();
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32((ticks >> 32) as u32));
        body.extend_from_slice(&self.u32(ticks as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    pub(super) fn isb(&mut self, if_id: u32) -> usize {
        let mut body = self.u32(if_id).to_vec();
        body.extend_from_slice(&[0; 8]);
        self.block(5, &body)
    }
}

/// A big-endian section (Ethernet at ns, raw IP at µs; EPB, ISB, SPB, an unknown block, PB),
/// then a little-endian one (BSD null; EPB, SPBs, then an IDB after its first packets and an
/// EPB on it).
pub(super) fn two_sections() -> Vec<u8> {
    let mut ng = Ng::new(true);
    ng.shb();
    ng.idb(1, 0, Some(9));
    ng.idb(101, 128, None);
    ng.epb(1, 1_600_000_000_000_001, &[0x45; 21]);
    ng.isb(0);
    ng.spb(60, &[0xee; 60]);
    ng.block(0x0000_0101, &[1, 2, 3, 4]);
    ng.pb(0, 1_600_000_001_000_000_007, &[0xaa; 30]);
    let mut bytes = ng.bytes;
    let mut ng = Ng::new(false);
    ng.shb();
    ng.idb(0, 8, None);
    ng.epb(0, 1_700_000_000_500_000, &[2, 0, 0, 0, 0x45, 0]);
    ng.spb(20, &[1; 8]);
    ng.spb(5, &[3; 5]);
    ng.idb(228, 0, Some(3));
    ng.epb(1, 1_700_000_001_250, &[0x45; 20]);
    bytes.extend(ng.bytes);
    bytes
}

#[test]
fn two_sections_both_byte_orders() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "sections.pcapng", &two_sections());
    let mut reader = CaptureReader::open(&path).unwrap();
    let at_open = reader.format().clone();
    assert_eq!(at_open.kind, FileKind::PcapNg);
    assert_eq!(
        at_open.interfaces.len(),
        2,
        "interfaces before the first packet"
    );
    let packets: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    let format = reader.format();
    let links: Vec<_> = format.interfaces.iter().map(|i| i.link_type).collect();
    assert_eq!(
        links,
        [
            LinkType::Ethernet,
            LinkType::Raw,
            LinkType::Null,
            LinkType::Ipv4
        ]
    );
    assert_eq!(
        format.interfaces[0].ts_resolution,
        TimestampResolution::NANO
    );
    assert_eq!(format.interfaces[1].snaplen, 128);
    assert_eq!(format.interfaces[3].ts_resolution.code(), 3);

    let summary: Vec<_> = packets
        .iter()
        .map(|p| (p.timestamp, p.interface, p.data.len(), p.original_len))
        .collect();
    let epb_time = ts(1_600_000_000, 1_000);
    assert_eq!(
        summary,
        [
            (epb_time, 1, 21, 25),
            (epb_time, 0, 60, 60), // SPB: previous packet's time
            (ts(1_600_000_001, 7), 0, 30, 30),
            (ts(1_700_000_000, 500_000_000), 2, 6, 10),
            (ts(1_700_000_000, 500_000_000), 2, 8, 20), // SPB cut to snaplen 8
            (ts(1_700_000_000, 500_000_000), 2, 5, 5),  // SPB padding dropped
            (ts(1_700_000_001, 250_000_000), 3, 20, 24),
        ]
    );
    assert_eq!(packets[2].data, vec![0xaa; 30]);
    assert_eq!(packets[5].data, vec![3; 5]);
    assert_eq!(
        ip_offset(packets[3].link_type, &packets[3].data),
        Ok(Some(4))
    );

    // The format is enough to write the same kind of file back.
    let out = dir.path().join("copy.pcapng");
    let mut writer = CaptureWriter::create(&out, format).unwrap();
    for p in &packets {
        writer
            .write_packet(p.timestamp, p.interface, &p.data, &[])
            .unwrap();
    }
    writer.finish().unwrap();
    let (copy_format, copy) = read_all(&out);
    assert_eq!(&copy_format, format);
    let pairs: Vec<_> = copy
        .iter()
        .map(|p| (p.timestamp, p.interface, &p.data))
        .collect();
    let expected: Vec<_> = packets
        .iter()
        .map(|p| (p.timestamp, p.interface, &p.data))
        .collect();
    assert_eq!(pairs, expected);
}

#[test]
fn big_endian_pcap() {
    for (magic, resolution, fraction) in [
        (
            0xa1b2_c3d4u32,
            TimestampResolution::MICRO,
            Duration::from_micros(654_321),
        ),
        (
            0xa1b2_3c4d,
            TimestampResolution::NANO,
            Duration::from_nanos(654_321),
        ),
    ] {
        let mut bytes = magic.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[
            0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, 0xdc, 0, 0, 0, 113,
        ]);
        for value in [1_234_567_890u32, 654_321, 18, 18] {
            bytes.extend_from_slice(&value.to_be_bytes());
        }
        bytes.extend_from_slice(&[
            0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00, 0x45, 0,
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = temp_file(&dir, "be.pcap", &bytes);
        let (format, packets) = read_all(&path);
        assert_eq!(
            format,
            CaptureFormat::pcap(LinkType::LinuxSll, 1500, resolution)
        );
        assert_eq!(packets.len(), 1);
        assert_eq!(
            packets[0].timestamp,
            Duration::from_secs(1_234_567_890) + fraction
        );
        assert_eq!(
            ip_offset(packets[0].link_type, &packets[0].data),
            Ok(Some(16))
        );
    }
}
