//! Routing: the main table (add, delete, connected routes following primary addresses on
//! up links, flushes when a link goes down), the local routes of the namespace's own
//! addresses, and the lookups the kernel makes: the route for a destination, where a
//! gateway leads, the next hop.

use std::net::Ipv4Addr;

use super::addrs::primaries;
use super::{LinkKind, Netns, Route, RouteProto, State, missing_link};
use crate::addr::IfAddr;
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, NetnsName};
use crate::op::{Effect, RouteSpec};

impl State {
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

impl Netns {
    /// Whether `ip` has a broadcast route in the local table: the broadcast address of a
    /// primary address's subnet, a /30 or wider, on a link that is up (the kernel adds
    /// them when the link comes up; there is none for the network address, nor for a /31
    /// or /32). 255.255.255.255 is a broadcast wherever a route covers it.
    pub fn broadcast_route(&self, ip: Ipv4Addr) -> bool {
        self.links.values().any(|l| {
            l.up && primaries(&l.addrs)
                .iter()
                .any(|a| a.prefix <= 30 && !a.ip.is_multicast() && a.network().broadcast() == ip)
        })
    }

    /// Adds the connected routes of a link's primary addresses (the link just came up).
    pub(super) fn add_connected_routes(&mut self, dev: &IfName) {
        let Some(link) = self.links.get(dev) else { return };
        if link.kind == LinkKind::Loopback {
            return;
        }
        for a in primaries(&link.addrs) {
            // A multicast address gets its local route but no prefix route.
            if a.prefix < 32 && !a.ip.is_multicast() {
                self.insert_connected(dev, a);
            }
        }
    }

    pub(super) fn insert_connected(&mut self, dev: &IfName, addr: IfAddr) {
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

    /// Whether the kernel's route lookup for `ip` ends in a local route (see
    /// `local_route`): an address of any link, up or down, or an address in one of
    /// `lo_nets` that no longer main route covers.
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        self.local_route(ip).is_some()
    }

    /// The local route `ip` matches, if the kernel's lookup ends in one: the link it
    /// belongs to and its preferred source. Without policy rules the kernel keeps its local
    /// and main tables in one tree and takes the longest prefix over both (local first on a
    /// tie): an address of a link is a /32 local route (its preferred source is the primary
    /// address of its subnet on that link, itself when it is a primary; of two links with
    /// the same address, the one that got it first); an address in one of `lo_nets`
    /// matches that network's local route on `lo` (preferred source: lo's primary address
    /// of the network) unless a main route with a longer prefix covers it.
    pub fn local_route(&self, ip: Ipv4Addr) -> Option<(&IfName, Ipv4Addr)> {
        self.local_candidates(ip)
            .into_iter()
            .max_by_key(|c| c.prefix)
            .filter(|c| {
                c.prefix == 32 || self.lookup(ip).is_none_or(|r| r.dst.prefix() <= c.prefix)
            })
            .map(|c| (c.link, c.src))
    }

    /// The local routes that cover `ip`: the first-added exact address (/32), and the
    /// longest of `lo_nets` containing it.
    fn local_candidates(&self, ip: Ipv4Addr) -> Vec<LocalRoute<'_>> {
        let same = |a: &IfAddr, b: &IfAddr| a.prefix == b.prefix && a.network() == b.network();
        let mut out = Vec::new();
        let exact = self
            .links
            .iter()
            .filter_map(|(name, l)| {
                let a = l.addrs.iter().find(|a| a.ip == ip)?;
                let prim = l.addrs.iter().find(|p| same(p, a)).map_or(a.ip, |p| p.ip);
                let seq = self.addr_seq.get(&(name.clone(), *a)).copied().unwrap_or(0);
                Some((seq, LocalRoute { link: name, src: prim, prefix: 32 }))
            })
            .min_by_key(|(seq, _)| *seq);
        out.extend(exact.map(|(_, r)| r));
        let lo = self.links.iter().find(|(_, l)| l.kind == LinkKind::Loopback);
        if let (Some(net), Some((name, lo))) =
            (self.lo_nets.iter().filter(|n| n.contains(ip)).max_by_key(|n| n.prefix()), lo)
            && let Some(prim) =
                lo.addrs.iter().find(|a| a.prefix == net.prefix() && a.network() == *net)
        {
            out.push(LocalRoute { link: name, src: prim.ip, prefix: net.prefix() });
        }
        out
    }

    /// Where a route's gateway leads (`fib_check_nh`'s lookup at link scope, restricted to
    /// `dev` when given): the longest prefix among the local routes (then the route goes
    /// through the link holding the address, and is on-link: packets go to their
    /// destination, see `next_hop`) and the main routes without a gateway, local first on
    /// a tie, else the oldest. `None`: the gateway is unreachable. Of two links with the
    /// gateway's address, the local route of the one that got it first is found, unless
    /// `dev` names the other (the lookup skips nexthops on other devices, and finds that
    /// link's local route alias, which exists whether the link is up or not).
    pub fn gateway_link(&self, gw: Ipv4Addr, dev: Option<&IfName>) -> Option<(&IfName, bool)> {
        let on_dev = |l: &IfName| dev.is_none_or(|d| d == l);
        let exact_on_dev = dev
            .and_then(|d| self.links.get_key_value(d))
            .filter(|(_, l)| l.addrs.iter().any(|a| a.ip == gw))
            .map(|(name, _)| (32, name, true));
        let local = self
            .local_candidates(gw)
            .into_iter()
            .filter(|c| on_dev(c.link))
            .max_by_key(|c| c.prefix)
            .map(|c| (c.prefix, c.link, true))
            .or(exact_on_dev);
        let main = self
            .routes
            .iter()
            .filter(|r| r.via.is_none() && r.dst.contains(gw) && on_dev(&r.dev))
            .fold(None::<&Route>, |b, r| match b {
                Some(b) if b.dst.prefix() >= r.dst.prefix() => Some(b),
                _ => Some(r),
            })
            .map(|r| (r.dst.prefix(), &r.dev, false));
        match (local, main) {
            (Some(l), Some(m)) if m.0 > l.0 => Some((m.1, m.2)),
            (Some(l), _) => Some((l.1, l.2)),
            (None, m) => m.map(|m| (m.1, m.2)),
        }
    }

    /// The next hop of a packet to `dst` through `route`: its gateway, unless the gateway
    /// was an address of this namespace when the route was added (the kernel gave such a
    /// nexthop host scope and sends on-link, to the destination itself).
    pub fn next_hop(&self, route: &Route, dst: Ipv4Addr) -> Ipv4Addr {
        match route.via {
            Some(gw) if !self.host_scope_gateways.contains(&(route.dst, route.dev.clone())) => gw,
            _ => dst,
        }
    }

    /// The source address the kernel gives a socket that sends to local address `ip`:
    /// the preferred source of its local route (see `local_route`).
    pub fn local_source(&self, ip: Ipv4Addr) -> Option<Ipv4Addr> {
        self.local_route(ip).map(|(_, src)| src)
    }
    /// Routes in a canonical order: by destination (address, then prefix length), then
    /// by the rest of the route.
    pub fn routes_sorted(&self) -> Vec<&Route> {
        let mut v: Vec<&Route> = self.routes.iter().collect();
        v.sort();
        v
    }
}

/// A local route covering an address (see `Netns::local_route`).
struct LocalRoute<'a> {
    link: &'a IfName,
    src: Ipv4Addr,
    prefix: u8,
}
