//! Parsing a rule specification the way iptables 1.8.9 reads its arguments, into the
//! canonical `Rule` that `iptables-save` would print back.
//!
//! The parser mirrors iptables' own dispatch: generic options (`-s`, `-p`, `-m`, `-j`...)
//! first, then the options of the loaded target (`parse_target`), then those of the
//! loaded matches, latest first (`parse_match`), then the implicit protocol match that
//! `--sport`/`--dport`/`--syn`/`--tcp-flags` (after `-p tcp`/`udp`) and `--icmp-type`
//! (after `-p icmp`) load. What iptables also refuses is `Invalid`/`Conflict`/
//! `MissingArgument`; what iptables accepts but nettwin does not model is `Unsupported`.
//! Checks that only the kernel makes (a negated `/0`, `-m tcp` without `-p tcp`,
//! `tcp-reset` without `-p tcp`, a target in the wrong table or hook) are left to
//! `Ruleset::apply`, as they are on a real host.

use std::str::FromStr;

use super::parse_match::{
    ProtoArg, Slot, TCP_OPTIONS, UDP_OPTIONS, bridge_port, no_neg, unmodeled_match_option,
};
use super::parse_target::{TargetSlot, unmodeled_target_option};
use super::rule::{IfacePattern, Neg, Rule};
use super::values::{self, conflict, invalid, unsupported};
use crate::addr::{Cidr, Proto};
use crate::text::{Cursor, ParseError, Token, tokenize};

pub use super::parse_match::COMMENT_MAX;

/// Parses a rule specification (matches and target) from the cursor to its end. A comma
/// list in `-s`/`-d` is refused here: it is several rules, which only a command (`-A`,
/// `-I`, `-D`) expands.
pub fn parse_rule(c: &mut Cursor<'_>) -> Result<Rule, ParseError> {
    let parsed = parse_rule_in(c, None)?;
    if let Some(t) = parsed.list_token {
        return Err(unsupported(
            t,
            "address list",
            "a list is one rule per address; only -A, -I and -D expand it",
        ));
    }
    Ok(parsed.rule)
}

/// What the command around a rule lets it hold: `-t` and `-w` among the rule's options.
#[derive(Default)]
pub(crate) struct CommandCx<'a> {
    /// The `-t` value token, if given.
    pub table: Option<&'a Token>,
    /// `-w` was given.
    pub wait: bool,
    /// The first `-W` token, if given (it needs `-w`).
    pub interval: Option<&'a Token>,
    /// In `iptables-restore` input, where neither `-t` nor `-w` is allowed.
    pub restore: bool,
}

/// Whether a word is `-w`/`--wait` or `-W`/`--wait-interval`, value attached or not.
pub(crate) fn is_wait_word(s: &str) -> bool {
    matches!(s, "-w" | "--wait" | "-W" | "--wait-interval")
        || s.starts_with("--wait=")
        || s.starts_with("--wait-interval=")
        || (s.len() > 2 && (s.starts_with("-w") || s.starts_with("-W")) && !s.starts_with("--"))
}

impl<'a> CommandCx<'a> {
    /// Takes `t` (and its value) if it is `-w`/`--wait [SECS]` or `-W`/`--wait-interval
    /// USECS`, which iptables accepts anywhere and which change nothing; returns whether it
    /// did. The value of `-w` is optional: the next word, unless it starts with `-` or `!`.
    pub(crate) fn wait_option(
        &mut self,
        c: &mut Cursor<'a>,
        t: &'a Token,
    ) -> Result<bool, ParseError> {
        let s = t.text.as_str();
        let (is_w, attached) = match s {
            "-w" | "--wait" => (true, None),
            "-W" | "--wait-interval" => (false, None),
            _ if s.starts_with("--wait=") => (true, Some(&s[7..])),
            _ if s.starts_with("--wait-interval=") => (false, Some(&s[16..])),
            _ if s.starts_with("-w") && s.len() > 2 => (true, Some(&s[2..])),
            _ if s.starts_with("-W") && s.len() > 2 => (false, Some(&s[2..])),
            _ => return Ok(false),
        };
        if self.restore {
            let which = if is_w { "-w" } else { "-W" };
            return Err(invalid(
                t,
                "option",
                format!("You cannot use `{which}' from iptables-restore"),
            ));
        }
        let numeric = |v: &str| {
            let v = v.strip_prefix('+').unwrap_or(v);
            v.starts_with(|ch: char| ch.is_ascii_digit())
        };
        let value: Option<(&Token, &str)> = match attached {
            Some(v) => Some((t, v)),
            None if is_w => c
                .next_if(|n| !n.starts_with('-') && !n.starts_with('!'))
                .map(|v| (v, v.text.as_str())),
            None => {
                let v = c.expect("an interval in microseconds")?;
                Some((v, v.text.as_str()))
            }
        };
        if let Some((vt, v)) = value
            && !numeric(v)
        {
            let why = if is_w { "wait seconds not numeric" } else { "wait interval not numeric" };
            return Err(invalid(vt, "wait", why));
        }
        if is_w {
            self.wait = true;
        } else if self.interval.is_none() {
            self.interval = Some(t);
        }
        Ok(true)
    }

    /// The check iptables makes once every option is read: `-W` needs `-w`.
    pub(crate) fn finish(&self) -> Result<(), ParseError> {
        match self.interval {
            Some(t) if !self.wait => {
                Err(invalid(t, "option", "--wait-interval only makes sense with --wait"))
            }
            _ => Ok(()),
        }
    }
}

/// A parsed rule plus what the command parser needs to check it against its table.
pub(crate) struct ParsedRule<'a> {
    /// The canonical rule (with the first address of each list).
    pub rule: Rule,
    /// The `-j`/`-g` value token, if any.
    pub target: Option<&'a Token>,
    /// Every `-s` address in order, when the rule has `-s` (more than one: a list).
    pub sources: Vec<Cidr>,
    /// Every `-d` address in order, when the rule has `-d`.
    pub destinations: Vec<Cidr>,
    /// The first `-s`/`-d` value holding a list, if one does.
    pub list_token: Option<&'a Token>,
}

/// Parses a rule to the end of the cursor; `cx` is `Some` inside a command, where `-t`
/// and `-w` may come among the options.
pub(crate) fn parse_rule_in<'a>(
    c: &mut Cursor<'a>,
    mut cx: Option<&mut CommandCx<'a>>,
) -> Result<ParsedRule<'a>, ParseError> {
    let mut b = Builder::default();
    let mut neg: Option<&'a Token> = None;
    while let Some(t) = c.next_token() {
        if t.text == "!" {
            if neg.is_some() {
                return Err(invalid(t, "negation", "multiple consecutive ! not allowed"));
            }
            neg = Some(t);
            continue;
        }
        if let Some(cx) = cx.as_deref_mut() {
            if neg.is_none() && cx.wait_option(c, t)? {
                continue;
            }
            if matches!(t.text.as_str(), "-t" | "--table") {
                if cx.restore {
                    return Err(invalid(
                        t,
                        "option",
                        "-t is not allowed here (the table is given by *table)",
                    ));
                }
                no_neg(neg.take(), t)?;
                if cx.table.is_some() {
                    return Err(conflict(t, "multiple -t flags not allowed"));
                }
                cx.table = Some(c.expect("a table name")?);
                continue;
            }
        } else if matches!(t.text.as_str(), "-t" | "--table") {
            return Err(conflict(t, "-t belongs to the command, not to the rule"));
        }
        b.option(c, t, neg.take())?;
    }
    if neg.is_some() {
        return Err(ParseError::missing(c.consumed(), c.input_len(), "an option after !"));
    }
    b.finish()
}

impl FromStr for Rule {
    type Err = ParseError;
    /// Parses a rule specification as `iptables -A CHAIN` takes it (without `-A CHAIN`).
    fn from_str(s: &str) -> Result<Rule, ParseError> {
        let tokens = tokenize(s)?;
        let mut c = Cursor::new(&tokens, s.len());
        parse_rule(&mut c)
    }
}

fn neg_of<T>(neg: Option<&Token>, value: T) -> Neg<T> {
    Neg { negated: neg.is_some(), value }
}

/// Generic long options, for recognizing abbreviations.
const GENERIC_LONG: &[&str] = &[
    "--source",
    "--destination",
    "--in-interface",
    "--out-interface",
    "--protocol",
    "--match",
    "--jump",
    "--goto",
    "--table",
    "--fragment",
    "--set-counters",
    "--wait",
    "--wait-interval",
];

/// An address option as given: negated, its addresses, its value token.
type AddrArg<'a> = (bool, Vec<Cidr>, &'a Token);

#[derive(Default)]
struct Builder<'a> {
    src: Option<AddrArg<'a>>,
    dst: Option<AddrArg<'a>>,
    in_iface: Option<Neg<IfacePattern>>,
    out_iface: Option<Neg<IfacePattern>>,
    proto: ProtoArg,
    slots: Vec<Slot<'a>>,
    target: Option<(&'a Token, TargetSlot)>,
}

impl<'a> Builder<'a> {
    fn option(
        &mut self,
        c: &mut Cursor<'a>,
        t: &'a Token,
        neg: Option<&'a Token>,
    ) -> Result<(), ParseError> {
        let negated = neg.is_some();
        match t.text.as_str() {
            "-s" | "--source" | "--src" | "-d" | "--destination" | "--dst" => {
                let source = matches!(t.text.as_str(), "-s" | "--source" | "--src");
                let slot = if source { &mut self.src } else { &mut self.dst };
                if slot.is_some() {
                    let why = if source {
                        "multiple -s flags not allowed"
                    } else {
                        "multiple -d flags not allowed"
                    };
                    return Err(conflict(t, why));
                }
                let v = c.expect("an address")?;
                *slot = Some((negated, values::cidr_list(v)?, v));
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                let inbound = matches!(t.text.as_str(), "-i" | "--in-interface");
                let slot = if inbound { &mut self.in_iface } else { &mut self.out_iface };
                if slot.is_some() {
                    return Err(conflict(t, "multiple interface flags of one kind not allowed"));
                }
                *slot = Some(neg_of(neg, bridge_port(c.expect("an interface name")?)?));
            }
            "-p" | "--protocol" => {
                if self.proto.is_some() {
                    return Err(conflict(t, "multiple -p flags not allowed"));
                }
                let v = c.expect("a protocol")?;
                let p = values::proto(v)?;
                if negated && p.is_none() {
                    return Err(invalid(v, "protocol", "rule would never match protocol"));
                }
                self.proto = Some((negated, p));
            }
            "-m" | "--match" => {
                if neg.is_some() {
                    return Err(invalid(t, "negation", "unexpected ! flag before --match"));
                }
                let v = c.expect("a match name")?;
                self.load_match(v)?;
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                if neg.is_some() {
                    return Err(invalid(t, "negation", "cannot have ! before -j or -g"));
                }
                if self.target.is_some() {
                    return Err(conflict(t, "multiple -j flags not allowed"));
                }
                let goto = matches!(t.text.as_str(), "-g" | "--goto");
                let v = c.expect("a target or chain name")?;
                self.target = Some((v, TargetSlot::load(v, goto)?));
            }
            other => return self.extension_option(c, t, other, neg),
        }
        Ok(())
    }

    fn extension_option(
        &mut self,
        c: &mut Cursor<'a>,
        t: &'a Token,
        name: &str,
        neg: Option<&'a Token>,
    ) -> Result<(), ParseError> {
        let proto = self.proto;
        if let Some((tt, slot)) = &mut self.target
            && slot.options().contains(&name)
            && !unmodeled_target_option(name)
        {
            no_neg(neg, t)?;
            return slot.option(tt, c, t, proto);
        }
        if let Some(slot) = self.slots.iter_mut().rev().find(|s| s.options().contains(&name))
            && !unmodeled_match_option(name)
        {
            return slot.option(c, t, neg, proto);
        }
        if name.len() > 2 && name.starts_with("--") {
            // getopt resolves abbreviations of loaded options before iptables falls back
            // to loading the protocol's implicit match (`-m multiport --dport` is --dports).
            let loaded = self.slots.iter().flat_map(|s| s.options().iter());
            if loaded
                .chain(self.target.iter().flat_map(|(_, s)| s.options().iter()))
                .any(|o| o.starts_with(name) && *o != name)
            {
                return Err(unsupported(t, "abbreviated option", "write the option in full"));
            }
        }
        let implicit = match proto {
            Some((_, Some(p @ Proto::Tcp))) if TCP_OPTIONS.contains(&name) => Some(p),
            Some((_, Some(p @ Proto::Udp))) if UDP_OPTIONS.contains(&name) => Some(p),
            Some((_, Some(p @ Proto::Icmp))) if name == "--icmp-type" => Some(p),
            _ => None,
        };
        if let Some(p) = implicit
            && !unmodeled_match_option(name)
            && !self.slots.iter().any(Slot::is_protocol)
        {
            let mut slot = match p {
                Proto::Icmp => Slot::Icmp { tok: t, icmp: None },
                p => Slot::Ports { proto: p, sport: None, dport: None, flags: None },
            };
            let result = slot.option(c, t, neg, proto);
            self.slots.push(slot);
            return result;
        }
        self.unknown_option(t, name)
    }

    fn unknown_option(&self, t: &Token, name: &str) -> Result<(), ParseError> {
        let loaded = self
            .slots
            .iter()
            .flat_map(|s| s.options().iter())
            .chain(self.target.iter().flat_map(|(_, s)| s.options().iter()));
        let implicit: &[&str] = match self.proto {
            Some((_, Some(Proto::Tcp))) => TCP_OPTIONS,
            Some((_, Some(Proto::Udp))) => UDP_OPTIONS,
            Some((_, Some(Proto::Icmp))) => &["--icmp-type"],
            _ => &[],
        };
        let known: Vec<&str> =
            loaded.chain(GENERIC_LONG.iter()).chain(implicit.iter()).copied().collect();
        if known.contains(&name) {
            return Err(unsupported(t, "option", "nettwin does not model this option"));
        }
        match name {
            "-A" | "--append" | "-I" | "--insert" | "-D" | "--delete" | "-N" | "--new-chain"
            | "-X" | "--delete-chain" | "-F" | "--flush" | "-P" | "--policy" | "-L" | "--list"
            | "-S" | "--list-rules" | "-Z" | "--zero" | "-C" | "--check" | "-E"
            | "--rename-chain" | "-R" | "--replace" => {
                return Err(conflict(t, "only one command per invocation"));
            }
            "-f" | "--fragment" => {
                return Err(unsupported(t, "option", "fragment matching is not modeled"));
            }
            "-c" | "--set-counters" | "-4" | "--ipv4" | "-w" | "--wait" | "-W"
            | "--wait-interval" | "-v" | "--verbose" => {
                return Err(unsupported(t, "option", "it does not change the rule; leave it out"));
            }
            _ => {}
        }
        if let Some((opt, _)) = name.split_once('=')
            && opt.starts_with("--")
        {
            return Err(unsupported(t, "option", "separate the option and its value with a space"));
        }
        if name.len() > 2 && name.starts_with("--") && known.iter().any(|k| k.starts_with(name)) {
            return Err(unsupported(t, "abbreviated option", "write the option in full"));
        }
        if name.starts_with('-') {
            return Err(invalid(t, "option", "unknown option"));
        }
        Err(invalid(t, "argument", "expected an option"))
    }

    fn load_match(&mut self, v: &'a Token) -> Result<(), ParseError> {
        let Some(slot) = Slot::load(v, self.proto)? else {
            if values::UNSUPPORTED_MATCHES.contains(&v.text.as_str()) {
                return Err(unsupported(
                    v,
                    "match",
                    "modeled: tcp, udp, icmp, conntrack, state, addrtype, multiport, mark, \
                     comment, iprange, physdev, limit, owner",
                ));
            }
            return Err(invalid(v, "match", "no such match extension"));
        };
        if slot.is_protocol() && self.slots.iter().any(Slot::is_protocol) {
            return Err(unsupported(
                v,
                "second protocol match in one rule",
                "put --sport, --dport and the flags in one match",
            ));
        }
        self.slots.push(slot);
        Ok(())
    }

    fn finish(self) -> Result<ParsedRule<'a>, ParseError> {
        let mut matches = Vec::with_capacity(self.slots.len());
        for slot in self.slots {
            matches.push(slot.into_match()?);
        }
        let (target_tok, target) = match self.target {
            None => (None, super::rule::Target::None),
            Some((t, slot)) => (Some(t), slot.finish(t)?),
        };
        let mut list_token = None;
        let mut addr = |a: Option<AddrArg<'a>>| -> Result<_, ParseError> {
            let Some((negated, list, tok)) = a else { return Ok((None, Vec::new())) };
            if list.len() > 1 {
                if negated {
                    return Err(invalid(
                        tok,
                        "address",
                        "! not allowed with multiple source or destination IP addresses",
                    ));
                }
                list_token = list_token.or(Some(tok));
            }
            let first = list.first().map(|value| Neg { negated, value: *value });
            Ok((first, list))
        };
        let (src, sources) = addr(self.src)?;
        let (dst, destinations) = addr(self.dst)?;
        let rule = Rule {
            src,
            dst,
            in_iface: self.in_iface,
            out_iface: self.out_iface,
            proto: self.proto.and_then(|(negated, p)| p.map(|value| Neg { negated, value })),
            matches,
            target,
        };
        Ok(ParsedRule {
            rule: rule.canonical(),
            target: target_tok,
            sources,
            destinations,
            list_token,
        })
    }
}
