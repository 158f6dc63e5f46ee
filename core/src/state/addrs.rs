//! Addresses and the main routing table, with the kernel's coupling between them: connected
//! routes follow primary addresses on up links; removing a link's last address, or taking
//! the link down, flushes every route through it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{Link, LinkKind, Netns, Route, RouteProto, State, missing_link};
use crate::addr::{Cidr, IfAddr};
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, NetnsName};
use crate::op::{Effect, RouteSpec};

impl State {
    pub(super) fn addr_add(
        &mut self,
        netns: &NetnsName,
        dev: &IfName,
        addr: IfAddr,
    ) -> Result<Effect, OpError> {
        let link = self.ns(netns)?.links.get(dev).ok_or_else(|| missing_link(netns, dev))?;
        if !link.ipv4 {
            return Err(OpError::new(ErrorKind::NoBufferSpace, "add address", addr)
                .detail(format!("{dev} has no IPv4 configuration (MTU below 68)")));
        }
        if link.addrs.contains(&addr) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add address", addr)
                .detail(format!("already on {dev}")));
        }
        let seq = self.take_order();
        let ns = self.ns_mut(netns)?;
        ns.addr_seq.insert((dev.clone(), addr), seq);
        let Some(link) = ns.links.get_mut(dev) else { return Err(missing_link(netns, dev)) };
        let primary = !link.addrs.iter().any(|a| same_subnet(a, &addr));
        link.addrs.push(addr);
        ns.local_table = true;
        let (up, loopback) = (link.up, link.kind == LinkKind::Loopback);
        if up && primary && !loopback && addr.prefix < 32 {
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
        let none_left = link.addrs.is_empty();
        if primary && link.kind == LinkKind::Loopback {
            ns.lo_nets.retain(|n| *n != addr.network());
        }
        if none_left {
            ns.flush_routes_via(dev);
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

    pub(super) fn route_add(
        &mut self,
        netns: &NetnsName,
        spec: &RouteSpec,
    ) -> Result<Effect, OpError> {
        let ns = self.ns(netns)?;
        let object = || spec.to_string();
        if let Some(src) = spec.src
            && !ns.is_local(src)
        {
            return Err(OpError::new(ErrorKind::InvalidArgument, "add route", object())
                .detail(format!("{src} is not a local address")));
        }
        let has_ipv4 = |dev: &IfName| ns.links.get(dev).is_some_and(|l| l.ipv4);
        let (dev, host_scope) = match (&spec.via, &spec.dev) {
            (_, Some(dev)) if !ns.links.contains_key(dev) => {
                return Err(missing_link(netns, dev));
            }
            (Some(via), dev) => {
                // The kernel looks the gateway up at link scope (see `gateway_link`) before
                // it checks the device: one without IPv4 has no routes, so the gateway is
                // unreachable through it.
                let Some((l, local)) = ns.gateway_link(*via, dev.as_ref()) else {
                    return Err(OpError::new(ErrorKind::Unreachable, "add route", object())
                        .detail(format!("gateway {via} is not on a connected network")));
                };
                if !has_ipv4(l) {
                    return Err(missing_link(netns, l));
                }
                (l.clone(), local)
            }
            (None, Some(dev)) if !has_ipv4(dev) => return Err(missing_link(netns, dev)),
            (None, Some(dev)) => (dev.clone(), false),
            (None, None) => {
                return Err(OpError::new(ErrorKind::InvalidArgument, "add route", object())
                    .detail("a route needs a gateway or a device"));
            }
        };
        if ns.links.get(&dev).is_some_and(|l| !l.up) {
            return Err(OpError::new(ErrorKind::LinkDown, "add route", object())
                .detail(format!("{dev} is down")));
        }
        if ns.routes.iter().any(|r| r.dst == spec.dst) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add route", object()));
        }
        let route =
            Route { dst: spec.dst, via: spec.via, dev, src: spec.src, proto: RouteProto::Static };
        let ns = self.ns_mut(netns)?;
        if route.src.is_none() {
            let src = ns.select_source(&route);
            ns.route_src.insert((route.dst, route.dev.clone()), src);
        }
        let key = (route.dst, route.dev.clone());
        if host_scope {
            ns.host_scope_gateways.insert(key);
        } else {
            ns.host_scope_gateways.remove(&key);
        }
        ns.routes.push(route);
        Ok(Effect::Done)
    }

    pub(super) fn route_del(
        &mut self,
        netns: &NetnsName,
        spec: &RouteSpec,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        let pos = ns.routes.iter().position(|r| {
            r.dst == spec.dst
                && spec.via.is_none_or(|v| r.via == Some(v))
                && spec.dev.as_ref().is_none_or(|d| &r.dev == d)
                && spec.src.is_none_or(|s| r.src == Some(s))
        });
        let Some(pos) = pos else {
            return Err(OpError::new(ErrorKind::NotFound, "delete route", spec));
        };
        ns.routes.remove(pos);
        Ok(Effect::Done)
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
    /// Adds the connected routes of a link's primary addresses (the link just came up).
    pub(super) fn add_connected_routes(&mut self, dev: &IfName) {
        let Some(link) = self.links.get(dev) else { return };
        if link.kind == LinkKind::Loopback {
            return;
        }
        for a in primaries(&link.addrs) {
            if a.prefix < 32 {
                self.insert_connected(dev, a);
            }
        }
    }

    fn insert_connected(&mut self, dev: &IfName, addr: IfAddr) {
        let route = Route {
            dst: addr.network(),
            via: None,
            dev: dev.clone(),
            src: Some(addr.ip),
            proto: RouteProto::Kernel,
        };
        if !self.routes.contains(&route) {
            self.routes.push(route);
        }
    }

    /// Removes every route whose device is `dev` (the link went down or away).
    pub(super) fn flush_routes_via(&mut self, dev: &IfName) {
        self.routes.retain(|r| &r.dev != dev);
    }

    /// The route the kernel would pick for `dst`: longest prefix first, then the oldest.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&Route> {
        let mut best: Option<&Route> = None;
        for r in &self.routes {
            if r.dst.contains(dst) && best.is_none_or(|b| r.dst.prefix() > b.dst.prefix()) {
                best = Some(r);
            }
        }
        best
    }

    /// Whether `dst` is on a network of one of the link's addresses.
    pub fn on_link(&self, dev: &IfName, dst: Ipv4Addr) -> bool {
        self.links.get(dev).is_some_and(|l| l.addrs.iter().any(|a| a.network().contains(dst)))
    }

    /// The source address the kernel picks for traffic sent through `route` to `dst`:
    /// the route's `src`, else the route's cached selection (`route_src`), else
    /// `select_address` on its device towards its gateway, at universe scope for a route
    /// with a gateway and link scope without one.
    pub fn source_for(&self, route: &Route, _dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if let Some(src) = route.src {
            return Some(src);
        }
        match self.route_src.get(&(route.dst, route.dev.clone())) {
            Some(cached) => *cached,
            None => self.select_source(route),
        }
    }

    /// An address of the namespace changed: the kernel's cached route sources are
    /// recomputed (see `route_src`).
    pub(super) fn addresses_changed(&mut self) {
        let fresh: BTreeMap<(Cidr, IfName), Option<Ipv4Addr>> = self
            .routes
            .iter()
            .filter(|r| r.src.is_none())
            .map(|r| ((r.dst, r.dev.clone()), self.select_source(r)))
            .collect();
        self.route_src = fresh;
    }

    /// `inet_select_addr` for a route, now (see `source_for`).
    fn select_source(&self, route: &Route) -> Option<Ipv4Addr> {
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
            let usable = |a: &IfAddr| {
                !a.ip.is_loopback() || (scope == AddrScope::Link && link.route_localnet)
            };
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

    /// Routes in a canonical order: by destination (address, then prefix length), then
    /// by the rest of the route.
    pub fn routes_sorted(&self) -> Vec<&Route> {
        let mut v: Vec<&Route> = self.routes.iter().collect();
        v.sort();
        v
    }
}
