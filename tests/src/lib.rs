//! nettwin-tests: the differential property suites that make the simulator trustworthy,
//! and what they are built from.
//!
//! - `harness`: one `Case` (ops, probes) on the simulator and on the kernel, compared with
//!   `nettwin_scenarios::compare` on the scenario the case would be written as.
//! - `cases`: the generators of each suite's cases.
//! - `runner`: proptest around the harness: case counts (`NETTWIN_PROPTEST_CASES`), seeds,
//!   regression files, and the shrunk counterexample written as a scenario file.
//!
//! The suites themselves are `tests/*.rs`: `topology`, `firewall`, `teardown`, `nomad`, the
//! scenario library on both backends (`library`), and the proof that a wrong simulator is
//! caught (`wrong_sim`). Every one that needs the kernel goes through
//! `runner::kernel_suite` or starts with `nettwin_linux::testing::require_linux()`.

#![forbid(unsafe_code)]

pub mod cases;
pub mod harness;
pub mod runner;
