//! Apply and trace on a Nomad host with 10, 100, 1,000 and 4,093 allocations, each with two
//! port mappings (tcp and udp) and the full CNI rule set.
//!
//! `apply`: every op that builds the host, from nothing. `trace`: one probe from the world
//! through a mapped host port of the middle allocation (DNAT, forward, bridge, delivery
//! and the SYN-ACK back), on a host whose indexes are built. Target (issue 2): median trace
//! ≤ 5 µs at 1,000 allocations, ≤ 2× growth from 100 to 4,093.
//!
//! Run: `cargo bench -p nettwin-sim --bench trace`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::backend::Backend;
use nettwin_core::trace::Probe;
use nettwin_sim::SimBackend;

const SIZES: [u32; 4] = [10, 100, 1000, 4093];

fn build(ops: &[nettwin_core::op::Op]) -> SimBackend {
    let mut sim = SimBackend::new();
    for op in ops {
        if let Err(e) = sim.apply(op) {
            panic!("bench op `{op}` failed: {e}");
        }
    }
    sim
}

fn apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply");
    g.sample_size(10);
    for n in SIZES {
        let ops = support::host_ops(&support::many_allocs(n));
        g.throughput(criterion::Throughput::Elements(ops.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &ops, |b, ops| {
            b.iter(|| black_box(build(ops)));
        });
    }
    g.finish();
}

fn trace(c: &mut Criterion) {
    let mut g = c.benchmark_group("trace");
    for n in SIZES {
        let allocs = support::many_allocs(n);
        let mut sim = build(&support::host_ops(&allocs));
        let middle = &allocs[allocs.len() / 2];
        let probe = Probe {
            name: "world to the middle allocation".into(),
            from: "world".parse().unwrap_or_else(|e| panic!("{e}")),
            src: None,
            sport: Some(40000),
            dst: Endpoint::new([192, 0, 2, 10].into(), middle.ports[0].0),
            proto: Proto::Tcp,
        };
        let first = sim.probe(&probe).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.outcome.kind(), "delivered", "{:?}", first.outcome);
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| black_box(sim.probe(black_box(&probe))));
        });
    }
    g.finish();
}

criterion_group!(benches, trace, apply);
criterion_main!(benches);
