//! `--backend`: opening the simulator, the linux backend, or both for a comparison.
//! A fresh backend is opened for every scenario, so scenarios never see each other's state.

use std::process::ExitCode;

use miette::Report;
use nettwin_core::backend::Backend;

use crate::BackendChoice;

/// The backends one scenario runs on: one, or two to compare.
pub enum Opened {
    /// One backend.
    One(Box<dyn Backend>),
    /// The simulator (left) and the kernel (right).
    Both(Box<dyn Backend>, Box<dyn Backend>),
}

/// Opens fresh backends for one scenario.
pub fn open(choice: BackendChoice) -> Result<Opened, Report> {
    Ok(match choice {
        BackendChoice::Sim => Opened::One(sim()?),
        BackendChoice::Linux => Opened::One(linux()?),
        BackendChoice::Both => Opened::Both(sim()?, linux()?),
    })
}

fn sim() -> Result<Box<dyn Backend>, Report> {
    Ok(Box::new(nettwin_sim::SimBackend::new()))
}

fn linux() -> Result<Box<dyn Backend>, Report> {
    let backend = nettwin_linux::LinuxBackend::new().map_err(crate::diag::error)?;
    Ok(Box::new(backend))
}

/// `nettwin gc`: removes what killed linux-backend runs left behind.
pub fn gc() -> Result<ExitCode, Report> {
    let report = nettwin_linux::gc();
    for name in &report.names {
        println!("removed {}", name.display());
    }
    for dir in &report.dirs {
        println!("removed {}", dir.display());
    }
    for (path, why) in &report.failures {
        eprintln!("could not remove {}: {why}", path.display());
    }
    if report.names.is_empty() && report.dirs.is_empty() && report.failures.is_empty() {
        println!("nothing to remove");
    }
    Ok(if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
