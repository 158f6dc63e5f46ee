//! nettwin-scenarios: the scenario format, its loader and the runner that checks a scenario
//! against any `Backend`. This is the only crate with YAML types.
//!
//! - `source`: the file text, places (line, column, bytes) and the mapping of a token inside
//!   a YAML scalar back to the file.
//! - `format`: the file's shape as serde types (`deny_unknown_fields`, `Spanned` values).
//! - `scenario`: the validated scenario: steps (ops, expected errors), probes, expectations.
//! - `load`: YAML → `Scenario`, every refusal a located `Problem` (`error`).
//! - `nomad`: the `nomad:` section expanded by the Nomad planner (`nettwin_nomad`) into steps, and the group
//!   names probes may use for allocations.
//! - `run`: apply, probe, compare; each unmet expectation a `Mismatch`.
//! - `compare`: two runs (sim and kernel) compared: step result kinds, state, probes.
//! - `discover`: scenario files under the paths given on the command line.
//! - `write`: a scenario as data (`Draft`) printed as a file that loads back; what the
//!   differential suites write their counterexamples with.
//!
//! Not here: trace rendering (`nettwin_core::trace::render`), state rendering
//! (`nettwin_core::show`), terminal output (the `nettwin` binary).

#![forbid(unsafe_code)]

pub mod compare;
pub mod discover;
pub mod error;
pub mod format;
pub mod load;
pub mod nomad;
pub mod run;
pub mod scenario;
pub mod source;
pub mod write;

pub use error::{InvalidScenario, LoadError, Problem, ProblemKind};
pub use load::{load_file, load_str};
pub use run::{Mismatch, Run, RunError, run};
pub use scenario::Scenario;
