//! `nettwin check`: run scenarios, check every expectation, one line per scenario and a
//! final `N passed, M failed`; with `--backend both`, also every disagreement.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use miette::Report;
use nettwin_scenarios::discover::scenario_files;
use nettwin_scenarios::{Run, Scenario, load_file};

use crate::backends::{self, Opened, compare_backends};
use crate::{BackendChoice, diag};

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
            out.push_str(&nettwin_core::trace::render::text(&t.trace));
        }
    }
    out
}
