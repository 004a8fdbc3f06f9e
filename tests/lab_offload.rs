//! Offloads on, in the namespace lab: ftpgate's TUN device hands over GSO super-packets with
//! partial checksums. The gateway's outside veth (g1) has transmit checksumming turned off, so
//! the kernel completes in software whatever checksum ftpgate wrote back, from the partial
//! sum ftpgate left: a wrong partial sum becomes a wrong checksum on the wire. tcpdump at the
//! server records the transfers; every TCP segment that came through the gateway must carry a
//! valid checksum, a capture on the TUN device must show super-packets that ftpgate wrote back
//! whole, and the files must arrive intact (SHA-256) in both directions. A burst of UDP
//! datagrams of one flow, fast enough that they queue on the TUN device, leaves ftpgate
//! joined into USO super-packets, and the server receives the datagrams sent, byte for byte,
//! in order, none with a bad checksum.

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
use net::{lab_or_skip, state_dir, FtpgateOpts, Lab, Layout, Mode, Role};

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

const UDP_DATAGRAMS: usize = 4000;
/// Payload length of datagram `i`: mostly 64 bytes, with longer and shorter ones among them
/// (a shorter one ends a run, a longer one starts another).
const UDP_SIZES: &str = "64 if i % 37 else 300 if i % 74 else 20";

/// The Python that sends (in the client) and receives (in the server) the datagrams; the
/// payload of datagram i is its index and then a pattern of it.
fn udp_script(role: &str) -> String {
    format!(
        r#"
import socket, sys
N, size = {UDP_DATAGRAMS}, lambda i: {UDP_SIZES}
def payload(i):
    return i.to_bytes(4, "big") + bytes((i * 7 + k) % 256 for k in range(size(i) - 4))
if "{role}" == "send":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("198.51.100.2", 9999))
    data = [payload(i) for i in range(N)]
    for i in range(N):
        s.send(data[i])
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
    s.bind(("198.51.100.2", 9999))
    s.settimeout(3)
    open(sys.argv[1], "w").close()
    out = open(sys.argv[2], "wb")
    while True:
        try:
            d = s.recv(65535)
        except socket.timeout:
            break
        out.write(len(d).to_bytes(2, "big") + d)
"#
    )
}

fn udp_payload(i: usize) -> Vec<u8> {
    let size = if !i.is_multiple_of(37) {
        64
    } else if !i.is_multiple_of(74) {
        300
    } else {
        20
    };
    let mut out = (i as u32).to_be_bytes().to_vec();
    out.extend((0..size - 4).map(|k| ((i * 7 + k) % 256) as u8));
    out
}

/// The `Udp InCsumErrors` counter of `role`'s namespace.
fn udp_checksum_errors(lab: &Lab, role: Role) -> u64 {
    let out = lab.run(role, "cat", &["/proc/net/snmp"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (
        lines.next().expect("Udp names"),
        lines.next().expect("values"),
    );
    let at = names.split_whitespace().position(|n| n == "InCsumErrors");
    let at = at.expect("InCsumErrors");
    values
        .split_whitespace()
        .nth(at)
        .expect("value")
        .parse()
        .expect("number")
}

#[test]
fn udp_bursts_leave_as_super_packets_and_arrive_as_sent() {
    let test = "udp_bursts_leave_as_super_packets_and_arrive_as_sent";
    let Some(_env) = lab_env_or_skip(test) else {
        return;
    };
    let work = tempfile::Builder::new()
        .prefix("ftpgate-lab-udp-runs")
        .tempdir()
        .expect("temp dir");
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let Some(lab) = lab_or_skip(test, Mode::Ftpgate, Layout::ClientInside, Some(&opts)) else {
        return;
    };
    let ready = work.path().join("receiver.ready");
    let received = work.path().join("received.bin");
    let mut receiver = lab
        .command(Role::Server, 60, "python3", &["-c", &udp_script("receive")])
        .arg(&ready)
        .arg(&received)
        .spawn()
        .expect("start the receiver");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ready.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ready.exists(), "the receiver started");
    let errors_before = udp_checksum_errors(&lab, Role::Server);
    let sent = lab.run(Role::Client, "python3", &["-c", &udp_script("send")]);
    check_ok("send the datagrams", &sent);
    assert!(
        receiver.wait().expect("receiver").success(),
        "the receiver ran"
    );

    let bytes = std::fs::read(&received).expect("received datagrams");
    let mut got = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        got.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    let mut last = None;
    for datagram in &got {
        let index = u32::from_be_bytes(datagram[..4].try_into().expect("index")) as usize;
        assert!(index < UDP_DATAGRAMS, "datagram {index} was never sent");
        assert_eq!(
            *datagram,
            udp_payload(index),
            "datagram {index} arrived as sent"
        );
        assert!(
            last < Some(index),
            "datagram {index} arrived after {last:?}"
        );
        last = Some(index);
    }
    assert!(
        got.len() * 10 >= UDP_DATAGRAMS * 9,
        "{} of {UDP_DATAGRAMS} datagrams arrived",
        got.len()
    );
    assert_eq!(
        udp_checksum_errors(&lab, Role::Server),
        errors_before,
        "no datagram reached the server with a bad checksum"
    );

    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ftpgate"))
        .args(["status", "--json", "--socket"])
        .arg(state_dir(lab.prefix()).join("ftpgate.sock"))
        .output()
        .expect("ftpgate status");
    check_ok("ftpgate status", &status);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    let queues = status["queues"].as_array().expect("queues");
    let sum = |key: &str| queues.iter().filter_map(|q| q[key].as_u64()).sum::<u64>();
    let (runs, datagrams) = (sum("udp_runs"), sum("udp_run_datagrams"));
    eprintln!(
        "{test}: {} of {UDP_DATAGRAMS} arrived; {runs} super-packets carried {datagrams}",
        got.len()
    );
    assert!(
        runs > 0 && datagrams >= 2 * runs,
        "the burst left as super-packets: {runs} runs of {datagrams} datagrams"
    );
    lab.down().expect("lab down");
}
