//! The nomad suite: random jobs (host and bridge mode, static and dynamic ports) and client
//! settings, planned by the Nomad planner on the standard host; the planned ADDs, then
//! DELs of some allocations and new placements, applied to both backends; then probes
//! between the world, the host and the allocations. The simulator must predict the
//! kernel: every op's result, the state after the ADDs and at the end, every probe.

use nettwin_tests::cases::nomad;
use nettwin_tests::runner::{Check, Suite, kernel_suite};

#[test]
fn random_nomad_jobs_give_the_same_results_state_and_paths_on_sim_and_kernel() {
    let suite =
        Suite { name: "nomad", default_cases: 64, regressions: "proptest-regressions/nomad.txt" };
    kernel_suite(suite, nomad::cases, Check::default());
}
