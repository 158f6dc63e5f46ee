//! The teardown suite's cases: a small fixed host (the base), a random setup of ops that
//! are valid in the model where they stand, then the setup's inverse (each op's named
//! inverse, last op first), then the inverse once more. Checkpoints after the base, the
//! setup and the first teardown let the suite check that the teardown brings the state
//! back to the base and that tearing down twice equals once, on both backends.
//!
//! Setups are built against a model `State` as the specs are read: a spec names a kind of
//! op and indexes into what exists at that point (the k-th link that is down, ...); a spec
//! that fits nothing, or whose op the model refuses, is left out. So shrinking a case
//! always leaves a valid setup. Ops without an exact inverse are not generated: `lo up`
//! (127.0.0.1 stays when it goes down) only in namespaces the setup creates, the IPAM
//! (released addresses do not rewind host-local's last reserved one), links moved between
//! namespaces (they lose their addresses), a bridge's MTU (set by hand it stops following
//! its ports).

use std::net::Ipv4Addr;

use nettwin_core::addr::{Cidr, Endpoint, IfAddr, Proto};
use nettwin_core::iptables::{Command, Policy, Table};
use nettwin_core::names::{ChainName, IfName, NetnsName};
use nettwin_core::op::{AddrOpts, LinkChange, Op, RouteSpec, SysctlKey};
use nettwin_core::state::{LinkKind, State};
use nettwin_core::trace::Probe;
use proptest::prelude::*;

use super::{endpoint, ifn, ip, ns};
use crate::harness::{Case, Compared};

/// The base: a host with an uplink to a world router and an empty bridge, both tables in
/// use in both namespaces (the kernel keeps a table once a command created it, so a setup
/// creating one could not be undone). Every step must succeed.
pub const BASE: &[&str] = &[
    "ip netns add host",
    "ip netns add world",
    "ip -n host link set lo up",
    "ip -n world link set lo up",
    "ip -n host link add eth0 type veth peer name up0 netns world",
    "ip -n host addr add 192.0.2.10/24 dev eth0",
    "ip -n world addr add 192.0.2.1/24 dev up0",
    "ip -n host link set eth0 up",
    "ip -n world link set up0 up",
    "ip -n host route add default via 192.0.2.1",
    "ip -n host link add nomad type bridge",
    "ip -n host addr add 172.26.64.1/20 dev nomad",
    "ip -n host link set nomad up",
    "ip netns exec host sysctl -w net.ipv4.ip_forward=1",
    "ip netns exec host iptables -N NOMAD-ADMIN",
    "ip netns exec host iptables -A NOMAD-ADMIN -o nomad -d 172.26.64.0/20 -j ACCEPT",
    "ip netns exec host iptables -t nat -N CNI-HOSTPORT-DNAT",
    "ip netns exec world iptables -N W",
    "ip netns exec world iptables -t nat -N W",
    "ip netns exec world listen tcp 0.0.0.0:80",
];

/// Namespaces a setup may create.
const NEW_NAMESPACES: [&str; 3] = ["a1", "a2", "a3"];
/// Names for new links.
const NEW_LINKS: [&str; 4] = ["veth1", "veth2", "eth0", "br1"];
/// Addresses a setup may add (with /20 on the bridge's network, /24 elsewhere).
const ADDRS: [&str; 6] = [
    "172.26.64.2/20",
    "172.26.64.3/20",
    "10.1.0.1/24",
    "10.1.0.2/24",
    "192.0.2.20/24",
    "172.26.64.9/32",
];
/// Route destinations.
const DSTS: [&str; 3] = ["10.9.0.0/16", "198.51.100.0/24", "0.0.0.0/0"];
/// MTUs.
const MTUS: [u32; 3] = [1400, 9000, 1280];
/// Chains a setup may create (in the table the spec picks).
const CHAINS: [&str; 2] = ["T1", "T2"];
/// Rule bodies; every setup rule also gets a unique comment, so its `-D` removes it alone.
const RULES: [&str; 6] = [
    "-s 172.26.64.0/20 -j ACCEPT",
    "-p tcp -m tcp --dport 80 -j DROP",
    "-d 10.1.0.0/24 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-p udp -m multiport --dports 53,80 -j REJECT",
    "-o nomad -j RETURN",
    "-j MARK --set-xmark 0x2000/0x2000",
];
/// NAT rule bodies.
const NAT_RULES: [&str; 4] = [
    "-p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.26.64.2:80",
    "-s 172.26.64.0/20 ! -d 172.26.64.0/20 -j MASQUERADE",
    "-m mark --mark 0x2000/0x2000 -j MASQUERADE",
    "-j RETURN",
];

/// One spec: a kind of op and indexes into what fits.
#[derive(Clone, Debug)]
pub struct Spec {
    kind: u8,
    a: usize,
    b: usize,
    c: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (0u8..14, 0usize..16, 0usize..16, 0usize..16).prop_map(|(kind, a, b, c)| Spec { kind, a, b, c })
}

fn pick<T: Clone>(list: &[T], i: usize) -> Option<T> {
    (!list.is_empty()).then(|| list[i % list.len()].clone())
}

fn ipt(netns: &NetnsName, table: Table, cmd: Command) -> Op {
    Op::Iptables { netns: netns.clone(), table, cmd }
}

fn chain(name: &str) -> ChainName {
    ChainName::new(name).unwrap_or_else(|e| unreachable!("{name}: {e}"))
}

fn rule_op(netns: &NetnsName, table: Table, text: &str) -> Option<Op> {
    let t = if table == Table::Nat { "-t nat " } else { "" };
    format!("ip netns exec {netns} iptables {t}{text}").parse().ok()
}

/// The op a spec stands for in `state`, and its inverse; `None` when nothing fits.
fn derive(s: &Spec, state: &State, serial: usize) -> Option<(Op, Op)> {
    let spaces: Vec<NetnsName> = state.namespaces().keys().cloned().collect();
    let links: Vec<(NetnsName, IfName)> = state
        .namespaces()
        .iter()
        .flat_map(|(n, ns)| ns.links.keys().map(move |l| (n.clone(), l.clone())))
        .collect();
    let link = |n: &NetnsName, l: &IfName| {
        state.netns(n.as_str()).and_then(|ns| ns.link(l.as_str())).cloned()
    };
    let created = |n: &NetnsName| NEW_NAMESPACES.contains(&n.as_str());
    match s.kind {
        0 => {
            let name = ns(NEW_NAMESPACES[s.a % NEW_NAMESPACES.len()]);
            Some((Op::NetnsAdd { name: name.clone() }, Op::NetnsDel { name }))
        }
        1 => {
            let (a, b) = (pick(&spaces, s.a)?, pick(&spaces, s.b)?);
            let (x, y) = (ifn(NEW_LINKS[s.c % 3]), ifn(NEW_LINKS[(s.c / 3) % 3]));
            let add = Op::VethAdd {
                netns: a.clone(),
                name: x.clone(),
                mac: None,
                peer_netns: b,
                peer: y,
                peer_mac: None,
            };
            Some((add, Op::LinkDel { netns: a, name: x }))
        }
        2 => {
            let n = pick(&spaces, s.a)?;
            Some((
                Op::BridgeAdd { netns: n.clone(), name: ifn("br1"), mac: None },
                Op::LinkDel { netns: n, name: ifn("br1") },
            ))
        }
        3 => {
            // Up a link that is down (lo only where the setup created the namespace).
            let down: Vec<_> = links
                .iter()
                .filter(|(n, l)| {
                    link(n, l)
                        .is_some_and(|k| !k.up && (k.kind != LinkKind::Loopback || created(n)))
                })
                .cloned()
                .collect();
            let (n, l) = pick(&down, s.a)?;
            Some((
                Op::LinkSet { netns: n.clone(), name: l.clone(), change: LinkChange::Up },
                Op::LinkSet { netns: n, name: l, change: LinkChange::Down },
            ))
        }
        4 => {
            // Enslave a veth that has no master to a bridge of its namespace.
            let free: Vec<_> = links
                .iter()
                .filter(|(n, l)| {
                    link(n, l).is_some_and(|k| {
                        matches!(k.kind, LinkKind::Veth { .. }) && k.master.is_none()
                    })
                })
                .cloned()
                .collect();
            let (n, l) = pick(&free, s.a)?;
            let bridges: Vec<IfName> = state
                .netns(n.as_str())?
                .links
                .iter()
                .filter(|(_, k)| k.is_bridge())
                .map(|(b, _)| b.clone())
                .collect();
            let br = pick(&bridges, s.b)?;
            Some((
                Op::LinkSet { netns: n.clone(), name: l.clone(), change: LinkChange::Master(br) },
                Op::LinkSet { netns: n, name: l, change: LinkChange::NoMaster },
            ))
        }
        5 => {
            let (n, l) = pick(&links, s.a)?;
            let addr: IfAddr = ADDRS[s.b % ADDRS.len()].parse().ok()?;
            if link(&n, &l)?.addrs.contains(&addr) {
                return None;
            }
            Some((
                Op::AddrAdd { netns: n.clone(), dev: l.clone(), addr, opts: AddrOpts::default() },
                Op::AddrDel { netns: n, dev: l, addr },
            ))
        }
        6 => {
            let (n, l) = pick(&links, s.a)?;
            let dst: Cidr = DSTS[s.b % DSTS.len()].parse().ok()?;
            let route = RouteSpec::new(dst, None, Some(l));
            let del = RouteSpec::new(dst, None, route.dev.clone());
            Some((Op::RouteAdd { netns: n.clone(), route }, Op::RouteDel { netns: n, route: del }))
        }
        7 => {
            let n = pick(&spaces, s.a)?;
            let netns = state.netns(n.as_str())?;
            let (key, old) = match s.b % 3 {
                0 => (SysctlKey::IpForward, netns.conf_all.forwarding),
                1 => (SysctlKey::BridgeNfCallIptables, u8::from(netns.bridge_nf_call_iptables)),
                _ => {
                    let (_, l) = pick(
                        &links.iter().filter(|(m, _)| *m == n).cloned().collect::<Vec<_>>(),
                        s.c,
                    )?;
                    let old = netns.link(l.as_str())?.conf.route_localnet;
                    (SysctlKey::route_localnet(l), old)
                }
            };
            Some((
                Op::Sysctl { netns: n.clone(), key: key.clone(), value: u8::from(old == 0) },
                Op::Sysctl { netns: n, key, value: old },
            ))
        }
        8 => {
            let (n, l) = pick(&links, s.a)?;
            // Not lo, not a bridge: a bridge's MTU set by hand stops following its ports,
            // and setting the old value back does not make it follow them again.
            let k = link(&n, &l)?;
            if matches!(k.kind, LinkKind::Loopback | LinkKind::Bridge) {
                return None;
            }
            let mtu = MTUS[s.b % MTUS.len()];
            Some((
                Op::LinkSet { netns: n.clone(), name: l.clone(), change: LinkChange::Mtu(mtu) },
                Op::LinkSet { netns: n, name: l, change: LinkChange::Mtu(k.mtu) },
            ))
        }
        9 => {
            let ports: Vec<_> = links
                .iter()
                .filter(|(n, l)| link(n, l).is_some_and(|k| k.master.is_some() && !k.hairpin))
                .cloned()
                .collect();
            let (n, l) = pick(&ports, s.a)?;
            Some((
                Op::LinkSet {
                    netns: n.clone(),
                    name: l.clone(),
                    change: LinkChange::Hairpin(true),
                },
                Op::LinkSet { netns: n, name: l, change: LinkChange::Hairpin(false) },
            ))
        }
        10 => {
            let n = pick(&spaces, s.a)?;
            let table = if s.b.is_multiple_of(2) { Table::Filter } else { Table::Nat };
            let c = chain(CHAINS[s.c % CHAINS.len()]);
            Some((
                ipt(&n, table, Command::NewChain(c.clone())),
                ipt(&n, table, Command::DeleteChain(c)),
            ))
        }
        11 | 12 => {
            // A rule (filter or nat), appended or inserted first, with a unique comment.
            let n = pick(&spaces, s.a)?;
            let nat = s.kind == 12;
            let (table, chains, body) = if nat {
                let fw = state.netns(n.as_str())?.firewall.table(Table::Nat);
                let chains: Vec<String> =
                    fw.chains().map(|(c, _)| c.to_string()).filter(|c| c != "INPUT").collect();
                (Table::Nat, chains, NAT_RULES[s.c % NAT_RULES.len()])
            } else {
                let fw = state.netns(n.as_str())?.firewall.table(Table::Filter);
                (
                    Table::Filter,
                    fw.chains().map(|(c, _)| c.to_string()).collect(),
                    RULES[s.c % RULES.len()],
                )
            };
            let c = pick(&chains, s.b)?;
            let body = format!("{body} -m comment --comment \"t{serial}\"");
            let verb = if s.b.is_multiple_of(3) { format!("-I {c} 1") } else { format!("-A {c}") };
            Some((
                rule_op(&n, table, &format!("{verb} {body}"))?,
                rule_op(&n, table, &format!("-D {c} {body}"))?,
            ))
        }
        13 => {
            if s.b.is_multiple_of(2) {
                let n = pick(&spaces, s.a)?;
                let c = ["INPUT", "FORWARD", "OUTPUT"][s.c % 3];
                let old = state.netns(n.as_str())?.firewall.table(Table::Filter).chain(c)?.policy?;
                if old == Policy::Drop {
                    return None;
                }
                Some((
                    ipt(&n, Table::Filter, Command::Policy(chain(c), Policy::Drop)),
                    ipt(&n, Table::Filter, Command::Policy(chain(c), Policy::Accept)),
                ))
            } else {
                let n = pick(&spaces, s.a)?;
                let proto = if s.c.is_multiple_of(2) { Proto::Tcp } else { Proto::Udp };
                let at = Endpoint::new(Ipv4Addr::UNSPECIFIED, [80, 53, 8080][s.b % 3]);
                Some((
                    Op::Listen { netns: n.clone(), proto, at },
                    Op::Close { netns: n, proto, at },
                ))
            }
        }
        _ => None,
    }
}

/// The base's ops.
pub fn base() -> Vec<Op> {
    BASE.iter().map(|t| t.parse().unwrap_or_else(|e| unreachable!("{t}: {e}"))).collect()
}

/// Builds a case: base, the setup (ops valid in the model where they stand), its inverse
/// twice; checkpoints after the base, the setup and the first teardown.
pub fn build(specs: &[Spec]) -> Case {
    let mut model = State::new();
    let mut steps = base();
    for op in &steps {
        let _ = model.apply(op);
    }
    let mut setup = Vec::new();
    let mut inverse = Vec::new();
    for (serial, s) in specs.iter().enumerate() {
        let Some((op, inv)) = derive(s, &model, serial) else { continue };
        if model.apply(&op).is_ok() {
            setup.push(op);
            inverse.push(inv);
        }
    }
    inverse.reverse();
    let base_len = steps.len();
    steps.extend(setup.iter().cloned());
    let setup_end = steps.len();
    steps.extend(inverse.iter().cloned());
    let teardown_end = steps.len();
    steps.extend(inverse);
    let probe = Probe {
        name: String::new(),
        from: ns("host"),
        src: None,
        sport: None,
        dst: endpoint(ip("192.0.2.1"), 80, Proto::Tcp),
        proto: Proto::Tcp,
    };
    Case { steps, probes: vec![probe], checkpoints: vec![base_len, setup_end, teardown_end] }
}

/// The teardown suite's cases: 1–24 specs.
pub fn cases() -> impl Strategy<Value = Case> {
    prop::collection::vec(spec(), 1..24).prop_map(|specs| build(&specs))
}

/// The teardown properties, on each backend: the first teardown brings the state back to
/// the base's, the second changes nothing; and the setup, valid in the model, succeeded.
pub fn property(case: &Case, c: &Compared) -> Result<(), String> {
    let (base_len, setup_end) = (case.checkpoints[0], case.checkpoints[1]);
    for (name, side) in [("sim", &c.sim), ("linux", &c.linux)] {
        for (i, r) in side.results.iter().enumerate().take(setup_end) {
            if let Err(e) = r {
                let what = if i < base_len { "base" } else { "setup" };
                return Err(format!("{name}: {what} step `{}` failed: {e}", case.steps[i]));
            }
        }
        let (before, after, again) = (&side.states[0], &side.states[2], &side.states[3]);
        let back = before.diff(after);
        if !back.is_empty() {
            return Err(format!(
                "{name}: the teardown does not restore the base:\n  {}",
                back.join("\n  ")
            ));
        }
        let twice = after.diff(again);
        if !twice.is_empty() {
            return Err(format!(
                "{name}: tearing down twice differs from once:\n  {}",
                twice.join("\n  ")
            ));
        }
    }
    Ok(())
}
