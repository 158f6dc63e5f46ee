//! 100 Nomad bridge-mode allocations (each with one port, mapped tcp and udp), set up on
//! the real kernel two ways in the same run, each in a fresh sandbox with the standard
//! host:
//! - `planned`: the linux backend applies the Nomad planner's ops (netlink from namespace
//!   workers, iptables-restore batches);
//! - `reference_chain`: the reference CNI plugins from /usr/lib/cni, driven like libcni
//!   (four plugin processes per allocation, each running iptables), plus Nomad's network
//!   hook (namespace, NOMAD-ADMIN) through the backend.
//!
//! Only the setup of the 100 allocations is timed (not the sandbox, the host, the teardown).
//! Run as root: `cargo bench -p nettwin-tests --bench cni_chain`. Target (issue 6): the
//! planned ops at least 20× faster than the chain.

#[path = "../tests/cni/mod.rs"]
mod cni;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use cni::{RealChain, plugins_installed};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use nettwin_cni::libcni::CniCommand;
use nettwin_cni::seed::Seed;
use nettwin_core::backend::Backend;
use nettwin_core::host::standard_host;
use nettwin_core::names::NetnsName;
use nettwin_core::op::Op;
use nettwin_core::state::State;
use nettwin_linux::testing::require_linux;
use nettwin_linux::{LinuxBackend, LinuxOptions};
use nettwin_nomad::client::ClientConfig;
use nettwin_nomad::jobspec::{Group, Network, NetworkMode, PortSpec};
use nettwin_nomad::planner::{Alloc, Planner};

const ALLOCATIONS: u32 = 100;
const HOST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// The plan: the standard host's ops, and per allocation the planner's setup ops.
fn plan() -> (Vec<Op>, Vec<(Alloc, Vec<Op>)>) {
    let host_ops = standard_host(HOST_IP);
    let mut state = State::new();
    for op in &host_ops {
        state.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    let host = NetnsName::new("host").unwrap_or_else(|e| panic!("{e}"));
    let client = ClientConfig::defaults(HOST_IP);
    let mut planner = Planner::on(state, client, host, Seed(1)).unwrap_or_else(|e| panic!("{e}"));
    let port = PortSpec { label: "http".into(), static_port: None, to: Some(8080) };
    let group = Group {
        name: "web".into(),
        count: ALLOCATIONS,
        network: Network { mode: NetworkMode::Bridge, ports: vec![port] },
    };
    let allocs = (0..ALLOCATIONS)
        .map(|i| {
            let p = planner.schedule("bench", &group, i).unwrap_or_else(|e| panic!("{e}"));
            planner.add(p).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    (host_ops, allocs)
}

fn backend(bind_names: bool) -> LinuxBackend {
    let options = LinuxOptions { bind_names, ..LinuxOptions::default() };
    LinuxBackend::with_options(options).unwrap_or_else(|e| panic!("{e}"))
}

fn ok(b: &mut LinuxBackend, ops: &[Op]) {
    for (r, op) in b.apply_all(ops).into_iter().zip(ops) {
        r.unwrap_or_else(|e| panic!("{op}: {e}"));
    }
}

/// The planner's ops for every allocation, in one batch.
fn run_planned(host_ops: &[Op], allocs: &[(Alloc, Vec<Op>)]) -> Duration {
    let mut b = backend(false);
    ok(&mut b, host_ops);
    let ops: Vec<Op> = allocs.iter().flat_map(|(_, ops)| ops.iter().cloned()).collect();
    let t = Instant::now();
    ok(&mut b, &ops);
    t.elapsed()
}

/// Nomad's hook through the backend, then the plugins, allocation by allocation.
fn run_chain(host_ops: &[Op], allocs: &[(Alloc, Vec<Op>)]) -> Duration {
    let mut b = backend(true);
    ok(&mut b, host_ops);
    let chain = RealChain::new(&b, &ClientConfig::defaults(HOST_IP));
    let t = Instant::now();
    for (alloc, ops) in allocs {
        let nomad_part: Vec<Op> =
            ops.iter().take_while(|op| !matches!(op, Op::LinkSet { .. })).cloned().collect();
        ok(&mut b, &nomad_part);
        let path = b
            .netns_path(alloc.placement.netns.as_str())
            .unwrap_or_else(|| panic!("no path for {}", alloc.placement.netns));
        let id = &alloc.placement.alloc_id;
        chain.run(&b, CniCommand::Add, id, &path.display().to_string(), &alloc.mappings);
    }
    t.elapsed()
}

fn bench(c: &mut Criterion) {
    if !require_linux() || !plugins_installed() {
        return;
    }
    let (host_ops, allocs) = plan();
    let mut g = c.benchmark_group("cni_100_allocations");
    g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_millis(1));
    g.bench_function("planned", |b| {
        b.iter_custom(|n| (0..n).map(|_| run_planned(&host_ops, &allocs)).sum())
    });
    g.bench_function("reference_chain", |b| {
        b.iter_custom(|n| (0..n).map(|_| run_chain(&host_ops, &allocs)).sum())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
