//! Routing: the decision for a destination (the local table first, then the longest
//! prefix match of the main table), the source address a socket gets from it, and the
//! routing hop of a walk.

use std::net::Ipv4Addr;

use nettwin_core::names::NetnsName;
use nettwin_core::state::{Netns, Route};
use nettwin_core::trace::{Dir, Outcome, Step};

use super::{End, Pkt, Walk};
use crate::topo::NsTopo;

/// Where routing sends a packet.
pub(crate) enum Via {
    /// To this namespace (the local table).
    Local,
    /// Out through a route of the main table.
    Route(Route),
}

/// The routing decision for `dst`: the local table first, then the longest prefix match.
pub(crate) fn route(ns: &Netns, topo: &NsTopo, dst: Ipv4Addr) -> Option<Via> {
    if topo.is_local(dst) {
        return Some(Via::Local);
    }
    ns.lookup(dst).cloned().map(Via::Route)
}

/// The source address a socket gets for `dst` when it does not bind one.
pub(crate) fn source_for(ns: &Netns, topo: &NsTopo, dst: Ipv4Addr) -> Option<Ipv4Addr> {
    match route(ns, topo, dst)? {
        Via::Local => ns.local_source(dst),
        Via::Route(r) => ns.source_for(&r, dst),
    }
}

impl Walk<'_> {
    pub(super) fn route_hop(&mut self, ns: &NetnsName, pkt: &Pkt) -> Result<Via, End> {
        let netns = self.netns(ns)?;
        let Some(via) = route(netns, self.ns_topo(ns), pkt.flow.dst.ip) else {
            return Err(End::of(Outcome::NoRoute { netns: ns.clone(), dst: pkt.flow.dst.ip }));
        };
        let step = match &via {
            Via::Local => Step::Local,
            Via::Route(r) => Step::Route { route: r.clone() },
        };
        self.hop(ns, None, Dir::Stack, pkt, step)?;
        Ok(via)
    }
}
