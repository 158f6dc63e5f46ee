//! The iptables steps of `nomad::cni_rules`, applied in the order Nomad and the CNI plugins
//! run them, reproduce byte for byte the `iptables-save` output captured from the real
//! plugins (containernetworking-plugins 1.1.1, iptables 1.8.9 nf_tables) in
//! `tests/data/cni/e*/` (how they were captured: docs/cni-facts.md).
//!
//! The rule set here is a minimal text model (rules compared as canonical text), enough to
//! resolve the steps' conditions; the real rule set lives in `iptables::ruleset`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use nettwin_core::addr::{Cidr, IfAddr, Proto};
use nettwin_core::iptables::Table;
use nettwin_core::nomad::cni_names::NOMAD_ADMIN_CHAIN;
use nettwin_core::nomad::cni_rules::{
    IptStep, PortMapping, bridge_masq_add, bridge_masq_del, firewall_add, firewall_del,
    nomad_admin_add, portmap_add, portmap_del,
};

/// Chains and rules of the tables that exist, as text.
#[derive(Default)]
struct TextRules {
    tables: BTreeMap<&'static str, BTreeMap<String, Vec<String>>>,
}

fn builtins(table: &str) -> &'static [&'static str] {
    match table {
        "filter" => &["INPUT", "FORWARD", "OUTPUT"],
        _ => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    }
}

impl TextRules {
    fn table(&mut self, t: Table) -> &mut BTreeMap<String, Vec<String>> {
        let name = t.as_str();
        self.tables.entry(name).or_insert_with(|| {
            builtins(name).iter().map(|c| ((*c).to_owned(), Vec::new())).collect()
        })
    }

    fn chain(&mut self, t: Table, chain: &str) -> &mut Vec<String> {
        self.table(t).get_mut(chain).unwrap_or_else(|| panic!("no chain {t}/{chain}"))
    }

    fn apply(&mut self, steps: &[IptStep]) {
        for step in steps {
            match step {
                IptStep::EnsureChain { table, chain } => {
                    self.table(*table).entry(chain.clone()).or_default();
                }
                IptStep::InsertUnique { table, chain, rule } => {
                    let c = self.chain(*table, chain);
                    if !c.contains(rule) {
                        c.insert(0, rule.clone());
                    }
                }
                IptStep::AppendUnique { table, chain, rule } => {
                    let c = self.chain(*table, chain);
                    if !c.contains(rule) {
                        c.push(rule.clone());
                    }
                }
                IptStep::DeleteRule { table, chain, rule } => {
                    if let Some(c) = self.table(*table).get_mut(chain)
                        && let Some(i) = c.iter().position(|r| r == rule)
                    {
                        c.remove(i);
                    }
                }
                IptStep::ClearChain { table, chain } => {
                    self.table(*table).entry(chain.clone()).or_default().clear();
                }
                IptStep::DeleteChain { table, chain } => {
                    let t = self.table(*table);
                    if let Some(rules) = t.get(chain) {
                        assert!(rules.is_empty(), "-X of non-empty {chain}");
                        let referenced =
                            t.values().flatten().any(|r| r.ends_with(&format!("-j {chain}")));
                        assert!(!referenced, "-X of referenced {chain}");
                        t.remove(chain);
                    }
                }
                IptStep::DeleteJumpsTo { table, chain, target } => {
                    if let Some(c) = self.table(*table).get_mut(chain) {
                        c.retain(|r| !r.ends_with(&format!("-j {target}")));
                    }
                }
            }
        }
    }

    /// Appends a rule as a test's own setup (`iptables -A`).
    fn seed(&mut self, t: Table, chain: &str, rule: &str) {
        self.table(t).entry(chain.to_owned()).or_default().push(rule.to_owned());
    }

    /// `iptables-save` without its `#` comment lines.
    fn save(&self) -> String {
        let mut out = String::new();
        for name in ["filter", "nat"] {
            let Some(chains) = self.tables.get(name) else { continue };
            let order: Vec<&String> = builtins(name)
                .iter()
                .filter_map(|b| chains.get_key_value(*b).map(|(k, _)| k))
                .chain(chains.keys().filter(|k| !builtins(name).contains(&k.as_str())))
                .collect();
            out.push_str(&format!("*{name}\n"));
            for c in &order {
                let policy = if builtins(name).contains(&c.as_str()) { "ACCEPT" } else { "-" };
                out.push_str(&format!(":{c} {policy} [0:0]\n"));
            }
            for c in &order {
                for r in &chains[*c] {
                    out.push_str(&format!("-A {c} {r}\n"));
                }
            }
            out.push_str("COMMIT\n");
        }
        out
    }
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
fn cni_add(r: &mut TextRules, a: &Alloc) {
    r.apply(&bridge_masq_add("nomad", a.id, a.addr));
    r.apply(&firewall_add(NOMAD_ADMIN_CHAIN, &[a.addr.ip]));
    r.apply(&portmap_add("nomad", a.id, a.addr, &a.maps));
}

/// The CNI DEL chain in reverse, with the cached result; `iface` says whether the
/// container's interface was still there for the bridge plugin to find.
fn cni_del(r: &mut TextRules, a: &Alloc, maps: &[PortMapping], cached: bool, iface: bool) {
    r.apply(&portmap_del("nomad", a.id, maps));
    if cached {
        r.apply(&firewall_del(&[a.addr.ip]));
    }
    r.apply(&bridge_masq_del("nomad", a.id, iface.then_some(a.addr)));
}

fn nomad_admin(r: &mut TextRules, subnet: &str) {
    let subnet: Cidr = subnet.parse().expect("subnet");
    r.apply(&nomad_admin_add(NOMAD_ADMIN_CHAIN, "nomad", subnet));
}

fn golden(path: &str) -> String {
    let p = format!("{}/tests/data/cni/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn assert_save(r: &TextRules, path: &str) {
    let want = golden(path);
    let got = r.save();
    assert!(got == want, "{path} differs\n--- want\n{want}\n--- got\n{got}");
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
    let mut r = TextRules::default();
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
    let mut r = TextRules::default();
    r.seed(Table::Filter, "FORWARD", "-i eth0 -o eth0 -j DROP");
    r.seed(Table::Nat, "POSTROUTING", "-s 10.0.0.0/8 -o eth0 -j MASQUERADE");
    r.seed(Table::Nat, "PREROUTING", "-p tcp -m tcp --dport 1 -j ACCEPT");
    r.seed(Table::Nat, "OUTPUT", "-p tcp -m tcp --dport 1 -j ACCEPT");
    nomad_admin(&mut r, "172.26.64.0/29");
    r.seed(Table::Filter, NOMAD_ADMIN_CHAIN, "-m comment --comment extra -j RETURN");
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
    let mut r = TextRules::default();
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
    r.apply(&[
        IptStep::ClearChain { table: Table::Filter, chain: NOMAD_ADMIN_CHAIN.into() },
        IptStep::DeleteJumpsTo {
            table: Table::Filter,
            chain: "CNI-FORWARD".into(),
            target: NOMAD_ADMIN_CHAIN.into(),
        },
        IptStep::DeleteChain { table: Table::Filter, chain: NOMAD_ADMIN_CHAIN.into() },
    ]);
    cni_add(&mut r, &alloc("c4", "172.26.64.4/20", &[]));
    assert_save(&r, "e5/04-readd-admin.save");
}
