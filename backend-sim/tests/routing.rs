//! Routing and L2 without firewall rules: longest prefix match, forwarding, TTL, carrier,
//! ARP, bridges and loopback. Kernel facts were checked on Linux 6.18 in throwaway
//! namespaces (see the comments).

mod support;

use nettwin_core::addr::Proto;
use nettwin_core::backend::Backend;
use nettwin_core::trace::{Dir, Outcome, Probe, Silence, Trace, render};
use nettwin_sim::SimBackend;

fn sim(ops: &[&str]) -> SimBackend {
    let mut s = SimBackend::new();
    for t in ops {
        if let Err(e) = s.apply(&support::op(t)) {
            panic!("setup op {t:?} failed: {e}");
        }
    }
    s
}

fn probe(s: &mut SimBackend, from: &str, to: &str, proto: Proto) -> Trace {
    let (ip, port) = to.split_once(':').unwrap_or((to, "0"));
    let p = Probe {
        name: String::new(),
        from: from.parse().unwrap_or_else(|e| panic!("{e}")),
        src: None,
        sport: None,
        dst: nettwin_core::addr::Endpoint::new(
            ip.parse().unwrap_or_else(|e| panic!("{e}")),
            port.parse().unwrap_or_else(|e| panic!("{e}")),
        ),
        proto,
    };
    s.probe(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// `a` between `b` (10.0.1.0/24) and `c` (10.0.2.0/24); b listens on tcp 80.
const TRIANGLE: &[&str] = &[
    "ip netns add a",
    "ip netns add b",
    "ip netns add c",
    "ip -n a link add ab type veth peer name ba netns b",
    "ip -n a link add ac type veth peer name ca netns c",
    "ip -n a addr add 10.0.1.1/24 dev ab",
    "ip -n a addr add 10.0.2.1/24 dev ac",
    "ip -n a link set ab up",
    "ip -n a link set ac up",
    "ip -n b addr add 10.0.1.2/24 dev ba",
    "ip -n b link set ba up",
    "ip -n c addr add 10.0.2.2/24 dev ca",
    "ip -n c link set ca up",
    "ip -n b link set lo up",
    "ip -n b addr add 198.51.100.7/32 dev lo",
    "ip -n b route add default via 10.0.1.1",
    "ip -n a route add 198.51.100.0/24 via 10.0.1.2",
    "ip -n a route add 198.51.100.128/25 via 10.0.2.2",
    "ip netns exec b listen tcp 0.0.0.0:80",
];

#[test]
fn routing_picks_the_longest_prefix_and_a_non_router_drops_what_is_not_its_own() {
    let mut s = sim(TRIANGLE);
    let t = probe(&mut s, "a", "198.51.100.7:80", Proto::Tcp);
    assert_eq!(t.outcome.delivered_to().map(|n| n.as_str()), Some("b"), "{}", render::text(&t));
    // The /25 wins for .200: c gets it, and c does not forward (ip_forward=0 in a new
    // namespace), so it is silently dropped.
    let t = probe(&mut s, "a", "198.51.100.200:80", Proto::Tcp);
    assert!(
        matches!(&t.outcome, Outcome::TimedOut { netns, why: Silence::NotForwarding } if netns.as_str() == "c"),
        "{}",
        render::text(&t)
    );
}

#[test]
fn delivered_tcp_has_a_syn_ack_reply_path_back_to_the_sender() {
    let mut s = sim(TRIANGLE);
    let t = probe(&mut s, "a", "10.0.1.2:80", Proto::Tcp);
    assert_eq!(t.outcome.seen_src().map(|e| e.to_string()).as_deref(), Some("10.0.1.1:40000"));
    let wire: Vec<(String, String, Dir)> = t
        .reply_wire_path()
        .into_iter()
        .map(|(n, d, dir)| (n.to_string(), d.to_string(), dir))
        .collect();
    assert_eq!(
        wire,
        [("b".into(), "ba".into(), Dir::Out), ("a".into(), "ab".into(), Dir::In)],
        "{}",
        render::text(&t)
    );
}

#[test]
fn a_closed_port_is_refused_with_a_reset_and_udp_with_port_unreachable() {
    let mut s = sim(TRIANGLE);
    let t = probe(&mut s, "a", "10.0.1.2:81", Proto::Tcp);
    assert_eq!(t.outcome.kind(), "refused");
    assert_eq!(t.reply.first().map(|h| h.packet.proto), Some(Proto::Tcp));
    let t = probe(&mut s, "a", "10.0.1.2:81", Proto::Udp);
    assert_eq!(t.outcome.kind(), "refused");
    assert_eq!(t.reply.first().map(|h| h.packet.proto), Some(Proto::Icmp));
    assert!(render::text(&t).ends_with("reply reached a\n"), "{}", render::text(&t));
}

#[test]
fn veth_whose_peer_is_down_has_no_carrier() {
    // Checked on Linux 6.18: the connected route stays (flagged linkdown), and connect
    // times out.
    let mut ops = TRIANGLE.to_vec();
    ops.push("ip -n b link set ba down");
    let mut s = sim(&ops);
    let t = probe(&mut s, "a", "10.0.1.2:80", Proto::Tcp);
    assert!(
        matches!(&t.outcome, Outcome::TimedOut { why: Silence::NoCarrier { dev }, .. } if dev.as_str() == "ab"),
        "{}",
        render::text(&t)
    );
}

#[test]
fn nobody_answering_arp_times_out() {
    let mut s = sim(TRIANGLE);
    let t = probe(&mut s, "a", "10.0.1.99:80", Proto::Tcp);
    assert!(
        matches!(&t.outcome, Outcome::TimedOut { why: Silence::NoNeighbor { .. }, .. }),
        "{}",
        render::text(&t)
    );
    assert!(t.reply.is_empty(), "the sender itself sends no ICMP to itself");
}

#[test]
fn no_route_at_the_sender_ends_before_any_packet() {
    let mut s = sim(TRIANGLE);
    let t = probe(&mut s, "c", "192.0.2.1:80", Proto::Tcp);
    assert!(matches!(&t.outcome, Outcome::NoRoute { netns, .. } if netns.as_str() == "c"));
    assert!(t.wire_path().is_empty());
}

#[test]
fn a_routing_loop_ends_when_the_ttl_runs_out() {
    // Checked on Linux 6.18: two forwarding namespaces routing 203.0.113.0/24 at each
    // other; a TCP connect through them times out (ICMP time exceeded is a soft error).
    let mut ops = TRIANGLE.to_vec();
    ops.extend([
        "ip netns exec a sysctl -w net.ipv4.ip_forward=1",
        "ip netns exec b sysctl -w net.ipv4.ip_forward=1",
        "ip -n a route add 203.0.113.0/24 via 10.0.1.2",
        "ip -n b route add 203.0.113.0/24 via 10.0.1.1",
        "ip -n c route add default via 10.0.2.1",
    ]);
    let mut s = sim(&ops);
    let t = probe(&mut s, "c", "203.0.113.1:80", Proto::Tcp);
    assert!(
        matches!(&t.outcome, Outcome::TimedOut { why: Silence::TtlExceeded, .. }),
        "{}",
        render::text(&t)
    );
    // Sent with TTL 64: 63 forwards, each one more crossing (two wire hops).
    assert_eq!(t.wire_path().len(), 2 * 64);
    assert_eq!(t.reply_wire_path().last().map(|(n, _, _)| n.as_str()), Some("c"));
}

#[test]
fn a_packet_coming_back_to_its_sender_is_a_martian() {
    // The same loop seen from a: its own packet returns with its own source address,
    // which ip_route_input refuses (martian source) before any TTL runs out. Checked on
    // Linux 6.18 with ip_forward=1 in both: b forwards the datagram once (Ip
    // ForwDatagrams 1), a never forwards it (0). (With a's forwarding off, the kernel
    // drops it for that before it validates the source.)
    let mut ops = TRIANGLE.to_vec();
    ops.extend([
        "ip netns exec a sysctl -w net.ipv4.ip_forward=1",
        "ip netns exec b sysctl -w net.ipv4.ip_forward=1",
        "ip -n a route add 203.0.113.0/24 via 10.0.1.2",
        "ip -n b route add 203.0.113.0/24 via 10.0.1.1",
    ]);
    let mut s = sim(&ops);
    let t = probe(&mut s, "a", "203.0.113.1:80", Proto::Tcp);
    assert!(
        matches!(&t.outcome, Outcome::TimedOut { netns, why: Silence::Martian } if netns.as_str() == "a"),
        "{}",
        render::text(&t)
    );
}

#[test]
fn loopback_delivers_to_a_socket_bound_on_127_0_0_1() {
    let mut ops = TRIANGLE.to_vec();
    ops.push("ip netns exec b listen tcp 127.0.0.1:5000");
    let mut s = sim(&ops);
    let t = probe(&mut s, "b", "127.0.0.1:5000", Proto::Tcp);
    assert_eq!(t.outcome.seen_src().map(|e| e.to_string()).as_deref(), Some("127.0.0.1:40000"));
    let devices: Vec<String> = t.wire_path().iter().map(|(_, d, _)| d.to_string()).collect();
    assert_eq!(devices, ["lo", "lo"]);
    // lo is down in c: 127.0.0.1 is not local there, and nothing routes it.
    let t = probe(&mut s, "c", "127.0.0.1:5000", Proto::Tcp);
    assert_eq!(t.outcome.kind(), "no-route", "{}", render::text(&t));
}

/// Two namespaces on a bridge in `br`.
const BRIDGED: &[&str] = &[
    "ip netns add br",
    "ip netns add x",
    "ip netns add y",
    "ip -n br link add b0 type bridge",
    "ip -n br link set b0 up",
    "ip -n br link add px type veth peer name eth0 netns x",
    "ip -n br link add py type veth peer name eth0 netns y",
    "ip -n br link set px master b0",
    "ip -n br link set py master b0",
    "ip -n br link set px up",
    "ip -n br link set py up",
    "ip -n x link set eth0 up",
    "ip -n y link set eth0 up",
    "ip -n x addr add 10.9.0.1/24 dev eth0",
    "ip -n y addr add 10.9.0.2/24 dev eth0",
    "ip netns exec y listen udp 0.0.0.0:53",
];

#[test]
fn bridge_forwards_between_ports_from_its_fdb() {
    let mut s = sim(BRIDGED);
    let t = probe(&mut s, "x", "10.9.0.2:53", Proto::Udp);
    assert_eq!(t.outcome.delivered_to().map(|n| n.as_str()), Some("y"));
    let wire: Vec<String> =
        t.wire_path().iter().map(|(n, d, dir)| format!("{n}/{d}/{dir:?}")).collect();
    assert_eq!(wire, ["x/eth0/Out", "br/px/In", "br/py/Out", "y/eth0/In"]);
    assert!(t.reply.is_empty(), "a UDP datagram gets no answer");
}

#[test]
fn bridge_that_is_down_answers_no_arp() {
    let mut ops = BRIDGED.to_vec();
    ops.push("ip -n br link set b0 down");
    let mut s = sim(&ops);
    let t = probe(&mut s, "x", "10.9.0.2:53", Proto::Udp);
    assert!(matches!(&t.outcome, Outcome::TimedOut { why: Silence::NoNeighbor { .. }, .. }));
}

#[test]
fn bridge_port_that_is_down_hides_what_is_behind_it() {
    let mut ops = BRIDGED.to_vec();
    ops.push("ip -n br link set py down");
    let mut s = sim(&ops);
    let t = probe(&mut s, "x", "10.9.0.2:53", Proto::Udp);
    assert!(matches!(&t.outcome, Outcome::TimedOut { why: Silence::NoNeighbor { .. }, .. }));
}

#[test]
fn icmp_echo_is_answered_by_any_owner_of_the_address() {
    let mut s = sim(BRIDGED);
    let t = probe(&mut s, "x", "10.9.0.2", Proto::Icmp);
    assert!(matches!(&t.outcome, Outcome::Delivered { socket: None, .. }));
    assert_eq!(t.reply_wire_path().len(), 4);
}

#[test]
fn probes_from_unknown_namespaces_or_foreign_sources_are_bad_probes() {
    let mut s = sim(BRIDGED);
    let mut p = Probe {
        name: String::new(),
        from: "nowhere".parse().unwrap_or_else(|e| panic!("{e}")),
        src: None,
        sport: None,
        dst: "10.9.0.2:53".parse().unwrap_or_else(|e| panic!("{e}")),
        proto: Proto::Udp,
    };
    assert!(s.probe(&p).is_err());
    p.from = "x".parse().unwrap_or_else(|e| panic!("{e}"));
    p.src = Some(std::net::Ipv4Addr::new(10, 9, 0, 2));
    assert!(s.probe(&p).is_err());
}
