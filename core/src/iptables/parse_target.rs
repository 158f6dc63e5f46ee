//! The target of a rule being parsed (`-j`/`-g`): the slot that takes the target's
//! options, as the target extension's own parser in iptables 1.8.9 does, and becomes a
//! [`Target`] at the end.

use super::parse_match::{ProtoArg, needs};
use super::rule::{PortRange, RejectWith, Target};
use super::values::{self, conflict, invalid, unsupported};
use crate::names::ChainName;
use crate::text::{Cursor, ParseError, Token};

/// The target being filled in by its options.
pub(crate) enum TargetSlot {
    Done(Target),
    Reject(Option<RejectWith>),
    Nat { snat: bool, to: Option<(std::net::Ipv4Addr, Option<PortRange>)> },
    Masquerade,
    Mark(Option<(u32, u32)>),
}

/// Options a loaded target knows but nettwin does not model.
pub(crate) const UNMODELED_TARGET_OPTIONS: &[&str] =
    &["--random", "--random-fully", "--persistent", "--to-ports"];

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
            TargetSlot::Masquerade => &["--to-ports", "--random", "--random-fully"],
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

    /// The finished target, or what it lacks; `t` is the target's name token.
    pub(crate) fn finish(self, t: &Token) -> Result<Target, ParseError> {
        Ok(match self {
            TargetSlot::Done(target) => target,
            TargetSlot::Reject(w) => Target::Reject(w.unwrap_or(RejectWith::PortUnreachable)),
            TargetSlot::Nat { snat, to } => {
                let opt = if snat { "--to-source" } else { "--to-destination" };
                let (ip, ports) = to.ok_or_else(|| needs(t, opt))?;
                if snat { Target::Snat { ip, ports } } else { Target::Dnat { ip, ports } }
            }
            TargetSlot::Masquerade => Target::Masquerade,
            TargetSlot::Mark(m) => {
                let (value, mask) = m.ok_or_else(|| needs(t, "--set-xmark or --set-mark"))?;
                Target::Mark { value, mask }
            }
        })
    }
}
