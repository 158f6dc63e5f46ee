//! `State`: every namespace with its links, addresses, routes, sysctls, rules and sockets,
//! and `State::apply`, the one way to change it.
//!
//! Invariants (checked by the tests and the op-sequence property test):
//! - `apply` is atomic: each handler checks everything before it changes anything.
//! - A veth's peer record always points at a link that exists and points back.
//! - `Link::master` always names a bridge in the same namespace.
//! - Connected routes exist exactly for primary addresses (prefix < 32, not on `lo`) of
//!   links that are up.

mod addrs;
mod ipam;
mod links;
mod namespaces;
mod sockets;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::addr::{Cidr, Endpoint, IfAddr, Proto};
use crate::error::{ErrorKind, OpError};
use crate::ipam::HostLocal;
use crate::iptables::Ruleset;
use crate::names::{IfName, Mac, NetnsName};
use crate::op::{Effect, Op, SysctlKey};

pub use namespaces::{Iter as NamespacesIter, Namespaces};

/// The default MTU of a new bridge or veth (Ethernet).
pub const ETH_MTU: u32 = 1500;
/// The MTU of `lo`.
pub const LOOPBACK_MTU: u32 = 65536;
/// The smallest MTU an Ethernet device accepts (`ETH_MIN_MTU`).
pub const ETH_MIN_MTU: u32 = 68;
/// The largest MTU a veth or bridge accepts (`ETH_MAX_MTU`).
pub const ETH_MAX_MTU: u32 = 65535;

/// What kind of link.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum LinkKind {
    /// `lo`.
    Loopback,
    /// A Linux bridge.
    Bridge,
    /// One end of a veth pair.
    Veth {
        /// The namespace of the other end.
        peer_netns: NetnsName,
        /// The other end's name.
        peer: IfName,
    },
}

/// One network device.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Link {
    /// Its kind (and, for veths, its peer).
    pub kind: LinkKind,
    /// Administratively up (`ip link set up`).
    pub up: bool,
    /// The MTU.
    pub mtu: u32,
    /// The MAC address.
    pub mac: Mac,
    /// The bridge this link is a port of.
    pub master: Option<IfName>,
    /// Hairpin mode of a bridge port (frames may go back out the port they came in on).
    pub hairpin: bool,
    /// IPv4 addresses in the order they were added (primaries before their secondaries).
    pub addrs: Vec<IfAddr>,
    /// `net.ipv4.conf.<dev>.route_localnet`.
    pub route_localnet: bool,
    /// For bridges: the MTU was set by hand, so ports no longer adjust it.
    pub mtu_set_by_user: bool,
}

impl Link {
    fn new(kind: LinkKind, mac: Mac) -> Link {
        let mtu = if kind == LinkKind::Loopback { LOOPBACK_MTU } else { ETH_MTU };
        Link {
            kind,
            up: false,
            mtu,
            mac,
            master: None,
            hairpin: false,
            addrs: Vec::new(),
            route_localnet: false,
            mtu_set_by_user: false,
        }
    }

    /// Whether this is a bridge.
    pub fn is_bridge(&self) -> bool {
        self.kind == LinkKind::Bridge
    }
}

/// Where a route came from, as far as the model distinguishes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteProto {
    /// Added by the kernel for an address (`proto kernel scope link`).
    Kernel,
    /// Added by a command.
    Static,
}

/// A route of the main table.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct Route {
    /// Destination prefix.
    pub dst: Cidr,
    /// Gateway, if any.
    pub via: Option<Ipv4Addr>,
    /// Output device (resolved from the gateway when not given).
    pub dev: IfName,
    /// Preferred source address.
    pub src: Option<Ipv4Addr>,
    /// Kernel (connected) or static.
    pub proto: RouteProto,
}

/// A listening socket.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct Socket {
    /// tcp or udp.
    pub proto: Proto,
    /// The bound address and port (0.0.0.0 for any address).
    pub at: Endpoint,
}

/// One network namespace.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Netns {
    /// Links by name.
    pub links: BTreeMap<IfName, Link>,
    /// The main routing table, in insertion order.
    pub routes: Vec<Route>,
    /// `net.ipv4.ip_forward`.
    pub ip_forward: bool,
    /// `net.bridge.bridge-nf-call-iptables`.
    pub bridge_nf_call_iptables: bool,
    /// The filter and nat tables.
    pub firewall: Ruleset,
    /// Listening sockets.
    pub sockets: Vec<Socket>,
}

impl Netns {
    fn new() -> Netns {
        let lo = IfName::new("lo").unwrap_or_else(|_| unreachable!("valid name"));
        let mut links = BTreeMap::new();
        links.insert(lo, Link::new(LinkKind::Loopback, Mac([0; 6])));
        Netns {
            links,
            routes: Vec::new(),
            ip_forward: false,
            bridge_nf_call_iptables: true,
            firewall: Ruleset::default(),
            sockets: Vec::new(),
        }
    }

    /// A link by name.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(name)
    }

    /// Whether `ip` is an address of this namespace (the local table): any address on any
    /// link, up or down, or anything in 127.0.0.0/8 once `lo` holds 127.0.0.1/8.
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        self.local_link(ip).is_some()
    }

    /// The link holding local address `ip`, if any (for 127/8, `lo`).
    pub fn local_link(&self, ip: Ipv4Addr) -> Option<(&IfName, &Link)> {
        self.links.iter().find(|(_, l)| {
            l.addrs.iter().any(|a| {
                a.ip == ip
                    || (l.kind == LinkKind::Loopback && a.prefix < 32 && a.network().contains(ip))
            })
        })
    }

    /// The bridge ports of `bridge`.
    pub fn ports<'a>(&'a self, bridge: &'a str) -> impl Iterator<Item = (&'a IfName, &'a Link)> {
        self.links
            .iter()
            .filter(move |(_, l)| l.master.as_ref().is_some_and(|m| m.as_str() == bridge))
    }
}

/// The whole modeled world: namespaces by name.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct State {
    namespaces: Namespaces,
    ipam: BTreeMap<String, HostLocal>,
    generation: u64,
}

impl State {
    /// An empty world with no namespaces.
    pub fn new() -> State {
        State::default()
    }

    /// A namespace by name.
    pub fn netns(&self, name: &str) -> Option<&Netns> {
        self.namespaces.get(name)
    }

    /// Every namespace, by name (iterated in name order).
    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// The IPAM pools (host-local stores) by network name.
    pub fn ipam_pools(&self) -> &BTreeMap<String, HostLocal> {
        &self.ipam
    }

    /// A counter that changes on every successful `apply`, for caches built on the state.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Applies one op. Deterministic and atomic: on error the state is unchanged.
    pub fn apply(&mut self, op: &Op) -> Result<Effect, OpError> {
        let effect = self.apply_inner(op)?;
        self.generation += 1;
        Ok(effect)
    }

    fn apply_inner(&mut self, op: &Op) -> Result<Effect, OpError> {
        match op {
            Op::NetnsAdd { name } => self.netns_add(name),
            Op::NetnsDel { name } => self.netns_del(name),
            Op::BridgeAdd { netns, name, mac } => self.bridge_add(netns, name, *mac),
            Op::VethAdd { netns, name, mac, peer_netns, peer, peer_mac } => {
                self.veth_add(netns, name, *mac, peer_netns, peer, *peer_mac)
            }
            Op::LinkDel { netns, name } => self.link_del(netns, name),
            Op::LinkSet { netns, name, change } => self.link_set(netns, name, change),
            Op::AddrAdd { netns, dev, addr } => self.addr_add(netns, dev, *addr),
            Op::AddrDel { netns, dev, addr } => self.addr_del(netns, dev, *addr),
            Op::RouteAdd { netns, route } => self.route_add(netns, route),
            Op::RouteDel { netns, route } => self.route_del(netns, route),
            Op::Sysctl { netns, key, value } => self.sysctl(netns, key, *value),
            Op::Iptables { netns, table, cmd } => {
                self.ns_mut(netns)?.firewall.apply(*table, cmd).map(|()| Effect::Done)
            }
            Op::IpamAllocate { pool, subnet, gateway, id, ifname } => {
                self.ipam_allocate(pool, *subnet, *gateway, id, ifname)
            }
            Op::IpamRelease { pool, id, ifname } => self.ipam_release(pool, id, ifname),
            Op::Listen { netns, proto, at } => self.listen(netns, *proto, *at),
            Op::Close { netns, proto, at } => self.close(netns, *proto, *at),
        }
    }

    fn ns(&self, name: &NetnsName) -> Result<&Netns, OpError> {
        self.namespaces.get(name).ok_or_else(|| missing_netns(name))
    }

    fn ns_mut(&mut self, name: &NetnsName) -> Result<&mut Netns, OpError> {
        self.namespaces.get_mut(name).ok_or_else(|| missing_netns(name))
    }

    fn sysctl(
        &mut self,
        netns: &NetnsName,
        key: &SysctlKey,
        value: bool,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        match key {
            SysctlKey::IpForward => ns.ip_forward = value,
            SysctlKey::BridgeNfCallIptables => ns.bridge_nf_call_iptables = value,
            SysctlKey::RouteLocalnet(dev) => {
                let link = ns
                    .links
                    .get_mut(dev)
                    .ok_or_else(|| OpError::new(ErrorKind::NotFound, "set", key.name()))?;
                link.route_localnet = value;
            }
        }
        Ok(Effect::Done)
    }
}

fn missing_netns(name: &NetnsName) -> OpError {
    OpError::new(ErrorKind::NotFound, "find namespace", name)
}

fn missing_link(netns: &NetnsName, name: &IfName) -> OpError {
    OpError::new(ErrorKind::NotFound, "find", name).detail(format!("no such device in {netns}"))
}

#[cfg(test)]
mod tests;
