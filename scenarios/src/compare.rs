//! Comparing two runs of one scenario (the simulator and the kernel): per-step result
//! kinds, the observed state (`Snapshot::diff`), probe outcomes (with the reason for a
//! silence, where both name one) and wire paths. Each
//! difference is a `Disagreement` that prints both sides.

use std::fmt;

use nettwin_core::error::OpError;
use nettwin_core::op::Effect;
use nettwin_core::snapshot::Snapshot;
use nettwin_core::trace::{Outcome, Silence, Trace};

use crate::run::Run;
use crate::scenario::{Scenario, format_wire_path};

/// One thing two backends disagree on.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Disagreement {
    /// A step's result kind (`ok` or an error kind) differs.
    Step {
        /// 1-based line of the step.
        line: usize,
        /// The op text.
        text: String,
        /// Left result.
        left: String,
        /// Right result.
        right: String,
    },
    /// The observed state differs (one `Snapshot::diff` line).
    State {
        /// The diff line (`path: left != right`).
        line: String,
    },
    /// A probe's outcome, place, seen source or wire path differs.
    Probe {
        /// The probe's name.
        probe: String,
        /// Which part (`outcome`, `seen_src`, `silence`, `path`, `reply path`).
        field: &'static str,
        /// Left value.
        left: String,
        /// Right value.
        right: String,
    },
}

/// Two runs and their names, ready to compare.
#[derive(Debug)]
pub struct Sides<'a> {
    /// The left backend's name.
    pub left: &'a str,
    /// The right backend's name.
    pub right: &'a str,
}

impl Disagreement {
    /// Renders the disagreement with the backends' names on each side.
    pub fn render(&self, sides: &Sides<'_>) -> String {
        let (l, r) = (sides.left, sides.right);
        match self {
            Disagreement::Step { line, text, left, right } => {
                format!("line {line}: step `{text}`\n    {l:<6} {left}\n    {r:<6} {right}")
            }
            Disagreement::State { line } => format!("state: {line}  ({l} != {r})"),
            Disagreement::Probe { probe, field, left, right } => {
                format!("probe {probe:?}: {field}\n    {l:<6} {left}\n    {r:<6} {right}")
            }
        }
    }
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&Sides { left: "left", right: "right" }))
    }
}

/// `ok`, or the error's kind and message.
fn result_text(r: &Result<Effect, OpError>) -> String {
    match r {
        Ok(Effect::Done) => "ok".to_owned(),
        Ok(Effect::Allocated(a)) => format!("ok (allocated {a})"),
        Err(e) => format!("{} ({e})", e.kind),
    }
}

fn result_kind(r: &Result<Effect, OpError>) -> Option<nettwin_core::error::ErrorKind> {
    r.as_ref().err().map(|e| e.kind)
}

/// Every disagreement between two runs of `scenario` and their final states.
pub fn compare(
    scenario: &Scenario,
    left: (&Run, &Snapshot),
    right: (&Run, &Snapshot),
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let (Some(a), Some(b)) = (left.0.steps.get(i), right.0.steps.get(i)) else { continue };
        if result_kind(a) != result_kind(b) {
            out.push(Disagreement::Step {
                line: step.place.line,
                text: step.text().into_owned(),
                left: result_text(a),
                right: result_text(b),
            });
        }
    }
    out.extend(left.1.diff(right.1).into_iter().map(|line| Disagreement::State { line }));
    for a in &left.0.traces {
        let Some(b) = right.0.traces.iter().find(|b| b.index == a.index) else { continue };
        compare_traces(&a.trace, &b.trace, &mut out);
    }
    out
}

fn compare_traces(a: &Trace, b: &Trace, out: &mut Vec<Disagreement>) {
    let mut push = |field, left: String, right: String| {
        if left != right {
            out.push(Disagreement::Probe { probe: a.probe.name.clone(), field, left, right });
        }
    };
    let outcome = |t: &Trace| format!("{} at {}", t.outcome.kind(), t.outcome.netns());
    push("outcome", outcome(a), outcome(b));
    // A source port the kernel draws at random agrees when it lies in the drawn range.
    let drawn = a.drawn_port().or_else(|| b.drawn_port());
    let seen = |t: &Trace| match (t.outcome.seen_src(), drawn) {
        (None, _) => "-".to_owned(),
        (Some(s), Some(r)) if r.contains(s.port) => {
            format!("{}:<drawn from {}-{}>", s.ip, r.lo, r.hi)
        }
        (Some(s), _) => s.to_string(),
    };
    push("seen_src", seen(a), seen(b));
    // Why a probe went unanswered, where both backends name a reason (the kernel's
    // diagnosis is read from its state and may find none: `no-answer`).
    if let (Outcome::TimedOut { why: x, .. }, Outcome::TimedOut { why: y, .. }) =
        (&a.outcome, &b.outcome)
        && *x != Silence::NoAnswer
        && *y != Silence::NoAnswer
    {
        push("silence", x.to_string(), y.to_string());
    }
    push("path", format_wire_path(&a.wire_path()), format_wire_path(&b.wire_path()));
    push(
        "reply path",
        format_wire_path(&a.reply_wire_path()),
        format_wire_path(&b.reply_wire_path()),
    );
}
