//! Every library scenario's text trace is an insta snapshot, reviewed like code
//! (`scenarios/tests/snapshots/`). With `CI=true` or `INSTA_UPDATE=no`, a changed or new
//! snapshot fails the test instead of being written.

use nettwin_core::trace::render;
use nettwin_scenarios::{load_file, run};
use nettwin_sim::SimBackend;

#[test]
fn library_scenario_traces_match_their_reviewed_snapshots() {
    insta::glob!("../library", "*.yaml", |path| {
        let scenario = load_file(path).unwrap_or_else(|e| panic!("{e}"));
        let run = run(&scenario, &mut SimBackend::new(), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(run.passed(), "{}: {:#?}", scenario.name, run.mismatches);
        let traces: Vec<String> = run.traces.iter().map(|t| render::text(&t.trace)).collect();
        insta::with_settings!({
            description => scenario.description.clone(),
            omit_expression => true,
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!("trace", traces.join("\n"));
        });
    });
}
