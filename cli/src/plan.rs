//! `nettwin plan JOBFILE [--client FILE]` and `nettwin plan --diff OLD NEW`: reads the
//! files, hands them to the Nomad planner (`nettwin_nomad::plan` and `::diff`) and
//! prints what it returns. Parse errors name the file, line and column.

use std::path::Path;
use std::process::ExitCode;

use miette::Report;

use crate::diag;
use nettwin_cni::seed::Seed;
use nettwin_core::source::SourceFile;
use nettwin_nomad::client_file::{ClientFile, parse_client_file};
use nettwin_nomad::diff::plan_update;
use nettwin_nomad::jobspec::{Job, parse_job};
use nettwin_nomad::located::{HclError, HclErrorKind};
use nettwin_nomad::plan::plan_job;

/// Streams to stdout, buffered, without building the text first; a closed pipe
/// (`| head`) just ends the output.
fn emit(text: &impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let _ = write!(out, "{text}").and_then(|()| out.flush());
}

fn read(path: &Path) -> Result<String, Report> {
    std::fs::read_to_string(path)
        .map_err(|e| miette::miette!("cannot read {}: {e}", path.display()))
}

/// Reads an HCL file and parses it, an error shown at its place in the file.
fn parse<T>(path: &Path, parse: fn(&str) -> Result<T, HclError>) -> Result<T, Report> {
    let file = SourceFile::new(path.display().to_string(), read(path)?);
    parse(&file.text).map_err(|e| {
        let label = match e.kind {
            HclErrorKind::Syntax { .. } => "the parser stopped here",
            HclErrorKind::NotSupported { .. } => "not supported yet",
            HclErrorKind::Invalid { .. } | HclErrorKind::JobCount { .. } => "here",
        };
        diag::at_place(&file, &e.at, e.kind.to_string(), label)
    })
}

fn job(path: &Path) -> Result<Job, Report> {
    parse(path, parse_job)
}

fn client(path: Option<&Path>) -> Result<ClientFile, Report> {
    path.map_or_else(|| Ok(ClientFile::default()), |p| parse(p, parse_client_file))
}

/// `nettwin plan JOBFILE`: per allocation, the ops and the host's iptables-save. Exits 1
/// when an allocation could not be placed or set up (after printing what was planned).
pub fn run(job_file: &Path, client_file: Option<&Path>, seed: u64) -> Result<ExitCode, Report> {
    let job = job(job_file)?;
    let client = client(client_file)?;
    let plan = plan_job(&job, &client, Seed(seed)).map_err(|e| miette::miette!("{e}"))?;
    emit(&plan);
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
    emit(&update);
    Ok(if update.failure.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
