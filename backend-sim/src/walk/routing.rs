//! Routing: the decision for a packet (the kernel's lookup through its policy rules and
//! tables, `Netns::decide`), the source address a socket gets from it, and the routing
//! hop of a walk, which names the route (and the rule that chose its table).
//!
//! A socket that connects (TCP, the probe's UDP) looks its route up twice
//! (`ip_route_connect`): once without a source, to pick one, and again with it, which is
//! the route the packet takes; so a `from` rule can send a connection out of another
//! device than the one its source came from. A raw ICMP socket's send looks up once, with
//! the source it is bound to (none when unbound).

use std::net::Ipv4Addr;

use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::state::{Decision, Route, RouteQuery, SpecialKind};

use crate::topo::NsTopo;
use nettwin_core::trace::{Dir, Outcome, SendErrno, Silence, Step};

use super::{End, Pkt, Walk};

/// Where routing sends a packet.
pub(crate) enum Via {
    /// To this namespace (the local table).
    Local,
    /// Out through a unicast route.
    Route(Route),
}

/// The source address a socket gets for `dst` when it does not bind one: what the lookup
/// without a source decides.
pub(crate) fn source_for(topo: &NsTopo, dst: Ipv4Addr) -> Option<Ipv4Addr> {
    let ns = topo.netns();
    match topo.decide(&RouteQuery::output(dst, None)) {
        Decision::Local => ns.local_source(dst),
        Decision::Route(r, _) => ns.source_for(r, dst),
        _ => None,
    }
}

/// The query for `pkt` in a namespace: received through `iif`, or sent by the namespace
/// itself (`None`).
fn query<'a>(pkt: &Pkt, iif: Option<&'a IfName>) -> RouteQuery<'a> {
    let src = if pkt.unbound { None } else { Some(pkt.flow.src.ip) };
    RouteQuery { dst: pkt.flow.dst.ip, src, iif, oif: None, mark: pkt.mark }
}

impl Walk<'_> {
    /// The routing hop of `pkt` in `ns` (received through `iif`, or sent by `ns` itself):
    /// the decision, recorded as a hop. A route that sends nothing ends the walk: for what
    /// the namespace sends itself the socket call fails (`blackhole` EINVAL and
    /// `unreachable` EHOSTUNREACH are no route, `prohibit` is EACCES); for a packet being
    /// forwarded the router answers ICMP unreachable (no route), except for `blackhole`,
    /// which drops it silently.
    pub(super) fn route_hop(
        &mut self,
        ns: &NetnsName,
        pkt: &Pkt,
        iif: Option<&IfName>,
    ) -> Result<Via, End> {
        let topo = self.ns_topo(ns);
        let dst = pkt.flow.dst.ip;
        let no_route = || End::of(Outcome::NoRoute { netns: ns.clone(), dst });
        let (via, step) = match topo.decide(&query(pkt, iif)) {
            Decision::Local => (Via::Local, Step::Local),
            Decision::Route(r, rule) => {
                (Via::Route(r.clone()), Step::Route { route: r.clone(), rule: rule.cloned() })
            }
            Decision::Special(s, rule) => {
                let step = Step::Discard { route: Some(s.clone()), rule: rule.cloned() };
                self.hop(ns, None, Dir::Stack, pkt, step)?;
                return Err(self.discarded(ns, s.kind, iif.is_some(), no_route()));
            }
            Decision::Rule(rule) => {
                let kind = match rule.action {
                    nettwin_core::state::RuleAction::Blackhole => SpecialKind::Blackhole,
                    nettwin_core::state::RuleAction::Prohibit => SpecialKind::Prohibit,
                    _ => SpecialKind::Unreachable,
                };
                let step = Step::Discard { route: None, rule: Some(rule.clone()) };
                self.hop(ns, None, Dir::Stack, pkt, step)?;
                return Err(self.discarded(ns, kind, iif.is_some(), no_route()));
            }
            Decision::None => return Err(no_route()),
        };
        self.hop(ns, None, Dir::Stack, pkt, step)?;
        Ok(via)
    }

    /// How a walk ends at a route (or rule) of `kind` that sends nothing; `no_route` is
    /// the no-route end of this namespace.
    fn discarded(&self, ns: &NetnsName, kind: SpecialKind, forwarding: bool, no_route: End) -> End {
        match (kind, forwarding) {
            (SpecialKind::Blackhole, true) => End::timed_out(ns, Silence::Blackhole),
            (SpecialKind::Prohibit, false) if matches!(self.mode, super::Mode::Probe) => {
                End::of(Outcome::SendFailed { netns: ns.clone(), errno: SendErrno::Access })
            }
            _ => no_route,
        }
    }
}
