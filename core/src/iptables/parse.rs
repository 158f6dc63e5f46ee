//! Parsing a rule specification the way iptables 1.8.9 reads its arguments, into the
//! canonical `Rule` that `iptables-save` would print back.
//!
//! The parser mirrors iptables' own dispatch: generic options (`-s`, `-p`, `-m`, `-j`...)
//! first, then the options of the loaded target, then those of the loaded matches (latest
//! first), then the implicit `tcp`/`udp` match that `--sport`/`--dport` load after `-p`.
//! What iptables also refuses is `Invalid`/`Conflict`/`MissingArgument`; what iptables
//! accepts but nettwin does not model is `Unsupported`. Checks that only the kernel makes
//! (a negated `/0`, `-m tcp` without `-p tcp`, `tcp-reset` without `-p tcp`, a target in
//! the wrong table or hook) are left to `Ruleset::apply`, as they are on a real host.

use std::str::FromStr;

use super::rule::{
    AddrType, CtStates, IfacePattern, Match, Neg, PortDir, PortRange, RejectWith, Rule, Target,
};
use super::values::{self, conflict, invalid, unsupported};
use crate::addr::{Cidr, Proto};
use crate::names::ChainName;
use crate::text::{Cursor, ParseError, ParseErrorKind, Token, tokenize};

/// Longest comment the kernel keeps (`XT_MAX_COMMENT_LEN` minus the NUL); iptables cuts
/// longer ones silently.
pub const COMMENT_MAX: usize = 255;

/// Parses a rule specification (matches and target) from the cursor to its end.
pub fn parse_rule(c: &mut Cursor<'_>) -> Result<Rule, ParseError> {
    parse_rule_in(c, None).map(|p| p.rule)
}

/// A parsed rule plus what the command parser needs to check it against its table.
pub(crate) struct ParsedRule<'a> {
    /// The canonical rule.
    pub rule: Rule,
    /// The `-j`/`-g` value token, if any.
    pub target: Option<&'a Token>,
}

/// Parses a rule to the end of the cursor; `table` is `Some` when `-t` is allowed among
/// the options (inside a command), and receives its value token.
pub(crate) fn parse_rule_in<'a>(
    c: &mut Cursor<'a>,
    mut table: Option<&mut Option<&'a Token>>,
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
        if matches!(t.text.as_str(), "-t" | "--table") {
            let Some(slot) = table.as_deref_mut() else {
                return Err(conflict(t, "-t belongs to the command, not to the rule"));
            };
            no_neg(neg.take(), t)?;
            if slot.is_some() {
                return Err(conflict(t, "multiple -t flags not allowed"));
            }
            *slot = Some(c.expect("a table name")?);
            continue;
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

fn no_neg(neg: Option<&Token>, t: &Token) -> Result<(), ParseError> {
    match neg {
        None => Ok(()),
        Some(_) => Err(invalid(t, "negation", format!("{} cannot be inverted", t.text))),
    }
}

fn neg_of<T>(neg: Option<&Token>, value: T) -> Neg<T> {
    Neg { negated: neg.is_some(), value }
}

/// A match being filled in by its options.
enum Slot<'a> {
    /// `tcp` or `udp`.
    Ports {
        proto: Proto,
        sport: Option<Neg<PortRange>>,
        dport: Option<Neg<PortRange>>,
    },
    Conntrack {
        tok: &'a Token,
        ctstate: Option<Neg<CtStates>>,
    },
    AddrType {
        tok: &'a Token,
        src: Option<Neg<AddrType>>,
        dst: Option<Neg<AddrType>>,
    },
    Multiport {
        tok: &'a Token,
        ports: Option<(PortDir, Neg<Vec<PortRange>>)>,
    },
    Mark {
        tok: &'a Token,
        mark: Option<(bool, u32, u32)>,
    },
    Comment {
        tok: &'a Token,
        text: Option<String>,
    },
}

/// Options that a loaded match or target knows but nettwin does not model.
const UNMODELED_OPTIONS: &[&str] = &[
    "--tcp-flags",
    "--syn",
    "--tcp-option",
    "--ctproto",
    "--ctorigsrc",
    "--ctorigdst",
    "--ctreplsrc",
    "--ctrepldst",
    "--ctorigsrcport",
    "--ctorigdstport",
    "--ctreplsrcport",
    "--ctrepldstport",
    "--ctstatus",
    "--ctexpire",
    "--ctdir",
    "--limit-iface-in",
    "--limit-iface-out",
    "--ports",
    "--random",
    "--random-fully",
    "--persistent",
    "--to-ports",
];

impl Slot<'_> {
    fn options(&self) -> &'static [&'static str] {
        match self {
            Slot::Ports { proto: Proto::Tcp, .. } => &[
                "--sport",
                "--source-port",
                "--dport",
                "--destination-port",
                "--tcp-flags",
                "--syn",
                "--tcp-option",
            ],
            Slot::Ports { .. } => &["--sport", "--source-port", "--dport", "--destination-port"],
            Slot::Conntrack { .. } => &[
                "--ctstate",
                "--ctproto",
                "--ctorigsrc",
                "--ctorigdst",
                "--ctreplsrc",
                "--ctrepldst",
                "--ctorigsrcport",
                "--ctorigdstport",
                "--ctreplsrcport",
                "--ctrepldstport",
                "--ctstatus",
                "--ctexpire",
                "--ctdir",
            ],
            Slot::AddrType { .. } => {
                &["--src-type", "--dst-type", "--limit-iface-in", "--limit-iface-out"]
            }
            Slot::Multiport { .. } => {
                &["--dports", "--destination-ports", "--sports", "--source-ports", "--ports"]
            }
            Slot::Mark { .. } => &["--mark"],
            Slot::Comment { .. } => &["--comment"],
        }
    }
}

/// The target being filled in by its options.
enum TargetSlot {
    Done(Target),
    Reject(Option<RejectWith>),
    Nat { snat: bool, to: Option<(std::net::Ipv4Addr, Option<PortRange>)> },
    Masquerade,
    Mark(Option<(u32, u32)>),
}

impl TargetSlot {
    fn options(&self) -> &'static [&'static str] {
        match self {
            TargetSlot::Done(_) => &[],
            TargetSlot::Reject(_) => &["--reject-with"],
            TargetSlot::Nat { snat: false, .. } => {
                &["--to-destination", "--random", "--persistent"]
            }
            TargetSlot::Nat { snat: true, .. } => {
                &["--to-source", "--random", "--random-fully", "--persistent"]
            }
            TargetSlot::Masquerade => &["--to-ports", "--random", "--random-fully"],
            TargetSlot::Mark(_) => {
                &["--set-xmark", "--set-mark", "--and-mark", "--or-mark", "--xor-mark"]
            }
        }
    }
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
];

#[derive(Default)]
struct Builder<'a> {
    src: Option<(bool, Cidr)>,
    dst: Option<(bool, Cidr)>,
    in_iface: Option<Neg<IfacePattern>>,
    out_iface: Option<Neg<IfacePattern>>,
    /// `Some((negated, None))` is `-p all`.
    proto: Option<(bool, Option<Proto>)>,
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
            "-s" | "--source" | "--src" => {
                if self.src.is_some() {
                    return Err(conflict(t, "multiple -s flags not allowed"));
                }
                self.src = Some((negated, values::cidr(c.expect("an address")?)?));
            }
            "-d" | "--destination" | "--dst" => {
                if self.dst.is_some() {
                    return Err(conflict(t, "multiple -d flags not allowed"));
                }
                self.dst = Some((negated, values::cidr(c.expect("an address")?)?));
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                let inbound = matches!(t.text.as_str(), "-i" | "--in-interface");
                let slot = if inbound { &mut self.in_iface } else { &mut self.out_iface };
                if slot.is_some() {
                    return Err(conflict(t, "multiple interface flags of one kind not allowed"));
                }
                *slot = Some(neg_of(neg, iface(c.expect("an interface name")?)?));
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
                self.target = Some((v, load_target(v, goto)?));
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
        if let Some((tt, slot)) = &mut self.target
            && slot.options().contains(&name)
            && !UNMODELED_OPTIONS.contains(&name)
        {
            no_neg(neg, t)?;
            return target_option(slot, tt, c, t, self.proto);
        }
        let proto = self.proto;
        if let Some(slot) = self.slots.iter_mut().rev().find(|s| s.options().contains(&name))
            && !UNMODELED_OPTIONS.contains(&name)
        {
            return match_option(slot, c, t, neg, proto);
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
        let port_option =
            matches!(name, "--sport" | "--source-port" | "--dport" | "--destination-port");
        if port_option
            && let Some((_, Some(p @ (Proto::Tcp | Proto::Udp)))) = proto
            && !self.slots.iter().any(|s| matches!(s, Slot::Ports { .. }))
        {
            let mut slot = Slot::Ports { proto: p, sport: None, dport: None };
            let result = match_option(&mut slot, c, t, neg, proto);
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
            Some((_, Some(Proto::Tcp))) => &[
                "--sport",
                "--source-port",
                "--dport",
                "--destination-port",
                "--syn",
                "--tcp-flags",
                "--tcp-option",
            ],
            Some((_, Some(Proto::Udp))) => {
                &["--sport", "--source-port", "--dport", "--destination-port"]
            }
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
        let slot = match v.text.as_str() {
            "tcp" | "udp" => {
                if self.slots.iter().any(|s| matches!(s, Slot::Ports { .. })) {
                    return Err(unsupported(
                        v,
                        "second tcp/udp match in one rule",
                        "put --sport and --dport in one match",
                    ));
                }
                let proto = if v.text == "tcp" { Proto::Tcp } else { Proto::Udp };
                Slot::Ports { proto, sport: None, dport: None }
            }
            "conntrack" => Slot::Conntrack { tok: v, ctstate: None },
            "addrtype" => Slot::AddrType { tok: v, src: None, dst: None },
            "multiport" => {
                if !matches!(self.proto, Some((false, Some(Proto::Tcp | Proto::Udp)))) {
                    return Err(invalid(v, "match", "multiport needs -p tcp or -p udp before it"));
                }
                Slot::Multiport { tok: v, ports: None }
            }
            "mark" => Slot::Mark { tok: v, mark: None },
            "comment" => Slot::Comment { tok: v, text: None },
            name if values::UNSUPPORTED_MATCHES.contains(&name) => {
                return Err(unsupported(
                    v,
                    "match",
                    "modeled: tcp, udp, conntrack, addrtype, multiport, mark, comment",
                ));
            }
            _ => return Err(invalid(v, "match", "no such match extension")),
        };
        self.slots.push(slot);
        Ok(())
    }

    fn finish(self) -> Result<ParsedRule<'a>, ParseError> {
        let mut matches = Vec::with_capacity(self.slots.len());
        for slot in self.slots {
            let m = match slot {
                Slot::Ports { proto, sport, dport } => match proto {
                    Proto::Tcp => Match::Tcp { sport, dport },
                    _ => Match::Udp { sport, dport },
                },
                Slot::Conntrack { tok, ctstate } => {
                    Match::Conntrack { ctstate: ctstate.ok_or_else(|| needs(tok, "--ctstate"))? }
                }
                Slot::AddrType { tok, src, dst } => {
                    if src.is_none() && dst.is_none() {
                        return Err(needs(tok, "--src-type or --dst-type"));
                    }
                    Match::AddrType { src, dst }
                }
                Slot::Multiport { tok, ports } => {
                    let (dir, ports) = ports.ok_or_else(|| needs(tok, "--dports or --sports"))?;
                    Match::Multiport { dir, ports }
                }
                Slot::Mark { tok, mark } => {
                    let (negated, value, mask) = mark.ok_or_else(|| needs(tok, "--mark"))?;
                    Match::Mark { negated, value, mask }
                }
                Slot::Comment { tok, text } => {
                    Match::Comment(text.ok_or_else(|| needs(tok, "--comment"))?.into())
                }
            };
            matches.push(m);
        }
        let (target_tok, target) = match self.target {
            None => (None, Target::None),
            Some((t, slot)) => {
                let target = match slot {
                    TargetSlot::Done(target) => target,
                    TargetSlot::Reject(w) => {
                        Target::Reject(w.unwrap_or(RejectWith::PortUnreachable))
                    }
                    TargetSlot::Nat { snat, to } => {
                        let opt = if snat { "--to-source" } else { "--to-destination" };
                        let (ip, ports) = to.ok_or_else(|| needs(t, opt))?;
                        if snat { Target::Snat { ip, ports } } else { Target::Dnat { ip, ports } }
                    }
                    TargetSlot::Masquerade => Target::Masquerade,
                    TargetSlot::Mark(m) => {
                        let (value, mask) =
                            m.ok_or_else(|| needs(t, "--set-xmark or --set-mark"))?;
                        Target::Mark { value, mask }
                    }
                };
                (Some(t), target)
            }
        };
        let rule = Rule {
            src: self.src.map(|(negated, value)| Neg { negated, value }),
            dst: self.dst.map(|(negated, value)| Neg { negated, value }),
            in_iface: self.in_iface,
            out_iface: self.out_iface,
            proto: self.proto.and_then(|(negated, p)| p.map(|value| Neg { negated, value })),
            matches,
            target,
        };
        Ok(ParsedRule { rule: rule.canonical(), target: target_tok })
    }
}

fn needs(t: &Token, expected: &'static str) -> ParseError {
    ParseError::at(t, ParseErrorKind::MissingArgument { expected, after: t.text.clone() })
}

fn iface(v: &Token) -> Result<IfacePattern, ParseError> {
    let s = v.text.as_str();
    if s.is_empty() {
        return Err(invalid(v, "interface", "empty interface is likely to be undesired"));
    }
    if s.len() > crate::names::IFNAME_MAX {
        return Err(invalid(v, "interface", "name must be shorter than IFNAMSIZ (15)"));
    }
    IfacePattern::new(s).ok_or_else(|| {
        unsupported(v, "interface pattern", "a name without spaces, optionally ending in +")
    })
}

fn load_target(v: &Token, goto: bool) -> Result<TargetSlot, ParseError> {
    let name = v.text.as_str();
    let slot = match name {
        "ACCEPT" => TargetSlot::Done(Target::Accept),
        "DROP" => TargetSlot::Done(Target::Drop),
        "RETURN" => TargetSlot::Done(Target::Return),
        "REJECT" => TargetSlot::Reject(None),
        "DNAT" => TargetSlot::Nat { snat: false, to: None },
        "SNAT" => TargetSlot::Nat { snat: true, to: None },
        "MASQUERADE" => TargetSlot::Masquerade,
        "MARK" => TargetSlot::Mark(None),
        _ if values::is_target_name(name) => {
            return Err(unsupported(
                v,
                "target",
                "modeled: ACCEPT, DROP, RETURN, REJECT, DNAT, SNAT, MASQUERADE, MARK, chains",
            ));
        }
        _ => {
            let chain = ChainName::new(name).map_err(|e| invalid(v, "chain", e.to_string()))?;
            return Ok(TargetSlot::Done(if goto {
                Target::Goto(chain)
            } else {
                Target::Jump(chain)
            }));
        }
    };
    if goto {
        return Err(invalid(v, "chain", "-g needs a user chain, not a target"));
    }
    Ok(slot)
}

fn target_option(
    slot: &mut TargetSlot,
    target: &Token,
    c: &mut Cursor<'_>,
    t: &Token,
    proto: Option<(bool, Option<Proto>)>,
) -> Result<(), ParseError> {
    match slot {
        TargetSlot::Reject(w) => {
            if w.is_some() {
                return Err(conflict(t, "--reject-with can only be used once"));
            }
            *w = Some(values::reject_with(c.expect("a reject type")?)?);
        }
        TargetSlot::Nat { to, .. } => {
            if to.is_some() {
                return Err(conflict(t, "the NAT address can only be given once"));
            }
            let v = c.expect("ip[:port[-port]]")?;
            let (ip, ports) = values::nat_to(v)?;
            if ports.is_some() && !matches!(proto, Some((_, Some(_)))) {
                return Err(invalid(
                    v,
                    "NAT ports",
                    "need -p tcp or -p udp (before the target) with a port",
                ));
            }
            *to = Some((ip, ports));
        }
        TargetSlot::Mark(m) => {
            if m.is_some() {
                return Err(conflict(
                    t,
                    "MARK takes one of --set-xmark, --set-mark, --and/or/xor-mark",
                ));
            }
            let v = c.expect("a mark value")?;
            let (value, mask) = values::mark(v)?;
            let masked = |mask: Option<u32>| match mask {
                Some(_) => Err(invalid(v, "mark", "this option takes no mask")),
                None => Ok(()),
            };
            *m = Some(match t.text.as_str() {
                "--set-xmark" => (value, mask.unwrap_or(u32::MAX)),
                "--set-mark" => (value, mask.unwrap_or(u32::MAX) | value),
                "--and-mark" => masked(mask).map(|()| (0, !value))?,
                "--or-mark" => masked(mask).map(|()| (value, value))?,
                _ => masked(mask).map(|()| (value, 0))?,
            });
        }
        TargetSlot::Done(_) | TargetSlot::Masquerade => {
            return Err(invalid(t, "option", format!("{} takes no options", target.text)));
        }
    }
    Ok(())
}

fn match_option(
    slot: &mut Slot<'_>,
    c: &mut Cursor<'_>,
    t: &Token,
    neg: Option<&Token>,
    proto: Option<(bool, Option<Proto>)>,
) -> Result<(), ParseError> {
    let name = t.text.as_str();
    let once =
        |set: bool| if set { Err(conflict(t, "option can only be used once")) } else { Ok(()) };
    match slot {
        Slot::Ports { proto: p, sport, dport } => {
            if !matches!(proto, Some((_, Some(q))) if q == *p) {
                let need = if *p == Proto::Tcp {
                    "TCP match requires -p tcp"
                } else {
                    "UDP match requires -p udp"
                };
                return Err(invalid(t, "option", need));
            }
            let which = if matches!(name, "--sport" | "--source-port") { sport } else { dport };
            once(which.is_some())?;
            *which = Some(neg_of(neg, values::port_range(c.expect("a port or port range")?)?));
        }
        Slot::Conntrack { ctstate, .. } => {
            if name != "--ctstate" {
                return Err(unsupported(t, "option", "only --ctstate is modeled"));
            }
            once(ctstate.is_some())?;
            *ctstate = Some(neg_of(neg, values::ctstates(c.expect("conntrack states")?)?));
        }
        Slot::AddrType { src, dst, .. } => {
            let which = match name {
                "--src-type" => src,
                "--dst-type" => dst,
                _ => {
                    return Err(unsupported(t, "option", "only --src-type/--dst-type are modeled"));
                }
            };
            once(which.is_some())?;
            *which = Some(neg_of(neg, values::addr_type(c.expect("an address type")?)?));
        }
        Slot::Multiport { ports, .. } => {
            let dir = match name {
                "--dports" | "--destination-ports" => PortDir::Destination,
                "--sports" | "--source-ports" => PortDir::Source,
                _ => return Err(unsupported(t, "option", "only --dports/--sports are modeled")),
            };
            if ports.is_some() {
                return Err(conflict(t, "multiport takes one of --sports, --dports"));
            }
            *ports = Some((dir, neg_of(neg, values::multiport_list(c.expect("a port list")?)?)));
        }
        Slot::Mark { mark, .. } => {
            once(mark.is_some())?;
            let (value, mask) = values::mark(c.expect("a mark value")?)?;
            *mark = Some((neg.is_some(), value, mask.unwrap_or(u32::MAX)));
        }
        Slot::Comment { text, .. } => {
            no_neg(neg, t)?;
            once(text.is_some())?;
            let v = c.expect("a comment")?;
            let mut s = v.text.clone();
            if s.len() > COMMENT_MAX {
                if !s.is_char_boundary(COMMENT_MAX) {
                    return Err(unsupported(
                        v,
                        "comment",
                        "iptables cuts comments at 255 bytes, here inside a character",
                    ));
                }
                s.truncate(COMMENT_MAX);
            }
            *text = Some(s);
        }
    }
    Ok(())
}
