//! The teardown suite: random setups followed by their inverse, twice. On both backends
//! the teardown brings the state back to where it started and tearing down twice equals
//! once; and the simulator agrees with the kernel at every checkpoint.

use nettwin_linux::testing::require_linux;
use nettwin_tests::cases::teardown;
use nettwin_tests::runner::{Check, Suite, assert_suite, with_big_stack};

#[test]
fn a_setup_torn_down_once_or_twice_leaves_the_state_it_started_from_on_sim_and_kernel() {
    if !require_linux() {
        return;
    }
    with_big_stack(|| {
        let suite = Suite {
            name: "teardown",
            default_cases: 64,
            regressions: "proptest-regressions/teardown.txt",
        };
        let check = Check { property: Some(teardown::property), ..Check::default() };
        assert_suite(&suite, teardown::cases(), &check);
    });
}
