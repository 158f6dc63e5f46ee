//! The topology suite's cases: random sequences of namespace, bridge, veth, link, address,
//! route, sysctl and socket ops over three namespaces, a handful of link names and three
//! small subnets, valid and invalid mixed, then a few probes.
//!
//! A case starts by creating two or three namespaces (most with `lo` up); then come the
//! specs. Link ops name either a link an earlier op created (`LinkRef::Made`, resolved when
//! the case is built, whether or not that op succeeded), a bridge an earlier op created
//! (`LinkRef::Bridge`), or a name from the pool (`Named`), which may not exist. `Wire` lays
//! a whole cable (a veth pair between two namespaces, an address on each end of one
//! subnet, both ends up), so that probes often have somewhere to go. So most ops act on
//! something real, and the rest are the invalid ops the kernel must refuse the way the
//! model does: duplicates, unknown names, moves of missing links, enslaving to a
//! non-bridge, deleting a bridge with ports, routes through down links, and so on.

use std::net::Ipv4Addr;

use nettwin_core::addr::{Cidr, Endpoint, Proto};
use nettwin_core::names::{IfName, Mac, NetnsName};
use nettwin_core::op::{
    AddrOpts, ConfKnob, ConfScope, LinkChange, Op, RouteSpec, RuleSpec, SysctlKey,
};
use nettwin_core::state::{RouteTable, RuleAction, SpecialKind};
use nettwin_core::trace::Probe;
use proptest::prelude::*;

use super::{endpoint, ifaddr, ifn, ns, proto};
use crate::harness::Case;

/// The namespaces ops name.
pub const NAMESPACES: [&str; 3] = ["a", "b", "c"];
/// Link names for new veth ends and pool references.
const LINKS: [&str; 4] = ["eth0", "eth1", "v0", "v1"];
/// Bridge names.
const BRIDGES: [&str; 2] = ["br0", "br1"];
/// MTUs (with two a veth or bridge refuses).
const MTUS: [u32; 6] = [1500, 1400, 9000, 68, 67, 65536];
/// The port listeners take; probes also try the next one, where nobody listens.
pub const PORT: u16 = 80;
/// Route destinations other than the subnets.
const DSTS: [&str; 3] = ["0.0.0.0/0", "10.0.0.0/16", "192.0.2.0/24"];

/// Address `host` (1–3) of subnet `net` (0–2): 10.0.net.host; subnet 3 is 192.0.2.0/24,
/// and 4 is 127.0.0.0/8.
pub fn pool_ip(net: usize, host: usize) -> Ipv4Addr {
    let h = (host % 3 + 1) as u8;
    match net % 5 {
        3 => Ipv4Addr::new(192, 0, 2, h),
        4 => Ipv4Addr::new(127, 0, 0, h),
        n => Ipv4Addr::new(10, 0, n as u8, h),
    }
}

/// A link an op acts on.
#[derive(Clone, Debug)]
pub enum LinkRef {
    /// The n-th link created so far (modulo how many), wherever it is now.
    Made(usize),
    /// The n-th bridge created so far.
    Bridge(usize),
    /// A pool name in a namespace (which may not exist).
    Named(usize, usize),
}

/// One op (or one cable), with references resolved when the case is built.
#[derive(Clone, Debug)]
pub enum Spec {
    /// `ip netns add`.
    NetnsAdd(usize),
    /// `ip netns del`.
    NetnsDel(usize),
    /// A bridge in a namespace.
    BridgeAdd(usize, usize),
    /// A veth pair: (netns, name, peer netns, peer name).
    VethAdd(usize, usize, usize, usize),
    /// A cable: a veth pair from netns x (name i) to netns y (name j), addresses .1 and .2
    /// of subnet `net` with the prefix, both ends up.
    Wire(usize, usize, usize, usize, usize, u8),
    /// `ip link del`.
    LinkDel(LinkRef),
    /// `ip link set`.
    LinkSet(LinkRef, ChangeSpec),
    /// `ip addr add` of pool address (net, host)/prefix.
    AddrAdd(LinkRef, usize, usize, u8),
    /// `ip addr del` of pool address (net, host)/prefix.
    AddrDel(LinkRef, usize, usize, u8),
    /// `ip addr add` with `brd +` (the bool) and a label (0: none, 1: `DEV:1`, 2: one
    /// over 15 bytes).
    AddrAddWith(LinkRef, usize, usize, u8, bool, u8),
    /// `ip addr flush dev`.
    AddrFlush(LinkRef),
    /// `ip neigh add|replace` (the bool: replace) of pool address (net, host) on a link,
    /// with the MAC of another link (as both backends derive it) or a MAC nobody has.
    NeighAdd(LinkRef, (usize, usize), Option<LinkRef>, bool),
    /// `ip neigh del` of pool address (net, host) on a link.
    NeighDel(LinkRef, (usize, usize)),
    /// `ip route add` to subnet or DSTS entry `dst` (0–2 subnets, 3– DSTS), via pool
    /// address (net, host) or not, through a link or not, in netns `ns` (or the link's).
    RouteAdd(usize, usize, Option<(usize, usize)>, Option<LinkRef>),
    /// `ip route add default via 10.0.net.host` in a namespace: the other end of a `Wire`
    /// (host 0 is its first end's address, 1 the second's) becomes the namespace's router.
    Gateway(usize, usize, usize),
    /// `ip route del` in a namespace of a destination.
    RouteDel(usize, usize),
    /// What a route op also says: `table`, `metric`, `replace` (instead of `add`),
    /// `onlink`, for a `RouteAdd`; `table` for a `RouteDel`.
    RouteExtra(Box<Spec>, RouteExtra),
    /// A blackhole, unreachable, prohibit or throw route: netns, destination, kind, table.
    Special(usize, usize, usize, Option<u32>),
    /// `ip rule add` in a namespace.
    RuleAdd(usize, RuleGen),
    /// `ip rule del priority N` in a namespace.
    RuleDel(usize, u32),
    /// A sysctl: 0 ip_forward, 1 bridge-nf-call-iptables, 2 route_localnet (of the link),
    /// 3 forwarding (of the link), 4 rp_filter (of the link), 5 rp_filter (all), 6
    /// forwarding (default), 7 icmp_echo_ignore_all, 8 proxy_arp (of the link), 9
    /// proxy_arp (default); a value (taken modulo 4, modulo 3 for icmp_echo_ignore_all).
    Sysctl(usize, usize, u8, LinkRef),
    /// A listener: netns, tcp (else udp), address (None: 0.0.0.0) as (net, host).
    Listen(usize, bool, Option<(usize, usize)>),
}

/// The options of a route op beyond destination, gateway and device.
#[derive(Clone, Debug, Default)]
pub struct RouteExtra {
    /// `table N`.
    pub table: Option<u32>,
    /// `metric N`.
    pub metric: Option<u32>,
    /// `ip route replace`.
    pub replace: bool,
    /// `onlink`.
    pub onlink: bool,
}

/// A rule: priority, `from` subnet, `to` destination, `iif` link, action (0 lookup 100,
/// 1 lookup 200, 2 lookup main, 3 prohibit, 4 blackhole, 5 unreachable), `not`.
#[derive(Clone, Debug)]
pub struct RuleGen {
    /// `priority N`, or the kernel's choice.
    pub priority: Option<u32>,
    /// `from` one of the subnets.
    pub from: Option<usize>,
    /// `to` one of the destinations.
    pub to: Option<usize>,
    /// `iif` a link's name.
    pub iif: Option<LinkRef>,
    /// The action.
    pub action: usize,
    /// `not`.
    pub not: bool,
}

/// The tables routes and rules use besides main.
const TABLES: [u32; 2] = [100, 200];

/// What `ip link set` changes.
#[derive(Clone, Debug)]
pub enum ChangeSpec {
    /// `up`.
    Up,
    /// `down`.
    Down,
    /// `master` of the referenced link (a bridge, or not).
    Master(LinkRef),
    /// `nomaster`.
    NoMaster,
    /// `mtu MTUS[i]`.
    Mtu(usize),
    /// `hairpin on|off`.
    Hairpin(bool),
    /// `netns NAMESPACES[i]`.
    Netns(usize),
}

fn link_ref() -> impl Strategy<Value = LinkRef> + Clone {
    prop_oneof![
        8 => (0usize..8).prop_map(LinkRef::Made),
        1 => (0usize..2).prop_map(LinkRef::Bridge),
        1 => (0..NAMESPACES.len(), 0..LINKS.len() + BRIDGES.len() + 1)
            .prop_map(|(n, l)| LinkRef::Named(n, l)),
    ]
}

fn change() -> impl Strategy<Value = ChangeSpec> {
    prop_oneof![
        8 => Just(ChangeSpec::Up),
        2 => Just(ChangeSpec::Down),
        4 => prop_oneof![
            4 => (0usize..2).prop_map(LinkRef::Bridge),
            1 => link_ref(),
        ].prop_map(ChangeSpec::Master),
        1 => Just(ChangeSpec::NoMaster),
        1 => (0..MTUS.len()).prop_map(ChangeSpec::Mtu),
        2 => any::<bool>().prop_map(ChangeSpec::Hairpin),
        1 => (0..NAMESPACES.len()).prop_map(ChangeSpec::Netns),
    ]
}

fn route_extra() -> impl Strategy<Value = RouteExtra> {
    (
        prop::option::weighted(0.6, prop::sample::select(TABLES.to_vec())),
        prop::option::weighted(0.5, prop::sample::select(vec![0u32, 10, 100])),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(table, metric, replace, onlink)| RouteExtra {
            table,
            metric,
            replace,
            onlink,
        })
}

fn rule_gen() -> impl Strategy<Value = RuleGen> {
    (
        prop::option::weighted(0.6, prop::sample::select(vec![10u32, 20, 30])),
        prop::option::weighted(0.6, 0usize..3),
        prop::option::weighted(0.3, 0usize..6),
        prop::option::weighted(0.2, link_ref()),
        prop_oneof![4 => 0usize..3, 1 => 3usize..6],
        prop::bool::weighted(0.1),
    )
        .prop_map(|(priority, from, to, iif, action, not)| RuleGen {
            priority,
            from,
            to,
            iif,
            action,
            not,
        })
}

fn prefix() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![8 => Just(24u8), 1 => Just(16u8), 1 => Just(32u8)]
}

fn netns_ix() -> impl Strategy<Value = usize> + Clone {
    0..NAMESPACES.len()
}

/// A pool address: (subnet, host), mostly of the 10.0.x.0/24 subnets.
fn pool() -> impl Strategy<Value = (usize, usize)> + Clone {
    (prop_oneof![9 => 0usize..3, 1 => Just(3usize)], 0usize..3)
}

/// One spec, weighted towards ops that build something.
pub fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        1 => netns_ix().prop_map(Spec::NetnsAdd),
        1 => netns_ix().prop_map(Spec::NetnsDel),
        3 => (netns_ix(), 0..BRIDGES.len()).prop_map(|(n, b)| Spec::BridgeAdd(n, b)),
        3 => (netns_ix(), 0..LINKS.len(), netns_ix(), 0..LINKS.len())
            .prop_map(|(a, x, b, y)| Spec::VethAdd(a, x, b, y)),
        5 => (netns_ix(), netns_ix(), 0..LINKS.len(), 0..LINKS.len(), 0usize..3, prefix())
            .prop_map(|(a, b, x, y, net, p)| Spec::Wire(a, b, x, y, net, p)),
        1 => link_ref().prop_map(Spec::LinkDel),
        10 => (link_ref(), change()).prop_map(|(l, c)| Spec::LinkSet(l, c)),
        5 => (link_ref(), pool(), prefix()).prop_map(|(l, (n, h), p)| Spec::AddrAdd(l, n, h, p)),
        1 => (link_ref(), pool(), prefix()).prop_map(|(l, (n, h), p)| Spec::AddrDel(l, n, h, p)),
        1 => (link_ref(), pool(), prefix(), any::<bool>(), 0u8..3)
            .prop_map(|(l, (n, h), p, b, lab)| Spec::AddrAddWith(l, n, h, p, b, lab)),
        1 => link_ref().prop_map(Spec::AddrFlush),
        2 => (link_ref(), pool(), prop::option::weighted(0.7, link_ref()), any::<bool>())
            .prop_map(|(l, a, m, r)| Spec::NeighAdd(l, a, m, r)),
        1 => (link_ref(), pool()).prop_map(|(l, a)| Spec::NeighDel(l, a)),
        5 => (netns_ix(), 0usize..6, prop::option::of(pool()), prop::option::of(link_ref()))
            .prop_map(|(n, d, v, l)| Spec::RouteAdd(n, d, v, l)),
        4 => (netns_ix(), 0usize..3, 0usize..2).prop_map(|(n, net, h)| Spec::Gateway(n, net, h)),
        1 => (netns_ix(), 0usize..6).prop_map(|(n, d)| Spec::RouteDel(n, d)),
        3 => (
            (netns_ix(), 0usize..6, prop::option::of(pool()), prop::option::of(link_ref())),
            route_extra(),
        )
            .prop_map(|((n, d, v, l), x)| Spec::RouteExtra(Box::new(Spec::RouteAdd(n, d, v, l)), x)),
        1 => ((netns_ix(), 0usize..6), route_extra())
            .prop_map(|((n, d), x)| Spec::RouteExtra(Box::new(Spec::RouteDel(n, d)), x)),
        2 => (netns_ix(), 0usize..6, 0usize..4, prop::option::weighted(0.5, prop::sample::select(TABLES.to_vec())))
            .prop_map(|(n, d, k, t)| Spec::Special(n, d, k, t)),
        3 => (netns_ix(), rule_gen()).prop_map(|(n, r)| Spec::RuleAdd(n, r)),
        1 => (netns_ix(), prop::sample::select(vec![10u32, 20, 30, 32765, 32766]))
            .prop_map(|(n, p)| Spec::RuleDel(n, p)),
        5 => (
            netns_ix(),
            prop_oneof![6 => Just(0usize), 4 => 1usize..10],
            prop_oneof![4 => Just(1u8), 1 => Just(0u8), 1 => 2u8..4],
            link_ref()
        )
            .prop_map(|(n, k, v, l)| Spec::Sysctl(n, k, v, l)),
        3 => (netns_ix(), any::<bool>(), prop::option::weighted(0.3, pool()))
            .prop_map(|(n, t, a)| Spec::Listen(n, t, a)),
    ]
}

/// A probe spec: from, to (a pool address, or 127.0.0.1), protocol, whether to the
/// listeners' port.
pub fn probe_spec() -> impl Strategy<Value = (usize, (usize, usize), Proto, bool)> {
    (
        netns_ix(),
        prop_oneof![9 => pool(), 1 => Just((4usize, 0usize))],
        proto(),
        prop::bool::weighted(0.8),
    )
}

/// Resolves link references against the links created so far.
#[derive(Default)]
struct Links {
    made: Vec<(NetnsName, IfName)>,
    bridges: Vec<(NetnsName, IfName)>,
}

impl Links {
    fn resolve(&self, r: &LinkRef) -> (NetnsName, IfName) {
        let pick =
            |list: &[(NetnsName, IfName)], i: usize| list.get(i % list.len().max(1)).cloned();
        let fallback = |i: usize| (ns(NAMESPACES[i % NAMESPACES.len()]), ifn("lo"));
        match r {
            LinkRef::Made(i) => pick(&self.made, *i).unwrap_or_else(|| fallback(*i)),
            LinkRef::Bridge(i) => pick(&self.bridges, *i)
                .or_else(|| pick(&self.made, *i))
                .unwrap_or_else(|| fallback(*i)),
            LinkRef::Named(n, l) => {
                let name = LINKS.iter().chain(BRIDGES.iter()).nth(*l).copied().unwrap_or("lo");
                (ns(NAMESPACES[*n]), ifn(name))
            }
        }
    }

    /// Keeps the created links current: new ones, moves (netns moves follow the link).
    fn record(&mut self, op: &Op) {
        match op {
            Op::BridgeAdd { netns, name, .. } => {
                self.made.push((netns.clone(), name.clone()));
                self.bridges.push((netns.clone(), name.clone()));
            }
            Op::VethAdd { netns, name, peer_netns, peer, .. } => {
                self.made.push((netns.clone(), name.clone()));
                self.made.push((peer_netns.clone(), peer.clone()));
            }
            Op::LinkSet { netns, name, change: LinkChange::Netns(to) } => {
                for m in &mut self.made {
                    if m.0 == *netns && m.1 == *name {
                        m.0 = to.clone();
                    }
                }
            }
            _ => {}
        }
    }
}

fn dst_of(d: usize) -> Cidr {
    match d {
        0..=2 => Cidr::containing(pool_ip(d, 0), 24),
        _ => DSTS[(d - 3) % DSTS.len()].parse().unwrap_or_else(|e| unreachable!("{e}")),
    }
}

fn to_ops(spec: &Spec, links: &Links) -> Vec<Op> {
    let n = |i: &usize| ns(NAMESPACES[*i]);
    let op = match spec {
        Spec::NetnsAdd(i) => Op::NetnsAdd { name: n(i) },
        Spec::NetnsDel(i) => Op::NetnsDel { name: n(i) },
        Spec::BridgeAdd(i, b) => Op::BridgeAdd { netns: n(i), name: ifn(BRIDGES[*b]), mac: None },
        Spec::VethAdd(a, x, b, y) => Op::VethAdd {
            netns: n(a),
            name: ifn(LINKS[*x]),
            mac: None,
            peer_netns: n(b),
            peer: ifn(LINKS[*y]),
            peer_mac: None,
        },
        Spec::Wire(a, b, x, y, net, p) => {
            let (na, nb, ea, eb) = (n(a), n(b), ifn(LINKS[*x]), ifn(LINKS[*y]));
            return vec![
                Op::VethAdd {
                    netns: na.clone(),
                    name: ea.clone(),
                    mac: None,
                    peer_netns: nb.clone(),
                    peer: eb.clone(),
                    peer_mac: None,
                },
                Op::AddrAdd {
                    netns: na.clone(),
                    dev: ea.clone(),
                    addr: ifaddr(pool_ip(*net, 0), *p),
                    opts: AddrOpts::default(),
                },
                Op::AddrAdd {
                    netns: nb.clone(),
                    dev: eb.clone(),
                    addr: ifaddr(pool_ip(*net, 1), *p),
                    opts: AddrOpts::default(),
                },
                Op::LinkSet { netns: na, name: ea, change: LinkChange::Up },
                Op::LinkSet { netns: nb, name: eb, change: LinkChange::Up },
            ];
        }
        Spec::LinkDel(r) => {
            let (netns, name) = links.resolve(r);
            Op::LinkDel { netns, name }
        }
        Spec::LinkSet(r, c) => {
            let (netns, name) = links.resolve(r);
            let change = match c {
                ChangeSpec::Up => LinkChange::Up,
                ChangeSpec::Down => LinkChange::Down,
                ChangeSpec::Master(b) => LinkChange::Master(links.resolve(b).1),
                ChangeSpec::NoMaster => LinkChange::NoMaster,
                ChangeSpec::Mtu(i) => LinkChange::Mtu(MTUS[*i]),
                ChangeSpec::Hairpin(on) => LinkChange::Hairpin(*on),
                ChangeSpec::Netns(i) => LinkChange::Netns(n(i)),
            };
            Op::LinkSet { netns, name, change }
        }
        Spec::AddrAdd(r, net, host, p) | Spec::AddrDel(r, net, host, p) => {
            let (netns, dev) = links.resolve(r);
            let addr = ifaddr(pool_ip(*net, *host), *p);
            if matches!(spec, Spec::AddrAdd(..)) {
                Op::AddrAdd { netns, dev, addr, opts: AddrOpts::default() }
            } else {
                Op::AddrDel { netns, dev, addr }
            }
        }
        Spec::AddrAddWith(r, net, host, p, broadcast, label) => {
            let (netns, dev) = links.resolve(r);
            let label = match label {
                0 => None,
                1 => Some(format!("{dev}:1")),
                _ => Some("label-over-15-bytes".to_owned()),
            };
            let opts = AddrOpts { broadcast: *broadcast, label };
            Op::AddrAdd { netns, dev, addr: ifaddr(pool_ip(*net, *host), *p), opts }
        }
        Spec::AddrFlush(r) => {
            let (netns, dev) = links.resolve(r);
            Op::AddrFlush { netns, dev }
        }
        Spec::NeighAdd(r, (net, host), mac_of, replace) => {
            let (netns, dev) = links.resolve(r);
            let mac = match mac_of {
                Some(m) => {
                    let (n, d) = links.resolve(m);
                    Mac::derive(&[n.as_str(), d.as_str()])
                }
                None => Mac([2, 0, 0, 0, 0, 0x99]),
            };
            Op::NeighAdd { netns, dev, ip: pool_ip(*net, *host), mac, replace: *replace }
        }
        Spec::NeighDel(r, (net, host)) => {
            let (netns, dev) = links.resolve(r);
            Op::NeighDel { netns, dev, ip: pool_ip(*net, *host) }
        }
        Spec::RouteAdd(i, d, via, dev) => {
            // A route through a referenced link lives in that link's namespace.
            let (netns, dev) = match dev {
                Some(r) => {
                    let (netns, dev) = links.resolve(r);
                    (netns, Some(dev))
                }
                None => (n(i), None),
            };
            let via = via.map(|(net, host)| pool_ip(net, host));
            // A route needs a gateway or a device; without both, name the first link.
            let dev = match (via, dev) {
                (None, None) => Some(links.resolve(&LinkRef::Made(*i)).1),
                (_, dev) => dev,
            };
            Op::RouteAdd { netns, route: RouteSpec::new(dst_of(*d), via, dev) }
        }
        Spec::Gateway(i, net, host) => Op::RouteAdd {
            netns: n(i),
            route: RouteSpec::new(dst_of(3), Some(pool_ip(*net, *host)), None),
        },
        Spec::RouteDel(i, d) => {
            Op::RouteDel { netns: n(i), route: RouteSpec::new(dst_of(*d), None, None) }
        }
        Spec::RouteExtra(inner, x) => {
            let mut ops = to_ops(inner, links);
            for op in &mut ops {
                let (Op::RouteAdd { route, .. } | Op::RouteDel { route, .. }) = op else {
                    continue;
                };
                route.table = x.table.map(RouteTable);
                if matches!(op, Op::RouteAdd { .. }) {
                    let Op::RouteAdd { netns, route } = op else { continue };
                    route.metric = x.metric;
                    route.onlink = x.onlink && route.dev.is_some() && route.via.is_some();
                    if x.replace {
                        *op = Op::RouteReplace { netns: netns.clone(), route: route.clone() };
                    }
                } else if let Op::RouteDel { route, .. } = op {
                    route.metric = x.metric;
                }
            }
            return ops;
        }
        Spec::Special(i, d, k, t) => {
            let kinds = [
                SpecialKind::Blackhole,
                SpecialKind::Unreachable,
                SpecialKind::Prohibit,
                SpecialKind::Throw,
            ];
            let route = RouteSpec {
                kind: Some(kinds[*k % kinds.len()]),
                table: t.map(RouteTable),
                ..RouteSpec::new(dst_of(*d), None, None)
            };
            Op::RouteAdd { netns: n(i), route }
        }
        Spec::RuleAdd(i, r) => {
            let action = match r.action {
                0 => RuleAction::Lookup(RouteTable(TABLES[0])),
                1 => RuleAction::Lookup(RouteTable(TABLES[1])),
                2 => RuleAction::Lookup(RouteTable::MAIN),
                3 => RuleAction::Prohibit,
                4 => RuleAction::Blackhole,
                _ => RuleAction::Unreachable,
            };
            let rule = RuleSpec {
                priority: r.priority,
                not: r.not,
                from: r.from.map(dst_of),
                to: r.to.map(dst_of),
                iif: r.iif.as_ref().map(|l| links.resolve(l).1),
                action: Some(action),
                ..RuleSpec::default()
            };
            Op::RuleAdd { netns: n(i), rule }
        }
        Spec::RuleDel(i, p) => Op::RuleDel {
            netns: n(i),
            rule: RuleSpec { priority: Some(*p), ..RuleSpec::default() },
        },
        Spec::Sysctl(i, k, v, r) => {
            let dev = |knob| {
                let (netns, dev) = links.resolve(r);
                (netns, SysctlKey::Conf(ConfScope::Dev(dev), knob))
            };
            let (netns, key) = match k {
                0 => (n(i), SysctlKey::IpForward),
                1 => (n(i), SysctlKey::BridgeNfCallIptables),
                2 => dev(ConfKnob::RouteLocalnet),
                3 => dev(ConfKnob::Forwarding),
                4 => dev(ConfKnob::RpFilter),
                5 => (n(i), SysctlKey::Conf(ConfScope::All, ConfKnob::RpFilter)),
                6 => (n(i), SysctlKey::Conf(ConfScope::Default, ConfKnob::Forwarding)),
                7 => (n(i), SysctlKey::IcmpEchoIgnoreAll),
                8 => dev(ConfKnob::ProxyArp),
                _ => (n(i), SysctlKey::Conf(ConfScope::Default, ConfKnob::ProxyArp)),
            };
            // Values beyond 1 too: the kernel keeps them as written (and refuses them for
            // icmp_echo_ignore_all, where a third of the writes are EINVAL).
            let value = if key.max_value() == 1 { v % 3 } else { v % 4 };
            Op::Sysctl { netns, key, value }
        }
        Spec::Listen(i, tcp, a) => Op::Listen {
            netns: n(i),
            proto: if *tcp { Proto::Tcp } else { Proto::Udp },
            at: Endpoint::new(a.map_or(Ipv4Addr::UNSPECIFIED, |(net, h)| pool_ip(net, h)), PORT),
        },
    };
    vec![op]
}

/// Builds a case: `namespaces` first (with `lo` up where asked), then the specs, then the
/// probes.
pub fn build(
    namespaces: &[bool],
    specs: &[Spec],
    probes: &[(usize, (usize, usize), Proto, bool)],
) -> Case {
    let mut links = Links::default();
    let mut steps = Vec::with_capacity(specs.len() + 6);
    for (i, lo_up) in namespaces.iter().enumerate().take(NAMESPACES.len()) {
        steps.push(Op::NetnsAdd { name: ns(NAMESPACES[i]) });
        if *lo_up {
            steps.push(Op::LinkSet {
                netns: ns(NAMESPACES[i]),
                name: ifn("lo"),
                change: LinkChange::Up,
            });
        }
    }
    for s in specs {
        for op in to_ops(s, &links) {
            links.record(&op);
            steps.push(op);
        }
    }
    let probes = probes
        .iter()
        .map(|(from, (net, host), proto, listening)| Probe {
            name: String::new(),
            from: ns(NAMESPACES[*from]),
            src: None,
            sport: None,
            dst: endpoint(pool_ip(*net, *host), if *listening { PORT } else { PORT + 1 }, *proto),
            proto: *proto,
        })
        .collect();
    Case { steps, probes, checkpoints: Vec::new() }
}

/// The topology suite's cases: two or three namespaces, 1–20 specs, 1–4 probes.
pub fn cases() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(prop::bool::weighted(0.85), 2..=3),
        prop::collection::vec(spec(), 1..20),
        prop::collection::vec(probe_spec(), 1..5),
    )
        .prop_map(|(namespaces, specs, probes)| build(&namespaces, &specs, &probes))
}
