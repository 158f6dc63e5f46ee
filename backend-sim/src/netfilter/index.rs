//! A chain compiled for lookup: its rules (comments dropped, jump targets resolved to chain
//! numbers) and an index that, given a packet, yields only the rules that can match it, in
//! rule order.
//!
//! Each rule is filed under one necessary condition for matching it: an exact destination
//! (`-d A/32`), else an exact source (`-s A/32`), else its destination ports (`--dport`,
//! `-m multiport --dports`), else under "wildcard". A packet's candidates are the merge, by
//! rule number, of the buckets for its destination, its source, its destination port, and
//! the wildcard rules. Invariant: every rule that matches a packet is among its candidates,
//! so the index changes how fast, never what, a traversal decides.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use nettwin_core::addr::{Cidr, Proto};
use nettwin_core::iptables::{
    ChainRules, IfacePattern, Match, NatFlags, NatTo, Neg, Policy, PortDir, PortRange, RejectWith,
    Rule, Target,
};

/// Port ranges wider than this are not expanded into the port index.
const MAX_INDEXED_PORTS: u32 = 256;

/// A rule's target with user chains resolved to chain numbers of the same table.
#[derive(Clone, Debug)]
pub enum CTarget {
    /// No target (counting only), or a jump to a chain that does not exist.
    None,
    /// `ACCEPT`.
    Accept,
    /// `DROP`.
    Drop,
    /// `RETURN`.
    Return,
    /// `REJECT`.
    Reject(RejectWith),
    /// `-j CHAIN`.
    Jump(usize),
    /// `-g CHAIN`.
    Goto(usize),
    /// `DNAT`.
    Dnat(NatTo),
    /// `SNAT`.
    Snat(NatTo),
    /// `MASQUERADE`.
    Masquerade(Option<PortRange>, NatFlags),
    /// `REDIRECT`.
    Redirect(Option<PortRange>, NatFlags),
    /// `LOG`, `NFLOG`, `TCPMSS`: no verdict, the packet goes on.
    Pass(&'static str),
    /// `NOTRACK`, `CT --notrack`.
    Notrack,
    /// `MARK --set-xmark value/mask`.
    Mark(u32, u32),
}

/// A rule reduced to what matching needs.
#[derive(Clone, Debug)]
pub struct CRule {
    /// `-s`.
    pub src: Option<Neg<Cidr>>,
    /// `-d`.
    pub dst: Option<Neg<Cidr>>,
    /// `-i`.
    pub in_iface: Option<Neg<IfacePattern>>,
    /// `-o`.
    pub out_iface: Option<Neg<IfacePattern>>,
    /// `-p`.
    pub proto: Option<Neg<Proto>>,
    /// The `-m` matches, without comments.
    pub matches: Vec<Match>,
    /// The target.
    pub target: CTarget,
    /// Whether a `-m limit` is among the matches (the trace notes it when it matches).
    pub limited: bool,
}

/// One compiled chain.
#[derive(Debug)]
pub struct Chain {
    /// The chain's name.
    pub name: String,
    /// The policy, for built-in chains.
    pub policy: Option<Policy>,
    /// The rules, in order (rule number = position + 1).
    pub rules: Vec<CRule>,
    by_dst: BTreeMap<Ipv4Addr, Vec<u32>>,
    by_src: BTreeMap<Ipv4Addr, Vec<u32>>,
    by_dport: BTreeMap<u16, Vec<u32>>,
    wild: Vec<u32>,
}

enum Key {
    Dst(Ipv4Addr),
    Src(Ipv4Addr),
    Ports(Vec<u16>),
    Wild,
}

fn exact_host(c: &Option<Neg<Cidr>>) -> Option<Ipv4Addr> {
    match c {
        Some(Neg { negated: false, value }) if value.prefix() == 32 => Some(value.ip()),
        _ => None,
    }
}

/// The destination ports a rule requires, when few enough to index.
fn required_dports(r: &Rule) -> Option<Vec<u16>> {
    let ranges: Vec<(u16, u16)> = r.matches.iter().find_map(|m| match m {
        Match::Tcp { dport: Some(Neg { negated: false, value }), .. }
        | Match::Udp { dport: Some(Neg { negated: false, value }), .. } => {
            Some(vec![(value.lo, value.hi)])
        }
        Match::Multiport { dir: PortDir::Destination, ports: Neg { negated: false, value } } => {
            Some(value.iter().map(|p| (p.lo, p.hi)).collect())
        }
        _ => None,
    })?;
    let total: u32 = ranges.iter().map(|(lo, hi)| u32::from(*hi) - u32::from(*lo) + 1).sum();
    if total > MAX_INDEXED_PORTS {
        return None;
    }
    let mut ports: Vec<u16> = ranges.iter().flat_map(|(lo, hi)| *lo..=*hi).collect();
    ports.sort_unstable();
    ports.dedup();
    Some(ports)
}

fn key(r: &Rule) -> Key {
    if let Some(ip) = exact_host(&r.dst) {
        Key::Dst(ip)
    } else if let Some(ip) = exact_host(&r.src) {
        Key::Src(ip)
    } else if let Some(ports) = required_dports(r) {
        Key::Ports(ports)
    } else {
        Key::Wild
    }
}

impl Chain {
    /// Compiles a chain; `resolve` maps a user chain's name to its number in the table.
    pub fn compile(
        name: &str,
        rules: &ChainRules,
        resolve: &dyn Fn(&str) -> Option<usize>,
    ) -> Chain {
        let mut chain = Chain {
            name: name.to_owned(),
            policy: rules.policy,
            rules: Vec::with_capacity(rules.rules.len()),
            by_dst: BTreeMap::new(),
            by_src: BTreeMap::new(),
            by_dport: BTreeMap::new(),
            wild: Vec::new(),
        };
        for (i, r) in rules.rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match key(r) {
                Key::Dst(ip) => chain.by_dst.entry(ip).or_default().push(i),
                Key::Src(ip) => chain.by_src.entry(ip).or_default().push(i),
                Key::Ports(ps) => {
                    for p in ps {
                        chain.by_dport.entry(p).or_default().push(i);
                    }
                }
                Key::Wild => chain.wild.push(i),
            }
            chain.rules.push(compile_rule(r, resolve));
        }
        chain
    }

    /// The rules that can match a packet with these addresses and destination port, in
    /// rule order.
    pub fn candidates(&self, src: Ipv4Addr, dst: Ipv4Addr, dport: Option<u16>) -> Candidates<'_> {
        fn get<K: Ord>(m: &BTreeMap<K, Vec<u32>>, k: Option<K>) -> &[u32] {
            k.and_then(|k| m.get(&k)).map_or(&[], |v| v.as_slice())
        }
        Candidates {
            lists: [
                get(&self.by_dst, Some(dst)),
                get(&self.by_src, Some(src)),
                get(&self.by_dport, dport),
                &self.wild,
            ],
            pos: [0; 4],
        }
    }
}

fn compile_rule(r: &Rule, resolve: &dyn Fn(&str) -> Option<usize>) -> CRule {
    let target = match &r.target {
        Target::None => CTarget::None,
        Target::Accept => CTarget::Accept,
        Target::Drop => CTarget::Drop,
        Target::Return => CTarget::Return,
        Target::Reject(w) => CTarget::Reject(*w),
        Target::Jump(c) => resolve(c.as_str()).map_or(CTarget::None, CTarget::Jump),
        Target::Goto(c) => resolve(c.as_str()).map_or(CTarget::None, CTarget::Goto),
        Target::Dnat(to) => CTarget::Dnat(*to),
        Target::Snat(to) => CTarget::Snat(*to),
        Target::Masquerade { ports, flags } => CTarget::Masquerade(*ports, *flags),
        Target::Redirect { ports, flags } => CTarget::Redirect(*ports, *flags),
        Target::Log { .. } => CTarget::Pass("LOG"),
        Target::Nflog { .. } => CTarget::Pass("NFLOG"),
        Target::Tcpmss(_) => CTarget::Pass("TCPMSS"),
        Target::Notrack { .. } => CTarget::Notrack,
        Target::Mark { value, mask } => CTarget::Mark(*value, *mask),
    };
    CRule {
        src: r.src,
        dst: r.dst,
        in_iface: r.in_iface.clone(),
        out_iface: r.out_iface.clone(),
        proto: r.proto,
        matches: r.matches.iter().filter(|m| !matches!(m, Match::Comment(_))).cloned().collect(),
        target,
        limited: r.matches.iter().any(|m| matches!(m, Match::Limit(_))),
    }
}

/// The merge of a packet's buckets: rule positions in increasing order.
#[derive(Clone, Debug)]
pub struct Candidates<'a> {
    lists: [&'a [u32]; 4],
    pos: [usize; 4],
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let mut best: Option<(usize, u32)> = None;
        for (k, list) in self.lists.iter().enumerate() {
            if let Some(&v) = list.get(self.pos[k])
                && best.is_none_or(|(_, b)| v < b)
            {
                best = Some((k, v));
            }
        }
        let (k, v) = best?;
        self.pos[k] += 1;
        Some(v)
    }
}
