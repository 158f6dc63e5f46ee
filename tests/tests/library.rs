//! The whole scenario library on both backends: every scenario meets its expectations on
//! the simulator and on the kernel, and the two agree on every step, the final state and
//! every probe (`nettwin --backend both check scenarios/library/`, as a test).

use std::fmt::Write as _;
use std::path::PathBuf;

use nettwin_core::backend::Backend;
use nettwin_linux::LinuxBackend;
use nettwin_linux::testing::require_linux;
use nettwin_scenarios::compare::{Sides, compare};
use nettwin_scenarios::discover::scenario_files;
use nettwin_scenarios::{Run, Scenario, load_file};
use nettwin_sim::SimBackend;

fn library() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/library");
    scenario_files(&[dir]).unwrap_or_else(|e| panic!("the library is readable: {e}"))
}

fn run(scenario: &Scenario, b: &mut dyn Backend) -> (Run, nettwin_core::snapshot::Snapshot) {
    let name = b.name();
    let run = nettwin_scenarios::run(scenario, b, None)
        .unwrap_or_else(|e| panic!("{} on {name}: {e}", scenario.name));
    let state = b.observe().unwrap_or_else(|e| panic!("{} on {name}: {e}", scenario.name));
    (run, state)
}

#[test]
fn every_library_scenario_meets_its_expectations_on_sim_and_kernel_and_they_agree() {
    if !require_linux() {
        return;
    }
    let files = library();
    assert!(files.len() >= 12, "only {} scenarios", files.len());
    let mut problems = String::new();
    for file in &files {
        let scenario = load_file(file).unwrap_or_else(|e| panic!("{e}"));
        let mut linux = LinuxBackend::new().unwrap_or_else(|e| panic!("{e}"));
        let sim = run(&scenario, &mut SimBackend::new());
        let kernel = run(&scenario, &mut linux);
        for (r, _) in [&sim, &kernel] {
            for m in &r.mismatches {
                let _ = writeln!(problems, "{} on {}: {m}", scenario.name, r.backend);
            }
        }
        let sides = Sides { left: "sim", right: "linux" };
        for d in compare(&scenario, (&sim.0, &sim.1), (&kernel.0, &kernel.1)) {
            let _ = writeln!(problems, "{}: {}", scenario.name, d.render(&sides));
        }
    }
    assert!(problems.is_empty(), "{} scenarios, with problems:\n{problems}", files.len());
}
