//! `--backend`: opening the simulator, the linux backend, or both, and running a scenario
//! on both to compare them.
//! A fresh backend is opened for every scenario, so scenarios never see each other's state.

use std::process::ExitCode;

use std::fmt::Write as _;

use miette::Report;
use nettwin_core::backend::Backend;
use nettwin_core::snapshot::Snapshot;
use nettwin_scenarios::compare::{Disagreement, Sides, compare};
use nettwin_scenarios::{Run, Scenario};

use crate::{BackendChoice, diag};

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
