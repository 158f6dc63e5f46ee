//! The firewall suite: random filter and nat rule sets (with a few sysctl and hairpin
//! changes) on a fixed Nomad-like bridge host with listeners, then random probes between
//! the world, the host and two allocations; the simulator must predict the kernel.

use nettwin_tests::cases::firewall;
use nettwin_tests::runner::{Check, Suite, kernel_suite};

#[test]
fn random_rule_sets_give_the_same_results_state_and_paths_on_sim_and_kernel() {
    let suite = Suite {
        name: "firewall",
        default_cases: 64,
        regressions: "proptest-regressions/firewall.txt",
    };
    kernel_suite(suite, firewall::cases, Check::default());
}
