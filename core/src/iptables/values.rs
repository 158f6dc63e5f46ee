//! The values inside iptables options, parsed the way iptables 1.8.9 (libxtables) parses
//! them: C numbers (`0x10`, `010`), dotted addresses with missing trailing bytes, port
//! ranges, protocol names and numbers, marks, lists. Every refusal points at its token.

use std::net::Ipv4Addr;

use super::rule::{AddrType, CtStates, PortRange, RejectWith};
use super::services::{self, Lookup};
use crate::addr::{Cidr, Proto};
use crate::text::{ParseError, ParseErrorKind, Token};

/// An error at `t`: valid iptables that nettwin does not model.
pub(crate) fn unsupported(t: &Token, what: &'static str, hint: &'static str) -> ParseError {
    ParseError::at(t, ParseErrorKind::Unsupported { what, token: t.text.clone(), hint: Some(hint) })
}

/// An error at `t`: a value iptables refuses too.
pub(crate) fn invalid(t: &Token, what: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::at(
        t,
        ParseErrorKind::Invalid { what, token: t.text.clone(), reason: reason.into() },
    )
}

/// An error at `t`: an option given twice or clashing with an earlier one.
pub(crate) fn conflict(t: &Token, reason: &'static str) -> ParseError {
    ParseError::at(t, ParseErrorKind::Conflict { token: t.text.clone(), reason })
}

/// An unsigned number the way C's `strtoul(s, _, 0)` reads a whole word: an optional `+`,
/// then `0x` hex, a leading `0` octal, or decimal. `None` if anything else is there.
pub(crate) fn c_number(s: &str) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A dotted address as libxtables reads it: one to four parts, each a C number up to 255,
/// missing trailing parts zero (`10.1` is 10.1.0.0, `010.1.2.3` is 8.1.2.3).
pub(crate) fn xt_dotted(s: &str) -> Option<Ipv4Addr> {
    let mut bytes = [0u8; 4];
    for (n, part) in s.split('.').enumerate() {
        *bytes.get_mut(n)? = u8::try_from(c_number(part)?).ok()?;
    }
    Some(Ipv4Addr::from(bytes))
}

/// `-s`/`-d`: a comma list of [`cidr_item`]s, in order, duplicates kept (iptables adds
/// one rule per address, or pair of addresses). An empty item is refused.
pub(crate) fn cidr_list(t: &Token) -> Result<Vec<Cidr>, ParseError> {
    t.text
        .split(',')
        .map(|item| {
            if item.is_empty() {
                return Err(invalid(t, "address", "host/network `' not found"));
            }
            cidr_item(t, item)
        })
        .collect()
}

/// One address of `-s`/`-d`: `addr`, `addr/len` or `addr/dotted-mask`, host bits cleared
/// (a bare address is a /32). Host names are refused, non-contiguous masks unsupported.
pub(crate) fn cidr_item(t: &Token, s: &str) -> Result<Cidr, ParseError> {
    const WHAT: &str = "address";
    let (addr, mask) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let Some(ip) = xt_dotted(addr) else {
        if addr.chars().any(|c| c.is_ascii_alphabetic()) {
            return Err(unsupported(t, "host name", "names are not resolved; write an address"));
        }
        return Err(invalid(t, WHAT, "not an IPv4 address"));
    };
    let prefix = match mask {
        None => 32,
        Some(m) if m.contains('.') => {
            let bits = xt_dotted(m).map(u32::from).ok_or_else(|| invalid(t, WHAT, "bad mask"))?;
            let len = bits.leading_ones();
            if bits.checked_shl(len).unwrap_or(0) != 0 {
                return Err(unsupported(
                    t,
                    "non-contiguous netmask",
                    "only prefix masks like /24 are modeled",
                ));
            }
            len as u8
        }
        Some(m) => match c_number(m) {
            Some(len) if len <= 32 => len as u8,
            _ => return Err(invalid(t, WHAT, format!("invalid mask {m:?}"))),
        },
    };
    Ok(Cidr::containing(ip, prefix))
}

/// A plain dotted-quad address (NAT targets use `inet_pton`, which is strict).
pub(crate) fn strict_ip(t: &Token, s: &str) -> Result<Ipv4Addr, ParseError> {
    s.parse().map_err(|_| invalid(t, "address", format!("bad IP address {s:?}")))
}

/// `-p`: `tcp`, `udp`, `icmp`, `all` in any case, or the numbers 6, 17, 1, 0. `None` is
/// every protocol. Other protocols iptables knows are unsupported; unknown ones invalid.
pub(crate) fn proto(t: &Token) -> Result<Option<Proto>, ParseError> {
    const KNOWN: &[&str] = &[
        "ip",
        "hopopt",
        "igmp",
        "ggp",
        "ipencap",
        "st",
        "egp",
        "igp",
        "pup",
        "hmp",
        "xns-idp",
        "rdp",
        "iso-tp4",
        "dccp",
        "xtp",
        "ddp",
        "idpr-cmtp",
        "ipv6",
        "ipv6-route",
        "ipv6-frag",
        "idrp",
        "rsvp",
        "gre",
        "esp",
        "ah",
        "skip",
        "ipv6-icmp",
        "icmpv6",
        "ipv6-nonxt",
        "ipv6-opts",
        "rspf",
        "vmtp",
        "eigrp",
        "ospf",
        "ax.25",
        "ipip",
        "etherip",
        "encap",
        "pim",
        "ipcomp",
        "vrrp",
        "l2tp",
        "isis",
        "sctp",
        "fc",
        "mobility-header",
        "mh",
        "ipv6-mh",
        "udplite",
        "mpls-in-ip",
        "manet",
        "hip",
        "shim6",
        "wesp",
        "rohc",
        "ethernet",
        "mptcp",
    ];
    let lower = t.text.to_ascii_lowercase();
    let by_number = c_number(&lower);
    match (lower.as_str(), by_number) {
        ("tcp", _) | (_, Some(6)) => Ok(Some(Proto::Tcp)),
        ("udp", _) | (_, Some(17)) => Ok(Some(Proto::Udp)),
        ("icmp", _) | (_, Some(1)) => Ok(Some(Proto::Icmp)),
        ("all", _) | (_, Some(0)) => Ok(None),
        (_, Some(n)) if n <= 255 => {
            Err(unsupported(t, "protocol", "only tcp, udp, icmp and all are modeled"))
        }
        (name, None) if KNOWN.contains(&name) => {
            Err(unsupported(t, "protocol", "only tcp, udp, icmp and all are modeled"))
        }
        _ => Err(invalid(t, "protocol", "unknown protocol")),
    }
}

/// One port: a C number up to 65535, or a service name of the embedded table
/// (`services`) for the lookup's protocols. Names the table does not have are
/// unsupported (the model reads no `/etc/services`); a name it has only for another
/// protocol is refused, as iptables refuses it.
pub(crate) fn port(t: &Token, s: &str, lookup: Lookup) -> Result<u16, ParseError> {
    if let Some(p) = c_number(s).and_then(|n| u16::try_from(n).ok()) {
        return Ok(p);
    }
    if let Some(p) = services::port_of(s, lookup) {
        return Ok(p);
    }
    let looks_like_name = s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if looks_like_name && !services::is_known(s) && !s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(unsupported(
            t,
            "service name",
            "not among the embedded /etc/services names; write the port number",
        ));
    }
    Err(invalid(t, "port", format!("invalid port/service {s:?}")))
}

/// `--sport`/`--dport`: `P`, `P:P`, `:P` (from 0) or `P:` (to 65535).
pub(crate) fn port_range(t: &Token, lookup: Lookup) -> Result<PortRange, ParseError> {
    let s = t.text.as_str();
    let (lo, hi) = match s.split_once(':') {
        None => {
            let p = port(t, s, lookup)?;
            (p, p)
        }
        Some((a, b)) => {
            let lo = if a.is_empty() { 0 } else { port(t, a, lookup)? };
            let hi = if b.is_empty() { u16::MAX } else { port(t, b, lookup)? };
            (lo, hi)
        }
    };
    if lo > hi {
        return Err(invalid(t, "port range", "invalid portrange (min > max)"));
    }
    Ok(PortRange { lo, hi })
}

/// `--dports`/`--sports`: up to 15 ports, a range counting as two; a range needs
/// first < last (iptables refuses `80:80`).
pub(crate) fn multiport_list(t: &Token, lookup: Lookup) -> Result<Vec<PortRange>, ParseError> {
    let mut out = Vec::new();
    let mut slots = 0;
    for item in t.text.split(',') {
        let r = match item.split_once(':') {
            None => PortRange::one(port(t, item, lookup)?),
            Some((a, b)) => {
                let (lo, hi) = (port(t, a, lookup)?, port(t, b, lookup)?);
                if lo >= hi {
                    return Err(invalid(t, "port list", "invalid portrange specified"));
                }
                PortRange { lo, hi }
            }
        };
        slots += if r.lo == r.hi { 1 } else { 2 };
        out.push(r);
    }
    if slots > 15 {
        return Err(invalid(t, "port list", "too many ports specified (15 at most)"));
    }
    Ok(out)
}

/// `value[/mask]` for `--mark` and the MARK target; the mask defaults to `0xffffffff`.
pub(crate) fn mark(t: &Token) -> Result<(u32, Option<u32>), ParseError> {
    let num = |s: &str| {
        c_number(s)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| invalid(t, "mark", "bad integer value, or out of range"))
    };
    match t.text.split_once('/') {
        Some((v, m)) => Ok((num(v)?, Some(num(m)?))),
        None => Ok((num(&t.text)?, None)),
    }
}

/// `--ctstate A,B`: names in any case, duplicates allowed.
pub(crate) fn ctstates(t: &Token) -> Result<CtStates, ParseError> {
    let mut set = CtStates::default();
    for item in t.text.split(',') {
        let upper = item.to_ascii_uppercase();
        let Some((_, s)) = CtStates::NAMES.iter().find(|(n, _)| *n == upper) else {
            return Err(invalid(t, "ctstate", format!("bad ctstate {item:?}")));
        };
        set = set.union(*s);
    }
    Ok(set)
}

/// `--src-type`/`--dst-type`: only `LOCAL` is modeled.
pub(crate) fn addr_type(t: &Token) -> Result<AddrType, ParseError> {
    const TYPES: [&str; 12] = [
        "UNSPEC",
        "UNICAST",
        "LOCAL",
        "BROADCAST",
        "ANYCAST",
        "MULTICAST",
        "BLACKHOLE",
        "UNREACHABLE",
        "PROHIBIT",
        "THROW",
        "NAT",
        "XRESOLVE",
    ];
    let items: Vec<String> = t.text.split(',').map(str::to_ascii_uppercase).collect();
    if let Some(bad) = items.iter().find(|i| !TYPES.contains(&i.as_str())) {
        return Err(invalid(t, "address type", format!("bad type {bad:?}")));
    }
    if items.iter().all(|i| i == "LOCAL") {
        Ok(AddrType::Local)
    } else {
        Err(unsupported(t, "address type", "only LOCAL is modeled"))
    }
}

/// `--reject-with`: iptables takes any case-insensitive prefix of a type's name or alias,
/// first match in its table order (so `""` means `icmp-net-unreachable`).
pub(crate) fn reject_with(t: &Token) -> Result<RejectWith, ParseError> {
    const TABLE: [(&str, &str, Option<RejectWith>); 8] = [
        ("icmp-net-unreachable", "net-unreach", Some(RejectWith::NetUnreachable)),
        ("icmp-host-unreachable", "host-unreach", Some(RejectWith::HostUnreachable)),
        ("icmp-proto-unreachable", "proto-unreach", Some(RejectWith::ProtoUnreachable)),
        ("icmp-port-unreachable", "port-unreach", Some(RejectWith::PortUnreachable)),
        ("icmp-net-prohibited", "net-prohib", Some(RejectWith::NetProhibited)),
        ("icmp-host-prohibited", "host-prohib", Some(RejectWith::HostProhibited)),
        ("tcp-reset", "tcp-rst", Some(RejectWith::TcpReset)),
        ("icmp-admin-prohibited", "admin-prohib", Some(RejectWith::AdminProhibited)),
    ];
    let arg = t.text.to_ascii_lowercase();
    let hit =
        TABLE.iter().find(|(name, alias, _)| name.starts_with(&arg) || alias.starts_with(&arg));
    match hit {
        Some((_, _, Some(w))) => Ok(*w),
        Some(_) => Err(unsupported(
            t,
            "reject type",
            "modeled: icmp-port-unreachable, icmp-net-unreachable, icmp-host-unreachable, \
             icmp-admin-prohibited, tcp-reset",
        )),
        None => Err(invalid(t, "reject type", "unknown reject type")),
    }
}

/// The name iptables prints for a reject type.
pub(crate) fn reject_name(w: RejectWith) -> &'static str {
    match w {
        RejectWith::PortUnreachable => "icmp-port-unreachable",
        RejectWith::NetUnreachable => "icmp-net-unreachable",
        RejectWith::HostUnreachable => "icmp-host-unreachable",
        RejectWith::AdminProhibited => "icmp-admin-prohibited",
        RejectWith::TcpReset => "tcp-reset",
        RejectWith::HostProhibited => "icmp-host-prohibited",
        RejectWith::NetProhibited => "icmp-net-prohibited",
        RejectWith::ProtoUnreachable => "icmp-proto-unreachable",
    }
}

/// `--to-destination`/`--to-source`: `ip[-ip][:port[-port]]`, as (first, last, ports). A
/// missing address and a range whose first address is the higher are unsupported.
pub(crate) fn nat_to(t: &Token) -> Result<(Ipv4Addr, Ipv4Addr, Option<PortRange>), ParseError> {
    let s = t.text.as_str();
    let (ip, ports) = match s.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    if ip.is_empty() {
        return Err(unsupported(t, "NAT target without address", "give the address too"));
    }
    let (first, last) = match ip.split_once('-') {
        Some((a, b)) => (strict_ip(t, a)?, strict_ip(t, b)?),
        None => {
            let one = strict_ip(t, ip)?;
            (one, one)
        }
    };
    if first > last {
        // iptables takes it, and the kernel's pick then wraps around the address space.
        return Err(unsupported(
            t,
            "a NAT address range whose first address is the higher",
            "give it low-high",
        ));
    }
    let ports = match ports {
        None => None,
        Some(p) => {
            let (lo, hi) = match p.split_once('-') {
                Some((a, b)) => (nat_port(t, a)?, nat_port(t, b)?),
                None => {
                    let one = nat_port(t, p)?;
                    (one, one)
                }
            };
            if lo > hi {
                return Err(invalid(t, "port range", "port range is funky (min > max)"));
            }
            Some(PortRange { lo, hi })
        }
    };
    Ok((first, last, ports))
}

/// `--to-ports P[-Q]` of MASQUERADE and REDIRECT.
pub(crate) fn to_ports(t: &Token) -> Result<PortRange, ParseError> {
    let s = t.text.as_str();
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (nat_port(t, a)?, nat_port(t, b)?),
        None => {
            let one = nat_port(t, s)?;
            (one, one)
        }
    };
    if lo > hi {
        return Err(invalid(t, "port range", "port range is funky (min > max)"));
    }
    Ok(PortRange { lo, hi })
}

fn nat_port(t: &Token, s: &str) -> Result<u16, ParseError> {
    if s.is_empty() || s.starts_with('-') {
        return Err(invalid(t, "port", format!("port {s:?} not valid")));
    }
    port(t, s, Lookup::Any)
}

/// Target names that are iptables extensions (from the xtables modules iptables 1.8.9
/// ships): `-j` with one of these is an unsupported target, and `-N` refuses them
/// ("chain name may not clash with target name").
pub(crate) const EXTENSION_TARGETS: &[&str] = &[
    "AUDIT",
    "CHECKSUM",
    "CLASSIFY",
    "CLUSTERIP",
    "CONNMARK",
    "CONNSECMARK",
    "CT",
    "DNAT",
    "DSCP",
    "ECN",
    "HMARK",
    "IDLETIMER",
    "LED",
    "LOG",
    "MARK",
    "MASQUERADE",
    "NETMAP",
    "NFLOG",
    "NFQUEUE",
    "NOTRACK",
    "RATEEST",
    "REDIRECT",
    "REJECT",
    "SECMARK",
    "SET",
    "SNAT",
    "SYNPROXY",
    "TCPMSS",
    "TCPOPTSTRIP",
    "TEE",
    "TOS",
    "TPROXY",
    "TRACE",
    "TTL",
    "ULOG",
];

/// Match names iptables 1.8.9 can load that nettwin does not model.
pub(crate) const UNSUPPORTED_MATCHES: &[&str] = &[
    "ah",
    "bpf",
    "cgroup",
    "cluster",
    "connbytes",
    "connlabel",
    "connlimit",
    "connmark",
    "cpu",
    "dccp",
    "devgroup",
    "dscp",
    "ecn",
    "esp",
    "hashlimit",
    "helper",
    "icmp",
    "ipcomp",
    "iprange",
    "ipvs",
    "length",
    "mac",
    "nfacct",
    "osf",
    "pkttype",
    "policy",
    "quota",
    "rateest",
    "realm",
    "recent",
    "rpfilter",
    "sctp",
    "set",
    "socket",
    "statistic",
    "string",
    "tcpmss",
    "time",
    "tos",
    "ttl",
    "u32",
];

/// Every name `-j` takes as a target rather than a chain: the standard verdicts and the
/// extension targets (what a misspelt target is compared with).
pub fn target_names() -> impl Iterator<Item = &'static str> {
    ["ACCEPT", "DROP", "RETURN", "QUEUE"].into_iter().chain(EXTENSION_TARGETS.iter().copied())
}

/// Whether `name` is a target rather than a chain (standard verdicts and extensions).
pub(crate) fn is_target_name(name: &str) -> bool {
    matches!(name, "ACCEPT" | "DROP" | "RETURN" | "QUEUE") || EXTENSION_TARGETS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str) -> Token {
        Token { text: s.to_owned(), span: 0..s.len() }
    }

    #[test]
    fn c_numbers_follow_strtoul_base_zero() {
        assert_eq!(c_number("80"), Some(80));
        assert_eq!(c_number("0x10"), Some(16));
        assert_eq!(c_number("010"), Some(8));
        assert_eq!(c_number("+10"), Some(10));
        assert_eq!(c_number("0"), Some(0));
        for bad in ["", "-1", "0x", "08", "1a", " 1"] {
            assert_eq!(c_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dotted_addresses_read_like_libxtables() {
        let c = |s: &str| cidr_item(&tok(s), s).map(|c| c.to_string());
        assert_eq!(c("10.1"), Ok("10.1.0.0/32".into()));
        assert_eq!(c("010.1.2.3"), Ok("8.1.2.3/32".into()));
        assert_eq!(c("10.1.2.3/24"), Ok("10.1.2.0/24".into()));
        assert_eq!(c("10.1.2.3/255.255.0.0"), Ok("10.1.0.0/16".into()));
        assert!(c("10.1.2.3/255.0.255.0").is_err());
        assert!(c("1.2.3.256").is_err());
        assert!(c("1.2.3.4/33").is_err());
    }

    #[test]
    fn reject_types_take_prefixes_in_table_order() {
        let r = |s: &str| reject_with(&tok(s));
        assert_eq!(r(""), Ok(RejectWith::NetUnreachable));
        assert_eq!(r("port-unreach"), Ok(RejectWith::PortUnreachable));
        assert_eq!(r("ICMP-HOST-UNREACHABLE"), Ok(RejectWith::HostUnreachable));
        assert_eq!(r("icmp-p"), Ok(RejectWith::ProtoUnreachable));
        assert!(r("bogus").is_err());
    }
}
