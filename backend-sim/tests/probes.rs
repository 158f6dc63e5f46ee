//! Probe cases on the seed's Nomad host: outcome, receiving namespace and seen source of
//! each, and an insta snapshot of each trace's text (review them: they are what users read).
//!
//! Kernel facts these cases pin were checked on Linux 6.18 in throwaway namespaces built
//! like this fixture (see the comment on each case).

mod support;

use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::backend::Backend;
use nettwin_core::trace::{Probe, Trace, render};
use nettwin_sim::SimBackend;
use rstest::rstest;

/// Changes to the seed host that some cases need.
#[derive(Clone, Copy, Debug)]
enum Variant {
    /// The seed as Nomad builds it.
    Seed,
    /// Hairpin mode on a5's bridge port.
    HairpinOn,
    /// route_localnet off on the bridge.
    NoLocalnet,
    /// No bridge netfilter (`bridge-nf-call-iptables` = 0).
    NoBridgeNf,
    /// An admin lockdown: FORWARD policy DROP and an empty NOMAD-ADMIN.
    ForwardDrop,
    /// A REJECT rule in front of a6's web port.
    RejectA6Web,
}

fn host(variant: Variant) -> SimBackend {
    let allocs = support::seed_allocs();
    let mut ops = support::host_ops(&allocs);
    ops.push(support::op("ip netns exec a5 listen udp 0.0.0.0:80"));
    let a5_veth = allocs[0].veth();
    let extra: Vec<String> = match variant {
        Variant::Seed => vec![],
        Variant::HairpinOn => {
            vec![format!("ip -n host link set {a5_veth} type bridge_slave hairpin on")]
        }
        Variant::NoLocalnet => {
            vec!["ip netns exec host sysctl -w net.ipv4.conf.nomad.route_localnet=0".into()]
        }
        Variant::NoBridgeNf => {
            vec!["ip netns exec host sysctl -w net.bridge.bridge-nf-call-iptables=0".into()]
        }
        Variant::ForwardDrop => vec![
            "ip netns exec host iptables -P FORWARD DROP".into(),
            "ip netns exec host iptables -F NOMAD-ADMIN".into(),
        ],
        Variant::RejectA6Web => vec![
            "ip netns exec host iptables -I FORWARD 1 -d 172.26.64.6/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with tcp-reset".into(),
        ],
    };
    ops.extend(extra.iter().map(|t| support::op(t)));
    let mut sim = SimBackend::new();
    for op in &ops {
        if let Err(e) = sim.apply(op) {
            panic!("fixture op `{op}` failed: {e}");
        }
    }
    sim
}

fn probe(name: &str, from: &str, to: &str, proto: Proto) -> Probe {
    let dst: Endpoint = if proto == Proto::Icmp {
        Endpoint::new(to.parse().unwrap_or_else(|e| panic!("{to}: {e}")), 0)
    } else {
        to.parse().unwrap_or_else(|e| panic!("{to}: {e}"))
    };
    Probe {
        name: name.to_owned(),
        from: from.parse().unwrap_or_else(|e| panic!("{from}: {e}")),
        src: None,
        sport: None,
        dst,
        proto,
    }
}

fn run(variant: Variant, p: &Probe) -> Trace {
    host(variant).probe(p).unwrap_or_else(|e| panic!("probe failed: {e}"))
}

#[rstest]
// Checked on Linux 6.18: the world's connect to 192.0.2.10:8080 is accepted by a5, whose
// listener sees the world's own address.
#[case::world_reaches_a5_through_mapped_host_port(
    Variant::Seed,
    "world",
    "192.0.2.10:8080",
    Proto::Tcp,
    "delivered",
    Some("a5"),
    Some("192.0.2.1:40000")
)]
#[case::world_reaches_a5_through_mapped_udp_port(
    Variant::Seed,
    "world",
    "192.0.2.10:8080",
    Proto::Udp,
    "delivered",
    Some("a5"),
    Some("192.0.2.1:40000")
)]
#[case::world_reaches_a6_redis_port(
    Variant::Seed,
    "world",
    "192.0.2.10:25001",
    Proto::Tcp,
    "delivered",
    Some("a6"),
    Some("192.0.2.1:40000")
)]
// Checked on Linux 6.18: ECONNREFUSED (the host answers RST: nothing listens on :80).
#[case::world_hits_unmapped_container_port_refused(
    Variant::Seed,
    "world",
    "192.0.2.10:80",
    Proto::Tcp,
    "refused",
    None,
    None
)]
#[case::world_udp_to_mapped_port_without_listener_refused(
    Variant::Seed,
    "world",
    "192.0.2.10:25000",
    Proto::Udp,
    "refused",
    None,
    None
)]
#[case::a5_reaches_a6_over_bridge(
    Variant::Seed,
    "a5",
    "172.26.64.6:80",
    Proto::Tcp,
    "delivered",
    Some("a6"),
    Some("172.26.64.5:40000")
)]
// Checked on Linux 6.18: the world's listener sees 192.0.2.10.
#[case::a5_reaches_world_masqueraded(
    Variant::Seed,
    "a5",
    "192.0.2.1:9000",
    Proto::Tcp,
    "delivered",
    Some("world"),
    Some("192.0.2.10:40000")
)]
// Checked on Linux 6.18: a6 sees 172.26.64.1 (SETMARK for the subnet, then MASQUERADE).
#[case::a5_reaches_a6_host_port_via_host_address(
    Variant::Seed,
    "a5",
    "192.0.2.10:8081",
    Proto::Tcp,
    "delivered",
    Some("a6"),
    Some("172.26.64.1:40000")
)]
#[case::a5_reaches_a6_host_port_via_gateway(
    Variant::Seed,
    "a5",
    "172.26.64.1:8081",
    Proto::Tcp,
    "delivered",
    Some("a6"),
    Some("172.26.64.1:40000")
)]
// Checked on Linux 6.18: connect times out with hairpin off, succeeds with it on (seen
// from 172.26.64.1), and succeeds with hairpin off when bridge-nf-call-iptables=0 (the
// DNAT then happens in the host's stack, which sends out of the bridge device).
#[case::a5_own_host_port_hairpin_off_times_out(
    Variant::Seed,
    "a5",
    "192.0.2.10:8080",
    Proto::Tcp,
    "timed-out",
    None,
    None
)]
#[case::a5_own_host_port_hairpin_on_delivered(
    Variant::HairpinOn,
    "a5",
    "192.0.2.10:8080",
    Proto::Tcp,
    "delivered",
    Some("a5"),
    Some("172.26.64.1:40000")
)]
#[case::a5_own_host_port_without_bridge_nf_delivered(
    Variant::NoBridgeNf,
    "a5",
    "192.0.2.10:8080",
    Proto::Tcp,
    "delivered",
    Some("a5"),
    Some("172.26.64.1:40000")
)]
// Checked on Linux 6.18: accepted from 172.26.64.1 with route_localnet=1 on nomad; with
// route_localnet=0 the connect times out (the re-route after DNAT fails, the SYN is dropped).
#[case::host_reaches_mapped_port_on_localhost(
    Variant::Seed,
    "host",
    "127.0.0.1:8080",
    Proto::Tcp,
    "delivered",
    Some("a5"),
    Some("172.26.64.1:40000")
)]
#[case::host_localhost_without_route_localnet_times_out(
    Variant::NoLocalnet,
    "host",
    "127.0.0.1:8080",
    Proto::Tcp,
    "timed-out",
    None,
    None
)]
#[case::forward_policy_drop_stops_the_world(
    Variant::ForwardDrop,
    "world",
    "192.0.2.10:8080",
    Proto::Tcp,
    "dropped",
    None,
    None
)]
// Checked on Linux 6.18: every --reject-with kind fails connect (ECONNREFUSED for
// tcp-reset and port-unreachable, ENETUNREACH, EHOSTUNREACH for the others).
#[case::reject_rule_refuses_the_world(
    Variant::RejectA6Web,
    "world",
    "192.0.2.10:8081",
    Proto::Tcp,
    "refused",
    None,
    None
)]
// Checked on Linux 6.18: a router without a route answers ICMP net unreachable; a TCP
// sender's connect fails with ENETUNREACH.
#[case::a5_to_unrouted_address_no_route(
    Variant::Seed,
    "a5",
    "198.51.100.7:80",
    Proto::Tcp,
    "no-route",
    None,
    None
)]
#[case::a5_to_unused_bridge_address_no_neighbor(
    Variant::Seed,
    "a5",
    "172.26.64.9:80",
    Proto::Tcp,
    "timed-out",
    None,
    None
)]
#[case::world_pings_the_host(
    Variant::Seed,
    "world",
    "192.0.2.10",
    Proto::Icmp,
    "delivered",
    Some("host"),
    Some("192.0.2.1:0")
)]
#[case::world_has_no_route_to_the_bridge_network(
    Variant::Seed,
    "world",
    "172.26.64.5",
    Proto::Icmp,
    "no-route",
    None,
    None
)]
fn probe_on_nomad_host(
    #[case] variant: Variant,
    #[case] from: &str,
    #[case] to: &str,
    #[case] proto: Proto,
    #[case] outcome: &str,
    #[case] at: Option<&str>,
    #[case] seen: Option<&str>,
) {
    let label = case_name();
    let trace = run(variant, &probe(&label, from, to, proto));
    let text = render::text(&trace);
    assert_eq!(trace.outcome.kind(), outcome, "{text}");
    assert_eq!(trace.outcome.delivered_to().map(|n| n.as_str()), at, "{text}");
    assert_eq!(trace.outcome.seen_src().map(|e| e.to_string()).as_deref(), seen, "{text}");
    insta::assert_snapshot!(label, text);
}

/// The rstest case's description (`case_07_a5_reaches_world` → `a5_reaches_world`), from
/// the test thread's name.
fn case_name() -> String {
    let thread = std::thread::current();
    let full = thread.name().unwrap_or_default();
    let last = full.rsplit("::").next().unwrap_or_default();
    match last.splitn(3, '_').nth(2) {
        Some(label) if last.starts_with("case_") => label.to_owned(),
        _ => panic!("cannot name the snapshot of test thread {full:?}"),
    }
}

#[test]
fn same_probe_twice_gives_byte_identical_text_and_json() {
    let p = probe("determinism", "world", "192.0.2.10:8080", Proto::Tcp);
    let mut p2 = p.clone();
    p2.sport = Some(40000);
    let (a, b) = (run(Variant::Seed, &p), run(Variant::Seed, &p2));
    assert_eq!(render::text(&a), render::text(&b));
    assert_eq!(render::json_text(&a), render::json_text(&b));
    let mut sim = host(Variant::HairpinOn);
    let c = sim.probe(&p2).unwrap_or_else(|e| panic!("{e}"));
    let d = sim.probe(&p2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(render::json_text(&c), render::json_text(&d));
}

#[test]
fn json_has_the_stable_fields() {
    let t = run(Variant::Seed, &probe("json", "world", "192.0.2.10:8080", Proto::Tcp));
    let v = render::json(&t);
    for key in ["name", "outcome", "delivered_to", "seen_src", "hops", "reply", "summary", "flow"] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["outcome"], "delivered");
    assert_eq!(v["delivered_to"], "a5");
    assert_eq!(v["seen_src"], "192.0.2.1:40000");
    insta::assert_snapshot!("json_world_reaches_a5", render::json_text(&t));
}

#[test]
fn unpinned_probes_count_default_source_ports() {
    let mut sim = host(Variant::Seed);
    let p = probe("ports", "world", "192.0.2.10:8080", Proto::Tcp);
    let ports: Vec<u16> = (0..3)
        .map(|_| sim.probe(&p).map(|t| t.flow.src.port).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(ports, vec![40000, 40001, 40002]);
    let mut pinned = p.clone();
    pinned.sport = Some(5555);
    assert_eq!(sim.probe(&pinned).map(|t| t.flow.src.port).ok(), Some(5555));
    assert_eq!(sim.probe(&p).map(|t| t.flow.src.port).ok(), Some(40003));
}
