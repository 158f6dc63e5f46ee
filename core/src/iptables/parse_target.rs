//! The target of a rule being parsed (`-j`/`-g`): the slot that takes the target's
//! options, as the target extension's own parser in iptables 1.8.9 does, and becomes a
//! [`Target`] at the end.

use super::parse_match::{ProtoArg, needs};
use super::rule::{NatFlags, NatTo, PortRange, RejectWith, Target};
use super::values::{self, conflict, invalid, unsupported};
use crate::addr::Proto;
use crate::names::ChainName;
use crate::text::{Cursor, ParseError, Token};
use std::sync::Arc;

/// The target being filled in by its options.
pub(crate) enum TargetSlot {
    Done(Target),
    Reject(Option<RejectWith>),
    Nat { snat: bool, to: Option<NatTo>, flags: NatFlags },
    Masquerade(Option<PortRange>, NatFlags),
    Redirect(Option<PortRange>, NatFlags),
    Mark(Option<(u32, u32)>),
    Log { prefix: Option<Arc<str>>, level: Option<u8> },
    Nflog { group: Option<u16>, prefix: Option<Arc<str>> },
    Tcpmss(Option<Option<u16>>),
    Notrack,
    Ct(bool),
}

/// Options a loaded target knows but nettwin does not model (and `-j CT`'s but
/// `--notrack`).
const UNMODELED_TARGET_OPTIONS: &[&str] = &[
    "--log-tcp-sequence",
    "--log-tcp-options",
    "--log-ip-options",
    "--log-uid",
    "--log-macdecode",
    "--nflog-range",
    "--nflog-size",
    "--nflog-threshold",
];

/// The options of `-j CT`: `--notrack` is modeled, the rest are not.
const CT_OPTIONS: &[&str] = &[
    "--notrack",
    "--helper",
    "--ctevents",
    "--expevents",
    "--zone",
    "--zone-orig",
    "--zone-reply",
    "--timeout",
];

/// Whether a loaded target knows option `name` but nettwin does not model it.
pub(crate) fn unmodeled_target_option(name: &str) -> bool {
    UNMODELED_TARGET_OPTIONS.contains(&name) || CT_OPTIONS[1..].contains(&name)
}

/// The longest LOG prefix the kernel keeps (29 bytes and a NUL); iptables cuts longer.
const LOG_PREFIX_MAX: usize = 29;

/// The syslog level names iptables knows, by number.
const LOG_LEVELS: [&str; 8] =
    ["emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"];

impl TargetSlot {
    /// The options the target takes.
    pub(crate) fn options(&self) -> &'static [&'static str] {
        match self {
            TargetSlot::Done(_) => &[],
            TargetSlot::Reject(_) => &["--reject-with"],
            TargetSlot::Nat { snat: false, .. } => {
                &["--to-destination", "--random", "--persistent"]
            }
            TargetSlot::Nat { snat: true, .. } => {
                &["--to-source", "--random", "--random-fully", "--persistent"]
            }
            TargetSlot::Masquerade(..) => &["--to-ports", "--random", "--random-fully"],
            TargetSlot::Redirect(..) => &["--to-ports", "--random"],
            TargetSlot::Log { .. } => &[
                "--log-prefix",
                "--log-level",
                "--log-tcp-sequence",
                "--log-tcp-options",
                "--log-ip-options",
                "--log-uid",
                "--log-macdecode",
            ],
            TargetSlot::Nflog { .. } => &[
                "--nflog-group",
                "--nflog-prefix",
                "--nflog-range",
                "--nflog-size",
                "--nflog-threshold",
            ],
            TargetSlot::Tcpmss(_) => &["--set-mss", "--clamp-mss-to-pmtu"],
            TargetSlot::Notrack => &[],
            TargetSlot::Ct(_) => CT_OPTIONS,
            TargetSlot::Mark(_) => {
                &["--set-xmark", "--set-mark", "--and-mark", "--or-mark", "--xor-mark"]
            }
        }
    }

    /// Loads the target `-j NAME` (or `-g NAME`) names.
    pub(crate) fn load(v: &Token, goto: bool) -> Result<TargetSlot, ParseError> {
        let name = v.text.as_str();
        let slot = match name {
            "ACCEPT" => TargetSlot::Done(Target::Accept),
            "DROP" => TargetSlot::Done(Target::Drop),
            "RETURN" => TargetSlot::Done(Target::Return),
            "REJECT" => TargetSlot::Reject(None),
            "DNAT" => TargetSlot::Nat { snat: false, to: None, flags: NatFlags::default() },
            "SNAT" => TargetSlot::Nat { snat: true, to: None, flags: NatFlags::default() },
            "MASQUERADE" => TargetSlot::Masquerade(None, NatFlags::default()),
            "REDIRECT" => TargetSlot::Redirect(None, NatFlags::default()),
            "MARK" => TargetSlot::Mark(None),
            "LOG" => TargetSlot::Log { prefix: None, level: None },
            "NFLOG" => TargetSlot::Nflog { group: None, prefix: None },
            "TCPMSS" => TargetSlot::Tcpmss(None),
            "NOTRACK" => TargetSlot::Notrack,
            "CT" => TargetSlot::Ct(false),
            _ if values::is_target_name(name) => {
                return Err(unsupported(
                    v,
                    "target",
                    "modeled: ACCEPT, DROP, RETURN, REJECT, DNAT, SNAT, MASQUERADE, REDIRECT, \
                     MARK, LOG, NFLOG, TCPMSS, NOTRACK, CT --notrack, chains",
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

    /// Takes one of the target's options.
    pub(crate) fn option(
        &mut self,
        target: &Token,
        c: &mut Cursor<'_>,
        t: &Token,
        proto: ProtoArg,
    ) -> Result<(), ParseError> {
        match self {
            TargetSlot::Reject(w) => {
                if w.is_some() {
                    return Err(conflict(t, "--reject-with can only be used once"));
                }
                *w = Some(values::reject_with(c.expect("a reject type")?)?);
            }
            TargetSlot::Nat { flags, .. }
            | TargetSlot::Masquerade(_, flags)
            | TargetSlot::Redirect(_, flags)
                if t.text.starts_with("--random") || t.text == "--persistent" =>
            {
                match t.text.as_str() {
                    "--random" => flags.random = true,
                    "--random-fully" => flags.random_fully = true,
                    _ => flags.persistent = true,
                }
            }
            TargetSlot::Nat { to, .. } => {
                if to.is_some() {
                    return Err(conflict(t, "the NAT address can only be given once"));
                }
                let v = c.expect("ip[:port[-port]]")?;
                let (first, last, ports) = values::nat_to(v)?;
                if ports.is_some() && !matches!(proto, Some((_, Some(_)))) {
                    return Err(invalid(
                        v,
                        "NAT ports",
                        "need -p tcp or -p udp (before the target) with a port",
                    ));
                }
                *to = Some(NatTo { first, last, ports, flags: NatFlags::default() });
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
            TargetSlot::Masquerade(ports, _) | TargetSlot::Redirect(ports, _) => {
                let v = c.expect("port[-port]")?;
                if !matches!(proto, Some((false, Some(Proto::Tcp | Proto::Udp)))) {
                    return Err(invalid(
                        v,
                        "--to-ports",
                        "Need TCP, UDP, SCTP or DCCP with port specification",
                    ));
                }
                *ports = Some(values::to_ports(v)?);
            }
            TargetSlot::Log { prefix, level } => match t.text.as_str() {
                "--log-prefix" => *prefix = Some(log_prefix(c.expect("a prefix")?)?),
                _ => {
                    let v = c.expect("a log level")?;
                    let named = LOG_LEVELS.iter().position(|n| *n == v.text.as_str());
                    let number = v.text.parse::<u8>().ok().filter(|n| *n < 8);
                    let n = named.and_then(|n| u8::try_from(n).ok()).or(number);
                    *level = Some(n.ok_or_else(|| invalid(v, "log level", "log level unknown"))?);
                }
            },
            TargetSlot::Nflog { group, prefix } => match t.text.as_str() {
                "--nflog-prefix" => {
                    let v = c.expect("a prefix")?;
                    if v.text.len() > 64 {
                        return Err(invalid(v, "--nflog-prefix", "at most 64 characters"));
                    }
                    *prefix = Some(Arc::from(v.text.as_str()));
                }
                _ => {
                    let v = c.expect("a group")?;
                    let n = v.text.parse::<u16>().map_err(|_| {
                        invalid(v, "--nflog-group", "a group number from 0 to 65535")
                    })?;
                    *group = Some(n);
                }
            },
            TargetSlot::Tcpmss(mss) => {
                if mss.is_some() {
                    return Err(conflict(t, "TCPMSS takes one of --set-mss, --clamp-mss-to-pmtu"));
                }
                *mss = Some(match t.text.as_str() {
                    "--set-mss" => {
                        let v = c.expect("an MSS")?;
                        let n = v.text.parse::<u16>().ok().filter(|n| *n <= 65515);
                        Some(n.ok_or_else(|| invalid(v, "--set-mss", "out of range (0-65515)"))?)
                    }
                    _ => None,
                });
            }
            TargetSlot::Ct(notrack) => *notrack = true,
            TargetSlot::Done(_) | TargetSlot::Notrack => {
                return Err(invalid(t, "option", format!("{} takes no options", target.text)));
            }
        }
        Ok(())
    }

    /// The finished target, or what it lacks; `t` is the target's name token.
    pub(crate) fn finish(self, t: &Token) -> Result<Target, ParseError> {
        Ok(match self {
            TargetSlot::Done(target) => target,
            TargetSlot::Reject(w) => Target::Reject(w.unwrap_or(RejectWith::PortUnreachable)),
            TargetSlot::Nat { snat, to, flags } => {
                let opt = if snat { "--to-source" } else { "--to-destination" };
                let to = NatTo { flags, ..to.ok_or_else(|| needs(t, opt))? };
                if snat {
                    Target::Snat(to)
                } else {
                    drawn_destination_port(t, to.ports, flags)?;
                    Target::Dnat(to)
                }
            }
            TargetSlot::Masquerade(ports, flags) => Target::Masquerade { ports, flags },
            TargetSlot::Redirect(ports, flags) => {
                drawn_destination_port(t, ports, flags)?;
                Target::Redirect { ports, flags }
            }
            TargetSlot::Log { prefix, level } => {
                Target::Log { prefix, level: level.unwrap_or(super::print::LOG_DEFAULT_LEVEL) }
            }
            TargetSlot::Nflog { group, prefix } => {
                Target::Nflog { group: group.unwrap_or(0), prefix }
            }
            TargetSlot::Tcpmss(mss) => {
                Target::Tcpmss(mss.ok_or_else(|| needs(t, "--set-mss or --clamp-mss-to-pmtu"))?)
            }
            TargetSlot::Notrack => Target::Notrack { ct: false },
            TargetSlot::Ct(true) => Target::Notrack { ct: true },
            TargetSlot::Ct(false) => {
                return Err(unsupported(t, "CT without --notrack", "modeled: CT --notrack"));
            }
            TargetSlot::Mark(m) => {
                let (value, mask) = m.ok_or_else(|| needs(t, "--set-xmark or --set-mark"))?;
                Target::Mark { value, mask }
            }
        })
    }
}

/// Refuses `--random` with a destination port range: the kernel then draws the new
/// destination port at random, and that decides which socket gets the connection.
fn drawn_destination_port(
    t: &Token,
    ports: Option<PortRange>,
    flags: NatFlags,
) -> Result<(), ParseError> {
    match ports {
        Some(r) if flags.random_port() && r.lo != r.hi => Err(unsupported(
            t,
            "--random with a destination port range",
            "the kernel draws the port, which decides the receiving socket; give one port",
        )),
        _ => Ok(()),
    }
}

/// A LOG prefix as the kernel keeps it: cut to 29 bytes (at a character boundary).
fn log_prefix(v: &Token) -> Result<Arc<str>, ParseError> {
    let text = v.text.as_str();
    let mut end = text.len().min(LOG_PREFIX_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Ok(Arc::from(&text[..end]))
}
