//! The values of the matches beyond addresses and ports: TCP flags, ICMP types, address
//! ranges, bridge ports (`physdev`), rate limits and socket owners. Each type says what it
//! guarantees; parsing is in `values` and `ext_values`, printing in `print`.

use std::net::Ipv4Addr;

use super::rule::{IfacePattern, Neg};

/// TCP header flags as `--tcp-flags MASK COMP` tests them: the packet's flags masked with
/// `mask` must equal `comp`. Bits as in the header: FIN 1, SYN 2, RST 4, PSH 8, ACK 16,
/// URG 32. Guaranteed by the parser: `mask` is not empty (an empty mask is refused) and
/// both fit in those six bits; `comp` may hold bits outside `mask` (then it never matches,
/// as on the kernel).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TcpFlags {
    /// The flags examined.
    pub mask: u8,
    /// The flags that must be set among them.
    pub comp: u8,
}

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 1;
    /// SYN.
    pub const SYN: u8 = 2;
    /// RST.
    pub const RST: u8 = 4;
    /// PSH.
    pub const PSH: u8 = 8;
    /// ACK.
    pub const ACK: u8 = 16;
    /// URG.
    pub const URG: u8 = 32;
    /// Every flag iptables names (`ALL`).
    pub const ALL: u8 = 63;
    /// The names in header bit order, as iptables prints them.
    pub const NAMES: [(&'static str, u8); 6] = [
        ("FIN", Self::FIN),
        ("SYN", Self::SYN),
        ("RST", Self::RST),
        ("PSH", Self::PSH),
        ("ACK", Self::ACK),
        ("URG", Self::URG),
    ];

    /// `--syn`: SYN set, FIN, RST and ACK clear (a connection's first packet).
    pub const SYN_ONLY: TcpFlags =
        TcpFlags { mask: Self::FIN | Self::SYN | Self::RST | Self::ACK, comp: Self::SYN };

    /// Whether a packet with these flags matches.
    pub fn matches(self, flags: u8) -> bool {
        flags & self.mask == self.comp
    }
}

/// `--icmp-type TYPE[/CODE]`: a type and one code or every code. Type 255 is iptables'
/// `any` (every ICMP packet, whatever the code).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IcmpType {
    /// The ICMP type (255: any).
    pub ty: u8,
    /// The one code matched; `None` matches every code.
    pub code: Option<u8>,
}

impl IcmpType {
    /// iptables' `any`.
    pub const ANY: IcmpType = IcmpType { ty: 255, code: None };

    /// Whether an ICMP packet of this type and code matches.
    pub fn matches(self, ty: u8, code: u8) -> bool {
        self.ty == 255 || (self.ty == ty && self.code.is_none_or(|c| c == code))
    }
}

/// An inclusive IPv4 address range of `-m iprange` (`10.0.0.1-10.0.0.9`). iptables accepts
/// a reversed range (it warns); such a range contains nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AddrRange {
    /// First address.
    pub lo: Ipv4Addr,
    /// Last address.
    pub hi: Ipv4Addr,
}

impl AddrRange {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(self.lo)..=u32::from(self.hi)).contains(&u32::from(ip))
    }
}

/// `-m physdev`: the bridge ports of a packet that a bridge with br_netfilter handed to
/// the IP hooks. Each field is `None` when its option is absent; the flags hold whether
/// `!` preceded them. Guaranteed by the parser: at least one option is present.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Physdev {
    /// `[!] --physdev-in PORT`.
    pub port_in: Option<Neg<IfacePattern>>,
    /// `[!] --physdev-out PORT`.
    pub port_out: Option<Neg<IfacePattern>>,
    /// `[!] --physdev-is-in`.
    pub is_in: Option<bool>,
    /// `[!] --physdev-is-out`.
    pub is_out: Option<bool>,
    /// `[!] --physdev-is-bridged`.
    pub is_bridged: Option<bool>,
}

impl Physdev {
    /// Whether the match is refused in a base OUTPUT chain (the kernel's check entry):
    /// `--physdev-out` or `--physdev-is-out` without a plain `--physdev-is-bridged`
    /// (locally sent packets are not known to be bridged yet).
    pub fn needs_bridged_output(&self) -> bool {
        (self.port_out.is_some() || self.is_out.is_some()) && self.is_bridged != Some(false)
    }
}

/// The bridge ports a hook knows for a packet (br_netfilter's information): `None` for a
/// packet that did not come in through a port of a bridge with `bridge-nf-call-iptables`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PhysPorts<'a> {
    /// The port it came in through.
    pub port_in: Option<&'a str>,
    /// The port it is bridged out of (only in FORWARD and POSTROUTING of a bridged frame).
    pub port_out: Option<&'a str>,
}

impl Physdev {
    /// Whether a packet with these bridge ports matches, as `xt_physdev` decides: without
    /// bridge information only options that are all negated match; `--physdev-in` passes
    /// when no input port is known, `--physdev-out` fails when no output port is known,
    /// negated or not; `--physdev-is-bridged` means an output port is known.
    pub fn matches(&self, ports: Option<PhysPorts<'_>>) -> bool {
        let Some(p) = ports else {
            let all_negated = |o: Option<bool>| o.is_none_or(|negated| negated);
            let neg = |o: &Option<Neg<IfacePattern>>| o.as_ref().is_none_or(|n| n.negated);
            return all_negated(self.is_bridged)
                && all_negated(self.is_in)
                && all_negated(self.is_out)
                && neg(&self.port_in)
                && neg(&self.port_out);
        };
        let flag = |o: Option<bool>, present: bool| o.is_none_or(|negated| present != negated);
        if !flag(self.is_bridged, p.port_out.is_some())
            || !flag(self.is_in, p.port_in.is_some())
            || !flag(self.is_out, p.port_out.is_some())
        {
            return false;
        }
        if let (Some(pat), Some(dev)) = (&self.port_in, p.port_in)
            && !pat.apply(pat.value.matches(dev))
        {
            return false;
        }
        match (&self.port_out, p.port_out) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(pat), Some(dev)) => pat.apply(pat.value.matches(dev)),
        }
    }
}

/// `-m limit`: a token bucket of `burst` packets refilled every `period` (in units of
/// 1/10000 s, iptables' `XT_LIMIT_SCALE`). The model does not follow time: a limit always
/// matches (the trace says so). Guaranteed by the parser: `period` is not 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Limit {
    /// Time per packet, in 1/10000 s.
    pub period: u32,
    /// The bucket's size.
    pub burst: u32,
}

impl Limit {
    /// iptables' scale: `period` counts ten-thousandths of a second.
    pub const SCALE: u32 = 10_000;
    /// The default: 3 per hour, burst 5.
    pub const DEFAULT: Limit = Limit { period: Self::SCALE * 3600 / 3, burst: 5 };
}

/// An inclusive range of user or group ids (`--uid-owner 1000-2000`). Guaranteed: `lo <=
/// hi`, and neither is `u32::MAX` (iptables refuses the invalid id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IdRange {
    /// First id.
    pub lo: u32,
    /// Last id.
    pub hi: u32,
}

impl IdRange {
    /// Whether `id` is in the range.
    pub fn contains(&self, id: u32) -> bool {
        (self.lo..=self.hi).contains(&id)
    }
}

/// `-m owner`: the socket that sent a packet. Guaranteed by the parser: at least one
/// option is present.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Owner {
    /// `[!] --uid-owner`.
    pub uid: Option<Neg<IdRange>>,
    /// `[!] --gid-owner`.
    pub gid: Option<Neg<IdRange>>,
    /// `[!] --socket-exists` (whether `!` preceded it).
    pub socket_exists: Option<bool>,
}

/// The user and group of the socket a packet was sent from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SocketOwner {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

impl Owner {
    /// Whether a packet matches, as iptables-nft evaluates it (natively, `meta skuid` and
    /// `skgid`): a packet without a user's socket (the kernel's own answers: resets, ICMP
    /// errors, echo replies) matches no uid or gid test, negated or not.
    pub fn matches(&self, socket: Option<SocketOwner>) -> bool {
        if let Some(negated) = self.socket_exists
            && socket.is_some() == negated
        {
            return false;
        }
        let id = |range: &Option<Neg<IdRange>>, get: fn(SocketOwner) -> u32| match range {
            None => true,
            Some(r) => socket.is_some_and(|s| r.apply(r.value.contains(get(s)))),
        };
        id(&self.uid, |s| s.uid) && id(&self.gid, |s| s.gid)
    }
}
