//! Routing: the main table (add, delete, connected routes following primary addresses on
//! up links, flushes when a link goes down), the local routes of the namespace's own
//! addresses, and the lookups the kernel makes: the route for a destination, where a
//! gateway leads, the next hop.

use std::net::Ipv4Addr;

use super::addrs::primaries;
use super::{
    LinkKind, Netns, Route, RouteProto, RouteScope, RouteTable, RuleAction, SpecialRoute, State,
    missing_link,
};
use crate::addr::{Cidr, IfAddr};
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, NetnsName};
use crate::op::{Effect, RouteSpec};

impl State {
    pub(super) fn route_add(
        &mut self,
        netns: &NetnsName,
        spec: &RouteSpec,
    ) -> Result<Effect, OpError> {
        let entry = self.ns(netns)?.checked_route(netns, spec, "add route")?;
        let ns = self.ns(netns)?;
        if ns.has_route_at(spec.table(), spec.dst, spec.metric.unwrap_or(0)) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add route", spec));
        }
        self.ns_mut(netns)?.insert_route(entry, None);
        Ok(Effect::Done)
    }

    /// `ip route replace`: the route of the same table, prefix and metric gives way to
    /// this one (in its place), or this one is added.
    pub(super) fn route_replace(
        &mut self,
        netns: &NetnsName,
        spec: &RouteSpec,
    ) -> Result<Effect, OpError> {
        let entry = self.ns(netns)?.checked_route(netns, spec, "replace route")?;
        let ns = self.ns_mut(netns)?;
        let (table, metric) = (spec.table(), spec.metric.unwrap_or(0));
        let unicast = ns
            .routes
            .iter()
            .position(|r| r.table == table && r.dst == spec.dst && r.metric == metric);
        let special = ns
            .special_routes
            .iter()
            .position(|r| r.table == table && r.dst == spec.dst && r.metric == metric);
        // The first route of that prefix and metric gives way: a special one when there
        // is one (it is older than any unicast one, see `table_lookup`).
        match (unicast, special) {
            (Some(i), None) => {
                ns.routes.remove(i);
                ns.insert_route(entry, Some(i));
            }
            (_, Some(i)) => {
                // The new route takes the special one's place: before the routes of that
                // prefix and metric the kernel appended after it.
                ns.special_routes.remove(i);
                let at = match &entry {
                    NewRoute::Special(_) => Some(i),
                    NewRoute::Unicast { .. } => ns
                        .routes
                        .iter()
                        .position(|r| r.table == table && r.dst == spec.dst && r.metric == metric),
                };
                ns.insert_route(entry, at);
            }
            (None, None) => ns.insert_route(entry, None),
        }
        Ok(Effect::Done)
    }

    pub(super) fn route_del(
        &mut self,
        netns: &NetnsName,
        spec: &RouteSpec,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        let table = spec.table();
        // Metric 0 is the kernel's "any" (`fc_priority` unset), given or not.
        let metric = spec.metric.filter(|m| *m != 0);
        let nexthop_given = spec.via.is_some() || spec.dev.is_some() || spec.src.is_some();
        // The kernel keeps a prefix's routes sorted by metric and deletes the first match.
        let unicast = ns
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.table == table
                    && r.dst == spec.dst
                    && spec.kind.is_none()
                    && metric.is_none_or(|m| r.metric == m)
                    && spec.via.is_none_or(|v| r.via == Some(v))
                    && spec.dev.as_ref().is_none_or(|d| &r.dev == d)
                    && spec.src.is_none_or(|s| r.src == Some(s))
            })
            .min_by_key(|(_, r)| r.metric)
            .map(|(i, r)| (i, r.metric));
        let special = ns
            .special_routes
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.table == table
                    && r.dst == spec.dst
                    && !nexthop_given
                    && spec.kind.is_none_or(|k| r.kind == k)
                    && metric.is_none_or(|m| r.metric == m)
            })
            .min_by_key(|(_, r)| r.metric)
            .map(|(i, r)| (i, r.metric));
        match (unicast, special) {
            (Some((i, m)), Some((_, n))) if m <= n => {
                ns.routes.remove(i);
            }
            (_, Some((j, _))) => {
                ns.special_routes.remove(j);
            }
            (Some((i, _)), None) => {
                ns.routes.remove(i);
            }
            (None, None) => return Err(OpError::new(ErrorKind::NotFound, "delete route", spec)),
        }
        Ok(Effect::Done)
    }
}

/// A route checked and ready to go into its table.
pub(super) enum NewRoute {
    Unicast { route: Route, host_scope: bool },
    Special(SpecialRoute),
}

impl RouteSpec {
    /// The table the route goes in (`main` unless given).
    pub fn table(&self) -> RouteTable {
        self.table.unwrap_or(RouteTable::MAIN)
    }
}

impl Netns {
    /// Whether `table` holds a route (of any kind) to `dst` with `metric`: the kernel
    /// keeps one per table, prefix and metric.
    fn has_route_at(&self, table: RouteTable, dst: Cidr, metric: u32) -> bool {
        self.routes.iter().any(|r| r.table == table && r.dst == dst && r.metric == metric)
            || self
                .special_routes
                .iter()
                .any(|r| r.table == table && r.dst == dst && r.metric == metric)
    }

    /// The kernel's checks of a route to add (`fib_create_info`), and the route.
    fn checked_route(
        &self,
        netns: &NetnsName,
        spec: &RouteSpec,
        what: &'static str,
    ) -> Result<NewRoute, OpError> {
        let object = || spec.to_string();
        let invalid = |why: &str| {
            Err(OpError::new(ErrorKind::InvalidArgument, what, object()).detail(why.to_owned()))
        };
        let table = spec.table();
        let metric = spec.metric.unwrap_or(0);
        if let Some(kind) = spec.kind {
            if spec.via.is_some() || spec.dev.is_some() {
                return invalid("a route of this type takes no gateway and no device");
            }
            return Ok(NewRoute::Special(SpecialRoute { dst: spec.dst, kind, table, metric }));
        }
        if let Some(src) = spec.src
            && !self.is_local(src)
        {
            return invalid(&format!("{src} is not a local address"));
        }
        let has_ipv4 = |dev: &IfName| self.links.get(dev).is_some_and(|l| l.ipv4);
        let scope = spec.scope.unwrap_or(if spec.via.is_some() {
            RouteScope::Global
        } else {
            RouteScope::Link
        });
        let (dev, host_scope) = match (&spec.via, &spec.dev) {
            (_, Some(dev)) if !self.links.contains_key(dev) => {
                return Err(missing_link(netns, dev));
            }
            (Some(_), None) if spec.onlink => {
                return invalid("onlink needs a device");
            }
            (Some(via), Some(dev)) if spec.onlink => {
                // The gateway is taken to be on the link; it must not be the namespace's
                // own, nor a broadcast or multicast address.
                if scope == RouteScope::Link {
                    return invalid("a gateway at scope link");
                }
                // The device must be up before the gateway is looked at.
                if self.links.get(dev).is_some_and(|l| !l.up) {
                    return Err(OpError::new(ErrorKind::LinkDown, what, object())
                        .detail(format!("{dev} is down")));
                }
                if self.is_local(*via)
                    || via.is_multicast()
                    || via.is_broadcast()
                    || self.broadcast_route(*via)
                {
                    return invalid(&format!("gateway {via} is not a unicast address"));
                }
                if !has_ipv4(dev) {
                    return Err(missing_link(netns, dev));
                }
                (dev.clone(), false)
            }
            (Some(via), dev) => {
                // The kernel looks the gateway up at link scope (see `gateway_link`) before
                // it checks the device: one without IPv4 has no routes, so the gateway is
                // unreachable through it. At scope link only a local gateway is found.
                let found = self.gateway_link(*via, dev.as_ref(), table);
                let (l, local) = match found {
                    Ok((_, false)) if scope == RouteScope::Link => {
                        return Err(OpError::new(ErrorKind::Unreachable, what, object())
                            .detail(format!("gateway {via} is not a local address (scope link)")));
                    }
                    Ok(found) => found,
                    Err(kind) => {
                        return Err(OpError::new(kind, what, object())
                            .detail(format!("gateway {via} is not on a connected network")));
                    }
                };
                if !has_ipv4(l) {
                    return Err(missing_link(netns, l));
                }
                (l.clone(), local)
            }
            (None, Some(dev)) if !has_ipv4(dev) => return Err(missing_link(netns, dev)),
            (None, Some(dev)) => (dev.clone(), false),
            (None, None) => return invalid("a route needs a gateway or a device"),
        };
        if self.links.get(&dev).is_some_and(|l| !l.up) {
            return Err(
                OpError::new(ErrorKind::LinkDown, what, object()).detail(format!("{dev} is down"))
            );
        }
        let route = Route {
            dst: spec.dst,
            via: spec.via,
            dev,
            src: spec.src,
            proto: RouteProto::Static,
            table,
            metric,
            scope,
            onlink: spec.onlink,
        };
        Ok(NewRoute::Unicast { route, host_scope })
    }

    /// Puts a checked route in its table, at `at` of its list (else at the end), with the
    /// kernel's caches about it.
    fn insert_route(&mut self, entry: NewRoute, at: Option<usize>) {
        match entry {
            NewRoute::Special(r) => {
                let i = at.unwrap_or(self.special_routes.len()).min(self.special_routes.len());
                self.special_routes.insert(i, r);
            }
            NewRoute::Unicast { route, host_scope } => {
                let id = route.id();
                if route.src.is_none() {
                    let src = self.select_source(&route);
                    self.route_src.insert(id.clone(), src);
                }
                if host_scope {
                    self.host_scope_gateways.insert(id);
                } else {
                    self.host_scope_gateways.remove(&id);
                }
                let i = at.unwrap_or(self.routes.len()).min(self.routes.len());
                self.routes.insert(i, route);
            }
        }
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
            table: RouteTable::MAIN,
            metric: 0,
            scope: RouteScope::Link,
            onlink: false,
        };
        if !self.routes.contains(&route) {
            self.routes.push(route);
        }
    }

    /// Removes every route whose device is `dev` (the link went down or away).
    pub(super) fn flush_routes_via(&mut self, dev: &IfName) {
        self.routes.retain(|r| &r.dev != dev);
    }

    /// The unicast route of the main table the kernel would pick for `dst` when nothing
    /// but the default rules exist (see `decide` for the whole lookup).
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&Route> {
        self.decide(&super::RouteQuery::output(dst, None)).route()
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
    /// belongs to and its preferred source. Until the first policy rule (`tables_merged`)
    /// the kernel keeps its local and main tables in one tree and takes the longest prefix
    /// over both (local first on a tie); after it, the local table alone decides first: an address of a link is a /32 local route (its preferred source is the primary
    /// address of its subnet on that link, itself when it is a primary; of two links with
    /// the same address, the one that got it first); an address in one of `lo_nets`
    /// matches that network's local route on `lo` (preferred source: lo's primary address
    /// of the network) unless a main route with a longer prefix covers it.
    pub fn local_route(&self, ip: Ipv4Addr) -> Option<(&IfName, Ipv4Addr)> {
        self.local_candidates(ip)
            .into_iter()
            .max_by_key(|c| c.prefix)
            .filter(|c| {
                c.prefix == 32
                    || !self.tables_merged
                    || self
                        .table_lookup(RouteTable::MAIN, ip)
                        .is_none_or(|e| e.prefix() <= c.prefix)
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
    /// `dev` when given; for a route of another table, that table's routes without a
    /// gateway first): the longest prefix among the local routes (then the route goes
    /// through the link holding the address, and is on-link: packets go to their
    /// destination, see `next_hop`) and the main routes without a gateway, local first on
    /// a tie, else the oldest; once rules exist, the rules decide. An error is the kernel's
    /// (no route: unreachable; a rule's own action). Of two links with the
    /// gateway's address, the local route of the one that got it first is found, unless
    /// `dev` names the other (the lookup skips nexthops on other devices, and finds that
    /// link's local route alias, which exists whether the link is up or not).
    pub fn gateway_link(
        &self,
        gw: Ipv4Addr,
        dev: Option<&IfName>,
        table: RouteTable,
    ) -> Result<(&IfName, bool), ErrorKind> {
        // A route for another table looks its gateway up in that table first.
        if table != RouteTable::MAIN
            && let Some((_, d)) = self.link_scope_route(table, gw, dev)
        {
            return Ok((d, false));
        }
        if self.tables_merged {
            let local = self.local_gateway(gw, dev);
            let main = self.link_scope_route(RouteTable::MAIN, gw, dev);
            return match (local, main) {
                (Some(l), Some(m)) if m.0 > l.0 => Ok((m.1, false)),
                (Some(l), _) => Ok((l.1, true)),
                (None, Some(m)) => Ok((m.1, false)),
                (None, None) => Err(ErrorKind::Unreachable),
            };
        }
        // The rules decide, as for any lookup from the namespace itself (towards `dev`).
        let q = super::RouteQuery { dst: gw, src: None, iif: None, oif: dev, mark: 0 };
        for rule in self.rules.iter().filter(|r| r.matches(&q)) {
            match rule.action {
                RuleAction::Lookup(RouteTable::LOCAL) => {
                    if let Some((_, d)) = self.local_gateway(gw, dev) {
                        return Ok((d, true));
                    }
                }
                RuleAction::Lookup(t) => {
                    if let Some((_, d)) = self.link_scope_route(t, gw, dev) {
                        return Ok((d, false));
                    }
                }
                RuleAction::Blackhole => return Err(ErrorKind::InvalidArgument),
                RuleAction::Unreachable => return Err(ErrorKind::Unreachable),
                RuleAction::Prohibit => return Err(ErrorKind::PermissionDenied),
            }
        }
        Err(ErrorKind::Unreachable)
    }

    /// The longest link-scope route of `table` (a route without a gateway, unless it was
    /// given `scope global`) to `gw`, on `dev` when given: (prefix, device).
    fn link_scope_route(
        &self,
        table: RouteTable,
        gw: Ipv4Addr,
        dev: Option<&IfName>,
    ) -> Option<(u8, &IfName)> {
        self.routes
            .iter()
            .filter(|r| {
                r.table == table
                    && r.scope == RouteScope::Link
                    && r.dst.contains(gw)
                    && dev.is_none_or(|d| *d == r.dev)
            })
            .fold(None::<&Route>, |b, r| match b {
                Some(b) if b.dst.prefix() >= r.dst.prefix() => Some(b),
                _ => Some(r),
            })
            .map(|r| (r.dst.prefix(), &r.dev))
    }

    /// The local route a gateway is found in: (prefix, the link holding the address).
    fn local_gateway(&self, gw: Ipv4Addr, dev: Option<&IfName>) -> Option<(u8, &IfName)> {
        let exact_on_dev = dev
            .and_then(|d| self.links.get_key_value(d))
            .filter(|(_, l)| l.addrs.iter().any(|a| a.ip == gw))
            .map(|(name, _)| (32, name));
        self.local_candidates(gw)
            .into_iter()
            .filter(|c| dev.is_none_or(|d| d == c.link))
            .max_by_key(|c| c.prefix)
            .map(|c| (c.prefix, c.link))
            .or(exact_on_dev)
    }

    /// The next hop of a packet to `dst` through `route`: its gateway, unless the gateway
    /// was an address of this namespace when the route was added (the kernel gave such a
    /// nexthop host scope and sends on-link, to the destination itself).
    pub fn next_hop(&self, route: &Route, dst: Ipv4Addr) -> Ipv4Addr {
        match route.via {
            Some(gw) if !self.host_scope_gateways.contains(&route.id()) => gw,
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
