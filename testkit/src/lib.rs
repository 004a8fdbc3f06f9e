//! The one test kit of ftpgate, shared by the integration tests (`tests/`), the benches
//! (`benches/`), the memory probes (`examples/`) and the fuzz harness (`fuzz/`): no test
//! harness exists in two copies. Each module owns one thing:
//!
//! - `checksum`: the Internet checksum arithmetic (no packet layout, no allocation);
//! - `packet`: writing IPv4/IPv6 TCP, UDP and ICMP packets (in place, or as `Vec`s);
//! - `inspect`: reading what left the gateway (endpoints, checksums, TCP fields);
//! - `engine`: running a packet through an `Engine` (the kit's only use of its packet API);
//! - `lab_settings`: the lab gateway the engine tests run against;
//! - `conversation`: the FTP conversation harness (a two-sided TCP connection);
//! - `ftp_line`: the invariants of every FTP line parser on any bytes (the `ftp_line` fuzz
//!   target's checks, and the parsers' property tests);
//! - `population`: an engine with N established flows, for the benches;
//! - `rule_file`: a rule-file error expected at a line and column;
//! - `skip`: how a test that cannot run here ends (a failure under `CI=true`).
//!
//! The root re-exports what most tests use (`use ftpgate_testkit::*`).

pub mod checksum;
pub mod conversation;
pub mod engine;
pub mod ftp_line;
pub mod inspect;
pub mod lab_settings;
pub mod packet;
pub mod population;
pub mod rule_file;
pub mod skip;

pub use engine::{ftp_reports, run, secs, FtpReports, Outcome};
pub use inspect::{checksums_verify, endpoints, outside_port, v4};
pub use lab_settings::{
    lab_settings, CLIENT, CLIENT2, INSIDE_NET, INSIDE_SERVER, OUTSIDE, OUTSIDE_CLIENT, ROUTER,
    SERVER, THIRD_HOST,
};
pub use packet::{echo, echo6, icmp_unreachable, tcp, tcp6, udp, ACK, FIN, PSH, RST, SYN};
