//! The iptables steps of Nomad's hook and of the CNI plugins (`nettwin_cni`), applied in the order Nomad and the CNI plugins
//! run them, reproduce byte for byte the `iptables-save` output captured from the real
//! plugins (containernetworking-plugins 1.1.1, iptables 1.8.9 nf_tables) in
//! `testdata/cni/e*/` (how they were captured: docs/cni-findings.md).
//!
//! The steps' conditions are resolved with `nettwin_cni::steps::resolve` against the real rule set
//! (`iptables::Ruleset`), which applies the commands with iptables' checks and prints
//! them as `iptables-save` does.

mod common;

use std::net::Ipv4Addr;

use common::{append, apply_steps, assert_save};
use nettwin_cni::firewall::{firewall_add, firewall_del};
use nettwin_cni::masquerade::{bridge_masq_add, bridge_masq_del};
use nettwin_cni::portmap::{PortMapping, portmap_add, portmap_del};
use nettwin_cni::steps::IptStep;
use nettwin_core::addr::{Cidr, IfAddr, Proto};
use nettwin_core::iptables::{IfacePattern, Match, Neg, PortRange, Rule, Ruleset, Table, Target};
use nettwin_core::names::ChainName;
use nettwin_nomad::hook::{NOMAD_ADMIN_CHAIN, nomad_admin_add};

fn admin() -> ChainName {
    ChainName::new(NOMAD_ADMIN_CHAIN).expect("chain name")
}

/// A rule with only a target, for the tests' own setup.
fn bare(target: Target) -> Rule {
    Rule {
        src: None,
        dst: None,
        in_iface: None,
        out_iface: None,
        proto: None,
        matches: Vec::new(),
        target,
    }
}

fn iface(name: &str) -> Option<Neg<IfacePattern>> {
    Some(Neg::plain(IfacePattern::new(name).expect("interface")))
}

fn tcp_dport(port: u16) -> Match {
    Match::Tcp { sport: None, dport: Some(Neg::plain(PortRange::one(port))), flags: None }
}

/// One allocation as the plugins see it.
struct Alloc {
    id: &'static str,
    addr: IfAddr,
    maps: Vec<PortMapping>,
}

fn alloc(id: &'static str, addr: &str, maps: &[(Option<&str>, u16, u16, Proto)]) -> Alloc {
    Alloc {
        id,
        addr: addr.parse().expect("address"),
        maps: maps
            .iter()
            .map(|(h, hp, cp, proto)| PortMapping {
                host_port: *hp,
                container_port: *cp,
                proto: *proto,
                host_ip: h.map(|s| s.parse::<Ipv4Addr>().expect("host ip")),
            })
            .collect(),
    }
}

/// The CNI ADD chain (loopback and the bridge's links do no iptables work).
fn cni_add(r: &mut Ruleset, a: &Alloc) {
    apply_steps(r, &bridge_masq_add("nomad", a.id, a.addr));
    apply_steps(r, &firewall_add(&admin(), &[a.addr.ip]));
    apply_steps(r, portmap_add("nomad", a.id, a.addr, &a.maps).steps());
}

/// The CNI DEL chain in reverse, with the cached result; `iface` says whether the
/// container's interface was still there for the bridge plugin to find.
fn cni_del(r: &mut Ruleset, a: &Alloc, maps: &[PortMapping], cached: bool, iface: bool) {
    apply_steps(r, &portmap_del("nomad", a.id, maps));
    if cached {
        apply_steps(r, &firewall_del(&[a.addr.ip]));
    }
    apply_steps(r, &bridge_masq_del("nomad", a.id, iface.then_some(a.addr)));
}

fn nomad_admin(r: &mut Ruleset, subnet: &str) {
    let subnet: Cidr = subnet.parse().expect("subnet");
    let bridge = IfacePattern::new("nomad").expect("interface");
    apply_steps(r, &nomad_admin_add(&admin(), &bridge, subnet));
}

const TCP: Proto = Proto::Tcp;
const UDP: Proto = Proto::Udp;

#[test]
fn three_allocations_then_their_dels_match_experiment_1() {
    let a1 = alloc(
        "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512",
        "172.26.64.2/20",
        &[(None, 23417, 6379, TCP), (None, 23417, 6379, UDP)],
    );
    let a2 = alloc(
        "1c9e7b04-a3d2-6f58-9e10-4b7d2c8f6a33",
        "172.26.64.3/20",
        &[(None, 7000, 7000, TCP), (None, 7000, 7000, UDP)],
    );
    let a3 = alloc(
        "f07a5c9d-2e81-4b36-a7c4-93d1e6b0f285",
        "172.26.64.4/20",
        &[
            (None, 8080, 80, TCP),
            (None, 8080, 80, UDP),
            (None, 25001, 9090, TCP),
            (None, 9999, 99, TCP),
        ],
    );
    let mut r = Ruleset::default();
    assert_save(&r, "e1/00-empty.save");
    nomad_admin(&mut r, "172.26.64.0/20");
    assert_save(&r, "e1/01-admin.save");
    for (a, golden) in
        [(&a1, "e1/02-add1.save"), (&a2, "e1/03-add2.save"), (&a3, "e1/04-add3.save")]
    {
        nomad_admin(&mut r, "172.26.64.0/20");
        cni_add(&mut r, a);
        assert_save(&r, golden);
    }
    cni_del(&mut r, &a2, &a2.maps, true, true);
    assert_save(&r, "e1/05-del2.save");
    // The container namespace was deleted before DEL: the masquerade chain leaks.
    cni_del(&mut r, &a3, &a3.maps, true, false);
    assert_save(&r, "e1/06-del3-gone.save");
    cni_del(&mut r, &a1, &a1.maps, true, true);
    assert_save(&r, "e1/07-del1.save");
    // A second DEL: no cached result, no interface; portmap's create-and-delete is a no-op.
    cni_del(&mut r, &a1, &a1.maps, false, false);
    assert_save(&r, "e1/08-del1-again.save");
}

#[test]
fn existing_rules_host_ip_and_portless_allocations_match_experiment_2() {
    let mut r = Ruleset::default();
    append(
        &mut r,
        Table::Filter,
        "FORWARD",
        Rule { in_iface: iface("eth0"), out_iface: iface("eth0"), ..bare(Target::Drop) },
    );
    let ten: Cidr = "10.0.0.0/8".parse().expect("cidr");
    append(
        &mut r,
        Table::Nat,
        "POSTROUTING",
        Rule { src: Some(Neg::plain(ten)), out_iface: iface("eth0"), ..bare(Target::MASQUERADE) },
    );
    let port1 = Rule {
        proto: Some(Neg::plain(Proto::Tcp)),
        matches: vec![tcp_dport(1)],
        ..bare(Target::Accept)
    };
    append(&mut r, Table::Nat, "PREROUTING", port1.clone());
    append(&mut r, Table::Nat, "OUTPUT", port1);
    nomad_admin(&mut r, "172.26.64.0/29");
    append(
        &mut r,
        Table::Filter,
        NOMAD_ADMIN_CHAIN,
        Rule { matches: vec![Match::Comment("extra".into())], ..bare(Target::Return) },
    );
    let host = Some("192.0.2.10");
    let b1 = alloc(
        "0b5e4c3a-1111-2222-3333-444455556666",
        "172.26.64.2/29",
        &[(host, 7000, 7000, TCP), (host, 7000, 7000, UDP), (host, 25000, 6379, TCP)],
    );
    let b2 = alloc("0b5e4c3a-aaaa-bbbb-cccc-ddddeeeeffff", "172.26.64.3/29", &[]);
    nomad_admin(&mut r, "172.26.64.0/29");
    cni_add(&mut r, &b1);
    assert_save(&r, "e2/01-add1-hostip.save");
    nomad_admin(&mut r, "172.26.64.0/29");
    cni_add(&mut r, &b2);
    assert_save(&r, "e2/02-add2-noports.save");
    // Both duplicate ADDs fail in the bridge plugin before any iptables work.
    assert_save(&r, "e2/03-dups.save");
    for (n, ip) in [("4", "172.26.64.4/29"), ("5", "172.26.64.5/29"), ("6", "172.26.64.6/29")] {
        let id: &'static str = match n {
            "4" => "0b5e4c3a-0000-0000-0000-000000000004",
            "5" => "0b5e4c3a-0000-0000-0000-000000000005",
            _ => "0b5e4c3a-0000-0000-0000-000000000006",
        };
        nomad_admin(&mut r, "172.26.64.0/29");
        cni_add(&mut r, &alloc(id, ip, &[]));
    }
    // The seventh ADD fails in host-local (exhausted) before any iptables work.
    assert_save(&r, "e2/04-exhausted.save");
    cni_del(&mut r, &b2, &[], true, true);
    cni_del(&mut r, &b1, &b1.maps, true, true);
    assert_save(&r, "e2/05-dels.save");
}

#[test]
fn portless_first_allocation_long_port_lists_and_del_without_mappings_match_experiment_5() {
    let mut r = Ruleset::default();
    nomad_admin(&mut r, "172.26.64.0/20");
    let c1 = alloc("c1-no-ports", "172.26.64.2/20", &[]);
    cni_add(&mut r, &c1);
    assert_save(&r, "e5/01-noports.save");
    let mut maps: Vec<(Option<&str>, u16, u16, Proto)> =
        (30001..=30016).map(|p| (None, p, 80, TCP)).collect();
    maps.push((None, 30001, 80, TCP));
    maps.push((None, 40000, 53, UDP));
    let c2 = alloc("c2-many", "172.26.64.3/20", &maps);
    cni_add(&mut r, &c2);
    assert_save(&r, "e5/02-many.save");
    // DEL without the mappings: portmap does nothing and c2's DNAT chain stays.
    cni_del(&mut r, &c2, &[], true, true);
    assert_save(&r, "e5/03-del-nomaps.save");
    // By hand: flush NOMAD-ADMIN, drop the admin jump, delete the chain. The firewall
    // plugin recreates both (the chain empty) at the next ADD.
    apply_steps(
        &mut r,
        &[
            IptStep::ClearChain { table: Table::Filter, chain: admin() },
            IptStep::DeleteJumpsTo {
                table: Table::Filter,
                chain: ChainName::new("CNI-FORWARD").expect("chain"),
                target: admin(),
            },
            IptStep::DeleteChain { table: Table::Filter, chain: admin() },
        ],
    );
    cni_add(&mut r, &alloc("c4", "172.26.64.4/20", &[]));
    assert_save(&r, "e5/04-readd-admin.save");
}
