//! The `nomad:` section: the planner expands it into the standard host and each
//! allocation's steps, and probes name allocations by group.

use std::path::PathBuf;

use nettwin_core::op::Op;
use nettwin_core::state::State;
use nettwin_scenarios::{Scenario, load_file, load_str};

fn library(name: &str) -> Scenario {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("library").join(name);
    load_file(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// Applies every step to the model, which must accept each.
fn apply(s: &Scenario) -> State {
    let mut state = State::new();
    for step in &s.steps {
        state.apply(&step.op).unwrap_or_else(|e| panic!("{}: {e}", step.text()));
    }
    state
}

#[test]
fn bridge_mode_groups_expand_into_the_standard_host_and_the_cni_chain() {
    let s = library("nomad-cloak-bridge.yaml");
    let texts: Vec<String> = s.steps.iter().map(|st| st.text().into_owned()).collect();
    assert_eq!(texts[..2], ["ip netns add world", "ip netns add host"]);
    assert!(texts.iter().any(|t| t == "ip netns add redis"), "{texts:#?}");
    assert!(texts.iter().any(|t| t == "ip -n redis addr add 172.26.64.2/20 brd + dev eth0"));
    assert!(texts.iter().any(|t| t == "ip netns exec cloak listen tcp 0.0.0.0:7000"));
    // Chain names come from the allocation id, not from the namespace's name.
    let id = nettwin_nomad::ids::alloc_id(nettwin_cni::seed::Seed(1), "cloak", "redis", 0);
    assert!(texts.iter().any(|t| {
        t.contains(&format!("ipam allocate nomad 172.26.64.0/20 gateway 172.26.64.1 id {id}"))
    }));
    let state = apply(&s);
    let host = state.netns("host").expect("host");
    assert!(host.firewall.to_string().contains("-A CNI-HOSTPORT-DNAT -p tcp"));
    assert_eq!(host.ports("nomad").count(), 2);
    // Generated steps point at the group that asked for them.
    let redis_step = s.steps.iter().find(|st| st.text() == "ip netns add redis").expect("step");
    assert_eq!(redis_step.place.line, 18);
}

#[test]
fn probes_name_allocations_by_group_in_either_mode() {
    let bridge = library("nomad-cloak-bridge.yaml");
    let from_redis = &bridge.probes[3];
    assert_eq!(from_redis.probe.from.as_str(), "redis");
    assert_eq!(bridge.probes[0].expect.at.as_ref().map(|n| n.as_str()), Some("cloak"));
    let host = library("nomad-cloak-host.yaml");
    // Host-mode allocations live in the host namespace.
    assert_eq!(host.probes[0].expect.at.as_ref().map(|n| n.as_str()), Some("host"));
    assert_eq!(host.probes[3].probe.from.as_str(), "host");
    let state = apply(&host);
    let sockets: Vec<String> = state
        .netns("host")
        .expect("host")
        .sockets
        .iter()
        .map(|s| format!("{} {}", s.proto, s.at))
        .collect();
    assert_eq!(sockets, ["tcp 192.0.2.10:25714", "tcp 192.0.2.10:7000"]);
    assert!(!host.steps.iter().any(|s| matches!(s.op, Op::Iptables { .. })), "no CNI in host mode");
}

#[test]
fn counted_groups_get_numbered_namespaces_and_pins_are_honoured() {
    let text = r#"name: counted
description: Two allocations of one group, the first with a pinned id and veth.
nomad:
  groups:
    - name: web
      mode: bridge
      count: 2
      ports: [{ label: http, to: 8080 }]
      alloc_ids: [0b5e4c3a-1111-2222-3333-444455556666]
      veths: [vethpinned01]
steps:
  - ip netns exec web-1 listen udp 0.0.0.0:53
probes:
  - name: the world reaches the second allocation directly
    from: world
    to: 172.26.64.3:8080/tcp
    expect: { outcome: no-route, at: web-1 }
"#;
    let s = load_str("counted.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let texts: Vec<String> = s.steps.iter().map(|st| st.text().into_owned()).collect();
    assert!(
        texts.iter().any(|t| t == "ip netns add web-0")
            && texts.iter().any(|t| t == "ip netns add web-1")
    );
    assert!(texts.iter().any(|t| t.contains("peer name vethpinned01")));
    assert!(texts.iter().any(|t| t.contains("CNI-f87362c39c490948b9a267bc")), "pinned id's chain");
    assert_eq!(texts.last().map(String::as_str), Some("ip netns exec web-1 listen udp 0.0.0.0:53"));
    apply(&s);
}

#[test]
fn unknown_keys_in_the_nomad_section_are_refused_where_they_are() {
    let text = "name: x\ndescription: y\nnomad:\n  groups:\n    - { name: a, mod: bridge }\n";
    let err = load_str("x.yaml", text).expect_err("refused");
    let p = &err.problems[0];
    assert_eq!(p.place.line, 5, "{err}");
    assert!(p.kind.to_string().contains("unknown field `mod`"), "{err}");
}
