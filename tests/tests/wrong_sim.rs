//! The comparison can fail: a simulator that ignores `net.ipv4.ip_forward` (a test-only
//! fault) is caught by the topology suite and shrunk to a small case, written out as a
//! scenario that replays the disagreement; the real simulator agrees with the kernel on
//! that very case.

use nettwin_linux::testing::require_linux;
use nettwin_sim::{Fault, SimBackend};
use nettwin_tests::cases::topology;
use nettwin_tests::runner::{Check, Suite, check_case, run_suite, with_big_stack};

fn wrong_sim() -> SimBackend {
    SimBackend::new().with_fault(Fault::IgnoreIpForward)
}

#[test]
fn a_simulator_that_ignores_ip_forward_is_caught_and_shrunk_to_a_small_case() {
    if !require_linux() {
        return;
    }
    with_big_stack(|| {
        let suite = Suite {
            name: "wrong_sim",
            default_cases: 256,
            regressions: "proptest-regressions/wrong_sim.txt",
        };
        let outcome =
            run_suite(&suite, topology::cases(), &Check { sim: wrong_sim, property: None });
        let failure = outcome.failure.unwrap_or_else(|| {
            panic!("{} cases and the wrong simulator was not caught", outcome.cases)
        });
        let case = &failure.case;
        // Small: a router between two namespaces takes about a dozen ops; no more than that
        // and one probe survive shrinking.
        assert!(case.steps.len() <= 16, "not shrunk: {} steps\n{case:?}", case.steps.len());
        assert_eq!(case.probes.len(), 1, "not shrunk: {case:?}");
        // What disagrees is a probe (forwarding changes no op result and no state).
        assert!(failure.reason.contains("probe \""), "{}", failure.reason);
        assert!(!failure.reason.contains("step `"), "{}", failure.reason);
        // The fault is the cause: the real simulator agrees with the kernel on this case.
        if let Err(e) = check_case(case, &Check::default()) {
            panic!("the real simulator disagrees too:\n{e}\n{case:?}");
        }
        // The counterexample was written, loads, and holds the shrunk case.
        let file = failure.file.unwrap_or_else(|| panic!("no counterexample file"));
        let scenario = nettwin_scenarios::load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let ops: Vec<_> = scenario.steps.iter().map(|s| s.op.clone()).collect();
        assert_eq!(ops, case.steps);
    });
}
