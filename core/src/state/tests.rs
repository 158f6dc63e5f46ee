//! State transitions: the per-op case table (`crate::cases`, shared with the linux
//! backend's tests) on the model, and the details of each transition.

use super::*;
use crate::cases::{HOST, op_cases};
use crate::op::text::parse_op;

fn op(text: &str) -> Op {
    parse_op(text).unwrap_or_else(|e| panic!("test op {text:?} does not parse: {e}"))
}

fn state_after(ops: &[&str]) -> State {
    let mut s = State::new();
    for t in ops {
        if let Err(e) = s.apply(&op(t)) {
            panic!("setup op {t:?} failed: {e}");
        }
    }
    s
}

fn link<'a>(s: &'a State, ns: &str, name: &str) -> &'a Link {
    s.netns(ns).and_then(|n| n.link(name)).unwrap_or_else(|| panic!("{ns}/{name} missing"))
}

fn route_texts(s: &State, ns: &str) -> Vec<String> {
    s.netns(ns)
        .map(|n| {
            n.routes_sorted()
                .iter()
                .map(|r| {
                    let spec = crate::op::RouteSpec {
                        src: r.src,
                        ..crate::op::RouteSpec::new(r.dst, r.via, Some(r.dev.clone()))
                    };
                    format!("{spec} {:?}", r.proto)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_host_fixture_builds_the_expected_world() {
    let s = state_after(HOST);
    let veth = link(&s, "host", "veth1");
    assert_eq!(veth.master.as_ref().map(IfName::as_str), Some("nomad"));
    assert!(
        matches!(&veth.kind, LinkKind::Veth { peer_netns, peer } if peer_netns.as_str() == "a1" && peer.as_str() == "eth0")
    );
    assert_eq!(
        route_texts(&s, "a1"),
        vec![
            "default via 172.26.64.1 dev eth0 Static",
            "172.26.64.0/20 dev eth0 src 172.26.64.2 Kernel"
        ]
    );
    assert_eq!(
        route_texts(&s, "host"),
        vec![
            "172.26.64.0/20 dev nomad src 172.26.64.1 Kernel",
            "192.0.2.0/24 dev eth0 src 192.0.2.10 Kernel"
        ]
    );
}

#[test]
fn every_op_case_has_the_kernels_answer_on_the_model_and_a_refusal_changes_nothing() {
    let mut failures = Vec::new();
    for c in op_cases() {
        let mut s = state_after(&c.setup);
        let (before, generation) = (s.clone(), s.generation());
        match (s.apply(&op(c.op)), c.refused) {
            (Err(e), Some(kind)) if e.kind == kind => {
                if s != before {
                    failures
                        .push(format!("{}: `{}` changed the state although refused", c.name, c.op));
                }
            }
            (Ok(_), None) => {
                if s.generation() <= generation {
                    failures.push(format!("{}: `{}` did not count as a change", c.name, c.op));
                }
            }
            (got, want) => {
                failures.push(format!("{}: `{}` gave {got:?}, the kernel {want:?}", c.name, c.op))
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_new_namespace_has_lo_down_and_forwarding_off() {
    let s = state_after(&["ip netns add n"]);
    let ns = s.netns("n").expect("exists");
    let lo = link(&s, "n", "lo");
    assert!(!lo.up && lo.addrs.is_empty() && lo.mtu == LOOPBACK_MTU);
    assert!(!ns.ip_forward() && ns.bridge_nf_call_iptables);
    assert_eq!(ns.links.len(), 1);
}

#[test]
fn bringing_lo_up_gives_it_127_0_0_1_but_no_main_route() {
    let s = state_after(&["ip netns add n", "ip -n n link set lo up"]);
    assert_eq!(link(&s, "n", "lo").addrs, vec!["127.0.0.1/8".parse().expect("valid")]);
    assert!(route_texts(&s, "n").is_empty());
    assert!(s.netns("n").is_some_and(|n| n.is_local("127.0.0.53".parse().expect("ip"))));
}

#[test]
fn connected_route_needs_the_link_up_and_goes_when_it_goes_down() {
    let mut s = state_after(&[
        "ip netns add n",
        "ip -n n link add v type veth peer name w",
        "ip -n n addr add 10.0.0.1/24 dev v",
    ]);
    assert!(route_texts(&s, "n").is_empty());
    s.apply(&op("ip -n n link set v up")).expect("up");
    s.apply(&op("ip -n n route add 10.9.0.0/16 via 10.0.0.254")).expect("route");
    assert_eq!(route_texts(&s, "n").len(), 2);
    s.apply(&op("ip -n n link set v down")).expect("down");
    assert!(route_texts(&s, "n").is_empty(), "down flushes connected and static routes");
}

#[test]
fn deleting_the_last_address_flushes_routes_through_the_device() {
    let mut s = state_after(HOST);
    s.apply(&op("ip -n a1 addr del 172.26.64.2/20 dev eth0")).expect("del");
    assert!(route_texts(&s, "a1").is_empty());
}

#[test]
fn deleting_a_primary_takes_its_secondaries() {
    let mut s = state_after(HOST);
    s.apply(&op("ip -n a1 addr add 172.26.64.9/20 dev eth0")).expect("secondary");
    s.apply(&op("ip -n a1 addr add 10.1.0.1/16 dev eth0")).expect("other subnet");
    s.apply(&op("ip -n a1 route add 10.9.0.0/16 dev eth0 src 172.26.64.9")).expect("prefsrc");
    s.apply(&op("ip -n a1 addr del 172.26.64.2/20 dev eth0")).expect("del primary");
    assert_eq!(link(&s, "a1", "eth0").addrs, vec!["10.1.0.1/16".parse().expect("valid")]);
    // Checked on Linux 6.18: the gateway route stays although its gateway is no longer on
    // a connected network; the route whose preferred source went away goes.
    assert_eq!(
        route_texts(&s, "a1"),
        vec!["default via 172.26.64.1 dev eth0 Static", "10.1.0.0/16 dev eth0 src 10.1.0.1 Kernel"]
    );
}

#[test]
fn deleting_a_secondary_keeps_the_connected_route() {
    let mut s = state_after(HOST);
    s.apply(&op("ip -n a1 addr add 172.26.64.9/20 dev eth0")).expect("secondary");
    s.apply(&op("ip -n a1 addr del 172.26.64.9/20 dev eth0")).expect("del secondary");
    assert_eq!(route_texts(&s, "a1").len(), 2);
}

#[test]
fn deleting_a_veth_deletes_its_peer_in_the_other_namespace() {
    let mut s = state_after(HOST);
    s.apply(&op("ip -n host link del veth1")).expect("del");
    assert!(s.netns("a1").is_some_and(|n| n.link("eth0").is_none()));
    assert!(route_texts(&s, "a1").is_empty());
}

#[test]
fn deleting_a_namespace_deletes_veth_peers_elsewhere() {
    let mut s = state_after(HOST);
    s.apply(&op("ip netns del a1")).expect("del");
    assert!(s.netns("host").is_some_and(|n| n.link("veth1").is_none()));
    assert!(s.netns("a1").is_none());
}

#[test]
fn deleting_a_bridge_releases_its_ports() {
    let mut s = state_after(HOST);
    s.apply(&op("ip -n host link set veth1 type bridge_slave hairpin on")).expect("hairpin");
    s.apply(&op("ip -n host link del nomad")).expect("del");
    let v = link(&s, "host", "veth1");
    assert!(v.master.is_none() && !v.hairpin);
}

#[test]
fn moving_a_veth_end_clears_it_and_repoints_the_peer() {
    let mut s = state_after(&[HOST, &["ip netns add a2"]].concat());
    s.apply(&op("ip -n a1 link set eth0 netns a2")).expect("move");
    let moved = link(&s, "a2", "eth0");
    assert!(!moved.up && moved.addrs.is_empty());
    assert!(route_texts(&s, "a1").is_empty());
    let peer = link(&s, "host", "veth1");
    assert!(matches!(&peer.kind, LinkKind::Veth { peer_netns, .. } if peer_netns.as_str() == "a2"));
}

#[test]
fn a_bridge_takes_the_smallest_port_mtu_until_set_by_hand() {
    let mut s = state_after(HOST);
    s.apply(&op("ip -n host link set veth1 mtu 1400")).expect("mtu");
    assert_eq!(link(&s, "host", "nomad").mtu, 1400);
    s.apply(&op("ip -n host link set veth1 nomaster")).expect("nomaster");
    assert_eq!(link(&s, "host", "nomad").mtu, ETH_MTU);
    s.apply(&op("ip -n host link set nomad mtu 9000")).expect("set by hand");
    s.apply(&op("ip -n host link set veth1 master nomad")).expect("enslave");
    assert_eq!(link(&s, "host", "nomad").mtu, 9000);
}

#[test]
fn leaving_a_bridge_resets_hairpin() {
    let mut s = state_after(HOST);
    s.apply(&op("ip -n host link set veth1 type bridge_slave hairpin on")).expect("hairpin");
    assert!(link(&s, "host", "veth1").hairpin);
    s.apply(&op("ip -n host link set veth1 nomaster")).expect("nomaster");
    assert!(!link(&s, "host", "veth1").hairpin);
}

#[test]
fn gateway_resolves_to_the_device_of_the_connected_route() {
    let s = state_after(HOST);
    let r = s.netns("a1").and_then(|n| n.lookup("8.8.8.8".parse().expect("ip"))).expect("route");
    assert_eq!(
        (r.dev.as_str(), r.via.map(|v| v.to_string())),
        ("eth0", Some("172.26.64.1".into()))
    );
}

#[test]
fn longest_prefix_wins() {
    let mut s = state_after(HOST);
    s.apply(&op("ip -n a1 route add 172.26.64.128/25 dev eth0")).expect("route");
    let ns = s.netns("a1").expect("ns");
    let r = ns.lookup("172.26.64.200".parse().expect("ip")).expect("route");
    assert_eq!(r.dst.to_string(), "172.26.64.128/25");
    let r = ns.lookup("172.26.64.3".parse().expect("ip")).expect("route");
    assert_eq!(r.dst.to_string(), "172.26.64.0/20");
}

#[test]
fn derived_macs_are_used_when_none_is_given() {
    let s = state_after(HOST);
    assert_eq!(link(&s, "host", "nomad").mac, Mac::derive(&["host", "nomad"]));
    assert_eq!(link(&s, "a1", "eth0").mac, Mac::derive(&["a1", "eth0"]));
}

#[test]
fn ipam_allocates_like_host_local_and_releases_idempotently() {
    let mut s = State::new();
    let alloc = |s: &mut State, id: &str| {
        s.apply(&op(&format!(
            "ipam allocate nomad 172.26.64.0/20 gateway 172.26.64.1 id {id} ifname eth0"
        )))
    };
    assert_eq!(alloc(&mut s, "a"), Ok(Effect::Allocated("172.26.64.2/20".parse().expect("ip"))));
    assert_eq!(alloc(&mut s, "b"), Ok(Effect::Allocated("172.26.64.3/20".parse().expect("ip"))));
    assert_eq!(alloc(&mut s, "a").map_err(|e| e.kind), Err(ErrorKind::AlreadyExists));
    s.apply(&op("ipam release nomad id a ifname eth0")).expect("release");
    s.apply(&op("ipam release nomad id a ifname eth0")).expect("release twice");
    // Round robin: the released .2 is not reused before the range wraps.
    assert_eq!(alloc(&mut s, "c"), Ok(Effect::Allocated("172.26.64.4/20".parse().expect("ip"))));
}

#[test]
fn ipam_exhaustion_is_pool_exhausted_with_host_locals_text() {
    let mut s = State::new();
    let alloc = |s: &mut State, id: &str| {
        s.apply(&op(&format!("ipam allocate tiny 10.0.0.0/30 id {id} ifname eth0")))
    };
    alloc(&mut s, "a").expect("the one address of a /30 after the gateway");
    let before = s.clone();
    let err = alloc(&mut s, "b").expect_err("exhausted");
    assert_eq!(err.kind, ErrorKind::PoolExhausted);
    assert!(
        err.to_string().contains("no IP addresses available in range set: 10.0.0.1-10.0.0.2"),
        "{err}"
    );
    assert_eq!(s, before);
}

#[test]
fn lo_takes_any_mtu_and_below_68_loses_its_ipv4_configuration() {
    let mut s = state_after(&[
        "ip netns add n",
        "ip -n n link set lo up",
        "ip -n n addr add 10.0.0.1/24 dev lo",
        "ip -n n link add v type veth peer name w",
        "ip -n n link set v up",
        "ip -n n route add 10.3.0.0/24 dev lo",
        "ip -n n route add 10.4.0.0/24 dev v",
        "ip -n n link set lo mtu 67",
    ]);
    let lo = link(&s, "n", "lo");
    assert!(!lo.ipv4 && lo.addrs.is_empty() && lo.mtu == 67);
    assert_eq!(route_texts(&s, "n"), vec!["10.4.0.0/24 dev v Static"]);
    assert!(!s.netns("n").is_some_and(|n| n.is_local("10.0.0.2".parse().expect("ip"))));
    let refused = |s: &mut State, text: &str| s.apply(&op(text)).map(|_| ()).map_err(|e| e.kind);
    assert_eq!(
        refused(&mut s, "ip -n n addr add 10.0.0.1/24 dev lo"),
        Err(ErrorKind::NoBufferSpace)
    );
    assert_eq!(refused(&mut s, "ip -n n route add 10.5.0.0/24 dev lo"), Err(ErrorKind::NotFound));
    let sysctl = "ip netns exec n sysctl -w net.ipv4.conf.lo.route_localnet=1";
    assert_eq!(refused(&mut s, sysctl), Err(ErrorKind::NotFound));
    // 68 or more brings back an empty configuration; 127.0.0.1 comes with the next up.
    assert_eq!(refused(&mut s, "ip -n n link set lo mtu 100"), Ok(()));
    assert!(link(&s, "n", "lo").ipv4 && link(&s, "n", "lo").addrs.is_empty());
    assert_eq!(refused(&mut s, "ip -n n link set lo down"), Ok(()));
    assert_eq!(refused(&mut s, "ip -n n link set lo up"), Ok(()));
    assert_eq!(link(&s, "n", "lo").addrs, vec!["127.0.0.1/8".parse().expect("valid")]);
}

#[test]
fn lo_answers_for_its_networks_only_once_it_was_up_with_them() {
    let mut s = state_after(&["ip netns add n", "ip -n n addr add 10.0.0.2/16 dev lo"]);
    let local =
        |s: &State, ip: &str| s.netns("n").is_some_and(|n| n.is_local(ip.parse().expect("ip")));
    assert!(local(&s, "10.0.0.2") && !local(&s, "10.0.0.1"));
    s.apply(&op("ip -n n link set lo up")).expect("up");
    assert!(local(&s, "10.0.0.1") && local(&s, "127.0.0.9"));
    s.apply(&op("ip -n n link set lo down")).expect("down");
    assert!(local(&s, "10.0.0.1"), "the kernel keeps lo's prefix routes when it goes down");
    s.apply(&op("ip -n n addr del 10.0.0.2/16 dev lo")).expect("del");
    assert!(!local(&s, "10.0.0.1"));
}

#[test]
fn a_gateway_that_is_a_local_address_routes_through_its_link() {
    let mut s = state_after(&[
        "ip netns add n",
        "ip -n n link add v type veth peer name w",
        "ip -n n addr add 10.1.0.1/24 dev v",
    ]);
    let r = s.apply(&op("ip -n n route add 10.5.0.0/24 via 10.1.0.1")).map_err(|e| e.kind);
    assert_eq!(r, Err(ErrorKind::LinkDown), "v is down");
    s.apply(&op("ip -n n link set v up")).expect("up");
    s.apply(&op("ip -n n route add 10.5.0.0/24 via 10.1.0.1")).expect("accepted");
    assert!(route_texts(&s, "n").contains(&"10.5.0.0/24 via 10.1.0.1 dev v Static".to_owned()));
}
