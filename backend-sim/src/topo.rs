//! Derived topology indexes, rebuilt when the state changes: each namespace's local
//! addresses (the local routing table) and, for each bridge, which port leads to the owner
//! of an address (what the bridge's forwarding database holds once ARP has been answered).
//!
//! Both are pure functions of the `State`; they exist so that a trace through a host with
//! thousands of ports costs a few map lookups instead of scans.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use nettwin_core::addr::Cidr;
use nettwin_core::iptables::Ruleset;
use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::state::{Decision, Link, LinkKind, Netns, RouteQuery, State};
use rustc_hash::FxBuildHasher;

/// How deep the search for an ARP answer goes through bridges chained by veths.
const MAX_BRIDGE_DEPTH: u32 = 4;

/// A hash map that is looked up, never iterated (so its order cannot leak into output),
/// with rustc-hash's seedless FxHash: names are short, and hashing one costs less than the
/// string comparisons of a B-tree search through thousands of them.
pub type LookupMap<K, V> = HashMap<K, V, FxBuildHasher>;

/// The indexes of every namespace.
#[derive(Debug, Default)]
pub struct Topo {
    namespaces: LookupMap<NetnsName, NsTopo>,
}

/// The indexes of one namespace.
#[derive(Debug)]
pub struct NsTopo {
    /// Every address of every link, up or down, with its link.
    local: BTreeMap<Ipv4Addr, IfName>,
    /// The networks `lo` answers for as a whole (`Netns::lo_nets`).
    loopback_nets: Vec<Cidr>,
    /// For each bridge: the port behind which each address is answered, and by whom.
    bridges: LookupMap<IfName, BridgeIndex>,
    /// The links, for lookup by name (a copy of the state's).
    links: LookupMap<IfName, Link>,
    /// The namespace without its rules (which `netfilter` compiles): routes, sockets,
    /// sysctls and links, copied so that a walk never searches the state's map of
    /// namespaces.
    netns: Netns,
}

/// What a bridge's forwarding database holds once ARP has been answered: for each address,
/// the port behind which it is answered and the namespace that answers.
#[derive(Debug, Default)]
struct BridgeIndex {
    /// Addresses assigned behind a port.
    exact: BTreeMap<Ipv4Addr, (IfName, NetnsName)>,
    /// Networks a `lo` behind a port answers for as a whole (`Netns::lo_nets`).
    nets: Vec<(Cidr, IfName, NetnsName)>,
}

/// Who answers ARP for an address on a bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L2Owner {
    /// The bridge's own IP stack (the address is local to the bridge's namespace).
    Local,
    /// A namespace behind this port.
    Port {
        /// The bridge port.
        port: IfName,
        /// The namespace that answers.
        owner: NetnsName,
    },
}

impl Topo {
    /// Builds the indexes of `state`.
    pub fn build(state: &State) -> Topo {
        let namespaces = state
            .namespaces()
            .iter()
            .map(|(name, ns)| (name.clone(), NsTopo::build(state, ns)))
            .collect();
        Topo { namespaces }
    }

    /// One namespace's indexes with the name as the index holds it, if it exists.
    pub fn get(&self, name: &NetnsName) -> Option<(&NetnsName, &NsTopo)> {
        self.namespaces.get_key_value(name)
    }

    /// One namespace's indexes (empty ones for an unknown namespace).
    pub fn ns(&self, name: &(impl AsRef<str> + ?Sized)) -> &NsTopo {
        let name = name.as_ref();
        static EMPTY: std::sync::OnceLock<NsTopo> = std::sync::OnceLock::new();
        self.namespaces.get(name).unwrap_or_else(|| EMPTY.get_or_init(NsTopo::empty))
    }
}

impl NsTopo {
    /// The indexes of a namespace with nothing in it.
    pub fn empty() -> NsTopo {
        NsTopo::build(&State::new(), &empty_netns())
    }

    fn build(state: &State, ns: &Netns) -> NsTopo {
        let mut local = BTreeMap::new();
        for (name, link) in &ns.links {
            for a in &link.addrs {
                local.entry(a.ip).or_insert_with(|| name.clone());
            }
        }
        let loopback_nets = ns.lo_nets.clone();
        let mut bridges = LookupMap::default();
        for (name, link) in ns.links.iter().filter(|(_, l)| l.is_bridge()) {
            let mut index = BridgeIndex::default();
            if link.up {
                for (port, plink) in ns.ports(name.as_str()) {
                    for (owner, onet) in reachable_behind(state, plink, MAX_BRIDGE_DEPTH) {
                        for a in onet.links.values().flat_map(|l| &l.addrs) {
                            if !a.ip.is_loopback() {
                                index
                                    .exact
                                    .entry(a.ip)
                                    .or_insert_with(|| (port.clone(), owner.clone()));
                            }
                        }
                        for net in onet.lo_nets.iter().filter(|n| !n.ip().is_loopback()) {
                            index.nets.push((*net, port.clone(), owner.clone()));
                        }
                    }
                }
            }
            bridges.insert(name.clone(), index);
        }
        let links = ns.links.iter().map(|(n, l)| (n.clone(), l.clone())).collect();
        let netns = Netns {
            links: ns.links.clone(),
            routes: ns.routes.clone(),
            special_routes: ns.special_routes.clone(),
            rules: ns.rules.clone(),
            tables_merged: ns.tables_merged,
            conf_all: ns.conf_all,
            conf_default: ns.conf_default,
            ip_nonlocal_bind: ns.ip_nonlocal_bind,
            icmp_echo_ignore_all: ns.icmp_echo_ignore_all,
            bridge_nf_call_iptables: ns.bridge_nf_call_iptables,
            firewall: Ruleset::default(),
            sockets: ns.sockets.clone(),
            local_table: ns.local_table,
            lo_nets: ns.lo_nets.clone(),
            route_src: ns.route_src.clone(),
            host_scope_gateways: ns.host_scope_gateways.clone(),
            addr_seq: ns.addr_seq.clone(),
            neighbours: ns.neighbours.clone(),
        };
        NsTopo { local, loopback_nets, bridges, links, netns }
    }

    /// The routing decision for `q` (`Netns::decide`, with this index answering the
    /// local-table lookups).
    pub fn decide(&self, q: &RouteQuery<'_>) -> Decision<'_> {
        self.netns.decide_with(q, |ip| self.is_local(ip))
    }

    /// The namespace (routes, sockets, sysctls, links; not its rules).
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// A link by name.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(name)
    }

    /// Whether `ip` is assigned to one of the namespace's links (what the kernel's martian
    /// source check looks for; `lo`'s networks do not count).
    pub fn has_address(&self, ip: Ipv4Addr) -> bool {
        self.local.contains_key(&ip)
    }

    /// The sender address of the ARP request this namespace sends out of `dev` for
    /// `nexthop` while sending a packet from `src` (arp_announce 0): `src` when it is
    /// local, else the address the kernel selects on `dev` for `nexthop` at link scope
    /// (`Netns::select_address`); `None` (0.0.0.0) when there is none.
    pub fn arp_source(&self, dev: &str, nexthop: Ipv4Addr, src: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.is_local(src) {
            return Some(src);
        }
        let dev = IfName::new(dev).ok()?;
        self.netns.select_address(&dev, Some(nexthop), nettwin_core::state::AddrScope::Link)
    }

    /// Whether the route lookup for `ip` ends in a local route (`Netns::local_route`): an
    /// address of any link, or an address in one of `lo`'s networks that no longer main
    /// route covers.
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        if self.local.contains_key(&ip) {
            return true;
        }
        self.loopback_nets.iter().any(|n| n.contains(ip)) && self.netns.is_local(ip)
    }

    /// Who answers ARP for `ip` on `bridge`: the namespace itself, or a port.
    pub fn l2_owner(&self, bridge: &str, ip: Ipv4Addr) -> Option<L2Owner> {
        if self.is_local(ip) && !ip.is_loopback() {
            return Some(L2Owner::Local);
        }
        let index = self.bridges.get(bridge)?;
        let (port, owner) = match index.exact.get(&ip) {
            Some((p, o)) => (p, o),
            None => index.nets.iter().find(|(n, _, _)| n.contains(ip)).map(|(_, p, o)| (p, o))?,
        };
        Some(L2Owner::Port { port: port.clone(), owner: owner.clone() })
    }
}

/// The namespaces that answer ARP through bridge port `port` (a veth that is up, whose
/// peer is up), with their state: the peer's namespace (arp_ignore=0 answers for any local
/// address), and, when the peer is itself a bridge port, those its bridge reaches.
fn reachable_behind<'a>(state: &'a State, port: &Link, depth: u32) -> Vec<(NetnsName, &'a Netns)> {
    let LinkKind::Veth { peer_netns, peer } = &port.kind else { return Vec::new() };
    let Some((pname, pns)) = state.namespaces().get_key_value(peer_netns.as_str()) else {
        return Vec::new();
    };
    let Some(plink) = pns.link(peer.as_str()) else { return Vec::new() };
    if !port.up || !plink.up || depth == 0 {
        return Vec::new();
    }
    let mut out = vec![(pname.clone(), pns)];
    if let Some(master) = &plink.master {
        if !pns.link(master.as_str()).is_some_and(|b| b.up) {
            return Vec::new();
        }
        for (other, olink) in pns.ports(master.as_str()) {
            if other != peer {
                out.extend(reachable_behind(state, olink, depth - 1));
            }
        }
    }
    out
}

fn empty_netns() -> Netns {
    Netns {
        links: BTreeMap::new(),
        routes: Vec::new(),
        special_routes: Vec::new(),
        rules: Vec::new(),
        tables_merged: true,
        conf_all: Default::default(),
        conf_default: Default::default(),
        ip_nonlocal_bind: 0,
        icmp_echo_ignore_all: false,
        bridge_nf_call_iptables: false,
        firewall: Ruleset::default(),
        sockets: Vec::new(),
        local_table: false,
        lo_nets: Vec::new(),
        route_src: BTreeMap::new(),
        host_scope_gateways: Default::default(),
        addr_seq: BTreeMap::new(),
        neighbours: BTreeMap::new(),
    }
}
