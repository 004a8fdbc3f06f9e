//! The whole engine, driven by fuzzer bytes around one FTP control connection.
//!
//! The first two input bytes choose the layout and the settings:
//! - layout: the client inside behind the masquerade and the server outside, or the server
//!   inside behind a port forward (`outside:21 -> inside:21`) and the client outside;
//! - `on_violation` and `non_ftp` reply-or-pass / reset, `allow_fxp`, `require_login`, `tls` pass_blind / block,
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
//! connection; time passing (with `expire`); the model server's variant (operation bytes
//! 240..); a reconnect on the same 4-tuple with new ISNs, after a RST, a FIN exchange or
//! none, maybe with data in the SYN (TFO) (bytes 224..239). Client templates include HTTP
//! request lines (slipstreaming), Telnet commands, a line that fills the model's line buffer,
//! and echo-injection lines (`X\n227-(...)`, `MKD d\r227 (...)`). The server's side is the
//! fuzzer's templates and raw bytes mixed with the model server's answers (`model_server`):
//! a 220 greeting on each new connection, then one reply per line it reads, its own 227 / 229
//! to PASV / EPSV, echoes in 500 / 257. The policy drops every new flow except outbound
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
//! And the invariant: no data connection is admitted that no delivered announcement predicted,
//! where "announced" is decided by the receiving program's own reading, not ftpgate's. The
//! oracle reads only what the gateway sent (forwarded segments and its own packets),
//! reassembled as each receiver gets it (first copy of a byte wins; bad checksums ignored):
//! - the client -> server stream is read by the model server (Telnet stripped, lines cut at
//!   2,048 or 512 bytes, bare LF a line end or not): an active announcement is a PORT / EPRT
//!   it obeys, while the session still behaves as FTP (no line with a verb that is not FTP
//!   read since the connection began). Every PORT / EPRT it obeys must not be a bounce: it
//!   names the client as the server sees it (unless `allow_fxp`) and a port at or above the
//!   floor (`min_data_port`, or 1024 for a translated client's rewritten port);
//! - the server -> client stream is read leniently (every `h1,...,p2`, `(|||port|)` and 229
//!   number in any line, none once the client is not FTP), and a passive data connection
//!   also needs the server's OWN bytes (its script with every byte it echoed from the client
//!   masked) to have announced the port it lands on: an announcement read in an echo is the
//!   client's, not the server's;
//! - with `require_login`, a pinhole needs a 230 / 232 / 235 received by the client in the
//!   same connection (a new ISN forgets it).
//!
//! Every new data flow the engine admits must:
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

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ftpgate::engine::settings::{
    Action, Direction, EngineSettings, ForwardProtocol, Limits, NonFtpPolicy, Policy, PortForward,
    PortRange, Rule, RuleProtocol, TlsPolicy, ViolationOutcome,
};
use ftpgate::engine::{DropReason, Engine, Event, PacketBuf, Verdict};

/// `FTP_SESSION_TRACE=1` prints what each packet did (for reading a reproducer).
pub(crate) fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FTP_SESSION_TRACE").is_some())
}

/// The checks that `FTP_SESSION_IGNORE` (a comma-separated list of these names) can turn off,
/// to look for other classes of findings while one class is still open in the engine.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Oracle {
    /// `non-ftp`: nothing announces once the client sent a line that is not FTP.
    NonFtp,
    /// `login`: no pinhole before a login reply in the same connection.
    Login,
    /// `bounce`: no PORT / EPRT to another host or a low port reaches the server.
    Bounce,
    /// `echo`: a passive data connection needs the server's own announcement.
    Echo,
    /// `bounce-unread`: bounces after any `non_ftp` notice (also with the server inside).
    BounceUnread,
    /// `syn-options`: a well-formed SYN with a TFO cookie option is not dropped as malformed.
    SynOptions,
}

/// Whether `FTP_SESSION_IGNORE` turns `oracle` off (read once; never set in CI).
pub(crate) fn ignored(oracle: Oracle) -> bool {
    static IGNORED: std::sync::OnceLock<[bool; 6]> = std::sync::OnceLock::new();
    let names = IGNORED.get_or_init(|| {
        let list = std::env::var("FTP_SESSION_IGNORE").unwrap_or_default();
        let has = |name: &str| list.split(',').any(|n| n.trim() == name);
        [
            has("non-ftp"),
            has("login"),
            has("bounce"),
            has("echo"),
            has("bounce-unread"),
            has("syn-options"),
        ]
    });
    names[oracle as usize]
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing() {
            eprintln!($($arg)*);
        }
    };
}

mod connection;
mod lenient;
mod model_server;
mod ops;
mod run;
mod script;
mod stream;
mod world;

use connection::*;
use lenient::*;
use model_server::ModelServer;
use ops::*;
// Packets are written, summed and read back by the test kit (`ftpgate_testkit`): in place,
// never allocating per packet.
use ftpgate_testkit::checksum::{fold, sum16};
use ftpgate_testkit::inspect::{addr_at, be16, inspect, Seg};
use ftpgate_testkit::packet::{write_icmp, write_ip, write_tcp, Spec};
pub use run::check;
use script::*;
use stream::*;
use world::*;

pub(crate) type Addr = [u8; 4];
pub(crate) type Endpoint = (Addr, u16);

pub(crate) const INSIDE_CLIENT: Addr = [10, 77, 0, 2];
pub(crate) const INSIDE_SERVER: Addr = [10, 77, 0, 5];
pub(crate) const OUTSIDE_SERVER: Addr = [198, 51, 100, 2];
pub(crate) const OUTSIDE_CLIENT: Addr = [203, 0, 113, 7];
pub(crate) const GATEWAY: Addr = [198, 51, 100, 1];
pub(crate) const FOREIGN: Addr = [192, 0, 2, 9];
pub(crate) const CLIENT_PORT: u16 = 40000;
pub(crate) const FTP: u16 = 21;
pub(crate) const NAT_FIRST: u16 = 20000;

pub(crate) const TCP_FIN: u8 = 0x01;
pub(crate) const TCP_SYN: u8 = 0x02;
pub(crate) const TCP_RST: u8 = 0x04;
pub(crate) const TCP_PSH: u8 = 0x08;
pub(crate) const TCP_ACK: u8 = 0x10;

/// Bytes each end's script may hold.
pub(crate) const SCRIPT: usize = 4096;
/// Bytes of each delivered stream the oracle reassembles.
pub(crate) const STREAM: usize = 32768;
/// Packet buffer: room for any rewrite (the engine never reallocates).
pub(crate) const PACKET: usize = 70000;
/// Most operations per input.
pub(crate) const MAX_OPS: usize = 600;
/// Most data connections followed.
pub(crate) const MAX_DATA: usize = 16;
/// Most announcements remembered between segments (`Credit::compact`).
pub(crate) const MAX_CREDITS: usize = 256;

/// A former engine issue, fixed (reproducers `artifacts/ftp_session/held-line-desync-port-22`,
/// `min-held-line-desync` and `held-line-desync-in-accepted-segment`): a segment completing a
/// withheld line while carrying its withheld part again with other bytes used to forward
/// those other bytes; the engine now drops it (`ftp_inconsistent_retransmission`). `true`
/// would stop checking a side's announcements exactly once it resends changed bytes.
pub(crate) const TOLERATE_HELD_LINE_DESYNC: bool = false;

pub(crate) const ISNS: [u32; 4] = [1000, 0xFFFF_FF00, 0x7FFF_FFF0, 0xDEAD_BEEF];
