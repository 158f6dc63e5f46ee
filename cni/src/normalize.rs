//! The documented rule by which the conformance test compares what the real CNI plugins
//! built with what the planner's ops build. Everything the plugins or the kernel choose at
//! random, and that a plan can only match in form, is replaced by a name derived from what
//! it is attached to; everything else is compared as it is.
//!
//! - Every MAC becomes `00:00:00:00:00:00` (the kernel draws them; a bridge takes its
//!   first port's).
//! - Every host-side veth named like the bridge plugin's random names (`veth` + 8 lowercase
//!   hex digits) becomes `veth<N>`, N being the rank of its peer (namespace, interface)
//!   among all such peers, sorted; its peer's record, its `route_localnet` sysctl key and
//!   routes through it follow the new name.
//!
//! Chain names, rule texts, addresses, routes, sysctl values and IPAM stores are not
//! normalized: they derive from the allocation id, which both sides are given.

use std::collections::BTreeMap;

use nettwin_core::names::{IfName, Mac, NetnsName};
use nettwin_core::op::{ConfScope, SysctlKey};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::state::LinkKind;

/// Whether `name` has the form of the bridge plugin's `RandomVethName`.
pub fn is_random_veth_name(name: &str) -> bool {
    name.len() == 12
        && name.starts_with("veth")
        && name[4..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `snap` with the random parts replaced (see the module docs).
pub fn normalize(snap: &Snapshot) -> Snapshot {
    let mut out = snap.clone();
    // (namespace, old name) → new name, ranked by the peer.
    let mut peers: Vec<((NetnsName, IfName), (NetnsName, IfName))> = Vec::new();
    for (ns, n) in &snap.namespaces {
        for (name, link) in &n.links {
            if let LinkKind::Veth { peer_netns, peer } = &link.kind
                && is_random_veth_name(name.as_str())
            {
                peers.push(((peer_netns.clone(), peer.clone()), (ns.clone(), name.clone())));
            }
        }
    }
    peers.sort();
    let mut renames: BTreeMap<(NetnsName, IfName), IfName> = BTreeMap::new();
    for (rank, (_, at)) in peers.into_iter().enumerate() {
        let Ok(new) = IfName::new(&format!("veth{rank}")) else { continue };
        renames.insert(at, new);
    }
    for (ns, n) in &mut out.namespaces {
        let links = std::mem::take(&mut n.links);
        for (name, mut link) in links {
            link.mac = Mac([0; 6]);
            if let LinkKind::Veth { peer_netns, peer } = &mut link.kind
                && let Some(new) = renames.get(&(peer_netns.clone(), peer.clone()))
            {
                *peer = new.clone();
            }
            let name = renames.get(&(ns.clone(), name.clone())).cloned().unwrap_or(name);
            n.links.insert(name, link);
        }
        for route in &mut n.routes {
            if let Some(new) = renames.get(&(ns.clone(), route.dev.clone())) {
                route.dev = new.clone();
            }
        }
        n.routes.sort();
        let sysctls = std::mem::take(&mut n.sysctls);
        for (key, value) in sysctls {
            // A device's own settings follow its new name.
            let renamed = match SysctlKey::parse(&key) {
                Some(SysctlKey::Conf(ConfScope::Dev(dev), knob)) => renames
                    .get(&(ns.clone(), dev))
                    .map(|new| SysctlKey::Conf(ConfScope::Dev(new.clone()), knob).name()),
                _ => None,
            };
            n.sysctls.insert(renamed.unwrap_or(key), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nettwin_core::op::Op;
    use nettwin_core::state::State;

    fn state(ops: &[&str]) -> State {
        let mut s = State::new();
        for op in ops {
            s.apply(&op.parse::<Op>().expect("op")).expect("applies");
        }
        s
    }

    #[test]
    fn random_veth_names_and_macs_normalize_to_the_same_snapshot() {
        let common =
            ["ip netns add host", "ip netns add a1", "ip -n host link add nomad type bridge"];
        let with = |veth: &str, mac: &str| {
            let mut ops: Vec<String> = common.iter().map(|s| (*s).to_owned()).collect();
            ops.push(format!(
                "ip -n a1 link add eth0 address {mac} type veth peer name {veth} netns host"
            ));
            ops.push(format!("ip -n host link set {veth} master nomad"));
            ops.push("ip netns exec host sysctl -w net.ipv4.conf.nomad.route_localnet=1".into());
            let refs: Vec<&str> = ops.iter().map(String::as_str).collect();
            Snapshot::of(&state(&refs))
        };
        let a = with("veth1a2b3c4d", "02:00:00:00:00:01");
        let b = with("vethdeadbeef", "02:00:00:00:00:02");
        assert_ne!(a, b);
        let (na, nb) = (normalize(&a), normalize(&b));
        assert_eq!(na.diff(&nb), Vec::<String>::new());
        let host = &na.namespaces["host"];
        assert!(host.links.contains_key("veth0"));
        assert!(host.sysctls.contains_key("net.ipv4.conf.veth0.route_localnet"));
        let eth0 = &na.namespaces["a1"].links["eth0"];
        assert_eq!(
            eth0.kind,
            LinkKind::Veth {
                peer_netns: NetnsName::new("host").expect("ns"),
                peer: IfName::new("veth0").expect("if")
            }
        );
    }

    #[test]
    fn other_names_are_kept() {
        assert!(is_random_veth_name("veth0a1b2c3d"));
        assert!(!is_random_veth_name("vethpinned01"));
        assert!(!is_random_veth_name("eth0"));
        let s = Snapshot::of(&state(&[
            "ip netns add h",
            "ip netns add w",
            "ip -n h link add eth0 type veth peer name up0 netns w",
        ]));
        let n = normalize(&s);
        assert!(n.namespaces["h"].links.contains_key("eth0"));
        assert!(n.namespaces["w"].links.contains_key("up0"));
    }
}
