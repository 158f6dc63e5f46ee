//! The loaded matches of a rule being parsed: each `-m` (or implicit protocol match) is a
//! slot that takes its options, as the extension's own parser in iptables 1.8.9 does, and
//! becomes a [`Match`] at the end.

use super::ext_values;
use super::matches::{AddrRange, IcmpType, IdRange, Limit, Owner, Physdev, TcpFlags};
use super::rule::{AddrType, CtStates, IfacePattern, Match, Neg, PortDir, PortRange};
use super::services::Lookup;
use super::values::{self, conflict, invalid, unsupported};
use crate::addr::Proto;
use crate::text::{Cursor, ParseError, ParseErrorKind, Token};

/// Longest comment the kernel keeps (`XT_MAX_COMMENT_LEN` minus the NUL); iptables cuts
/// longer ones silently.
pub const COMMENT_MAX: usize = 255;

/// The rule's `-p` as the parser holds it: `Some((negated, None))` is `-p all`.
pub(crate) type ProtoArg = Option<(bool, Option<Proto>)>;

/// A match being filled in by its options.
pub(crate) enum Slot<'a> {
    /// `tcp` or `udp`.
    Ports {
        proto: Proto,
        sport: Option<Neg<PortRange>>,
        dport: Option<Neg<PortRange>>,
        flags: Option<Neg<TcpFlags>>,
    },
    Conntrack {
        tok: &'a Token,
        ctstate: Option<Neg<CtStates>>,
    },
    State {
        tok: &'a Token,
        state: Option<Neg<CtStates>>,
    },
    Icmp {
        tok: &'a Token,
        icmp: Option<Neg<IcmpType>>,
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
    IpRange {
        tok: &'a Token,
        src: Option<Neg<AddrRange>>,
        dst: Option<Neg<AddrRange>>,
    },
    Physdev {
        tok: &'a Token,
        p: Physdev,
    },
    Limit {
        rate: Option<u32>,
        burst: Option<u32>,
    },
    Owner {
        tok: &'a Token,
        o: Owner,
    },
}

/// The options of the implicit `tcp` match.
pub(crate) const TCP_OPTIONS: &[&str] = &[
    "--sport",
    "--source-port",
    "--dport",
    "--destination-port",
    "--tcp-flags",
    "--syn",
    "--tcp-option",
];

/// The options of the implicit `udp` match.
pub(crate) const UDP_OPTIONS: &[&str] =
    &["--sport", "--source-port", "--dport", "--destination-port"];

/// The options of `-m conntrack`: `--ctstate` is modeled, the rest are not.
const CONNTRACK_OPTIONS: &[&str] = &[
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
];

/// Options a loaded match knows but nettwin does not model (and `-m conntrack`'s but
/// `--ctstate`).
const UNMODELED_MATCH_OPTIONS: &[&str] =
    &["--tcp-option", "--limit-iface-in", "--limit-iface-out", "--ports", "--suppl-groups"];

/// Whether a loaded match knows option `name` but nettwin does not model it.
pub(crate) fn unmodeled_match_option(name: &str) -> bool {
    UNMODELED_MATCH_OPTIONS.contains(&name) || CONNTRACK_OPTIONS[1..].contains(&name)
}

impl<'a> Slot<'a> {
    /// Loads the match `-m NAME` names, or `None` when nettwin has no such slot.
    pub(crate) fn load(v: &'a Token, proto: ProtoArg) -> Result<Option<Slot<'a>>, ParseError> {
        Ok(Some(match v.text.as_str() {
            "tcp" | "udp" => {
                let proto = if v.text == "tcp" { Proto::Tcp } else { Proto::Udp };
                Slot::Ports { proto, sport: None, dport: None, flags: None }
            }
            "conntrack" => Slot::Conntrack { tok: v, ctstate: None },
            "state" => Slot::State { tok: v, state: None },
            "icmp" => Slot::Icmp { tok: v, icmp: None },
            "addrtype" => Slot::AddrType { tok: v, src: None, dst: None },
            "multiport" => {
                if !matches!(proto, Some((false, Some(Proto::Tcp | Proto::Udp)))) {
                    return Err(invalid(v, "match", "multiport needs -p tcp or -p udp before it"));
                }
                Slot::Multiport { tok: v, ports: None }
            }
            "mark" => Slot::Mark { tok: v, mark: None },
            "comment" => Slot::Comment { tok: v, text: None },
            "iprange" => Slot::IpRange { tok: v, src: None, dst: None },
            "physdev" => Slot::Physdev { tok: v, p: Physdev::default() },
            "limit" => Slot::Limit { rate: None, burst: None },
            "owner" => Slot::Owner { tok: v, o: Owner::default() },
            _ => return Ok(None),
        }))
    }

    /// Whether this is the protocol match (`tcp`/`udp`) or the `icmp` match.
    pub(crate) fn is_protocol(&self) -> bool {
        matches!(self, Slot::Ports { .. } | Slot::Icmp { .. })
    }

    /// The options the extension takes.
    pub(crate) fn options(&self) -> &'static [&'static str] {
        match self {
            Slot::Ports { proto: Proto::Tcp, .. } => TCP_OPTIONS,
            Slot::Ports { .. } => UDP_OPTIONS,
            Slot::Conntrack { .. } => CONNTRACK_OPTIONS,
            Slot::State { .. } => &["--state"],
            Slot::Icmp { .. } => &["--icmp-type"],
            Slot::AddrType { .. } => {
                &["--src-type", "--dst-type", "--limit-iface-in", "--limit-iface-out"]
            }
            Slot::Multiport { .. } => {
                &["--dports", "--destination-ports", "--sports", "--source-ports", "--ports"]
            }
            Slot::Mark { .. } => &["--mark"],
            Slot::Comment { .. } => &["--comment"],
            Slot::IpRange { .. } => &["--src-range", "--dst-range"],
            Slot::Physdev { .. } => &[
                "--physdev-in",
                "--physdev-out",
                "--physdev-is-in",
                "--physdev-is-out",
                "--physdev-is-bridged",
            ],
            Slot::Limit { .. } => &["--limit", "--limit-burst"],
            Slot::Owner { .. } => {
                &["--uid-owner", "--gid-owner", "--socket-exists", "--suppl-groups"]
            }
        }
    }

    /// Takes one of the slot's options (its value from the cursor).
    pub(crate) fn option(
        &mut self,
        c: &mut Cursor<'_>,
        t: &Token,
        neg: Option<&Token>,
        proto: ProtoArg,
    ) -> Result<(), ParseError> {
        let name = t.text.as_str();
        let negated = neg.is_some();
        let once =
            |set: bool| if set { Err(conflict(t, "option can only be used once")) } else { Ok(()) };
        match self {
            Slot::Ports { proto: p, sport, dport, flags } => {
                if !matches!(proto, Some((_, Some(q))) if q == *p) {
                    let need = if *p == Proto::Tcp {
                        "TCP match requires -p tcp"
                    } else {
                        "UDP match requires -p udp"
                    };
                    return Err(invalid(t, "option", need));
                }
                let lookup = if *p == Proto::Tcp { Lookup::Tcp } else { Lookup::Any };
                match name {
                    "--syn" | "--tcp-flags" => {
                        if flags.is_some() {
                            return Err(conflict(
                                t,
                                "Only one of `--syn' or `--tcp-flags' allowed",
                            ));
                        }
                        let value = if name == "--syn" {
                            TcpFlags::SYN_ONLY
                        } else {
                            let mask = ext_values::tcp_flag_list(c.expect("a flag mask")?)?;
                            let comp = ext_values::tcp_flag_list(c.expect("the flags set")?)?;
                            if mask == 0 {
                                return Err(unsupported(
                                    t,
                                    "flag test with an empty mask",
                                    "iptables-nft does not keep it as written",
                                ));
                            }
                            TcpFlags { mask, comp }
                        };
                        *flags = Some(negate(negated, value));
                    }
                    _ => {
                        let which =
                            if matches!(name, "--sport" | "--source-port") { sport } else { dport };
                        once(which.is_some())?;
                        let range = values::port_range(c.expect("a port or port range")?, lookup)?;
                        *which = Some(negate(negated, range));
                    }
                }
            }
            Slot::Conntrack { ctstate, .. } => {
                if name != "--ctstate" {
                    return Err(unsupported(t, "option", "only --ctstate is modeled"));
                }
                once(ctstate.is_some())?;
                *ctstate = Some(negate(negated, values::ctstates(c.expect("conntrack states")?)?));
            }
            Slot::State { state, .. } => {
                once(state.is_some())?;
                *state = Some(negate(negated, ext_values::states(c.expect("states")?)?));
            }
            Slot::Icmp { icmp, .. } => {
                // Without -p icmp iptables takes it and the kernel refuses the rule.
                once(icmp.is_some())?;
                *icmp = Some(negate(negated, ext_values::icmp_type(c.expect("an ICMP type")?)?));
            }
            Slot::AddrType { src, dst, .. } => {
                let which = match name {
                    "--src-type" => src,
                    "--dst-type" => dst,
                    _ => {
                        return Err(unsupported(
                            t,
                            "option",
                            "only --src-type/--dst-type are modeled",
                        ));
                    }
                };
                once(which.is_some())?;
                *which = Some(negate(negated, values::addr_type(c.expect("an address type")?)?));
            }
            Slot::Multiport { ports, .. } => {
                let dir = match name {
                    "--dports" | "--destination-ports" => PortDir::Destination,
                    "--sports" | "--source-ports" => PortDir::Source,
                    _ => {
                        return Err(unsupported(t, "option", "only --dports/--sports are modeled"));
                    }
                };
                if ports.is_some() {
                    return Err(conflict(t, "multiport takes one of --sports, --dports"));
                }
                let lookup = match proto {
                    Some((_, Some(Proto::Udp))) => Lookup::Udp,
                    _ => Lookup::Tcp,
                };
                let list = values::multiport_list(c.expect("a port list")?, lookup)?;
                *ports = Some((dir, negate(negated, list)));
            }
            Slot::Mark { mark, .. } => {
                once(mark.is_some())?;
                let (value, mask) = values::mark(c.expect("a mark value")?)?;
                *mark = Some((negated, value, mask.unwrap_or(u32::MAX)));
            }
            Slot::Comment { text, .. } => {
                no_neg(neg, t)?;
                once(text.is_some())?;
                *text = Some(comment(c.expect("a comment")?)?);
            }
            Slot::IpRange { src, dst, .. } => {
                let which = if name == "--src-range" { src } else { dst };
                once(which.is_some())?;
                *which =
                    Some(negate(negated, ext_values::addr_range(c.expect("an address range")?)?));
            }
            Slot::Physdev { p, .. } => match name {
                "--physdev-in" | "--physdev-out" => {
                    let which =
                        if name == "--physdev-in" { &mut p.port_in } else { &mut p.port_out };
                    once(which.is_some())?;
                    *which = Some(negate(negated, bridge_port(c.expect("a bridge port")?)?));
                }
                _ => {
                    let which = match name {
                        "--physdev-is-in" => &mut p.is_in,
                        "--physdev-is-out" => &mut p.is_out,
                        _ => &mut p.is_bridged,
                    };
                    once(which.is_some())?;
                    *which = Some(negated);
                }
            },
            Slot::Limit { rate, burst } => {
                no_neg(neg, t)?;
                if name == "--limit" {
                    once(rate.is_some())?;
                    *rate = Some(ext_values::rate(c.expect("a rate")?)?);
                } else {
                    once(burst.is_some())?;
                    *burst = Some(ext_values::burst(c.expect("a burst")?)?);
                }
            }
            Slot::Owner { o, .. } => match name {
                "--uid-owner" | "--gid-owner" => {
                    let group = name == "--gid-owner";
                    let which = if group { &mut o.gid } else { &mut o.uid };
                    once(which.is_some())?;
                    let range: IdRange = ext_values::id_range(c.expect("an id")?, group)?;
                    *which = Some(negate(negated, range));
                }
                "--socket-exists" => {
                    once(o.socket_exists.is_some())?;
                    o.socket_exists = Some(negated);
                }
                _ => return Err(unsupported(t, "option", "supplementary groups are not modeled")),
            },
        }
        Ok(())
    }

    /// The finished match, or what it lacks.
    pub(crate) fn into_match(self) -> Result<Match, ParseError> {
        Ok(match self {
            Slot::Ports { proto: Proto::Tcp, sport, dport, flags } => {
                Match::Tcp { sport, dport, flags }
            }
            Slot::Ports { sport, dport, .. } => Match::Udp { sport, dport },
            Slot::Conntrack { tok, ctstate } => {
                Match::Conntrack { ctstate: ctstate.ok_or_else(|| needs(tok, "--ctstate"))? }
            }
            Slot::State { tok, state } => {
                Match::State { state: state.ok_or_else(|| needs(tok, "--state"))? }
            }
            Slot::Icmp { tok, icmp } => {
                Match::Icmp { icmp: icmp.ok_or_else(|| needs(tok, "--icmp-type"))? }
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
            Slot::IpRange { tok, src, dst } => {
                if src.is_none() && dst.is_none() {
                    return Err(needs(tok, "--src-range or --dst-range"));
                }
                Match::IpRange { src, dst }
            }
            Slot::Physdev { tok, p } => {
                if p == Physdev::default() {
                    return Err(needs(tok, "a --physdev option"));
                }
                Match::Physdev(Box::new(p))
            }
            Slot::Limit { rate, burst } => Match::Limit(Limit {
                period: rate.unwrap_or(Limit::DEFAULT.period),
                burst: burst.unwrap_or(Limit::DEFAULT.burst),
            }),
            Slot::Owner { tok, o } => {
                if o == Owner::default() {
                    return Err(needs(tok, "--uid-owner, --gid-owner or --socket-exists"));
                }
                Match::Owner(o)
            }
        })
    }
}

fn negate<T>(negated: bool, value: T) -> Neg<T> {
    Neg { negated, value }
}

/// The error of a match or target that lacks its required option.
pub(crate) fn needs(t: &Token, expected: &'static str) -> ParseError {
    ParseError::at(t, ParseErrorKind::MissingArgument { expected, after: t.text.clone() })
}

/// Refuses `!` before an option that cannot be inverted.
pub(crate) fn no_neg(neg: Option<&Token>, t: &Token) -> Result<(), ParseError> {
    match neg {
        None => Ok(()),
        Some(_) => Err(invalid(t, "negation", format!("{} cannot be inverted", t.text))),
    }
}

/// A comment, cut at [`COMMENT_MAX`] bytes as iptables cuts it.
fn comment(v: &Token) -> Result<String, ParseError> {
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
    Ok(s)
}

/// `-i`/`-o` and `--physdev-in/out`: an interface name or prefix ending in `+`.
pub(crate) fn bridge_port(v: &Token) -> Result<IfacePattern, ParseError> {
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
