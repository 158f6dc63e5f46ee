//! `nettwin trace`: apply a scenario and print each probe's trace, as text or JSON.

use std::path::Path;
use std::process::ExitCode;

use miette::Report;
use nettwin_core::trace::Trace;
use nettwin_scenarios::{Run, Scenario, load_file};

use crate::backends::{self, Opened};
use crate::{BackendChoice, Format, diag};

/// Runs `nettwin trace`.
pub fn run(
    file: &Path,
    probe: Option<&str>,
    format: Format,
    choice: BackendChoice,
) -> Result<ExitCode, Report> {
    let scenario = load_file(file).map_err(diag::load_error)?;
    match backends::open(choice)? {
        Opened::One(mut b) => {
            let run = nettwin_scenarios::run(&scenario, b.as_mut(), probe).map_err(diag::error)?;
            warn_about_steps(&scenario, &run);
            print!("{}", render(&run, format));
            Ok(ExitCode::SUCCESS)
        }
        Opened::Both(mut left, mut right) => {
            let outcome =
                backends::compare_backends(&scenario, left.as_mut(), right.as_mut(), probe)?;
            let (run, _) = &outcome.left;
            print!("{}", render(run, format));
            if outcome.disagreements.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprint!("{}", outcome.report());
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// Steps that did not do what the scenario says make every trace suspect: say so on stderr.
fn warn_about_steps(scenario: &Scenario, run: &Run) {
    for m in run.mismatches.iter().filter(|m| m.probe().is_none()) {
        eprintln!("warning: {}: {m}", scenario.file.name);
    }
}

/// Every trace of a run, in the requested format. Deterministic: the same run gives the
/// same bytes.
pub fn render(run: &Run, format: Format) -> String {
    match format {
        Format::Text => {
            let texts: Vec<String> = run.traces.iter().map(|t| text(&t.trace)).collect();
            texts.join("\n")
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = run.traces.iter().map(|t| json(&t.trace)).collect();
            let mut s = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_owned());
            s.push('\n');
            s
        }
    }
}

/// One trace as text (core's renderer: aligned columns, one hop per line).
pub fn text(trace: &Trace) -> String {
    nettwin_core::trace::render::text(trace)
}

/// One trace as a JSON object (core's renderer: `name`, `outcome`, `delivered_to`,
/// `seen_src`, `hops`, ...).
pub fn json(trace: &Trace) -> serde_json::Value {
    nettwin_core::trace::render::json(trace)
}
