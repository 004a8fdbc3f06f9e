//! Byte-vector tests for link-header parsing ([`super`]).

use super::*;

/// A 20-byte IPv4 header (no options) with the given total length.
fn ipv4(total_len: u16) -> Vec<u8> {
    let mut ip = vec![0x45, 0x00];
    ip.extend_from_slice(&total_len.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 10, 77, 0, 2, 198, 51, 100, 2]);
    ip
}

/// A 40-byte IPv6 header with the given payload length and next header.
fn ipv6(payload_len: u16, next_header: u8) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&payload_len.to_be_bytes());
    ip.extend_from_slice(&[next_header, 64]);
    ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    ip.extend_from_slice(&[0; 12]);
    ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    ip.extend_from_slice(&[0; 11]);
    ip.push(1);
    ip
}

fn ethernet(ethertype: u16) -> Vec<u8> {
    let mut frame = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame
}

fn vlan_tag(vid: u16, inner: u16) -> [u8; 4] {
    let [a, b] = vid.to_be_bytes();
    let [c, d] = inner.to_be_bytes();
    [a, b, c, d]
}

fn sll(hatype: u16, protocol: u16) -> Vec<u8> {
    let mut frame = vec![0, 0];
    frame.extend_from_slice(&hatype.to_be_bytes());
    frame.extend_from_slice(&[0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    frame.extend_from_slice(&protocol.to_be_bytes());
    frame
}

fn sll2(protocol: u16, hatype: u16) -> Vec<u8> {
    let mut frame = protocol.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 3]);
    frame.extend_from_slice(&hatype.to_be_bytes());
    frame.extend_from_slice(&[4, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    frame
}

#[test]
fn link_type_numbers() {
    for (value, link) in [
        (0, LinkType::Null),
        (1, LinkType::Ethernet),
        (101, LinkType::Raw),
        (108, LinkType::Loop),
        (113, LinkType::LinuxSll),
        (228, LinkType::Ipv4),
        (229, LinkType::Ipv6),
        (276, LinkType::LinuxSll2),
        (147, LinkType::Other(147)),
    ] {
        assert_eq!(LinkType::from_u32(value), link);
        assert_eq!(link.to_u32(), value);
    }
    assert_eq!(LinkType::from_u32(12), LinkType::Raw);
    assert_eq!(LinkType::from_u32(14), LinkType::Raw);
}

#[test]
fn ethernet_ipv4_and_ipv6() {
    let mut frame = ethernet(0x0800);
    frame.extend(ipv4(20));
    assert_eq!(ip_offset(LinkType::Ethernet, &frame), Ok(Some(14)));
    let mut frame = ethernet(0x86dd);
    frame.extend(ipv6(0, 59));
    assert_eq!(ip_offset(LinkType::Ethernet, &frame), Ok(Some(14)));
}

#[test]
fn ethernet_non_ip_is_none() {
    let mut arp = ethernet(0x0806);
    arp.extend_from_slice(&[0; 28]);
    assert_eq!(ip_offset(LinkType::Ethernet, &arp), Ok(None));
    let lldp = ethernet(0x88cc);
    assert_eq!(ip_offset(LinkType::Ethernet, &lldp), Ok(None));
    // An 802.3 length field, not an EtherType.
    let llc = ethernet(0x0026);
    assert_eq!(ip_offset(LinkType::Ethernet, &llc), Ok(None));
}

#[test]
fn ethernet_vlan_and_qinq() {
    let mut frame = ethernet(0x8100);
    frame.extend_from_slice(&vlan_tag(42, 0x0800));
    frame.extend(ipv4(20));
    assert_eq!(ip_offset(LinkType::Ethernet, &frame), Ok(Some(18)));

    let mut frame = ethernet(0x88a8);
    frame.extend_from_slice(&vlan_tag(100, 0x8100));
    frame.extend_from_slice(&vlan_tag(42, 0x86dd));
    frame.extend(ipv6(0, 59));
    assert_eq!(ip_offset(LinkType::Ethernet, &frame), Ok(Some(22)));

    let mut frame = ethernet(0x9100);
    frame.extend_from_slice(&vlan_tag(7, 0x0806));
    assert_eq!(ip_offset(LinkType::Ethernet, &frame), Ok(None));
}

#[test]
fn ethernet_truncated() {
    let frame = ethernet(0x0800);
    for len in 0..14 {
        assert_eq!(
            ip_offset(LinkType::Ethernet, &frame[..len]),
            Err(LinkError::Truncated {
                link_type: LinkType::Ethernet,
                needed: 14,
                len
            })
        );
    }
    // A header with nothing after it is not an error: the IP packet is empty.
    assert_eq!(ip_offset(LinkType::Ethernet, &frame), Ok(Some(14)));

    let mut tagged = ethernet(0x88a8);
    tagged.extend_from_slice(&vlan_tag(100, 0x8100));
    tagged.extend_from_slice(&vlan_tag(42, 0x0800));
    for len in 14..22 {
        let needed = if len < 18 { 18 } else { 22 };
        assert_eq!(
            ip_offset(LinkType::Ethernet, &tagged[..len]),
            Err(LinkError::Truncated {
                link_type: LinkType::Ethernet,
                needed,
                len
            })
        );
    }
}

#[test]
fn linux_cooked_v1() {
    let mut frame = sll(1, 0x0800);
    frame.extend(ipv4(20));
    assert_eq!(ip_offset(LinkType::LinuxSll, &frame), Ok(Some(16)));
    let mut frame = sll(772, 0x86dd);
    frame.extend(ipv6(0, 59));
    assert_eq!(ip_offset(LinkType::LinuxSll, &frame), Ok(Some(16)));
    let mut frame = sll(1, 0x8100);
    frame.extend_from_slice(&vlan_tag(5, 0x0800));
    assert_eq!(ip_offset(LinkType::LinuxSll, &frame), Ok(Some(20)));
    assert_eq!(ip_offset(LinkType::LinuxSll, &sll(1, 0x0806)), Ok(None));
    // Netlink captures put the netlink family in the protocol field.
    assert_eq!(ip_offset(LinkType::LinuxSll, &sll(824, 0x0800)), Ok(None));
    assert_eq!(
        ip_offset(LinkType::LinuxSll, &sll(1, 0x0800)[..15]),
        Err(LinkError::Truncated {
            link_type: LinkType::LinuxSll,
            needed: 16,
            len: 15
        })
    );
}

#[test]
fn linux_cooked_v2() {
    let mut frame = sll2(0x0800, 1);
    frame.extend(ipv4(20));
    assert_eq!(ip_offset(LinkType::LinuxSll2, &frame), Ok(Some(20)));
    let frame = sll2(0x86dd, 1);
    assert_eq!(ip_offset(LinkType::LinuxSll2, &frame), Ok(Some(20)));
    assert_eq!(ip_offset(LinkType::LinuxSll2, &sll2(0x0806, 1)), Ok(None));
    assert_eq!(ip_offset(LinkType::LinuxSll2, &sll2(0x0800, 824)), Ok(None));
    for len in 0..20 {
        assert_eq!(
            ip_offset(LinkType::LinuxSll2, &sll2(0x0800, 1)[..len]),
            Err(LinkError::Truncated {
                link_type: LinkType::LinuxSll2,
                needed: 20,
                len
            })
        );
    }
}

#[test]
fn loopback_families() {
    // Little-endian host (Linux, FreeBSD on x86): AF_INET = 2.
    let mut frame = vec![2, 0, 0, 0];
    frame.extend(ipv4(20));
    assert_eq!(ip_offset(LinkType::Null, &frame), Ok(Some(4)));
    // Big-endian host writing AF_INET6 = 28 (FreeBSD).
    assert_eq!(ip_offset(LinkType::Null, &[0, 0, 0, 28]), Ok(Some(4)));
    // macOS AF_INET6 = 30, little-endian.
    assert_eq!(ip_offset(LinkType::Null, &[30, 0, 0, 0]), Ok(Some(4)));
    // Some other family.
    assert_eq!(ip_offset(LinkType::Null, &[17, 0, 0, 0]), Ok(None));
    // OpenBSD loop is always network byte order.
    assert_eq!(ip_offset(LinkType::Loop, &[0, 0, 0, 24]), Ok(Some(4)));
    assert_eq!(ip_offset(LinkType::Loop, &[24, 0, 0, 0]), Ok(None));
    assert_eq!(
        ip_offset(LinkType::Null, &[2, 0, 0]),
        Err(LinkError::Truncated {
            link_type: LinkType::Null,
            needed: 4,
            len: 3
        })
    );
}

#[test]
fn raw_and_other() {
    let ip = ipv4(20);
    for link in [LinkType::Raw, LinkType::Ipv4, LinkType::Ipv6] {
        assert_eq!(ip_offset(link, &ip), Ok(Some(0)));
        assert_eq!(ip_offset(link, &[]), Ok(Some(0)));
    }
    assert_eq!(
        ip_offset(LinkType::Other(147), &ip),
        Err(LinkError::Unsupported(LinkType::Other(147)))
    );
}

#[test]
fn packet_lengths() {
    assert_eq!(ip_packet_len(&ipv4(48)), Some(48));
    assert_eq!(ip_packet_len(&ipv4(0)), None, "offloaded segment");
    assert_eq!(ip_packet_len(&ipv4(48)[..19]), None);
    assert_eq!(ip_packet_len(&ipv6(8, 17)), Some(48));
    assert_eq!(ip_packet_len(&ipv6(0, 59)), Some(40));
    assert_eq!(ip_packet_len(&ipv6(0, 0)), None, "jumbogram");
    assert_eq!(ip_packet_len(&ipv6(8, 17)[..39]), None);
    assert_eq!(ip_packet_len(&[]), None);
    assert_eq!(ip_packet_len(&[0x55; 40]), None);
}

#[test]
fn split_strips_ethernet_padding() {
    // A bare TCP ACK: 14 + 40 bytes, padded to the 60-byte Ethernet minimum.
    let mut frame = ethernet(0x0800);
    let ip = {
        let mut ip = ipv4(40);
        ip.extend_from_slice(&[0xab; 20]);
        ip
    };
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&[0; 6]);
    let parts = split_frame(LinkType::Ethernet, &frame).unwrap().unwrap();
    assert_eq!(parts.link_header, &frame[..14]);
    assert_eq!(parts.ip_packet, &ip[..]);
    assert_eq!(parts.trailer, &[0; 6]);

    // A truncated capture keeps what it has.
    let parts = split_frame(LinkType::Ethernet, &frame[..30])
        .unwrap()
        .unwrap();
    assert_eq!(parts.ip_packet.len(), 16);
    assert!(parts.trailer.is_empty());

    assert_eq!(split_frame(LinkType::Ethernet, &ethernet(0x0806)), Ok(None));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let links = [
        LinkType::Null,
        LinkType::Ethernet,
        LinkType::Raw,
        LinkType::Loop,
        LinkType::LinuxSll,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll2,
        LinkType::Other(9),
    ];
    let mut state = 0x2545_f491_u32;
    for len in 0..64 {
        for _ in 0..50 {
            let frame: Vec<u8> = (0..len)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    // Bias towards the VLAN and IP EtherTypes so tag chains get exercised.
                    match (i % 2, state % 5) {
                        (0, 0) => 0x81,
                        (1, 0) => 0x00,
                        (0, 1) => 0x08,
                        _ => state as u8,
                    }
                })
                .collect();
            for link in links {
                if let Ok(Some(offset)) = ip_offset(link, &frame) {
                    assert!(offset <= frame.len());
                }
                let _ = split_frame(link, &frame);
                let _ = ip_packet_len(&frame);
            }
        }
    }
}
