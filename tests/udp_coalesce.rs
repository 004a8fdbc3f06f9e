//! The UDP coalescer in memory: datagrams go in as the worker would push them, the
//! super-packets that come out are cut the way the kernel's GSO cuts them
//! (`offload::for_each_segment`), and what results must be the datagrams that went in, byte
//! for byte and in order, whatever mix of flows, sizes, identifications, corrupt checksums
//! and odd headers came in.

use ftpgate::engine::wire::checksum::{fold, sum_bytes};
use ftpgate::engine::wire::offload::{for_each_segment, pseudo_header_sum};
use ftpgate::io::udp_coalesce::{write_or_cut, UdpCoalescer, MAX_SEGMENTS};
use ftpgate::io::vnet::{VnetHeader, GSO_UDP_L4, HEADER_LEN, NEEDS_CSUM, PLAIN};
use ftpgate_testkit::packet::write_udp;
use proptest::prelude::*;

const CLIENT: [u8; 4] = [10, 77, 0, 2];
const SERVER: [u8; 4] = [198, 51, 100, 2];
const CLIENT6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const SERVER6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// A change made to a datagram's bytes.
type Change = fn(&mut [u8]);

type Written = Vec<([u8; HEADER_LEN], Vec<u8>)>;

/// An IPv4 datagram from the client's port `port` with identification `id`.
fn v4(id: u16, port: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 28 + payload.len()];
    write_udp(&mut buf, (CLIENT, port), (SERVER, 53), payload);
    buf[4..6].copy_from_slice(&id.to_be_bytes());
    fix_ip_checksum(&mut buf);
    buf
}

fn v6(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 48 + payload.len()];
    write_udp(&mut buf, (CLIENT6, port), (SERVER6, 53), payload);
    buf
}

fn fix_ip_checksum(packet: &mut [u8]) {
    packet[10..12].fill(0);
    let checksum = !fold(sum_bytes(&packet[..20]));
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
}

fn payload(tag: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (tag * 31 + i) as u8).collect()
}

/// Consecutive IPv4 datagrams of one flow, `sizes` bytes of payload each.
fn stream(first_id: u16, sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut id = first_id;
    let mut out = Vec::new();
    for (tag, len) in sizes.iter().enumerate() {
        out.push(v4(id, 4000, &payload(tag, *len)));
        id = id.wrapping_add(1);
    }
    out
}

/// The packets through a coalescer as the worker drives it: a packet it refuses is written
/// after the pending run.
fn through(packets: &[Vec<u8>]) -> Written {
    let mut out: Written = Vec::new();
    let mut coalescer = UdpCoalescer::new();
    for packet in packets {
        let mut send = |h: &[u8; HEADER_LEN], b: &[u8]| out.push((*h, b.to_vec()));
        if !coalescer.push(packet, &mut send) {
            coalescer.flush(&mut send);
            send(&PLAIN, packet);
        }
    }
    coalescer.flush(&mut |h, b| out.push((*h, b.to_vec())));
    out
}

/// What the kernel makes of the writes: plain packets as they are, super-packets (whose
/// headers are checked first) cut into their segments.
fn cut(written: &Written) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut scratch = vec![0u8; 70_000];
    for (header, packet) in written {
        if *header == PLAIN {
            out.push(packet.clone());
            continue;
        }
        let header = VnetHeader::decode(header).expect("header");
        let l4 = if packet[0] >> 4 == 4 { 20 } else { 40 };
        assert_eq!(header.gso_type, GSO_UDP_L4);
        assert_eq!(header.flags, NEEDS_CSUM);
        assert_eq!(
            (header.csum_start, header.csum_offset, header.hdr_len),
            (l4 as u16, 6, l4 as u16 + 8)
        );
        if l4 == 20 {
            assert_eq!(
                fold(sum_bytes(&packet[..20])),
                0xffff,
                "IPv4 header checksum"
            );
            assert_eq!(
                usize::from(u16::from_be_bytes([packet[2], packet[3]])),
                packet.len()
            );
        }
        let partial = u16::from_be_bytes([packet[l4 + 6], packet[l4 + 7]]);
        assert_eq!(Some(partial), pseudo_header_sum(packet), "partial checksum");
        let size = usize::from(header.gso_size);
        assert!(
            packet.len() - l4 - 8 > size,
            "a super-packet holds two segments or more"
        );
        for_each_segment(packet, size, &mut scratch, 70_000, |segment, len| {
            out.push(segment[..len].to_vec())
        })
        .expect("the kernel can cut it");
    }
    out
}

fn runs(written: &Written) -> Vec<usize> {
    written
        .iter()
        .map(|(header, packet)| match VnetHeader::decode(header) {
            Some(h) if h.gso_type == GSO_UDP_L4 => {
                let l4 = if packet[0] >> 4 == 4 { 28 } else { 48 };
                (packet.len() - l4).div_ceil(usize::from(h.gso_size))
            }
            _ => 1,
        })
        .collect()
}

#[test]
fn a_stream_of_small_datagrams_leaves_as_one_super_packet_that_cuts_back_into_them() {
    let packets = stream(7, &[64; 10]);
    let written = through(&packets);
    assert_eq!(runs(&written), [10]);
    assert_eq!(cut(&written), packets);
}

#[test]
fn one_datagram_alone_goes_out_unchanged_with_a_plain_header() {
    let packets = stream(7, &[64]);
    let written = through(&packets);
    assert_eq!(written, [(PLAIN, packets[0].clone())]);
}

#[test]
fn a_shorter_datagram_ends_the_run_and_a_longer_one_starts_another() {
    let packets = stream(1, &[100, 100, 100, 40, 100, 50, 50, 80, 80]);
    let written = through(&packets);
    // 100 100 100 40 | 100 50 (shorter: ends) | 50 | 80 (longer: new run) 80
    assert_eq!(runs(&written), [4, 2, 1, 2]);
    assert_eq!(cut(&written), packets);
}

#[test]
fn a_corrupt_datagram_is_neither_coalesced_nor_repaired() {
    let mut packets = stream(1, &[64; 5]);
    packets[2][40] ^= 0xff;
    let written = through(&packets);
    assert_eq!(runs(&written), [2, 1, 2]);
    assert_eq!(
        written[1],
        (PLAIN, packets[2].clone()),
        "written as it came"
    );
    assert_eq!(cut(&written), packets);
    // A corrupt IPv4 header checksum goes alone too.
    let mut packets = stream(1, &[64; 3]);
    packets[1][10] ^= 1;
    assert_eq!(runs(&through(&packets)), [1, 1, 1]);
    // So does a right one in the form the kernel never writes (0xffff for a zero sum): the
    // kernel would write 0x0000 in the datagram it cuts. Find an identification that
    // makes the checksum zero.
    let zero = (0..=u16::MAX)
        .map(|id| v4(id, 4000, b"abcd"))
        .find(|p| p[10..12] == [0, 0])
        .expect("an identification with a zero checksum");
    let mut other_form = zero.clone();
    other_form[10..12].copy_from_slice(&[0xff, 0xff]);
    assert_eq!(fold(sum_bytes(&other_form[..20])), 0xffff, "still verifies");
    let next = |p: &[u8]| {
        let id = u16::from_be_bytes([p[4], p[5]]).wrapping_add(1);
        v4(id, 4000, b"efgh")
    };
    let packets = vec![other_form.clone(), next(&other_form)];
    assert_eq!(runs(&through(&packets)), [1, 1]);
    assert_eq!(cut(&through(&packets)), packets);
    let packets = vec![zero.clone(), next(&zero)];
    assert_eq!(runs(&through(&packets)), [2]);
}

#[test]
fn any_other_header_difference_breaks_the_run() {
    let base = stream(100, &[64; 2]);
    let variants: Vec<Change> = vec![
        |p| p[1] = 0x10,                        // TOS
        |p| p[1] = 0x03,                        // ECN CE
        |p| p[8] = 63,                          // TTL
        |p| p[6] = 0,                           // DF cleared
        |p| p[19] = 3,                          // destination address
        |p| p[15] = 9,                          // source address
        |p| p[4..6].copy_from_slice(&[0, 105]), // identification skips
    ];
    for (n, change) in variants.iter().enumerate() {
        let mut third = v4(102, 4000, &payload(9, 64));
        change(&mut third);
        third[26..28].fill(0);
        let udp_sum = {
            let mut pseudo = sum_bytes(&third[12..20]) + 17 + (third.len() as u32 - 20);
            pseudo += sum_bytes(&third[20..]);
            !fold(pseudo)
        };
        third[26..28].copy_from_slice(&udp_sum.to_be_bytes());
        fix_ip_checksum(&mut third);
        let packets = [base.clone(), vec![third]].concat();
        let written = through(&packets);
        assert_eq!(runs(&written), [2, 1], "variant {n}");
        assert_eq!(cut(&written), packets, "variant {n}");
    }
    // Another port is another flow.
    let packets = vec![
        v4(1, 4000, b"aaaa"),
        v4(2, 4001, b"bbbb"),
        v4(3, 4001, b"cccc"),
    ];
    assert_eq!(runs(&through(&packets)), [1, 2]);
}

#[test]
fn ipv4_identifications_follow_on_across_the_wrap() {
    let packets = stream(65_534, &[64; 4]);
    let written = through(&packets);
    assert_eq!(runs(&written), [4]);
    assert_eq!(cut(&written), packets);
}

#[test]
fn fragments_options_last_hop_and_unchecksummed_datagrams_go_alone() {
    let changes: Vec<Change> = vec![
        |p| p[6] |= 0x20,      // more fragments
        |p| p[7] = 8,          // fragment offset
        |p| p[8] = 1,          // TTL runs out at the next hop
        |p| p[26..28].fill(0), // no UDP checksum
        |p| p[9] = 6,          // not UDP
    ];
    for (n, change) in changes.iter().enumerate() {
        let mut packets = stream(1, &[64; 4]);
        for packet in &mut packets {
            change(packet);
            fix_ip_checksum(packet);
        }
        let written = through(&packets);
        assert_eq!(runs(&written), [1, 1, 1, 1], "variant {n}");
        assert!(written.iter().all(|(h, _)| *h == PLAIN), "variant {n}");
        assert_eq!(cut(&written), packets, "variant {n}");
    }
    // IPv4 options: a 24-byte header.
    let mut with_options = vec![0u8; 24 + 8 + 4];
    with_options[..20].copy_from_slice(&v4(1, 4000, b"abcd")[..20]);
    with_options[0] = 0x46;
    with_options[2..4].copy_from_slice(&36u16.to_be_bytes());
    fix_ip_checksum(&mut with_options);
    let packets = vec![with_options.clone(), with_options];
    assert_eq!(runs(&through(&packets)), [1, 1]);
}

#[test]
fn ipv6_datagrams_coalesce_and_a_flow_label_change_breaks_the_run() {
    let mut packets: Vec<Vec<u8>> = (0..6).map(|n| v6(5000, &payload(n, 120))).collect();
    let written = through(&packets);
    assert_eq!(runs(&written), [6]);
    assert_eq!(cut(&written), packets);
    packets[3][3] = 7; // flow label
    packets[5][7] = 1; // last hop
    let written = through(&packets);
    assert_eq!(runs(&written), [3, 1, 1, 1]);
    assert_eq!(cut(&written), packets);
    // The largest IPv6 datagram (65,575 bytes) is longer than any run: it goes alone.
    let jumbo = v6(5000, &vec![7u8; 65_535 - 8]);
    assert_eq!(jumbo.len(), 65_575);
    let written = through(&[jumbo.clone(), jumbo.clone()]);
    assert_eq!(written, [(PLAIN, jumbo.clone()), (PLAIN, jumbo)]);
}

#[test]
fn a_run_stops_at_its_segment_limit_and_at_64_kib() {
    let sizes = vec![100; 150];
    let packets = stream(1, &sizes);
    let written = through(&packets);
    let cap = usize::from(MAX_SEGMENTS);
    assert_eq!(runs(&written), [cap, cap, 150 - 2 * cap]);
    assert_eq!(cut(&written), packets);

    let packets = stream(1, &[1400; 60]);
    let written = through(&packets);
    assert!(written.iter().all(|(_, p)| p.len() <= 65_535));
    assert_eq!(runs(&written), [46, 14]);
    assert_eq!(cut(&written), packets);
}

#[test]
fn a_super_packet_the_device_refuses_is_cut_and_written_datagram_by_datagram() {
    let packets = stream(40, &[64, 64, 64, 30]);
    let written = through(&packets);
    assert_eq!(runs(&written), [4]);
    let (header, run) = &written[0];
    let mut scratch = vec![0u8; 65_535];
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut refuses_gso = |h: &[u8; HEADER_LEN], b: &[u8]| {
        if *h != PLAIN {
            return Err(std::io::Error::from_raw_os_error(22));
        }
        out.push(b.to_vec());
        Ok(())
    };
    let cut = write_or_cut(header, run, &mut scratch, &mut refuses_gso).expect("written");
    assert!(cut, "the caller is told to stop coalescing");
    assert_eq!(out, packets);

    let mut frames = 0;
    let mut takes_all = |_: &[u8; HEADER_LEN], _: &[u8]| {
        frames += 1;
        Ok(())
    };
    let cut = write_or_cut(header, run, &mut scratch, &mut takes_all).expect("written");
    assert!(
        !cut && frames == 1,
        "a device that takes USO gets one frame"
    );

    let mut fails = |_: &[u8; HEADER_LEN], _: &[u8]| Err(std::io::Error::from_raw_os_error(5));
    assert!(write_or_cut(&PLAIN, &packets[0], &mut scratch, &mut fails).is_err());
}

/// One datagram of a generated sequence: which flow, how long, and what may be wrong with it.
#[derive(Debug, Clone)]
struct Shape {
    flow: u8,
    len: usize,
    skip_id: bool,
    corrupt: bool,
    ipv6: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        0u8..3,
        prop_oneof![Just(64usize), Just(64), Just(1), 1usize..1500],
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(flow, len, skip_id, corrupt, ipv6)| Shape {
            flow,
            len,
            skip_id,
            corrupt,
            ipv6,
        })
}

proptest! {
    #[test]
    fn whatever_comes_in_the_kernel_cuts_back_exactly_what_came_in(
        shapes in prop::collection::vec(shape(), 0..300)
    ) {
        let mut ids = [0u16, 1000, 2000];
        let mut packets = Vec::new();
        for (n, s) in shapes.iter().enumerate() {
            let port = 4000 + u16::from(s.flow);
            let data = payload(n, s.len);
            let mut packet = if s.ipv6 {
                v6(port, &data)
            } else {
                let id = &mut ids[usize::from(s.flow)];
                *id = id.wrapping_add(if s.skip_id { 3 } else { 1 });
                v4(*id, port, &data)
            };
            if s.corrupt {
                let last = packet.len() - 1;
                packet[last] ^= 0x80;
            }
            packets.push(packet);
        }
        let written = through(&packets);
        prop_assert!(written.len() <= packets.len());
        prop_assert_eq!(cut(&written), packets);
    }
}

proptest! {
    /// Garbage and datagrams with any one byte changed, among good ones: nothing panics, and
    /// whatever the coalescer refuses or joins, the kernel's cut gives back what came in.
    #[test]
    fn mangled_packets_go_out_as_they_came(
        ops in prop::collection::vec(
            (0u8..4, prop::collection::vec(any::<u8>(), 0..120), any::<usize>(), any::<u8>()),
            0..200,
        )
    ) {
        let mut id = 0u16;
        let mut packets = Vec::new();
        for (n, (kind, bytes, at, value)) in ops.into_iter().enumerate() {
            id = id.wrapping_add(1);
            let good = v4(id, 4000, &payload(n, 64));
            let packet = match kind {
                0 => bytes,
                1 => {
                    let mut changed = good;
                    let at = at % changed.len();
                    changed[at] = value;
                    changed
                }
                2 => {
                    let mut changed = v6(4000, &payload(n, 64));
                    let at = at % changed.len();
                    changed[at] = value;
                    changed
                }
                _ => good,
            };
            packets.push(packet);
        }
        let written = through(&packets);
        prop_assert_eq!(cut(&written), packets);
    }
}
