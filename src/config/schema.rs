//! The rule file's shape, one serde struct per YAML mapping.
//!
//! Owns the mirror of the YAML: which keys exist, which are required, which words a choice
//! accepts. Every struct denies unknown keys. Values that need checking beyond their shape are
//! kept raw and wrapped in `Spanned` so the compiler can point at them; nothing here validates
//! meaning or builds engine types (that is `compile`'s job).

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::value::{Items, Scalar};

/// A whole rule file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Inside networks: one CIDR or a list.
    pub inside: Option<Spanned<Items>>,
    /// The IPv4 masquerade / forward address.
    pub outside_address: Option<Spanned<Scalar>>,
    /// Ports the masquerade may allocate: a number or `"FIRST-LAST"`.
    pub nat_ports: Option<Spanned<Scalar>>,
    /// Static port forwards, in file order.
    pub forwards: Option<Vec<Spanned<ForwardSpec>>>,
    /// Per-direction default actions.
    pub policy: Option<PolicySpec>,
    /// Filter rules, first match wins.
    pub rules: Option<Vec<Spanned<RuleSpec>>>,
    /// Idle timeouts.
    pub timeouts: Option<TimeoutsSpec>,
    /// Table sizes and switches.
    pub limits: Option<LimitsSpec>,
    /// The FTP application-layer gateway.
    pub ftp: Option<FtpSpec>,
    /// The TUN device `ftpgate run` opens.
    pub tun: Option<TunSpec>,
}

/// The `tun` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunSpec {
    /// Interface name.
    pub name: Option<Spanned<Scalar>>,
    /// Number of queues (one worker thread each).
    pub queues: Option<Spanned<Scalar>>,
    /// Interface MTU.
    pub mtu: Option<Spanned<Scalar>>,
}

/// One entry of `forwards`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardSpec {
    /// Protocol forwarded.
    pub proto: ForwardProtoSpec,
    /// Outside port or `"FIRST-LAST"` range.
    pub port: Spanned<Scalar>,
    /// `"ADDR:PORT"` or `"ADDR"` (same port as outside).
    pub to: Spanned<Scalar>,
}

/// `proto` of a forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardProtoSpec {
    /// `tcp`
    Tcp,
    /// `udp`
    Udp,
}

/// The `policy` mapping.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Default for new outbound flows.
    pub outbound: Option<ActionSpec>,
    /// Default for new inbound flows.
    pub inbound: Option<ActionSpec>,
}

/// An action word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionSpec {
    /// `accept`
    Accept,
    /// `drop`
    Drop,
    /// `reject`
    Reject,
}

/// A direction word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectionSpec {
    /// `inbound`
    Inbound,
    /// `outbound`
    Outbound,
    /// `any`
    Any,
}

/// A rule's protocol word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleProtoSpec {
    /// `tcp`
    Tcp,
    /// `udp`
    Udp,
    /// `icmp`
    Icmp,
    /// `any`
    Any,
}

/// One entry of `rules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Direction matched (default any).
    pub direction: Option<DirectionSpec>,
    /// Protocol matched (default any).
    pub proto: Option<RuleProtoSpec>,
    /// Source networks: one CIDR or a list.
    pub src: Option<Spanned<Items>>,
    /// Destination networks: one CIDR or a list.
    pub dst: Option<Spanned<Items>>,
    /// Source ports: a port, a range, or a list of those.
    pub src_ports: Option<Spanned<Items>>,
    /// Destination ports: a port, a range, or a list of those.
    pub dst_ports: Option<Spanned<Items>>,
    /// What to do with a match (required).
    pub action: ActionSpec,
    /// Log matches (default false).
    pub log: Option<bool>,
}

/// The `timeouts` mapping: each a number of seconds or a duration string.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsSpec {
    /// TCP SYN sent.
    pub tcp_syn_sent: Option<Spanned<Scalar>>,
    /// TCP SYN/ACK seen.
    pub tcp_syn_recv: Option<Spanned<Scalar>>,
    /// TCP established.
    pub tcp_established: Option<Spanned<Scalar>>,
    /// TCP one FIN seen.
    pub tcp_fin_wait: Option<Spanned<Scalar>>,
    /// TCP FIN acknowledged, other side open.
    pub tcp_close_wait: Option<Spanned<Scalar>>,
    /// TCP last ACK outstanding.
    pub tcp_last_ack: Option<Spanned<Scalar>>,
    /// TCP both FINs acknowledged.
    pub tcp_time_wait: Option<Spanned<Scalar>>,
    /// TCP reset seen.
    pub tcp_close: Option<Spanned<Scalar>>,
    /// UDP one way only.
    pub udp_unreplied: Option<Spanned<Scalar>>,
    /// UDP both ways.
    pub udp_replied: Option<Spanned<Scalar>>,
    /// ICMP queries.
    pub icmp: Option<Spanned<Scalar>>,
}

/// The `limits` mapping.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Most flows tracked at once.
    pub max_flows: Option<Spanned<Scalar>>,
    /// Track TCP flows first seen mid-connection.
    pub tcp_pickup: Option<bool>,
}

/// The `ftp` mapping: how the FTP ALG finds control connections and opens data connections.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpSpec {
    /// Control ports: one port or a list; an empty list turns the ALG off.
    pub control_ports: Option<Spanned<Items>>,
    /// How long an announced data connection may take to arrive: seconds or a duration string.
    pub pinhole_timeout: Option<Spanned<Scalar>>,
    /// Most pinholes open at once per control connection.
    pub max_pinholes: Option<Spanned<Scalar>>,
    /// Longest command or reply line followed, in bytes.
    pub max_line: Option<Spanned<Scalar>>,
    /// Largest IP packet a rewrite may produce, in bytes.
    pub mtu: Option<Spanned<Scalar>>,
    /// Lowest data port an announcement may name.
    pub min_data_port: Option<Spanned<Scalar>>,
    /// Let a client's PORT / EPRT name another host (FXP).
    pub allow_fxp: Option<bool>,
    /// Refuse announcements until the server has accepted a login.
    pub require_login: Option<bool>,
    /// What happens to a control connection that asks for TLS.
    pub tls: Option<TlsSpec>,
    /// What a violation does to the control connection.
    pub on_violation: Option<ViolationSpec>,
    /// What happens to a control connection that is not FTP.
    pub non_ftp: Option<NonFtpSpec>,
    /// Rewrite an outside server's private 227 address to its control address.
    pub fix_pasv_address: Option<bool>,
}

/// The `non_ftp` word of the `ftp` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NonFtpSpec {
    /// `pass`
    Pass,
    /// `reset`
    Reset,
}

/// The `tls` word of the `ftp` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsSpec {
    /// `pass_blind`
    PassBlind,
    /// `block`
    Block,
}

/// The `on_violation` word of the `ftp` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViolationSpec {
    /// `reply`
    Reply,
    /// `reset`
    Reset,
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn empty_document_is_all_defaults() {
        let file: RuleFile = match serde_saphyr::from_str("# nothing\n") {
            Ok(file) => file,
            Err(err) => panic!("{err}"),
        };
        assert!(file.inside.is_none() && file.rules.is_none() && file.limits.is_none());
    }

    #[test]
    fn rule_words_deserialize() {
        let yaml = "rules:\n  - direction: inbound\n    proto: icmp\n    action: reject\n";
        let file: RuleFile = match serde_saphyr::from_str(yaml) {
            Ok(file) => file,
            Err(err) => panic!("{err}"),
        };
        let rules = file.rules.unwrap_or_default();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].value.direction, Some(DirectionSpec::Inbound));
        assert_eq!(rules[0].value.proto, Some(RuleProtoSpec::Icmp));
        assert_eq!(rules[0].value.action, ActionSpec::Reject);
        assert_eq!(rules[0].referenced.line(), 2);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(serde_saphyr::from_str::<RuleFile>("alg: {}\n").is_err());
        assert!(serde_saphyr::from_str::<RuleFile>("limits:\n  max_flow: 1\n").is_err());
        assert!(serde_saphyr::from_str::<RuleFile>("ftp:\n  enabled: true\n").is_err());
    }

    #[test]
    fn ftp_section_deserializes() {
        let yaml = "ftp:\n  control_ports: [21, 2121]\n  pinhole_timeout: 2m\n  mtu: 1400\n";
        let file: RuleFile = match serde_saphyr::from_str(yaml) {
            Ok(file) => file,
            Err(err) => panic!("{err}"),
        };
        let ftp = file.ftp.unwrap_or_default();
        assert!(matches!(
            ftp.control_ports.map(|p| p.value),
            Some(Items::Many(list)) if list.len() == 2
        ));
        assert_eq!(
            ftp.pinhole_timeout.map(|t| t.value),
            Some(Scalar::Text("2m".into()))
        );
        assert_eq!(ftp.mtu.map(|m| m.value), Some(Scalar::Int(1400)));
        assert!(ftp.max_pinholes.is_none() && ftp.max_line.is_none());
        assert!(ftp.tls.is_none() && ftp.on_violation.is_none() && ftp.allow_fxp.is_none());
        let empty: RuleFile = match serde_saphyr::from_str("ftp: {}\n") {
            Ok(file) => file,
            Err(err) => panic!("{err}"),
        };
        assert!(empty.ftp.is_some());
    }

    #[test]
    fn ftp_words_deserialize() {
        let yaml = "ftp:\n  tls: pass_blind\n  on_violation: reset\n  allow_fxp: true\n";
        let file: RuleFile = match serde_saphyr::from_str(yaml) {
            Ok(file) => file,
            Err(err) => panic!("{err}"),
        };
        let ftp = file.ftp.unwrap_or_default();
        assert_eq!(ftp.tls, Some(TlsSpec::PassBlind));
        assert_eq!(ftp.on_violation, Some(ViolationSpec::Reset));
        assert_eq!(ftp.allow_fxp, Some(true));
        assert!(ftp.require_login.is_none());
        let block: RuleFile = match serde_saphyr::from_str("ftp: {tls: block}\n") {
            Ok(file) => file,
            Err(err) => panic!("{err}"),
        };
        assert_eq!(block.ftp.and_then(|f| f.tls), Some(TlsSpec::Block));
    }
}
