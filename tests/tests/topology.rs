//! The topology suite: random namespace, bridge, veth, link, address, route, sysctl and
//! socket ops, valid and invalid, then probes; the simulator must predict the kernel.

use nettwin_tests::cases::topology;
use nettwin_tests::runner::{Check, Suite, kernel_suite};

#[test]
fn random_topology_sequences_give_the_same_results_state_and_paths_on_sim_and_kernel() {
    let suite = Suite {
        name: "topology",
        default_cases: 64,
        regressions: "proptest-regressions/topology.txt",
    };
    kernel_suite(suite, topology::cases, Check::default());
}
