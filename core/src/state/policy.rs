//! Policy routing: the rules (`ip rule`) and the decision a route lookup makes with them.
//!
//! The kernel walks its rules in priority order; a rule whose selectors match the packet
//! either ends the lookup (`blackhole`, `unreachable`, `prohibit`) or looks a table up: a
//! unicast route there ends the lookup, a `throw` route or no route at all goes on with
//! the next rule. The table lookup is the longest prefix, then the lowest metric, then the
//! oldest route. Until the first rule is added the kernel keeps the local and main tables
//! in one tree (`tables_merged`), which only makes a difference for `lo`'s networks (see
//! `Netns::local_route`). Each fact is pinned on the kernel by the op cases and by
//! scenarios/library/policy-routing.yaml.

use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::{Netns, Route, RouteTable, SpecialKind, SpecialRoute, State};
use crate::addr::Cidr;
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, NetnsName};
use crate::op::{Effect, RuleSpec};

/// What a rule does when it matches.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase", tag = "action", content = "table")]
pub enum RuleAction {
    /// `lookup TABLE` (also spelled `table TABLE`).
    Lookup(RouteTable),
    /// `blackhole`: the packet is discarded.
    Blackhole,
    /// `unreachable`.
    Unreachable,
    /// `prohibit`.
    Prohibit,
}

/// One rule of the routing policy.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct RoutingRule {
    /// `priority N` (`pref`, `order`): lower first.
    pub priority: u32,
    /// `not`: the selectors' match is inverted.
    pub not: bool,
    /// `from PREFIX`: the source address.
    pub from: Option<Cidr>,
    /// `to PREFIX`: the destination address.
    pub to: Option<Cidr>,
    /// `iif DEV`: the input device (`lo` for what the namespace sends itself).
    pub iif: Option<IfName>,
    /// `oif DEV`: the output device a socket is bound to.
    pub oif: Option<IfName>,
    /// `fwmark VALUE/MASK`: the packet's mark under the mask.
    pub fwmark: Option<(u32, u32)>,
    /// What it does.
    pub action: RuleAction,
    /// One of the kernel's own (`proto kernel`): a new namespace's three. A rule added
    /// by a command is never equal to one of them, so `from all lookup main pref 32766`
    /// can be added a second time.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub kernel: bool,
}

impl RoutingRule {
    /// The rules a new namespace has: `0: from all lookup local`, `32766: from all lookup
    /// main`, `32767: from all lookup default`.
    pub fn defaults() -> Vec<RoutingRule> {
        [(0, RouteTable::LOCAL), (32766, RouteTable::MAIN), (32767, RouteTable::DEFAULT)]
            .into_iter()
            .map(|(priority, t)| RoutingRule {
                priority,
                not: false,
                from: None,
                to: None,
                iif: None,
                oif: None,
                fwmark: None,
                action: RuleAction::Lookup(t),
                kernel: true,
            })
            .collect()
    }

    /// Whether the rule's selectors match `q` (before `not`).
    fn selects(&self, q: &RouteQuery<'_>) -> bool {
        let lo = crate::static_name!(IfName, "lo");
        let iif = q.iif.unwrap_or(&lo);
        self.from.is_none_or(|p| p.prefix() == 0 || q.src.is_some_and(|s| p.contains(s)))
            && self.to.is_none_or(|p| p.contains(q.dst))
            && self.iif.as_ref().is_none_or(|d| d == iif)
            && self.oif.as_ref().is_none_or(|d| q.oif == Some(d))
            && self.fwmark.is_none_or(|(v, m)| q.mark & m == v)
    }

    /// Whether the rule applies to `q`.
    pub fn matches(&self, q: &RouteQuery<'_>) -> bool {
        self.selects(q) != self.not
    }
}

/// `ip rule show`'s form: `100:\tfrom 10.0.0.0/24 lookup 100`.
impl fmt::Display for RoutingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:\t", self.priority)?;
        if self.not {
            f.write_str("not ")?;
        }
        // A /32 prints as the bare address, as `ip rule` does.
        let prefix = |p: Cidr| if p.prefix() == 32 { p.ip().to_string() } else { p.to_string() };
        match self.from {
            Some(p) if p.prefix() > 0 => write!(f, "from {}", prefix(p))?,
            _ => f.write_str("from all")?,
        }
        if let Some(p) = self.to {
            write!(f, " to {}", prefix(p))?;
        }
        if let Some((v, m)) = self.fwmark {
            if m == u32::MAX {
                write!(f, " fwmark {v:#x}")?
            } else {
                write!(f, " fwmark {v:#x}/{m:#x}")?
            }
        }
        if let Some(d) = &self.iif {
            write!(f, " iif {d}")?;
        }
        if let Some(d) = &self.oif {
            write!(f, " oif {d}")?;
        }
        match self.action {
            RuleAction::Lookup(t) => write!(f, " lookup {t}"),
            RuleAction::Blackhole => f.write_str(" blackhole"),
            RuleAction::Unreachable => f.write_str(" unreachable"),
            RuleAction::Prohibit => f.write_str(" prohibit"),
        }
    }
}

/// What a route lookup is about: the kernel's flow key.
#[derive(Clone, Copy, Debug)]
pub struct RouteQuery<'a> {
    /// The destination.
    pub dst: Ipv4Addr,
    /// The source, when already known (a bound socket, a packet being forwarded).
    pub src: Option<Ipv4Addr>,
    /// The input device of a packet being received; `None` for what the namespace sends
    /// itself (the kernel says `lo`).
    pub iif: Option<&'a IfName>,
    /// The device a sending socket is bound to.
    pub oif: Option<&'a IfName>,
    /// The packet's mark.
    pub mark: u32,
}

impl RouteQuery<'_> {
    /// The lookup for a packet the namespace sends to `dst` from `src`.
    pub fn output(dst: Ipv4Addr, src: Option<Ipv4Addr>) -> RouteQuery<'static> {
        RouteQuery { dst, src, iif: None, oif: None, mark: 0 }
    }
}

/// What a route lookup decided.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decision<'a> {
    /// The destination is the namespace's own (the local table).
    Local,
    /// Out through this route.
    Route(&'a Route, Option<&'a RoutingRule>),
    /// A blackhole, unreachable or prohibit route (a `throw` route only sends the lookup
    /// on; when no later rule decides, that is `None`).
    Special(&'a SpecialRoute, Option<&'a RoutingRule>),
    /// A rule's own action (`blackhole`, `unreachable`, `prohibit`).
    Rule(&'a RoutingRule),
    /// No route (the kernel's ENETUNREACH).
    None,
}

impl<'a> Decision<'a> {
    /// The unicast route, if that is what was decided.
    pub fn route(&self) -> Option<&'a Route> {
        match self {
            Decision::Route(r, _) => Some(r),
            _ => None,
        }
    }
}

/// The best entry of one table for a destination: a unicast or a special route.
#[derive(Clone, Copy)]
pub(super) enum Entry<'a> {
    Unicast(&'a Route),
    Special(&'a SpecialRoute),
}

impl Entry<'_> {
    fn rank(&self) -> (u8, std::cmp::Reverse<u32>) {
        match self {
            Entry::Unicast(r) => (r.dst.prefix(), std::cmp::Reverse(r.metric)),
            Entry::Special(r) => (r.dst.prefix(), std::cmp::Reverse(r.metric)),
        }
    }

    /// The prefix length of the entry.
    pub(super) fn prefix(&self) -> u8 {
        self.rank().0
    }
}

impl Netns {
    /// The route lookup the kernel makes for `q` (see the module docs).
    pub fn decide(&self, q: &RouteQuery<'_>) -> Decision<'_> {
        self.decide_with(q, |ip| self.is_local(ip))
    }

    /// `decide`, with the local-table lookup given (`is_local` must answer as
    /// `Netns::is_local` does; a simulator passes its own index of the addresses).
    pub fn decide_with(
        &self,
        q: &RouteQuery<'_>,
        is_local: impl Fn(Ipv4Addr) -> bool,
    ) -> Decision<'_> {
        if self.tables_merged {
            // Only the default rules exist: local and main in one tree, then default.
            if is_local(q.dst) {
                return Decision::Local;
            }
            for table in [RouteTable::MAIN, RouteTable::DEFAULT] {
                match self.table_lookup(table, q.dst) {
                    Some(Entry::Unicast(r)) => return Decision::Route(r, None),
                    Some(Entry::Special(s)) if s.kind != SpecialKind::Throw => {
                        return Decision::Special(s, None);
                    }
                    _ => {}
                }
            }
            return Decision::None;
        }
        for rule in self.rules.iter().filter(|r| r.matches(q)) {
            let shown = (!is_default(rule)).then_some(rule);
            match rule.action {
                RuleAction::Lookup(RouteTable::LOCAL) => {
                    if is_local(q.dst) {
                        return Decision::Local;
                    }
                }
                RuleAction::Lookup(table) => match self.table_lookup(table, q.dst) {
                    Some(Entry::Unicast(r)) => return Decision::Route(r, shown),
                    Some(Entry::Special(s)) if s.kind != SpecialKind::Throw => {
                        return Decision::Special(s, shown);
                    }
                    _ => {}
                },
                RuleAction::Blackhole | RuleAction::Unreachable | RuleAction::Prohibit => {
                    return Decision::Rule(rule);
                }
            }
        }
        Decision::None
    }

    /// The best entry of `table` for `dst`: longest prefix, then lowest metric, then the
    /// oldest. A special route is always older than a unicast route of its prefix and
    /// metric: a command cannot add either over the other (EEXIST), the kernel appends the
    /// connected routes of a new address after what is there, and `replace` takes the
    /// first one's place.
    pub(super) fn table_lookup(&self, table: RouteTable, dst: Ipv4Addr) -> Option<Entry<'_>> {
        let unicast = self
            .routes
            .iter()
            .filter(|r| r.table == table && r.dst.contains(dst))
            .map(Entry::Unicast);
        let special = self
            .special_routes
            .iter()
            .filter(|r| r.table == table && r.dst.contains(dst))
            .map(Entry::Special);
        special.chain(unicast).fold(None, |best: Option<Entry<'_>>, e| match best {
            Some(b) if b.rank() >= e.rank() => Some(b),
            _ => Some(e),
        })
    }
}

/// Whether `rule` is one of a new namespace's own (not worth naming in a trace).
fn is_default(rule: &RoutingRule) -> bool {
    rule.kernel
}

impl State {
    pub(super) fn rule_add(
        &mut self,
        netns: &NetnsName,
        spec: &RuleSpec,
    ) -> Result<Effect, OpError> {
        let ns = self.ns(netns)?;
        let priority = spec.priority.unwrap_or_else(|| default_priority(&ns.rules));
        let rule = RoutingRule {
            priority,
            not: spec.not,
            // A /0 selects everything: the kernel keeps no prefix for it.
            from: spec.from.filter(|p| p.prefix() > 0),
            to: spec.to.filter(|p| p.prefix() > 0),
            iif: spec.iif.clone(),
            oif: spec.oif.clone(),
            fwmark: spec.fwmark,
            action: spec.action.unwrap_or(RuleAction::Lookup(RouteTable::MAIN)),
            kernel: false,
        };
        // The kernel's `rule_exists` compares every field, but a source or destination
        // prefix only when the new rule has one: a rule without `from` exists already if
        // one with a `from` and otherwise the same does.
        let exists = ns.rules.iter().any(|r| {
            let wild =
                RoutingRule { from: rule.from.or(r.from), to: rule.to.or(r.to), ..rule.clone() };
            *r == wild
        });
        if exists {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add rule", spec));
        }
        let ns = self.ns_mut(netns)?;
        let at = ns.rules.iter().position(|r| r.priority > priority).unwrap_or(ns.rules.len());
        ns.rules.insert(at, rule);
        ns.tables_merged = false;
        Ok(Effect::Done)
    }

    pub(super) fn rule_del(
        &mut self,
        netns: &NetnsName,
        spec: &RuleSpec,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        let pos = ns.rules.iter().position(|r| {
            spec.priority.is_none_or(|p| r.priority == p)
                && (!spec.not || r.not)
                && spec.from.is_none_or(|p| r.from == Some(p))
                && spec.to.is_none_or(|p| r.to == Some(p))
                && spec.iif.as_ref().is_none_or(|d| r.iif.as_ref() == Some(d))
                && spec.oif.as_ref().is_none_or(|d| r.oif.as_ref() == Some(d))
                && spec.fwmark.is_none_or(|m| r.fwmark == Some(m))
                && spec.action.is_none_or(|a| r.action == a)
        });
        let Some(pos) = pos else {
            return Err(OpError::new(ErrorKind::NotFound, "delete rule", spec));
        };
        // The kernel lets the local table's rule go (and then delivers nothing); the
        // model takes that rule as permanent.
        if ns.rules[pos].action == RuleAction::Lookup(RouteTable::LOCAL) {
            return Err(OpError::new(ErrorKind::NotSupported, "delete rule", spec)
                .detail("nettwin keeps the local table's rule (deleting it is not modeled)"));
        }
        ns.rules.remove(pos);
        // Deleting a rule splits the local and main tables too (`fib4_rule_delete`).
        ns.tables_merged = false;
        Ok(Effect::Done)
    }
}

/// The priority the kernel gives a rule added without one (`fib_default_rule_pref`): one
/// less than the second rule's (32765 at first, as the second is `main`'s), else 0.
fn default_priority(rules: &[RoutingRule]) -> u32 {
    rules.get(1).map_or(0, |r| r.priority.saturating_sub(1))
}
