//! One fuzz input from start to end: settings from the first bytes, the handshake, the
//! operation loop, and the buffers reused between inputs. It must stay allocation-free per
//! input after the first (speed: thousands of inputs per second).

use super::*;

pub(crate) fn run(data: &[u8], scratch: Scratch) -> Scratch {
    let mut inp = Input { data, pos: 0 };
    let (cfg0, cfg1) = (inp.u8(), inp.u8());
    let settings = settings_for(cfg0, cfg1);
    let Scratch {
        packet,
        generated,
        mut tx,
        mut rx,
        mut credits,
        mut data,
        mut model,
        mut intents,
    } = scratch;
    for t in &mut tx {
        t.clear();
    }
    tx[0].isn = ISNS[usize::from(cfg1 & 3)];
    tx[1].isn = ISNS[usize::from((cfg1 >> 2) & 3)] ^ 0x5555;
    for r in &mut rx {
        r.reset();
    }
    credits.clear();
    data.clear();
    intents.clear();
    let layout = if cfg0 & 1 != 0 {
        SERVER_INSIDE
    } else {
        CLIENT_INSIDE
    };
    model.start(model_server::Setting {
        client: layout.c_view,
        client_translated: layout.c_view != layout.c_real,
        own: layout.s_real,
        allow_fxp: settings.ftp.allow_fxp,
        min_data_port: settings.ftp.min_data_port,
    });
    let mut w = World {
        min_data_port: settings.ftp.min_data_port,
        weak: cfg0 & 128 != 0,
        require_login: settings.ftp.require_login,
        maybe_logged_in: false,
        stopped_reading_now: false,
        engine: Engine::new(settings),
        layout,
        c_view_port: CLIENT_PORT,
        wscale: cfg1 & 16 != 0,
        now: Duration::from_secs(1000),
        packet,
        generated,
        sent: None,
        pinholes: 0,
        desync: [false; 2],
        tx,
        rx,
        credits,
        data,
        model,
        intents,
    };

    let passed = handshake(&mut w, 0, false);
    assert!(
        passed && w.rx[0].started && w.rx[1].started,
        "the control handshake did not pass"
    );

    let mut ops = 0;
    while !inp.done() && ops < MAX_OPS {
        ops += 1;
        let op = inp.u8();
        // Bytes 224.. are the operations added with the model server; below, each byte means
        // what it meant before (older reproducers keep their meaning).
        match if op >= 224 { op } else { op % 14 } {
            224..=239 => reconnect(&mut w, &mut inp),
            240..=255 => w.model.variant = model_server::Variant::from_byte(inp.u8()),
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
        generated,
        tx,
        rx,
        credits,
        data,
        model,
        intents,
        ..
    } = w;
    Scratch {
        packet,
        generated,
        tx,
        rx,
        credits,
        data,
        model,
        intents,
    }
}

/// Runs one fuzz input through the engine and every check; panics on a failed check.
pub fn check(data: &[u8]) {
    let scratch = SCRATCH
        .with(|s| s.borrow_mut().take())
        .unwrap_or_else(|| Scratch {
            packet: vec![0; PACKET].into_boxed_slice(),
            generated: vec![0; ftpgate::engine::MAX_GENERATED].into_boxed_slice(),
            tx: [Tx::new(), Tx::new()],
            rx: [Rx::new(), Rx::new()],
            credits: Vec::with_capacity(MAX_CREDITS),
            data: Vec::with_capacity(MAX_DATA),
            model: ModelServer::new(),
            intents: Intents::new(),
        });
    let scratch = run(data, scratch);
    SCRATCH.with(|s| *s.borrow_mut() = Some(scratch));
}
