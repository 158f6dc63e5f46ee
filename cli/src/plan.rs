//! `nettwin plan JOBFILE [--client FILE]` and `nettwin plan --diff OLD NEW`: reads the
//! files, hands them to the planner in core (`nettwin_nomad::plan` and `::diff`) and
//! prints what it returns. Parse errors name the file, line and column.

use std::path::Path;
use std::process::ExitCode;

use miette::Report;
use nettwin_cni::seed::Seed;
use nettwin_nomad::client_file::{ClientFile, parse_client_file};
use nettwin_nomad::diff::plan_update;
use nettwin_nomad::jobspec::{Job, parse_job};
use nettwin_nomad::plan::plan_job;

/// Prints to stdout; a closed pipe (`| head`) just ends the output.
fn emit(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn read(path: &Path) -> Result<String, Report> {
    std::fs::read_to_string(path)
        .map_err(|e| miette::miette!("cannot read {}: {e}", path.display()))
}

fn job(path: &Path) -> Result<Job, Report> {
    parse_job(&read(path)?).map_err(|e| miette::miette!("{}: {e}", path.display()))
}

fn client(path: Option<&Path>) -> Result<ClientFile, Report> {
    match path {
        None => Ok(ClientFile::default()),
        Some(p) => {
            parse_client_file(&read(p)?).map_err(|e| miette::miette!("{}: {e}", p.display()))
        }
    }
}

/// `nettwin plan JOBFILE`: per allocation, the ops and the host's iptables-save. Exits 1
/// when an allocation could not be placed or set up (after printing what was planned).
pub fn run(job_file: &Path, client_file: Option<&Path>, seed: u64) -> Result<ExitCode, Report> {
    let job = job(job_file)?;
    let client = client(client_file)?;
    let plan = plan_job(&job, &client, Seed(seed)).map_err(|e| miette::miette!("{e}"))?;
    emit(&plan.to_string());
    Ok(if plan.failure.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `nettwin plan --diff OLD NEW`: the network state before and after the update.
pub fn diff(
    old: &Path,
    new: &Path,
    client_file: Option<&Path>,
    seed: u64,
) -> Result<ExitCode, Report> {
    let (old, new) = (job(old)?, job(new)?);
    let client = client(client_file)?;
    let update =
        plan_update(&old, &new, &client, Seed(seed)).map_err(|e| miette::miette!("{e}"))?;
    emit(&update.to_string());
    Ok(if update.failure.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
