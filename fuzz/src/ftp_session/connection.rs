//! Control connections: the first handshake, and reconnects on the same 4-tuple with new ISNs
//! (after a RST, a FIN exchange, or none: a new SYN over a half-open connection), optionally
//! with data in the SYN (TCP Fast Open, with a cookie). The model server starts over on each
//! new ISN; the oracle keeps nothing of the old connection but its pinholes' announcements.
//! It never checks admission itself (`World::control` does, on every segment).

use super::*;

/// A TFO option (kind 34) with an 8-byte cookie, after MSS and window scale.
const SYN_OPTIONS_WS: [u8; 20] = [
    2, 4, 5, 180, 1, 3, 3, 7, 34, 10, 0xC0, 0x0C, 0x1E, 0x5A, 0x11, 0x22, 0x33, 0x44, 1, 0,
];

/// Opens the control connection with the current ISNs; the client's SYN carries the first
/// `tfo` bytes of its script, with a TFO cookie option (kind 34) when `cookie`. Returns
/// whether both SYNs passed.
pub(crate) fn handshake(w: &mut World, tfo: usize, cookie: bool) -> bool {
    let options: &[u8] = match (w.wscale, tfo > 0 && cookie) {
        (true, true) => &SYN_OPTIONS_WS,
        (true, false) => &SYN_OPTIONS_WS[..8],
        (false, true) => &[
            2, 4, 5, 180, 34, 10, 0xC0, 0x0C, 0x1E, 0x5A, 0x11, 0x22, 0x33, 0x44,
        ],
        (false, false) => &SYN_OPTIONS_WS[..4],
    };
    let tfo = tfo.min(w.tx[0].len);
    w.tx[0].hwm = tfo;
    let mut payload = [0u8; 256];
    payload[..tfo].copy_from_slice(&w.tx[0].script[..tfo]);
    let (c_isn, s_isn) = (w.tx[0].isn, w.tx[1].isn);
    let spec = Spec {
        src: w.real(0),
        dst: w.view(1),
        seq: c_isn,
        ack: 0,
        flags: TCP_SYN,
        window: 65535,
        options,
        payload: &payload[..tfo],
        bad_checksum: false,
    };
    let client_syn = w.control(0, &spec);
    assert!(
        ignored(Oracle::SynOptions) || client_syn != Verdict::Drop(DropReason::MalformedTransport),
        "a well-formed SYN (MSS, window scale, TFO cookie: kind 34) was dropped as malformed"
    );
    // The server acknowledges what it received of the SYN's data (with a valid cookie, the
    // data is accepted; when the gateway kept it back, the client sends it again).
    let spec = Spec {
        src: w.real(1),
        dst: w.view(0),
        seq: s_isn,
        ack: w.rx[0].ack(),
        flags: TCP_SYN | TCP_ACK,
        options: if w.wscale {
            &SYN_OPTIONS_WS[..8]
        } else {
            &SYN_OPTIONS_WS[..4]
        },
        payload: &[],
        ..spec
    };
    let server_syn = w.control(1, &spec);
    if w.rx[0].ack() == c_isn.wrapping_add(1) {
        w.tx[0].hwm = 0; // the SYN's data did not arrive: it is sent again
    }
    pure_ack(
        w,
        0,
        &mut Input {
            data: &[0, 0],
            pos: 0,
        },
    );
    client_syn == Verdict::Accept && server_syn == Verdict::Accept
}

/// Both ends close with FIN, each acknowledging the other's, then the last ACK: the tuple is
/// in TIME_WAIT.
fn close_with_fins(w: &mut World) {
    let end = |w: &World, side: usize| {
        let t = &w.tx[side];
        t.isn.wrapping_add(1).wrapping_add(t.hwm as u32)
    };
    let (c_fin, s_fin) = (end(w, 0), end(w, 1));
    let segment = |w: &World, side: usize, seq: u32, ack: u32, flags: u8| Spec {
        src: w.real(side),
        dst: w.view(1 - side),
        seq,
        ack,
        flags,
        window: 29200,
        options: &[],
        payload: &[],
        bad_checksum: false,
    };
    let spec = segment(w, 0, c_fin, s_fin, TCP_FIN | TCP_ACK);
    w.control(0, &spec);
    let spec = segment(w, 1, s_fin, c_fin.wrapping_add(1), TCP_FIN | TCP_ACK);
    w.control(1, &spec);
    let spec = segment(w, 0, c_fin.wrapping_add(1), s_fin.wrapping_add(1), TCP_ACK);
    w.control(0, &spec);
}

/// Ends the control connection (or not) and opens a new one on the same 4-tuple with new
/// ISNs, maybe with data in the SYN.
pub(crate) fn reconnect(w: &mut World, inp: &mut Input<'_>) {
    let how = inp.u8();
    match how & 3 {
        0 => send(w, 0, 0, 0, 0x04, inp), // RST from the client
        1 => send(w, 1, 0, 0, 0x04, inp), // RST from the server
        2 => close_with_fins(w),
        _ => {} // a new SYN over a connection still open (a client that rebooted)
    }
    w.intents.archive(&w.tx[1]);
    for t in &mut w.tx {
        t.clear();
    }
    w.desync = [false; 2];
    let step = 0x0100_0000u32.wrapping_mul(u32::from(how >> 2) + 1);
    w.tx[0].isn = w.tx[0].isn.wrapping_add(step);
    w.tx[1].isn = w.tx[1].isn.wrapping_add(step ^ 0x0055_0000);
    let tfo = if how & 4 != 0 {
        let n = usize::from(inp.u8() % 128);
        let bytes = inp.bytes(n);
        w.tx[0].push(bytes);
        bytes.len()
    } else {
        0
    };
    let passed = handshake(w, tfo, how & 8 == 0);
    trace!("    reconnected (tfo {tfo} bytes): handshake passed {passed}");
}
