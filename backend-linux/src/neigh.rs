//! IPv4 neighbour entries through rtnetlink: permanent entries as `ip neigh add|replace|del`
//! send them and `observe` reads them, and the flush of learned entries before a probe.

use std::net::Ipv4Addr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::netlink::{Netlink, NlError};

/// One permanent entry as the kernel reports it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RawNeigh {
    /// The device's ifindex.
    pub index: u32,
    /// The address.
    pub ip: Ipv4Addr,
    /// The link-layer address.
    pub mac: [u8; 6],
}

fn neigh_msg(index: u32, ip: Ipv4Addr) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.ifindex = index;
    m.attributes.push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    m
}

/// `ip neigh add|replace IP lladdr MAC dev INDEX nud permanent`.
pub fn neigh_add(
    nl: &mut Netlink,
    index: u32,
    ip: Ipv4Addr,
    mac: [u8; 6],
    replace: bool,
) -> Result<(), NlError> {
    let mut m = neigh_msg(index, ip);
    m.header.state = NeighbourState::Permanent;
    m.attributes.push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    let flags = NLM_F_CREATE | if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
    nl.request(RouteNetlinkMessage::NewNeighbour(m), flags)
}

/// `ip neigh del IP dev INDEX`.
pub fn neigh_del(nl: &mut Netlink, index: u32, ip: Ipv4Addr) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::DelNeighbour(neigh_msg(index, ip)), 0)
}

/// One dumped entry: ifindex, address, state and link-layer address.
type Entry = (u32, Ipv4Addr, NeighbourState, Vec<u8>);

/// Every IPv4 entry of the namespace.
fn dump(nl: &mut Netlink) -> Result<Vec<Entry>, NlError> {
    let mut req = NeighbourMessage::default();
    req.header.family = AddressFamily::Inet;
    let mut out = Vec::new();
    for m in nl.dump(RouteNetlinkMessage::GetNeighbour(req))? {
        let RouteNetlinkMessage::NewNeighbour(n) = m else { continue };
        if n.header.family != AddressFamily::Inet {
            continue;
        }
        let (mut dst, mut lladdr) = (None, Vec::new());
        for a in &n.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => dst = Some(*ip),
                NeighbourAttribute::LinkLayerAddress(l) => lladdr.clone_from(l),
                _ => {}
            }
        }
        if let Some(ip) = dst {
            out.push((n.header.ifindex, ip, n.header.state, lladdr));
        }
    }
    Ok(out)
}

/// The permanent entries (what `ip neigh add` made).
pub fn permanent(nl: &mut Netlink) -> Result<Vec<RawNeigh>, NlError> {
    Ok(dump(nl)?
        .into_iter()
        .filter(|(_, _, state, _)| *state == NeighbourState::Permanent)
        .filter_map(|(index, ip, _, l)| Some(RawNeigh { index, ip, mac: l.try_into().ok()? }))
        .collect())
}

/// Forgets the namespace's learned IPv4 neighbours (everything but permanent and no-ARP
/// entries), so that a probe neither waits behind an earlier probe's unanswered ARP nor
/// sees that probe's queued packets go out late.
pub fn flush_learned(nl: &mut Netlink) -> Result<(), NlError> {
    for (index, ip, state, _) in dump(nl)? {
        if matches!(state, NeighbourState::Permanent | NeighbourState::Noarp) {
            continue;
        }
        match neigh_del(nl, index, ip) {
            // Gone meanwhile (garbage collected): fine.
            Ok(()) | Err(NlError::Errno(libc::ENOENT)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
