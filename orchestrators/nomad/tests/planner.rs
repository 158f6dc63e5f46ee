//! The planner's ADD and DEL op lists, applied through `State::apply`: the host's
//! `iptables-save` is byte for byte that of the real plugins driven the way Nomad drives
//! them (experiments e7 and e8 in docs/cni-findings.md), the host-local store is the one the
//! real plugin left, and replaying the ops on a fresh model gives the planner's own state.

mod common;

use std::net::Ipv4Addr;

use common::{apply_all, assert_state_save, golden_store};
use nettwin_cni::seed::Seed;
use nettwin_core::addr::Proto;
use nettwin_core::names::{Mac, NetnsName};
use nettwin_core::op::{Effect, Op};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::state::State;
use nettwin_nomad::client::ClientConfig;
use nettwin_nomad::jobspec::{NetworkMode, parse_job};
use nettwin_nomad::planner::{DelMode, Placement, PlanError, Planner};
use nettwin_nomad::ports::{AssignedPort, PortError};

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
        veth: None,
    }
}

/// A bare host: the namespace `host` and nothing in it, as the planner starts.
fn bare_host() -> State {
    let mut s = State::new();
    s.apply(&Op::NetnsAdd { name: ns("host") }).expect("host netns");
    s
}

fn planner(client: ClientConfig, seed: u64) -> Planner {
    Planner::new(client, ns("host"), Seed(seed)).expect("planner")
}

/// Replays ops on `replay` and checks it ends where the planner is.
fn assert_replays(replay: &mut State, ops: &[Op], p: &Planner) {
    apply_all(replay, ops);
    let diff = Snapshot::of(replay).diff(&Snapshot::of(p.state()));
    assert!(diff.is_empty(), "replay differs from the planner's state:\n{}", diff.join("\n"));
}

const A1: &str = "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512";
const A2: &str = "1c9e7b04-a3d2-6f58-9e10-4b7d2c8f6a33";
const A3: &str = "f07a5c9d-2e81-4b36-a7c4-93d1e6b0f285";

#[test]
fn three_adds_and_their_dels_give_the_plugins_iptables_save_and_store_e7() {
    let mut p = planner(ClientConfig::defaults(HOST_IP), 1);
    let mut replay = bare_host();
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
        assert_state_save(p.state(), "host", golden);
        assert_replays(&mut replay, &ops, &p);
    }
    let dels = [
        (A2, DelMode::Normal, "e7/04-del2.save"),
        (A3, DelMode::NetnsAlreadyGone, "e7/05-del3-gone.save"),
        (A1, DelMode::Normal, "e7/06-del1.save"),
    ];
    for (id, mode, golden) in dels {
        let ops = p.del(id, mode).expect("known");
        assert_state_save(p.state(), "host", golden);
        assert_replays(&mut replay, &ops, &p);
    }
    // The same store as the real host-local left after three ADDs and their DELs.
    let snap = Snapshot::of(p.state());
    assert_eq!(snap.ipam.get("nomad"), Some(&golden_store("store-e1-data")));
}

#[test]
fn host_ip_mappings_exhaustion_and_dels_give_the_plugins_iptables_save_e8() {
    let mut client = ClientConfig::defaults(HOST_IP);
    client.subnet = "172.26.64.0/29".parse().expect("subnet");
    client.bind_wildcard_default_host_network = false;
    let mut p = planner(client, 1);
    let mut replay = bare_host();
    let b1 = "5c1d7e2a-0f3b-4a96-8d21-7e6c5b4a3f10";
    let (_, ops) = p
        .add(placement(b1, "b1", &[("cloak", 7000, 7000), ("redis", 25000, 6379)]))
        .expect("added");
    assert_state_save(p.state(), "host", "e8/01-add1-hostip.save");
    assert_replays(&mut replay, &ops, &p);
    for i in 2..=5 {
        let id = format!("5c1d7e2a-0000-0000-0000-00000000000{i}");
        let (_, ops) = p.add(placement(&id, &format!("b{i}"), &[])).expect("room left");
        assert_replays(&mut replay, &ops, &p);
    }
    let fail =
        p.add(placement("5c1d7e2a-0000-0000-0000-000000000006", "b6", &[])).expect_err("exhausted");
    assert_eq!(
        fail.to_string(),
        "failed to configure network: plugin type=\"bridge\" failed (add): failed to allocate for range 0: no IP addresses available in range set: 172.26.64.1-172.26.64.6"
    );
    // What ran before host-local refused stays: the namespace, lo up, the veth pair; the
    // last op is the allocation that failed, and it changes nothing when replayed either.
    let (last, ran) = fail.ops.split_last().expect("ops ran");
    assert!(matches!(last, Op::IpamAllocate { .. }));
    assert!(ran.iter().any(|op| matches!(op, Op::VethAdd { .. })));
    assert_replays(&mut replay, ran, &p);
    let refused = replay.apply(last).expect_err("exhausted on replay too");
    assert_eq!(refused.kind.as_str(), "pool-exhausted");
    assert_state_save(p.state(), "host", "e8/02-exhausted.save");
    let ops = p.del("5c1d7e2a-0000-0000-0000-000000000002", DelMode::Normal).expect("known");
    assert_replays(&mut replay, &ops, &p);
    let ops = p.del(b1, DelMode::Normal).expect("known");
    assert_replays(&mut replay, &ops, &p);
    assert_state_save(p.state(), "host", "e8/03-dels.save");
}

#[test]
fn eth0_gets_the_address_ipam_hands_out_when_the_ops_are_replayed() {
    let mut p = planner(ClientConfig::defaults(HOST_IP), 2);
    let mut replay = bare_host();
    for (i, id) in [A1, A2, A3].into_iter().enumerate() {
        let (alloc, ops) = p.add(placement(id, &format!("a{i}"), &[])).expect("added");
        let mut allocated = None;
        for op in &ops {
            match (replay.apply(op).expect("replays"), op) {
                (Effect::Allocated(a), _) => allocated = Some(a),
                (_, Op::AddrAdd { dev, addr, .. }) if dev.as_str() == "eth0" => {
                    assert_eq!(Some(*addr), allocated, "eth0 gets what IPAM handed out");
                }
                _ => {}
            }
        }
        assert_eq!(alloc.addr, allocated);
    }
    // Releasing and allocating again follows host-local's round robin in both.
    let ops = p.del(A2, DelMode::Normal).expect("known");
    apply_all(&mut replay, &ops);
    let (again, ops) = p.add(placement("again", "again", &[])).expect("added");
    assert_eq!(again.addr.map(|a| a.to_string()).as_deref(), Some("172.26.64.5/20"));
    assert_replays(&mut replay, &ops, &p);
}

#[test]
fn add_of_the_first_allocation_emits_the_plugins_steps_in_order() {
    let mut p = planner(ClientConfig::defaults(HOST_IP), 7);
    let (alloc, ops) = p.add(placement(A1, "a1", &[("redis", 23417, 6379)])).expect("added");
    let veth = alloc.veth.expect("bridge mode").to_string();
    // veth names and MACs are seeded; their form is checked elsewhere.
    let text: Vec<String> =
        ops.iter().map(|op| mask_macs(&op.to_string()).replace(&veth, "VETH")).collect();
    let text = text.join("\n");
    let want = r#"ip netns add a1
ip netns exec host iptables -N NOMAD-ADMIN
ip netns exec host iptables -A NOMAD-ADMIN -d 172.26.64.0/20 -o nomad -j ACCEPT
ip -n a1 link set lo up
ip -n host link add nomad address MAC type bridge
ip -n host link set nomad up
ip -n a1 link add eth0 address MAC type veth peer name VETH address MAC netns host
ip -n host link set VETH up
ip -n host link set VETH master nomad
ip -n host link set VETH type bridge_slave hairpin off
ipam allocate nomad 172.26.64.0/20 gateway 172.26.64.1 id 8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512 ifname eth0
ip -n a1 addr add 172.26.64.2/20 brd + dev eth0
ip -n a1 link set eth0 up
ip -n a1 route add default via 172.26.64.1 dev eth0
ip -n host addr add 172.26.64.1/20 brd + dev nomad
ip netns exec host sysctl -w net.ipv4.ip_forward=1
ip netns exec host iptables -t nat -N CNI-d4de66d3f509c581e1745fd7
ip netns exec host iptables -t nat -A CNI-d4de66d3f509c581e1745fd7 -d 172.26.64.0/20 -m comment --comment "name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -j ACCEPT
ip netns exec host iptables -t nat -A CNI-d4de66d3f509c581e1745fd7 ! -d 224.0.0.0/4 -m comment --comment "name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -j MASQUERADE
ip netns exec host iptables -t nat -A POSTROUTING -s 172.26.64.2/32 -m comment --comment "name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -j CNI-d4de66d3f509c581e1745fd7
ip netns exec host iptables -N CNI-FORWARD
ip netns exec host iptables -I FORWARD 1 -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
ip netns exec host iptables -I CNI-FORWARD 1 -m comment --comment "CNI firewall plugin admin overrides" -j NOMAD-ADMIN
ip netns exec host iptables -A CNI-FORWARD -d 172.26.64.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ip netns exec host iptables -A CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT
ip netns exec host iptables -t nat -N CNI-HOSTPORT-SETMARK
ip netns exec host iptables -t nat -A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
ip netns exec host iptables -t nat -N CNI-HOSTPORT-MASQ
ip netns exec host iptables -t nat -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
ip netns exec host iptables -t nat -I POSTROUTING 1 -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
ip netns exec host sysctl -w net.ipv4.conf.nomad.route_localnet=1
ip netns exec host iptables -t nat -N CNI-HOSTPORT-DNAT
ip netns exec host iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
ip netns exec host iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
ip netns exec host iptables -t nat -N CNI-DN-d4de66d3f509c581e1745
ip netns exec host iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -s 172.26.64.0/20 -p tcp -m tcp --dport 23417 -j CNI-HOSTPORT-SETMARK
ip netns exec host iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -s 127.0.0.1/32 -p tcp -m tcp --dport 23417 -j CNI-HOSTPORT-SETMARK
ip netns exec host iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -p tcp -m tcp --dport 23417 -j DNAT --to-destination 172.26.64.2:6379
ip netns exec host iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -s 172.26.64.0/20 -p udp -m udp --dport 23417 -j CNI-HOSTPORT-SETMARK
ip netns exec host iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -s 127.0.0.1/32 -p udp -m udp --dport 23417 -j CNI-HOSTPORT-SETMARK
ip netns exec host iptables -t nat -A CNI-DN-d4de66d3f509c581e1745 -p udp -m udp --dport 23417 -j DNAT --to-destination 172.26.64.2:6379
ip netns exec host iptables -t nat -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -m multiport --dports 23417 -j CNI-DN-d4de66d3f509c581e1745
ip netns exec host iptables -t nat -A CNI-HOSTPORT-DNAT -p udp -m comment --comment "dnat name: \"nomad\" id: \"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\"" -m multiport --dports 23417 -j CNI-DN-d4de66d3f509c581e1745"#;
    assert_eq!(text, want);
    // Every line reads back as the op it came from.
    for op in &ops {
        assert_eq!(op.to_string().parse::<Op>().as_ref(), Ok(op), "{op}");
    }
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
    let mut p = planner(ClientConfig::defaults(HOST_IP), 7);
    p.add(placement(A1, "a1", &[("redis", 23417, 6379)])).expect("added");
    let ops = p.del(A1, DelMode::Normal).expect("known");
    let text: Vec<String> = ops.iter().map(ToString::to_string).collect();
    let want = [
        "ip netns exec host iptables -t nat -F CNI-DN-d4de66d3f509c581e1745",
        "ip netns exec host iptables -t nat -D CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"nomad\\\" id: \\\"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\\\"\" -m multiport --dports 23417 -j CNI-DN-d4de66d3f509c581e1745",
        "ip netns exec host iptables -t nat -D CNI-HOSTPORT-DNAT -p udp -m comment --comment \"dnat name: \\\"nomad\\\" id: \\\"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\\\"\" -m multiport --dports 23417 -j CNI-DN-d4de66d3f509c581e1745",
        "ip netns exec host iptables -t nat -X CNI-DN-d4de66d3f509c581e1745",
        "ip netns exec host iptables -t nat -N CNI-SN-d4de66d3f509c581e1745",
        "ip netns exec host iptables -t nat -X CNI-SN-d4de66d3f509c581e1745",
        "ip netns exec host iptables -D CNI-FORWARD -d 172.26.64.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "ip netns exec host iptables -D CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT",
        "ipam release nomad id 8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512 ifname eth0",
        "ip -n a1 link del eth0",
        "ip netns exec host iptables -t nat -D POSTROUTING -s 172.26.64.2/32 -m comment --comment \"name: \\\"nomad\\\" id: \\\"8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512\\\"\" -j CNI-d4de66d3f509c581e1745fd7",
        "ip netns exec host iptables -t nat -F CNI-d4de66d3f509c581e1745fd7",
        "ip netns exec host iptables -t nat -X CNI-d4de66d3f509c581e1745fd7",
        "ip -n a1 link set lo down",
        "ip netns del a1",
    ];
    assert_eq!(text, want);
}

#[test]
fn del_after_the_namespace_is_gone_releases_the_address_but_leaks_the_masquerade_chain() {
    let mut p = planner(ClientConfig::defaults(HOST_IP), 7);
    p.add(placement(A1, "a1", &[])).expect("added");
    let text: Vec<String> = p
        .del(A1, DelMode::NetnsAlreadyGone)
        .expect("known")
        .iter()
        .map(ToString::to_string)
        .collect();
    let want = [
        "ip netns del a1",
        "ip netns exec host iptables -D CNI-FORWARD -d 172.26.64.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "ip netns exec host iptables -D CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT",
        "ipam release nomad id 8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512 ifname eth0",
    ];
    assert_eq!(text, want);
    let host = p.state().netns("host").expect("host");
    assert!(
        host.firewall
            .table(nettwin_core::iptables::Table::Nat)
            .chain("CNI-d4de66d3f509c581e1745fd7")
            .is_some()
    );
}

#[test]
fn planned_links_addresses_routes_and_sysctls_are_in_the_model() {
    let mut p = planner(ClientConfig::defaults(HOST_IP), 3);
    let (a1, _) = p.add(placement(A1, "a1", &[("redis", 23417, 6379)])).expect("added");
    p.add(placement(A2, "a2", &[("cloak", 7000, 7000)])).expect("added");
    let state = p.state();
    let host = state.netns("host").expect("host");
    let bridge = host.link("nomad").expect("bridge");
    assert!(bridge.is_bridge() && bridge.up);
    assert_eq!(
        bridge.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["172.26.64.1/20"]
    );
    assert!(bridge.conf.route_localnet == 1 && host.ip_forward());
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
    p.del(A1, DelMode::Normal).expect("known");
    p.del(A2, DelMode::NetnsAlreadyGone).expect("known");
    let host = p.state().netns("host").expect("host");
    assert!(p.state().netns("a1").is_none() && p.state().netns("a2").is_none());
    assert_eq!(host.ports("nomad").count(), 0);
    // The bridge and its address stay.
    assert_eq!(host.link("nomad").map(|b| b.addrs.len()), Some(1));
}

#[test]
fn another_address_on_an_existing_bridge_is_replaced_by_the_gateway() {
    let mut state = bare_host();
    for op in ["ip -n host link add nomad type bridge", "ip -n host addr add 10.1.0.1/24 dev nomad"]
    {
        state.apply(&op.parse().expect("op")).expect("setup");
    }
    let mut p =
        Planner::on(state, ClientConfig::defaults(HOST_IP), ns("host"), Seed(1)).expect("planner");
    let (_, ops) = p.add(placement(A1, "a1", &[])).expect("added");
    let text: Vec<String> = ops.iter().map(ToString::to_string).collect();
    assert!(!text.iter().any(|l| l.contains("link add nomad")), "the bridge is reused");
    let del = text.iter().position(|l| l == "ip -n host addr del 10.1.0.1/24 dev nomad");
    let add = text.iter().position(|l| l == "ip -n host addr add 172.26.64.1/20 brd + dev nomad");
    assert!(del.is_some() && del < add, "{text:#?}");
}

#[test]
fn link_named_like_the_bridge_that_is_not_a_bridge_fails_the_bridge_plugin() {
    let mut state = bare_host();
    let op = "ip -n host link add nomad type veth peer name other".parse().expect("op");
    state.apply(&op).expect("setup");
    let mut p =
        Planner::on(state, ClientConfig::defaults(HOST_IP), ns("host"), Seed(1)).expect("planner");
    let fail = p.add(placement(A1, "a1", &[])).expect_err("not a bridge");
    assert_eq!(
        fail.to_string(),
        "failed to configure network: plugin type=\"bridge\" failed (add): failed to create bridge \"nomad\": \"nomad\" already exists but is not a bridge"
    );
}

#[test]
fn planner_on_a_state_without_the_host_namespace_is_refused() {
    let err = Planner::on(State::new(), ClientConfig::defaults(HOST_IP), ns("host"), Seed(1))
        .expect_err("no host");
    assert_eq!(err, PlanError::NoHost(ns("host")));
}

fn read_job(name: &str) -> nettwin_nomad::jobspec::Job {
    let p = format!("{}/../../testdata/jobs/{name}", env!("CARGO_MANIFEST_DIR"));
    parse_job(&std::fs::read_to_string(&p).expect("job file")).expect("valid job")
}

#[test]
fn seed_job_plans_both_groups_with_seeded_ids_ports_and_listening_tasks() {
    let job = read_job("cloak-bridge.nomad.hcl");
    let plan =
        |seed| planner(ClientConfig::defaults(HOST_IP), seed).plan_job(&job).expect("placed");
    let first = plan(11);
    assert_eq!(first, plan(11), "same seed, same plan");
    assert_ne!(first[0].alloc.placement.alloc_id, plan(12)[0].alloc.placement.alloc_id);
    let (redis, cloak) = (&first[0].alloc, &first[1].alloc);
    assert_eq!(
        redis.placement.alloc_id,
        nettwin_nomad::ids::alloc_id(Seed(11), "cloak", "redis", 0)
    );
    let dynamic = redis.placement.ports[0].value;
    assert!((20000..=32000).contains(&dynamic), "{dynamic}");
    assert_eq!(redis.placement.ports[0].to, 6379);
    assert_eq!(cloak.placement.ports[0].value, 7000);
    assert_eq!(redis.addr.map(|a| a.to_string()).as_deref(), Some("172.26.64.2/20"));
    assert_eq!(cloak.addr.map(|a| a.to_string()).as_deref(), Some("172.26.64.3/20"));
    // The tasks listen inside their namespaces on their `to` ports.
    let tasks: Vec<String> = first.iter().flat_map(|a| &a.tasks).map(ToString::to_string).collect();
    assert_eq!(
        tasks,
        [
            format!("ip netns exec {} listen tcp 0.0.0.0:6379", redis.placement.netns),
            format!("ip netns exec {} listen tcp 0.0.0.0:7000", cloak.placement.netns),
        ]
    );
    let mut replay = bare_host();
    for a in &first {
        apply_all(&mut replay, &a.setup);
        apply_all(&mut replay, &a.tasks);
    }
    let mut p = planner(ClientConfig::defaults(HOST_IP), 11);
    p.plan_job(&job).expect("placed");
    assert_replays(&mut replay, &[], &p);
}

#[test]
fn host_mode_group_takes_ports_without_network_ops_and_collides_with_nomads_text() {
    let job = read_job("cloak-host.nomad.hcl");
    let mut state = bare_host();
    for op in [
        "ip netns add world",
        "ip -n host link add eth0 type veth peer name up0 netns world",
        "ip -n host addr add 192.0.2.10/24 dev eth0",
    ] {
        state.apply(&op.parse().expect("op")).expect("setup");
    }
    let mut p =
        Planner::on(state, ClientConfig::defaults(HOST_IP), ns("host"), Seed(5)).expect("planner");
    let plan = p.plan_job(&job).expect("placed");
    assert!(plan.iter().all(|a| a.setup.is_empty()));
    // The tasks bind their ports on the host's address.
    let redis_port = plan[0].alloc.placement.ports[0].value;
    let tasks: Vec<String> = plan.iter().flat_map(|a| &a.tasks).map(ToString::to_string).collect();
    assert_eq!(
        tasks,
        [
            format!("ip netns exec host listen tcp 192.0.2.10:{redis_port}"),
            "ip netns exec host listen tcp 192.0.2.10:7000".to_owned(),
        ]
    );
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
    // Stopping the allocation closes its socket and frees the port.
    let id = plan[1].alloc.placement.alloc_id.clone();
    let ops = p.del(&id, DelMode::Normal).expect("known");
    assert_eq!(
        ops,
        [Op::Close {
            netns: ns("host"),
            proto: Proto::Tcp,
            at: "192.0.2.10:7000".parse().expect("endpoint")
        }]
    );
    assert!(!p.ports().is_used(HOST_IP, 7000));
}

#[test]
fn add_of_a_placed_alloc_and_del_of_an_unknown_one_are_refused() {
    let mut p = planner(ClientConfig::defaults(HOST_IP), 5);
    p.add(placement(A1, "a1", &[])).expect("added");
    let again = p.add(placement(A1, "a1", &[])).expect_err("duplicate");
    assert!(again.ops.is_empty());
    assert_eq!(again.error, PlanError::Duplicate(A1.into()));
    assert_eq!(p.del(A2, DelMode::Normal), Err(PlanError::Unknown(A2.into())));
}

#[rstest::rstest]
#[case(&[])]
#[case(&[("http", 25000, 8080)])]
#[case(&[("a", 7000, 7000), ("b", 25001, 80), ("c", 28314, 28314)])]
fn add_then_del_leaves_only_the_shared_leftovers_and_a_second_round_adds_none(
    #[case] ports: &[(&str, u16, u16)],
) {
    let mut p = planner(ClientConfig::defaults(HOST_IP), 9);
    let start = Snapshot::of(p.state());
    p.add(placement(A1, "a1", ports)).expect("added");
    p.del(A1, DelMode::Normal).expect("known");
    let once = Snapshot::of(p.state());
    // What stays is what the plugins never undo: the bridge and its address, ip_forward,
    // the shared chains and jumps; nothing of the allocation itself.
    let host = &once.namespaces["host"];
    assert!(!once.namespaces.contains_key("a1"));
    assert!(!host.iptables.contains("172.26.64.2"), "{}", host.iptables);
    assert!(!host.iptables.contains(A1), "{}", host.iptables);
    assert_eq!(host.links.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["lo", "nomad"]);
    assert_ne!(once, start);
    // A second round (another id) returns to the same state but for IPAM's memory.
    p.add(placement(A2, "a2", ports)).expect("added");
    p.del(A2, DelMode::Normal).expect("known");
    let mut twice = Snapshot::of(p.state());
    let mut once = once;
    once.ipam.clear();
    twice.ipam.clear();
    assert_eq!(once.diff(&twice), Vec::<String>::new());
    // Tearing down twice is refused by the client, which no longer knows the allocation.
    assert_eq!(p.del(A2, DelMode::Normal), Err(PlanError::Unknown(A2.into())));
}
