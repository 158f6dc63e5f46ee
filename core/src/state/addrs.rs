//! Addresses and the main routing table, with the kernel's coupling between them: connected
//! routes follow primary addresses on up links; removing a link's last address, or taking
//! the link down, flushes every route through it.

use std::net::Ipv4Addr;

use super::{LinkKind, Netns, Route, RouteProto, State, missing_link};
use crate::addr::IfAddr;
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
        let ns = self.ns_mut(netns)?;
        let link = ns.links.get_mut(dev).ok_or_else(|| missing_link(netns, dev))?;
        if link.addrs.contains(&addr) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add address", addr)
                .detail(format!("already on {dev}")));
        }
        let primary = !link.addrs.iter().any(|a| same_subnet(a, &addr));
        link.addrs.push(addr);
        let (up, loopback) = (link.up, link.kind == LinkKind::Loopback);
        if up && primary && !loopback && addr.prefix < 32 {
            ns.insert_connected(dev, addr);
        }
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
        let dev = match (&spec.via, &spec.dev) {
            (_, Some(dev)) if !ns.links.contains_key(dev) => return Err(missing_link(netns, dev)),
            (Some(via), dev) => {
                let onlink =
                    ns.routes.iter().filter(|r| r.via.is_none()).filter(|r| {
                        r.dst.contains(*via) && dev.as_ref().is_none_or(|d| d == &r.dev)
                    });
                let Some(r) = onlink.max_by_key(|r| r.dst.prefix()) else {
                    return Err(OpError::new(ErrorKind::Unreachable, "add route", object())
                        .detail(format!("gateway {via} is not on a connected network")));
                };
                r.dev.clone()
            }
            (None, Some(dev)) => dev.clone(),
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
        self.ns_mut(netns)?.routes.push(route);
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
        let mut primaries: Vec<IfAddr> = Vec::new();
        for a in &link.addrs {
            if a.prefix < 32 && !primaries.iter().any(|p| same_subnet(p, a)) {
                primaries.push(*a);
            }
        }
        for a in primaries {
            self.insert_connected(dev, a);
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

    /// The source address the kernel picks for traffic out of `dev` towards `dst`: the
    /// route's `src`, else the primary address of `dev` in dst's subnet, else its first
    /// primary address, else any address of the namespace.
    pub fn source_for(&self, route: &Route, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if let Some(src) = route.src {
            return Some(src);
        }
        let link = self.links.get(&route.dev)?;
        let target = route.via.unwrap_or(dst);
        link.addrs
            .iter()
            .find(|a| a.network().contains(target))
            .or_else(|| link.addrs.first())
            .map(|a| a.ip)
            .or_else(|| {
                self.links
                    .values()
                    .filter(|l| l.kind != LinkKind::Loopback)
                    .flat_map(|l| l.addrs.first())
                    .map(|a| a.ip)
                    .next()
            })
    }

    /// Routes in a canonical order: by destination (address, then prefix length), then
    /// by the rest of the route.
    pub fn routes_sorted(&self) -> Vec<&Route> {
        let mut v: Vec<&Route> = self.routes.iter().collect();
        v.sort();
        v
    }
}
