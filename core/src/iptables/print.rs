//! Printing rules and commands exactly as `iptables-save` (iptables 1.8.9, nf_tables)
//! does: generic options in the fixed order `-s -d -i -o -p`, then the matches in rule
//! order, then the target; `/32` on host addresses, `-m tcp` spelled out, `!` before the
//! option it negates, ctstates in kernel bit order, marks in hex with the mask left out
//! when it is `0xffffffff`, REJECT's default made explicit, comments quoted with
//! libxtables' `xtables_save_string` rules.

use std::fmt::{self, Display, Formatter, Write};

use super::ext_values::rate_text;
use super::rule::{
    AddrType, Command, CtStates, IcmpType, Limit, ListVerb, Match, NatFlags, NatTo, Neg, PortDir,
    PortRange, Rule, RuleRef, Target, TcpFlags,
};
use super::values::reject_name;

/// Quotes a word as `xtables_save_string` does: bare when it is non-empty and only
/// `[A-Za-z0-9_-]`, otherwise in double quotes with `"`, `\` and `'` backslash-escaped.
pub fn save_string(word: &str) -> String {
    let bare =
        !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Writes ` ` between parts, never before the first.
struct Parts<'a, 'b> {
    f: &'a mut Formatter<'b>,
    first: bool,
}

impl Parts<'_, '_> {
    fn put(&mut self, part: impl Display) -> fmt::Result {
        if !self.first {
            self.f.write_char(' ')?;
        }
        self.first = false;
        write!(self.f, "{part}")
    }

    fn neg(&mut self, negated: bool) -> fmt::Result {
        if negated { self.put("!") } else { Ok(()) }
    }
}

struct Colon(PortRange);

impl Display for Colon {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            PortRange { lo, hi } if lo == hi => write!(f, "{lo}"),
            PortRange { lo, hi } => write!(f, "{lo}:{hi}"),
        }
    }
}

struct States(CtStates);

impl Display for States {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for (name, s) in CtStates::NAMES {
            if self.0.intersects(s) {
                write!(f, "{sep}{name}")?;
                sep = ",";
            }
        }
        Ok(())
    }
}

fn addr_type(t: AddrType) -> &'static str {
    match t {
        AddrType::Local => "LOCAL",
    }
}

fn ports(
    p: &mut Parts<'_, '_>,
    proto: &str,
    sport: &Option<Neg<PortRange>>,
    dport: &Option<Neg<PortRange>>,
) -> fmt::Result {
    p.put(format_args!("-m {proto}"))?;
    for (opt, port) in [("--sport", sport), ("--dport", dport)] {
        if let Some(n) = port {
            p.neg(n.negated)?;
            p.put(format_args!("{opt} {}", Colon(n.value)))?;
        }
    }
    Ok(())
}

struct Flags(u8);

impl Display for Flags {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("NONE");
        }
        let mut sep = "";
        for (name, bit) in TcpFlags::NAMES {
            if self.0 & bit != 0 {
                write!(f, "{sep}{name}")?;
                sep = ",";
            }
        }
        Ok(())
    }
}

fn write_match(p: &mut Parts<'_, '_>, m: &Match) -> fmt::Result {
    match m {
        Match::Tcp { sport, dport, flags } => {
            ports(p, "tcp", sport, dport)?;
            if let Some(n) = flags {
                p.neg(n.negated)?;
                p.put(format_args!("--tcp-flags {} {}", Flags(n.value.mask), Flags(n.value.comp)))?;
            }
            Ok(())
        }
        Match::Udp { sport, dport } => ports(p, "udp", sport, dport),
        Match::State { state } => {
            p.put("-m state")?;
            p.neg(state.negated)?;
            p.put(format_args!("--state {}", States(state.value)))
        }
        Match::Icmp { icmp } => {
            p.put("-m icmp")?;
            p.neg(icmp.negated)?;
            match icmp.value {
                IcmpType { ty: 255, .. } => p.put("--icmp-type any"),
                IcmpType { ty, code: None } => p.put(format_args!("--icmp-type {ty}")),
                IcmpType { ty, code: Some(c) } => p.put(format_args!("--icmp-type {ty}/{c}")),
            }
        }
        Match::IpRange { src, dst } => {
            p.put("-m iprange")?;
            for (opt, r) in [("--src-range", src), ("--dst-range", dst)] {
                if let Some(n) = r {
                    p.neg(n.negated)?;
                    p.put(format_args!("{opt} {}-{}", n.value.lo, n.value.hi))?;
                }
            }
            Ok(())
        }
        Match::Physdev(d) => {
            p.put("-m physdev")?;
            for (opt, port) in [("--physdev-in", &d.port_in), ("--physdev-out", &d.port_out)] {
                if let Some(n) = port {
                    p.neg(n.negated)?;
                    p.put(format_args!("{opt} {}", n.value.as_str()))?;
                }
            }
            let flags = [
                ("--physdev-is-in", d.is_in),
                ("--physdev-is-out", d.is_out),
                ("--physdev-is-bridged", d.is_bridged),
            ];
            for (opt, negated) in flags {
                if let Some(negated) = negated {
                    p.neg(negated)?;
                    p.put(opt)?;
                }
            }
            Ok(())
        }
        Match::Limit(l) => {
            p.put(format_args!("-m limit --limit {}", rate_text(l.period)))?;
            if l.burst != Limit::DEFAULT.burst {
                p.put(format_args!("--limit-burst {}", l.burst))?;
            }
            Ok(())
        }
        Match::Owner(o) => {
            p.put("-m owner")?;
            if let Some(negated) = o.socket_exists {
                p.neg(negated)?;
                p.put("--socket-exists")?;
            }
            for (opt, id) in [("--uid-owner", &o.uid), ("--gid-owner", &o.gid)] {
                if let Some(n) = id {
                    p.neg(n.negated)?;
                    if n.value.lo == n.value.hi {
                        p.put(format_args!("{opt} {}", n.value.lo))?;
                    } else {
                        p.put(format_args!("{opt} {}-{}", n.value.lo, n.value.hi))?;
                    }
                }
            }
            Ok(())
        }
        Match::Conntrack { ctstate } => {
            p.put("-m conntrack")?;
            p.neg(ctstate.negated)?;
            p.put(format_args!("--ctstate {}", States(ctstate.value)))
        }
        Match::AddrType { src, dst } => {
            p.put("-m addrtype")?;
            for (opt, t) in [("--src-type", src), ("--dst-type", dst)] {
                if let Some(n) = t {
                    p.neg(n.negated)?;
                    p.put(format_args!("{opt} {}", addr_type(n.value)))?;
                }
            }
            Ok(())
        }
        Match::Multiport { dir, ports } => {
            p.put("-m multiport")?;
            p.neg(ports.negated)?;
            let opt = match dir {
                PortDir::Source => "--sports",
                PortDir::Destination => "--dports",
            };
            let list: Vec<String> = ports.value.iter().map(|r| Colon(*r).to_string()).collect();
            p.put(format_args!("{opt} {}", list.join(",")))
        }
        Match::Mark { negated, value, mask } => {
            p.put("-m mark")?;
            p.neg(*negated)?;
            if *mask == u32::MAX {
                p.put(format_args!("--mark {value:#x}"))
            } else {
                p.put(format_args!("--mark {value:#x}/{mask:#x}"))
            }
        }
        Match::Comment(text) => p.put(format_args!("-m comment --comment {}", save_string(text))),
    }
}

fn nat_to(to: &NatTo) -> String {
    let mut s = to.first.to_string();
    if to.last != to.first {
        let _ = write!(s, "-{}", to.last);
    }
    if let Some(r) = &to.ports {
        let _ = write!(s, ":{}", port_range(r));
    }
    s
}

/// The flags as iptables-save writes them after a NAT target's address or ports.
fn nat_flags(p: &mut Parts<'_, '_>, f: NatFlags) -> fmt::Result {
    for (on, name) in
        [(f.random, "--random"), (f.random_fully, "--random-fully"), (f.persistent, "--persistent")]
    {
        if on {
            p.put(name)?;
        }
    }
    Ok(())
}

/// LOG's default syslog level (`warning`), which iptables-save leaves out.
pub(super) const LOG_DEFAULT_LEVEL: u8 = 4;

fn port_range(r: &PortRange) -> String {
    if r.lo == r.hi { r.lo.to_string() } else { format!("{}-{}", r.lo, r.hi) }
}

fn write_target(p: &mut Parts<'_, '_>, t: &Target) -> fmt::Result {
    match t {
        Target::None => Ok(()),
        Target::Accept => p.put("-j ACCEPT"),
        Target::Drop => p.put("-j DROP"),
        Target::Return => p.put("-j RETURN"),
        Target::Reject(w) => p.put(format_args!("-j REJECT --reject-with {}", reject_name(*w))),
        Target::Jump(c) => p.put(format_args!("-j {c}")),
        Target::Goto(c) => p.put(format_args!("-g {c}")),
        Target::Dnat(to) => {
            p.put(format_args!("-j DNAT --to-destination {}", nat_to(to)))?;
            nat_flags(p, to.flags)
        }
        Target::Snat(to) => {
            p.put(format_args!("-j SNAT --to-source {}", nat_to(to)))?;
            nat_flags(p, to.flags)
        }
        Target::Masquerade { ports, flags } => {
            p.put("-j MASQUERADE")?;
            if let Some(r) = ports {
                p.put(format_args!("--to-ports {}", port_range(r)))?;
            }
            nat_flags(p, *flags)
        }
        Target::Redirect { ports, flags } => {
            p.put("-j REDIRECT")?;
            if let Some(r) = ports {
                p.put(format_args!("--to-ports {}", port_range(r)))?;
            }
            nat_flags(p, *flags)
        }
        Target::Log { prefix, level } => {
            p.put("-j LOG")?;
            if let Some(text) = prefix {
                p.put(format_args!("--log-prefix {}", save_string(text)))?;
            }
            if *level != LOG_DEFAULT_LEVEL {
                p.put(format_args!("--log-level {level}"))?;
            }
            Ok(())
        }
        Target::Nflog { group, prefix } => {
            p.put("-j NFLOG")?;
            if let Some(text) = prefix {
                p.put(format_args!("--nflog-prefix {}", save_string(text)))?;
            }
            if *group != 0 {
                p.put(format_args!("--nflog-group {group}"))?;
            }
            Ok(())
        }
        Target::Tcpmss(Some(mss)) => p.put(format_args!("-j TCPMSS --set-mss {mss}")),
        Target::Tcpmss(None) => p.put("-j TCPMSS --clamp-mss-to-pmtu"),
        Target::Notrack { ct: false } => p.put("-j NOTRACK"),
        Target::Notrack { ct: true } => p.put("-j CT --notrack"),
        Target::Mark { value, mask } => {
            p.put(format_args!("-j MARK --set-xmark {value:#x}/{mask:#x}"))
        }
    }
}

impl Display for Rule {
    /// The rule as `iptables-save` prints it after `-A CHAIN ` (empty for the empty rule).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut p = Parts { f, first: true };
        if let Some(s) = &self.src {
            p.neg(s.negated)?;
            p.put(format_args!("-s {}", s.value))?;
        }
        if let Some(d) = &self.dst {
            p.neg(d.negated)?;
            p.put(format_args!("-d {}", d.value))?;
        }
        if let Some(i) = &self.in_iface {
            p.neg(i.negated)?;
            p.put(format_args!("-i {}", i.value.as_str()))?;
        }
        if let Some(o) = &self.out_iface {
            p.neg(o.negated)?;
            p.put(format_args!("-o {}", o.value.as_str()))?;
        }
        if let Some(proto) = &self.proto {
            p.neg(proto.negated)?;
            p.put(format_args!("-p {}", proto.value))?;
        }
        for m in &self.matches {
            write_match(&mut p, m)?;
        }
        write_target(&mut p, &self.target)
    }
}

/// `-X C rule` with the space left out when the rule is empty.
fn with_rule(f: &mut Formatter<'_>, head: fmt::Arguments<'_>, rule: &Rule) -> fmt::Result {
    f.write_fmt(head)?;
    let spec = rule.to_string();
    if spec.is_empty() { Ok(()) } else { write!(f, " {spec}") }
}

impl Display for Command {
    /// The command as iptables arguments, without `-t` (`-A CHAIN spec`, `-I CHAIN 2 spec`,
    /// `-D CHAIN 3`, `-N CHAIN`, `-F`, `-P CHAIN DROP`).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Command::NewChain(c) => write!(f, "-N {c}"),
            Command::DeleteChain(c) => write!(f, "-X {c}"),
            Command::Flush(None) => f.write_str("-F"),
            Command::Flush(Some(c)) => write!(f, "-F {c}"),
            Command::Append(c, r) => with_rule(f, format_args!("-A {c}"), r),
            Command::Insert(c, n, r) => with_rule(f, format_args!("-I {c} {n}"), r),
            Command::Delete(c, RuleRef::Spec(r)) => with_rule(f, format_args!("-D {c}"), r),
            Command::Delete(c, RuleRef::Index(n)) => write!(f, "-D {c} {n}"),
            Command::Policy(c, p) => write!(f, "-P {c} {}", p.as_str()),
            Command::Replace(c, n, r) => with_rule(f, format_args!("-R {c} {n}"), r),
            Command::Rename(a, b) => write!(f, "-E {a} {b}"),
            Command::Zero(None, _) => f.write_str("-Z"),
            Command::Zero(Some(c), None) => write!(f, "-Z {c}"),
            Command::Zero(Some(c), Some(n)) => write!(f, "-Z {c} {n}"),
            Command::PerAddress(p) => {
                match p.verb {
                    ListVerb::Append => write!(f, "-A {}", p.chain)?,
                    ListVerb::Insert(n) => write!(f, "-I {} {n}", p.chain)?,
                    ListVerb::Delete => write!(f, "-D {}", p.chain)?,
                }
                let list = |l: &[crate::addr::Cidr]| {
                    l.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
                };
                if !p.sources.is_empty() {
                    write!(f, " -s {}", list(&p.sources))?;
                }
                if !p.destinations.is_empty() {
                    write!(f, " -d {}", list(&p.destinations))?;
                }
                let rest = p.rule.to_string();
                if rest.is_empty() { Ok(()) } else { write!(f, " {rest}") }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_string_quotes_like_libxtables() {
        assert_eq!(save_string("hello"), "hello");
        assert_eq!(save_string("a_b-1"), "a_b-1");
        assert_eq!(save_string(""), r#""""#);
        assert_eq!(save_string("hello world"), r#""hello world""#);
        assert_eq!(save_string(r#"name: "nomad""#), r#""name: \"nomad\"""#);
        assert_eq!(save_string("it's"), r#""it\'s""#);
        assert_eq!(save_string(r"a\b"), r#""a\\b""#);
        assert_eq!(save_string("a$b"), r#""a$b""#);
    }
}
