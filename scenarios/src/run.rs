//! The runner: applies a scenario's steps to any `Backend` (in one `apply_all` batch, so a
//! backend can batch the work), sends its probes, and compares every result with what the
//! scenario expects. Each unmet expectation is a `Mismatch` saying expected vs got.

use std::fmt;

use nettwin_core::backend::{Backend, BackendError};
use nettwin_core::error::OpError;
use nettwin_core::op::{Effect, Op};
use nettwin_core::trace::Trace;

use crate::scenario::{ExpectedError, ProbeCase, Scenario, format_wire_path};
use nettwin_core::source::Place;

/// Why a scenario could not be run at all (as opposed to running and disagreeing).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--probe NAME` names no probe of the scenario.
    #[error("no probe named {name:?}; the probes are: {}", known.join(", "))]
    NoSuchProbe {
        /// The requested name.
        name: String,
        /// The scenario's probe names.
        known: Vec<String>,
    },
    /// The backend failed while sending a probe.
    #[error("probe {probe:?} could not be sent on the {backend} backend")]
    Probe {
        /// The probe.
        probe: String,
        /// The backend's name.
        backend: &'static str,
        /// Why.
        #[source]
        source: BackendError,
    },
}

/// What one run of a scenario produced.
#[derive(Clone, Debug)]
pub struct Run {
    /// The backend's name.
    pub backend: &'static str,
    /// Each step's result, in step order.
    pub steps: Vec<Result<Effect, OpError>>,
    /// The traces of the probes that ran, in scenario order.
    pub traces: Vec<ProbeRun>,
    /// Every unmet expectation, steps first, then probes.
    pub mismatches: Vec<Mismatch>,
}

/// One probe's trace.
#[derive(Clone, Debug)]
pub struct ProbeRun {
    /// The probe's position in `Scenario::probes`.
    pub index: usize,
    /// What happened to it.
    pub trace: Trace,
}

impl Run {
    /// Whether every expectation was met.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// An unmet expectation.
#[derive(Clone, PartialEq, Debug)]
pub enum Mismatch {
    /// A step that should have succeeded failed.
    StepFailed {
        /// The step's op text.
        text: String,
        /// Where it is.
        place: Place,
        /// The refusal.
        got: OpError,
    },
    /// A step that should have failed succeeded.
    StepSucceeded {
        /// The step's op text.
        text: String,
        /// Where it is.
        place: Place,
        /// The refusal that was expected.
        expected: ExpectedError,
    },
    /// A step failed, but not as expected.
    StepFailedOtherwise {
        /// The step's op text.
        text: String,
        /// Where it is.
        place: Place,
        /// The refusal that was expected.
        expected: ExpectedError,
        /// The refusal that came.
        got: OpError,
    },
    /// A probe's result differs from its expectation in one field.
    Probe {
        /// The probe's name.
        probe: String,
        /// Where the probe is.
        place: Place,
        /// Which field (`outcome`, `at`, `seen_src`, `path`).
        field: &'static str,
        /// What was expected.
        expected: String,
        /// What came.
        got: String,
    },
}

impl Mismatch {
    /// The probe this mismatch is about, if any.
    pub fn probe(&self) -> Option<&str> {
        match self {
            Mismatch::Probe { probe, .. } => Some(probe),
            _ => None,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::StepFailed { text, place, got } => {
                write!(f, "line {}: step `{text}` failed: {got} [{}]", place.line, got.kind)
            }
            Mismatch::StepSucceeded { text, place, expected } => {
                write!(f, "line {}: step `{text}`: expected {expected}, got success", place.line)
            }
            Mismatch::StepFailedOtherwise { text, place, expected, got } => write!(
                f,
                "line {}: step `{text}`: expected {expected}, got {} ({got})",
                place.line, got.kind
            ),
            Mismatch::Probe { probe, place, field, expected, got } => write!(
                f,
                "line {}: probe {probe:?}: {field}: expected {expected}, got {got}",
                place.line
            ),
        }
    }
}

/// Applies the steps of `scenario` to `backend` in one `apply_all` batch, and checks each
/// result against the step's expectation. Returns the results and the unmet expectations.
pub fn apply_steps(
    scenario: &Scenario,
    backend: &mut dyn Backend,
) -> (Vec<Result<Effect, OpError>>, Vec<Mismatch>) {
    let ops: Vec<Op> = scenario.steps.iter().map(|s| s.op.clone()).collect();
    let results = backend.apply_all(&ops);
    let mut mismatches = Vec::new();
    for (step, result) in scenario.steps.iter().zip(&results) {
        let text = || step.text().into_owned();
        let place = step.place.clone();
        match (&step.expect, result) {
            (None, Ok(_)) => {}
            (None, Err(got)) => {
                mismatches.push(Mismatch::StepFailed { text: text(), place, got: got.clone() })
            }
            (Some(expected), Ok(_)) => mismatches.push(Mismatch::StepSucceeded {
                text: text(),
                place,
                expected: expected.clone(),
            }),
            (Some(expected), Err(got)) if !expected.matches(got) => {
                mismatches.push(Mismatch::StepFailedOtherwise {
                    text: text(),
                    place,
                    expected: expected.clone(),
                    got: got.clone(),
                })
            }
            (Some(_), Err(_)) => {}
        }
    }
    (results, mismatches)
}

/// Applies `scenario` to `backend` and checks it. With `only`, sends just that probe (and
/// the probes before it, unchecked).
pub fn run(
    scenario: &Scenario,
    backend: &mut dyn Backend,
    only: Option<&str>,
) -> Result<Run, RunError> {
    let selected: Vec<usize> = match only {
        None => (0..scenario.probes.len()).collect(),
        Some(name) => {
            let found = scenario.probes.iter().position(|p| p.probe.name == name);
            let Some(i) = found else {
                return Err(RunError::NoSuchProbe {
                    name: name.to_owned(),
                    known: scenario.probes.iter().map(|p| p.probe.name.clone()).collect(),
                });
            };
            vec![i]
        }
    };
    let (results, mut mismatches) = apply_steps(scenario, backend);
    let mut traces = Vec::new();
    // Probes before the selected one are still sent (in order), so that default source
    // ports and conntrack state are the same whether one probe or all are traced.
    let last = selected.iter().max().map_or(0, |i| i + 1);
    for (index, case) in scenario.probes.iter().enumerate().take(last) {
        let trace = backend.probe(&case.probe).map_err(|source| RunError::Probe {
            probe: case.probe.name.clone(),
            backend: backend.name(),
            source,
        })?;
        if selected.contains(&index) {
            check_probe(case, &trace, &mut mismatches);
            traces.push(ProbeRun { index, trace });
        }
    }
    Ok(Run { backend: backend.name(), steps: results, traces, mismatches })
}

fn check_probe(case: &ProbeCase, trace: &Trace, out: &mut Vec<Mismatch>) {
    let mut push = |field: &'static str, expected: String, got: String| {
        out.push(Mismatch::Probe {
            probe: case.probe.name.clone(),
            place: case.place.clone(),
            field,
            expected,
            got,
        });
    };
    let e = &case.expect;
    let got = &trace.outcome;
    if got.kind() != e.outcome.as_str() {
        push("outcome", e.outcome.to_string(), got.kind().to_owned());
    }
    if let Some(at) = &e.at {
        let where_ = got.netns().as_str();
        if where_ != at.as_str() {
            push("at", at.to_string(), where_.to_owned());
        }
    }
    if let Some(src) = &e.seen_src {
        match got.seen_src() {
            Some(s) if src.matches(s) => {}
            Some(s) => push("seen_src", src.to_string(), s.to_string()),
            None => push("seen_src", src.to_string(), format!("nothing ({})", got.kind())),
        }
    }
    if let Some(path) = &e.path {
        let wire = trace.wire_path();
        if !path.matches(&wire) {
            push("path", path.to_string(), format_wire_path(&wire));
        }
    }
}
