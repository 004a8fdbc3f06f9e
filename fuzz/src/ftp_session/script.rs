//! Each end's script: the bytes it sends, in order, as the fuzzer and the model server wrote
//! them, plus which of them the sender wrote itself (not echoed from its peer). It never
//! decides what is sent when (the operations do).

use super::*;

/// What an echoed byte reads as in `Tx::own`: not a digit, not a delimiter.
const ECHOED: u8 = b'~';

/// One end of the control connection as a sender.
pub(crate) struct Tx {
    pub(crate) isn: u32,
    pub(crate) script: Box<[u8]>,
    pub(crate) len: usize,
    /// Highest stream offset sent so far.
    pub(crate) hwm: usize,
    /// Offsets first sent with a changed byte, and that byte (every other byte went out first
    /// as the script has it).
    pub(crate) changed: Vec<(usize, u8)>,
    /// The script with every byte echoed from the peer masked (`ECHOED`): what the sender
    /// itself wrote, where the oracle looks for the server's own announcements.
    pub(crate) own: Box<[u8]>,
}

impl Tx {
    pub(crate) fn new() -> Self {
        Self {
            isn: 0,
            script: vec![0; SCRIPT].into_boxed_slice(),
            len: 0,
            hwm: 0,
            changed: Vec::with_capacity(MAX_OPS),
            own: vec![0; SCRIPT].into_boxed_slice(),
        }
    }

    /// An empty script (a new input, or a new connection).
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.changed.clear();
        self.hwm = 0;
    }

    /// Appends bytes the sender writes itself.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(SCRIPT - self.len);
        self.script[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.own[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Appends bytes the sender echoes from its peer (a server's 500 / 257 replies).
    pub(crate) fn push_echo(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(SCRIPT - self.len);
        self.script[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.own[self.len..self.len + n].fill(ECHOED);
        self.len += n;
    }

    /// Every port the sender's own bytes may announce (read as a server's lines, leniently),
    /// appended to `ports`.
    /// Bytes it sent changed on purpose (`ops::send`) count as its own too.
    pub(crate) fn own_ports(&self, ports: &mut Vec<u16>) {
        for line in self.own[..self.len].split(|&b| b == b'\n') {
            server_line_ports(line, |port| ports.push(port));
        }
        if !self.changed.is_empty() {
            let mut changed = self.own[..self.len].to_vec();
            for &(at, byte) in &self.changed {
                if at < changed.len() && changed[at] != ECHOED {
                    changed[at] = byte;
                }
            }
            for line in changed.split(|&b| b == b'\n') {
                server_line_ports(line, |port| ports.push(port));
            }
        }
    }

    pub(crate) fn push_num(&mut self, mut v: u32) {
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

    pub(crate) fn push_host_port(&mut self, addr: Addr, port: u16) {
        for (i, part) in addr.iter().chain(&port.to_be_bytes()).enumerate() {
            if i > 0 {
                self.push(b",");
            }
            self.push_num(u32::from(*part));
        }
    }

    pub(crate) fn push_quad(&mut self, addr: Addr) {
        for (i, part) in addr.iter().enumerate() {
            if i > 0 {
                self.push(b".");
            }
            self.push_num(u32::from(*part));
        }
    }
}
