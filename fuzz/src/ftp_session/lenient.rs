//! The lenient reading of the server -> client stream: every `h1,...,p2`, `(|||port|)` and
//! 229 number in any line the client received, a superset of what any client accepts. It
//! never decides alone: a passive credit also needs the model server's own announcement.

use super::*;

/// Every `h1,h2,h3,h4,p1,p2` (six consecutive comma-separated numbers, each <= 255) in `text`.
pub(crate) fn host_ports(text: &[u8], mut found: impl FnMut(Addr, u16)) {
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
pub(crate) fn numbers(text: &[u8], mut found: impl FnMut(u16)) {
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

/// The announcements in a line the client received (227 / 229, leniently).
pub(crate) fn server_line_credits(line: &[u8], credits: &mut Vec<Credit>) {
    server_line_ports(line, |port| {
        trace!("    delivered to the client: passive port {port}");
        credits.push(Credit {
            active: false,
            addr: [0; 4],
            port,
            used: false,
        });
    });
}

/// Every port a server line may announce (227 / 229, leniently).
pub(crate) fn server_line_ports(line: &[u8], mut push: impl FnMut(u16)) {
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
