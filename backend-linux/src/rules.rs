//! Routing policy rules through rtnetlink, as `ip rule add|del` sends them, and the dump
//! `observe` reads.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::RouteProtocol;
use netlink_packet_route::rule::{RuleAction as NlAction, RuleAttribute, RuleFlags, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use nettwin_core::addr::Cidr;
use nettwin_core::names::IfName;
use nettwin_core::op::RuleSpec;
use nettwin_core::state::{RouteTable, RoutingRule, RuleAction};

use crate::netlink::{Netlink, NlError};

/// The message for a rule: what is given, as iproute2 sends it (`add` gets `lookup main`
/// when no action is given; a `del` without one matches any).
fn rule_msg(r: &RuleSpec, add: bool) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = AddressFamily::Inet;
    if r.not {
        m.header.flags |= RuleFlags::Invert;
    }
    if let Some(p) = r.from {
        m.header.src_len = p.prefix();
        m.attributes.push(RuleAttribute::Source(IpAddr::V4(p.ip())));
    }
    if let Some(p) = r.to {
        m.header.dst_len = p.prefix();
        m.attributes.push(RuleAttribute::Destination(IpAddr::V4(p.ip())));
    }
    if let Some(d) = &r.iif {
        m.attributes.push(RuleAttribute::Iifname(d.to_string()));
    }
    if let Some(d) = &r.oif {
        m.attributes.push(RuleAttribute::Oifname(d.to_string()));
    }
    if let Some((v, mask)) = r.fwmark {
        m.attributes.push(RuleAttribute::FwMark(v));
        m.attributes.push(RuleAttribute::FwMask(mask));
    }
    if let Some(p) = r.priority {
        m.attributes.push(RuleAttribute::Priority(p));
    }
    let action =
        if add { Some(r.action.unwrap_or(RuleAction::Lookup(RouteTable::MAIN))) } else { r.action };
    match action {
        Some(RuleAction::Lookup(t)) => {
            m.header.action = NlAction::ToTable;
            match u8::try_from(t.0) {
                Ok(small) => m.header.table = small,
                Err(_) => m.attributes.push(RuleAttribute::Table(t.0)),
            }
        }
        Some(RuleAction::Blackhole) => m.header.action = NlAction::Blackhole,
        Some(RuleAction::Unreachable) => m.header.action = NlAction::Unreachable,
        Some(RuleAction::Prohibit) => m.header.action = NlAction::Prohibit,
        None => {}
    }
    m
}

/// `ip rule add ...`.
pub fn rule_add(nl: &mut Netlink, r: &RuleSpec) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::NewRule(rule_msg(r, true)), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip rule del ...`.
pub fn rule_del(nl: &mut Netlink, r: &RuleSpec) -> Result<(), NlError> {
    nl.request(RouteNetlinkMessage::DelRule(rule_msg(r, false)), 0)
}

/// The namespace's IPv4 rules in the kernel's order (a rule of a kind the model does not
/// have is `Err` with its text, for `observe` to report).
pub fn rule_dump(nl: &mut Netlink) -> Result<Vec<Result<RoutingRule, String>>, NlError> {
    let mut req = RuleMessage::default();
    req.header.family = AddressFamily::Inet;
    let msgs = nl.dump(RouteNetlinkMessage::GetRule(req))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewRule(m) if m.header.family == AddressFamily::Inet => {
                Some(raw_rule(&m))
            }
            _ => None,
        })
        .collect())
}

fn raw_rule(m: &RuleMessage) -> Result<RoutingRule, String> {
    let mut table = u32::from(m.header.table);
    let mut rule = RoutingRule {
        priority: 0,
        not: m.header.flags.contains(RuleFlags::Invert),
        from: None,
        to: None,
        iif: None,
        oif: None,
        fwmark: None,
        action: RuleAction::Lookup(RouteTable::MAIN),
        kernel: false,
    };
    let (mut mark, mut mask) = (None, None);
    for a in &m.attributes {
        match a {
            RuleAttribute::Priority(p) => rule.priority = *p,
            RuleAttribute::Table(t) => table = *t,
            RuleAttribute::Source(IpAddr::V4(ip)) => {
                rule.from = Some(Cidr::containing(*ip, m.header.src_len));
            }
            RuleAttribute::Destination(IpAddr::V4(ip)) => {
                rule.to = Some(Cidr::containing(*ip, m.header.dst_len));
            }
            RuleAttribute::Iifname(n) => rule.iif = IfName::new(n).ok(),
            RuleAttribute::Oifname(n) => rule.oif = IfName::new(n).ok(),
            RuleAttribute::FwMark(v) => mark = Some(*v),
            RuleAttribute::FwMask(v) => mask = Some(*v),
            RuleAttribute::Protocol(p) => rule.kernel = *p == RouteProtocol::Kernel,
            _ => {}
        }
    }
    rule.from = rule.from.filter(|p| p.prefix() > 0);
    rule.to = rule.to.filter(|p| p.prefix() > 0);
    if let Some(v) = mark {
        rule.fwmark = Some((v, mask.unwrap_or(u32::MAX)));
    }
    rule.action = match m.header.action {
        NlAction::ToTable => RuleAction::Lookup(RouteTable(table)),
        NlAction::Blackhole => RuleAction::Blackhole,
        NlAction::Unreachable => RuleAction::Unreachable,
        NlAction::Prohibit => RuleAction::Prohibit,
        other => return Err(format!("{}: action {other:?}", rule.priority)),
    };
    Ok(rule)
}
