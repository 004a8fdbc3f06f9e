//! The operations a fuzz input is made of: script templates for both ends, segments with
//! every TCP oddity, pure ACKs, data-connection SYNs (where admission is checked), data
//! packets and ICMP errors. Each reads its fields from the input; none may panic on any bytes
//! except through a failed check.

use super::*;

/// Client-side templates.
pub(crate) fn client_line(w: &mut World, inp: &mut Input<'_>) {
    let t = &mut w.tx[0];
    // Bytes 224.. pick the templates added with the model server; below, each byte picks
    // what it picked before (older reproducers keep their meaning).
    let k = inp.u8();
    match if k >= 224 { 24 + (k - 224) % 8 } else { k % 24 } {
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
        23 => t.push(b"APPE log\r\n"),
        // Not FTP: an HTTP request made to port 21 (NAT slipstreaming).
        24 => t.push(b"POST / HTTP/1.1\r\n"),
        25 => t.push(b"Host: 198.51.100.2:21\r\nContent-Length: 64\r\n\r\n"),
        26 => t.push(b"GET /x HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"),
        // Telnet commands a server strips: interrupt, data mark, an option negotiation.
        27 => t.push(b"\xff\xf4\xff\xf2"),
        28 => t.push(b"\xff\xfb\x01\xff\xff"),
        // A line that fills the model server's line buffer: what follows is its next line.
        29 => {
            let pad = w.model.variant.cut.saturating_sub(5);
            t.push(b"NOOP ");
            for _ in 0..pad / 64 {
                t.push(&[b'a'; 64]);
            }
            t.push(&[b'a'; 64][..pad % 64]);
        }
        // Echo injection: a server repeats the line (500 for X, 257 for MKD) and the 227 /
        // 229 after the bare LF or CR inside it.
        k @ (30 | 31) => {
            let sel = inp.u8();
            let port = inp.u16();
            let s_real = w.layout.s_real;
            let t = &mut w.tx[0];
            t.push(if sel & 1 != 0 { b"MKD d" } else { b"X" });
            t.push(if sel & 2 != 0 { b"\r" } else { b"\n" });
            if k == 30 {
                t.push(if sel & 4 != 0 { b"227 (" } else { b"227-(" });
                t.push_host_port(s_real, port);
                t.push(b")\r\n");
            } else {
                t.push(b"229 Entering Extended Passive Mode (|||");
                t.push_num(u32::from(port));
                t.push(b"|)\r\n");
            }
        }
        _ => unreachable!("a template index below 32"),
    }
}

/// Server-side templates.
pub(crate) fn server_line(w: &mut World, inp: &mut Input<'_>) {
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
pub(crate) fn pick_addr(l: &Layout, sel: u8, inp: &mut Input<'_>, client: bool) -> Addr {
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
pub(crate) fn send(
    w: &mut World,
    side: usize,
    delta: i8,
    len: usize,
    flags: u8,
    inp: &mut Input<'_>,
) {
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
pub(crate) fn pure_ack(w: &mut World, side: usize, inp: &mut Input<'_>) {
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
pub(crate) fn data_syn(w: &mut World, inp: &mut Input<'_>) {
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
    let exact =
        !w.weak && !w.desync[usize::from(!active)] && w.rx.iter().all(|r| !r.lost && !r.gap());
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
    if !active && !ignored(Oracle::Echo) {
        let port_at_server = out.dst.1;
        assert!(
            w.intents.take(&w.tx[1], port_at_server),
            "a passive data connection to the server's port {port_at_server} was admitted that \
             the server's own bytes never announced (read in bytes it echoed from the client?)"
        );
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
pub(crate) fn data_follow(w: &mut World, inp: &mut Input<'_>) {
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
pub(crate) fn icmp_error(w: &mut World, inp: &mut Input<'_>) {
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
    let code = if which & 2 != 0 { 4 } else { 3 };
    let mtu = if which & 2 != 0 { 576u16 } else { 0 };
    let [m0, m1] = mtu.to_be_bytes();
    let total = write_icmp(
        &mut w.packet,
        from.0,
        to.0,
        (3, code),
        [0, 0, m0, m1],
        &quote,
    );
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
