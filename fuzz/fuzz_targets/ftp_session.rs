//! The whole engine, driven by fuzzer bytes around one FTP control connection.
//!
//! The first two input bytes choose the layout and the settings:
//! - layout: the client inside behind the masquerade and the server outside, or the server
//!   inside behind a port forward (`outside:21 -> inside:21`) and the client outside;
//! - `on_violation` reply / reset, `allow_fxp`, `require_login`, `tls` pass_blind / block,
//!   `max_pinholes` 4 / 1, a NAT range of 101 / 3 ports, an MTU of 65535 / 256, the ISNs of
//!   both ends (one near the 32-bit wrap), window scaling, `max_line` 512 / 64, a pinhole
//!   timeout of 120 s / 5 s, `min_data_port` 1024 / 30000.
//!
//! The rest is a list of operations: append lines (FTP templates with fuzzer-chosen
//! addresses and ports, or raw bytes) to either end's byte stream; send any slice of a stream
//! as a segment (in order, overlapping, retransmitted with different bytes, beyond a gap,
//! with FIN / RST / SYN, a SACK option, a bad checksum); pure ACKs; data-connection SYNs from
//! the server, the client, a foreign host, to the gateway, to the inside address, to third
//! hosts; the packets that follow an admitted data connection; ICMP errors quoting the control
//! connection; time passing (with `expire`). The policy drops every new flow except outbound
//! TCP to port 21 (and the forward), so a data connection gets in only through a pinhole.
//! One engine per input, with a flow table of 8 so that `table_full` is reached too.
//!
//! Checked on every packet (no false alarms: each check is one the engine must pass whatever
//! the bytes):
//! - no panic; a forwarded packet's IP checksum verifies; its TCP checksum verifies exactly
//!   when the input's did (a corrupt segment is never made to look valid);
//! - a packet the engine answers with (`Verdict::Respond`) verifies and goes back to the sender;
//! - every packet from `poll_transmit` verifies and travels between the two control endpoints;
//! - control segments are forwarded to the peer, translated consistently; data-connection
//!   packets are translated as their SYN was, replies back to the original tuple; ICMP errors
//!   reach the real endpoint.
//!
//! And the invariant: no data connection is admitted that no delivered announcement predicted.
//! The oracle reads only what the gateway sent (forwarded segments and its own packets),
//! reassembled as each receiver gets it (first copy of a byte wins; bad checksums ignored),
//! and parses announcements leniently (every `h1,...,p2` in a line starting with PORT, every
//! dotted quad and port in EPRT, every `h1,...,p2` and `(|||port|)` in any server line): a
//! superset of what the ALG accepts. Every new data flow the engine admits must:
//! - run between the control peers (server -> the client as the server sees it, or client ->
//!   the server as the client sees it), whatever `allow_fxp` says;
//! - land on the announcer's real address, on a port >= `min_data_port`;
//! - consume one delivered announcement naming that address (active) and port: at most once
//!   each.
//!
//! A pinhole that opens while a control segment is processed needs that segment forwarded with
//! a new announcement naming the announcer (so an FXP PORT, allowed or not, opens none).
//!
//! These two exact checks are skipped where the engine may rightly have opened a pinhole for an
//! announcement the receiver cannot read yet: with the small MTU (a rewrite cut at the MTU
//! reaches the receiver with the sender's retransmission), while the receiver waits on a hole
//! (the gateway dropped a segment whose bytes it consumed, and forwarded the next one), when
//! the reassembly ran out of room.
//!
//! `FTP_SESSION_TRACE=1` prints every packet in and out, the verdicts, the engine's own packets,
//! its events and the announcements delivered: run a reproducer with it to read it.
//!
//! Run: `cargo +nightly fuzz run -s none ftp_session -- -max_len=2048` (`-s none`: the
//! engine is safe Rust; without AddressSanitizer it runs about four times faster).

#![no_main]

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ftpgate::engine::settings::{
    Action, Direction, EngineSettings, ForwardProtocol, Limits, Policy, PortForward, PortRange,
    Rule, RuleProtocol, TlsPolicy, ViolationOutcome,
};
use ftpgate::engine::{Engine, PacketBuf, Verdict};
use libfuzzer_sys::fuzz_target;

/// `FTP_SESSION_TRACE=1` prints what each packet did (for reading a reproducer).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FTP_SESSION_TRACE").is_some())
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing() {
            eprintln!($($arg)*);
        }
    };
}

type Addr = [u8; 4];
type Endpoint = (Addr, u16);

const INSIDE_CLIENT: Addr = [10, 77, 0, 2];
const INSIDE_SERVER: Addr = [10, 77, 0, 5];
const OUTSIDE_SERVER: Addr = [198, 51, 100, 2];
const OUTSIDE_CLIENT: Addr = [203, 0, 113, 7];
const GATEWAY: Addr = [198, 51, 100, 1];
const FOREIGN: Addr = [192, 0, 2, 9];
const CLIENT_PORT: u16 = 40000;
const FTP: u16 = 21;
const NAT_FIRST: u16 = 20000;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// Bytes each end's script may hold.
const SCRIPT: usize = 4096;
/// Bytes of each delivered stream the oracle reassembles.
const STREAM: usize = 32768;
/// Packet buffer: room for any rewrite (the engine never reallocates).
const PACKET: usize = 70000;
/// Most operations per input.
const MAX_OPS: usize = 600;
/// Most data connections followed.
const MAX_DATA: usize = 16;
/// Most announcements remembered.
const MAX_CREDITS: usize = 256;

/// A former engine issue, fixed (reproducers `artifacts/ftp_session/held-line-desync-port-22`,
/// `min-held-line-desync` and `held-line-desync-in-accepted-segment`): a segment completing a
/// withheld line while carrying its withheld part again with other bytes used to forward
/// those other bytes; the engine now drops it (`ftp_inconsistent_retransmission`). `true`
/// would stop checking a side's announcements exactly once it resends changed bytes.
const TOLERATE_HELD_LINE_DESYNC: bool = false;

const ISNS: [u32; 4] = [1000, 0xFFFF_FF00, 0x7FFF_FFF0, 0xDEAD_BEEF];

// ---------------------------------------------------------------------------------------------
// Checksums and packets, written in place (no allocation per packet).

/// The ones' complement sum of `bytes` (as 16-bit big-endian words), unfolded. Eight bytes
/// at a time: the fuzzer's comparison tracing makes every loop iteration count.
fn sum16(mut acc: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for word in &mut chunks {
        let w = u64::from_be_bytes(word.try_into().unwrap());
        acc += (w >> 32) + (w & 0xFFFF_FFFF);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for pair in &mut rest {
        acc += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = rest.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn addr_at(b: &[u8], at: usize) -> Addr {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

fn write_ip(buf: &mut [u8], src: Addr, dst: Addr, proto: u8, total: usize) {
    buf[0] = 0x45;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    buf[4..8].copy_from_slice(&[0x12, 0x34, 0x40, 0]);
    buf[8] = 64;
    buf[9] = proto;
    buf[10..12].fill(0);
    buf[12..16].copy_from_slice(&src);
    buf[16..20].copy_from_slice(&dst);
    let c = !fold(sum16(0, &buf[..20]));
    buf[10..12].copy_from_slice(&c.to_be_bytes());
}

fn tcp_pseudo(src: Addr, dst: Addr, len: usize) -> u64 {
    let acc = sum16(0, &src);
    let acc = sum16(acc, &dst);
    acc + 6 + len as u64
}

/// What one TCP segment carries.
#[derive(Clone, Copy)]
struct Spec<'a> {
    src: Endpoint,
    dst: Endpoint,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &'a [u8],
    payload: &'a [u8],
    bad_checksum: bool,
}

/// Writes an IPv4 + TCP packet into `buf`; returns its length.
fn write_tcp(buf: &mut [u8], spec: &Spec<'_>) -> usize {
    let opt_len = spec.options.len().div_ceil(4) * 4;
    let header = 20 + opt_len;
    let seg_len = header + spec.payload.len();
    let total = 20 + seg_len;
    write_ip(buf, spec.src.0, spec.dst.0, 6, total);
    let t = &mut buf[20..total];
    t[0..2].copy_from_slice(&spec.src.1.to_be_bytes());
    t[2..4].copy_from_slice(&spec.dst.1.to_be_bytes());
    t[4..8].copy_from_slice(&spec.seq.to_be_bytes());
    t[8..12].copy_from_slice(&spec.ack.to_be_bytes());
    t[12] = ((header / 4) as u8) << 4;
    t[13] = spec.flags;
    t[14..16].copy_from_slice(&spec.window.to_be_bytes());
    t[16..20].fill(0);
    t[20..20 + spec.options.len()].copy_from_slice(spec.options);
    t[20 + spec.options.len()..header].fill(0); // end of options
    t[header..].copy_from_slice(spec.payload);
    let mut c = !fold(sum16(tcp_pseudo(spec.src.0, spec.dst.0, seg_len), t));
    if spec.bad_checksum {
        c ^= 0x5a5a;
    }
    t[16..18].copy_from_slice(&c.to_be_bytes());
    total
}

/// A TCP/IPv4 packet as it left the gateway.
#[derive(Clone, Copy, Debug)]
struct Seg {
    src: Endpoint,
    dst: Endpoint,
    seq: u32,
    flags: u8,
    payload: (usize, usize),
    tcp_ok: bool,
}

/// Reads an IPv4 packet; panics if the IP header is not valid (the engine forwards only
/// packets whose IP header it validated, and must keep the checksum right).
fn inspect(p: &[u8]) -> Option<Seg> {
    assert!(
        p.len() >= 20 && p[0] >> 4 == 4,
        "the gateway sent a non-IPv4 packet"
    );
    let ihl = usize::from(p[0] & 0x0F) * 4;
    let total = usize::from(be16(p, 2));
    assert!(
        ihl >= 20 && total >= ihl && total <= p.len(),
        "bad IP lengths out"
    );
    assert_eq!(
        fold(sum16(0, &p[..ihl])),
        0xFFFF,
        "IP checksum out does not verify"
    );
    if p[9] != 6 || total < ihl + 20 {
        return None;
    }
    let t = &p[ihl..total];
    let header = usize::from(t[12] >> 4) * 4;
    assert!(
        header >= 20 && header <= t.len(),
        "bad TCP header length out"
    );
    let (src, dst) = (addr_at(p, 12), addr_at(p, 16));
    let tcp_ok = fold(sum16(tcp_pseudo(src, dst, t.len()), t)) == 0xFFFF;
    Some(Seg {
        src: (src, be16(t, 0)),
        dst: (dst, be16(t, 2)),
        seq: be32(t, 4),
        flags: t[13],
        payload: (ihl + header, total),
        tcp_ok,
    })
}

// ---------------------------------------------------------------------------------------------
// The oracle: what each receiver got, and the announcements in it.

/// A data connection an announcement delivered to its receiver allows.
#[derive(Clone, Copy, Debug)]
struct Credit {
    /// Active: the server may connect to `addr:port`; passive: the client may connect to
    /// the server (as it sees it) at `port` (clients may ignore the 227 address).
    active: bool,
    addr: Addr,
    port: u16,
    used: bool,
}

/// One direction of the control connection as its receiver reassembles it.
struct Rx {
    started: bool,
    base: u32,
    data: Box<[u8]>,
    have: Box<[u64]>,
    /// First byte not yet received in order.
    nxt: usize,
    line_start: usize,
    /// Highest offset touched, for clearing.
    hi: usize,
    /// Bytes fell outside the reassembly window: announcements may have been missed.
    lost: bool,
}

impl Rx {
    fn new() -> Self {
        Self {
            started: false,
            base: 0,
            data: vec![0; STREAM].into_boxed_slice(),
            have: vec![0; STREAM / 64].into_boxed_slice(),
            nxt: 0,
            line_start: 0,
            hi: 0,
            lost: false,
        }
    }

    fn reset(&mut self) {
        let words = self.hi.div_ceil(64).min(self.have.len());
        self.have[..words].fill(0);
        self.started = false;
        self.nxt = 0;
        self.line_start = 0;
        self.hi = 0;
        self.lost = false;
    }

    fn restart(&mut self, first: u32) {
        self.reset();
        self.started = true;
        self.base = first;
    }

    /// The receiver's next expected sequence number.
    fn ack(&self) -> u32 {
        self.base.wrapping_add(self.nxt as u32)
    }

    /// Whether bytes wait beyond a hole: the gateway forwarded a segment past bytes it
    /// consumed and dropped (it relies on the sender's retransmission, as with a line cut at
    /// the MTU), so an announcement in flight may not be readable yet.
    fn gap(&self) -> bool {
        self.hi > self.nxt
    }

    fn has(&self, at: usize) -> bool {
        self.have[at / 64] & (1 << (at % 64)) != 0
    }

    /// Takes the bytes of a segment at `seq`; calls `line` for every line completed in order.
    fn receive(&mut self, seq: u32, payload: &[u8], mut line: impl FnMut(&[u8])) {
        if !self.started || payload.is_empty() {
            return;
        }
        let off = seq.wrapping_sub(self.base) as i32 as i64;
        let end = off + payload.len() as i64;
        if off <= self.nxt as i64
            && end > self.nxt as i64
            && end <= STREAM as i64
            && self.hi <= self.nxt
        {
            // In order, nothing waiting beyond: the new bytes append.
            let skip = (self.nxt as i64 - off) as usize;
            let (from, to) = (self.nxt, end as usize);
            self.data[from..to].copy_from_slice(&payload[skip..]);
            set_bits(&mut self.have, from, to);
            self.hi = to;
            self.nxt = to;
            let mut start = from;
            while let Some(at) = self.data[start..to].iter().position(|&b| b == b'\n') {
                let at = start + at;
                line(&self.data[self.line_start..=at]);
                self.line_start = at + 1;
                start = at + 1;
            }
            return;
        }
        for (i, &byte) in payload.iter().enumerate() {
            let at = off + i as i64;
            if at < self.nxt as i64 {
                continue; // already delivered: the first copy wins
            }
            if at >= STREAM as i64 {
                self.lost = true;
                break;
            }
            let at = at as usize;
            if !self.has(at) {
                self.data[at] = byte;
                self.have[at / 64] |= 1 << (at % 64);
                self.hi = self.hi.max(at + 1);
            }
        }
        let before = self.nxt;
        while self.nxt < STREAM && self.has(self.nxt) {
            self.nxt += 1;
        }
        for at in before..self.nxt {
            if self.data[at] == b'\n' {
                line(&self.data[self.line_start..=at]);
                self.line_start = at + 1;
            }
        }
    }
}

/// Sets bits `from..to`.
fn set_bits(bits: &mut [u64], from: usize, to: usize) {
    let mut at = from;
    while at < to {
        let word = at / 64;
        let lo = at % 64;
        let hi = (to - word * 64).min(64);
        let mask = if hi - lo == 64 {
            u64::MAX
        } else {
            ((1u64 << (hi - lo)) - 1) << lo
        };
        bits[word] |= mask;
        at = word * 64 + hi;
    }
}

/// Every `h1,h2,h3,h4,p1,p2` (six consecutive comma-separated numbers, each <= 255) in `text`.
fn host_ports(text: &[u8], mut found: impl FnMut(Addr, u16)) {
    let mut nums = [0u32; 6];
    let mut count = 0usize;
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() {
            count = 0;
            i += 1;
            continue;
        }
        let mut value = 0u32;
        while i < text.len() && text[i].is_ascii_digit() {
            value = (value * 10 + u32::from(text[i] - b'0')).min(100_000);
            i += 1;
        }
        if value > 255 {
            count = 0;
        } else {
            if count == 6 {
                nums.copy_within(1.., 0);
                count = 5;
            }
            nums[count] = value;
            count += 1;
            if count == 6 {
                let addr = [nums[0] as u8, nums[1] as u8, nums[2] as u8, nums[3] as u8];
                found(addr, (nums[4] * 256 + nums[5]) as u16);
            }
        }
        if i < text.len() && text[i] == b',' {
            i += 1;
        } else {
            count = 0;
        }
    }
}

/// Every decimal number in `text` that fits a port.
fn numbers(text: &[u8], mut found: impl FnMut(u16)) {
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut value = 0u32;
        while i < text.len() && text[i].is_ascii_digit() {
            value = (value * 10 + u32::from(text[i] - b'0')).min(100_000);
            i += 1;
        }
        if value <= 0xFFFF {
            found(value as u16);
        }
    }
}

/// Every dotted quad followed (after one or more non-digits) by a number, in `text`.
fn quads_and_ports(text: &[u8], mut found: impl FnMut(Addr, u16)) {
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit()
            || (i > 0 && (text[i - 1].is_ascii_digit() || text[i - 1] == b'.'))
        {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut quad = [0u32; 4];
        let mut parts = 0;
        while parts < 4 {
            let start = j;
            let mut value = 0u32;
            while j < text.len() && text[j].is_ascii_digit() {
                value = (value * 10 + u32::from(text[j] - b'0')).min(100_000);
                j += 1;
            }
            if j == start || value > 255 {
                break;
            }
            quad[parts] = value;
            parts += 1;
            if parts < 4 {
                if j < text.len() && text[j] == b'.' {
                    j += 1;
                } else {
                    break;
                }
            }
        }
        if parts == 4 {
            let addr = quad.map(|v| v as u8);
            let mut k = j;
            while k < text.len() && !text[k].is_ascii_digit() {
                k += 1;
            }
            let mut value = 0u32;
            let start = k;
            while k < text.len() && text[k].is_ascii_digit() {
                value = (value * 10 + u32::from(text[k] - b'0')).min(100_000);
                k += 1;
            }
            if k > start && value <= 0xFFFF {
                found(addr, value as u16);
            }
        }
        i += 1;
    }
}

/// Whether `piece`, past any bytes that are not letters, starts with `verb` (any case).
fn starts_with_verb(piece: &[u8], verb: &[u8]) -> bool {
    let skip = piece
        .iter()
        .take_while(|b| !b.is_ascii_alphabetic())
        .count();
    let rest = &piece[skip..];
    rest.len() >= verb.len() && rest[..verb.len()].eq_ignore_ascii_case(verb)
}

/// The announcements in a line the server received (PORT / EPRT, leniently).
fn client_line_credits(line: &[u8], credits: &mut Vec<Credit>) {
    let mut push = |addr: Addr, port: u16| {
        trace!("    delivered to the server: active {}:{port}", ip(addr));
        if credits.len() < MAX_CREDITS {
            credits.push(Credit {
                active: true,
                addr,
                port,
                used: false,
            });
        }
    };
    for piece in line.split(|&b| b == b'\r' || b == b'\n' || b == 0) {
        if starts_with_verb(piece, b"PORT") {
            host_ports(piece, &mut push);
        }
        if starts_with_verb(piece, b"EPRT") {
            quads_and_ports(piece, &mut push);
        }
    }
}

/// The announcements in a line the client received (227 / 229, leniently).
fn server_line_credits(line: &[u8], credits: &mut Vec<Credit>) {
    let mut push = |port: u16| {
        trace!("    delivered to the client: passive port {port}");
        if credits.len() < MAX_CREDITS {
            credits.push(Credit {
                active: false,
                addr: [0; 4],
                port,
                used: false,
            });
        }
    };
    host_ports(line, |_, port| push(port));
    let code_229 = line
        .iter()
        .skip_while(|b| !b.is_ascii_digit())
        .take(3)
        .eq(b"229".iter());
    if code_229 {
        numbers(line, &mut push);
    } else {
        // `(<d><d><d>port<d>)` anywhere.
        for (i, w) in line.windows(3).enumerate() {
            if w[0] == w[1] && w[1] == w[2] && !w[0].is_ascii_digit() {
                let digits = line[i + 3..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits > 0 {
                    numbers(&line[i + 3..i + 3 + digits], &mut push);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The world: endpoints, settings, the engine and the oracle's state.

#[derive(Clone, Copy)]
struct Layout {
    /// The client's real address (its port is `CLIENT_PORT`).
    c_real: Addr,
    /// The client as the server sees it (port learned from the forwarded SYN).
    c_view: Addr,
    /// The server's real address (port 21).
    s_real: Addr,
    /// The server as the client sees it (port 21).
    s_view: Addr,
}

const CLIENT_INSIDE: Layout = Layout {
    c_real: INSIDE_CLIENT,
    c_view: GATEWAY,
    s_real: OUTSIDE_SERVER,
    s_view: OUTSIDE_SERVER,
};

const SERVER_INSIDE: Layout = Layout {
    c_real: OUTSIDE_CLIENT,
    c_view: OUTSIDE_CLIENT,
    s_real: INSIDE_SERVER,
    s_view: GATEWAY,
};

/// One end of the control connection as a sender.
struct Tx {
    isn: u32,
    script: Box<[u8]>,
    len: usize,
    /// Highest stream offset sent so far.
    hwm: usize,
    /// Offsets first sent with a changed byte, and that byte (every other byte went out first
    /// as the script has it).
    changed: Vec<(usize, u8)>,
}

impl Tx {
    fn new() -> Self {
        Self {
            isn: 0,
            script: vec![0; SCRIPT].into_boxed_slice(),
            len: 0,
            hwm: 0,
            changed: Vec::with_capacity(MAX_OPS),
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(SCRIPT - self.len);
        self.script[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn push_num(&mut self, mut v: u32) {
        let mut digits = [0u8; 10];
        let mut n = 0;
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        digits[..n].reverse();
        self.push(&digits[..n]);
    }

    fn push_host_port(&mut self, addr: Addr, port: u16) {
        for (i, part) in addr.iter().chain(&port.to_be_bytes()).enumerate() {
            if i > 0 {
                self.push(b",");
            }
            self.push_num(u32::from(*part));
        }
    }

    fn push_quad(&mut self, addr: Addr) {
        for (i, part) in addr.iter().enumerate() {
            if i > 0 {
                self.push(b".");
            }
            self.push_num(u32::from(*part));
        }
    }
}

/// A data connection the engine admitted.
#[derive(Clone, Copy)]
struct DataFlow {
    /// As its initiator sent it.
    src: Endpoint,
    dst: Endpoint,
    /// As the gateway forwarded it.
    out_src: Endpoint,
    out_dst: Endpoint,
    i_seq: u32,
    r_seq: u32,
}

struct World {
    engine: Engine,
    layout: Layout,
    /// The client's port as the server sees it.
    c_view_port: u16,
    min_data_port: u16,
    wscale: bool,
    /// Announcements cannot be matched exactly (small MTU).
    weak: bool,
    now: Duration,
    packet: Box<[u8]>,
    /// `engine.pinhole_count()` after the last packet.
    pinholes: usize,
    /// A side retransmitted, with other bytes, bytes the gateway had consumed without
    /// forwarding them (see `TOLERATE_HELD_LINE_DESYNC`).
    desync: [bool; 2],
    /// The TCP segment in `packet` as written: its ends and whether its checksum is right.
    sent: Option<(Endpoint, Endpoint, bool)>,
    /// 0: the client's stream, 1: the server's.
    tx: [Tx; 2],
    rx: [Rx; 2],
    credits: Vec<Credit>,
    data: Vec<DataFlow>,
}

fn rule_ftp_out() -> Rule {
    Rule {
        origin: "fuzz:1:1".to_string(),
        direction: Some(Direction::Outbound),
        protocol: RuleProtocol::Tcp,
        sources: Vec::new(),
        destinations: Vec::new(),
        source_ports: Vec::new(),
        destination_ports: vec![PortRange::single(FTP)],
        action: Action::Accept,
        log: true,
    }
}

fn base_settings() -> EngineSettings {
    EngineSettings {
        inside_networks: vec!["10.77.0.0/24".parse().unwrap()],
        outside_address: Some(Ipv4Addr::from(GATEWAY)),
        nat_ports: PortRange {
            first: NAT_FIRST,
            last: NAT_FIRST + 100,
        },
        policy: Policy {
            rules: vec![rule_ftp_out()],
            default_outbound: Action::Drop,
            default_inbound: Action::Drop,
        },
        limits: Limits {
            max_flows: 8,
            tcp_pickup: false,
            ..Limits::default()
        },
        ..EngineSettings::default()
    }
}

thread_local! {
    static BASE: EngineSettings = base_settings();
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Buffers reused from one input to the next.
struct Scratch {
    packet: Box<[u8]>,
    tx: [Tx; 2],
    rx: [Rx; 2],
    credits: Vec<Credit>,
    data: Vec<DataFlow>,
}

fn settings_for(cfg0: u8, cfg1: u8) -> EngineSettings {
    let mut s = BASE.with(Clone::clone);
    if cfg0 & 1 != 0 {
        s.forwards.push(PortForward {
            protocol: ForwardProtocol::Tcp,
            outside_ports: PortRange::single(FTP),
            inside_address: Ipv4Addr::from(INSIDE_SERVER),
            inside_port: FTP,
        });
    }
    let ftp = &mut s.ftp;
    if cfg0 & 2 != 0 {
        ftp.on_violation = ViolationOutcome::Reset;
    }
    ftp.allow_fxp = cfg0 & 4 != 0;
    ftp.require_login = cfg0 & 8 == 0;
    if cfg0 & 16 != 0 {
        ftp.tls = TlsPolicy::Block;
    }
    if cfg0 & 32 != 0 {
        ftp.max_pinholes = 1;
    }
    if cfg0 & 64 != 0 {
        s.nat_ports.last = NAT_FIRST + 2;
    }
    // A rewrite longer than the MTU is cut at a line boundary and the rest waits for the
    // sender's retransmission, with its pinhole already open: exact checks need no cut.
    s.ftp.mtu = if cfg0 & 128 != 0 { 256 } else { 65535 };
    if cfg1 & 32 != 0 {
        s.ftp.max_line = 64;
    }
    if cfg1 & 64 != 0 {
        s.ftp.pinhole_timeout = Duration::from_secs(5);
    }
    if cfg1 & 128 != 0 {
        s.ftp.min_data_port = 30000;
    }
    s
}

/// Fuzzer bytes, read one field at a time; zeros past the end.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// Feeds a packet the gateway sent on the control connection to its receiver: `from` is the
/// sending side (0 the client: the server receives it).
fn deliver(rx: &mut Rx, credits: &mut Vec<Credit>, from: usize, seg: &Seg, packet: &[u8]) {
    if !seg.tcp_ok {
        return; // the receiver discards it
    }
    if seg.flags & TCP_SYN != 0 {
        rx.restart(seg.seq.wrapping_add(1));
        return;
    }
    let payload = &packet[seg.payload.0..seg.payload.1];
    rx.receive(seg.seq, payload, |line| {
        if from == 0 {
            client_line_credits(line, credits)
        } else {
            server_line_credits(line, credits)
        }
    });
}

fn show(p: &[u8]) -> String {
    match inspect(p) {
        Some(s) => format!(
            "{}:{} -> {}:{} seq {} flags {:#04x} {:?}",
            ip(s.src.0),
            s.src.1,
            ip(s.dst.0),
            s.dst.1,
            s.seq,
            s.flags,
            String::from_utf8_lossy(&p[s.payload.0..s.payload.1])
        ),
        None => format!("non-TCP packet of {} bytes", p.len()),
    }
}

fn ip(addr: Addr) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(addr))
}

impl World {
    /// The endpoint of each side as itself: 0 the client, 1 the server.
    fn real(&self, side: usize) -> Endpoint {
        if side == 0 {
            (self.layout.c_real, CLIENT_PORT)
        } else {
            (self.layout.s_real, FTP)
        }
    }

    /// The endpoint of each side as the other side sees it.
    fn view(&self, side: usize) -> Endpoint {
        if side == 0 {
            (self.layout.c_view, self.c_view_port)
        } else {
            (self.layout.s_view, FTP)
        }
    }

    /// Writes a TCP segment into `packet`; returns its length.
    fn write(&mut self, spec: &Spec<'_>) -> usize {
        self.sent = Some((spec.src, spec.dst, !spec.bad_checksum));
        write_tcp(&mut self.packet, spec)
    }

    /// Runs the packet in `self.packet[..len]` through the engine and checks what comes out.
    /// Returns the verdict and, when forwarded, the packet as it left.
    fn process(&mut self, len: usize) -> (Verdict, Option<Seg>) {
        self.now += Duration::from_secs(1);
        let input = self.sent.take();
        trace!("in  {}", show(&self.packet[..len]));
        let mut buf = PacketBuf::new(&mut self.packet, len);
        let verdict = self.engine.process(self.now, &mut buf);
        let out_len = buf.len();
        if tracing() {
            trace!("    {verdict:?} pinholes {}", self.engine.pinhole_count());
            if !matches!(verdict, Verdict::Drop(_)) {
                trace!("out {}", show(&self.packet[..out_len]));
            }
        }
        let mut out = None;
        match verdict {
            Verdict::Accept => {
                let seg = inspect(&self.packet[..out_len]);
                if let (Some((_, _, ok)), Some(o)) = (input, seg) {
                    assert_eq!(ok, o.tcp_ok, "TCP checksum validity changed on the way");
                }
                out = seg;
            }
            Verdict::Respond(_) => {
                let o = inspect(&self.packet[..out_len]);
                if let (Some((src, dst, _)), Some(o)) = (input, o) {
                    assert!(o.tcp_ok, "a RST the gateway answered with does not verify");
                    assert_eq!(
                        (o.src, o.dst),
                        (dst, src),
                        "answer not sent back to the sender"
                    );
                    assert!(o.flags & TCP_RST != 0, "TCP answer without RST");
                }
            }
            Verdict::Drop(_) => {}
        }
        self.drain();
        self.pinholes = self.engine.pinhole_count();
        (verdict, out)
    }

    /// Takes the engine's own packets and events; checks and delivers its packets.
    fn drain(&mut self) {
        while let Some(packet) = self.engine.poll_transmit() {
            trace!(
                "gen {:?}",
                String::from_utf8_lossy(&packet[40.min(packet.len())..])
            );
            let seg = inspect(&packet).expect("the gateway generated a non-TCP packet");
            assert!(seg.tcp_ok, "a generated packet does not verify");
            let to_client = (self.view(1), self.real(0));
            let to_server = (self.view(0), self.real(1));
            let ends = (seg.src, seg.dst);
            assert!(
                ends == to_client || ends == to_server,
                "a generated packet between {:?} is not for a control endpoint",
                ends
            );
            let side = usize::from(ends == to_client);
            deliver(&mut self.rx[side], &mut self.credits, side, &seg, &packet);
        }
        while let Some(event) = self.engine.poll_event() {
            trace!("    event {event:?}");
        }
    }

    /// Sends a control segment from `side` and follows it through.
    fn control(&mut self, side: usize, spec: &Spec<'_>) -> Verdict {
        let len = self.write(spec);
        let pinholes = self.pinholes;
        let credits = self.credits.len();
        let (verdict, out) = self.process(len);
        let Some(seg) = out else {
            let opened = self.pinholes > pinholes;
            if !self.weak && matches!(verdict, Verdict::Drop(_)) {
                assert!(
                    !opened,
                    "a pinhole opened for a control segment the gateway did not forward ({verdict:?})"
                );
            }
            return verdict;
        };
        if seg.flags & TCP_SYN != 0 && side == 0 {
            self.c_view_port = seg.src.1;
        }
        let (from, to) = (self.view(side), self.real(1 - side));
        assert_eq!(
            (seg.src, seg.dst),
            (from, to),
            "control segment translated wrongly"
        );
        deliver(
            &mut self.rx[side],
            &mut self.credits,
            side,
            &seg,
            &self.packet,
        );
        self.drain();
        if !self.weak
            && !self.desync[side]
            && !self.rx[side].gap()
            && self.pinholes > pinholes
        {
            let announcer = self.view(side).0;
            let named = self.credits[credits..]
                .iter()
                .any(|c| c.active == (side == 0) && (!c.active || c.addr == announcer));
            assert!(
                named,
                "a pinhole opened for a segment that delivered no announcement naming its sender"
            );
        }
        verdict
    }
}

/// Client-side templates.
fn client_line(w: &mut World, inp: &mut Input<'_>) {
    let t = &mut w.tx[0];
    match inp.u8() % 24 {
        0 => t.push(b"USER anonymous\r\n"),
        1 => t.push(b"PASS guest\r\n"),
        k @ (2 | 3 | 17) => {
            let sel = inp.u8();
            let addr = pick_addr(&w.layout, sel, inp, true);
            let port = inp.u16();
            let t = &mut w.tx[0];
            match k {
                2 => {
                    t.push(if sel & 0x80 != 0 { b"port " } else { b"PORT " });
                    t.push_host_port(addr, port);
                    t.push(b"\r\n");
                }
                3 => {
                    t.push(b"EPRT |1|");
                    t.push_quad(addr);
                    t.push(b"|");
                    t.push_num(u32::from(port));
                    t.push(b"|\r\n");
                }
                _ => {
                    // A PORT cut short: the rest comes with a later line or raw bytes.
                    t.push(b"PORT ");
                    t.push_host_port(addr, port);
                }
            }
        }
        4 => {
            let port = inp.u16();
            let t = &mut w.tx[0];
            t.push(b"EPRT |2|::1|");
            t.push_num(u32::from(port));
            t.push(b"|\r\n");
        }
        5 => t.push(b"PASV\r\n"),
        6 => t.push(b"EPSV\r\n"),
        7 => t.push(b"RETR file.txt\r\n"),
        8 => t.push(b"LIST -la\r\n"),
        9 => t.push(b"STOR up.bin\r\n"),
        10 => t.push(b"AUTH TLS\r\n"),
        11 => t.push(b"REIN\r\n"),
        12 => t.push(b"CWD /pub\r\n"),
        13 => t.push(b"PWD\r\n"),
        14 => t.push(b"LPRT 4,4,10,77,0,2,2,78,32\r\n"),
        15 => t.push(b"QUIT\r\n"),
        16 => t.push(b"NOOP\r\n"),
        18 => t.push(b"\r\n"),
        19 => t.push(b"EPSV ALL\r\n"),
        20 => t.push(b"CDUP\r\n"),
        21 => t.push(b"MLSD\r\n"),
        22 => t.push(b"NLST\r\n"),
        _ => t.push(b"APPE log\r\n"),
    }
}

/// Server-side templates.
fn server_line(w: &mut World, inp: &mut Input<'_>) {
    let t = &mut w.tx[1];
    match inp.u8() % 22 {
        0 => t.push(b"220 ready\r\n"),
        1 => t.push(b"331 password\r\n"),
        2 => t.push(b"230 logged in\r\n"),
        k @ (3 | 14) => {
            let sel = inp.u8();
            let addr = pick_addr(&w.layout, sel, inp, false);
            let port = inp.u16();
            let t = &mut w.tx[1];
            t.push(if sel & 0x80 != 0 { b"227-" } else { b"227 " });
            t.push(b"Entering Passive Mode (");
            t.push_host_port(addr, port);
            if k == 3 {
                t.push(b")\r\n");
            }
        }
        4 => {
            let port = inp.u16();
            let t = &mut w.tx[1];
            t.push(b"229 Entering Extended Passive Mode (|||");
            t.push_num(u32::from(port));
            t.push(b"|)\r\n");
        }
        5 => t.push(b"200 PORT command successful\r\n"),
        6 => t.push(b"150 Opening data connection\r\n"),
        7 => t.push(b"226 Transfer complete\r\n"),
        8 => t.push(b"234 AUTH TLS ok\r\n"),
        9 => t.push(b"257 \"/pub\" is current\r\n"),
        10 => t.push(b"250 ok\r\n"),
        11 => t.push(b"227-multi\r\n"),
        12 => t.push(b"500 unknown\r\n"),
        13 => t.push(b"425 cannot open\r\n"),
        15 => t.push(b"229 Entering Extended Passive Mode (|||"),
        16 => t.push(b"230-welcome\r\n"),
        17 => t.push(b"550 failed\r\n"),
        18 => t.push(b"\r\n"),
        19 => t.push(b"421 bye\r\n"),
        20 => t.push(b"331-more\r\n 331 text\r\n331 ok\r\n"),
        _ => t.push(b"221 goodbye\r\n"),
    }
}

/// An address for an announcement: the announcer's own (real or as seen), the peer's, a
/// foreign host, or any.
fn pick_addr(l: &Layout, sel: u8, inp: &mut Input<'_>, client: bool) -> Addr {
    let (own_real, own_view, peer) = if client {
        (l.c_real, l.c_view, l.s_real)
    } else {
        (l.s_real, l.s_view, l.c_real)
    };
    match sel % 8 {
        0..=2 => own_real,
        3 => own_view,
        4 => peer,
        5 => FOREIGN,
        6 => GATEWAY,
        _ => {
            let b = inp.bytes(4);
            let mut a = [0u8; 4];
            a[..b.len()].copy_from_slice(b);
            a
        }
    }
}

/// Sends a slice of one side's script.
fn send(w: &mut World, side: usize, delta: i8, len: usize, flags: u8, inp: &mut Input<'_>) {
    let mutate = if flags & 0x40 != 0 {
        Some((inp.u8(), inp.u8()))
    } else {
        None
    };
    let sack = if flags & 0x10 != 0 {
        Some((inp.u8(), inp.u8()))
    } else {
        None
    };
    let t = &w.tx[side];
    let start = (t.hwm as i64 + i64::from(delta)).clamp(0, t.len as i64) as usize;
    let len = len.min(t.len - start);
    let mut payload = [0u8; 1024];
    payload[..len].copy_from_slice(&t.script[start..start + len]);
    let mut changed = None;
    if let Some((pos, xor)) = mutate {
        if len > 0 {
            let at = usize::from(pos) % len;
            payload[at] ^= if xor == 0 { 0x20 } else { xor };
            changed = Some((start + at, payload[at]));
        }
    }
    let seq = t.isn.wrapping_add(1).wrapping_add(start as u32);
    let hwm = t.hwm.max(start + len);
    // Bytes sent before, now sent with other content (a changed byte where the script's went
    // first, or the other way round).
    let readable = flags & 0x20 == 0 && !(flags & 0x08 != 0 && flags & 0x80 != 0);
    let resent_changed = changed.is_some_and(|(at, _)| at < t.hwm)
        || t.changed
            .iter()
            .any(|&(at, byte)| (start..start + len).contains(&at) && payload[at - start] != byte);
    if readable && resent_changed && TOLERATE_HELD_LINE_DESYNC {
        trace!("    known issue: bytes resent with other content");
        w.desync[side] = true;
    }
    if let Some((at, byte)) = changed.filter(|&(at, _)| readable && at >= t.hwm) {
        w.tx[side].changed.push((at, byte));
    }
    w.tx[side].hwm = hwm;
    let mut tcp_flags = (flags & 0x01) | ((flags & 0x02) << 2) | (flags & 0x04); // FIN, PSH, RST
    if flags & 0x08 == 0 {
        tcp_flags |= TCP_ACK;
    } else if flags & 0x80 != 0 {
        tcp_flags = TCP_SYN; // a new SYN on the control tuple
    }
    let seq = if tcp_flags == TCP_SYN {
        w.tx[side].isn
    } else {
        seq
    };
    let ack = w.rx[1 - side].ack();
    let mut options = [0u8; 12];
    let opt_len = if let Some((a, b)) = sack {
        let left = ack.wrapping_add(u32::from(a) * 4);
        options[..4].copy_from_slice(&[1, 1, 5, 10]);
        options[4..8].copy_from_slice(&left.to_be_bytes());
        options[8..12].copy_from_slice(&left.wrapping_add(u32::from(b) + 1).to_be_bytes());
        12
    } else {
        0
    };
    let spec = Spec {
        src: if side == 0 { w.real(0) } else { w.real(1) },
        dst: if side == 0 { w.view(1) } else { w.view(0) },
        seq,
        ack,
        flags: tcp_flags,
        window: 65535,
        options: &options[..opt_len],
        payload: if tcp_flags & TCP_SYN != 0 {
            &[]
        } else {
            &payload[..len]
        },
        bad_checksum: flags & 0x20 != 0,
    };
    w.control(side, &spec);
}

/// A pure ACK from `side`, possibly beyond what it received, possibly with SACK.
fn pure_ack(w: &mut World, side: usize, inp: &mut Input<'_>) {
    let delta = inp.u8() as i8;
    let sack = inp.u8();
    let ack = w.rx[1 - side].ack().wrapping_add(delta as i32 as u32);
    let t = &w.tx[side];
    let seq = t.isn.wrapping_add(1).wrapping_add(t.hwm as u32);
    let mut options = [0u8; 20];
    let opt_len = if sack != 0 {
        let left = ack.wrapping_add(u32::from(sack & 0x0F) * 8);
        let right = left.wrapping_add(u32::from(sack >> 4) * 8 + 1);
        options[..4].copy_from_slice(&[1, 1, 5, 18]);
        options[4..8].copy_from_slice(&left.to_be_bytes());
        options[8..12].copy_from_slice(&right.to_be_bytes());
        // A D-SACK-style block below the ack.
        options[12..16].copy_from_slice(&ack.wrapping_sub(8).to_be_bytes());
        options[16..20].copy_from_slice(&ack.to_be_bytes());
        20
    } else {
        0
    };
    let spec = Spec {
        src: w.real(side),
        dst: w.view(1 - side),
        seq,
        ack,
        flags: TCP_ACK,
        window: 29200,
        options: &options[..opt_len],
        payload: &[],
        bad_checksum: false,
    };
    w.control(side, &spec);
}

/// A SYN that may be a data connection; checks the admission.
fn data_syn(w: &mut World, inp: &mut Input<'_>) {
    let k = inp.u8();
    let sel = inp.u8();
    let l = w.layout;
    let port = if sel < 0xC0 && !w.credits.is_empty() {
        w.credits[usize::from(sel) % w.credits.len()].port
    } else if sel < 0xE0 {
        NAT_FIRST + u16::from(sel & 0x1F)
    } else {
        inp.u16()
    };
    // Never the control port: a second control connection would take over the first one's
    // outside port once that one is gone, and this harness follows one control connection.
    let port = if port == FTP { FTP - 1 } else { port };
    let third = w
        .credits
        .iter()
        .rev()
        .find(|c| c.active && c.addr != l.c_view)
        .map_or(FOREIGN, |c| c.addr);
    let (src, dst) = match k % 7 {
        0 => (l.s_real, l.c_view),
        1 => (l.c_real, l.s_view),
        2 => (FOREIGN, l.c_view),
        3 => (FOREIGN, l.s_view),
        4 => (l.s_real, l.c_real),
        5 => (l.c_real, third),
        _ => (l.s_real, third),
    };
    let sport = match (k >> 3) & 3 {
        0 => 20,
        1 => 40001,
        2 => 1023,
        _ => 50000 + u16::from(sel),
    };
    let isn = u32::from(k).wrapping_mul(0x9E37_79B9);
    let spec = Spec {
        src: (src, sport),
        dst: (dst, port),
        seq: isn,
        ack: 0,
        flags: TCP_SYN,
        window: 65535,
        options: if w.wscale {
            &[2, 4, 5, 180, 1, 3, 3, 7]
        } else {
            &[2, 4, 5, 180]
        },
        payload: &[],
        bad_checksum: k & 0x80 != 0 && sel & 1 != 0,
    };
    let len = w.write(&spec);
    let created = w.engine.stats().flows_created;
    let (verdict, out) = w.process(len);
    if verdict != Verdict::Accept {
        return;
    }
    let out = out.expect("a forwarded SYN that is not TCP");
    if w.engine.stats().flows_created == created {
        // A retransmitted SYN of a flow already admitted (or its reverse).
        let known = w.data.iter().any(|f| {
            (f.src, f.dst) == ((src, sport), (dst, port))
                || (f.out_dst, f.out_src) == ((src, sport), (dst, port))
        });
        assert!(
            known,
            "a SYN passed on a flow that was never admitted: {src:?}:{sport} -> {dst:?}:{port}"
        );
        return;
    }
    let active = src == l.s_real && dst == l.c_view;
    let passive = src == l.c_real && dst == l.s_view;
    assert!(
        active || passive,
        "a data connection admitted between hosts that are not the control peers: {:?}:{sport} -> {:?}:{port}",
        ip(src),
        ip(dst)
    );
    let announcer = if active { l.c_real } else { l.s_real };
    assert_eq!(
        out.dst.0, announcer,
        "a data connection translated to another host than the announcer"
    );
    assert!(
        out.dst.1 >= w.min_data_port,
        "a data connection admitted to port {} below min_data_port",
        out.dst.1
    );
    let exact = !w.weak
        && !w.desync[usize::from(!active)]
        && w.rx.iter().all(|r| !r.lost && !r.gap());
    if exact {
        let credit = w.credits.iter_mut().find(|c| {
            !c.used && c.active == active && c.port == port && (!active || c.addr == dst)
        });
        match credit {
            Some(c) => {
                trace!("    admitted, matches {c:?}");
                c.used = true;
            }
            None => panic!(
                "a {} data connection to {:?}:{port} was admitted that no delivered announcement \
                 (or no unused one) named",
                if active { "active" } else { "passive" },
                ip(dst)
            ),
        }
    }
    let flow = DataFlow {
        src: (src, sport),
        dst: (dst, port),
        out_src: out.src,
        out_dst: out.dst,
        i_seq: isn.wrapping_add(1),
        r_seq: 7777,
    };
    // A flow with the same tuple or the same reply tuple is gone (it expired), or the engine
    // could not have admitted this one: the new one replaces its record.
    w.data.retain(|f| {
        (f.src, f.dst) != (flow.src, flow.dst)
            && (f.out_src, f.out_dst) != (flow.out_src, flow.out_dst)
    });
    if w.data.len() < MAX_DATA {
        w.data.push(flow);
    }
}

/// A packet of an admitted data connection.
fn data_follow(w: &mut World, inp: &mut Input<'_>) {
    let idx = inp.u8();
    let what = inp.u8();
    if w.data.is_empty() {
        return;
    }
    let i = usize::from(idx) % w.data.len();
    let f = w.data[i];
    let initiator = matches!(what % 7, 1 | 2 | 4 | 6);
    let (src, dst) = if initiator {
        (f.src, f.dst)
    } else {
        (f.out_dst, f.out_src)
    };
    let payload: &[u8] = if matches!(what % 7, 2 | 3) {
        b"data data data\n"
    } else {
        b""
    };
    let (flags, seq, ack) = match what % 7 {
        0 => (TCP_SYN | TCP_ACK, f.r_seq.wrapping_sub(1), f.i_seq),
        1 | 2 => (TCP_ACK | TCP_PSH, f.i_seq, f.r_seq),
        3 => (TCP_ACK | TCP_PSH, f.r_seq, f.i_seq),
        4 => (TCP_FIN | TCP_ACK, f.i_seq, f.r_seq),
        5 => (TCP_FIN | TCP_ACK, f.r_seq, f.i_seq),
        _ => (TCP_RST | TCP_ACK, f.i_seq, f.r_seq),
    };
    let spec = Spec {
        src,
        dst,
        seq,
        ack,
        flags,
        window: 65535,
        options: &[],
        payload,
        bad_checksum: false,
    };
    let len = w.write(&spec);
    let (verdict, out) = w.process(len);
    if verdict == Verdict::Accept {
        let out = out.expect("a forwarded data segment that is not TCP");
        let expected = if initiator {
            (f.out_src, f.out_dst)
        } else {
            (f.dst, f.src)
        };
        assert_eq!(
            (out.src, out.dst),
            expected,
            "a data connection's packet translated inconsistently"
        );
        let step = payload.len() as u32 + u32::from(flags & TCP_FIN != 0);
        let f = &mut w.data[i];
        if initiator {
            f.i_seq = f.i_seq.wrapping_add(step);
        } else {
            f.r_seq = f.r_seq.wrapping_add(step);
        }
    }
}

/// An ICMP port unreachable about the control connection, from either end.
fn icmp_error(w: &mut World, inp: &mut Input<'_>) {
    let which = inp.u8();
    let side = usize::from(which & 1); // the end that sends the error
    let (from, to) = (w.real(side), w.view(1 - side));
    // The quoted packet: one `to` sent towards `from` as `from` received it.
    let quoted_src = to;
    let quoted_dst = from;
    let mut quote = [0u8; 28];
    write_ip(&mut quote, quoted_src.0, quoted_dst.0, 6, 40);
    quote[20..22].copy_from_slice(&quoted_src.1.to_be_bytes());
    quote[22..24].copy_from_slice(&quoted_dst.1.to_be_bytes());
    quote[24..28].copy_from_slice(&w.tx[1 - side].isn.wrapping_add(1).to_be_bytes());
    let total = 20 + 8 + quote.len();
    let p = &mut w.packet;
    write_ip(p, from.0, to.0, 1, total);
    let icmp = &mut p[20..total];
    icmp[0] = 3;
    icmp[1] = if which & 2 != 0 { 4 } else { 3 };
    icmp[2..8].fill(0);
    if which & 2 != 0 {
        icmp[6..8].copy_from_slice(&576u16.to_be_bytes());
    }
    icmp[8..].copy_from_slice(&quote);
    let c = !fold(sum16(0, icmp));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let (verdict, _) = w.process(total);
    if verdict == Verdict::Accept {
        let p = &w.packet;
        let t = usize::from(be16(p, 2));
        assert_eq!(
            fold(sum16(0, &p[20..t])),
            0xFFFF,
            "a translated ICMP error does not verify"
        );
        assert_eq!(
            addr_at(p, 16),
            w.real(1 - side).0,
            "an ICMP error reached the wrong host"
        );
    }
}

fn run(data: &[u8], scratch: Scratch) -> Scratch {
    let mut inp = Input { data, pos: 0 };
    let (cfg0, cfg1) = (inp.u8(), inp.u8());
    let settings = settings_for(cfg0, cfg1);
    let Scratch {
        packet,
        mut tx,
        mut rx,
        mut credits,
        mut data,
    } = scratch;
    for t in &mut tx {
        t.len = 0;
        t.changed.clear();
        t.hwm = 0;
    }
    tx[0].isn = ISNS[usize::from(cfg1 & 3)];
    tx[1].isn = ISNS[usize::from((cfg1 >> 2) & 3)] ^ 0x5555;
    for r in &mut rx {
        r.reset();
    }
    credits.clear();
    data.clear();
    let mut w = World {
        min_data_port: settings.ftp.min_data_port,
        weak: cfg0 & 128 != 0,
        engine: Engine::new(settings),
        layout: if cfg0 & 1 != 0 {
            SERVER_INSIDE
        } else {
            CLIENT_INSIDE
        },
        c_view_port: CLIENT_PORT,
        wscale: cfg1 & 16 != 0,
        now: Duration::from_secs(1000),
        packet,
        sent: None,
        pinholes: 0,
        desync: [false; 2],
        tx,
        rx,
        credits,
        data,
    };

    // The handshake.
    let syn_options: &[u8] = if w.wscale {
        &[2, 4, 5, 180, 1, 3, 3, 7]
    } else {
        &[2, 4, 5, 180]
    };
    let (c_isn, s_isn) = (w.tx[0].isn, w.tx[1].isn);
    let spec = Spec {
        src: w.real(0),
        dst: w.view(1),
        seq: c_isn,
        ack: 0,
        flags: TCP_SYN,
        window: 65535,
        options: syn_options,
        payload: &[],
        bad_checksum: false,
    };
    w.control(0, &spec);
    let spec = Spec {
        src: w.real(1),
        dst: w.view(0),
        seq: s_isn,
        ack: c_isn.wrapping_add(1),
        flags: TCP_SYN | TCP_ACK,
        options: syn_options,
        ..spec
    };
    w.control(1, &spec);
    assert!(
        w.rx[0].started && w.rx[1].started,
        "the control handshake did not pass"
    );
    pure_ack(
        &mut w,
        0,
        &mut Input {
            data: &[0, 0],
            pos: 0,
        },
    );

    let mut ops = 0;
    while !inp.done() && ops < MAX_OPS {
        ops += 1;
        match inp.u8() % 14 {
            0 => client_line(&mut w, &mut inp),
            1 => server_line(&mut w, &mut inp),
            k @ (2 | 3) => {
                let n = usize::from(inp.u8() % 64);
                let bytes = inp.bytes(n);
                w.tx[usize::from(k == 3)].push(bytes);
            }
            k @ (4 | 5) => {
                let delta = inp.u8() as i8;
                let len = usize::from(inp.u8());
                let flags = inp.u8();
                send(&mut w, usize::from(k == 5), delta, len, flags, &mut inp);
            }
            k @ (6 | 7) => {
                let side = usize::from(k == 7);
                let len = w.tx[side].len - w.tx[side].hwm.min(w.tx[side].len);
                send(&mut w, side, 0, len.min(1024), 0x02, &mut inp);
            }
            k @ (8 | 9) => pure_ack(&mut w, usize::from(k == 9), &mut inp),
            10 => data_syn(&mut w, &mut inp),
            11 => data_follow(&mut w, &mut inp),
            12 => {
                let secs = inp.u8();
                w.now += Duration::from_secs(u64::from(secs));
                w.engine.expire(w.now);
                w.drain();
                w.pinholes = w.engine.pinhole_count();
            }
            _ => icmp_error(&mut w, &mut inp),
        }
    }
    w.engine.finish();
    w.drain();
    let World {
        packet,
        tx,
        rx,
        credits,
        data,
        ..
    } = w;
    Scratch {
        packet,
        tx,
        rx,
        credits,
        data,
    }
}

fuzz_target!(|data: &[u8]| {
    let scratch = SCRATCH
        .with(|s| s.borrow_mut().take())
        .unwrap_or_else(|| Scratch {
            packet: vec![0; PACKET].into_boxed_slice(),
            tx: [Tx::new(), Tx::new()],
            rx: [Rx::new(), Rx::new()],
            credits: Vec::with_capacity(MAX_CREDITS),
            data: Vec::with_capacity(MAX_DATA),
        });
    let scratch = run(data, scratch);
    SCRATCH.with(|s| *s.borrow_mut() = Some(scratch));
});
