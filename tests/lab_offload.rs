//! Offloads on, in the namespace lab: ftpgate's TUN device hands over GSO super-packets with
//! partial checksums. The gateway's outside veth (g1) has transmit checksumming turned off, so
//! the kernel completes in software whatever checksum ftpgate wrote back, from the partial
//! sum ftpgate left: a wrong partial sum becomes a wrong checksum on the wire. tcpdump at the
//! server records the transfers; every TCP segment that came through the gateway must carry a
//! valid checksum, a capture on the TUN device must show super-packets that ftpgate wrote back
//! whole, and the files must arrive intact (SHA-256) in both directions.

#[path = "lab/env.rs"]
mod env;
#[path = "lab/ftp.rs"]
mod ftp;
#[path = "lab/net.rs"]
mod net;
use ftpgate_testkit::skip;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use env::lab_env_or_skip;
use ftp::{check_ok, random_bytes, Client, Op, Server};
use ftpgate::engine::wire::{parse, parse::transport_checksum_ok};
use ftpgate::io::capture::{split_frame, CaptureReader, CapturedPacket};
use net::{lab_or_skip, FtpgateOpts, Lab, Layout, Mode, Role};

const GATEWAY_OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const BIG: usize = 4 * 1024 * 1024 + 77;

/// tcpdump writing `file` from `interface` in `role`'s namespace; its pid in `pid_file`.
fn start_capture(
    lab: &Lab,
    role: Role,
    interface: &str,
    file: &Path,
    pid_file: &Path,
    snap: &str,
) -> Child {
    let script = format!(
        "echo $$ > '{}'; exec tcpdump -i {interface} -s {snap} -U -w '{}' tcp 2>/dev/null",
        pid_file.display(),
        file.display()
    );
    lab.command(role, 120, "sh", &["-c", &script])
        .spawn()
        .expect("tcpdump")
}

/// Stops a capture started by `start_capture` (SIGINT: tcpdump flushes and exits).
fn stop_capture(lab: &Lab, role: Role, pid_file: &Path, mut child: Child) {
    let pid = std::fs::read_to_string(pid_file).expect("tcpdump pid");
    let _ = lab.run(role, "kill", &["-INT", pid.trim()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The largest IPv4 length (as its header states) of the capture's packets from `from`,
/// read from the header alone (the capture may keep only the headers).
fn largest_ipv4_from(file: &Path, from: Ipv4Addr) -> usize {
    let mut reader = CaptureReader::open(file).expect("capture readable");
    let mut frame = CapturedPacket::default();
    let mut largest = 0;
    while reader.next_packet(&mut frame).expect("capture frame") {
        let Ok(Some(parts)) = split_frame(frame.link_type, &frame.data) else {
            continue;
        };
        let ip = parts.ip_packet;
        if ip.len() >= 20 && ip[0] >> 4 == 4 && ip[12..16] == from.octets() {
            largest = largest.max(usize::from(u16::from_be_bytes([ip[2], ip[3]])));
        }
    }
    largest
}

/// Every TCP/IPv4 packet of the capture from `from`: (ip length on the wire, checksum ok).
fn tcp_packets_from(file: &Path, from: Ipv4Addr) -> Vec<(usize, bool)> {
    let mut reader = CaptureReader::open(file).expect("capture readable");
    let mut frame = CapturedPacket::default();
    let mut out = Vec::new();
    while reader.next_packet(&mut frame).expect("capture frame") {
        let Ok(Some(parts)) = split_frame(frame.link_type, &frame.data) else {
            continue;
        };
        let Ok(packet) = parse(parts.ip_packet) else {
            continue;
        };
        if packet.src != IpAddr::V4(from) || packet.protocol != 6 {
            continue;
        }
        let link = parts.link_header.len();
        let on_wire = frame.original_len as usize - link;
        let complete = frame.data.len() == frame.original_len as usize;
        let ok = complete && transport_checksum_ok(parts.ip_packet, &packet);
        out.push((on_wire, ok));
    }
    out
}

#[test]
fn offloaded_transfers_arrive_with_valid_checksums() {
    let test = "offloaded_transfers_arrive_with_valid_checksums";
    let Some(env) = lab_env_or_skip(test) else {
        return;
    };
    let work = tempfile::Builder::new()
        .prefix("ftpgate-lab-offload")
        .tempdir()
        .expect("temp dir");
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let layout = Layout::ClientInside;
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, layout, Some(&opts)) else {
        return;
    };
    let ethtool = lab.run(Role::Gw, "ethtool", &["-K", "g1", "tx", "off"]);
    if !ethtool.status.success() {
        let reason = String::from_utf8_lossy(&ethtool.stderr).into_owned();
        skip::skip(test, &format!("ethtool -K g1 tx off failed: {reason}"));
        return;
    }
    let server = Server::start(env, &lab, layout);
    let bytes = random_bytes(BIG);
    std::fs::write(server.root().join("down.bin"), &bytes).expect("server file");
    std::fs::write(work.path().join("up.bin"), &bytes).expect("client file");

    let at_server = work.path().join("server.pcap");
    let on_tun = work.path().join("tun.pcap");
    let server_pid = work.path().join("server.pid");
    let tun_pid = work.path().join("tun.pid");
    let server_capture = start_capture(&lab, Role::Server, "br0", &at_server, &server_pid, "0");
    let tun_capture = start_capture(&lab, Role::Gw, "ftg0", &on_tun, &tun_pid, "64");
    std::thread::sleep(Duration::from_millis(800));

    let client = Client::CurlEpsv;
    let got = work.path().join("got.bin");
    let out = client.run(
        env,
        &lab,
        layout,
        &Op::Get {
            remote: "down.bin",
            local: &got,
        },
    );
    check_ok("curl get", &out);
    let out = client.run(
        env,
        &lab,
        layout,
        &Op::Put {
            local: &work.path().join("up.bin"),
            remote: "up.bin",
        },
    );
    check_ok("curl put", &out);
    std::thread::sleep(Duration::from_millis(500));
    stop_capture(&lab, Role::Server, &server_pid, server_capture);
    stop_capture(&lab, Role::Gw, &tun_pid, tun_capture);

    let want = lab.sha256(Role::Server, &server.root().join("down.bin"));
    assert_eq!(lab.sha256(Role::Client, &got), want, "download intact");
    assert_eq!(
        lab.sha256(Role::Server, &server.root().join("up.bin")),
        want,
        "upload intact"
    );
    drop(server);

    let at_server = tcp_packets_from(&at_server, GATEWAY_OUTSIDE);
    let bad = at_server.iter().filter(|(_, ok)| !ok).count();
    assert!(
        at_server.len() > BIG / 1500,
        "the server saw the upload through the gateway ({} packets)",
        at_server.len()
    );
    assert_eq!(
        bad,
        0,
        "{bad} of {} segments from the gateway have a bad checksum",
        at_server.len()
    );

    let largest = largest_ipv4_from(&on_tun, GATEWAY_OUTSIDE);
    assert!(
        largest > 1500,
        "ftpgate wrote super-packets back whole (largest {largest} bytes)"
    );
    lab.down().expect("lab down");
}
