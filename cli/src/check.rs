//! `nettwin check`: run scenarios, check every expectation, one line per scenario and a
//! final `N passed, M failed`; with `--backend both`, also every disagreement.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use miette::Report;
use nettwin_core::backend::Backend;
use nettwin_core::snapshot::Snapshot;
use nettwin_scenarios::compare::{Disagreement, Sides, compare};
use nettwin_scenarios::discover::scenario_files;
use nettwin_scenarios::{Run, Scenario, load_file};

use crate::backends::{self, Opened};
use crate::{BackendChoice, diag, trace};

/// Runs `nettwin check`.
pub fn run(paths: &[PathBuf], choice: BackendChoice) -> Result<ExitCode, Report> {
    let files = scenario_files(paths).map_err(diag::error)?;
    if files.is_empty() {
        return Err(miette::miette!("no scenario files (*.yaml, *.yml) under the given paths"));
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        match check_one(file, choice)? {
            Ok(summary) => {
                passed += 1;
                println!("PASS  {}  ({summary})", file.display());
            }
            Err(details) => {
                failed += 1;
                println!("FAIL  {}", file.display());
                for line in details.lines() {
                    println!("      {line}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `Ok(summary)` when the scenario passes, `Err(details)` when it does not; the outer error
/// is for backends that cannot be opened at all.
fn check_one(file: &Path, choice: BackendChoice) -> Result<Result<String, String>, Report> {
    let scenario = match load_file(file) {
        Ok(s) => s,
        Err(e) => return Ok(Err(diag::render(&diag::load_error(e)))),
    };
    let summary = format!(
        "{}: {} steps, {} probes",
        scenario.name,
        scenario.steps.len(),
        scenario.probes.len()
    );
    match backends::open(choice)? {
        Opened::One(mut b) => match nettwin_scenarios::run(&scenario, b.as_mut(), None) {
            Err(e) => Ok(Err(diag::render(&diag::error(e)))),
            Ok(run) if run.passed() => Ok(Ok(summary)),
            Ok(run) => Ok(Err(mismatch_details(&scenario, &run))),
        },
        Opened::Both(mut left, mut right) => {
            let both = match compare_backends(&scenario, left.as_mut(), right.as_mut(), None) {
                Ok(both) => both,
                Err(e) => return Ok(Err(diag::render(&e))),
            };
            let mut details = String::new();
            for (run, _) in [&both.left, &both.right] {
                if !run.passed() {
                    let _ = writeln!(details, "on {}:", run.backend);
                    details.push_str(&mismatch_details(&scenario, run));
                }
            }
            details.push_str(&both.report());
            if details.is_empty() {
                Ok(Ok(format!("{summary}; both agree")))
            } else {
                Ok(Err(details))
            }
        }
    }
}

/// Each mismatch, then the trace of every probe that had one.
fn mismatch_details(scenario: &Scenario, run: &Run) -> String {
    let mut out = String::new();
    for m in &run.mismatches {
        let _ = writeln!(out, "{m}");
    }
    for t in &run.traces {
        let name = &scenario.probes[t.index].probe.name;
        if run.mismatches.iter().any(|m| m.probe() == Some(name.as_str())) {
            out.push_str(&trace::text(&t.trace));
        }
    }
    out
}

/// A scenario run on two backends, and how they disagree.
pub struct Both {
    /// The left run and its final state.
    pub left: (Run, Snapshot),
    /// The right run and its final state.
    pub right: (Run, Snapshot),
    /// Every disagreement.
    pub disagreements: Vec<Disagreement>,
}

impl Both {
    /// The disagreements, side by side (empty when they agree).
    pub fn report(&self) -> String {
        let sides = Sides { left: self.left.0.backend, right: self.right.0.backend };
        let mut out = String::new();
        if !self.disagreements.is_empty() {
            let _ = writeln!(out, "{} and {} disagree:", sides.left, sides.right);
        }
        for d in &self.disagreements {
            let _ = writeln!(out, "  {}", d.render(&sides).replace('\n', "\n  "));
        }
        out
    }
}

/// Runs `scenario` on both backends and compares the runs and the final states.
pub fn compare_backends(
    scenario: &Scenario,
    left: &mut dyn Backend,
    right: &mut dyn Backend,
    probe: Option<&str>,
) -> Result<Both, Report> {
    let one = |b: &mut dyn Backend| -> Result<(Run, Snapshot), Report> {
        let run = nettwin_scenarios::run(scenario, b, probe).map_err(diag::error)?;
        let snap = b.observe().map_err(diag::error)?;
        Ok((run, snap))
    };
    let l = one(left)?;
    let r = one(right)?;
    let disagreements = compare(scenario, (&l.0, &l.1), (&r.0, &r.1));
    Ok(Both { left: l, right: r, disagreements })
}
