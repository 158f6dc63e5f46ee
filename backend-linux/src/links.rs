//! Links through rtnetlink: create bridges and veths (the peer directly in its namespace),
//! delete, set up/down, master, MTU, hairpin, move; and the link dump `observe` reads.
//!
//! Every function runs on a namespace worker and names devices by name (`IFLA_IFNAME`), as
//! `ip link` does; the kernel resolves them in the worker's namespace.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    BridgePortState, InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth,
    LinkAttribute, LinkFlags, LinkInfo, LinkLayerType, LinkMessage, State,
};
use nettwin_core::names::Mac;

use crate::netlink::{Netlink, NlError};

/// The next ifindex to ask for (see `fresh_index`).
static NEXT_INDEX: AtomicU32 = AtomicU32::new(1000);

/// An ifindex no other device of any sandbox of this process has: new links ask for one.
/// The kernel processes a carrier change at once only for an "urgent" device, and a veth
/// is urgent because its ifindex differs from its peer's; in fresh namespaces both ends
/// would otherwise get the same number (2, 3, ...), and their carrier change wait for the
/// next once-a-second linkwatch run, with frames dropped and bridge ports not forwarding
/// until then. The model never observes ifindexes.
fn fresh_index() -> u32 {
    let i = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
    if i >= 1 << 30 {
        NEXT_INDEX.store(1000, Ordering::Relaxed);
    }
    i
}

fn named(name: &str) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_owned()));
    m
}

/// `ip link add NAME address MAC type bridge`.
pub fn bridge_add(nl: &mut Netlink, name: &str, mac: Mac) -> Result<(), NlError> {
    let mut m = named(name);
    m.header.index = fresh_index();
    m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
    m.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
    nl.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip link add NAME address MAC type veth peer name PEER address PMAC [netns FD]`: the
/// peer is created directly in the namespace of `peer_ns` (`IFLA_NET_NS_FD` on the peer),
/// never moved afterwards.
pub fn veth_add(
    nl: &mut Netlink,
    name: &str,
    mac: Mac,
    peer: &str,
    peer_mac: Mac,
    peer_ns: Option<RawFd>,
) -> Result<(), NlError> {
    let mut p = named(peer);
    p.header.index = fresh_index();
    p.attributes.push(LinkAttribute::Address(peer_mac.0.to_vec()));
    if let Some(fd) = peer_ns {
        p.attributes.push(LinkAttribute::NetNsFd(fd));
    }
    let mut m = named(name);
    m.header.index = fresh_index();
    m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
    ]));
    nl.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip link del NAME`.
pub fn link_del(nl: &mut Netlink, name: &str) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::DelLink(named(name)), 0)
}

/// `ip link set NAME up|down`.
pub fn set_up(nl: &mut Netlink, name: &str, up: bool) -> Result<(), NlError> {
    let mut m = named(name);
    m.header.change_mask = LinkFlags::Up;
    if up {
        m.header.flags = LinkFlags::Up;
    }
    nl.request(RouteNetlinkMessage::SetLink(m), 0)
}

/// `ip link set NAME master BRIDGE` (`Some(index)`) or `nomaster` (`None`).
pub fn set_master(nl: &mut Netlink, name: &str, master: Option<u32>) -> Result<(), NlError> {
    let mut m = named(name);
    m.attributes.push(LinkAttribute::Controller(master.unwrap_or(0)));
    nl.request(RouteNetlinkMessage::SetLink(m), 0)
}

/// `ip link set NAME mtu MTU`.
pub fn set_mtu(nl: &mut Netlink, name: &str, mtu: u32) -> Result<(), NlError> {
    let mut m = named(name);
    m.attributes.push(LinkAttribute::Mtu(mtu));
    nl.request(RouteNetlinkMessage::SetLink(m), 0)
}

/// `ip link set NAME type bridge_slave hairpin on|off`.
pub fn set_hairpin(nl: &mut Netlink, name: &str, on: bool) -> Result<(), NlError> {
    let mut m = named(name);
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(on)])),
    ]));
    nl.request(RouteNetlinkMessage::NewLink(m), 0)
}

/// `ip link set NAME netns FD`.
pub fn move_to(nl: &mut Netlink, name: &str, netns: RawFd) -> Result<(), NlError> {
    let mut m = named(name);
    m.attributes.push(LinkAttribute::NetNsFd(netns));
    nl.request(RouteNetlinkMessage::SetLink(m), 0)
}

/// The ifindex of a device (`ENODEV` when there is none).
pub fn index_of(nl: &mut Netlink, name: &str) -> Result<u32, NlError> {
    match nl.get(RouteNetlinkMessage::GetLink(named(name)))? {
        RouteNetlinkMessage::NewLink(m) => Ok(m.header.index),
        other => Err(NlError::Decode(format!("unexpected answer {other:?}"))),
    }
}

/// One link by index, read with a per-device `RTM_GETLINK`: unlike a dump, it makes the
/// kernel run the link's pending linkwatch work first (`linkwatch_sync_dev`), so its
/// operational state is current, not up to a second behind a carrier change.
pub fn get(nl: &mut Netlink, index: u32) -> Result<RawLink, NlError> {
    let mut req = LinkMessage::default();
    req.header.index = index;
    match nl.get(RouteNetlinkMessage::GetLink(req))? {
        RouteNetlinkMessage::NewLink(m) => Ok(raw_link(m)),
        other => Err(NlError::Decode(format!("unexpected answer {other:?}"))),
    }
}

/// The kinds of link nettwin models, as the kernel reports them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RawKind {
    /// `lo` (`ARPHRD_LOOPBACK`).
    Loopback,
    /// `IFLA_INFO_KIND` "bridge".
    Bridge,
    /// `IFLA_INFO_KIND` "veth".
    Veth,
    /// Anything else (fallback tunnel devices of loaded modules, ...).
    Other,
}

/// One link as the kernel dumped it.
#[derive(Clone, Debug)]
pub struct RawLink {
    /// ifindex.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: RawKind,
    /// `IFF_UP`.
    pub up: bool,
    /// MTU.
    pub mtu: u32,
    /// MAC (all zero when the device has none).
    pub mac: [u8; 6],
    /// The master's ifindex.
    pub master: Option<u32>,
    /// For a veth: the peer's ifindex (`IFLA_LINK`).
    pub peer_index: Option<u32>,
    /// For a veth whose peer is in another namespace: that namespace's id as seen from
    /// here (`IFLA_LINK_NETNSID`).
    pub peer_nsid: Option<i32>,
    /// For a bridge port: its hairpin mode.
    pub hairpin: Option<bool>,
    /// Up with carrier (`IFF_UP` and `IFF_LOWER_UP`).
    pub carrier: bool,
    /// Whether the kernel's linkwatch work for the link has caught up with its carrier: a
    /// link that is down is; one with carrier once its operational state, queueing
    /// discipline and (for a bridge port) port state are in service; one that is up without
    /// carrier once its operational state is no longer up. Right after a link gains carrier
    /// this stays false for a moment, and frames sent meanwhile are dropped unseen; right
    /// after it loses carrier (a bridge's last port went away), frames still go out.
    pub settled: bool,
}

/// Dumps every link of the namespace.
pub fn dump(nl: &mut Netlink) -> Result<Vec<RawLink>, NlError> {
    let msgs = nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(m) => Some(raw_link(m)),
            _ => None,
        })
        .collect())
}

fn raw_link(m: LinkMessage) -> RawLink {
    let mut l = RawLink {
        index: m.header.index,
        name: String::new(),
        kind: if m.header.link_layer_type == LinkLayerType::Loopback {
            RawKind::Loopback
        } else {
            RawKind::Other
        },
        up: m.header.flags.contains(LinkFlags::Up),
        mtu: 0,
        mac: [0; 6],
        master: None,
        peer_index: None,
        peer_nsid: None,
        hairpin: None,
        carrier: false,
        settled: true,
    };
    let running = m.header.flags.contains(LinkFlags::Up | LinkFlags::LowerUp);
    l.carrier = running;
    let up = l.up;
    let mut operstate_ok = true;
    let mut operstate_up = false;
    let mut qdisc_ok = true;
    let mut port_ok = true;
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n,
            LinkAttribute::Mtu(v) => l.mtu = v,
            LinkAttribute::Address(b) if b.len() == 6 => l.mac.copy_from_slice(&b),
            LinkAttribute::Controller(i) if i != 0 => l.master = Some(i),
            LinkAttribute::Link(i) => l.peer_index = Some(i),
            LinkAttribute::LinkNetNsId(id) => l.peer_nsid = Some(id),
            LinkAttribute::OperState(st) => {
                operstate_ok = matches!(st, State::Up | State::Unknown);
                operstate_up = st == State::Up;
            }
            LinkAttribute::Qdisc(q) => qdisc_ok = q != "noop",
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(InfoKind::Bridge) => l.kind = RawKind::Bridge,
                        LinkInfo::Kind(InfoKind::Veth) => l.kind = RawKind::Veth,
                        LinkInfo::PortData(InfoPortData::BridgePort(attrs)) => {
                            for p in attrs {
                                match p {
                                    InfoBridgePort::HairpinMode(on) => l.hairpin = Some(on),
                                    InfoBridgePort::State(st) => {
                                        port_ok = st == BridgePortState::Forwarding;
                                    }
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    l.settled = if running { operstate_ok && qdisc_ok && port_ok } else { !up || !operstate_up };
    if l.kind != RawKind::Veth {
        l.peer_index = None;
        l.peer_nsid = None;
    }
    l
}
