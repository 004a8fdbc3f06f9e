//! Compilation of the sections that only a running gateway uses: `interfaces` (what `run`
//! steers into its TUN device), `control` (the Unix socket of `ftpgate status`, `flows`,
//! `pinholes`, `reload`) and `metrics` (the Prometheus endpoint).
//!
//! Owns the checks of interface names, the socket path and the listen address. It looks at no
//! other section, opens nothing and resolves no name; the engine never sees these settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_saphyr::Spanned;

use super::compile::Cx;
use super::error::{ConfigError, Problem};
use super::schema::{InterfacesSpec, RuleFile};
use super::value::{Items, Scalar};

/// Where the control socket is when the rule file does not say.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/ftpgate/ftpgate.sock";

/// Host interfaces by the side they face.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interfaces {
    /// Facing the inside networks.
    pub inside: Vec<String>,
    /// Facing the outside.
    pub outside: Vec<String>,
}

impl Interfaces {
    /// Whether `run` steers anything (some interface is named).
    pub fn steer(&self) -> bool {
        !self.inside.is_empty() || !self.outside.is_empty()
    }
}

/// Steering, control and metrics settings of a running gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationsSettings {
    /// Interfaces `run` steers into the TUN device; none named: `run` steers nothing.
    pub interfaces: Interfaces,
    /// The control socket's path.
    pub control_socket: PathBuf,
    /// The metrics endpoint's address; `None`: no endpoint (the default).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for OperationsSettings {
    fn default() -> Self {
        Self {
            interfaces: Interfaces::default(),
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            metrics_listen: None,
        }
    }
}

/// The settings the file gives, defaults for what it omits.
pub(super) fn compile(cx: Cx<'_>, spec: &RuleFile) -> Result<OperationsSettings, ConfigError> {
    let mut out = OperationsSettings::default();
    if let Some(interfaces) = &spec.interfaces {
        out.interfaces = compile_interfaces(cx, interfaces)?;
    }
    if let Some(socket) = spec.control.as_ref().and_then(|c| c.socket.as_ref()) {
        out.control_socket = socket_path(cx, socket)?;
    }
    if let Some(listen) = spec.metrics.as_ref().and_then(|m| m.listen.as_ref()) {
        out.metrics_listen = Some(listen_address(cx, listen)?);
    }
    Ok(out)
}

fn compile_interfaces(cx: Cx<'_>, spec: &InterfacesSpec) -> Result<Interfaces, ConfigError> {
    let mut out = Interfaces::default();
    let mut seen: Vec<String> = Vec::new();
    for (value, target) in [
        (&spec.inside, &mut out.inside),
        (&spec.outside, &mut out.outside),
    ] {
        let Some(value) = value else { continue };
        for (scalar, at) in items(value) {
            let name = interface_name(scalar).ok_or_else(|| {
                cx.error(
                    at,
                    bad(format!(
                        "interface name {} is not valid (1-15 letters, digits, `-`, `_` or `.`)",
                        scalar.describe()
                    )),
                )
            })?;
            if seen.contains(&name) {
                return Err(cx.error(
                    at,
                    bad(format!("interface `{name}` is named twice in `interfaces`")),
                ));
            }
            seen.push(name.clone());
            target.push(name);
        }
    }
    Ok(out)
}

fn items(value: &Spanned<Items>) -> Vec<(&Scalar, serde_saphyr::Location)> {
    match &value.value {
        Items::One(scalar) => vec![(scalar, value.referenced)],
        Items::Many(list) => list.iter().map(|s| (&s.value, s.referenced)).collect(),
    }
}

fn bad(message: String) -> Problem {
    Problem::BadOperationsSetting(message)
}

/// A name Linux accepts for an interface.
fn interface_name(value: &Scalar) -> Option<String> {
    let Scalar::Text(text) = value else {
        return None;
    };
    let valid = (1..=15).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && text != "."
        && text != "..";
    valid.then(|| text.clone())
}

fn socket_path(cx: Cx<'_>, value: &Spanned<Scalar>) -> Result<PathBuf, ConfigError> {
    let at = value.referenced;
    match &value.value {
        // sun_path holds 108 bytes including the terminating NUL.
        Scalar::Text(text) if text.starts_with('/') && text.len() < 108 && !text.contains('\0') => {
            Ok(PathBuf::from(text))
        }
        other => Err(cx.error(
            at,
            bad(format!(
                "control socket {} must be an absolute path shorter than 108 bytes",
                other.describe()
            )),
        )),
    }
}

fn listen_address(cx: Cx<'_>, value: &Spanned<Scalar>) -> Result<SocketAddr, ConfigError> {
    let at = value.referenced;
    let parsed = match &value.value {
        Scalar::Text(text) => text.parse::<SocketAddr>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        cx.error(
            at,
            bad(format!(
                "metrics listen address {} must be ADDRESS:PORT (e.g. 127.0.0.1:9100 or \"[::1]:9100\")",
                value.value.describe()
            )),
        )
    })
}

#[cfg(test)]
mod test {
    use crate::config::{load_gateway_str, ConfigError, OperationsSettings};

    fn operations(text: &str) -> Result<OperationsSettings, ConfigError> {
        load_gateway_str("o.yaml", text).map(|gateway| gateway.operations)
    }

    #[test]
    fn defaults() {
        let out = operations("").unwrap();
        assert_eq!(out, OperationsSettings::default());
        assert!(!out.interfaces.steer());
        assert_eq!(out.metrics_listen, None);
    }

    #[test]
    fn values() {
        let out = operations(
            "interfaces:\n  inside: [eth1, eth2]\n  outside: eth0\ncontrol:\n  socket: /tmp/x.sock\nmetrics:\n  listen: 127.0.0.1:9100\n",
        )
        .unwrap();
        assert_eq!(out.interfaces.inside, ["eth1", "eth2"]);
        assert_eq!(out.interfaces.outside, ["eth0"]);
        assert_eq!(out.control_socket.to_str(), Some("/tmp/x.sock"));
        assert_eq!(out.metrics_listen.map(|a| a.port()), Some(9100));
        assert!(out.interfaces.steer());
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = |text: &str| operations(text).unwrap_err().to_string();
        let e = err("interfaces:\n  inside: [eth1, \"a/b\"]\n");
        assert!(e.starts_with("o.yaml:2:18: interface name `a/b`"), "{e}");
        let e = err("interfaces:\n  inside: eth1\n  outside: [eth1]\n");
        assert!(
            e.starts_with("o.yaml:3:13: interface `eth1` is named twice"),
            "{e}"
        );
        let e = err("control:\n  socket: relative.sock\n");
        assert!(e.starts_with("o.yaml:2:11: control socket"), "{e}");
        let e = err("metrics:\n  listen: 9100\n");
        assert!(e.starts_with("o.yaml:2:11: metrics listen address"), "{e}");
        let e = err("interfaces:\n  sides: eth0\n");
        assert!(e.starts_with("o.yaml:2:3:") && e.contains("sides"), "{e}");
    }
}
