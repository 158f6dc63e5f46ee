//! The text of `ip route add|del|replace` and `ip rule add|del`, as iproute2 reads them:
//! options in any order, the destination the one word that is not an option (a route
//! type just before it), `default` for 0.0.0.0/0 and a bare address for a /32.

use std::fmt;
use std::str::FromStr;

use super::{if_name, unsupported};
use crate::addr::{Cidr, parse_ip};
use crate::names::NetnsName;
use crate::op::{Op, RouteSpec, RuleSpec};
use crate::state::{RouteScope, RouteTable, RuleAction, SpecialKind};
use crate::text::{Cursor, ParseError, ParseErrorKind, Token};

fn given_twice(t: &Token) -> ParseError {
    ParseError::at(t, ParseErrorKind::Conflict { token: t.text.clone(), reason: "given twice" })
}

/// Sets `slot` from the next value, refusing a second one.
fn once<T>(
    slot: &mut Option<T>,
    t: &Token,
    value: impl FnOnce() -> Result<T, ParseError>,
) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(given_twice(t));
    }
    *slot = Some(value()?);
    Ok(())
}

fn number(s: &str) -> Result<u32, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| "expected a number from 0 to 4294967295".to_owned())
}

fn scope(s: &str) -> Result<RouteScope, String> {
    match s {
        "link" => Ok(RouteScope::Link),
        "global" | "universe" => Ok(RouteScope::Global),
        _ => Err("nettwin models scope link and scope global (host, site and numbers not yet)"
            .to_owned()),
    }
}

/// `ip route VERB ...` after the verb's word.
pub(super) fn parse_route(c: &mut Cursor<'_>, netns: NetnsName) -> Result<Op, ParseError> {
    let verb = c.expect("add, del or replace")?;
    match verb.text.as_str() {
        "add" | "del" | "delete" | "replace" => {}
        _ => return Err(unsupported(verb, "route verb", "add, del or replace")),
    }
    let add = verb.text != "del" && verb.text != "delete";
    let mut kind: Option<SpecialKind> = None;
    let mut dst: Option<Cidr> = None;
    let mut r = RouteSpec::new(Cidr::DEFAULT, None, None);
    while let Some(t) = c.next_token() {
        match t.text.as_str() {
            "via" => once(&mut r.via, t, || c.value("gateway address", parse_ip))?,
            "dev" | "oif" => once(&mut r.dev, t, || if_name(c, "device name"))?,
            "src" => once(&mut r.src, t, || c.value("source address", parse_ip))?,
            "table" => once(&mut r.table, t, || c.value("table", RouteTable::parse))?,
            "metric" | "priority" | "preference" => {
                once(&mut r.metric, t, || c.value("metric", number))?
            }
            "scope" => once(&mut r.scope, t, || c.value("scope", scope))?,
            "onlink" if !r.onlink => r.onlink = true,
            "onlink" => return Err(given_twice(t)),
            // iproute2's own protocol for what it adds; the model keeps `kernel` apart only.
            "proto" | "protocol" => {
                c.value("protocol", |s| match s {
                    "boot" | "static" => Ok(()),
                    _ => Err("nettwin models proto boot and static"),
                })?;
            }
            word if dst.is_none() && kind.is_none() && SpecialKind::parse(word).is_some() => {
                kind = SpecialKind::parse(word);
            }
            "unicast" if dst.is_none() && kind.is_none() => {}
            "local" | "broadcast" | "multicast" | "anycast" | "nat" if dst.is_none() => {
                return Err(unsupported(
                    t,
                    "route type",
                    "unicast, blackhole, unreachable, prohibit or throw",
                ));
            }
            word if dst.is_none() && !word.starts_with(|ch: char| ch.is_ascii_alphabetic()) => {
                dst = Some(Cidr::from_str(word).map_err(|e| {
                    ParseError::at(
                        t,
                        ParseErrorKind::Invalid {
                            what: "destination prefix",
                            token: t.text.clone(),
                            reason: e.to_string(),
                        },
                    )
                })?);
            }
            "default" if dst.is_none() => dst = Some(Cidr::DEFAULT),
            _ => {
                return Err(unsupported(
                    t,
                    "route option",
                    "via, dev, src, table, metric, scope, onlink or proto",
                ));
            }
        }
    }
    let Some(dst) = dst else {
        return Err(ParseError::missing(c.consumed(), c.input_len(), "destination prefix"));
    };
    r.dst = dst;
    r.kind = kind;
    if add && kind.is_none() && r.via.is_none() && r.dev.is_none() {
        return Err(ParseError::missing(c.consumed(), c.input_len(), "via GATEWAY or dev DEVICE"));
    }
    Ok(match verb.text.as_str() {
        "add" => Op::RouteAdd { netns, route: r },
        "replace" => Op::RouteReplace { netns, route: r },
        _ => Op::RouteDel { netns, route: r },
    })
}

fn prefix_or_all(s: &str) -> Result<Option<Cidr>, String> {
    if s == "all" {
        return Ok(None);
    }
    Cidr::from_str(s).map(Some).map_err(|e| e.to_string())
}

fn fwmark(s: &str) -> Result<(u32, u32), String> {
    match s.split_once('/') {
        Some((v, m)) => Ok((number(v)?, number(m)?)),
        None => Ok((number(s)?, u32::MAX)),
    }
}

/// `ip rule VERB ...` after the verb's word.
pub(super) fn parse_rule(c: &mut Cursor<'_>, netns: NetnsName) -> Result<Op, ParseError> {
    let verb = c.expect("add or del")?;
    let add = match verb.text.as_str() {
        "add" => true,
        "del" | "delete" => false,
        _ => return Err(unsupported(verb, "rule verb", "add or del")),
    };
    let mut r = RuleSpec::default();
    let (mut from, mut to) = (None::<Option<Cidr>>, None::<Option<Cidr>>);
    while let Some(t) = c.next_token() {
        match t.text.as_str() {
            "not" if !r.not => r.not = true,
            "not" => return Err(given_twice(t)),
            "from" => once(&mut from, t, || c.value("source prefix", prefix_or_all))?,
            "to" => once(&mut to, t, || c.value("destination prefix", prefix_or_all))?,
            "iif" | "dev" => once(&mut r.iif, t, || if_name(c, "input device"))?,
            "oif" => once(&mut r.oif, t, || if_name(c, "output device"))?,
            "fwmark" => once(&mut r.fwmark, t, || c.value("mark", fwmark))?,
            "priority" | "pref" | "preference" | "order" => {
                once(&mut r.priority, t, || c.value("priority", number))?
            }
            "table" | "lookup" => once(&mut r.action, t, || {
                c.value("table", RouteTable::parse).map(RuleAction::Lookup)
            })?,
            "blackhole" => once(&mut r.action, t, || Ok(RuleAction::Blackhole))?,
            "unreachable" => once(&mut r.action, t, || Ok(RuleAction::Unreachable))?,
            "prohibit" => once(&mut r.action, t, || Ok(RuleAction::Prohibit))?,
            _ => {
                return Err(unsupported(
                    t,
                    "rule option",
                    "not, from, to, iif, oif, fwmark, priority, lookup, blackhole, unreachable or prohibit",
                ));
            }
        }
    }
    r.from = from.flatten();
    r.to = to.flatten();
    Ok(if add { Op::RuleAdd { netns, rule: r } } else { Op::RuleDel { netns, rule: r } })
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(k) = self.kind {
            write!(f, "{} ", k.as_str())?;
        }
        if self.dst == Cidr::DEFAULT {
            f.write_str("default")?;
        } else {
            write!(f, "{}", self.dst)?;
        }
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        if let Some(s) = self.src {
            write!(f, " src {s}")?;
        }
        if let Some(t) = self.table {
            write!(f, " table {t}")?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        match self.scope {
            Some(RouteScope::Link) => f.write_str(" scope link")?,
            Some(RouteScope::Global) => f.write_str(" scope global")?,
            None => {}
        }
        if self.onlink {
            f.write_str(" onlink")?;
        }
        Ok(())
    }
}

impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<String> = Vec::new();
        if let Some(p) = self.priority {
            words.push(format!("priority {p}"));
        }
        if self.not {
            words.push("not".into());
        }
        if let Some(p) = self.from {
            words.push(format!("from {p}"));
        }
        if let Some(p) = self.to {
            words.push(format!("to {p}"));
        }
        if let Some(d) = &self.iif {
            words.push(format!("iif {d}"));
        }
        if let Some(d) = &self.oif {
            words.push(format!("oif {d}"));
        }
        if let Some((v, m)) = self.fwmark {
            words.push(if m == u32::MAX {
                format!("fwmark {v:#x}")
            } else {
                format!("fwmark {v:#x}/{m:#x}")
            });
        }
        match self.action {
            Some(RuleAction::Lookup(t)) => words.push(format!("lookup {t}")),
            Some(RuleAction::Blackhole) => words.push("blackhole".into()),
            Some(RuleAction::Unreachable) => words.push("unreachable".into()),
            Some(RuleAction::Prohibit) => words.push("prohibit".into()),
            None => {}
        }
        if words.is_empty() {
            words.push("from all".into());
        }
        f.write_str(&words.join(" "))
    }
}
