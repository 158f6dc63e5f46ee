//! The values of the match options beyond addresses and ports, read as iptables 1.8.9
//! reads them (each fact measured in a throwaway namespace): TCP flag lists, ICMP type
//! names and numbers, address ranges, rates, user and group ids, `-m state` states.
//! Every refusal points at its token.

use super::matches::{AddrRange, IcmpType, IdRange, Limit, TcpFlags};
use super::rule::CtStates;
use super::values::{c_number, invalid, unsupported, xt_dotted};
use crate::text::{ParseError, Token};

/// One `--tcp-flags` list: names in any case (`FIN`, `SYN`, `RST`, `PSH`, `ACK`, `URG`,
/// `ALL`, `NONE`), comma-separated, repeats allowed. An empty list is unsupported (iptables
/// takes it but prints a rule that is not what it matches).
pub(crate) fn tcp_flag_list(t: &Token) -> Result<u8, ParseError> {
    if t.text.is_empty() {
        return Err(unsupported(t, "TCP flag list", "name the flags, or NONE"));
    }
    let mut bits = 0;
    for item in t.text.split(',') {
        let upper = item.to_ascii_uppercase();
        bits |= match upper.as_str() {
            "ALL" => TcpFlags::ALL,
            "NONE" => 0,
            name => TcpFlags::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
                .ok_or_else(|| invalid(t, "TCP flag", format!("Unknown TCP flag `{item}'")))?,
        };
    }
    Ok(bits)
}

/// The ICMP types and codes iptables names (`iptables -p icmp -h`), with aliases; `None`
/// codes match every code of the type.
const ICMP_NAMES: &[(&str, u8, Option<u8>)] = &[
    ("any", 255, None),
    ("echo-reply", 0, None),
    ("pong", 0, None),
    ("destination-unreachable", 3, None),
    ("network-unreachable", 3, Some(0)),
    ("host-unreachable", 3, Some(1)),
    ("protocol-unreachable", 3, Some(2)),
    ("port-unreachable", 3, Some(3)),
    ("fragmentation-needed", 3, Some(4)),
    ("source-route-failed", 3, Some(5)),
    ("network-unknown", 3, Some(6)),
    ("host-unknown", 3, Some(7)),
    ("network-prohibited", 3, Some(9)),
    ("host-prohibited", 3, Some(10)),
    ("TOS-network-unreachable", 3, Some(11)),
    ("TOS-host-unreachable", 3, Some(12)),
    ("communication-prohibited", 3, Some(13)),
    ("host-precedence-violation", 3, Some(14)),
    ("precedence-cutoff", 3, Some(15)),
    ("source-quench", 4, None),
    ("redirect", 5, None),
    ("network-redirect", 5, Some(0)),
    ("host-redirect", 5, Some(1)),
    ("TOS-network-redirect", 5, Some(2)),
    ("TOS-host-redirect", 5, Some(3)),
    ("echo-request", 8, None),
    ("ping", 8, None),
    ("router-advertisement", 9, None),
    ("router-solicitation", 10, None),
    ("time-exceeded", 11, None),
    ("ttl-exceeded", 11, None),
    ("ttl-zero-during-transit", 11, Some(0)),
    ("ttl-zero-during-reassembly", 11, Some(1)),
    ("parameter-problem", 12, None),
    ("ip-header-bad", 12, Some(0)),
    ("required-option-missing", 12, Some(1)),
    ("timestamp-request", 13, None),
    ("timestamp-reply", 14, None),
    ("address-mask-request", 17, None),
    ("address-mask-reply", 18, None),
];

/// `--icmp-type`: a name or a case-insensitive prefix of exactly one name (`echo-rep`;
/// `echo` is ambiguous), or `TYPE` / `TYPE/CODE` as C numbers up to 255. Type 255 is
/// `any`, whatever the code.
pub(crate) fn icmp_type(t: &Token) -> Result<IcmpType, ParseError> {
    let s = t.text.as_str();
    let number = |part: &str, what: &str| {
        c_number(part)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| invalid(t, "ICMP type", format!("Unknown ICMP {what} `{s}'")))
    };
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        let parsed = match s.split_once('/') {
            Some((ty, code)) => {
                IcmpType { ty: number(ty, "type")?, code: Some(number(code, "code")?) }
            }
            None => IcmpType { ty: number(s, "type")?, code: None },
        };
        return Ok(if parsed.ty == 255 { IcmpType::ANY } else { parsed });
    }
    let lower = s.to_ascii_lowercase();
    let mut hits = ICMP_NAMES.iter().filter(|(n, _, _)| n.to_ascii_lowercase().starts_with(&lower));
    match (hits.next(), hits.next()) {
        (Some((_, ty, code)), None) if !s.is_empty() => Ok(IcmpType { ty: *ty, code: *code }),
        (Some((a, _, _)), Some((b, _, _))) => {
            Err(invalid(t, "ICMP type", format!("Ambiguous ICMP type `{s}': `{a}' or `{b}'?")))
        }
        _ => Err(invalid(t, "ICMP type", format!("Unknown ICMP type `{s}'"))),
    }
}

/// `--src-range`/`--dst-range`: `A-B` or a single `A` (the range of one), each a dotted
/// address as libxtables reads it (`10.1` is 10.1.0.0). A reversed range is kept (it
/// never matches; iptables only warns).
pub(crate) fn addr_range(t: &Token) -> Result<AddrRange, ParseError> {
    let bad = |part: &str| invalid(t, "address range", format!("Bad value {part:?}"));
    let one = |part: &str| xt_dotted(part).ok_or_else(|| bad(part));
    match t.text.split_once('-') {
        Some((a, b)) => Ok(AddrRange { lo: one(a)?, hi: one(b)? }),
        None => {
            let ip = one(&t.text)?;
            Ok(AddrRange { lo: ip, hi: ip })
        }
    }
}

/// The time units of `--limit`, longest first, in seconds.
const RATE_UNITS: [(&str, u32); 4] =
    [("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400)];

/// `--limit N[/UNIT]`: a decimal count per second, or per a case-insensitive non-empty
/// prefix of `second`, `minute`, `hour`, `day`. Returns the period per packet in
/// 1/10000 s; a rate that rounds to a period of 0 is too fast, as iptables says.
pub(crate) fn rate(t: &Token) -> Result<u32, ParseError> {
    let bad = || invalid(t, "rate", format!("bad rate {:?}", t.text));
    let (count, unit) = match t.text.split_once('/') {
        Some((n, u)) => (n, Some(u)),
        None => (t.text.as_str(), None),
    };
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count: u64 = count.parse().map_err(|_| bad())?;
    let secs = match unit {
        None => 1,
        Some(u) => {
            let lower = u.to_ascii_lowercase();
            RATE_UNITS
                .iter()
                .find(|(name, _)| !lower.is_empty() && name.starts_with(&lower))
                .map(|(_, s)| *s)
                .ok_or_else(bad)?
        }
    };
    if count == 0 {
        return Err(bad());
    }
    let period = u64::from(Limit::SCALE) * u64::from(secs) / count;
    if period == 0 {
        return Err(invalid(t, "rate", format!("Rate too fast {:?}", t.text)));
    }
    u32::try_from(period).map_err(|_| bad())
}

/// How iptables prints a limit's period: `N/unit` with the largest unit (day, hour, min,
/// sec) at which the count per unit is still exact enough by libxtables' rule: a smaller
/// unit is taken while the period is at most one such unit and its quotient is not
/// smaller than its remainder.
pub(crate) fn rate_text(period: u32) -> String {
    const UNITS: [(&str, u32); 4] = [
        ("day", Limit::SCALE * 86400),
        ("hour", Limit::SCALE * 3600),
        ("min", Limit::SCALE * 60),
        ("sec", Limit::SCALE),
    ];
    let period = period.max(1);
    let mut chosen = UNITS[0];
    for unit in &UNITS[1..] {
        if period > unit.1 || unit.1 / period < unit.1 % period {
            break;
        }
        chosen = *unit;
    }
    format!("{}/{}", chosen.1 / period, chosen.0)
}

/// `--limit-burst`: 0 to 10000 (0 is the default, 5).
pub(crate) fn burst(t: &Token) -> Result<u32, ParseError> {
    match c_number(&t.text).and_then(|n| u32::try_from(n).ok()) {
        Some(0) => Ok(Limit::DEFAULT.burst),
        Some(n) if n <= 10_000 => Ok(n),
        _ => Err(invalid(t, "burst", "bad value, or out of range (0-10000)")),
    }
}

/// The user and group names the model resolves without `/etc/passwd`: those every
/// Debian system has with fixed ids (user `root` and `nobody`, group `root` and
/// `nogroup`).
const USERS: [(&str, u32); 2] = [("root", 0), ("nobody", 65534)];
const GROUPS: [(&str, u32); 2] = [("root", 0), ("nogroup", 65534)];

/// `--uid-owner`/`--gid-owner`: `ID`, `ID-ID`, or a fixed name. Ids are C numbers below
/// 4294967295 (that one is the invalid id).
pub(crate) fn id_range(t: &Token, group: bool) -> Result<IdRange, ParseError> {
    let what = if group { "group" } else { "user" };
    let names: &[(&str, u32)] = if group { &GROUPS } else { &USERS };
    let one = |s: &str| {
        if let Some(n) = c_number(s) {
            return u32::try_from(n)
                .ok()
                .filter(|n| *n != u32::MAX)
                .ok_or_else(|| invalid(t, what, format!("Bad value {s:?}")));
        }
        match names.iter().find(|(n, _)| *n == s) {
            Some((_, id)) => Ok(*id),
            None if s.chars().any(|c| c.is_ascii_alphabetic()) => Err(unsupported(
                t,
                "user or group name",
                "names other than root, nobody and nogroup are not resolved; write the id",
            )),
            None => Err(invalid(t, what, format!("Bad value {s:?}"))),
        }
    };
    let range = match t.text.split_once('-') {
        Some((a, b)) if c_number(a).is_some() => IdRange { lo: one(a)?, hi: one(b)? },
        _ => {
            let id = one(&t.text)?;
            IdRange { lo: id, hi: id }
        }
    };
    if range.lo > range.hi {
        return Err(invalid(t, what, "the range is reversed"));
    }
    Ok(range)
}

/// `--state A,B` of `-m state`: `INVALID`, `NEW`, `RELATED`, `ESTABLISHED`, `UNTRACKED`
/// in any case (not conntrack's `SNAT`/`DNAT`).
pub(crate) fn states(t: &Token) -> Result<CtStates, ParseError> {
    const STATES: [&str; 5] = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"];
    let mut set = CtStates::default();
    for item in t.text.split(',') {
        let upper = item.to_ascii_uppercase();
        let state = STATES
            .contains(&upper.as_str())
            .then(|| CtStates::NAMES.iter().find(|(n, _)| *n == upper).map(|(_, s)| *s))
            .flatten()
            .ok_or_else(|| invalid(t, "state", format!("Bad state {item:?}")))?;
        set = set.union(state);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str) -> Token {
        Token { text: s.to_owned(), span: 0..s.len() }
    }

    #[test]
    fn icmp_names_take_unique_prefixes_and_numbers() {
        let i = |s: &str| icmp_type(&tok(s));
        assert_eq!(i("echo-request"), Ok(IcmpType { ty: 8, code: None }));
        assert_eq!(i("Echo-Rep"), Ok(IcmpType { ty: 0, code: None }));
        assert_eq!(i("port-unreachable"), Ok(IcmpType { ty: 3, code: Some(3) }));
        assert_eq!(i("3/3"), Ok(IcmpType { ty: 3, code: Some(3) }));
        assert_eq!(i("0x8"), Ok(IcmpType { ty: 8, code: None }));
        assert_eq!(i("255/3"), Ok(IcmpType::ANY));
        assert!(i("echo").is_err() && i("256").is_err() && i("3/256").is_err());
    }

    #[test]
    fn rates_print_like_iptables() {
        let r = |s: &str| rate(&tok(s)).map(rate_text);
        assert_eq!(r("5/min"), Ok("5/min".into()));
        assert_eq!(r("60/min"), Ok("1/sec".into()));
        assert_eq!(r("24/d"), Ok("1/hour".into()));
        assert_eq!(r("7"), Ok("7/sec".into()));
        assert_eq!(r("10000/s"), Ok("10000/sec".into()));
        assert_eq!(rate_text(Limit::DEFAULT.period), "3/hour");
        for bad in ["0/s", "10001/s", "5/", "5/minutes", "0x10/s", "/s"] {
            assert!(rate(&tok(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_take_ranges_and_fixed_names() {
        let u = |s: &str| id_range(&tok(s), false);
        assert_eq!(u("root"), Ok(IdRange { lo: 0, hi: 0 }));
        assert_eq!(u("1000-2000"), Ok(IdRange { lo: 1000, hi: 2000 }));
        assert_eq!(u("0x10"), Ok(IdRange { lo: 16, hi: 16 }));
        assert!(u("4294967295").is_err() && u("2000-1000").is_err());
        assert!(u("alice").is_err());
    }
}
