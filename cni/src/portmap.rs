//! The portmap plugin (`snat: true`): host ports DNATed to the container from
//! PREROUTING and OUTPUT (`addrtype --dst-type LOCAL`), with the masquerade mark for
//! hairpin and localhost traffic.

use std::net::Ipv4Addr;
use std::sync::Arc;

use nettwin_core::addr::{IfAddr, Proto};
use nettwin_core::iptables::{
    AddrType, Match, NatTo, Neg, PortDir, PortRange, Rule, Table, Target,
};

use nettwin_core::static_name;

use crate::names::{
    HOSTPORT_DNAT_CHAIN, HOSTPORT_MASQ_CHAIN, HOSTPORT_SETMARK_CHAIN, MASQ_MARK, MULTIPORT_MAX,
    PORTFWD_MARK_COMMENT, PORTFWD_MASQ_COMMENT, portmap_dnat_chain, portmap_dnat_comment,
    portmap_old_snat_chain,
};
use crate::steps::{IptStep, append, comment, ensure, host, insert, rule};

/// One entry of portmap's `runtimeConfig.portMappings`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PortMapping {
    /// `hostPort`.
    pub host_port: u16,
    /// `containerPort`.
    pub container_port: u16,
    /// `protocol`.
    pub proto: Proto,
    /// `hostIP`; `None` or 0.0.0.0 matches any local address.
    pub host_ip: Option<Ipv4Addr>,
}

/// What portmap does, split where it writes `route_localnet` in between.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PortmapAdd {
    /// The SETMARK and MASQ chains, their rules and the POSTROUTING jump.
    pub before_localnet: Vec<IptStep>,
    /// Whether `net.ipv4.conf.<bridge>.route_localnet=1` is written next.
    pub route_localnet: bool,
    /// CNI-HOSTPORT-DNAT, its entry jumps, the container's DNAT chain and jumps.
    pub after_localnet: Vec<IptStep>,
}

impl PortmapAdd {
    /// All iptables steps in order (without the sysctl).
    pub fn steps(&self) -> impl Iterator<Item = &IptStep> {
        self.before_localnet.iter().chain(&self.after_localnet)
    }
}

fn port_match(proto: Proto, port: u16) -> Match {
    let dport = Some(Neg::plain(PortRange::one(port)));
    match proto {
        Proto::Udp => Match::Udp { sport: None, dport },
        _ => Match::Tcp { sport: None, dport, flags: None },
    }
}

/// portmap's ADD for one container address (`forwardPorts` with `snat: true`). No
/// mappings, no work: not even the shared chains or `route_localnet`. Made of
/// [`portmap_shared_masq`], the sysctl, [`portmap_shared_dnat`] and [`portmap_container`].
pub fn portmap_add(
    network: &str,
    container_id: &str,
    addr: IfAddr,
    mappings: &[PortMapping],
) -> PortmapAdd {
    if mappings.is_empty() {
        return PortmapAdd::default();
    }
    let mut after = portmap_shared_dnat();
    after.extend(portmap_container(network, container_id, addr, mappings));
    PortmapAdd {
        before_localnet: portmap_shared_masq(),
        route_localnet: true,
        after_localnet: after,
    }
}

/// portmap's shared SETMARK and MASQ chains, their rules and the POSTROUTING jump (the
/// same for every container; before `route_localnet`).
pub fn portmap_shared_masq() -> Vec<IptStep> {
    let (setmark, masq) = (
        static_name!(ChainName, HOSTPORT_SETMARK_CHAIN),
        static_name!(ChainName, HOSTPORT_MASQ_CHAIN),
    );
    vec![
        ensure(Table::Nat, &setmark),
        append(
            Table::Nat,
            &setmark,
            Rule {
                matches: vec![comment(PORTFWD_MARK_COMMENT)],
                ..rule(Target::Mark { value: MASQ_MARK, mask: MASQ_MARK })
            },
        ),
        ensure(Table::Nat, &masq),
        append(
            Table::Nat,
            &masq,
            Rule {
                matches: vec![Match::Mark { negated: false, value: MASQ_MARK, mask: MASQ_MARK }],
                ..rule(Target::MASQUERADE)
            },
        ),
        insert(
            Table::Nat,
            &static_name!(ChainName, "POSTROUTING"),
            Rule {
                matches: vec![comment(PORTFWD_MASQ_COMMENT)],
                ..rule(Target::Jump(masq.clone()))
            },
        ),
    ]
}

/// portmap's shared CNI-HOSTPORT-DNAT chain and its PREROUTING and OUTPUT jumps (the same
/// for every container; after `route_localnet`).
pub fn portmap_shared_dnat() -> Vec<IptStep> {
    let dnat = static_name!(ChainName, HOSTPORT_DNAT_CHAIN);
    let mut steps = vec![ensure(Table::Nat, &dnat)];
    let local = Match::AddrType { src: None, dst: Some(Neg::plain(AddrType::Local)) };
    for entry in [static_name!(ChainName, "PREROUTING"), static_name!(ChainName, "OUTPUT")] {
        steps.push(append(
            Table::Nat,
            &entry,
            Rule { matches: vec![local.clone()], ..rule(Target::Jump(dnat.clone())) },
        ));
    }
    steps
}

/// portmap's work for one container: its DNAT chain, three rules per mapping, and the
/// multiport jumps to it from CNI-HOSTPORT-DNAT.
pub fn portmap_container(
    network: &str,
    container_id: &str,
    addr: IfAddr,
    mappings: &[PortMapping],
) -> Vec<IptStep> {
    let (setmark, dnat) = (
        static_name!(ChainName, HOSTPORT_SETMARK_CHAIN),
        static_name!(ChainName, HOSTPORT_DNAT_CHAIN),
    );
    let dn = portmap_dnat_chain(network, container_id);
    // The chain, three rules per mapping, and a jump per protocol and 15 ports.
    let mut after = Vec::with_capacity(3 + 3 * mappings.len() + mappings.len() / MULTIPORT_MAX);
    after.push(ensure(Table::Nat, &dn));
    for m in mappings {
        let dst = match m.host_ip {
            Some(ip) if !ip.is_unspecified() => host(ip),
            _ => None,
        };
        let base = |target: Target| Rule {
            dst,
            proto: Some(Neg::plain(m.proto)),
            matches: vec![port_match(m.proto, m.host_port)],
            ..rule(target)
        };
        let mark = || Target::Jump(setmark.clone());
        after.push(append(
            Table::Nat,
            &dn,
            Rule { src: Some(Neg::plain(addr.network())), ..base(mark()) },
        ));
        after.push(append(
            Table::Nat,
            &dn,
            Rule { src: host(Ipv4Addr::LOCALHOST), ..base(mark()) },
        ));
        after.push(append(
            Table::Nat,
            &dn,
            base(Target::Dnat(NatTo::one(addr.ip, Some(PortRange::one(m.container_port))))),
        ));
    }
    let note: Arc<str> = portmap_dnat_comment(network, container_id).into();
    for (proto, ports) in ports_by_proto(mappings) {
        for chunk in ports.chunks(MULTIPORT_MAX) {
            after.push(append(
                Table::Nat,
                &dnat,
                Rule {
                    proto: Some(Neg::plain(proto)),
                    matches: vec![
                        Match::Comment(Arc::clone(&note)),
                        Match::Multiport {
                            dir: PortDir::Destination,
                            ports: Neg::plain(chunk.iter().map(|p| PortRange::one(*p)).collect()),
                        },
                    ],
                    ..rule(Target::Jump(dn.clone()))
                },
            ));
        }
    }
    after
}

/// Host ports per protocol, protocols sorted by name, ports in mapping order, duplicates
/// kept (`groupByProto`).
fn ports_by_proto(mappings: &[PortMapping]) -> Vec<(Proto, Vec<u16>)> {
    let mut out: Vec<(Proto, Vec<u16>)> = Vec::new();
    for m in mappings {
        match out.iter_mut().find(|(p, _)| *p == m.proto) {
            Some((_, ports)) => ports.push(m.host_port),
            None => out.push((m.proto, vec![m.host_port])),
        }
    }
    out.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    out
}

/// portmap's DEL (`unforwardPorts`). Without mappings it does nothing, so the DNAT chain
/// of a container whose DEL is not given its mappings leaks. With mappings: the DNAT
/// chain is flushed (created if missing), the jumps to it are deleted, the chain deleted;
/// then the chain of a long-gone version (`CNI-SN-...`) is created and deleted again.
pub fn portmap_del(network: &str, container_id: &str, mappings: &[PortMapping]) -> Vec<IptStep> {
    if mappings.is_empty() {
        return Vec::new();
    }
    let dn = portmap_dnat_chain(network, container_id);
    let sn = portmap_old_snat_chain(network, container_id);
    vec![
        IptStep::ClearChain { table: Table::Nat, chain: dn.clone() },
        IptStep::DeleteJumpsTo {
            table: Table::Nat,
            chain: static_name!(ChainName, HOSTPORT_DNAT_CHAIN),
            target: dn.clone(),
        },
        IptStep::DeleteChain { table: Table::Nat, chain: dn },
        IptStep::ClearChain { table: Table::Nat, chain: sn.clone() },
        IptStep::DeleteChain { table: Table::Nat, chain: sn },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portmap_without_mappings_does_nothing_at_add_and_del() {
        let addr: IfAddr = "172.26.64.2/20".parse().expect("addr");
        assert_eq!(portmap_add("nomad", "x", addr, &[]), PortmapAdd::default());
        assert!(portmap_del("nomad", "x", &[]).is_empty());
    }

    #[test]
    fn more_than_fifteen_ports_split_into_several_jumps() {
        let addr: IfAddr = "172.26.64.2/20".parse().expect("addr");
        let maps: Vec<PortMapping> = (1..=16)
            .map(|p| PortMapping {
                host_port: p,
                container_port: 80,
                proto: Proto::Tcp,
                host_ip: None,
            })
            .collect();
        let add = portmap_add("nomad", "x", addr, &maps);
        let jumps = add
            .after_localnet
            .iter()
            .filter(|s| matches!(s, IptStep::AppendUnique { chain, .. } if chain.as_str() == HOSTPORT_DNAT_CHAIN))
            .count();
        assert_eq!(jumps, 2);
        assert!(add.route_localnet);
    }
}
