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
mod bridge;
mod ipam;

pub use addrs::AddrScope;
pub use sysctls::DevConf;
mod links;
mod namespaces;
mod neigh;
mod policy;
mod routing;
mod sockets;
mod sysctls;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::addr::{Cidr, Endpoint, IfAddr, Proto};
use crate::error::{ErrorKind, OpError};
use crate::ipam::HostLocal;
use crate::iptables::Ruleset;
use crate::names::{IfName, Mac, NetnsName};
use crate::op::{AddrOpts, Effect, Op};

pub use namespaces::{Iter as NamespacesIter, Namespaces};
pub use policy::{Decision, RouteQuery, RoutingRule, RuleAction};

/// The default MTU of a new bridge or veth (Ethernet).
pub const ETH_MTU: u32 = 1500;
/// The MTU of `lo`.
pub const LOOPBACK_MTU: u32 = 65536;
/// The smallest MTU an Ethernet device accepts (`ETH_MIN_MTU`).
pub const ETH_MIN_MTU: u32 = 68;
/// The smallest MTU with which a device keeps its IPv4 configuration (`IPV4_MIN_MTU`);
/// `lo` accepts any MTU, and below this one loses its addresses.
pub const IPV4_MIN_MTU: u32 = 68;
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
    /// The addresses added with a broadcast address (`brd +`) or a label, and those.
    pub addr_opts: BTreeMap<IfAddr, AddrOpts>,
    /// `net.ipv4.conf.<dev>.*` (`sysctls`).
    pub conf: DevConf,
    /// For bridges: the MTU was set by hand, so ports no longer adjust it.
    pub mtu_set_by_user: bool,
    /// The link's place in its namespace's device list (the kernel lists devices in the
    /// order they were registered or moved in; `lo` first): where the kernel looks for a
    /// source address when a device has none of its own. Only the order matters.
    pub order: u64,
    /// Whether the link has IPv4 configuration at all (the kernel's `in_device`). Only
    /// `lo` can lose it: an MTU below 68 (`IPV4_MIN_MTU`) destroys it with every address
    /// and route of the link; an MTU of 68 or more brings back an empty one.
    pub ipv4: bool,
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
            addr_opts: BTreeMap::new(),
            conf: DevConf::default(),
            mtu_set_by_user: false,
            order: 0,
            ipv4: true,
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

/// A unicast route: packets to `dst` leave through `dev` (towards `via`).
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
    /// The routing table it is in (`main` unless `table N`).
    #[serde(skip_serializing_if = "RouteTable::is_main")]
    pub table: RouteTable,
    /// `metric N` (the kernel's priority): of two routes to one prefix, the lower wins.
    #[serde(skip_serializing_if = "is_zero")]
    pub metric: u32,
    /// `scope link` (a route without a gateway) or `global` (with one, or when asked).
    #[serde(skip_serializing_if = "RouteScope::is_global")]
    pub scope: RouteScope,
    /// `onlink`: the gateway is taken to be on the device's link, whatever its addresses.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub onlink: bool,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl Route {
    /// What identifies the route in its table: the kernel keeps one route per table,
    /// prefix, metric and nexthop device.
    pub fn id(&self) -> RouteId {
        RouteId { table: self.table, dst: self.dst, metric: self.metric, dev: self.dev.clone() }
    }
}

/// A route's identity (see `Route::id`), the key of the kernel's caches about it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct RouteId {
    /// The table.
    pub table: RouteTable,
    /// The prefix.
    pub dst: Cidr,
    /// The metric.
    pub metric: u32,
    /// The device.
    pub dev: IfName,
}

/// A routing table's number: `main` (254), `local` (255), `default` (253) or any other
/// from 1 to 2^32-1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(transparent)]
pub struct RouteTable(pub u32);

impl RouteTable {
    /// The main table, where routes go unless `table N` says otherwise.
    pub const MAIN: RouteTable = RouteTable(254);
    /// The local table: the namespace's own addresses and broadcasts.
    pub const LOCAL: RouteTable = RouteTable(255);
    /// The default table, empty unless filled by hand, looked up last.
    pub const DEFAULT: RouteTable = RouteTable(253);

    /// Whether this is the main table.
    pub fn is_main(&self) -> bool {
        *self == RouteTable::MAIN
    }

    /// Parses `main`, `local`, `default` or a number from 1 to 2^32-1.
    pub fn parse(s: &str) -> Result<RouteTable, String> {
        match s {
            "main" => Ok(RouteTable::MAIN),
            "local" => Ok(RouteTable::LOCAL),
            "default" => Ok(RouteTable::DEFAULT),
            _ => match s.parse::<u32>() {
                Ok(0) => Err("table 0 is not a table (the kernel takes it as main)".into()),
                Ok(n) => Ok(RouteTable(n)),
                Err(_) => Err(
                    "expected main, local, default or a number (names from rt_tables are not read)"
                        .into(),
                ),
            },
        }
    }
}

impl std::fmt::Display for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            RouteTable::MAIN => f.write_str("main"),
            RouteTable::LOCAL => f.write_str("local"),
            RouteTable::DEFAULT => f.write_str("default"),
            RouteTable(n) => write!(f, "{n}"),
        }
    }
}

/// The scope of a unicast route.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteScope {
    /// `scope global` (`universe`): through a gateway, or anywhere.
    Global,
    /// `scope link`: the destination is on the device's link.
    Link,
}

impl RouteScope {
    /// Whether this is `global`.
    pub fn is_global(&self) -> bool {
        *self == RouteScope::Global
    }
}

/// A route that sends nothing anywhere: the packet is discarded or refused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecialKind {
    /// `blackhole`: discarded silently (a local sender's call fails with EINVAL).
    Blackhole,
    /// `unreachable`: ICMP host unreachable (EHOSTUNREACH locally).
    Unreachable,
    /// `prohibit`: ICMP administratively prohibited (EACCES locally).
    Prohibit,
    /// `throw`: the lookup goes on with the next rule (net unreachable when none is left).
    Throw,
}

impl SpecialKind {
    /// The word `ip route` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialKind::Blackhole => "blackhole",
            SpecialKind::Unreachable => "unreachable",
            SpecialKind::Prohibit => "prohibit",
            SpecialKind::Throw => "throw",
        }
    }

    /// Parses the word.
    pub fn parse(s: &str) -> Option<SpecialKind> {
        [
            SpecialKind::Blackhole,
            SpecialKind::Unreachable,
            SpecialKind::Prohibit,
            SpecialKind::Throw,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A route of a special kind (`ip route add blackhole 10.9.0.0/16`): no device, no gateway.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct SpecialRoute {
    /// Destination prefix.
    pub dst: Cidr,
    /// What it does.
    pub kind: SpecialKind,
    /// The table.
    #[serde(skip_serializing_if = "RouteTable::is_main")]
    pub table: RouteTable,
    /// The metric.
    #[serde(skip_serializing_if = "is_zero")]
    pub metric: u32,
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
    /// The unicast routes of every table but `local`, in insertion order.
    pub routes: Vec<Route>,
    /// The blackhole, unreachable, prohibit and throw routes, in insertion order.
    pub special_routes: Vec<SpecialRoute>,
    /// The routing policy (`ip rule`), in priority order (rules of one priority in the
    /// order they were added): at first `0: lookup local`, `32766: lookup main` and
    /// `32767: lookup default`.
    pub rules: Vec<RoutingRule>,
    /// Whether the kernel still keeps its local and main tables in one tree, as it does
    /// until a rule is first added or deleted (and never again after): then a main route with a
    /// longer prefix wins over a local route of `lo`'s networks (see `local_route`).
    pub tables_merged: bool,
    /// `net.ipv4.conf.all.*` (its `forwarding` is `net.ipv4.ip_forward`).
    pub conf_all: DevConf,
    /// `net.ipv4.conf.default.*`: what new devices start with.
    pub conf_default: DevConf,
    /// `net.ipv4.ip_nonlocal_bind` (non-zero: on).
    pub ip_nonlocal_bind: u8,
    /// `net.ipv4.icmp_echo_ignore_all`.
    pub icmp_echo_ignore_all: bool,
    /// `net.bridge.bridge-nf-call-iptables`.
    pub bridge_nf_call_iptables: bool,
    /// The filter and nat tables.
    pub firewall: Ruleset,
    /// Listening sockets.
    pub sockets: Vec<Socket>,
    /// Whether the kernel has created the namespace's local routing table: it does so for
    /// the first IPv4 address (bringing `lo` up adds 127.0.0.1) and never removes it.
    /// Until then the kernel lets a socket bind any unicast address (its check of the
    /// address finds no table to look in).
    pub local_table: bool,
    /// The networks `lo` answers for as a whole (the kernel's `local` prefix routes on
    /// `lo`): those of its primary addresses with a prefix shorter than /32, added when
    /// `lo` is up (or comes up with the address on it), kept when `lo` goes down, removed
    /// with the address. While `lo` has never been up, only its exact addresses are local.
    pub lo_nets: Vec<Cidr>,
    /// The kernel's cached preferred source of each route without `src` (the nexthop's
    /// `nh_saddr`), by route: computed when the route is added and again
    /// after any address of the namespace changes (the kernel's `dev_addr_genid`; it
    /// recomputes at the route's next use, which the model takes to be at once). So
    /// `route_localnet` changed alone does not change the source such a route gives.
    pub route_src: BTreeMap<RouteId, Option<Ipv4Addr>>,
    /// The routes whose gateway was an address of the
    /// namespace when they were added: the kernel gave their nexthop host scope, so they
    /// send on-link, to the destination itself. The scope is fixed when the route is
    /// added: a gateway that becomes local later is still a gateway (see `next_hop`).
    /// Entries of routes that are gone may stay; adding a route sets its entry afresh.
    pub host_scope_gateways: BTreeSet<RouteId>,
    /// When each address was added (a `State`-wide count): of two links with the same
    /// address, the local route of the first one wins. Entries of addresses that are gone
    /// may stay; adding an address again renews its entry.
    pub addr_seq: BTreeMap<(IfName, IfAddr), u64>,
    /// Permanent neighbour entries by device and address (`ip neigh add ... nud
    /// permanent`), with their MAC.
    pub neighbours: BTreeMap<(IfName, Ipv4Addr), Mac>,
}

impl Netns {
    fn new() -> Netns {
        let lo = crate::static_name!(IfName, "lo");
        let mut links = BTreeMap::new();
        links.insert(lo, Link::new(LinkKind::Loopback, Mac([0; 6])));
        Netns {
            links,
            routes: Vec::new(),
            special_routes: Vec::new(),
            rules: RoutingRule::defaults(),
            tables_merged: true,
            conf_all: DevConf::default(),
            conf_default: DevConf::default(),
            ip_nonlocal_bind: 0,
            icmp_echo_ignore_all: false,
            bridge_nf_call_iptables: true,
            firewall: Ruleset::default(),
            sockets: Vec::new(),
            local_table: false,
            lo_nets: Vec::new(),
            route_src: BTreeMap::new(),
            host_scope_gateways: BTreeSet::new(),
            addr_seq: BTreeMap::new(),
            neighbours: BTreeMap::new(),
        }
    }

    /// A link by name.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(name)
    }
}

/// The whole modeled world: namespaces by name.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct State {
    namespaces: Namespaces,
    ipam: BTreeMap<String, HostLocal>,
    generation: u64,
    /// The next `Link::order` (links are numbered as they are created or moved).
    next_order: u64,
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

    /// The next number of the state-wide count that orders links in device lists
    /// (`Link::order`) and addresses by when they were added (`Netns::addr_seq`).
    fn take_order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
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
            Op::AddrAdd { netns, dev, addr, opts } => self.addr_add(netns, dev, *addr, opts),
            Op::AddrDel { netns, dev, addr } => self.addr_del(netns, dev, *addr),
            Op::AddrFlush { netns, dev } => self.addr_flush(netns, dev),
            Op::NeighAdd { netns, dev, ip, mac, replace } => {
                self.neigh_add(netns, dev, *ip, *mac, *replace)
            }
            Op::NeighDel { netns, dev, ip } => self.neigh_del(netns, dev, *ip),
            Op::RouteAdd { netns, route } => self.route_add(netns, route),
            Op::RouteDel { netns, route } => self.route_del(netns, route),
            Op::RouteReplace { netns, route } => self.route_replace(netns, route),
            Op::RuleAdd { netns, rule } => self.rule_add(netns, rule),
            Op::RuleDel { netns, rule } => self.rule_del(netns, rule),
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
}

fn missing_netns(name: &NetnsName) -> OpError {
    OpError::new(ErrorKind::NotFound, "find namespace", name)
}

fn missing_link(netns: &NetnsName, name: &IfName) -> OpError {
    OpError::new(ErrorKind::NotFound, "find", name).detail(format!("no such device in {netns}"))
}

#[cfg(test)]
mod tests;
