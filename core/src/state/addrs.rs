//! Addresses: add and delete (primaries and secondaries), and the source address the
//! kernel selects. Connected routes follow primary addresses on up links (`routing`);
//! removing a link's last address flushes every route through it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{Link, LinkKind, Netns, Route, RouteId, RouteProto, State, missing_link};
use crate::addr::IfAddr;
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, NetnsName};
use crate::op::{AddrOpts, Effect};

impl State {
    pub(super) fn addr_add(
        &mut self,
        netns: &NetnsName,
        dev: &IfName,
        addr: IfAddr,
        opts: &AddrOpts,
    ) -> Result<Effect, OpError> {
        // iproute2 resolves the device's name first; then the kernel's attribute policy
        // refuses a label over IFNAMSIZ - 1 bytes before anything else.
        let link = self.ns(netns)?.links.get(dev).ok_or_else(|| missing_link(netns, dev))?;
        if let Some(label) = opts.label.as_ref().filter(|l| l.len() > 15) {
            return Err(OpError::new(ErrorKind::InvalidArgument, "add address", addr)
                .detail(format!("label {label:?} is longer than 15 bytes")));
        }
        if !link.ipv4 {
            return Err(OpError::new(ErrorKind::NoBufferSpace, "add address", addr)
                .detail(format!("{dev} has no IPv4 configuration (MTU below 68)")));
        }
        if link.addrs.contains(&addr) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add address", addr)
                .detail(format!("already on {dev}")));
        }
        // The request marks every IPv4 setting of the device written (`rtm_to_ifa`), even
        // for the address 0.0.0.0, which is accepted and dropped (`__inet_insert_ifa`).
        let ns = self.ns_mut(netns)?;
        if let Some(link) = ns.links.get_mut(dev) {
            link.conf.mark_written();
        }
        if addr.ip.is_unspecified() {
            return Ok(Effect::Done);
        }
        let seq = self.take_order();
        let ns = self.ns_mut(netns)?;
        ns.addr_seq.insert((dev.clone(), addr), seq);
        let Some(link) = ns.links.get_mut(dev) else { return Err(missing_link(netns, dev)) };
        let primary = !link.addrs.iter().any(|a| same_subnet(a, &addr));
        link.addrs.push(addr);
        // iproute2 sends `brd +` only for prefixes up to /30; a label equal to the
        // device's name is no label.
        let kept = AddrOpts {
            broadcast: opts.broadcast && addr.prefix <= 30,
            label: opts.label.clone().filter(|l| l != dev.as_str()),
        };
        if !kept.is_default() {
            link.addr_opts.insert(addr, kept);
        }
        ns.local_table = true;
        let (up, loopback) = (link.up, link.kind == LinkKind::Loopback);
        if up && primary && !loopback && addr.prefix < 32 && !addr.ip.is_multicast() {
            ns.insert_connected(dev, addr);
        }
        if up && primary && loopback && addr.prefix < 32 && !ns.lo_nets.contains(&addr.network()) {
            ns.lo_nets.push(addr.network());
        }
        ns.addresses_changed();
        Ok(Effect::Done)
    }

    pub(super) fn addr_del(
        &mut self,
        netns: &NetnsName,
        dev: &IfName,
        addr: IfAddr,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        let link = ns.links.get_mut(dev).ok_or_else(|| missing_link(netns, dev))?;
        let Some(pos) = link.addrs.iter().position(|a| *a == addr) else {
            return Err(OpError::new(ErrorKind::NotFound, "delete address", addr)
                .detail(format!("not on {dev}")));
        };
        let primary = !link.addrs[..pos].iter().any(|a| same_subnet(a, &addr));
        // Without promote_secondaries (the default), deleting a primary deletes its
        // secondaries too.
        let removed: Vec<IfAddr> = if primary {
            link.addrs.iter().copied().filter(|a| same_subnet(a, &addr)).collect()
        } else {
            vec![addr]
        };
        link.addrs.retain(|a| !removed.contains(a));
        link.addr_opts.retain(|a, _| !removed.contains(a));
        let none_left = link.addrs.is_empty();
        if primary && link.kind == LinkKind::Loopback {
            ns.lo_nets.retain(|n| *n != addr.network());
        }
        if none_left {
            ns.flush_routes_via(dev);
            ns.neigh_ifdown(dev);
        } else {
            let net = addr.network();
            ns.routes.retain(|r| {
                !(primary && r.proto == RouteProto::Kernel && &r.dev == dev && r.dst == net)
            });
        }
        // Routes preferring a source address that is gone go too.
        let gone: Vec<Ipv4Addr> =
            removed.iter().map(|a| a.ip).filter(|ip| !ns.is_local(*ip)).collect();
        ns.routes.retain(|r| r.src.is_none_or(|s| !gone.contains(&s)));
        ns.addresses_changed();
        Ok(Effect::Done)
    }
}

impl State {
    /// `ip addr flush dev DEV`: iproute2 deletes the addresses one by one, in order (a
    /// primary takes its secondaries with it), until none is left.
    pub(super) fn addr_flush(
        &mut self,
        netns: &NetnsName,
        dev: &IfName,
    ) -> Result<Effect, OpError> {
        loop {
            let link = self.ns(netns)?.links.get(dev).ok_or_else(|| missing_link(netns, dev))?;
            let Some(first) = link.addrs.first().copied() else { return Ok(Effect::Done) };
            self.addr_del(netns, dev, first)?;
        }
    }
}

/// How far an address picked for a route must reach (`inet_select_addr`'s scope).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AddrScope {
    /// Anywhere (routes with a gateway, MASQUERADE): global addresses only.
    Universe,
    /// On the link (routes without a gateway, ARP requests).
    Link,
}

/// The primary addresses among a link's addresses (in order): each first of its subnet.
pub(super) fn primaries(addrs: &[IfAddr]) -> Vec<IfAddr> {
    let mut out: Vec<IfAddr> = Vec::new();
    for a in addrs {
        if !out.iter().any(|p| same_subnet(p, a)) {
            out.push(*a);
        }
    }
    out
}

/// Whether two addresses on one device share a subnet (same prefix length and network),
/// which makes the later one a secondary.
fn same_subnet(a: &IfAddr, b: &IfAddr) -> bool {
    a.prefix == b.prefix && a.network() == b.network()
}

impl Netns {
    /// The source address the kernel picks for traffic sent through `route` to `dst`:
    /// the route's `src`, else the route's cached selection (`route_src`), else
    /// `select_address` on its device towards its gateway, at universe scope for a route
    /// with a gateway and link scope without one.
    pub fn source_for(&self, route: &Route, _dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if let Some(src) = route.src {
            return Some(src);
        }
        match self.route_src.get(&route.id()) {
            Some(cached) => *cached,
            None => self.select_source(route),
        }
    }

    /// An address of the namespace changed: the kernel's cached route sources are
    /// recomputed (see `route_src`).
    pub(super) fn addresses_changed(&mut self) {
        let fresh: BTreeMap<RouteId, Option<Ipv4Addr>> = self
            .routes
            .iter()
            .filter(|r| r.src.is_none())
            .map(|r| (r.id(), self.select_source(r)))
            .collect();
        self.route_src = fresh;
    }

    /// `inet_select_addr` for a route, now (see `source_for`).
    pub(super) fn select_source(&self, route: &Route) -> Option<Ipv4Addr> {
        let scope = if route.via.is_some() { AddrScope::Universe } else { AddrScope::Link };
        self.select_address(&route.dev, route.via, scope)
    }

    /// The address the kernel picks on `dev` for traffic towards `dst` (`inet_select_addr`):
    /// a primary address of `dev` on `dst`'s network, else its first primary address; else
    /// the first global primary address of the namespace's devices in device-list order
    /// (`Link::order`, `lo` first); else none (0.0.0.0). A 127.0.0.0/8 address is
    /// host-scoped: never for `Universe`, for `Link` only on a device with `route_localnet`,
    /// and never from another device.
    pub fn select_address(
        &self,
        dev: &IfName,
        dst: Option<Ipv4Addr>,
        scope: AddrScope,
    ) -> Option<Ipv4Addr> {
        if let Some(link) = self.links.get(dev) {
            let localnet = self.route_localnet(dev.as_str());
            let usable = |a: &IfAddr| !a.ip.is_loopback() || (scope == AddrScope::Link && localnet);
            let prims: Vec<IfAddr> = primaries(&link.addrs).into_iter().filter(usable).collect();
            let own = match dst {
                Some(d) => prims.iter().find(|a| a.network().contains(d)).or(prims.first()),
                None => prims.first(),
            };
            if let Some(a) = own {
                return Some(a.ip);
            }
        }
        let mut devices: Vec<&Link> = self.links.values().collect();
        devices.sort_by_key(|l| l.order);
        devices
            .into_iter()
            .find_map(|l| primaries(&l.addrs).into_iter().find(|a| !a.ip.is_loopback()))
            .map(|a| a.ip)
    }
}
