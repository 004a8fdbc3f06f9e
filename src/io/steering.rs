//! Steering: the policy routing that makes `ftpgate run` see the traffic it must handle, set
//! up over netlink (rtnetlink) from the rule file's `interfaces` section, and taken down
//! again when the gateway stops.
//!
//! What arrives on a named interface (inside or outside) with protocol TCP, UDP or ICMP is
//! routed into the TUN device by a table of its own, [`TABLE`], including traffic to the NAT
//! address (local delivery, the `local` rule at priority 0, moves behind the steering rules);
//! traffic from inside to the gateway's own inside addresses stays local; ARP (whose route
//! lookups carry no IP protocol) still finds the gateway's addresses local; every other
//! protocol is steered after local delivery. What ftpgate writes back into the TUN device
//! matches no `iif` rule and is routed by the main table. The sysctls this needs are set
//! (forwarding on, reverse-path filtering off on the interfaces, local sources accepted on
//! the TUN device) and restored at stop; their earlier values are kept on disk meanwhile
//! (`sysctl_state`), so that the next run or `ftpgate cleanup` restores them after a kill.
//!
//! Everything installed is tagged with the rule/route protocol [`PROTOCOL_TAG`] so that a
//! later run removes what a killed one left ([`Steering::install`] starts with that). Owns
//! only those rules and routes and the original `local` rule it moves; it never touches
//! packets, and its small tokio runtime lives only for the netlink exchanges at start and
//! stop.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::route::{RouteAttribute, RouteMessage, RouteProtocol, RouteScope};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::packet_route::IpProtocol;
use rtnetlink::{Handle, IpVersion, RouteMessageBuilder};

use crate::config::Interfaces;

/// The routing table that sends steered packets into the TUN device.
pub const TABLE: u32 = 26_471;
/// The rule and route protocol value that marks what ftpgate installed (`ip rule` shows it as
/// `proto 245`).
pub const PROTOCOL_TAG: u8 = 245;
/// Priority of the rules keeping inside traffic to the gateway's inside addresses local.
const PREF_LOCAL_INSIDE: u32 = 10_090;
/// Priority of the rule steering the ICMP errors the host itself sends to the NAT address
/// (about packets ftpgate forwarded after masquerading them) into the TUN device, so that
/// they reach the inside client translated.
const PREF_LOCAL_ICMP: u32 = 10_095;
/// First priority of the per-protocol steering rules (TCP, UDP, ICMP per interface).
const PREF_STEER: u32 = 10_100;
/// Where local delivery moves to.
const PREF_LOCAL: u32 = 10_200;
/// First priority of the catch-all steering rules (other protocols, per interface).
const PREF_STEER_REST: u32 = 10_300;
/// Most interfaces steered (three protocol rules each must fit below `PREF_LOCAL`).
pub const MAX_INTERFACES: usize = 32;
/// The kernel's `local` routing table.
const TABLE_LOCAL: u32 = 255;

/// Why steering could not be set up or removed.
#[derive(Debug, thiserror::Error)]
pub enum SteeringError {
    /// A netlink request failed.
    #[error("steering: {what}: {source}")]
    Netlink {
        /// What was being done.
        what: String,
        /// The netlink error.
        source: rtnetlink::Error,
    },
    /// The runtime or the netlink socket could not be created, or a sysctl not written.
    #[error("steering: {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A named interface does not exist.
    #[error("steering: interface `{0}` does not exist")]
    NoInterface(String),
    /// Too many interfaces named.
    #[error("steering: at most {MAX_INTERFACES} interfaces can be steered")]
    TooMany,
}

fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> SteeringError {
    let what = what.into();
    move |source| SteeringError::Netlink { what, source }
}

/// Installed steering; [`Steering::remove`] (or dropping it) takes it down.
pub struct Steering {
    runtime: tokio::runtime::Runtime,
    handle: Handle,
    /// Sysctl files written and the values they had.
    restore: Vec<(PathBuf, String)>,
    /// Where `restore` is kept on disk.
    state_file: PathBuf,
    removed: bool,
}

fn runtime() -> Result<(tokio::runtime::Runtime, Handle), SteeringError> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| SteeringError::Io { what, source }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(io("cannot start the netlink runtime"))?;
    let (connection, handle, _) = runtime
        .block_on(async { rtnetlink::new_connection() })
        .map_err(io("cannot open a netlink socket"))?;
    runtime.spawn(connection);
    Ok((runtime, handle))
}

impl Steering {
    /// Removes what an earlier run left, then steers `interfaces` into the TUN device `tun`.
    /// `nat_address` is the masquerade address, whose host-generated ICMP errors are steered
    /// too.
    pub fn install(
        interfaces: &Interfaces,
        tun: &str,
        nat_address: Option<Ipv4Addr>,
    ) -> Result<Self, SteeringError> {
        let names: Vec<&String> = interfaces
            .inside
            .iter()
            .chain(&interfaces.outside)
            .collect();
        if names.len() > MAX_INTERFACES {
            return Err(SteeringError::TooMany);
        }
        let (runtime, handle) = runtime()?;
        let state_file = super::sysctl_state::state_file();
        restore_leftover_sysctls(&state_file)?;
        let mut steering = Self {
            runtime,
            handle,
            restore: Vec::new(),
            state_file,
            removed: false,
        };
        let handle = steering.handle.clone();
        steering.runtime.block_on(remove_tagged(&handle))?;
        let mut sysctls = vec![
            ("net/ipv4/ip_forward".to_owned(), "1"),
            ("net/ipv4/conf/all/rp_filter".to_owned(), "0"),
            ("net/ipv4/conf/default/rp_filter".to_owned(), "0"),
            (format!("net/ipv4/conf/{tun}/rp_filter"), "0"),
            (format!("net/ipv4/conf/{tun}/accept_local"), "1"),
        ];
        for name in &names {
            sysctls.push((format!("net/ipv4/conf/{name}/rp_filter"), "0"));
        }
        let result = steering
            .runtime
            .block_on(install_rules(&handle, interfaces, tun, nat_address))
            .and_then(|()| steering.set_sysctls(&sysctls));
        if let Err(err) = result {
            if let Err(cleanup) = steering.remove_now() {
                tracing::error!(error = %cleanup, "removing the partial steering failed");
            }
            return Err(err);
        }
        tracing::info!(
            inside = ?interfaces.inside,
            outside = ?interfaces.outside,
            table = TABLE,
            "steering installed"
        );
        Ok(steering)
    }

    /// Removes what a run that could not stop cleanly (SIGKILL, a crash) left: every tagged
    /// rule and route, with local delivery put back at priority 0, and the sysctls it changed
    /// back to their earlier values.
    pub fn remove_leftovers() -> Result<(), SteeringError> {
        restore_leftover_sysctls(&super::sysctl_state::state_file())?;
        let (runtime, handle) = runtime()?;
        runtime.block_on(remove_tagged(&handle))
    }

    fn set_sysctls(&mut self, values: &[(String, &str)]) -> Result<(), SteeringError> {
        for (name, value) in values {
            let path = PathBuf::from("/proc/sys").join(name);
            let io = |source| SteeringError::Io {
                what: format!("cannot set {}", path.display()),
                source,
            };
            let old = std::fs::read_to_string(&path).map_err(io)?;
            self.restore.push((path.clone(), old.trim().to_owned()));
            // On disk before the change, so that a kill right after it loses nothing.
            super::sysctl_state::save(&self.state_file, &self.restore).map_err(|source| {
                SteeringError::Io {
                    what: format!("cannot write {}", self.state_file.display()),
                    source,
                }
            })?;
            std::fs::write(&path, value).map_err(io)?;
        }
        Ok(())
    }

    /// Takes the steering down: the rules and routes it installed, the `local` rule back at
    /// priority 0, the sysctls back to their earlier values.
    pub fn remove(mut self) -> Result<(), SteeringError> {
        self.remove_now()
    }

    fn remove_now(&mut self) -> Result<(), SteeringError> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        let handle = self.handle.clone();
        let rules = self.runtime.block_on(remove_tagged(&handle));
        // Restored in reverse, so a value written twice ends as it was first.
        for (path, old) in self.restore.drain(..).rev() {
            // The TUN device's own entries vanish with it.
            if path.exists() {
                if let Err(err) = std::fs::write(&path, &old) {
                    tracing::warn!(path = %path.display(), error = %err, "cannot restore sysctl");
                }
            }
        }
        if let Err(err) = super::sysctl_state::forget(&self.state_file) {
            tracing::warn!(path = %self.state_file.display(), error = %err, "cannot remove");
        }
        if rules.is_ok() {
            tracing::info!("steering removed");
        }
        rules
    }
}

impl Drop for Steering {
    fn drop(&mut self) {
        if let Err(err) = self.remove_now() {
            tracing::error!(error = %err, "removing the steering failed");
        }
    }
}

/// Puts back the sysctls a killed run left changed (none when it stopped cleanly).
fn restore_leftover_sysctls(state_file: &std::path::Path) -> Result<(), SteeringError> {
    let restored =
        super::sysctl_state::restore(state_file).map_err(|source| SteeringError::Io {
            what: format!("cannot restore the sysctls in {}", state_file.display()),
            source,
        })?;
    if restored > 0 {
        tracing::info!(restored, "sysctls a previous run changed are restored");
    }
    Ok(())
}

async fn link_index(handle: &Handle, name: &str) -> Result<u32, SteeringError> {
    let mut links = handle.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(link.header.index),
        Ok(None) | Err(rtnetlink::Error::NetlinkError(_)) => {
            Err(SteeringError::NoInterface(name.to_owned()))
        }
        Err(source) => Err(SteeringError::Netlink {
            what: format!("cannot look interface `{name}` up"),
            source,
        }),
    }
}

async fn ipv4_addresses(handle: &Handle, index: u32) -> Result<Vec<Ipv4Addr>, SteeringError> {
    let mut out = Vec::new();
    let mut addresses = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    while let Some(message) = addresses
        .try_next()
        .await
        .map_err(netlink("cannot list addresses"))?
    {
        for attribute in &message.attributes {
            if let AddressAttribute::Local(IpAddr::V4(addr)) = attribute {
                out.push(*addr);
            }
        }
    }
    Ok(out)
}

/// A rule to table `table`, tagged, at `priority`.
fn rule(handle: &Handle, table: u32, priority: u32) -> rtnetlink::RuleAddRequest<Ipv4Addr> {
    let mut request = handle
        .rule()
        .add()
        .v4()
        .table_id(table)
        .priority(priority)
        .action(RuleAction::ToTable);
    request
        .message_mut()
        .attributes
        .push(RuleAttribute::Protocol(RouteProtocol::from(PROTOCOL_TAG)));
    request
}

async fn install_rules(
    handle: &Handle,
    interfaces: &Interfaces,
    tun: &str,
    nat_address: Option<Ipv4Addr>,
) -> Result<(), SteeringError> {
    let tun_index = link_index(handle, tun).await?;
    let mut route = RouteMessageBuilder::<Ipv4Addr>::new()
        .table_id(TABLE)
        .output_interface(tun_index)
        .protocol(RouteProtocol::from(PROTOCOL_TAG))
        .build();
    route.header.scope = RouteScope::Link;
    handle
        .route()
        .add(route)
        .execute()
        .await
        .map_err(netlink(format!(
            "cannot add the default route via {tun} to table {TABLE}"
        )))?;
    for name in &interfaces.inside {
        let index = link_index(handle, name).await?;
        for addr in ipv4_addresses(handle, index).await? {
            rule(handle, TABLE_LOCAL, PREF_LOCAL_INSIDE)
                .input_interface(name.clone())
                .destination_prefix(addr, 32)
                .execute()
                .await
                .map_err(netlink(format!("cannot keep {addr} on {name} local")))?;
        }
    }
    if let Some(nat) = nat_address {
        // Locally generated packets match `iif lo`.
        let mut request = rule(handle, TABLE, PREF_LOCAL_ICMP)
            .input_interface("lo".to_owned())
            .destination_prefix(nat, 32);
        request
            .message_mut()
            .attributes
            .push(RuleAttribute::IpProtocol(IpProtocol::Icmp));
        request.execute().await.map_err(netlink(format!(
            "cannot steer the host's ICMP errors to {nat}"
        )))?;
    }
    let names = interfaces.inside.iter().chain(&interfaces.outside);
    for (position, name) in names.clone().enumerate() {
        link_index(handle, name).await?;
        let offset = u32::try_from(position).unwrap_or(0);
        for (slot, protocol) in [IpProtocol::Tcp, IpProtocol::Udp, IpProtocol::Icmp]
            .into_iter()
            .enumerate()
        {
            let mut request = rule(handle, TABLE, PREF_STEER + offset * 3 + slot as u32)
                .input_interface(name.clone());
            request
                .message_mut()
                .attributes
                .push(RuleAttribute::IpProtocol(protocol));
            request
                .execute()
                .await
                .map_err(netlink(format!("cannot steer {name} into {tun}")))?;
        }
        rule(handle, TABLE, PREF_STEER_REST + offset)
            .input_interface(name.clone())
            .execute()
            .await
            .map_err(netlink(format!("cannot steer {name} into {tun}")))?;
    }
    // Local delivery moves behind the steering: first its new place, then the old one goes.
    // A host whose `local` rule is not at priority 0 arranged local delivery itself: it is
    // left alone (and the moved rule's presence is what tells cleanup to restore priority 0).
    let originals: Vec<RuleMessage> = rules(handle)
        .await?
        .into_iter()
        .filter(is_original_local)
        .collect();
    if originals.is_empty() {
        tracing::warn!(
            "no `local` rule at priority 0: local delivery left as the host has it, so packets \
             for the NAT address reach ftpgate only if the host's rules send them there"
        );
        return Ok(());
    }
    rule(handle, TABLE_LOCAL, PREF_LOCAL)
        .execute()
        .await
        .map_err(netlink("cannot add the moved local rule"))?;
    for message in originals {
        handle
            .rule()
            .del(message)
            .execute()
            .await
            .map_err(netlink("cannot remove the local rule at priority 0"))?;
    }
    Ok(())
}

async fn rules(handle: &Handle) -> Result<Vec<RuleMessage>, SteeringError> {
    handle
        .rule()
        .get(IpVersion::V4)
        .execute()
        .try_collect()
        .await
        .map_err(netlink("cannot list the rules"))
}

fn rule_table(message: &RuleMessage) -> u32 {
    message
        .attributes
        .iter()
        .find_map(|a| match a {
            RuleAttribute::Table(table) => Some(*table),
            _ => None,
        })
        .unwrap_or(u32::from(message.header.table))
}

fn rule_priority(message: &RuleMessage) -> u32 {
    message
        .attributes
        .iter()
        .find_map(|a| match a {
            RuleAttribute::Priority(priority) => Some(*priority),
            _ => None,
        })
        .unwrap_or(0)
}

fn is_tagged_rule(message: &RuleMessage) -> bool {
    message
        .attributes
        .iter()
        .any(|a| matches!(a, RuleAttribute::Protocol(p) if u8::from(*p) == PROTOCOL_TAG))
}

/// The kernel's `0: from all lookup local`.
fn is_original_local(message: &RuleMessage) -> bool {
    rule_priority(message) == 0
        && rule_table(message) == TABLE_LOCAL
        && message.header.action == RuleAction::ToTable
        && !is_tagged_rule(message)
}

fn is_tagged_route(message: &RouteMessage) -> bool {
    let table = message
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(table) => Some(*table),
            _ => None,
        })
        .unwrap_or(u32::from(message.header.table));
    table == TABLE || u8::from(message.header.protocol) == PROTOCOL_TAG
}

/// Removes every tagged rule and route, putting local delivery back at priority 0 first when
/// a tagged rule had moved it (so no moment passes without it).
async fn remove_tagged(handle: &Handle) -> Result<(), SteeringError> {
    let current = rules(handle).await?;
    let tagged: Vec<RuleMessage> = current
        .iter()
        .filter(|m| is_tagged_rule(m))
        .cloned()
        .collect();
    let local_moved = tagged
        .iter()
        .any(|m| rule_table(m) == TABLE_LOCAL && rule_priority(m) == PREF_LOCAL);
    if local_moved && !current.iter().any(is_original_local) {
        let mut request = handle
            .rule()
            .add()
            .v4()
            .table_id(TABLE_LOCAL)
            .priority(0)
            .action(RuleAction::ToTable);
        request
            .message_mut()
            .attributes
            .push(RuleAttribute::Protocol(RouteProtocol::Kernel));
        request
            .execute()
            .await
            .map_err(netlink("cannot put the local rule back at priority 0"))?;
    }
    for message in tagged {
        handle
            .rule()
            .del(message)
            .execute()
            .await
            .map_err(netlink("cannot remove a steering rule"))?;
    }
    let routes: Vec<RouteMessage> = handle
        .route()
        .get(
            RouteMessageBuilder::<Ipv4Addr>::new()
                .table_id(TABLE)
                .build(),
        )
        .execute()
        .try_collect()
        .await
        .map_err(netlink("cannot list the routes"))?;
    for route in routes.into_iter().filter(is_tagged_route) {
        match handle.route().del(route).execute().await {
            // Gone meanwhile (its device went away): nothing left to remove.
            Ok(()) | Err(rtnetlink::Error::NetlinkError(_)) => {}
            Err(source) => {
                return Err(SteeringError::Netlink {
                    what: "cannot remove a steering route".into(),
                    source,
                })
            }
        }
    }
    Ok(())
}
