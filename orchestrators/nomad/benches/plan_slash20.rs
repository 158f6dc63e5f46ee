//! Plan + apply a full /20: 4,093 bridge-mode allocations of one group (a dynamic port
//! mapped to 8080 each), the most Nomad's default subnet holds.
//!
//! - `plan_slash20_no_ports`: the same allocations without ports (no portmap work).
//! - `plan_slash20`: the planner schedules and sets up every allocation; planning applies
//!   each op to its model `State` (that is the simulator's state: `SimBackend::apply` is
//!   `State::apply`), so this is plan + apply.
//! - `replay_slash20`: the ops of that plan applied to a fresh `State`, as a backend
//!   replays them.
//!
//! Run: `cargo bench -p nettwin-nomad --bench plan_slash20`. Target: ≤ 100 ms for plan +
//! apply (issue 6).
//!
//! The allocator is mimalloc, as in the `nettwin` binary (`cli/src/main.rs`): the numbers
//! are those of what users run.

use std::net::Ipv4Addr;

use criterion::{Criterion, criterion_group, criterion_main};
use nettwin_cni::seed::Seed;
use nettwin_core::names::NetnsName;
use nettwin_core::op::Op;
use nettwin_core::state::State;
use nettwin_nomad::client::ClientConfig;
use nettwin_nomad::jobspec::{Group, Job, Network, NetworkMode, PortSpec};
use nettwin_nomad::planner::Planner;

/// The `nettwin` binary's allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every address of 172.26.64.0/20 but the network, the gateway and the broadcast.
const ALLOCS: u32 = 4093;

/// One group of 4,093 bridge-mode allocations, each with `ports` dynamic ports.
fn job(ports: usize) -> Job {
    let ports = (0..ports)
        .map(|i| PortSpec { label: format!("p{i}"), static_port: None, to: Some(8080) })
        .collect();
    Job {
        name: "fleet".into(),
        groups: vec![Group {
            name: "web".into(),
            count: ALLOCS,
            network: Network { mode: NetworkMode::Bridge, ports },
        }],
    }
}

fn host() -> NetnsName {
    NetnsName::new("host").unwrap_or_else(|e| panic!("{e}"))
}

fn plan(job: &Job) -> Planner {
    let client = ClientConfig::defaults(Ipv4Addr::new(192, 0, 2, 10));
    let mut p = Planner::new(client, host(), Seed(1)).unwrap_or_else(|e| panic!("{e}"));
    let plan = p.plan_job(job).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.len(), ALLOCS as usize);
    p
}

fn bench(c: &mut Criterion) {
    let job = job(1);
    let mut g = c.benchmark_group("nomad");
    g.sample_size(10);
    let no_ports = self::job(0);
    g.bench_function("plan_slash20_no_ports", |b| b.iter_with_large_drop(|| plan(&no_ports)));
    // Dropping the result (some 200,000 heap objects) is not part of planning: measured
    // apart by `drop_slash20`.
    g.bench_function("plan_slash20", |b| b.iter_with_large_drop(|| plan(&job)));
    g.bench_function("drop_slash20", |b| {
        b.iter_batched(|| plan(&job), drop, criterion::BatchSize::PerIteration)
    });
    let client = ClientConfig::defaults(Ipv4Addr::new(192, 0, 2, 10));
    let mut p = Planner::new(client, host(), Seed(1)).unwrap_or_else(|e| panic!("{e}"));
    let ops: Vec<Op> = p
        .plan_job(&job)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .flat_map(|a| a.setup.into_iter().chain(a.tasks))
        .collect();
    g.bench_function("replay_slash20", |b| {
        b.iter_with_large_drop(|| {
            let mut s = State::new();
            s.apply(&Op::NetnsAdd { name: host() }).unwrap_or_else(|e| panic!("{e}"));
            for op in &ops {
                s.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
            }
            s
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
