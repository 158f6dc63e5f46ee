//! IPv4 addresses through rtnetlink, as `ip addr add|del|flush` send them, and the dump
//! `observe` reads.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use nettwin_core::addr::IfAddr;
use nettwin_core::op::AddrOpts;

use crate::netlink::{Netlink, NlError};

/// One address as the kernel reports it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RawAddr {
    /// The device's ifindex.
    pub index: u32,
    /// The address.
    pub addr: IfAddr,
    /// Whether it carries the subnet's broadcast address (`brd +`).
    pub broadcast: bool,
    /// Its label (`IFA_LABEL`; the device's name unless one was given).
    pub label: Option<String>,
}

fn addr_msg(index: u32, addr: IfAddr) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.prefix_len = addr.prefix;
    m.header.index = index;
    // iproute2's default: host scope for 127/8, global otherwise.
    m.header.scope =
        if addr.ip.is_loopback() { AddressScope::Host } else { AddressScope::Universe };
    m.attributes.push(AddressAttribute::Local(IpAddr::V4(addr.ip)));
    m.attributes.push(AddressAttribute::Address(IpAddr::V4(addr.ip)));
    m
}

/// `ip addr add A/P [brd +] [label L] dev INDEX`: `brd +` is sent as iproute2 computes it,
/// only for prefixes up to /30.
pub fn addr_add(
    nl: &mut Netlink,
    index: u32,
    addr: IfAddr,
    opts: &AddrOpts,
) -> Result<(), NlError> {
    let mut m = addr_msg(index, addr);
    if opts.broadcast && addr.prefix <= 30 {
        m.attributes.push(AddressAttribute::Broadcast(addr.network().broadcast()));
    }
    if let Some(label) = &opts.label {
        m.attributes.push(AddressAttribute::Label(label.clone()));
    }
    nl.request(RouteNetlinkMessage::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip addr del A/P dev INDEX` (the prefix length must match, as with iproute2).
pub fn addr_del(nl: &mut Netlink, index: u32, addr: IfAddr) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::DelAddress(addr_msg(index, addr)), 0)
}

/// `ip addr flush dev INDEX`: like iproute2, deletes the device's addresses in the order
/// the kernel lists them until none is left (a deleted primary takes its secondaries).
pub fn addr_flush(nl: &mut Netlink, index: u32) -> Result<(), NlError> {
    loop {
        let Some(first) = addr_dump(nl)?.into_iter().find(|a| a.index == index) else {
            return Ok(());
        };
        addr_del(nl, index, first.addr)?;
    }
}

/// Every IPv4 address of the namespace, in the kernel's order.
pub fn addr_dump(nl: &mut Netlink) -> Result<Vec<RawAddr>, NlError> {
    let mut req = AddressMessage::default();
    req.header.family = AddressFamily::Inet;
    let msgs = nl.dump(RouteNetlinkMessage::GetAddress(req))?;
    let mut out = Vec::new();
    for m in msgs {
        let RouteNetlinkMessage::NewAddress(m) = m else { continue };
        if m.header.family != AddressFamily::Inet {
            continue;
        }
        let (mut local, mut address, mut broadcast, mut label) = (None, None, None, None);
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(IpAddr::V4(ip)) => local = Some(*ip),
                AddressAttribute::Address(IpAddr::V4(ip)) => address = Some(*ip),
                AddressAttribute::Broadcast(ip) => broadcast = Some(*ip),
                AddressAttribute::Label(l) => label = Some(l.clone()),
                _ => {}
            }
        }
        if let Some(ip) = local.or(address)
            && let Some(addr) = IfAddr::new(ip, m.header.prefix_len)
        {
            let broadcast = broadcast.is_some_and(|b| b == addr.network().broadcast());
            out.push(RawAddr { index: m.header.index, addr, broadcast, label });
        }
    }
    Ok(out)
}
