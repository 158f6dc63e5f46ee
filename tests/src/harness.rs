//! The differential harness: one case (ops, probes) run on the simulator and on the kernel,
//! each in a fresh backend, and compared with the same comparison `nettwin --backend both`
//! uses (`nettwin_scenarios::compare`): every step's result kind, the observed state,
//! every probe's outcome, place, seen source and wire paths.
//!
//! The comparison runs on the scenario a failure would be written as: the case printed by
//! the scenario writer with the kernel's results as expectations, and loaded back. So the
//! writer is exercised by every case, and a written counterexample replays exactly what
//! was compared.

use std::fmt;

use nettwin_core::backend::{Backend, BackendError};
use nettwin_core::error::OpError;
use nettwin_core::op::{Effect, Op};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::trace::{Probe, Trace};
use nettwin_scenarios::compare::{Disagreement, Sides, compare};
use nettwin_scenarios::run::{ProbeRun, Run};
use nettwin_scenarios::write::{Draft, DraftProbe, DraftStep, expectation_of};
use nettwin_scenarios::{Scenario, load_str};

/// One generated case: steps applied in order, then probes sent in order.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Case {
    /// The ops.
    pub steps: Vec<Op>,
    /// The probes (named by the harness; `name` is ignored).
    pub probes: Vec<Probe>,
    /// Observe both backends after this many steps, too (ascending; the final state is
    /// always observed). The teardown suite checks properties of these states.
    pub checkpoints: Vec<usize>,
}

impl fmt::Debug for Case {
    /// The op texts one per line, then the probes: what a failure prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Case {{")?;
        for (i, op) in self.steps.iter().enumerate() {
            if self.checkpoints.contains(&i) {
                writeln!(f, "  -- checkpoint --")?;
            }
            writeln!(f, "  {op}")?;
        }
        for p in &self.probes {
            writeln!(f, "  probe {}", probe_label(p))?;
        }
        write!(f, "}}")
    }
}

/// `from → dst/proto`, with the pinned source when there is one.
pub fn probe_label(p: &Probe) -> String {
    let to = if p.proto.has_ports() { p.dst.to_string() } else { p.dst.ip.to_string() };
    let src = p.src.map(|s| format!(" src {s}")).unwrap_or_default();
    let sport = p.sport.map(|s| format!(" sport {s}")).unwrap_or_default();
    format!("{} → {to}/{}{src}{sport}", p.from, p.proto)
}

/// Why a case could not be compared at all.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A backend failed (as opposed to refusing an op or losing a packet).
    #[error("the {backend} backend failed: {}", chain(source))]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What failed.
        #[source]
        source: BackendError,
    },
    /// The scenario writer produced a file the loader refuses (a bug of the writer).
    #[error("the written scenario does not load: {0}\n{1}")]
    Writer(String, String),
}

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(&format!(": {s}"));
        next = s.source();
    }
    out
}

fn backend_error(backend: &'static str) -> impl Fn(BackendError) -> HarnessError {
    move |source| HarnessError::Backend { backend, source }
}

/// One backend's side of a case.
#[derive(Clone, Debug)]
pub struct Side {
    /// Each step's result.
    pub results: Vec<Result<Effect, OpError>>,
    /// The state at each checkpoint, then the final state.
    pub states: Vec<Snapshot>,
    /// The traces of the probes that were sent.
    pub traces: Vec<Trace>,
}

impl Side {
    /// The final state.
    pub fn last_state(&self) -> &Snapshot {
        self.states.last().unwrap_or_else(|| unreachable!("the final state is always observed"))
    }
}

/// A case run on both backends.
#[derive(Debug)]
pub struct Compared {
    /// The simulator's side.
    pub sim: Side,
    /// The kernel's side.
    pub linux: Side,
    /// The case as a scenario with the kernel's results as expectations.
    pub draft: Draft,
    /// Every disagreement (empty when the backends agree).
    pub disagreements: Vec<Disagreement>,
    /// Disagreements of the states at the checkpoints (`checkpoint N: ...`).
    pub checkpoint_disagreements: Vec<String>,
}

impl Compared {
    /// Whether the backends agree on everything.
    pub fn agree(&self) -> bool {
        self.disagreements.is_empty() && self.checkpoint_disagreements.is_empty()
    }

    /// Every disagreement, side by side, one block each.
    pub fn report(&self) -> String {
        let sides = Sides { left: "sim", right: "linux" };
        let mut out = String::new();
        for d in &self.checkpoint_disagreements {
            out.push_str(d);
            out.push('\n');
        }
        for d in &self.disagreements {
            out.push_str(&d.render(&sides));
            out.push('\n');
        }
        out
    }
}

/// Each step's result.
type Results = Vec<Result<Effect, OpError>>;

/// Applies the case's steps (one `apply_all` batch per run of steps between checkpoints),
/// observing at each checkpoint and at the end.
fn apply(case: &Case, b: &mut dyn Backend) -> Result<(Results, Vec<Snapshot>), BackendError> {
    let mut results = Vec::with_capacity(case.steps.len());
    let mut states = Vec::new();
    let mut from = 0;
    for &cut in case.checkpoints.iter().filter(|c| **c <= case.steps.len()) {
        results.extend(b.apply_all(&case.steps[from..cut.max(from)]));
        states.push(b.observe()?);
        from = cut.max(from);
    }
    results.extend(b.apply_all(&case.steps[from..]));
    states.push(b.observe()?);
    Ok((results, states))
}

/// Whether `probe` can be sent on a backend whose state is `state`: its namespace exists,
/// and a pinned source is one of its addresses.
fn sendable(probe: &Probe, state: &Snapshot) -> bool {
    let Some(ns) = state.namespaces.get(&probe.from) else { return false };
    probe.src.is_none_or(|src| ns.links.values().any(|l| l.addrs.iter().any(|a| a.ip == src)))
}

/// Runs `case` on the simulator and the kernel (fresh backends given by the caller) and
/// compares them.
pub fn run_case(
    case: &Case,
    sim: &mut dyn Backend,
    linux: &mut dyn Backend,
) -> Result<Compared, HarnessError> {
    let (sim_results, sim_states) = apply(case, sim).map_err(backend_error("sim"))?;
    let (linux_results, linux_states) = apply(case, linux).map_err(backend_error("linux"))?;
    let (sim_last, linux_last) =
        (&sim_states[sim_states.len() - 1], &linux_states[linux_states.len() - 1]);
    // Probes go out only where both backends can send them, named by their position.
    let probes: Vec<Probe> = case
        .probes
        .iter()
        .filter(|p| sendable(p, sim_last) && sendable(p, linux_last))
        .enumerate()
        .map(|(i, p)| Probe { name: format!("p{} {}", i + 1, probe_label(p)), ..p.clone() })
        .collect();
    let mut sim_traces = Vec::new();
    let mut linux_traces = Vec::new();
    for p in &probes {
        sim_traces.push(sim.probe(p).map_err(backend_error("sim"))?);
        linux_traces.push(linux.probe(p).map_err(backend_error("linux"))?);
    }
    let draft = draft_of(case, &probes, &linux_results, &linux_traces);
    let scenario = load_draft(&draft)?;
    // The file must replay exactly what ran.
    let same = scenario.steps.len() == case.steps.len()
        && scenario.steps.iter().zip(&case.steps).all(|(s, op)| s.op == *op)
        && scenario.probes.iter().zip(&probes).all(|(p, q)| p.probe == *q);
    if !same {
        let text = draft.to_yaml();
        return Err(HarnessError::Writer("the ops read back differ from the case's".into(), text));
    }
    let as_run =
        |backend: &'static str, results: &[Result<Effect, OpError>], traces: &[Trace]| Run {
            backend,
            steps: results.to_vec(),
            traces: traces
                .iter()
                .enumerate()
                .map(|(index, trace)| ProbeRun { index, trace: trace.clone() })
                .collect(),
            mismatches: Vec::new(),
        };
    let disagreements = compare(
        &scenario,
        (&as_run("sim", &sim_results, &sim_traces), sim_last),
        (&as_run("linux", &linux_results, &linux_traces), linux_last),
    );
    let mut checkpoint_disagreements = Vec::new();
    for (i, (a, b)) in sim_states.iter().zip(&linux_states).enumerate().take(sim_states.len() - 1) {
        for line in a.diff(b) {
            checkpoint_disagreements
                .push(format!("checkpoint {}: state: {line}  (sim != linux)", i + 1));
        }
    }
    Ok(Compared {
        sim: Side { results: sim_results, states: sim_states, traces: sim_traces },
        linux: Side { results: linux_results, states: linux_states, traces: linux_traces },
        draft,
        disagreements,
        checkpoint_disagreements,
    })
}

/// The case as a scenario whose expectations are the kernel's results.
fn draft_of(
    case: &Case,
    probes: &[Probe],
    results: &[Result<Effect, OpError>],
    traces: &[Trace],
) -> Draft {
    let steps = case
        .steps
        .iter()
        .zip(results)
        .map(|(op, r)| DraftStep { op: op.clone(), error: r.as_ref().err().map(|e| e.kind) })
        .collect();
    let probes = probes
        .iter()
        .zip(traces)
        .map(|(p, t)| DraftProbe { probe: p.clone(), expect: expectation_of(t) })
        .collect();
    Draft {
        name: "counterexample".into(),
        description: "A generated case; its expectations are what the kernel did.".into(),
        header: Vec::new(),
        steps,
        probes,
    }
}

/// Loads a draft's text back (the scenario `compare` runs on).
pub fn load_draft(draft: &Draft) -> Result<Scenario, HarnessError> {
    let text = draft.to_yaml();
    load_str(&format!("{}.yaml", draft.name), &text)
        .map_err(|e| HarnessError::Writer(e.to_string(), text.clone()))
}
