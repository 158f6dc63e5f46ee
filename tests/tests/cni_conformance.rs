//! Conformance (issue 6): the Nomad planner against the CNI reference plugins.
//!
//! Two sandboxes on the real kernel, the same standard host in each (`host` with `eth0`
//! 192.0.2.10/24 facing `world`), the same allocations (ids, namespaces, port mappings):
//! - in sandbox A the real plugins from `/usr/lib/cni` (Debian's containernetworking-plugins
//!   1.1.1) build the allocations, driven from this test the way libcni drives Nomad's
//!   conflist (`nettwin_cni::libcni`: ADD in order passing prevResult, DEL in reverse with the
//!   cached result), run inside A's `host` namespace, with host-local's `dataDir` in A's
//!   sandbox directory (where the backend keeps its own IPAM store) and the result cache
//!   beside it;
//! - in sandbox B the linux backend applies the planner's ops.
//!
//! After the ADDs, and again after the DELs, both are observed and compared once
//! normalized by `nettwin_cni::normalize` (random MACs and veth names): iptables-save (counters
//! removed), links, addresses, routes, bridge membership, modeled sysctls, IPAM stores.
//! Names are bound under /run/netns only with the sandbox's prefix (the plugins need
//! paths), and removed with the sandboxes.

use std::net::Ipv4Addr;

mod cni;

use cni::{RealChain, plugins_installed};
use nettwin_cni::libcni::CniCommand;
use nettwin_cni::normalize::normalize;
use nettwin_cni::seed::Seed;
use nettwin_core::backend::Backend;
use nettwin_core::host::standard_host;
use nettwin_core::names::NetnsName;
use nettwin_core::op::{Effect, Op};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::state::State;
use nettwin_linux::testing::require_linux;
use nettwin_linux::{LinuxBackend, LinuxOptions};
use nettwin_nomad::client::ClientConfig;
use nettwin_nomad::jobspec::NetworkMode;
use nettwin_nomad::planner::{DelMode, Placement, Planner};
use nettwin_nomad::ports::AssignedPort;

fn ns(name: &str) -> NetnsName {
    NetnsName::new(name).unwrap_or_else(|e| panic!("{e}"))
}

/// The allocations: ids from docs/cni-findings.md, ports as Nomad assigns them (static first).
fn placements() -> Vec<Placement> {
    let p = |id: &str, netns: &str, ports: &[(&str, u16, u16)]| Placement {
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
    };
    vec![
        p("8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512", "a1", &[("redis", 23417, 6379)]),
        p("1c9e7b04-a3d2-6f58-9e10-4b7d2c8f6a33", "a2", &[("cloak", 7000, 7000)]),
        p(
            "f07a5c9d-2e81-4b36-a7c4-93d1e6b0f285",
            "a3",
            &[("admin", 9901, 9901), ("http", 25001, 8080), ("metrics", 28314, 28314)],
        ),
    ]
}

fn apply_ok(b: &mut LinuxBackend, ops: &[Op]) -> Vec<Effect> {
    b.apply_all(ops)
        .into_iter()
        .zip(ops)
        .map(|(r, op)| r.unwrap_or_else(|e| panic!("{op}: {e}")))
        .collect()
}

const HOST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// Compares the normalized observations of both sandboxes; returns the real one.
fn assert_same(real: &mut LinuxBackend, planned: &mut LinuxBackend, when: &str) -> Snapshot {
    let (a, b) = (observe(real), observe(planned));
    let diff = normalize(&a).diff(&normalize(&b));
    assert!(
        diff.is_empty(),
        "{when}: the real plugins (left) and the planner's ops (right) differ:\n{}",
        diff.join("\n")
    );
    a
}

fn observe(b: &mut LinuxBackend) -> Snapshot {
    b.observe().unwrap_or_else(|e| panic!("observe: {e}"))
}

#[test]
fn planned_ops_build_what_the_reference_plugins_build_and_tear_down_the_same() {
    if !require_linux() || !plugins_installed() {
        return;
    }
    let bound = LinuxOptions { bind_names: true, ..LinuxOptions::default() };
    let mut real = LinuxBackend::with_options(bound).unwrap_or_else(|e| panic!("{e}"));
    let mut planned = LinuxBackend::new().unwrap_or_else(|e| panic!("{e}"));
    let client = ClientConfig::defaults(HOST_IP);
    let host_ops = standard_host(HOST_IP);
    apply_ok(&mut real, &host_ops);
    apply_ok(&mut planned, &host_ops);

    let mut state = State::new();
    for op in &host_ops {
        state.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    let mut planner =
        Planner::on(state, client.clone(), ns("host"), Seed(1)).unwrap_or_else(|e| panic!("{e}"));
    let chain = RealChain::new(&real, &client);
    let mut mappings = Vec::new();
    for placement in placements() {
        let (alloc, ops) = planner.add(placement).unwrap_or_else(|e| panic!("{e}"));
        // B: the planner's ops; IPAM hands out the planned address.
        let effects = apply_ok(&mut planned, &ops);
        let allocated: Vec<&Effect> =
            effects.iter().filter(|e| matches!(e, Effect::Allocated(_))).collect();
        assert_eq!(allocated, [&Effect::Allocated(alloc.addr.unwrap_or_else(|| panic!("addr")))]);
        // A: Nomad's network hook (the namespace, NOMAD-ADMIN), then the CNI chain. The
        // planner's first ops are exactly Nomad's part: everything before `lo` goes up.
        let nomad_part: Vec<Op> =
            ops.iter().take_while(|op| !matches!(op, Op::LinkSet { .. })).cloned().collect();
        apply_ok(&mut real, &nomad_part);
        let path = real
            .netns_path(alloc.placement.netns.as_str())
            .unwrap_or_else(|| panic!("no path for {}", alloc.placement.netns));
        chain.run(
            &real,
            CniCommand::Add,
            &alloc.placement.alloc_id,
            &path.display().to_string(),
            &alloc.mappings,
        );
        mappings.push((
            alloc.placement.alloc_id.clone(),
            alloc.placement.netns.clone(),
            path,
            alloc.mappings,
        ));
    }
    let added = assert_same(&mut real, &mut planned, "after three ADDs");
    // What was compared is what the plugins built: the checks are not vacuous.
    let host = &added.namespaces["host"];
    for want in
        ["-A CNI-FORWARD -s 172.26.64.4/32 -j ACCEPT", ":CNI-DN-bc22077807f7be4da5a57 - [0:0]"]
    {
        assert!(host.iptables.contains(want), "{want} missing in\n{}", host.iptables);
    }
    assert_eq!(host.links.values().filter(|l| l.master.is_some()).count(), 3);
    assert_eq!(host.sysctls.get("net.ipv4.conf.nomad.route_localnet"), Some(&1));
    let store = &added.ipam["nomad"];
    assert_eq!(store.get("last_reserved_ip.0").map(String::as_str), Some("172.26.64.4"));
    assert_eq!(
        store.get("172.26.64.3").map(String::as_str),
        Some("1c9e7b04-a3d2-6f58-9e10-4b7d2c8f6a33\r\neth0")
    );

    // DEL of the second normally, of the third after its namespace is gone (the
    // masquerade chain leaks), of the first normally.
    for (i, mode) in [(1, DelMode::Normal), (2, DelMode::NetnsAlreadyGone), (0, DelMode::Normal)] {
        let (id, netns, path, maps) = &mappings[i];
        let ops = planner.del(id, mode).unwrap_or_else(|e| panic!("{e}"));
        apply_ok(&mut planned, &ops);
        let gone = Op::NetnsDel { name: netns.clone() };
        if mode == DelMode::NetnsAlreadyGone {
            apply_ok(&mut real, std::slice::from_ref(&gone));
        }
        chain.run(&real, CniCommand::Del, id, &path.display().to_string(), maps);
        if mode == DelMode::Normal {
            apply_ok(&mut real, std::slice::from_ref(&gone));
        }
    }
    let deleted = assert_same(&mut real, &mut planned, "after the DELs");
    // The leftovers the plugins leave: the third allocation's masquerade chain (its
    // namespace was gone at DEL), the bridge, the shared chains.
    let host = &deleted.namespaces["host"];
    assert!(host.iptables.contains(":CNI-bc22077807f7be4da5a573bd - [0:0]"), "{}", host.iptables);
    assert!(host.links.contains_key("nomad"));
    assert!(!deleted.namespaces.contains_key("a1"));
}
