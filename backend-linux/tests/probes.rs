//! Probes on the kernel: real traffic between sandbox namespaces, traced from captures and
//! rule counters.

mod common;

use common::{backend, op, probe};
use nettwin_core::backend::Backend;
use nettwin_core::cases::HOST;
use nettwin_core::iptables::Table;
use nettwin_core::trace::{Dir, DropCause, Outcome, Refusal, Silence, Step, Trace};
use nettwin_linux::LinuxBackend;

/// HOST plus: a listener in a1 on 7000/tcp published on the host's 192.0.2.10:7000, a
/// masquerade for the bridge subnet, a world listener, and a1 rules that drop and reject.
fn world() -> Option<LinuxBackend> {
    let mut b = backend()?;
    let mut ops: Vec<String> = HOST.iter().map(|s| (*s).to_owned()).collect();
    for extra in [
        "ip netns exec a1 listen tcp 0.0.0.0:7000",
        "ip netns exec a1 listen udp 0.0.0.0:53",
        "ip netns exec world listen tcp 0.0.0.0:80",
        "ip netns exec host iptables -t nat -A PREROUTING -d 192.0.2.10/32 -p tcp -m tcp --dport 7000 -j DNAT --to-destination 172.26.64.2:7000",
        "ip netns exec host iptables -t nat -A POSTROUTING -s 172.26.64.0/20 -o eth0 -j MASQUERADE",
        "ip netns exec a1 iptables -A INPUT -p tcp -m tcp --dport 82 -j DROP",
        "ip netns exec a1 iptables -A INPUT -p tcp -m tcp --dport 83 -j REJECT",
    ] {
        ops.push(extra.to_owned());
    }
    let ops: Vec<_> = ops.iter().map(|t| op(t)).collect();
    for (o, r) in ops.iter().zip(b.apply_all(&ops)) {
        assert!(r.is_ok(), "{o}: {r:?}");
    }
    Some(b)
}

fn wire(t: &Trace) -> Vec<String> {
    t.wire_path().iter().map(|(ns, dev, dir)| format!("{ns} {dev} {dir:?}")).collect()
}

fn counters(t: &Trace) -> Vec<String> {
    t.hops
        .iter()
        .filter_map(|h| match &h.step {
            Step::Counters { table, chain, rule, .. } => {
                Some(format!("{} {table}/{chain}#{rule:?}", h.netns))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_world_reaches_a_published_port_through_dnat() {
    let Some(mut b) = world() else { return };
    let t = b.probe(&probe("world", "192.0.2.10:7000", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    let Outcome::Delivered { netns, socket, seen_src } = &t.outcome else {
        panic!("{:?}", t.outcome)
    };
    assert_eq!(netns.as_str(), "a1");
    assert_eq!(socket.map(|s| s.at.to_string()), Some("0.0.0.0:7000".into()));
    assert_eq!(seen_src.to_string(), "192.0.2.1:40000");
    assert_eq!(
        wire(&t),
        ["world up0 Out", "host eth0 In", "host nomad Out", "host veth1 Out", "a1 eth0 In"]
    );
    // The rewrite shows: before DNAT on the host's eth0, after it on the bridge.
    assert_eq!(
        t.hops
            .iter()
            .find(|h| h.is_wire() && h.netns.as_str() == "host")
            .map(|h| h.packet.dst.to_string()),
        Some("192.0.2.10:7000".into())
    );
    assert_eq!(
        t.hops.iter().rev().find(|h| h.is_wire()).map(|h| h.packet.dst.to_string()),
        Some("172.26.64.2:7000".into())
    );
    assert_eq!(counters(&t), ["host nat/PREROUTING#Some(1)"]);
    let counter_at = t.hops.iter().position(|h| matches!(h.step, Step::Counters { .. }));
    assert_eq!(counter_at, Some(2), "between the host's in and out hops: {:#?}", t.hops);
    assert_eq!(
        t.reply_wire_path()
            .iter()
            .map(|(ns, dev, dir)| format!("{ns} {dev} {dir:?}"))
            .collect::<Vec<_>>(),
        ["a1 eth0 Out", "host veth1 In", "host nomad In", "host eth0 Out", "world up0 In"]
    );
}

#[test]
fn an_allocation_reaches_the_world_masqueraded() {
    let Some(mut b) = world() else { return };
    let t = b.probe(&probe("a1", "192.0.2.1:80", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.outcome.delivered_to().map(|n| n.as_str()), Some("world"));
    assert_eq!(t.outcome.seen_src().map(|e| e.ip.to_string()), Some("192.0.2.10".into()));
    assert_eq!(t.flow.src.to_string(), "172.26.64.2:40000");
    assert_eq!(
        wire(&t),
        ["a1 eth0 Out", "host veth1 In", "host nomad In", "host eth0 Out", "world up0 In"]
    );
    assert_eq!(counters(&t), ["host nat/POSTROUTING#Some(1)"]);
}

#[test]
fn a_drop_rule_is_named_by_its_counter() {
    let Some(mut b) = world() else { return };
    let t = b.probe(&probe("host", "172.26.64.2:82", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    let want = Outcome::Dropped {
        netns: "a1".parse().unwrap_or_else(|e| panic!("{e}")),
        by: DropCause::Rule { table: Table::Filter, chain: "INPUT".into(), rule: 1 },
    };
    assert_eq!(t.outcome, want);
    assert_eq!(wire(&t), ["host nomad Out", "host veth1 Out", "a1 eth0 In"]);
    assert!(t.reply.is_empty());
}

#[test]
fn a_drop_policy_is_named_by_its_counter() {
    let Some(mut b) = world() else { return };
    for o in [
        "ip netns exec host iptables -P FORWARD DROP",
        "ip -n world route add 172.26.64.0/20 via 192.0.2.10",
    ] {
        b.apply(&op(o)).unwrap_or_else(|e| panic!("{o}: {e}"));
    }
    let t = b.probe(&probe("world", "172.26.64.2:7000", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    let want = Outcome::Dropped {
        netns: "host".parse().unwrap_or_else(|e| panic!("{e}")),
        by: DropCause::Policy { table: Table::Filter, chain: "FORWARD".into() },
    };
    assert_eq!(t.outcome, want);
    assert_eq!(wire(&t), ["world up0 Out", "host eth0 In"]);
}

#[test]
fn a_reject_rule_refuses() {
    let Some(mut b) = world() else { return };
    let t = b.probe(&probe("host", "172.26.64.2:83", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    let want = Outcome::Refused {
        netns: "a1".parse().unwrap_or_else(|e| panic!("{e}")),
        by: Refusal::Reject { table: Table::Filter, chain: "INPUT".into(), rule: 2 },
    };
    assert_eq!(t.outcome, want);
    // The ICMP port unreachable comes back from a1.
    assert_eq!(t.reply.first().map(|h| (h.netns.as_str(), h.dir)), Some(("a1", Dir::Out)));
}

#[test]
fn a_closed_port_refuses_with_no_listener() {
    let Some(mut b) = world() else { return };
    for (proto, dst) in [("tcp", "172.26.64.2:9"), ("udp", "172.26.64.2:9")] {
        let t = b.probe(&probe("host", dst, proto)).unwrap_or_else(|e| panic!("{e}"));
        let want = Outcome::Refused {
            netns: "a1".parse().unwrap_or_else(|e| panic!("{e}")),
            by: Refusal::NoListener,
        };
        assert_eq!(t.outcome, want, "{proto}");
        assert_eq!(wire(&t), ["host nomad Out", "host veth1 Out", "a1 eth0 In"], "{proto}");
        assert_eq!(t.reply_wire_path().len(), 3, "{proto}: {:?}", t.reply);
    }
}

#[test]
fn udp_and_icmp_are_delivered() {
    let Some(mut b) = world() else { return };
    let t = b.probe(&probe("host", "172.26.64.2:53", "udp")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.outcome.delivered_to().map(|n| n.as_str()), Some("a1"));
    assert_eq!(t.outcome.seen_src().map(|e| e.to_string()), Some("172.26.64.1:40000".into()));
    let t = b.probe(&probe("world", "172.26.64.2:0", "icmp")).unwrap_or_else(|e| panic!("{e}"));
    // The world has no route to the bridge subnet.
    assert_eq!(
        t.outcome,
        Outcome::NoRoute {
            netns: "world".parse().unwrap_or_else(|e| panic!("{e}")),
            dst: "172.26.64.2".parse().unwrap_or_else(|e| panic!("{e}"))
        }
    );
    let t = b.probe(&probe("a1", "192.0.2.1:0", "icmp")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.outcome.delivered_to().map(|n| n.as_str()), Some("world"));
    assert_eq!(t.outcome.seen_src().map(|e| e.ip.to_string()), Some("192.0.2.10".into()));
}

#[test]
fn a_router_without_a_route_answers_net_unreachable() {
    let Some(mut b) = world() else { return };
    let t = b.probe(&probe("a1", "10.0.0.1:80", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    let want = Outcome::NoRoute {
        netns: "host".parse().unwrap_or_else(|e| panic!("{e}")),
        dst: "10.0.0.1".parse().unwrap_or_else(|e| panic!("{e}")),
    };
    assert_eq!(t.outcome, want);
    assert_eq!(wire(&t), ["a1 eth0 Out", "host veth1 In", "host nomad In"]);
}

#[test]
fn an_absent_neighbor_times_out() {
    let Some(mut b) = world() else { return };
    let t = b.probe(&probe("host", "172.26.64.77:80", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    let want = Outcome::TimedOut {
        netns: "host".parse().unwrap_or_else(|e| panic!("{e}")),
        why: Silence::NoNeighbor {
            ip: "172.26.64.77".parse().unwrap_or_else(|e| panic!("{e}")),
            dev: "nomad".parse().unwrap_or_else(|e| panic!("{e}")),
        },
    };
    assert_eq!(t.outcome, want);
    assert!(t.hops.is_empty());
    assert_eq!(t.flow.to_string(), "172.26.64.1:40000 → 172.26.64.77:80", "the socket's source");
}

#[test]
fn probes_without_a_source_port_count_up_from_40000() {
    let Some(mut b) = world() else { return };
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            b.probe(&probe("host", "172.26.64.2:7000", "tcp")).map(|t| t.flow.src.port).unwrap_or(0)
        })
        .collect();
    assert_eq!(ports, [40000, 40001, 40002]);
    let mut pinned = probe("host", "172.26.64.2:7000", "tcp");
    pinned.sport = Some(41234);
    for _ in 0..2 {
        let t = b.probe(&pinned).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.outcome.seen_src().map(|e| e.port),
            Some(41234),
            "no TIME_WAIT blocks a pinned port"
        );
    }
    let t = b.probe(&probe("host", "172.26.64.2:7000", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.flow.src.port, 40003);
}

#[test]
fn local_traffic_goes_over_lo() {
    let Some(mut b) = world() else { return };
    b.apply(&op("ip netns exec host listen tcp 127.0.0.1:8080")).unwrap_or_else(|e| panic!("{e}"));
    let t = b.probe(&probe("host", "127.0.0.1:8080", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.outcome.delivered_to().map(|n| n.as_str()), Some("host"));
    assert_eq!(wire(&t), ["host lo Out", "host lo In"]);
}

#[test]
fn an_unknown_source_namespace_is_a_bad_probe() {
    let Some(mut b) = world() else { return };
    assert!(b.probe(&probe("nope", "172.26.64.2:7000", "tcp")).is_err());
}

#[test]
fn silences_are_named_from_the_kernels_state() {
    let Some(mut b) = world() else { return };
    let timed_out = |b: &mut LinuxBackend, from: &str, dst: &str| {
        let t = b.probe(&probe(from, dst, "tcp")).unwrap_or_else(|e| panic!("{e}"));
        match t.outcome {
            Outcome::TimedOut { netns, why } => (netns.to_string(), why),
            ref other => panic!("{from} -> {dst}: {other:?} {:?}", t.wire_path()),
        }
    };
    // Without hairpin, the published port is out of reach from the allocation itself...
    let (ns, why) = timed_out(&mut b, "a1", "192.0.2.10:7000");
    assert_eq!(
        (ns.as_str(), why),
        ("host", Silence::NoHairpin { port: "veth1".parse().unwrap_or_else(|e| panic!("{e}")) })
    );
    // ...and with it, a1 gets its own address as the source: a martian.
    b.apply(&op("ip -n host link set veth1 type bridge_slave hairpin on"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(timed_out(&mut b, "a1", "192.0.2.10:7000"), ("a1".into(), Silence::Martian));
    b.apply(&op("ip netns exec host sysctl -w net.ipv4.ip_forward=0"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(timed_out(&mut b, "a1", "192.0.2.1:80"), ("host".into(), Silence::NotForwarding));
    b.apply(&op("ip netns exec host sysctl -w net.ipv4.ip_forward=1"))
        .unwrap_or_else(|e| panic!("{e}"));
    b.apply(&op("ip -n world link set up0 down")).unwrap_or_else(|e| panic!("{e}"));
    let dev = "eth0".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        timed_out(&mut b, "a1", "192.0.2.1:80"),
        ("host".into(), Silence::NoCarrier { dev })
    );
    // The unanswered ARP of that probe does not hold up the next one.
    b.apply(&op("ip -n world link set up0 up")).unwrap_or_else(|e| panic!("{e}"));
    let t = b.probe(&probe("host", "192.0.2.1:80", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.outcome.delivered_to().map(|n| n.as_str()), Some("world"));
    assert_eq!(wire(&t), ["host eth0 Out", "world up0 In"]);
}

#[test]
fn an_answer_dropped_on_the_way_back_is_a_drop_not_a_delivery() {
    // Kernel fact: the SYN reaches the world's listener, but the SYN-ACK is dropped by the
    // host's FORWARD policy, so the connection never completes.
    // The simulator models it too (scenarios/library/tcp-needs-the-answer.yaml).
    let Some(mut b) = world() else { return };
    for o in [
        "ip netns exec host iptables -P FORWARD DROP",
        "ip netns exec host iptables -A FORWARD -s 172.26.64.0/20 -j ACCEPT",
    ] {
        b.apply(&op(o)).unwrap_or_else(|e| panic!("{o}: {e}"));
    }
    let t = b.probe(&probe("a1", "192.0.2.1:80", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    let want = Outcome::Dropped {
        netns: "host".parse().unwrap_or_else(|e| panic!("{e}")),
        by: DropCause::Policy { table: Table::Filter, chain: "FORWARD".into() },
    };
    assert_eq!(t.outcome, want);
    assert_eq!(wire(&t).last().map(String::as_str), Some("world up0 In"));
    assert_eq!(t.reply_wire_path().len(), 2, "the SYN-ACK dies on the host's eth0");
}

#[test]
fn a_dnated_bridged_frame_is_seen_leaving_the_bridge_device() {
    // Kernel fact (br_netfilter): a frame DNATed in the bridge's PREROUTING is re-routed and
    // sent through the bridge device, so a capture sees it leave `nomad` before the port.
    // The simulator models it too (scenarios/library/hairpin.yaml).
    let Some(mut b) = world() else { return };
    for o in [
        "ip -n host link set veth1 type bridge_slave hairpin on",
        "ip netns exec host iptables -t nat -A POSTROUTING -s 172.26.64.2/32 -d 172.26.64.2/32 -j MASQUERADE",
    ] {
        b.apply(&op(o)).unwrap_or_else(|e| panic!("{o}: {e}"));
    }
    let t = b.probe(&probe("a1", "192.0.2.10:7000", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.outcome.seen_src().map(|e| e.ip.to_string()), Some("172.26.64.1".into()));
    assert_eq!(
        wire(&t),
        ["a1 eth0 Out", "host veth1 In", "host nomad Out", "host veth1 Out", "a1 eth0 In"]
    );
}
