//! `Op`: one enum for every state change, the vocabulary both backends consume.
//!
//! Every op has a text form in the terms of the tools people know (`ip`, `sysctl`,
//! `iptables`); `Display` prints it and `op::text::parse_op` reads it back.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::addr::{Cidr, Endpoint, IfAddr, Proto};
use crate::iptables::{Command, Table};
use crate::names::{IfName, Mac, NetnsName};

pub mod text;

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
    /// `ip -n NS addr add A/P dev DEV`.
    AddrAdd {
        /// Where.
        netns: NetnsName,
        /// The device.
        dev: IfName,
        /// The address.
        addr: IfAddr,
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
    /// `ip netns exec NS sysctl -w KEY=0|1`.
    Sysctl {
        /// Where.
        netns: NetnsName,
        /// Which setting.
        key: SysctlKey,
        /// The value.
        value: bool,
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

/// A route as `ip route` takes it. A route needs a device or a gateway (or both).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct RouteSpec {
    /// The destination prefix (`default` is 0.0.0.0/0).
    pub dst: Cidr,
    /// `via GATEWAY`.
    pub via: Option<Ipv4Addr>,
    /// `dev DEVICE`.
    pub dev: Option<IfName>,
    /// `src ADDRESS`: the preferred source.
    pub src: Option<Ipv4Addr>,
}

/// The sysctls nettwin models.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum SysctlKey {
    /// `net.ipv4.ip_forward` (0 in a new namespace).
    IpForward,
    /// `net.ipv4.conf.DEV.route_localnet` (0 by default).
    RouteLocalnet(IfName),
    /// `net.bridge.bridge-nf-call-iptables` (1 in a new namespace once br_netfilter is
    /// loaded: bridged IPv4 frames traverse filter FORWARD).
    BridgeNfCallIptables,
}

impl SysctlKey {
    /// The dotted name, as `sysctl` prints it.
    pub fn name(&self) -> String {
        match self {
            SysctlKey::IpForward => "net.ipv4.ip_forward".to_owned(),
            SysctlKey::RouteLocalnet(dev) => format!("net.ipv4.conf.{dev}.route_localnet"),
            SysctlKey::BridgeNfCallIptables => "net.bridge.bridge-nf-call-iptables".to_owned(),
        }
    }

    /// The path under /proc/sys.
    pub fn proc_path(&self) -> String {
        format!("/proc/sys/{}", self.name().replace('.', "/"))
    }

    /// Parses a dotted name.
    pub fn parse(name: &str) -> Option<SysctlKey> {
        match name {
            "net.ipv4.ip_forward" => Some(SysctlKey::IpForward),
            "net.bridge.bridge-nf-call-iptables" => Some(SysctlKey::BridgeNfCallIptables),
            _ => {
                let dev = name.strip_prefix("net.ipv4.conf.")?.strip_suffix(".route_localnet")?;
                IfName::new(dev).ok().map(SysctlKey::RouteLocalnet)
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
            | Op::RouteAdd { netns, .. }
            | Op::RouteDel { netns, .. }
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
