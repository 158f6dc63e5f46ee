//! The data of one iptables rule and of one iptables command, for the subset nettwin
//! models. Parsing lives in `parse`, the canonical (`iptables-save`) printing in `print`.

use std::net::Ipv4Addr;

pub use super::matches::{
    AddrRange, IcmpType, IdRange, Limit, Owner, PhysPorts, Physdev, SocketOwner, TcpFlags,
};
use crate::addr::{Cidr, Proto};
use crate::names::ChainName;

/// A value that may be negated with `!`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Neg<T> {
    /// Whether `!` preceded the option.
    pub negated: bool,
    /// The option's value.
    pub value: T,
}

impl<T> Neg<T> {
    /// A value without `!`.
    pub fn plain(value: T) -> Self {
        Neg { negated: false, value }
    }

    /// Applies the negation to a match result.
    pub fn apply(&self, matched: bool) -> bool {
        matched != self.negated
    }
}

/// The tables nettwin models.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// `-t filter` (the default).
    Filter,
    /// `-t nat`.
    Nat,
    /// `-t mangle`: marks (MARK, TCPMSS), at every hook.
    Mangle,
    /// `-t raw`: before conntrack (NOTRACK), in PREROUTING and OUTPUT.
    Raw,
}

impl Table {
    /// Every modeled table, in the order the model prints them (iptables-nft prints them
    /// in the order they were created; the comparison reads each table on its own).
    pub const ALL: [Table; 4] = [Table::Filter, Table::Nat, Table::Mangle, Table::Raw];

    /// The table's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Filter => "filter",
            Table::Nat => "nat",
            Table::Mangle => "mangle",
            Table::Raw => "raw",
        }
    }

    /// The table's built-in chains, in the order `iptables-save` prints them.
    pub fn builtin_chains(self) -> &'static [&'static str] {
        match self {
            Table::Filter => &["INPUT", "FORWARD", "OUTPUT"],
            Table::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
            Table::Mangle => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
            Table::Raw => &["PREROUTING", "OUTPUT"],
        }
    }

    /// The table by name (`filter`, `nat`, `mangle`, `raw`).
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether `chain` is one of this table's built-in chains.
    pub fn is_builtin(self, chain: &str) -> bool {
        self.builtin_chains().contains(&chain)
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An interface pattern for `-i` / `-o`: a name, or a prefix ending in `+`.
/// Guaranteed: 1–15 bytes before any `+`, no whitespace.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct IfacePattern(pub(crate) String);

impl IfacePattern {
    /// Checks and wraps a pattern (`eth0`, `veth+`).
    pub fn new(s: &str) -> Option<IfacePattern> {
        let stem = s.strip_suffix('+').unwrap_or(s);
        let ok = s.len() <= crate::names::IFNAME_MAX
            && !s.is_empty()
            && !stem.contains('+')
            && !s.chars().any(char::is_whitespace);
        ok.then(|| IfacePattern(s.to_owned()))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an interface name matches (`+` matches any suffix, and `+` alone anything).
    pub fn matches(&self, name: &str) -> bool {
        match self.0.strip_suffix('+') {
            Some(prefix) => name.starts_with(prefix),
            None => name == self.0,
        }
    }
}

/// A port or an inclusive port range (`80`, `1000:2000`). Guaranteed `lo <= hi`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port.
    pub hi: u16,
}

impl PortRange {
    /// A single port.
    pub fn one(port: u16) -> PortRange {
        PortRange { lo: port, hi: port }
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }
}

/// Where DNAT or SNAT maps a connection: an address range (one address when `first ==
/// last`), the ports, and how the kernel picks within them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NatTo {
    /// The range's first address.
    pub first: Ipv4Addr,
    /// The range's last address (guaranteed `>= first`).
    pub last: Ipv4Addr,
    /// The new port(s), if rewritten.
    pub ports: Option<PortRange>,
    /// `--random`, `--random-fully`, `--persistent`.
    pub flags: NatFlags,
}

impl NatTo {
    /// One address (and the ports, if given), without flags.
    pub fn one(ip: Ipv4Addr, ports: Option<PortRange>) -> NatTo {
        NatTo { first: ip, last: ip, ports, flags: NatFlags::default() }
    }
}

/// The options of a NAT target that change how the kernel picks the address and port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NatFlags {
    /// `--random`: the port is drawn at random.
    pub random: bool,
    /// `--random-fully`: the port is drawn at random, fully.
    pub random_fully: bool,
    /// `--persistent`: the address hash leaves out the destination.
    pub persistent: bool,
}

impl NatFlags {
    /// No flags.
    pub const NONE: NatFlags = NatFlags { random: false, random_fully: false, persistent: false };

    /// Whether the kernel draws the port at random (`NF_NAT_RANGE_PROTO_RANDOM_ALL`).
    pub fn random_port(self) -> bool {
        self.random || self.random_fully
    }
}

/// Conntrack states for `-m conntrack --ctstate`, as a bit set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct CtStates(pub u8);

impl CtStates {
    /// `INVALID`.
    pub const INVALID: CtStates = CtStates(1);
    /// `NEW`.
    pub const NEW: CtStates = CtStates(2);
    /// `RELATED`.
    pub const RELATED: CtStates = CtStates(4);
    /// `ESTABLISHED`.
    pub const ESTABLISHED: CtStates = CtStates(8);
    /// `UNTRACKED`.
    pub const UNTRACKED: CtStates = CtStates(16);
    /// `SNAT` (the connection's source was rewritten).
    pub const SNAT: CtStates = CtStates(32);
    /// `DNAT` (the connection's destination was rewritten).
    pub const DNAT: CtStates = CtStates(64);

    /// Names in the order iptables prints them.
    pub const NAMES: [(&'static str, CtStates); 7] = [
        ("INVALID", CtStates::INVALID),
        ("NEW", CtStates::NEW),
        ("RELATED", CtStates::RELATED),
        ("ESTABLISHED", CtStates::ESTABLISHED),
        ("UNTRACKED", CtStates::UNTRACKED),
        ("SNAT", CtStates::SNAT),
        ("DNAT", CtStates::DNAT),
    ];

    /// Whether any state of `other` is in `self`.
    pub fn intersects(self, other: CtStates) -> bool {
        self.0 & other.0 != 0
    }

    /// The union of two sets.
    pub fn union(self, other: CtStates) -> CtStates {
        CtStates(self.0 | other.0)
    }
}

/// Address types for `-m addrtype`. Only `LOCAL` is modeled.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AddrType {
    /// An address of this host (the local routing table).
    Local,
}

/// Which port a multiport match tests.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PortDir {
    /// `--sports`.
    Source,
    /// `--dports`.
    Destination,
}

/// One `-m` match (or the implicit protocol match that `--sport`/`--dport` load).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Match {
    /// `-m tcp [--sport P] [--dport P] [--tcp-flags MASK COMP | --syn]`.
    Tcp {
        /// `--sport`.
        sport: Option<Neg<PortRange>>,
        /// `--dport`.
        dport: Option<Neg<PortRange>>,
        /// `--tcp-flags` (`--syn` is `FIN,SYN,RST,ACK SYN`).
        flags: Option<Neg<TcpFlags>>,
    },
    /// `-m udp [--sport P] [--dport P]`.
    Udp {
        /// `--sport`.
        sport: Option<Neg<PortRange>>,
        /// `--dport`.
        dport: Option<Neg<PortRange>>,
    },
    /// `-m conntrack [!] --ctstate S,S`.
    Conntrack {
        /// The states.
        ctstate: Neg<CtStates>,
    },
    /// `-m state [!] --state S,S`: the older spelling, kept as written by iptables-save.
    /// Only `INVALID`, `NEW`, `RELATED`, `ESTABLISHED` and `UNTRACKED` are states here.
    State {
        /// The states.
        state: Neg<CtStates>,
    },
    /// `-m icmp [!] --icmp-type T[/C]` (needs `-p icmp`).
    Icmp {
        /// The type and code.
        icmp: Neg<IcmpType>,
    },
    /// `-m iprange [[!] --src-range A-B] [[!] --dst-range A-B]`.
    IpRange {
        /// `--src-range`.
        src: Option<Neg<AddrRange>>,
        /// `--dst-range`.
        dst: Option<Neg<AddrRange>>,
    },
    /// `-m physdev ...`: the bridge ports (boxed: it is rare and large).
    Physdev(Box<Physdev>),
    /// `-m limit [--limit R] [--limit-burst B]`: always matches in the model.
    Limit(Limit),
    /// `-m owner ...` (OUTPUT and POSTROUTING only).
    Owner(Owner),
    /// `-m addrtype [[!] --src-type T] [[!] --dst-type T]`.
    AddrType {
        /// `--src-type`.
        src: Option<Neg<AddrType>>,
        /// `--dst-type`.
        dst: Option<Neg<AddrType>>,
    },
    /// `-m multiport [!] --dports|--sports P,P:P`.
    Multiport {
        /// Which port is tested.
        dir: PortDir,
        /// The ports, negated as a whole.
        ports: Neg<Vec<PortRange>>,
    },
    /// `-m mark [!] --mark value[/mask]`.
    Mark {
        /// Whether `!` preceded `--mark`.
        negated: bool,
        /// The value compared after masking.
        value: u32,
        /// The mask (`0xffffffff` when omitted).
        mask: u32,
    },
    /// `-m comment --comment "text"`. Shared text: the planner's rules, their ops and
    /// the state's copies of them hold one string per comment.
    Comment(std::sync::Arc<str>),
}

/// How a `REJECT` answers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RejectWith {
    /// `icmp-port-unreachable` (the default).
    PortUnreachable,
    /// `icmp-net-unreachable`.
    NetUnreachable,
    /// `icmp-host-unreachable`.
    HostUnreachable,
    /// `icmp-admin-prohibited`.
    AdminProhibited,
    /// `icmp-host-prohibited`.
    HostProhibited,
    /// `icmp-net-prohibited`.
    NetProhibited,
    /// `icmp-proto-unreachable`.
    ProtoUnreachable,
    /// `tcp-reset`.
    TcpReset,
}

/// What a rule does when it matches (`-j` / `-g`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Target {
    /// No target: the rule only counts.
    None,
    /// `-j ACCEPT`.
    Accept,
    /// `-j DROP`.
    Drop,
    /// `-j RETURN`.
    Return,
    /// `-j REJECT [--reject-with W]`.
    Reject(RejectWith),
    /// `-j CHAIN`: run the user chain, come back if it returns.
    Jump(ChainName),
    /// `-g CHAIN`: run the user chain; its RETURN returns from the caller.
    Goto(ChainName),
    /// `-j DNAT --to-destination ip[-ip][:port[-port]] [--random] [--persistent]`.
    Dnat(NatTo),
    /// `-j SNAT --to-source ip[-ip][:port[-port]] [--random] [--random-fully]
    /// [--persistent]`.
    Snat(NatTo),
    /// `-j MASQUERADE [--to-ports P[-Q]] [--random] [--random-fully]`: SNAT to the
    /// outgoing interface's address.
    Masquerade {
        /// `--to-ports` (needs `-p tcp` or `-p udp`).
        ports: Option<PortRange>,
        /// `--random`, `--random-fully`.
        flags: NatFlags,
    },
    /// `-j REDIRECT [--to-ports P[-Q]] [--random]`: DNAT to the input device's first
    /// address (to 127.0.0.1 in OUTPUT).
    Redirect {
        /// `--to-ports` (needs `-p tcp` or `-p udp`).
        ports: Option<PortRange>,
        /// `--random`.
        flags: NatFlags,
    },
    /// `-j LOG [--log-prefix P] [--log-level L]`: logs and goes on (no verdict).
    Log {
        /// The prefix (at most 29 bytes, as the kernel keeps it).
        prefix: Option<std::sync::Arc<str>>,
        /// The syslog level (0–7; 4, `warning`, is the default).
        level: u8,
    },
    /// `-j NFLOG [--nflog-group N] [--nflog-prefix P]`: logs to netlink and goes on.
    Nflog {
        /// The netlink group (0 is the default).
        group: u16,
        /// The prefix.
        prefix: Option<std::sync::Arc<str>>,
    },
    /// `-j TCPMSS --set-mss N | --clamp-mss-to-pmtu`: rewrites the MSS option of SYNs and
    /// goes on (a probe carries no MSS the model follows). `None` is the PMTU clamp.
    Tcpmss(Option<u16>),
    /// `-j NOTRACK` (`ct: false`) or `-j CT --notrack` (`ct: true`): the packet gets no
    /// conntrack entry (raw table only), and goes on.
    Notrack {
        /// Spelled `CT --notrack`.
        ct: bool,
    },
    /// `-j MARK --set-xmark value/mask`: `mark = (mark & !mask) ^ value`.
    Mark {
        /// The value xored in.
        value: u32,
        /// The bits cleared first.
        mask: u32,
    },
}

impl Target {
    /// `-j MASQUERADE` without options.
    pub const MASQUERADE: Target = Target::Masquerade { ports: None, flags: NatFlags::NONE };

    /// The user chain this target continues in, if any.
    pub fn chain(&self) -> Option<&ChainName> {
        match self {
            Target::Jump(c) | Target::Goto(c) => Some(c),
            _ => None,
        }
    }
}

/// One rule: the generic matches, the `-m` matches in order, and the target.
/// `Display` prints it exactly as `iptables-save` does (without `-A CHAIN`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Rule {
    /// `[!] -s`.
    pub src: Option<Neg<Cidr>>,
    /// `[!] -d`.
    pub dst: Option<Neg<Cidr>>,
    /// `[!] -i`.
    pub in_iface: Option<Neg<IfacePattern>>,
    /// `[!] -o`.
    pub out_iface: Option<Neg<IfacePattern>>,
    /// `[!] -p`; `None` means all protocols.
    pub proto: Option<Neg<Proto>>,
    /// The matches, in the order iptables-save prints them.
    pub matches: Vec<Match>,
    /// The target.
    pub target: Target,
}

/// A built-in chain's policy.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Policy {
    /// `ACCEPT`.
    Accept,
    /// `DROP`.
    Drop,
}

impl Policy {
    /// The policy's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

/// How `-D` names the rule to delete.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum RuleRef {
    /// By its full specification.
    Spec(Rule),
    /// By its 1-based position.
    Index(u32),
}

/// One iptables command on one chain of one table.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Command {
    /// `-N CHAIN`.
    NewChain(ChainName),
    /// `-X CHAIN`.
    DeleteChain(ChainName),
    /// `-F [CHAIN]`: one chain, or every chain of the table.
    Flush(Option<ChainName>),
    /// `-A CHAIN rule`.
    Append(ChainName, Rule),
    /// `-I CHAIN [N] rule` (N is 1-based, default 1).
    Insert(ChainName, u32, Rule),
    /// `-D CHAIN rule` or `-D CHAIN N`.
    Delete(ChainName, RuleRef),
    /// `-P CHAIN ACCEPT|DROP`.
    Policy(ChainName, Policy),
    /// `-R CHAIN N rule` (N is 1-based).
    Replace(ChainName, u32, Rule),
    /// `-E OLD NEW`: renames a user chain; the rules that jump to it follow.
    Rename(ChainName, ChainName),
    /// `-Z [CHAIN [N]]`: zeroes counters (the model keeps none; it checks the chain).
    Zero(Option<ChainName>, Option<u32>),
    /// `-A`, `-I` or `-D` with a comma list in `-s` or `-d`.
    PerAddress(Box<PerAddress>),
}

/// Which command a [`PerAddress`] runs once per address pair.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ListVerb {
    /// `-A`.
    Append,
    /// `-I CHAIN N`.
    Insert(u32),
    /// `-D`.
    Delete,
}

/// A rule whose `-s` or `-d` held a comma list: iptables runs the command once per
/// (source, destination) pair, sources outer, each `-I` at the same position (so the
/// rules end up in reverse), all in one transaction: all or nothing. Guaranteed by the
/// parser: `rule` has neither `-s` nor `-d`, the lists are what was written (duplicates
/// kept, no negation), and one of them has more than one address.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PerAddress {
    /// The command.
    pub verb: ListVerb,
    /// The chain.
    pub chain: ChainName,
    /// The rule without its addresses.
    pub rule: Rule,
    /// The `-s` addresses (empty: no `-s`).
    pub sources: Vec<Cidr>,
    /// The `-d` addresses (empty: no `-d`).
    pub destinations: Vec<Cidr>,
}

impl PerAddress {
    /// The rules, one per pair, in the order iptables makes them.
    pub fn rules(&self) -> Vec<Rule> {
        let some = |list: &[Cidr]| -> Vec<Option<Cidr>> {
            if list.is_empty() { vec![None] } else { list.iter().copied().map(Some).collect() }
        };
        let mut out = Vec::new();
        for s in some(&self.sources) {
            for d in some(&self.destinations) {
                let mut r = self.rule.clone();
                r.src = s.map(Neg::plain);
                r.dst = d.map(Neg::plain);
                out.push(r.canonical());
            }
        }
        out
    }

    /// The single commands, in order.
    pub fn commands(&self) -> Vec<Command> {
        self.rules()
            .into_iter()
            .map(|r| match self.verb {
                ListVerb::Append => Command::Append(self.chain.clone(), r),
                ListVerb::Insert(n) => Command::Insert(self.chain.clone(), n, r),
                ListVerb::Delete => Command::Delete(self.chain.clone(), RuleRef::Spec(r)),
            })
            .collect()
    }
}

impl Command {
    /// The chain the command names, if any.
    pub fn chain(&self) -> Option<&ChainName> {
        match self {
            Command::NewChain(c)
            | Command::DeleteChain(c)
            | Command::Append(c, _)
            | Command::Insert(c, _, _)
            | Command::Delete(c, _)
            | Command::Policy(c, _)
            | Command::Replace(c, _, _)
            | Command::Rename(c, _) => Some(c),
            Command::Flush(c) | Command::Zero(c, _) => c.as_ref(),
            Command::PerAddress(p) => Some(&p.chain),
        }
    }
}

impl Default for Rule {
    /// The empty rule: matches every packet, no target.
    fn default() -> Self {
        Rule {
            src: None,
            dst: None,
            in_iface: None,
            out_iface: None,
            proto: None,
            matches: Vec::new(),
            target: Target::None,
        }
    }
}

impl Rule {
    /// The rule as the kernel keeps it and `iptables-save` prints it back: a `/0` address
    /// and a bare `+` interface (both match everything) vanish, a `0:65535` port range
    /// vanishes from its `tcp`/`udp` match, and — as iptables-nft translates it — a
    /// *negated* `0:65535` range vanishes too, taking the whole match with it when
    /// nothing else is left in it. The parser always returns canonical rules; `-D` and
    /// `Ruleset::apply` compare canonical rules.
    pub fn canonical(&self) -> Rule {
        // Rules built by the planner or parsed are canonical already: a plain clone.
        if self.is_canonical() { self.clone() } else { self.rebuilt_canonical() }
    }

    /// [`Rule::canonical`], built field by field.
    fn rebuilt_canonical(&self) -> Rule {
        let addr = |a: &Option<Neg<Cidr>>| a.filter(|n| n.negated || n.value.prefix() != 0);
        let iface = |i: &Option<Neg<IfacePattern>>| {
            i.clone().filter(|n| n.negated || n.value.as_str() != "+")
        };
        let matches = self
            .matches
            .iter()
            .filter_map(|m| match m {
                Match::Tcp { sport, dport, flags } => canonical_tcp(*sport, *dport, *flags)
                    .map(|(sport, dport, flags)| Match::Tcp { sport, dport, flags }),
                Match::Udp { sport, dport } => canonical_tcp(*sport, *dport, None)
                    .map(|(sport, dport, _)| Match::Udp { sport, dport }),
                other => Some(other.clone()),
            })
            .collect();
        Rule {
            src: addr(&self.src),
            dst: addr(&self.dst),
            in_iface: iface(&self.in_iface),
            out_iface: iface(&self.out_iface),
            proto: self.proto,
            matches,
            target: self.target.clone(),
        }
    }
}

type Ports = Option<Neg<PortRange>>;

impl Rule {
    /// Whether [`Rule::canonical`] would give the rule back unchanged.
    pub fn is_canonical(&self) -> bool {
        let addr = |a: &Option<Neg<Cidr>>| a.is_none_or(|n| n.negated || n.value.prefix() != 0);
        let iface = |i: &Option<Neg<IfacePattern>>| {
            i.as_ref().is_none_or(|n| n.negated || n.value.as_str() != "+")
        };
        addr(&self.src)
            && addr(&self.dst)
            && iface(&self.in_iface)
            && iface(&self.out_iface)
            && self.matches.iter().all(|m| match m {
                Match::Tcp { sport, dport, flags } => {
                    canonical_tcp(*sport, *dport, *flags) == Some((*sport, *dport, *flags))
                }
                Match::Udp { sport, dport } => {
                    canonical_tcp(*sport, *dport, None) == Some((*sport, *dport, None))
                }
                _ => true,
            })
    }
}

type Flags = Option<Neg<TcpFlags>>;

/// A `tcp`/`udp` match's ports and flags as iptables-nft stores them; `None` when the
/// match disappears entirely (only negated full ranges, or flag tests with an empty mask
/// other than a plain `NONE NONE`, were in it).
fn canonical_tcp(sport: Ports, dport: Ports, flags: Flags) -> Option<(Ports, Ports, Flags)> {
    let mut dropped = false;
    let mut fix = |p: Ports| match p {
        Some(n) if n.value.lo == 0 && n.value.hi == u16::MAX => {
            dropped |= n.negated;
            None
        }
        other => other,
    };
    let (sport, dport) = (fix(sport), fix(dport));
    let flags = match flags {
        Some(f) if f.value.mask == 0 => {
            dropped |= f.negated || f.value.comp != 0;
            None
        }
        other => other,
    };
    let empty = sport.is_none() && dport.is_none() && flags.is_none();
    if empty && dropped { None } else { Some((sport, dport, flags)) }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn neg<T: std::fmt::Debug + Clone + 'static>(
        v: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = Option<Neg<T>>> {
        proptest::option::of((any::<bool>(), v).prop_map(|(negated, value)| Neg { negated, value }))
    }

    fn ports() -> impl Strategy<Value = Option<Neg<PortRange>>> {
        let range = prop_oneof![
            Just(PortRange { lo: 0, hi: u16::MAX }),
            Just(PortRange::one(80)),
            Just(PortRange { lo: 0, hi: 80 }),
        ];
        neg(range)
    }

    fn rule() -> impl Strategy<Value = Rule> {
        let cidr = prop_oneof![Just(Cidr::DEFAULT), Just(Cidr::host(Ipv4Addr::LOCALHOST))];
        let iface = prop_oneof![Just("+"), Just("veth+"), Just("eth0")]
            .prop_map(|s| IfacePattern::new(s).unwrap_or_else(|| panic!("{s}")));
        let port_match = (any::<bool>(), ports(), ports()).prop_map(|(tcp, sport, dport)| {
            if tcp { Match::Tcp { sport, dport, flags: None } } else { Match::Udp { sport, dport } }
        });
        let matches = proptest::collection::vec(
            prop_oneof![port_match, Just(Match::Comment("c".into()))],
            0..3,
        );
        (neg(cidr.clone()), neg(cidr), neg(iface.clone()), neg(iface), matches).prop_map(
            |(src, dst, in_iface, out_iface, matches)| Rule {
                src,
                dst,
                in_iface,
                out_iface,
                matches,
                ..Rule::default()
            },
        )
    }

    proptest! {
        /// `is_canonical` says exactly whether `canonical` changes the rule, and what
        /// `canonical` gives is canonical.
        #[test]
        fn is_canonical_agrees_with_canonical(r in rule()) {
            let c = r.rebuilt_canonical();
            prop_assert_eq!(r.is_canonical(), c == r);
            prop_assert!(c.is_canonical());
            prop_assert_eq!(r.canonical(), c);
        }
    }
}
