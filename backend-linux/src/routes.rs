//! IPv4 routes through rtnetlink, as `ip route` sends them, the dump `observe` reads, and
//! the kernel's route lookups (`ip route get`) the probes ask for.

use std::net::Ipv4Addr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use nettwin_core::addr::Cidr;
use nettwin_core::state::{RouteTable, SpecialKind};

use crate::netlink::{Netlink, NlError};

/// A route to add, replace or delete, with devices already resolved to ifindexes.
#[derive(Clone, Debug)]
pub struct RouteReq {
    /// A special type (`blackhole`, ...); `None` for unicast.
    pub kind: Option<SpecialKind>,
    /// Destination.
    pub dst: Cidr,
    /// Gateway.
    pub via: Option<Ipv4Addr>,
    /// Output device.
    pub oif: Option<u32>,
    /// Preferred source.
    pub src: Option<Ipv4Addr>,
    /// The table (`main` when `None`).
    pub table: Option<RouteTable>,
    /// `metric N`.
    pub metric: Option<u32>,
    /// `scope`, when given.
    pub scope: Option<nettwin_core::state::RouteScope>,
    /// `onlink`.
    pub onlink: bool,
}

fn route_type(kind: Option<SpecialKind>) -> RouteType {
    match kind {
        None => RouteType::Unicast,
        Some(SpecialKind::Blackhole) => RouteType::BlackHole,
        Some(SpecialKind::Unreachable) => RouteType::Unreachable,
        Some(SpecialKind::Prohibit) => RouteType::Prohibit,
        Some(SpecialKind::Throw) => RouteType::Throw,
    }
}

/// The table as iproute2 sends it: in the header below 256, else in `RTA_TABLE`.
fn set_table(m: &mut RouteMessage, table: RouteTable) {
    match u8::try_from(table.0) {
        Ok(t) => m.header.table = t,
        Err(_) => {
            m.header.table = 0;
            m.attributes.push(RouteAttribute::Table(table.0));
        }
    }
}

fn route_msg(r: &RouteReq) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.destination_prefix_length = r.dst.prefix();
    set_table(&mut m, r.table.unwrap_or(RouteTable::MAIN));
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
    if let Some(metric) = r.metric {
        m.attributes.push(RouteAttribute::Priority(metric));
    }
    if r.onlink {
        m.header.flags |= RouteFlags::Onlink;
    }
    m
}

/// A route to add or replace: protocol `boot`, and the scope iproute2 chooses unless one
/// is given (link for a unicast route without a gateway, universe otherwise).
fn new_route_msg(r: &RouteReq) -> RouteMessage {
    let mut m = route_msg(r);
    m.header.protocol = RouteProtocol::Boot;
    m.header.kind = route_type(r.kind);
    m.header.scope = match r.scope {
        Some(nettwin_core::state::RouteScope::Link) => RouteScope::Link,
        Some(nettwin_core::state::RouteScope::Global) => RouteScope::Universe,
        None if r.kind.is_none() && r.via.is_none() => RouteScope::Link,
        None => RouteScope::Universe,
    };
    m
}

/// `ip route add ...`.
pub fn route_add(nl: &mut Netlink, r: &RouteReq) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::NewRoute(new_route_msg(r)), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip route replace ...`.
pub fn route_replace(nl: &mut Netlink, r: &RouteReq) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::NewRoute(new_route_msg(r)), NLM_F_CREATE | NLM_F_REPLACE)
}

/// `ip route del ...`: fields not given match any route (type unspecified unless given,
/// scope `nowhere`, protocol 0).
pub fn route_del(nl: &mut Netlink, r: &RouteReq) -> Result<(), NlError> {
    let mut m = route_msg(r);
    m.header.protocol = RouteProtocol::Unspec;
    m.header.scope = RouteScope::NoWhere;
    m.header.kind = if r.kind.is_some() { route_type(r.kind) } else { RouteType::Unspec };
    nl.request(RouteNetlinkMessage::DelRoute(m), 0)
}

/// One IPv4 route as the kernel dumped it (any table but `local`).
#[derive(Clone, Debug)]
pub struct RawRoute {
    /// `None` for unicast, else the special type.
    pub kind: Option<SpecialKind>,
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
    /// The table.
    pub table: RouteTable,
    /// The metric (`RTA_PRIORITY`).
    pub metric: u32,
    /// Link scope (else universe).
    pub link_scope: bool,
    /// `onlink`.
    pub onlink: bool,
}

/// Dumps the IPv4 routes of every table but `local`, of the types the model has (unicast,
/// blackhole, unreachable, prohibit, throw; see `observe`).
pub fn route_dump(nl: &mut Netlink) -> Result<Vec<RawRoute>, NlError> {
    let mut req = RouteMessage::default();
    req.header.address_family = AddressFamily::Inet;
    let msgs = nl.dump(RouteNetlinkMessage::GetRoute(req))?;
    let mut out = Vec::new();
    for m in msgs {
        let RouteNetlinkMessage::NewRoute(m) = m else { continue };
        let kind = match m.header.kind {
            RouteType::Unicast => None,
            RouteType::BlackHole => Some(SpecialKind::Blackhole),
            RouteType::Unreachable => Some(SpecialKind::Unreachable),
            RouteType::Prohibit => Some(SpecialKind::Prohibit),
            RouteType::Throw => Some(SpecialKind::Throw),
            _ => continue,
        };
        if m.header.address_family != AddressFamily::Inet {
            continue;
        }
        let mut table = u32::from(m.header.table);
        let mut dst = Ipv4Addr::UNSPECIFIED;
        let mut r = RawRoute {
            kind,
            dst: Cidr::DEFAULT,
            via: None,
            oif: None,
            src: None,
            kernel: m.header.protocol == RouteProtocol::Kernel,
            table: RouteTable::MAIN,
            metric: 0,
            link_scope: m.header.scope == RouteScope::Link,
            onlink: m.header.flags.contains(RouteFlags::Onlink),
        };
        for a in &m.attributes {
            match a {
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = *ip,
                RouteAttribute::Gateway(RouteAddress::Inet(ip)) => r.via = Some(*ip),
                RouteAttribute::Oif(i) => r.oif = Some(*i),
                RouteAttribute::PrefSource(RouteAddress::Inet(ip)) => r.src = Some(*ip),
                RouteAttribute::Priority(p) => r.metric = *p,
                _ => {}
            }
        }
        if table == RouteTable::LOCAL.0 {
            continue;
        }
        r.table = RouteTable(table);
        r.dst = Cidr::containing(dst, m.header.destination_prefix_length);
        out.push(r);
    }
    Ok(out)
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
