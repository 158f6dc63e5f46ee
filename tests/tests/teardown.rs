//! The teardown suite: random setups followed by their inverse, twice. On both backends
//! the teardown brings the state back to where it started and tearing down twice equals
//! once; and the simulator agrees with the kernel at every checkpoint.

use nettwin_tests::cases::teardown;
use nettwin_tests::runner::{Check, Suite, kernel_suite};

#[test]
fn a_setup_torn_down_once_or_twice_leaves_the_state_it_started_from_on_sim_and_kernel() {
    let suite = Suite {
        name: "teardown",
        default_cases: 64,
        regressions: "proptest-regressions/teardown.txt",
    };
    kernel_suite(
        suite,
        teardown::cases,
        Check { property: Some(teardown::property), ..Check::default() },
    );
}
