//! IPv4 addresses and main-table routes through rtnetlink, as `ip addr` and `ip route` send
//! them, and the dumps `observe` reads.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use nettwin_core::addr::{Cidr, IfAddr};

use crate::netlink::{Netlink, NlError};

/// The main routing table (`RT_TABLE_MAIN`).
pub const RT_TABLE_MAIN: u32 = 254;

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

/// `ip addr add A/P dev INDEX`.
pub fn addr_add(nl: &mut Netlink, index: u32, addr: IfAddr) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::NewAddress(addr_msg(index, addr)), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip addr del A/P dev INDEX` (the prefix length must match, as with iproute2).
pub fn addr_del(nl: &mut Netlink, index: u32, addr: IfAddr) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::DelAddress(addr_msg(index, addr)), 0)
}

/// Every IPv4 address of the namespace as (ifindex, address).
pub fn addr_dump(nl: &mut Netlink) -> Result<Vec<(u32, IfAddr)>, NlError> {
    let mut req = AddressMessage::default();
    req.header.family = AddressFamily::Inet;
    let msgs = nl.dump(RouteNetlinkMessage::GetAddress(req))?;
    let mut out = Vec::new();
    for m in msgs {
        let RouteNetlinkMessage::NewAddress(m) = m else { continue };
        if m.header.family != AddressFamily::Inet {
            continue;
        }
        let mut local = None;
        let mut address = None;
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(IpAddr::V4(ip)) => local = Some(*ip),
                AddressAttribute::Address(IpAddr::V4(ip)) => address = Some(*ip),
                _ => {}
            }
        }
        if let Some(ip) = local.or(address)
            && let Some(a) = IfAddr::new(ip, m.header.prefix_len)
        {
            out.push((m.header.index, a));
        }
    }
    Ok(out)
}

/// A route to add or delete, with devices already resolved to ifindexes.
#[derive(Clone, Debug)]
pub struct RouteReq {
    /// Destination.
    pub dst: Cidr,
    /// Gateway.
    pub via: Option<Ipv4Addr>,
    /// Output device.
    pub oif: Option<u32>,
    /// Preferred source.
    pub src: Option<Ipv4Addr>,
}

fn route_msg(r: &RouteReq) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.destination_prefix_length = r.dst.prefix();
    m.header.table = RT_TABLE_MAIN as u8;
    m.header.kind = RouteType::Unicast;
    if r.dst.prefix() > 0 {
        m.attributes.push(RouteAttribute::Destination(RouteAddress::Inet(r.dst.ip())));
    }
    if let Some(gw) = r.via {
        m.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
    }
    if let Some(oif) = r.oif {
        m.attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(src) = r.src {
        m.attributes.push(RouteAttribute::PrefSource(RouteAddress::Inet(src)));
    }
    m
}

/// `ip route add ...`: protocol `boot` and scope as iproute2 chooses them (link without a
/// gateway, universe with one).
pub fn route_add(nl: &mut Netlink, r: &RouteReq) -> Result<(), NlError> {
    let mut m = route_msg(r);
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = if r.via.is_some() { RouteScope::Universe } else { RouteScope::Link };
    nl.request(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip route del ...`: fields not given match any route (scope `nowhere`, protocol 0).
pub fn route_del(nl: &mut Netlink, r: &RouteReq) -> Result<(), NlError> {
    let mut m = route_msg(r);
    m.header.protocol = RouteProtocol::Unspec;
    m.header.scope = RouteScope::NoWhere;
    nl.request(RouteNetlinkMessage::DelRoute(m), 0)
}

/// One main-table unicast IPv4 route as the kernel dumped it.
#[derive(Clone, Debug)]
pub struct RawRoute {
    /// Destination.
    pub dst: Cidr,
    /// Gateway.
    pub via: Option<Ipv4Addr>,
    /// Output device index.
    pub oif: Option<u32>,
    /// Preferred source.
    pub src: Option<Ipv4Addr>,
    /// Added by the kernel for an address (`proto kernel`).
    pub kernel: bool,
}

/// Dumps the main table's unicast IPv4 routes (other tables and types are left out, see
/// `observe`).
pub fn route_dump(nl: &mut Netlink) -> Result<Vec<RawRoute>, NlError> {
    let mut req = RouteMessage::default();
    req.header.address_family = AddressFamily::Inet;
    let msgs = nl.dump(RouteNetlinkMessage::GetRoute(req))?;
    let mut out = Vec::new();
    for m in msgs {
        let RouteNetlinkMessage::NewRoute(m) = m else { continue };
        if m.header.address_family != AddressFamily::Inet || m.header.kind != RouteType::Unicast {
            continue;
        }
        let mut table = u32::from(m.header.table);
        let mut dst = Ipv4Addr::UNSPECIFIED;
        let mut r = RawRoute {
            dst: Cidr::DEFAULT,
            via: None,
            oif: None,
            src: None,
            kernel: m.header.protocol == RouteProtocol::Kernel,
        };
        for a in &m.attributes {
            match a {
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = *ip,
                RouteAttribute::Gateway(RouteAddress::Inet(ip)) => r.via = Some(*ip),
                RouteAttribute::Oif(i) => r.oif = Some(*i),
                RouteAttribute::PrefSource(RouteAddress::Inet(ip)) => r.src = Some(*ip),
                _ => {}
            }
        }
        if table != RT_TABLE_MAIN {
            continue;
        }
        r.dst = Cidr::containing(dst, m.header.destination_prefix_length);
        out.push(r);
    }
    Ok(out)
}

/// Forgets the namespace's learned IPv4 neighbours (everything but permanent and no-ARP
/// entries), so that a probe neither waits behind an earlier probe's unanswered ARP nor
/// sees that probe's queued packets go out late.
pub fn neigh_flush(nl: &mut Netlink) -> Result<(), NlError> {
    use netlink_packet_route::neighbour::{
        NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
    };
    let mut req = NeighbourMessage::default();
    req.header.family = AddressFamily::Inet;
    for m in nl.dump(RouteNetlinkMessage::GetNeighbour(req))? {
        let RouteNetlinkMessage::NewNeighbour(n) = m else { continue };
        if matches!(n.header.state, NeighbourState::Permanent | NeighbourState::Noarp)
            || n.header.family != AddressFamily::Inet
        {
            continue;
        }
        let Some(dst) = n.attributes.iter().find_map(|a| match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => Some(*ip),
            _ => None,
        }) else {
            continue;
        };
        let mut del = NeighbourMessage::default();
        del.header.family = AddressFamily::Inet;
        del.header.ifindex = n.header.ifindex;
        del.attributes.push(NeighbourAttribute::Destination(NeighbourAddress::Inet(dst)));
        match nl.request(RouteNetlinkMessage::DelNeighbour(del), 0) {
            // Gone meanwhile (garbage collected): fine.
            Ok(()) | Err(NlError::Errno(libc::ENOENT)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The output device the kernel's routing picks for `dst` (`ip route get`), if any.
pub fn route_get(nl: &mut Netlink, dst: Ipv4Addr) -> Result<Option<u32>, NlError> {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.destination_prefix_length = 32;
    m.attributes.push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
    match nl.get(RouteNetlinkMessage::GetRoute(m)) {
        Ok(RouteNetlinkMessage::NewRoute(r)) => Ok(r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Oif(i) => Some(*i),
            _ => None,
        })),
        Ok(_) => Ok(None),
        Err(NlError::Errno(libc::ENETUNREACH | libc::EHOSTUNREACH)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The kernel's input route lookup for a packet from `src` to `dst` that came in through
/// device `iif` (`ip route get DST from SRC iif DEV`): `Ok` when it would be delivered or
/// forwarded, else the errno (EINVAL: a martian or reverse-path-filtered source;
/// EHOSTUNREACH: the device does not forward, or no route).
pub fn input_route_errno(
    nl: &mut Netlink,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    iif: u32,
) -> Result<Result<(), i32>, NlError> {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.destination_prefix_length = 32;
    m.header.source_prefix_length = 32;
    m.attributes.push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
    m.attributes.push(RouteAttribute::Source(RouteAddress::Inet(src)));
    m.attributes.push(RouteAttribute::Iif(iif));
    match nl.get(RouteNetlinkMessage::GetRoute(m)) {
        Ok(_) => Ok(Ok(())),
        Err(NlError::Errno(e)) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}
