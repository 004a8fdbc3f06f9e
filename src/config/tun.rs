//! Compilation of the `tun` section into [`TunSettings`]: the device `ftpgate run` opens.
//!
//! Owns the interface-name check and the queue, MTU and queue-length bounds. It looks at no other section;
//! the engine never sees these settings.

use serde_saphyr::Spanned;

use super::compile::{whole_number, Bounds, Cx, MTU};
use super::error::{ConfigError, Problem};
use super::schema::TunSpec;
use super::value::Scalar;

/// The TUN device of a running gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunSettings {
    /// Interface name.
    pub name: String,
    /// Queues, one worker thread each (more than one opens a multi-queue device).
    pub queues: usize,
    /// Interface MTU.
    pub mtu: usize,
    /// Transmit queue length of the device: how many packets the kernel holds for the
    /// workers while they are busy or descheduled (the kernel's default of 500 overflows).
    pub txqueuelen: usize,
    /// Open the device with the virtio-net header and TSO/USO/checksum offloads, so the
    /// kernel hands over GSO super-packets and partial checksums.
    pub offload: bool,
}

impl Default for TunSettings {
    fn default() -> Self {
        Self {
            name: "ftg0".to_owned(),
            queues: 1,
            mtu: 1500,
            txqueuelen: 5000,
            offload: true,
        }
    }
}

/// `queues`: one per worker thread.
const QUEUES: Bounds = Bounds {
    key: "queues",
    min: 1,
    max: 16,
    unit: "",
    expected: "a whole number",
};

/// `txqueuelen`: packets the kernel queues for the device.
const TXQUEUELEN: Bounds = Bounds {
    key: "txqueuelen",
    min: 16,
    max: 1_000_000,
    unit: " packets",
    expected: "a whole number of packets",
};

/// The settings the section gives, defaults for the keys it omits.
pub(super) fn compile(cx: Cx<'_>, spec: &TunSpec) -> Result<TunSettings, ConfigError> {
    let mut out = TunSettings::default();
    if let Some(name) = &spec.name {
        out.name = interface_name(cx, name)?;
    }
    if let Some(value) = &spec.queues {
        out.queues = whole_number(cx, value, &QUEUES)?;
    }
    if let Some(value) = &spec.mtu {
        out.mtu = whole_number(cx, value, &MTU)?;
    }
    if let Some(value) = &spec.txqueuelen {
        out.txqueuelen = whole_number(cx, value, &TXQUEUELEN)?;
    }
    if let Some(offload) = spec.offload {
        out.offload = offload;
    }
    Ok(out)
}

fn interface_name(cx: Cx<'_>, value: &Spanned<Scalar>) -> Result<String, ConfigError> {
    let at = value.referenced;
    let text = match &value.value {
        Scalar::Text(text) => text.clone(),
        other => return Err(cx.error(at, Problem::BadInterfaceName(other.describe()))),
    };
    let valid = (1..=15).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && text != "."
        && text != "..";
    if valid {
        Ok(text)
    } else {
        Err(cx.error(at, Problem::BadInterfaceName(text)))
    }
}

#[cfg(test)]
mod test {
    use crate::config::{load_gateway_str, ConfigError};

    fn tun(text: &str) -> Result<super::TunSettings, ConfigError> {
        load_gateway_str("t.yaml", text).map(|gateway| gateway.tun)
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(tun("").unwrap(), super::TunSettings::default());
        let set = tun("tun:\n  name: lab-tun0\n  queues: 2\n  mtu: 9000\n").unwrap();
        assert_eq!(
            (set.name.as_str(), set.queues, set.mtu),
            ("lab-tun0", 2, 9000)
        );
        let set = tun("tun:\n  txqueuelen: 20000\n  offload: false\n").unwrap();
        assert_eq!((set.txqueuelen, set.offload), (20000, false));
        assert_eq!(
            (
                super::TunSettings::default().txqueuelen,
                super::TunSettings::default().offload
            ),
            (5000, true)
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = tun("tun:\n  name: a-name-far-too-long\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.yaml:2:9: tun name `a-name-far-too-long`"),
            "{err}"
        );
        let err = tun("tun:\n  queues: 0\n").unwrap_err().to_string();
        assert!(
            err.starts_with("t.yaml:2:11: `queues` must be from 1 to 16"),
            "{err}"
        );
        let err = tun("tun:\n  txqueuelen: 2\n").unwrap_err().to_string();
        assert!(
            err.starts_with("t.yaml:2:15: `txqueuelen` must be from 16 to 1000000"),
            "{err}"
        );
        let err = tun("tun:\n  offload: 1\n").unwrap_err().to_string();
        assert!(err.starts_with("t.yaml:2:"), "{err}");
        let err = tun("tun:\n  name: \"a/b\"\n").unwrap_err().to_string();
        assert!(err.starts_with("t.yaml:2:9:"), "{err}");
        let err = tun("tun:\n  device: x\n").unwrap_err().to_string();
        assert!(
            err.starts_with("t.yaml:2:3:") && err.contains("device"),
            "{err}"
        );
    }
}
