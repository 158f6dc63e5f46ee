//! `Op`: one enum for every state change, the vocabulary both backends consume.
//!
//! Every op has a text form in the terms of the tools people know (`ip`, `sysctl`,
//! `iptables`); `Display` prints it and `op::text::parse_op` reads it back.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::addr::{Cidr, Endpoint, IfAddr, Proto};
use crate::iptables::{Command, Table};
use crate::names::{IfName, Mac, NetnsName};
use crate::state::{RouteScope, RouteTable, RuleAction, SpecialKind};

pub mod text;

/// The options of `ip addr add` beyond the address and the device.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize)]
pub struct AddrOpts {
    /// `brd +`: the subnet's broadcast address is set on the address (iproute2 computes
    /// and sends it for prefixes up to /30 only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub broadcast: bool,
    /// `label L`: the address's label (none: the device's name). The kernel refuses one
    /// over 15 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl AddrOpts {
    /// Whether these are the defaults (no `brd`, no label).
    pub fn is_default(&self) -> bool {
        !self.broadcast && self.label.is_none()
    }
}

/// One state change.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Op {
    /// `ip netns add NAME`: a namespace with a `lo` that is down.
    NetnsAdd {
        /// The new namespace.
        name: NetnsName,
    },
    /// `ip netns del NAME`: the namespace and everything in it; veth peers elsewhere go too.
    NetnsDel {
        /// The namespace.
        name: NetnsName,
    },
    /// `ip -n NS link add NAME [address MAC] type bridge`.
    BridgeAdd {
        /// Where.
        netns: NetnsName,
        /// The bridge's name.
        name: IfName,
        /// Its MAC; derived from the names when not given.
        mac: Option<Mac>,
    },
    /// `ip -n NS link add NAME type veth peer name PEER [netns PEER_NS]`: the peer is
    /// created directly in its namespace.
    VethAdd {
        /// Where the first end lives.
        netns: NetnsName,
        /// The first end's name.
        name: IfName,
        /// Its MAC; derived when not given.
        mac: Option<Mac>,
        /// Where the peer lives.
        peer_netns: NetnsName,
        /// The peer's name.
        peer: IfName,
        /// The peer's MAC; derived when not given.
        peer_mac: Option<Mac>,
    },
    /// `ip -n NS link del NAME` (a veth takes its peer with it).
    LinkDel {
        /// Where.
        netns: NetnsName,
        /// The link.
        name: IfName,
    },
    /// `ip -n NS link set NAME ...`.
    LinkSet {
        /// Where.
        netns: NetnsName,
        /// The link.
        name: IfName,
        /// What changes.
        change: LinkChange,
    },
    /// `ip -n NS addr add A/P [brd +] [label L] dev DEV`.
    AddrAdd {
        /// Where.
        netns: NetnsName,
        /// The device.
        dev: IfName,
        /// The address.
        addr: IfAddr,
        /// `brd +` and `label`.
        opts: AddrOpts,
    },
    /// `ip -n NS addr flush dev DEV`: every IPv4 address of the device goes (and with the
    /// last one every route through it).
    AddrFlush {
        /// Where.
        netns: NetnsName,
        /// The device.
        dev: IfName,
    },
    /// `ip -n NS neigh add|replace ADDR lladdr MAC dev DEV [nud permanent]`: a permanent
    /// neighbour entry (no ARP for `ip` on `dev`; frames go to `mac`).
    NeighAdd {
        /// Where.
        netns: NetnsName,
        /// The device.
        dev: IfName,
        /// The neighbour's address.
        ip: Ipv4Addr,
        /// Its link-layer address.
        mac: Mac,
        /// `replace`: create or update; `add` refuses an existing entry.
        replace: bool,
    },
    /// `ip -n NS neigh del ADDR dev DEV`.
    NeighDel {
        /// Where.
        netns: NetnsName,
        /// The device.
        dev: IfName,
        /// The neighbour's address.
        ip: Ipv4Addr,
    },
    /// `ip -n NS addr del A/P dev DEV`.
    AddrDel {
        /// Where.
        netns: NetnsName,
        /// The device.
        dev: IfName,
        /// The address.
        addr: IfAddr,
    },
    /// `ip -n NS route add ...`.
    RouteAdd {
        /// Where.
        netns: NetnsName,
        /// The route.
        route: RouteSpec,
    },
    /// `ip -n NS route del ...` (unspecified fields match any route).
    RouteDel {
        /// Where.
        netns: NetnsName,
        /// The route to match.
        route: RouteSpec,
    },
    /// `ip -n NS route replace ...`: the route of the same table, prefix and metric is
    /// replaced, or the route is added.
    RouteReplace {
        /// Where.
        netns: NetnsName,
        /// The route.
        route: RouteSpec,
    },
    /// `ip -n NS rule add ...`.
    RuleAdd {
        /// Where.
        netns: NetnsName,
        /// The rule.
        rule: RuleSpec,
    },
    /// `ip -n NS rule del ...`.
    RuleDel {
        /// Where.
        netns: NetnsName,
        /// The rule to match.
        rule: RuleSpec,
    },
    /// `ip netns exec NS sysctl -w KEY=VALUE`.
    Sysctl {
        /// Where.
        netns: NetnsName,
        /// Which setting.
        key: SysctlKey,
        /// The value (0 or 1; `rp_filter` also 2).
        value: u8,
    },
    /// `ip netns exec NS iptables [-t TABLE] ...`.
    Iptables {
        /// Where.
        netns: NetnsName,
        /// Which table.
        table: Table,
        /// The command.
        cmd: Command,
    },
    /// `ipam allocate NET SUBNET [gateway GW] id ID ifname IF`: host-local's ADD.
    IpamAllocate {
        /// The pool (the CNI network name).
        pool: String,
        /// The subnet addresses come from.
        subnet: Cidr,
        /// The gateway, never handed out.
        gateway: Option<Ipv4Addr>,
        /// The owner (container id).
        id: String,
        /// The owner's interface.
        ifname: IfName,
    },
    /// `ipam release NET id ID ifname IF`: host-local's DEL (releasing nothing is fine).
    IpamRelease {
        /// The pool.
        pool: String,
        /// The owner.
        id: String,
        /// The owner's interface.
        ifname: IfName,
    },
    /// `ip netns exec NS listen tcp|udp IP:PORT`: a listening socket (nettwin's own verb).
    Listen {
        /// Where.
        netns: NetnsName,
        /// tcp or udp.
        proto: Proto,
        /// The bound address (0.0.0.0 for any).
        at: Endpoint,
    },
    /// `ip netns exec NS close tcp|udp IP:PORT`.
    Close {
        /// Where.
        netns: NetnsName,
        /// tcp or udp.
        proto: Proto,
        /// The bound address.
        at: Endpoint,
    },
}

/// What `ip link set` changes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LinkChange {
    /// `up`.
    Up,
    /// `down`.
    Down,
    /// `master BRIDGE`.
    Master(IfName),
    /// `nomaster`.
    NoMaster,
    /// `mtu N`.
    Mtu(u32),
    /// `type bridge_slave hairpin on|off`.
    Hairpin(bool),
    /// `netns NS`: move to another namespace (addresses go, the link goes down).
    Netns(NetnsName),
}

/// A route as `ip route` takes it. A unicast route needs a device or a gateway (or both);
/// a special one (`blackhole`, ...) takes neither.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct RouteSpec {
    /// `blackhole`, `unreachable`, `prohibit` or `throw` before the prefix; `None` for a
    /// unicast route.
    pub kind: Option<SpecialKind>,
    /// The destination prefix (`default` is 0.0.0.0/0).
    pub dst: Cidr,
    /// `via GATEWAY`.
    pub via: Option<Ipv4Addr>,
    /// `dev DEVICE`.
    pub dev: Option<IfName>,
    /// `src ADDRESS`: the preferred source.
    pub src: Option<Ipv4Addr>,
    /// `table TABLE` (`main` when not given).
    pub table: Option<RouteTable>,
    /// `metric N` (also `priority`, `preference`): 0 when not given; a `del` without it
    /// matches any.
    pub metric: Option<u32>,
    /// `scope link` or `scope global` (by default `link` without a gateway).
    pub scope: Option<RouteScope>,
    /// `onlink`.
    pub onlink: bool,
}

impl RouteSpec {
    /// A unicast route in the main table with nothing but these.
    pub fn new(dst: Cidr, via: Option<Ipv4Addr>, dev: Option<IfName>) -> RouteSpec {
        RouteSpec {
            kind: None,
            dst,
            via,
            dev,
            src: None,
            table: None,
            metric: None,
            scope: None,
            onlink: false,
        }
    }
}

/// A rule as `ip rule add|del` takes it: unset selectors match anything; a `del` matches
/// the first rule that has every field given.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Default)]
pub struct RuleSpec {
    /// `priority N` (`pref`, `order`).
    pub priority: Option<u32>,
    /// `not`.
    pub not: bool,
    /// `from PREFIX` (`from all` is none).
    pub from: Option<Cidr>,
    /// `to PREFIX`.
    pub to: Option<Cidr>,
    /// `iif DEV`.
    pub iif: Option<IfName>,
    /// `oif DEV`.
    pub oif: Option<IfName>,
    /// `fwmark VALUE[/MASK]`.
    pub fwmark: Option<(u32, u32)>,
    /// `lookup TABLE` or a rule type; `add` without one looks up `main`.
    pub action: Option<RuleAction>,
}

/// The sysctls nettwin models.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum SysctlKey {
    /// `net.ipv4.ip_forward` (0 in a new namespace): the same switch as
    /// `net.ipv4.conf.all.forwarding`; writing either writes `default`'s and every device's
    /// `forwarding` too.
    IpForward,
    /// `net.ipv4.ip_nonlocal_bind`: sockets may bind addresses the namespace does not have.
    IpNonlocalBind,
    /// `net.ipv4.icmp_echo_ignore_all`: echo requests are not answered.
    IcmpEchoIgnoreAll,
    /// `net.bridge.bridge-nf-call-iptables` (1 in a new namespace once br_netfilter is
    /// loaded: bridged IPv4 frames traverse filter FORWARD).
    BridgeNfCallIptables,
    /// `net.ipv4.conf.SCOPE.KNOB`: a device's setting, or `all`'s or `default`'s.
    Conf(ConfScope, ConfKnob),
}

/// Whose `net.ipv4.conf` setting a key names.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ConfScope {
    /// `all`: combined with each device's (see `ConfKnob`).
    All,
    /// `default`: what devices created later start with.
    Default,
    /// One device's.
    Dev(IfName),
}

/// The per-device IPv4 settings nettwin models, and how `all` combines with a device's.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ConfKnob {
    /// `forwarding`: whether packets that came in through the device are forwarded (the
    /// input device's own value decides).
    Forwarding,
    /// `route_localnet`: 127.0.0.0/8 may be routed to and from the device (`all` or the
    /// device's).
    RouteLocalnet,
    /// `rp_filter`: 0 off, 1 strict, 2 loose reverse-path filtering (the larger of
    /// `all`'s and the device's).
    RpFilter,
    /// `proxy_arp`: the namespace answers ARP for addresses it routes elsewhere (`all` or
    /// the device's).
    ProxyArp,
}

impl ConfKnob {
    /// Every knob, in name order.
    pub const ALL: [ConfKnob; 4] =
        [ConfKnob::Forwarding, ConfKnob::ProxyArp, ConfKnob::RouteLocalnet, ConfKnob::RpFilter];

    /// The file name under `net/ipv4/conf/SCOPE/`.
    pub fn name(self) -> &'static str {
        match self {
            ConfKnob::Forwarding => "forwarding",
            ConfKnob::RouteLocalnet => "route_localnet",
            ConfKnob::RpFilter => "rp_filter",
            ConfKnob::ProxyArp => "proxy_arp",
        }
    }

    fn parse(name: &str) -> Option<ConfKnob> {
        ConfKnob::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl SysctlKey {
    /// `net.ipv4.conf.DEV.route_localnet`.
    pub fn route_localnet(dev: IfName) -> SysctlKey {
        SysctlKey::Conf(ConfScope::Dev(dev), ConfKnob::RouteLocalnet)
    }

    /// The dotted name, as `sysctl` prints it: a dot in a device name is written as `/`
    /// (`net.ipv4.conf.eth0/100.forwarding` for `eth0.100`).
    pub fn name(&self) -> String {
        match self {
            SysctlKey::IpForward => "net.ipv4.ip_forward".to_owned(),
            SysctlKey::IpNonlocalBind => "net.ipv4.ip_nonlocal_bind".to_owned(),
            SysctlKey::IcmpEchoIgnoreAll => "net.ipv4.icmp_echo_ignore_all".to_owned(),
            SysctlKey::BridgeNfCallIptables => "net.bridge.bridge-nf-call-iptables".to_owned(),
            SysctlKey::Conf(scope, knob) => {
                let scope = match scope {
                    ConfScope::All => "all".to_owned(),
                    ConfScope::Default => "default".to_owned(),
                    ConfScope::Dev(dev) => dev.as_str().replace('.', "/"),
                };
                format!("net.ipv4.conf.{scope}.{}", knob.name())
            }
        }
    }

    /// The path under /proc/sys (where a device's directory keeps the dots of its name).
    pub fn proc_path(&self) -> String {
        match self {
            SysctlKey::Conf(ConfScope::Dev(dev), knob) => {
                format!("/proc/sys/net/ipv4/conf/{dev}/{}", knob.name())
            }
            other => format!("/proc/sys/{}", other.name().replace('.', "/")),
        }
    }

    /// The largest value the kernel takes for the key (a larger one is EINVAL);
    /// nettwin models values up to 255.
    pub fn max_value(&self) -> u8 {
        match self {
            SysctlKey::IcmpEchoIgnoreAll => 1,
            _ => u8::MAX,
        }
    }

    /// Parses a dotted name (`/` in a device name stands for a dot, as `sysctl` writes it).
    pub fn parse(name: &str) -> Option<SysctlKey> {
        match name {
            "net.ipv4.ip_forward" => Some(SysctlKey::IpForward),
            "net.ipv4.ip_nonlocal_bind" => Some(SysctlKey::IpNonlocalBind),
            "net.ipv4.icmp_echo_ignore_all" => Some(SysctlKey::IcmpEchoIgnoreAll),
            "net.bridge.bridge-nf-call-iptables" => Some(SysctlKey::BridgeNfCallIptables),
            _ => {
                let (scope, knob) = name.strip_prefix("net.ipv4.conf.")?.rsplit_once('.')?;
                let knob = ConfKnob::parse(knob)?;
                let scope = match scope {
                    "all" => ConfScope::All,
                    "default" => ConfScope::Default,
                    dev => ConfScope::Dev(IfName::new(&dev.replace('/', ".")).ok()?),
                };
                Some(SysctlKey::Conf(scope, knob))
            }
        }
    }
}

/// What a successful op produced.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "effect", content = "value")]
pub enum Effect {
    /// The change was made.
    Done,
    /// IPAM handed out this address (with the pool's prefix length).
    Allocated(IfAddr),
}

impl Op {
    /// The namespace the op works in, if it works in one.
    pub fn netns(&self) -> Option<&NetnsName> {
        match self {
            Op::NetnsAdd { name } | Op::NetnsDel { name } => Some(name),
            Op::BridgeAdd { netns, .. }
            | Op::VethAdd { netns, .. }
            | Op::LinkDel { netns, .. }
            | Op::LinkSet { netns, .. }
            | Op::AddrAdd { netns, .. }
            | Op::AddrDel { netns, .. }
            | Op::AddrFlush { netns, .. }
            | Op::NeighAdd { netns, .. }
            | Op::NeighDel { netns, .. }
            | Op::RouteAdd { netns, .. }
            | Op::RouteDel { netns, .. }
            | Op::RouteReplace { netns, .. }
            | Op::RuleAdd { netns, .. }
            | Op::RuleDel { netns, .. }
            | Op::Sysctl { netns, .. }
            | Op::Iptables { netns, .. }
            | Op::Listen { netns, .. }
            | Op::Close { netns, .. } => Some(netns),
            Op::IpamAllocate { .. } | Op::IpamRelease { .. } => None,
        }
    }

    /// Every namespace the op names (for checks that they exist).
    pub fn namespaces(&self) -> Vec<&NetnsName> {
        let mut v: Vec<&NetnsName> = self.netns().into_iter().collect();
        match self {
            Op::VethAdd { peer_netns, .. } => v.push(peer_netns),
            Op::LinkSet { change: LinkChange::Netns(to), .. } => v.push(to),
            _ => {}
        }
        v
    }
}
