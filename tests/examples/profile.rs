//! Where a suite's kernel time goes: runs cases on the linux backend only and times each
//! phase (sandbox, apply, observe, probes by outcome).
//!
//! `cargo run --release -p nettwin-tests --example profile -- SUITE CASES`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nettwin_core::backend::Backend;
use nettwin_tests::cases;
use nettwin_tests::harness::Case;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};

fn strategy(suite: &str) -> BoxedStrategy<Case> {
    match suite {
        "topology" => cases::topology::cases().boxed(),
        "firewall" => cases::firewall::cases().boxed(),
        "teardown" => cases::teardown::cases().boxed(),
        other => panic!("unknown suite {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let suite = args.get(1).map_or("topology", String::as_str);
    let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let strategy = strategy(suite);
    let mut runner = TestRunner::new(Config { rng_seed: RngSeed::Fixed(7), ..Config::default() });
    let mut t: BTreeMap<String, (u32, Duration)> = BTreeMap::new();
    let mut add = |k: &str, d: Duration| {
        let e = t.entry(k.to_owned()).or_insert((0, Duration::ZERO));
        e.0 += 1;
        e.1 += d;
    };
    let started = Instant::now();
    for _ in 0..n {
        let case = strategy.new_tree(&mut runner).expect("tree").current();
        let t0 = Instant::now();
        let mut linux = nettwin_linux::LinuxBackend::new().expect("linux");
        add("sandbox", t0.elapsed());
        let t0 = Instant::now();
        let _ = linux.apply_all(&case.steps);
        add("apply", t0.elapsed());
        let t0 = Instant::now();
        let snap = linux.observe().expect("observe");
        add("observe", t0.elapsed());
        for p in &case.probes {
            if !snap.namespaces.contains_key(&p.from) {
                continue;
            }
            let t0 = Instant::now();
            let tr = match linux.probe(p) {
                Ok(tr) => tr,
                Err(e) => {
                    println!("{case:?}\n{e:?}");
                    continue;
                }
            };
            add(&format!("probe {}", tr.outcome.kind()), t0.elapsed());
        }
        let t0 = Instant::now();
        drop(linux);
        add("drop", t0.elapsed());
    }
    let total = started.elapsed();
    println!(
        "{n} cases in {:.2} s: {:.2} cases/s",
        total.as_secs_f64(),
        f64::from(n) / total.as_secs_f64()
    );
    for (k, (c, d)) in &t {
        println!(
            "{k:>20}: {c:5} × {:7.2} ms = {:7.2} s",
            d.as_secs_f64() * 1000.0 / f64::from(*c),
            d.as_secs_f64()
        );
    }
}
