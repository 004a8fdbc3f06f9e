//! A two-sided TCP conversation driven through the engine, for FTP scenarios. Each side
//! remembers what it sent (its own sequence space) and what it received through the gateway,
//! and acknowledges exactly that, like a real stack. It drives the engine only through
//! `engine`, writes only through `packet` and reads only through `inspect`; it never decides
//! what a test expects beyond its own invariants (forwarded and generated packets verify,
//! generated ones go to an end in its peer's name).

use std::net::Ipv4Addr;

use ftpgate::engine::{Engine, Verdict};

use crate::lab_settings::{CLIENT, INSIDE_SERVER, OUTSIDE, OUTSIDE_CLIENT, SERVER};

use crate::engine::{next_transmit, run, secs, Outcome};
use crate::inspect::{checksums_verify, endpoints, inspect, v4};
use crate::packet::{tcp, ACK, PSH, SYN};

/// One end of the conversation.
#[derive(Debug, Clone, Copy)]
pub struct End {
    /// Address and port it sends from.
    pub addr: (Ipv4Addr, u16),
    /// Where it sends to (the peer as it sees it).
    pub peer: (Ipv4Addr, u16),
    /// Next sequence number it sends.
    pub seq: u32,
    /// Next byte it expects (what it acknowledges).
    pub rcv: u32,
}

/// A TCP connection through the engine.
pub struct Conversation<'e> {
    pub engine: &'e Engine,
    pub client: End,
    pub server: End,
    pub now: u64,
    /// The byte stream the client received, in order, as its TCP would deliver it.
    pub client_got: Vec<u8>,
    /// The byte stream the server received.
    pub server_got: Vec<u8>,
}

/// A packet the engine wrote itself, as one end received it.
#[derive(Debug)]
pub struct Generated {
    /// Whether it went to the client (else to the server).
    pub to_client: bool,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
}

impl Generated {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// Appends to `stream` what a segment at `seq` adds beyond `rcv`; returns the new `rcv`.
fn deliver(stream: &mut Vec<u8>, rcv: u32, seq: u32, payload: &[u8]) -> u32 {
    let skip = rcv.wrapping_sub(seq) as usize;
    if (rcv.wrapping_sub(seq) as i32) >= 0 && skip < payload.len() {
        stream.extend_from_slice(&payload[skip..]);
        return seq.wrapping_add(payload.len() as u32);
    }
    rcv
}

/// What came out of the gateway for one segment.
pub struct Delivered {
    pub verdict: Verdict,
    pub bytes: Vec<u8>,
    pub seq: u32,
    pub ack: u32,
    pub payload: Vec<u8>,
}

impl Delivered {
    fn of(out: Outcome) -> Self {
        let (seq, ack, payload) = if out.verdict == Verdict::Accept {
            let seg = inspect(&out.bytes).expect("a TCP segment");
            let (start, end) = seg.payload;
            (seg.seq, seg.ack, out.bytes[start..end].to_vec())
        } else {
            (0, 0, Vec::new())
        };
        Self {
            verdict: out.verdict,
            bytes: out.bytes,
            seq,
            ack,
            payload,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

impl<'e> Conversation<'e> {
    /// Opens a connection from `client` to `server_as_seen` (where the client sends); the
    /// server answers from `server_real`, to the client as the gateway translated it.
    pub fn open(
        engine: &'e Engine,
        client: (Ipv4Addr, u16),
        server_as_seen: (Ipv4Addr, u16),
        server_real: (Ipv4Addr, u16),
    ) -> Self {
        let syn = run(
            engine,
            secs(1),
            &tcp(client, server_as_seen, SYN, 1000, 0, b""),
        );
        assert_eq!(syn.verdict, Verdict::Accept, "control SYN");
        let (src, _) = endpoints(&syn.bytes);
        let client_seen = (
            match src.0 {
                std::net::IpAddr::V4(a) => a,
                _ => unreachable!(),
            },
            src.1,
        );
        let syn_ack = run(
            engine,
            secs(1),
            &tcp(server_real, client_seen, SYN | ACK, 5000, 1001, b""),
        );
        assert_eq!(syn_ack.verdict, Verdict::Accept, "control SYN/ACK");
        let ack = run(
            engine,
            secs(1),
            &tcp(client, server_as_seen, ACK, 1001, 5001, b""),
        );
        assert_eq!(ack.verdict, Verdict::Accept);
        Self {
            engine,
            client: End {
                addr: client,
                peer: server_as_seen,
                seq: 1001,
                rcv: 5001,
            },
            server: End {
                addr: server_real,
                peer: client_seen,
                seq: 5001,
                rcv: 1001,
            },
            now: 2,
            client_got: Vec::new(),
            server_got: Vec::new(),
        }
    }

    /// Hands every packet the engine generated to the end it is addressed to, which takes its
    /// bytes like any segment; returns them.
    pub fn take_generated(&mut self) -> Vec<Generated> {
        let mut out = Vec::new();
        while let Some(bytes) = next_transmit(self.engine) {
            assert!(
                checksums_verify(&bytes),
                "generated packet checksums verify"
            );
            let (src, dst) = endpoints(&bytes);
            let to_client = dst == v4(self.client.addr.0, self.client.addr.1);
            if !to_client {
                assert_eq!(dst, v4(self.server.addr.0, self.server.addr.1));
            }
            let (expected_src, receiver) = if to_client {
                (self.client.peer, &mut self.client)
            } else {
                (self.server.peer, &mut self.server)
            };
            assert_eq!(
                src,
                v4(expected_src.0, expected_src.1),
                "sent in the peer's name"
            );
            let seg = inspect(&bytes).expect("a TCP segment");
            let generated = Generated {
                to_client,
                seq: seg.seq,
                ack: seg.ack,
                flags: seg.flags,
                payload: bytes[seg.payload.0..seg.payload.1].to_vec(),
            };
            let stream = if to_client {
                &mut self.client_got
            } else {
                &mut self.server_got
            };
            receiver.rcv = deliver(stream, receiver.rcv, generated.seq, &generated.payload);
            out.push(generated);
        }
        out
    }

    /// The segment one end would send carrying `text` at `seq` (ACK | PSH, acknowledging what
    /// it received), without sending it.
    pub fn segment(&self, from_client: bool, seq: u32, text: &[u8]) -> Vec<u8> {
        let sender = if from_client {
            self.client
        } else {
            self.server
        };
        tcp(sender.addr, sender.peer, ACK | PSH, seq, sender.rcv, text)
    }

    fn send(&mut self, from_client: bool, seq: u32, text: &[u8], advance: bool) -> Delivered {
        self.now += 1;
        let packet = self.segment(from_client, seq, text);
        let out = Delivered::of(run(self.engine, secs(self.now), &packet));
        if out.verdict == Verdict::Accept {
            assert!(
                checksums_verify(&out.bytes),
                "forwarded segment checksums verify"
            );
            let receiver = if from_client {
                &mut self.server
            } else {
                &mut self.client
            };
            let stream = if from_client {
                &mut self.server_got
            } else {
                &mut self.client_got
            };
            receiver.rcv = deliver(stream, receiver.rcv, out.seq, &out.payload);
        }
        if advance {
            let sender = if from_client {
                &mut self.client
            } else {
                &mut self.server
            };
            sender.seq = sender.seq.wrapping_add(text.len() as u32);
        }
        out
    }

    /// The client sends the next bytes of its stream.
    pub fn client_says(&mut self, text: &str) -> Delivered {
        let seq = self.client.seq;
        self.send(true, seq, text.as_bytes(), true)
    }

    /// The server sends the next bytes of its stream.
    pub fn server_says(&mut self, text: &str) -> Delivered {
        let seq = self.server.seq;
        self.send(false, seq, text.as_bytes(), true)
    }

    /// The client sends bytes at an explicit position (retransmission, overlap, gap).
    pub fn client_at(&mut self, seq: u32, text: &str) -> Delivered {
        self.send(true, seq, text.as_bytes(), false)
    }

    /// One end acknowledges what it received (a pure ACK); returns the ack its peer gets.
    fn acks(&mut self, from_client: bool) -> u32 {
        self.now += 1;
        let end = if from_client {
            self.client
        } else {
            self.server
        };
        let packet = tcp(end.addr, end.peer, ACK, end.seq, end.rcv, b"");
        let out = Delivered::of(run(self.engine, secs(self.now), &packet));
        assert_eq!(out.verdict, Verdict::Accept);
        out.ack
    }

    /// The server acknowledges what it received; returns the ack the client gets.
    pub fn server_acks(&mut self) -> u32 {
        self.acks(false)
    }

    /// The client acknowledges what it received; returns the ack the server gets.
    pub fn client_acks(&mut self) -> u32 {
        self.acks(true)
    }

    /// The greeting and an anonymous login, each line through the gateway: 220, USER
    /// anonymous, 331, PASS guest@, 230.
    pub fn log_in(&mut self) {
        self.server_says("220 ready\r\n");
        self.client_says("USER anonymous\r\n");
        self.server_says("331 Guest login ok\r\n");
        self.client_says("PASS guest@\r\n");
        self.server_says("230 Logged in\r\n");
    }
}

/// The inside client's control connection (port 40000) to the outside server's port 21.
pub fn to_outside(engine: &Engine) -> Conversation<'_> {
    Conversation::open(engine, (CLIENT, 40000), (SERVER, 21), (SERVER, 21))
}

/// An outside client's control connection (port 50000) to the inside server behind the lab's
/// 2121 forward.
pub fn to_inside(engine: &Engine) -> Conversation<'_> {
    Conversation::open(
        engine,
        (OUTSIDE_CLIENT, 50000),
        (OUTSIDE, 2121),
        (INSIDE_SERVER, 21),
    )
}

/// `a.b.c.d` and port as the six numbers of PORT / 227.
pub fn six(addr: Ipv4Addr, port: u16) -> String {
    let o = addr.octets();
    format!(
        "{},{},{},{},{},{}",
        o[0],
        o[1],
        o[2],
        o[3],
        port >> 8,
        port & 0xff
    )
}

/// The address and port in a PORT / 227 text: the first run of six comma-separated numbers.
pub fn parse_six(text: &str) -> (Ipv4Addr, u16) {
    let runs = text.split(|c: char| !(c.is_ascii_digit() || c == ','));
    let run = runs
        .into_iter()
        .find(|run| run.matches(',').count() == 5)
        .expect("six numbers");
    let n: Vec<u16> = run.split(',').map(|d| d.parse().unwrap()).collect();
    (
        Ipv4Addr::new(n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8),
        n[4] * 256 + n[5],
    )
}

/// Same endpoint, as (IpAddr, port).
pub fn ep(addr: (Ipv4Addr, u16)) -> (std::net::IpAddr, u16) {
    v4(addr.0, addr.1)
}
