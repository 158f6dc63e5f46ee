//! `observe`: the kernel's state of every sandbox namespace in the model's normalized
//! `Snapshot` form.
//!
//! Each namespace's worker reads its own state (link, address and route dumps, /proc/sys,
//! `iptables-save`, /proc/thread-self/net/{tcp,udp}) and the ids it gives the other sandbox
//! namespaces; all workers run at once. Then the pieces are put together by name.
//!
//! Normalization, following `nettwin_core::snapshot` (each rule is applied here, not left
//! to chance):
//! - links of kinds the model does not have (fallback tunnel devices that some kernel
//!   modules put into every namespace, such as `tunl0` or `sit0`) are left out;
//! - a veth's peer is named by (namespace, name): `IFLA_LINK_NETNSID` is mapped to a
//!   sandbox namespace with `RTM_GETNSID`, `IFLA_LINK` to a name in that namespace;
//! - IPv4 only; the routes of every table but `local`, of the types the model has
//!   (unicast, blackhole, unreachable, prohibit, throw; broadcast and the others are left
//!   out); `proto kernel` is kernel, every other protocol is static; link scope as dumped;
//! - the rules in the kernel's order, left out when they are a new namespace's three; a
//!   rule of a kind the model does not have fails the observation;
//! - iptables: `iptables-save` parsed by the model's parser and printed canonically
//!   (counters zeroed, default tables left out); a namespace where no iptables op ever ran
//!   has no tables in the kernel and reads as the default rule set without spawning;
//! - listening sockets are those the kernel lists in LISTEN (TCP) or bound and unconnected
//!   (UDP), whoever opened them.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use nettwin_core::addr::IfAddr;
use nettwin_core::backend::BackendError;
use nettwin_core::iptables::{Ruleset, parse_save};
use nettwin_core::names::{IfName, Mac, NetnsName};
use nettwin_core::op::AddrOpts;
use nettwin_core::snapshot::{LinkSnapshot, NeighSnapshot, NetnsSnapshot};
use nettwin_core::state::{
    LinkKind, Route, RouteProto, RouteScope, RoutingRule, Socket, SpecialRoute,
};

use crate::addrs::RawAddr;
use crate::links::{RawKind, RawLink};
use crate::neigh::RawNeigh;
use crate::netlink::{Netlink, NlError};
use crate::routes::RawRoute;

/// What one namespace's worker read.
#[derive(Debug)]
pub struct RawNetns {
    /// Links.
    pub links: Vec<RawLink>,
    /// Addresses.
    pub addrs: Vec<RawAddr>,
    /// Permanent neighbour entries.
    pub neighbours: Vec<RawNeigh>,
    /// Routes of every table but `local`.
    pub routes: Vec<RawRoute>,
    /// Rules in order (a rule the model cannot hold is its text).
    pub rules: Vec<Result<RoutingRule, String>>,
    /// Sysctls by dotted name.
    pub sysctls: Vec<(String, u8)>,
    /// `iptables-save` output, if iptables was ever used here.
    pub iptables: Option<String>,
    /// Listening sockets.
    pub sockets: Vec<Socket>,
    /// The id this namespace gives each other sandbox namespace (where it has one).
    pub nsids: Vec<(NetnsName, i32)>,
}

/// Why reading a namespace failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A netlink dump failed.
    #[error("{what}: {source}")]
    Netlink {
        /// What was being read.
        what: &'static str,
        /// Why.
        #[source]
        source: NlError,
    },
    /// A file or process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being read.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The id `peer` has as seen from the calling thread's namespace (`None` when unassigned).
pub fn nsid_of(nl: &mut Netlink, peer: &OwnedFd) -> Result<Option<i32>, NlError> {
    let mut m = NsidMessage::default();
    m.attributes.push(NsidAttribute::Fd(peer.as_raw_fd() as u32));
    match nl.get(RouteNetlinkMessage::GetNsId(m))? {
        RouteNetlinkMessage::NewNsId(m) => Ok(m.attributes.iter().find_map(|a| match a {
            NsidAttribute::Id(id) if *id >= 0 => Some(*id),
            _ => None,
        })),
        other => Err(NlError::Decode(format!("unexpected answer {other:?}"))),
    }
}

/// Reads one namespace. Runs on its worker; `others` are the other sandbox namespaces.
pub fn read_netns(
    nl: &mut Netlink,
    iptables_used: bool,
    others: &[(NetnsName, Arc<OwnedFd>)],
) -> Result<RawNetns, ReadError> {
    let nle = |what| move |source| ReadError::Netlink { what, source };
    let ioe = |what| move |source| ReadError::Io { what, source };
    // The link dump comes first: it assigns ids to the namespaces of veth peers.
    let links = crate::links::dump(nl).map_err(nle("link dump"))?;
    let addrs = crate::addrs::addr_dump(nl).map_err(nle("address dump"))?;
    let neighbours = crate::neigh::permanent(nl).map_err(nle("neighbour dump"))?;
    let routes = crate::routes::route_dump(nl).map_err(nle("route dump"))?;
    let rules = crate::rules::rule_dump(nl).map_err(nle("rule dump"))?;
    let mut nsids = Vec::new();
    if links.iter().any(|l| l.peer_nsid.is_some()) {
        for (name, fd) in others {
            if let Some(id) = nsid_of(nl, fd).map_err(nle("namespace id"))? {
                nsids.push((name.clone(), id));
            }
        }
    }
    let names: Vec<String> =
        links.iter().filter(|l| l.kind != RawKind::Other).map(|l| l.name.clone()).collect();
    let sysctls = crate::sysctl::snapshot(&names);
    let iptables = if iptables_used {
        Some(crate::iptables::save_with_counters().map_err(ioe("iptables-save"))?)
    } else {
        None
    };
    let sockets = crate::sockets::kernel_listeners().map_err(ioe("listening sockets"))?;
    Ok(RawNetns { links, addrs, neighbours, routes, rules, sysctls, iptables, sockets, nsids })
}

fn inconsistent(what: String) -> BackendError {
    BackendError::Io { context: "observe".into(), source: std::io::Error::other(what) }
}

fn if_name(s: &str) -> Result<IfName, BackendError> {
    IfName::new(s).map_err(|e| inconsistent(format!("the kernel reported a link {s:?}: {e}")))
}

/// Puts the namespaces' readings together into snapshots.
pub fn assemble(
    raw: &BTreeMap<NetnsName, RawNetns>,
) -> Result<BTreeMap<NetnsName, NetnsSnapshot>, BackendError> {
    let mut out = BTreeMap::new();
    for (ns, r) in raw {
        out.insert(ns.clone(), assemble_one(ns, r, raw)?);
    }
    Ok(out)
}

fn assemble_one(
    ns: &NetnsName,
    r: &RawNetns,
    all: &BTreeMap<NetnsName, RawNetns>,
) -> Result<NetnsSnapshot, BackendError> {
    let name_of = |idx: u32| r.links.iter().find(|l| l.index == idx).map(|l| l.name.as_str());
    let mut links = BTreeMap::new();
    for l in r.links.iter().filter(|l| l.kind != RawKind::Other) {
        let kind = match l.kind {
            RawKind::Loopback => LinkKind::Loopback,
            RawKind::Bridge => LinkKind::Bridge,
            _ => {
                let (peer_ns, peer_links) = match l.peer_nsid {
                    None => (ns.clone(), &r.links),
                    Some(id) => {
                        let peer_ns = r
                            .nsids
                            .iter()
                            .find(|(_, n)| *n == id)
                            .map(|(name, _)| name.clone())
                            .ok_or_else(|| {
                                inconsistent(format!(
                                    "{ns}/{}: its peer is in namespace id {id}, which is no sandbox namespace",
                                    l.name
                                ))
                            })?;
                        let links = all.get(&peer_ns).map(|p| &p.links).ok_or_else(|| {
                            inconsistent(format!(
                                "{ns}/{}: peer namespace {peer_ns} unread",
                                l.name
                            ))
                        })?;
                        (peer_ns, links)
                    }
                };
                let peer = l
                    .peer_index
                    .and_then(|i| peer_links.iter().find(|p| p.index == i))
                    .ok_or_else(|| {
                        inconsistent(format!("{ns}/{}: veth peer not found in {peer_ns}", l.name))
                    })?;
                LinkKind::Veth { peer_netns: peer_ns, peer: if_name(&peer.name)? }
            }
        };
        let master = match l.master {
            Some(i) => Some(if_name(name_of(i).unwrap_or("?"))?),
            None => None,
        };
        let mine = || r.addrs.iter().filter(|a| a.index == l.index);
        let mut addrs: Vec<IfAddr> = mine().map(|a| a.addr).collect();
        addrs.sort();
        let addr_opts = mine()
            .map(|a| {
                let label = a.label.clone().filter(|label| *label != l.name);
                (a.addr, AddrOpts { broadcast: a.broadcast, label })
            })
            .filter(|(_, o)| !o.is_default())
            .collect();
        let snap = LinkSnapshot {
            kind,
            up: l.up,
            mtu: l.mtu,
            mac: Mac(l.mac),
            hairpin: master.as_ref().map(|_| l.hairpin.unwrap_or(false)),
            master,
            addrs,
            addr_opts,
        };
        links.insert(if_name(&l.name)?, snap);
    }
    let mut neighbours = Vec::new();
    for n in &r.neighbours {
        let Some(dev) = name_of(n.index) else { continue };
        neighbours.push(NeighSnapshot { dev: if_name(dev)?, ip: n.ip, mac: Mac(n.mac) });
    }
    neighbours.sort();
    let mut routes = Vec::new();
    let mut special_routes = Vec::new();
    for rt in &r.routes {
        if let Some(kind) = rt.kind {
            special_routes.push(SpecialRoute {
                dst: rt.dst,
                kind,
                table: rt.table,
                metric: rt.metric,
            });
            continue;
        }
        let Some(dev) = rt.oif.and_then(name_of) else { continue };
        routes.push(Route {
            dst: rt.dst,
            via: rt.via,
            dev: if_name(dev)?,
            src: rt.src,
            proto: if rt.kernel { RouteProto::Kernel } else { RouteProto::Static },
            table: rt.table,
            metric: rt.metric,
            scope: if rt.link_scope { RouteScope::Link } else { RouteScope::Global },
            onlink: rt.onlink,
        });
    }
    routes.sort();
    special_routes.sort();
    let rules = r
        .rules
        .iter()
        .cloned()
        .collect::<Result<Vec<RoutingRule>, String>>()
        .map_err(|rule| inconsistent(format!("{ns}: a rule the model cannot hold: {rule}")))?;
    let iptables = match &r.iptables {
        None => Ruleset::default().to_string(),
        Some(text) => parse_save(text)
            .map_err(|e| inconsistent(format!("{ns}: iptables-save did not parse: {e}")))?
            .to_string(),
    };
    Ok(NetnsSnapshot {
        links,
        routes,
        special_routes,
        rules: nettwin_core::snapshot::normalized_rules(&rules),
        sysctls: r.sysctls.iter().cloned().collect(),
        iptables,
        sockets: r.sockets.clone(),
        neighbours,
    })
}
