//! Property: however the client's control stream is cut into segments, reordered and
//! retransmitted, the server reassembles exactly the client's stream with each PORT naming
//! the inside address rewritten to the outside address, and every ack the client receives
//! names a position in its own stream.

use ftpgate_testkit as support;

use std::collections::BTreeMap;

use ftpgate::engine::{Engine, Verdict};
use proptest::prelude::*;
use support::conversation::six;
use support::*;

const ISN: u32 = 0xffff_ff00; // the stream wraps past 2^32

#[derive(Debug, Clone)]
enum Action {
    /// Send the next `len` new bytes.
    New(usize),
    /// Resend `len` bytes starting `back` bytes before the highest byte sent.
    Retransmit { back: usize, len: usize },
    /// Send `len` bytes starting `skip` bytes beyond the highest byte sent (out of order).
    Ahead { skip: usize, len: usize },
    /// The server acknowledges what it has.
    Ack,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (1usize..40).prop_map(Action::New),
        2 => (1usize..60, 1usize..40).prop_map(|(back, len)| Action::Retransmit { back, len }),
        1 => (1usize..30, 1usize..30).prop_map(|(skip, len)| Action::Ahead { skip, len }),
        2 => Just(Action::Ack),
    ]
}

fn lines() -> impl Strategy<Value = Vec<(bool, u16)>> {
    proptest::collection::vec((any::<bool>(), 20000u16..59990), 1..8)
}

struct Server {
    got: BTreeMap<usize, Vec<u8>>, // by offset from the first byte
    rcv: usize,
    stream: Vec<u8>,
}

impl Server {
    fn receive(&mut self, offset: usize, bytes: &[u8]) {
        // Every copy of a byte must be the same.
        for (i, byte) in bytes.iter().enumerate() {
            if let Some(existing) = self.stream.get(offset + i) {
                assert_eq!(
                    existing,
                    byte,
                    "a retransmission carries different bytes at {}",
                    offset + i
                );
            }
        }
        self.got.insert(offset, bytes.to_vec());
        while let Some((&at, _)) = self
            .got
            .iter()
            .find(|(at, b)| **at <= self.rcv && **at + b.len() > self.rcv)
        {
            let bytes = self.got.remove(&at).unwrap();
            self.stream.extend_from_slice(&bytes[self.rcv - at..]);
            self.rcv = self.stream.len();
        }
        self.got.retain(|at, b| at + b.len() > self.rcv);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_server_reassembles_the_rewritten_stream(plan in lines(), actions in proptest::collection::vec(action(), 1..60)) {
        let mut settings = lab_settings();
        settings.ftp.require_login = false; // the client's stream starts at the PORT
        settings.ftp.max_pinholes = 64; // every PORT of the plan is accepted
        // A second per action: a line may stay partial for the whole run without aging out.
        settings.limits.ftp_held_timeout = secs(300);
        let engine = Engine::new(settings);
        let (client, server) = ((CLIENT, 40000), (SERVER, 21));
        prop_assert_eq!(run(&engine, secs(1), &tcp(client, server, SYN, ISN.wrapping_sub(1), 0, b"")).verdict, Verdict::Accept);
        let _ = run(&engine, secs(1), &tcp(server, (OUTSIDE, 40000), SYN | ACK, 7000, ISN, b""));
        // The server speaks first: without its greeting the session would not be FTP.
        let greeting = run(&engine, secs(1), &tcp(server, (OUTSIDE, 40000), ACK | PSH, 7001, ISN, b"220 ok\r\n"));
        prop_assert_eq!(greeting.verdict, Verdict::Accept);

        let mut original = String::new();
        let mut expected = String::new();
        for (index, (is_port, port)) in plan.iter().enumerate() {
            if *is_port {
                // Each PORT is followed by the transfer that uses it: pipelined, unambiguous.
                let transfer = format!("RETR f{index}\r\n");
                original.push_str(&format!("PORT {}\r\n{transfer}", six(CLIENT, *port + index as u16)));
                expected.push_str(&format!("PORT {}\r\n{transfer}", six(OUTSIDE, *port + index as u16)));
            } else {
                let line = format!("NOOP {index}\r\n");
                original.push_str(&line);
                expected.push_str(&line);
            }
        }
        let original = original.into_bytes();
        let mut receiver = Server { got: BTreeMap::new(), rcv: 0, stream: Vec::new() };
        let mut sent_up_to = 0usize; // highest byte the client sent
        let mut acked = 0usize; // what the client has seen acknowledged (its own stream)
        let mut now = 2;

        let send = |from: usize, len: usize, receiver: &mut Server, now: u64| {
            let end = (from + len).min(original.len());
            if from >= end {
                return;
            }
            let seq = ISN.wrapping_add(from as u32);
            let out = run(&engine, secs(now), &tcp(client, server, ACK | PSH, seq, 7009, &original[from..end]));
            if out.verdict == Verdict::Accept {
                assert!(checksums_verify(&out.bytes));
                let tcp_header = &out.bytes[20..];
                let header = usize::from(tcp_header[12] >> 4) * 4;
                let out_seq = u32::from_be_bytes(tcp_header[4..8].try_into().unwrap());
                receiver.receive(out_seq.wrapping_sub(ISN) as usize, &tcp_header[header..]);
            }
        };
        let ack = |receiver: &Server, acked: &mut usize, now: u64| {
            let out = run(&engine, secs(now), &tcp(server, (OUTSIDE, 40000), ACK, 7009, ISN.wrapping_add(receiver.rcv as u32), b""));
            assert_eq!(out.verdict, Verdict::Accept);
            let got = u32::from_be_bytes(out.bytes[28..32].try_into().unwrap()).wrapping_sub(ISN) as usize;
            assert!(got <= original.len(), "ack {got} names no position of the client's {}-byte stream", original.len());
            *acked = (*acked).max(got);
        };
        for action in actions {
            now += 1;
            // Like a real sender: nothing below what was acknowledged is sent again, and a
            // retransmission repeats only bytes already sent.
            match action {
                Action::New(len) => {
                    let from = sent_up_to.max(acked);
                    send(from, len, &mut receiver, now);
                    sent_up_to = (from + len).min(original.len());
                }
                Action::Retransmit { back, len } => {
                    let from = sent_up_to.saturating_sub(back).max(acked);
                    send(from, len.min(sent_up_to.saturating_sub(from)), &mut receiver, now);
                }
                Action::Ahead { skip, len } => {
                    let from = sent_up_to.max(acked) + skip;
                    send(from, len, &mut receiver, now);
                    sent_up_to = sent_up_to.max((from + len).min(original.len()));
                }
                Action::Ack => ack(&receiver, &mut acked, now),
            }
        }
        // Retransmission timeouts: the client resends from what was acknowledged until done.
        for _ in 0..200 {
            ack(&receiver, &mut acked, now);
            if acked >= original.len() {
                break;
            }
            now += 1;
            send(acked, 64, &mut receiver, now);
        }
        prop_assert_eq!(acked, original.len(), "the whole stream was delivered and acknowledged");
        prop_assert_eq!(String::from_utf8_lossy(&receiver.stream).into_owned(), expected);
    }
}
