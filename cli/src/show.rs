//! `nettwin show`: apply a scenario's steps and print the state like the real tools.

use std::path::Path;
use std::process::ExitCode;

use miette::Report;
use nettwin_core::backend::Backend;
use nettwin_core::show::{View, render};
use nettwin_scenarios::{Scenario, load_file, run::apply_steps};

use crate::backends::{self, Opened};
use crate::{BackendChoice, diag};

/// Runs `nettwin show`.
pub fn run(file: &Path, view: View, choice: BackendChoice) -> Result<ExitCode, Report> {
    let scenario = load_file(file).map_err(diag::load_error)?;
    match backends::open(choice)? {
        Opened::One(mut b) => {
            print!("{}", state(&scenario, b.as_mut(), view)?);
            Ok(ExitCode::SUCCESS)
        }
        Opened::Both(mut left, mut right) => {
            let l = state(&scenario, left.as_mut(), view)?;
            let r = state(&scenario, right.as_mut(), view)?;
            print!("{l}");
            if l == r {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("{} and {} render differently:", left.name(), right.name());
            for line in l.lines().filter(|x| !r.lines().any(|y| y == *x)) {
                eprintln!("  {:<6} {line}", left.name());
            }
            for line in r.lines().filter(|y| !l.lines().any(|x| x == *y)) {
                eprintln!("  {:<6} {line}", right.name());
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn state(scenario: &Scenario, b: &mut dyn Backend, view: View) -> Result<String, Report> {
    let (_, mismatches) = apply_steps(scenario, b);
    for m in &mismatches {
        eprintln!("warning: {}: {m}", scenario.file.name);
    }
    let snap = b.observe().map_err(diag::error)?;
    Ok(render(&snap, view))
}
