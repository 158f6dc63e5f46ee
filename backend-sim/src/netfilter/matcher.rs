//! Rule matching: whether a compiled rule's every match holds for a packet in context.

use nettwin_core::addr::Proto;
use nettwin_core::iptables::{
    AddrRange, AddrType, CtStates, IfacePattern, Match, Neg, PhysPorts, PortDir, PortRange,
    SocketOwner,
};
use nettwin_core::trace::Flow;

use super::index::CRule;
use crate::topo::NsTopo;

/// A packet as a hook sees it: header, devices, mark, conntrack state, and the namespace's
/// local addresses (for `-m addrtype`).
pub struct Ctx<'a> {
    /// The header.
    pub flow: Flow,
    /// The input device (`None` in OUTPUT and POSTROUTING).
    pub in_dev: Option<&'a str>,
    /// The output device (`None` in PREROUTING and INPUT).
    pub out_dev: Option<&'a str>,
    /// The packet mark.
    pub mark: u32,
    /// The conntrack states the packet is in.
    pub ct: CtStates,
    /// The namespace's local addresses.
    pub topo: &'a NsTopo,
    /// TCP flags, ICMP type and code, sending socket.
    pub info: PacketInfo<'a>,
}

/// What matches see of a packet beyond its header, its devices and its mark.
#[derive(Clone, Copy, Debug, Default)]
pub struct PacketInfo<'a> {
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
    /// ICMP type and code, for ICMP packets.
    pub icmp: Option<(u8, u8)>,
    /// The user socket that sent it (`None`: the kernel's own answers).
    pub socket: Option<SocketOwner>,
    /// The bridge ports br_netfilter attached (`None`: not from a bridge port).
    pub phys: Option<PhysPorts<'a>>,
}

fn iface(pat: &Option<Neg<IfacePattern>>, dev: Option<&str>) -> bool {
    pat.as_ref().is_none_or(|p| p.apply(p.value.matches(dev.unwrap_or(""))))
}

fn port(p: &Option<Neg<PortRange>>, v: u16) -> bool {
    p.as_ref().is_none_or(|p| p.apply(p.value.contains(v)))
}

fn addrtype(t: &Option<Neg<AddrType>>, local: bool) -> bool {
    t.as_ref().is_none_or(|t| match t.value {
        AddrType::Local => t.apply(local),
    })
}

impl Ctx<'_> {
    /// The index keys of the packet: source, destination, destination port.
    pub fn keys(&self) -> (std::net::Ipv4Addr, std::net::Ipv4Addr, Option<u16>) {
        let f = &self.flow;
        (f.src.ip, f.dst.ip, f.proto.has_ports().then_some(f.dst.port))
    }

    /// Whether every match of the rule holds.
    pub fn matches(&self, r: &CRule) -> bool {
        let f = &self.flow;
        r.src.as_ref().is_none_or(|c| c.apply(c.value.contains(f.src.ip)))
            && r.dst.as_ref().is_none_or(|c| c.apply(c.value.contains(f.dst.ip)))
            && r.proto.as_ref().is_none_or(|p| p.apply(p.value == f.proto))
            && iface(&r.in_iface, self.in_dev)
            && iface(&r.out_iface, self.out_dev)
            && r.matches.iter().all(|m| self.holds(m))
    }

    fn holds(&self, m: &Match) -> bool {
        let f = &self.flow;
        match m {
            Match::Tcp { sport, dport, flags } => {
                f.proto == Proto::Tcp
                    && port(sport, f.src.port)
                    && port(dport, f.dst.port)
                    && flags.is_none_or(|n| n.apply(n.value.matches(self.info.tcp_flags)))
            }
            Match::Udp { sport, dport } => {
                f.proto == Proto::Udp && port(sport, f.src.port) && port(dport, f.dst.port)
            }
            Match::Conntrack { ctstate } => ctstate.apply(self.ct.intersects(ctstate.value)),
            Match::State { state } => state.apply(self.ct.intersects(state.value)),
            Match::Icmp { icmp } => match (f.proto, self.info.icmp) {
                (Proto::Icmp, Some((ty, code))) => icmp.apply(icmp.value.matches(ty, code)),
                _ => false,
            },
            Match::IpRange { src, dst } => {
                let within = |r: &Option<Neg<AddrRange>>, ip| {
                    r.as_ref().is_none_or(|r| r.apply(r.value.contains(ip)))
                };
                within(src, f.src.ip) && within(dst, f.dst.ip)
            }
            Match::Physdev(p) => p.matches(self.info.phys),
            // The model follows no clock: a rate limit always has tokens (the trace notes
            // it).
            Match::Limit(_) => true,
            Match::Owner(o) => o.matches(self.info.socket),
            Match::AddrType { src, dst } => {
                addrtype(src, self.topo.is_local(f.src.ip))
                    && addrtype(dst, self.topo.is_local(f.dst.ip))
            }
            Match::Multiport { dir, ports } => {
                let v = match dir {
                    PortDir::Source => f.src.port,
                    PortDir::Destination => f.dst.port,
                };
                f.proto.has_ports() && ports.apply(ports.value.iter().any(|p| p.contains(v)))
            }
            Match::Mark { negated, value, mask } => ((self.mark & mask) == *value) != *negated,
            Match::Comment(_) => true,
        }
    }
}
