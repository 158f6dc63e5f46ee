//! Survey: runs a suite's cases without shrinking and prints every disagreement, grouped by
//! a rough signature, to find many at once while fixing the simulator.
//!
//! `cargo run -p nettwin-tests --example survey -- SUITE CASES [SEED]`

use std::collections::BTreeMap;

use nettwin_tests::cases;
use nettwin_tests::harness::Case;
use nettwin_tests::harness::run_case;
use nettwin_tests::runner::failures_dir;
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

fn signature(report: &str) -> String {
    let first = report.lines().next().unwrap_or_default();
    let words: Vec<&str> = first.split_whitespace().collect();
    if first.starts_with("line ") {
        // line N: step `ip -n a link set ...`
        let op: Vec<&str> =
            first.split('`').nth(1).unwrap_or_default().split_whitespace().collect();
        let verb: Vec<&str> = op
            .iter()
            .filter(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
            .take(6)
            .copied()
            .collect();
        let sides: Vec<&str> = report
            .lines()
            .skip(1)
            .take(2)
            .map(|l| l.split_whitespace().nth(1).unwrap_or_default())
            .collect();
        return format!("step {} {:?}", verb.join(" "), sides);
    }
    if first.starts_with("state:") {
        let path = words.get(1).unwrap_or(&"");
        let generic: Vec<&str> = path
            .split('/')
            .enumerate()
            .filter(|(i, _)| *i != 1 && *i != 3)
            .map(|(_, p)| p)
            .collect();
        return format!("state {}", generic.join("/"));
    }
    if first.starts_with("probe") {
        let field = first.rsplit(':').next().unwrap_or_default().trim();
        let sides: Vec<String> = report
            .lines()
            .skip(1)
            .take(2)
            .map(|l| l.split_whitespace().skip(1).take(1).collect::<Vec<_>>().join(" "))
            .collect();
        return format!("probe {field} {:?}", sides);
    }
    first.chars().take(60).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let suite = args.get(1).map_or("topology", String::as_str);
    let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let strategy = strategy(suite);
    let mut runner =
        TestRunner::new(Config { rng_seed: RngSeed::Fixed(seed), ..Config::default() });
    let mut groups: BTreeMap<String, (u32, String)> = BTreeMap::new();
    let started = std::time::Instant::now();
    let mut failed = 0;
    let (mut ops, mut ok_ops) = (0usize, 0usize);
    let mut outcomes: BTreeMap<String, u32> = BTreeMap::new();
    let dir = failures_dir();
    let _ = std::fs::create_dir_all(&dir);
    for _ in 0..n {
        let case = strategy.new_tree(&mut runner).expect("tree").current();
        let mut sim = nettwin_sim::SimBackend::new();
        let mut linux = nettwin_linux::LinuxBackend::new().expect("linux");
        let c = match run_case(&case, &mut sim, &mut linux) {
            Ok(c) => c,
            Err(e) => {
                failed += 1;
                let e = e.to_string();
                if std::env::var_os("SURVEY_ALL").is_some() {
                    eprintln!("---- case\n{case:?}\n{e}");
                }
                let entry = groups.entry(signature(&e)).or_insert((0, String::new()));
                entry.0 += 1;
                entry.1 = format!("{case:?}\n{e}");
                continue;
            }
        };
        drop(linux);
        ops += c.linux.results.len();
        ok_ops += c.linux.results.iter().filter(|r| r.is_ok()).count();
        for t in &c.linux.traces {
            let hops = t.wire_path().len();
            *outcomes.entry(format!("{} ({} hops)", t.outcome.kind(), hops.min(6))).or_default() +=
                1;
        }
        let prop = if suite == "teardown" && c.agree() {
            cases::teardown::property(&case, &c).err()
        } else {
            None
        };
        if !c.agree() || prop.is_some() {
            failed += 1;
            let body = prop.unwrap_or_else(|| c.report());
            if std::env::var_os("SURVEY_ALL").is_some() {
                eprintln!("---- case\n{case:?}\n{body}");
            }
            let sig = signature(&body);
            let k = sig.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            let e = groups.entry(sig).or_insert((0, String::new()));
            e.0 += 1;
            if e.1.is_empty() || format!("{case:?}").len() < e.1.len() {
                let file = dir.join(format!("survey-{suite}-{k:08x}.yaml"));
                let _ = std::fs::write(&file, c.draft.to_yaml());
                e.1 = format!("{}\n{case:?}\n{body}", file.display());
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} cases, {failed} failed, {secs:.1} s ({:.2} cases/s, sim and kernel)",
        f64::from(n) / secs
    );
    println!("ops: {ok_ops}/{ops} succeeded on the kernel");
    for (o, c) in &outcomes {
        println!("  probe {o}: {c}");
    }
    for (sig, (count, example)) in &groups {
        println!("\n=== {count}× {sig}\n{example}");
    }
}
