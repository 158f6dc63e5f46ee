//! The planner's ADD and DEL op lists: their iptables commands, applied in order, give
//! byte for byte the `iptables-save` output of the real plugins driven the way Nomad drives
//! them (experiments e7 and e8 in docs/cni-facts.md); their other ops apply cleanly to the
//! model and build what the plugins built.

mod common;

use std::net::Ipv4Addr;

use common::{TextRules, assert_save, render_rule};
use nettwin_core::iptables::{Command, RuleRef};
use nettwin_core::names::{Mac, NetnsName};
use nettwin_core::nomad::client::ClientConfig;
use nettwin_core::nomad::jobspec::{NetworkMode, parse_job};
use nettwin_core::nomad::planner::{DelMode, Placement, PlanError, Planner};
use nettwin_core::nomad::ports::{AssignedPort, PortError};
use nettwin_core::nomad::seed::Seed;
use nettwin_core::op::Op;
use nettwin_core::state::State;

const HOST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

fn ns(name: &str) -> NetnsName {
    NetnsName::new(name).expect("netns name")
}

fn placement(id: &str, netns: &str, ports: &[(&str, u16, u16)]) -> Placement {
    Placement {
        alloc_id: id.into(),
        group: netns.into(),
        netns: ns(netns),
        mode: NetworkMode::Bridge,
        ports: ports
            .iter()
            .map(|(label, value, to)| AssignedPort {
                label: (*label).into(),
                value: *value,
                to: *to,
                host_ip: HOST_IP,
            })
            .collect(),
    }
}

/// Applies the iptables ops of a plan to the rule set.
fn apply_iptables(r: &mut TextRules, ops: &[Op]) {
    for op in ops {
        if let Op::Iptables { table, cmd, .. } = op {
            r.apply(*table, cmd);
        }
    }
}

/// Applies every op the model executes today (all but iptables and IPAM) to a state.
fn apply_model(state: &mut State, ops: &[Op]) {
    for op in ops {
        if matches!(op, Op::Iptables { .. } | Op::IpamAllocate { .. } | Op::IpamRelease { .. }) {
            continue;
        }
        state.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
}

/// One line per op: the op's text, or for iptables `-t TABLE <cmd>` in save syntax.
fn show(op: &Op) -> String {
    match op {
        Op::Iptables { table, cmd, .. } => {
            let c = match cmd {
                Command::NewChain(c) => format!("-N {c}"),
                Command::DeleteChain(c) => format!("-X {c}"),
                Command::Flush(Some(c)) => format!("-F {c}"),
                Command::Append(c, r) => format!("-A {c} {}", render_rule(r)),
                Command::Insert(c, n, r) => format!("-I {c} {n} {}", render_rule(r)),
                Command::Delete(c, RuleRef::Spec(r)) => format!("-D {c} {}", render_rule(r)),
                other => format!("{other:?}"),
            };
            format!("iptables -t {table} {c}")
        }
        other => other.to_string(),
    }
}

const A1: &str = "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512";
const A2: &str = "1c9e7b04-a3d2-6f58-9e10-4b7d2c8f6a33";
const A3: &str = "f07a5c9d-2e81-4b36-a7c4-93d1e6b0f285";

#[test]
fn three_adds_and_their_dels_give_the_plugins_iptables_save_e7() {
    let mut p =
        Planner::new(ClientConfig::defaults(HOST_IP), ns("host"), Seed(1)).expect("planner");
    let mut r = TextRules::default();
    let adds = [
        (placement(A1, "a1", &[("redis", 23417, 6379)]), "e7/01-add1.save", "172.26.64.2/20"),
        (placement(A2, "a2", &[("cloak", 7000, 7000)]), "e7/02-add2.save", "172.26.64.3/20"),
        (
            placement(
                A3,
                "a3",
                &[("admin", 9901, 9901), ("http", 25001, 8080), ("metrics", 28314, 28314)],
            ),
            "e7/03-add3.save",
            "172.26.64.4/20",
        ),
    ];
    for (pl, golden, addr) in adds {
        let (alloc, ops) = p.add(pl).expect("added");
        assert_eq!(alloc.addr.map(|a| a.to_string()).as_deref(), Some(addr));
        apply_iptables(&mut r, &ops);
        assert_save(&r, golden);
    }
    apply_iptables(&mut r, &p.del(A2, DelMode::Normal).expect("known"));
    assert_save(&r, "e7/04-del2.save");
    apply_iptables(&mut r, &p.del(A3, DelMode::NetnsAlreadyGone).expect("known"));
    assert_save(&r, "e7/05-del3-gone.save");
    apply_iptables(&mut r, &p.del(A1, DelMode::Normal).expect("known"));
    assert_save(&r, "e7/06-del1.save");
    // Same end state of host-local as the real store (last_reserved_ip.0 = .4, no lease).
    assert_eq!(p.ipam().leases().count(), 0);
    assert_eq!(p.ipam().last_reserved(), Some(Ipv4Addr::new(172, 26, 64, 4)));
}

#[test]
fn host_ip_mappings_exhaustion_and_dels_give_the_plugins_iptables_save_e8() {
    let mut client = ClientConfig::defaults(HOST_IP);
    client.subnet = "172.26.64.0/29".parse().expect("subnet");
    client.bind_wildcard_default_host_network = false;
    let mut p = Planner::new(client, ns("host"), Seed(1)).expect("planner");
    let mut r = TextRules::default();
    let b1 = "5c1d7e2a-0f3b-4a96-8d21-7e6c5b4a3f10";
    let (_, ops) = p
        .add(placement(b1, "b1", &[("cloak", 7000, 7000), ("redis", 25000, 6379)]))
        .expect("added");
    apply_iptables(&mut r, &ops);
    assert_save(&r, "e8/01-add1-hostip.save");
    for i in 2..=5 {
        let id = format!("5c1d7e2a-0000-0000-0000-00000000000{i}");
        let (_, ops) = p.add(placement(&id, &format!("b{i}"), &[])).expect("room left");
        apply_iptables(&mut r, &ops);
    }
    let fail =
        p.add(placement("5c1d7e2a-0000-0000-0000-000000000006", "b6", &[])).expect_err("exhausted");
    assert_eq!(
        fail.to_string(),
        "failed to configure network: plugin type=\"bridge\" failed (add): failed to allocate for range 0: no IP addresses available in range set: 172.26.64.1-172.26.64.6"
    );
    // What ran before host-local refused stays: the namespace, lo up, the veth pair.
    assert!(matches!(fail.ops.last(), Some(Op::IpamAllocate { .. })));
    assert!(fail.ops.iter().any(|op| matches!(op, Op::VethAdd { .. })));
    apply_iptables(&mut r, &fail.ops);
    assert_save(&r, "e8/02-exhausted.save");
    apply_iptables(
        &mut r,
        &p.del("5c1d7e2a-0000-0000-0000-000000000002", DelMode::Normal).expect("known"),
    );
    apply_iptables(&mut r, &p.del(b1, DelMode::Normal).expect("known"));
    assert_save(&r, "e8/03-dels.save");
}

#[test]
fn add_of_the_first_allocation_emits_the_plugins_steps_in_order() {
    let mut p =
        Planner::new(ClientConfig::defaults(HOST_IP), ns("host"), Seed(7)).expect("planner");
    let (alloc, ops) = p.add(placement(A1, "a1", &[("redis", 23417, 6379)])).expect("added");
    let veth = alloc.veth.expect("bridge mode").to_string();
    // veth names and MACs are seeded; their form is checked elsewhere.
    let text: Vec<String> =
        ops.iter().map(|op| mask_macs(&show(op)).replace(&veth, "VETH")).collect();
    let text = text.join("\n");
    let want = r#"ip netns add a1
iptables -t filter -N NOMAD-ADMIN
iptables -t filter -A NOMAD-ADMIN -d 172.26.64.0/20 -o nomad -j ACCEPT
ip -n a1 link set lo up
ip -n host link add nomad address MAC type bridge
ip -n host link set nomad up
ip -n a1 link add eth0 address MAC type veth peer name VETH address MAC netns host
ip -n host link set VETH up
ip -n host link set VETH master nomad
ip -n host link set VETH type bridge_slave hairpin off
ipam allocate nomad 172.26.64.0/20 gateway 172.26.64.1 id 8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512 ifname eth0
ip -n a1 addr add 172.26.64.2/20 dev eth0
ip -n a1 link set eth0 up
ip -n a1 route add default via 172.26.64.1 dev eth0
ip -n host addr add 172.26.64.1/20 dev nomad
ip netns exec host sysctl -w net.ipv4.ip_forward=1
iptables -t nat -N CNI-d4de66d3f509c581e1745fd7
iptables -t nat -A CNI-d4de66d3f509c581e1745fd7 -d 172.26.64.0/20 -m comment --comment "name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -j ACCEPT
iptables -t nat -A CNI-d4de66d3f509c581e1745fd7 ! -d 224.0.0.0/4 -m comment --comment "name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -j MASQUERADE
iptables -t nat -A POSTROUTING -s 172.26.64.2/32 -m comment --comment "name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -j CNI-d4de66d3f509c581e1745fd7
iptables -t filter -N CNI-FORWARD
iptables -t filter -I FORWARD 1 -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
iptables -t filter -I CNI-FORWARD 1 -m comment --comment "CNI firewall plugin admin overrides" -j NOMAD-ADMIN
iptables -t filter -A CNI-FORWARD -d 172.26.64.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -t filter -A CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT
iptables -t nat -N CNI-HOSTPORT-SETMARK
iptables -t nat -A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
iptables -t nat -N CNI-HOSTPORT-MASQ
iptables -t nat -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
iptables -t nat -I POSTROUTING 1 -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
ip netns exec host sysctl -w net.ipv4.conf.nomad.route_localnet=1
iptables -t nat -N CNI-HOSTPORT-DNAT
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
iptables -t nat -N CNI-DN-d4de66d3f509c581e1745
iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -s 172.26.64.0/20 -p tcp -m tcp --dport 23417 -j CNI-HOSTPORT-SETMARK
iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -s 127.0.0.1/32 -p tcp -m tcp --dport 23417 -j CNI-HOSTPORT-SETMARK
iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -p tcp -m tcp --dport 23417 -j DNAT --to-destination 172.26.64.2:6379
iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -s 172.26.64.0/20 -p udp -m udp --dport 23417 -j CNI-HOSTPORT-SETMARK
iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -s 127.0.0.1/32 -p udp -m udp --dport 23417 -j CNI-HOSTPORT-SETMARK
iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -p udp -m udp --dport 23417 -j DNAT --to-destination 172.26.64.2:6379
iptables -t nat -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -m multiport --dports 23417 -j CNI-DN-d4de66d3f509c581e1745
iptables -t nat -A CNI-HOSTPORT-DNAT -p udp -m comment --comment "dnat name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -m multiport --dports 23417 -j CNI-DN-d4de66d3f509c581e1745"#;
    assert_eq!(text, want);
}

/// Replaces every MAC address in `text` by `MAC`.
fn mask_macs(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.parse::<Mac>().is_ok() { "MAC" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn del_emits_portmap_firewall_bridge_loopback_then_the_namespace_goes() {
    let mut p =
        Planner::new(ClientConfig::defaults(HOST_IP), ns("host"), Seed(7)).expect("planner");
    p.add(placement(A1, "a1", &[("redis", 23417, 6379)])).expect("added");
    let ops = p.del(A1, DelMode::Normal).expect("known");
    let text: Vec<String> = ops.iter().map(show).collect();
    let want = [
        "iptables -t nat -F CNI-DN-d4de66d3f509c581e1745",
        "iptables -t nat -D CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"nomad\\\" id: \\\"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\\\"\" -m multiport --dports 23417 -j CNI-DN-d4de66d3f509c581e1745",
        "iptables -t nat -D CNI-HOSTPORT-DNAT -p udp -m comment --comment \"dnat name: \\\"nomad\\\" id: \\\"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\\\"\" -m multiport --dports 23417 -j CNI-DN-d4de66d3f509c581e1745",
        "iptables -t nat -X CNI-DN-d4de66d3f509c581e1745",
        "iptables -t nat -N CNI-SN-d4de66d3f509c581e1745",
        "iptables -t nat -X CNI-SN-d4de66d3f509c581e1745",
        "iptables -t filter -D CNI-FORWARD -d 172.26.64.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "iptables -t filter -D CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT",
        "ip -n a1 link del eth0",
        "ipam release nomad id 8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512 ifname eth0",
        "iptables -t nat -D POSTROUTING -s 172.26.64.2/32 -m comment --comment \"name: \\\"nomad\\\" id: \\\"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\\\"\" -j CNI-d4de66d3f509c581e1745fd7",
        "iptables -t nat -F CNI-d4de66d3f509c581e1745fd7",
        "iptables -t nat -X CNI-d4de66d3f509c581e1745fd7",
        "ip -n a1 link set lo down",
        "ip netns del a1",
    ];
    assert_eq!(text, want);
}

#[test]
fn del_after_the_namespace_is_gone_releases_the_address_but_leaks_the_masquerade_chain() {
    let mut p =
        Planner::new(ClientConfig::defaults(HOST_IP), ns("host"), Seed(7)).expect("planner");
    p.add(placement(A1, "a1", &[])).expect("added");
    let text: Vec<String> =
        p.del(A1, DelMode::NetnsAlreadyGone).expect("known").iter().map(show).collect();
    let want = [
        "ip netns del a1",
        "iptables -t filter -D CNI-FORWARD -d 172.26.64.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "iptables -t filter -D CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT",
        "ipam release nomad id 8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512 ifname eth0",
    ];
    assert_eq!(text, want);
}

#[test]
fn planned_links_addresses_routes_and_sysctls_apply_to_the_model() {
    let mut p =
        Planner::new(ClientConfig::defaults(HOST_IP), ns("host"), Seed(3)).expect("planner");
    let mut state = State::new();
    state.apply(&Op::NetnsAdd { name: ns("host") }).expect("host netns");
    let (a1, ops1) = p.add(placement(A1, "a1", &[("redis", 23417, 6379)])).expect("added");
    apply_model(&mut state, &ops1);
    let (_, ops2) = p.add(placement(A2, "a2", &[("cloak", 7000, 7000)])).expect("added");
    apply_model(&mut state, &ops2);
    let host = state.netns("host").expect("host");
    let bridge = host.link("nomad").expect("bridge");
    assert!(bridge.is_bridge() && bridge.up);
    assert_eq!(
        bridge.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["172.26.64.1/20"]
    );
    assert!(bridge.route_localnet && host.ip_forward);
    let veth = host.link(a1.veth.as_ref().expect("veth").as_str()).expect("host veth");
    assert_eq!(veth.master.as_ref().map(|m| m.as_str()), Some("nomad"));
    assert!(veth.up && !veth.hairpin);
    assert_eq!(host.ports("nomad").count(), 2);
    let alloc = state.netns("a1").expect("alloc netns");
    let eth0 = alloc.link("eth0").expect("eth0");
    assert_eq!(eth0.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(), ["172.26.64.2/20"]);
    assert!(eth0.up && alloc.link("lo").expect("lo").up);
    assert!(
        alloc
            .routes
            .iter()
            .any(|r| r.dst.prefix() == 0 && r.via == Some(Ipv4Addr::new(172, 26, 64, 1)))
    );
    // Teardown: one normally, one after its namespace vanished.
    apply_model(&mut state, &p.del(A1, DelMode::Normal).expect("known"));
    apply_model(&mut state, &p.del(A2, DelMode::NetnsAlreadyGone).expect("known"));
    let host = state.netns("host").expect("host");
    assert!(state.netns("a1").is_none() && state.netns("a2").is_none());
    assert_eq!(host.ports("nomad").count(), 0);
    // The bridge and its address stay.
    assert_eq!(host.link("nomad").map(|b| b.addrs.len()), Some(1));
}

#[test]
fn seed_job_plans_both_groups_with_seeded_ids_and_ports() {
    let src = std::fs::read_to_string(format!(
        "{}/tests/data/jobs/cloak-bridge.nomad.hcl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("job file");
    let job = parse_job(&src).expect("valid job");
    let plan = |seed| {
        let mut p =
            Planner::new(ClientConfig::defaults(HOST_IP), ns("host"), seed).expect("planner");
        p.plan_job(&job).expect("placed")
    };
    let first = plan(Seed(11));
    assert_eq!(first, plan(Seed(11)), "same seed, same plan");
    assert_ne!(first[0].0.placement.alloc_id, plan(Seed(12))[0].0.placement.alloc_id);
    let (redis, cloak) = (&first[0].0, &first[1].0);
    assert_eq!(redis.placement.alloc_id, Seed(11).alloc_id("cloak", "redis", 0));
    let dynamic = redis.placement.ports[0].value;
    assert!((20000..=32000).contains(&dynamic), "{dynamic}");
    assert_eq!(redis.placement.ports[0].to, 6379);
    assert_eq!(cloak.placement.ports[0].value, 7000);
    assert_eq!(redis.addr.map(|a| a.to_string()).as_deref(), Some("172.26.64.2/20"));
    assert_eq!(cloak.addr.map(|a| a.to_string()).as_deref(), Some("172.26.64.3/20"));
    let mut state = State::new();
    state.apply(&Op::NetnsAdd { name: ns("host") }).expect("host netns");
    for (_, ops) in &first {
        apply_model(&mut state, ops);
    }
}

#[test]
fn host_mode_group_takes_ports_without_any_op_and_collides_with_nomads_text() {
    let src = std::fs::read_to_string(format!(
        "{}/tests/data/jobs/cloak-host.nomad.hcl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("job file");
    let job = parse_job(&src).expect("valid job");
    let mut p =
        Planner::new(ClientConfig::defaults(HOST_IP), ns("host"), Seed(5)).expect("planner");
    let plan = p.plan_job(&job).expect("placed");
    assert!(plan.iter().all(|(_, ops)| ops.is_empty()));
    assert!(p.ports().is_used(HOST_IP, 7000));
    let cloak = &job.groups[1];
    assert_eq!(
        p.schedule("cloak", cloak, 1),
        Err(PlanError::Ports(PortError::Collision { label: "cloak".into(), port: 7000 }))
    );
    assert_eq!(
        p.schedule("cloak", cloak, 1).map(|_| ()).map_err(|e| e.to_string()),
        Err("network: reserved port collision cloak=7000".into())
    );
}

#[test]
fn add_of_a_placed_alloc_and_del_of_an_unknown_one_are_refused() {
    let mut p =
        Planner::new(ClientConfig::defaults(HOST_IP), ns("host"), Seed(5)).expect("planner");
    p.add(placement(A1, "a1", &[])).expect("added");
    let again = p.add(placement(A1, "a1", &[])).expect_err("duplicate");
    assert!(again.ops.is_empty());
    assert_eq!(again.error, PlanError::Duplicate(A1.into()));
    assert_eq!(p.del(A2, DelMode::Normal), Err(PlanError::Unknown(A2.into())));
}
