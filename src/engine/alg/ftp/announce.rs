//! Data-connection announcements (PORT / EPRT from the client, 227 / 229 from the server):
//! checked against the control connection and the rule file (data-port floor, FXP opt-in),
//! rewritten when the announcer is translated, and turned into exactly one pinhole each.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::check::Check;
use super::host::AlgHost;
use super::pinhole::{DataMode, Pinhole, PinholeKey};
use crate::engine::conntrack::{Flow, FlowDir};

/// Why an announcement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub Check);

/// An accepted announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The pinhole opened for it.
    pub key: PinholeKey,
    /// Its identity.
    pub id: u64,
    /// The address and port the line must carry instead, when they change.
    pub rewrite_to: Option<(IpAddr, u16)>,
}

/// What the session needs to know to open a pinhole.
pub struct Announcement<'a> {
    /// The engine (data ports, expectations, settings).
    pub host: &'a dyn AlgHost,
    /// The control connection.
    pub control: &'a Arc<Flow>,
    /// Engine time.
    pub now: Duration,
    /// Who announces: the client (active) or the server (passive).
    pub mode: DataMode,
    /// The announced address.
    pub addr: IpAddr,
    /// The announced port.
    pub port: u16,
}

impl Announcement<'_> {
    /// Checks the announcement and prepares its pinhole (the caller opens it). `Ok(None)`: a
    /// client's PORT / EPRT naming another host that the rule file allows (FXP); it passes
    /// unchanged and needs no pinhole here.
    pub fn accept(&self) -> Result<Option<(Accepted, Pinhole)>, Refusal> {
        let settings = &self.host.settings().ftp;
        let flow = self.control;
        // The announcer's own address before and after translation, and the peer that will
        // connect, as its packets reach the gateway.
        let (own, own_translated, peer) = match self.mode {
            DataMode::Active => (
                flow.original.src,
                flow.translated_key(FlowDir::Original).src,
                flow.reply.src,
            ),
            DataMode::Passive => (flow.reply.src, flow.original.dst, flow.original.src),
        };
        if self.port < settings.min_data_port {
            return Err(Refusal(Check::PrivilegedPort));
        }
        if self.addr.is_ipv4() != own.is_ipv4() {
            return Err(Refusal(Check::FamilyMismatch));
        }
        if self.addr != own {
            return match self.mode {
                DataMode::Active if settings.allow_fxp => Ok(None),
                DataMode::Active => Err(Refusal(Check::ForeignAddress)),
                DataMode::Passive => Err(Refusal(Check::ReplyRedirect)),
            };
        }
        let expires_at = self.now.saturating_add(settings.pinhole_timeout);
        let id = self.host.expectation_id();
        let control = Arc::downgrade(flow);
        let (key, pinhole, rewrite_to) = match (own, own_translated) {
            (IpAddr::V4(inside), IpAddr::V4(outside)) if inside != outside => {
                let outside_port = self
                    .host
                    .reserve_data_port((inside, self.port))
                    .map_err(|shortage| Refusal(Check::NoOutsidePort(shortage)))?;
                let key = PinholeKey {
                    src: peer,
                    dst: IpAddr::V4(outside),
                    dst_port: outside_port,
                };
                let pinhole = Pinhole {
                    id,
                    expires_at,
                    translate_to: Some((inside, self.port)),
                    binding: Some(outside_port),
                    mode: self.mode,
                    control,
                };
                let rewrite = (outside_port != self.port || inside != outside)
                    .then_some((IpAddr::V4(outside), outside_port));
                (key, pinhole, rewrite)
            }
            _ => {
                let key = PinholeKey {
                    src: peer,
                    dst: self.addr,
                    dst_port: self.port,
                };
                let pinhole = Pinhole {
                    id,
                    expires_at,
                    translate_to: None,
                    binding: None,
                    mode: self.mode,
                    control,
                };
                (key, pinhole, None)
            }
        };
        Ok(Some((
            Accepted {
                key,
                id,
                rewrite_to,
            },
            pinhole,
        )))
    }
}

impl Announcement<'_> {
    /// The pinhole for exactly what the line names, unchecked and untranslated: how a
    /// monitor (`on_violation: monitor`) follows an announcement it reported, so the data
    /// connection the endpoints make is the one logged.
    pub fn as_named(&self) -> (Accepted, Pinhole) {
        let peer = match self.mode {
            DataMode::Active => self.control.reply.src,
            DataMode::Passive => self.control.original.src,
        };
        let key = PinholeKey {
            src: peer,
            dst: self.addr,
            dst_port: self.port,
        };
        let id = self.host.expectation_id();
        let pinhole = Pinhole {
            id,
            expires_at: self.now + self.host.settings().ftp.pinhole_timeout,
            translate_to: None,
            binding: None,
            mode: self.mode,
            control: Arc::downgrade(self.control),
        };
        let accepted = Accepted {
            key,
            id,
            rewrite_to: None,
        };
        (accepted, pinhole)
    }
}
