//! Random op sequences, valid and invalid, applied through the simulator: nothing panics,
//! every refused op leaves the state exactly as it was, and probes on whatever state
//! results never panic (nor does rendering their traces).

use std::net::Ipv4Addr;

use nettwin_core::addr::{Cidr, Endpoint, IfAddr, Proto};
use nettwin_core::backend::Backend;
use nettwin_core::iptables::{
    AddrType, Command, CtStates, Match, NatTo, Neg, Policy, PortDir, PortRange, RejectWith, Rule,
    RuleRef, Table, Target,
};
use nettwin_core::names::{ChainName, IfName, Mac, NetnsName};
use nettwin_core::op::{
    AddrOpts, ConfKnob, ConfScope, LinkChange, Op, RouteSpec, RuleSpec, SysctlKey,
};
use nettwin_core::state::{RouteTable, RuleAction, SpecialKind};
use nettwin_core::trace::{Probe, render};
use nettwin_sim::SimBackend;
use proptest::prelude::*;

fn netns() -> impl Strategy<Value = NetnsName> {
    prop::sample::select(vec!["h", "a", "b"])
        .prop_map(|n| NetnsName::new(n).unwrap_or_else(|e| panic!("{e}")))
}

fn ifname() -> impl Strategy<Value = IfName> {
    prop::sample::select(vec!["lo", "eth0", "v0", "v1", "br0"])
        .prop_map(|n| IfName::new(n).unwrap_or_else(|e| panic!("{e}")))
}

fn ip() -> impl Strategy<Value = Ipv4Addr> {
    prop::sample::select(vec![
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        Ipv4Addr::new(10, 0, 0, 3),
        Ipv4Addr::new(10, 0, 1, 1),
        Ipv4Addr::new(127, 0, 0, 1),
        Ipv4Addr::new(192, 0, 2, 1),
    ])
}

fn ifaddr() -> impl Strategy<Value = IfAddr> {
    (ip(), prop::sample::select(vec![8u8, 24, 32]))
        .prop_map(|(ip, p)| IfAddr::new(ip, p).unwrap_or_else(|| panic!("prefix")))
}

fn cidr() -> impl Strategy<Value = Cidr> {
    (ip(), prop::sample::select(vec![0u8, 16, 24, 32])).prop_map(|(ip, p)| Cidr::containing(ip, p))
}

fn proto() -> impl Strategy<Value = Proto> {
    prop::sample::select(vec![Proto::Tcp, Proto::Udp, Proto::Icmp])
}

fn port() -> impl Strategy<Value = u16> {
    prop::sample::select(vec![0u16, 53, 80, 8080])
}

fn chain() -> impl Strategy<Value = ChainName> {
    prop::sample::select(vec!["INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING", "X", "Y"])
        .prop_map(|n| ChainName::new(n).unwrap_or_else(|e| panic!("{e}")))
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        Just(Target::Accept),
        Just(Target::Drop),
        Just(Target::Return),
        Just(Target::MASQUERADE),
        Just(Target::Reject(RejectWith::TcpReset)),
        Just(Target::Reject(RejectWith::PortUnreachable)),
        chain().prop_map(Target::Jump),
        chain().prop_map(Target::Goto),
        (ip(), prop::option::of(port()))
            .prop_map(|(ip, p)| Target::Dnat(NatTo::one(ip, p.map(PortRange::one)))),
        ip().prop_map(|ip| Target::Snat(NatTo::one(ip, None))),
        Just(Target::Mark { value: 0x2000, mask: 0x2000 }),
    ]
}

fn a_match() -> impl Strategy<Value = Match> {
    prop_oneof![
        port().prop_map(|p| Match::Tcp {
            sport: None,
            dport: Some(Neg::plain(PortRange::one(p))),
            flags: None
        }),
        port().prop_map(|p| Match::Udp { sport: None, dport: Some(Neg::plain(PortRange::one(p))) }),
        Just(Match::Conntrack { ctstate: Neg::plain(CtStates::ESTABLISHED) }),
        Just(Match::AddrType { src: None, dst: Some(Neg::plain(AddrType::Local)) }),
        port().prop_map(|p| Match::Multiport {
            dir: PortDir::Destination,
            ports: Neg { negated: true, value: vec![PortRange::one(p)] }
        }),
        Just(Match::Mark { negated: false, value: 0x2000, mask: 0x2000 }),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        prop::option::of(cidr()),
        prop::option::of((cidr(), any::<bool>())),
        prop::option::of(proto()),
        prop::collection::vec(a_match(), 0..2),
        target(),
    )
        .prop_map(|(src, dst, proto, matches, target)| Rule {
            src: src.map(Neg::plain),
            dst: dst.map(|(c, negated)| Neg { negated, value: c }),
            in_iface: None,
            out_iface: None,
            proto: proto.map(Neg::plain),
            matches,
            target,
        })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        chain().prop_map(Command::NewChain),
        chain().prop_map(Command::DeleteChain),
        prop::option::of(chain()).prop_map(Command::Flush),
        (chain(), rule()).prop_map(|(c, r)| Command::Append(c, r)),
        (chain(), 0u32..3, rule()).prop_map(|(c, n, r)| Command::Insert(c, n, r)),
        (chain(), 0u32..3).prop_map(|(c, n)| Command::Delete(c, RuleRef::Index(n))),
        (chain(), any::<bool>())
            .prop_map(|(c, d)| Command::Policy(c, if d { Policy::Drop } else { Policy::Accept })),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        netns().prop_map(|name| Op::NetnsAdd { name }),
        netns().prop_map(|name| Op::NetnsDel { name }),
        (netns(), ifname()).prop_map(|(netns, name)| Op::BridgeAdd { netns, name, mac: None }),
        (netns(), ifname(), netns(), ifname()).prop_map(|(netns, name, peer_netns, peer)| {
            Op::VethAdd { netns, name, mac: None, peer_netns, peer, peer_mac: None }
        }),
        (netns(), ifname()).prop_map(|(netns, name)| Op::LinkDel { netns, name }),
        (netns(), ifname(), link_change()).prop_map(|(netns, name, change)| Op::LinkSet {
            netns,
            name,
            change
        }),
        (netns(), ifname(), ifaddr(), any::<bool>(), prop::option::of("[a-z0-9:]{1,17}")).prop_map(
            |(netns, dev, addr, broadcast, label)| Op::AddrAdd {
                netns,
                dev,
                addr,
                opts: AddrOpts { broadcast, label },
            }
        ),
        (netns(), ifname()).prop_map(|(netns, dev)| Op::AddrFlush { netns, dev }),
        (netns(), ifname(), 1u8..4, any::<bool>()).prop_map(|(netns, dev, host, replace)| {
            let ip = Ipv4Addr::new(10, 0, 0, host);
            Op::NeighAdd { netns, dev, ip, mac: Mac([2, 0, 0, 0, 0, host]), replace }
        }),
        (netns(), ifname(), 1u8..4).prop_map(|(netns, dev, host)| Op::NeighDel {
            netns,
            dev,
            ip: Ipv4Addr::new(10, 0, 0, host),
        }),
        (netns(), ifname(), ifaddr()).prop_map(|(netns, dev, addr)| Op::AddrDel {
            netns,
            dev,
            addr
        }),
        (netns(), route()).prop_map(|(netns, route)| Op::RouteAdd { netns, route }),
        (netns(), route()).prop_map(|(netns, route)| Op::RouteDel { netns, route }),
        (netns(), route()).prop_map(|(netns, route)| Op::RouteReplace { netns, route }),
        (netns(), routing_rule()).prop_map(|(netns, rule)| Op::RuleAdd { netns, rule }),
        (netns(), routing_rule()).prop_map(|(netns, rule)| Op::RuleDel { netns, rule }),
        // Values up to 3: a value a key does not take must be refused and change nothing.
        (netns(), sysctl(), 0u8..4).prop_map(|(netns, key, value)| Op::Sysctl {
            netns,
            key,
            value
        }),
        (netns(), any::<bool>(), command()).prop_map(|(netns, nat, cmd)| Op::Iptables {
            netns,
            table: if nat { Table::Nat } else { Table::Filter },
            cmd
        }),
        (netns(), proto(), ip(), port()).prop_map(|(netns, proto, ip, port)| Op::Listen {
            netns,
            proto,
            at: Endpoint::new(ip, port)
        }),
        (netns(), proto(), ip(), port()).prop_map(|(netns, proto, ip, port)| Op::Close {
            netns,
            proto,
            at: Endpoint::new(ip, port)
        }),
    ]
}

fn link_change() -> impl Strategy<Value = LinkChange> {
    prop_oneof![
        Just(LinkChange::Up),
        Just(LinkChange::Up),
        Just(LinkChange::Down),
        ifname().prop_map(LinkChange::Master),
        Just(LinkChange::NoMaster),
        prop::sample::select(vec![0u32, 68, 1500, 70000]).prop_map(LinkChange::Mtu),
        any::<bool>().prop_map(LinkChange::Hairpin),
        netns().prop_map(LinkChange::Netns),
    ]
}

fn route() -> impl Strategy<Value = RouteSpec> {
    let kind = prop::option::weighted(
        0.2,
        prop::sample::select(vec![
            SpecialKind::Blackhole,
            SpecialKind::Unreachable,
            SpecialKind::Prohibit,
            SpecialKind::Throw,
        ]),
    );
    let table = prop::option::weighted(0.3, prop::sample::select(vec![100u32, 254]));
    (
        (cidr(), prop::option::of(ip()), prop::option::of(ifname()), prop::option::of(ip())),
        (kind, table, prop::option::weighted(0.3, 0u32..3), any::<bool>()),
    )
        .prop_map(|((dst, via, dev, src), (kind, table, metric, onlink))| RouteSpec {
            kind,
            src,
            table: table.map(RouteTable),
            metric,
            onlink: onlink && dev.is_some(),
            ..RouteSpec::new(dst, via, dev)
        })
}

fn routing_rule() -> impl Strategy<Value = RuleSpec> {
    (
        prop::option::weighted(0.5, 0u32..4),
        any::<bool>(),
        prop::option::of(cidr()),
        prop::option::weighted(0.3, ifname()),
        prop::option::weighted(0.3, (0u32..3, Just(u32::MAX))),
        prop::option::weighted(0.8, prop::sample::select(vec![100u32, 254, 255])),
    )
        .prop_map(|(priority, not, from, iif, fwmark, table)| RuleSpec {
            priority: priority.map(|p| p * 100),
            not,
            from,
            iif,
            fwmark,
            action: table.map(|t| RuleAction::Lookup(RouteTable(t))),
            ..RuleSpec::default()
        })
}

fn sysctl() -> impl Strategy<Value = SysctlKey> {
    let knob = prop::sample::select(ConfKnob::ALL.to_vec());
    prop_oneof![
        Just(SysctlKey::IpForward),
        Just(SysctlKey::BridgeNfCallIptables),
        Just(SysctlKey::IpNonlocalBind),
        Just(SysctlKey::IcmpEchoIgnoreAll),
        (ifname(), knob.clone()).prop_map(|(d, k)| SysctlKey::Conf(ConfScope::Dev(d), k)),
        knob.clone().prop_map(|k| SysctlKey::Conf(ConfScope::All, k)),
        knob.prop_map(|k| SysctlKey::Conf(ConfScope::Default, k)),
    ]
}

fn probe() -> impl Strategy<Value = Probe> {
    (netns(), prop::option::of(ip()), prop::option::of(port()), ip(), port(), proto()).prop_map(
        |(from, src, sport, dst, dport, proto)| Probe {
            name: "random".into(),
            from,
            src,
            sport,
            dst: Endpoint::new(dst, dport),
            proto,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn random_ops_never_panic_refusals_change_nothing_and_probes_never_panic(
        ops in prop::collection::vec(op(), 0..48),
        probes in prop::collection::vec(probe(), 1..6),
    ) {
        let mut sim = SimBackend::new();
        for name in ["h", "a", "b"] {
            let name = NetnsName::new(name).unwrap_or_else(|e| panic!("{e}"));
            let lo = IfName::new("lo").unwrap_or_else(|e| panic!("{e}"));
            let add = Op::NetnsAdd { name: name.clone() };
            prop_assert!(sim.apply(&add).is_ok());
            let up = Op::LinkSet { netns: name, name: lo, change: LinkChange::Up };
            prop_assert!(sim.apply(&up).is_ok());
        }
        for op in &ops {
            let before = sim.state().clone();
            if let Err(e) = sim.apply(op) {
                prop_assert_eq!(sim.state(), &before, "`{}` failed ({}) but changed the state", op, e);
            }
        }
        for p in &probes {
            if let Ok(trace) = sim.probe(p) {
                let _ = render::text(&trace);
                let _ = render::json_text(&trace);
            }
        }
    }
}
