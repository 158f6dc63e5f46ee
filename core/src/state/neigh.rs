//! Permanent neighbour entries (`ip neigh add|replace|del ... nud permanent`): no ARP for
//! the address on the device, frames go to the entry's MAC. The kernel forgets every entry
//! of a device, permanent ones too, when the device goes down, loses its last IPv4 address,
//! leaves the namespace or is deleted (`neigh_ifdown`).

use std::net::Ipv4Addr;

use super::{LinkKind, Netns, State, missing_link};
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, Mac, NetnsName};
use crate::op::Effect;

impl State {
    pub(super) fn neigh_add(
        &mut self,
        netns: &NetnsName,
        dev: &IfName,
        ip: Ipv4Addr,
        mac: Mac,
        replace: bool,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        let key = ns.neigh_key(dev, ip).ok_or_else(|| missing_link(netns, dev))?;
        // A device without IPv4 configuration (`lo` with an MTU below 68) has no ARP.
        if ns.links.get(dev).is_some_and(|l| !l.ipv4) {
            return Err(OpError::new(ErrorKind::InvalidArgument, "add neighbour", ip)
                .detail(format!("{dev} has no IPv4 configuration (MTU below 68)")));
        }
        // On a loopback device the request's own address finds no entry (unless it is
        // 0.0.0.0), and the one it creates is the existing 0.0.0.0 entry: updated.
        if !replace && key.1 == ip && ns.neighbours.contains_key(&key) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add neighbour", ip)
                .detail(format!("already on {dev}")));
        }
        ns.neighbours.insert(key, mac);
        Ok(Effect::Done)
    }

    pub(super) fn neigh_del(
        &mut self,
        netns: &NetnsName,
        dev: &IfName,
        ip: Ipv4Addr,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        let key = ns.neigh_key(dev, ip).ok_or_else(|| missing_link(netns, dev))?;
        if key.1 != ip || ns.neighbours.remove(&key).is_none() {
            return Err(OpError::new(ErrorKind::NotFound, "delete neighbour", ip)
                .detail(format!("not on {dev}")));
        }
        Ok(Effect::Done)
    }
}

impl Netns {
    /// The key the kernel files an entry for `ip` on `dev` under: on a loopback device
    /// every entry is 0.0.0.0, the one address a lookup there uses. `None`: no such device.
    fn neigh_key(&self, dev: &IfName, ip: Ipv4Addr) -> Option<(IfName, Ipv4Addr)> {
        let link = self.links.get(dev)?;
        let ip = if link.kind == LinkKind::Loopback { Ipv4Addr::UNSPECIFIED } else { ip };
        Some((dev.clone(), ip))
    }

    /// The permanent entry for `ip` on `dev`, if there is one.
    pub fn neighbour(&self, dev: &IfName, ip: Ipv4Addr) -> Option<Mac> {
        if self.neighbours.is_empty() {
            return None;
        }
        self.neighbours.get(&(dev.clone(), ip)).copied()
    }

    /// The device went down, lost its last address or left: its entries go.
    pub(super) fn neigh_ifdown(&mut self, dev: &IfName) {
        self.neighbours.retain(|(d, _), _| d != dev);
    }
}
