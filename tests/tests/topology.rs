//! The topology suite: random namespace, bridge, veth, link, address, route, sysctl and
//! socket ops, valid and invalid, then probes; the simulator must predict the kernel.

use nettwin_linux::testing::require_linux;
use nettwin_tests::cases::topology;
use nettwin_tests::runner::{Check, Suite, assert_suite, with_big_stack};

#[test]
fn random_topology_sequences_give_the_same_results_state_and_paths_on_sim_and_kernel() {
    if !require_linux() {
        return;
    }
    with_big_stack(|| {
        let suite = Suite {
            name: "topology",
            default_cases: 64,
            regressions: "proptest-regressions/topology.txt",
        };
        assert_suite(&suite, topology::cases(), &Check::default());
    });
}
