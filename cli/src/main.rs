//! `nettwin`: trace, check and show scenarios on the simulator (or, where it is built, the
//! real kernel inside a sandbox).
//!
//! - `main`: the command line (clap) and exit codes.
//! - `backends`: choosing and opening `--backend sim|linux|both`.
//! - `diag`: scenario problems and other errors rendered with miette, the offending text
//!   underlined.
//! - `trace`, `check`, `show`, `plan`: one module per subcommand.
//!
//! This is the only place that prints, picks colors or decides exit codes.
//!
//! The global allocator is mimalloc: planning and applying a /20 (some 130,000 ops and
//! a few hundred thousand small heap objects) spends much of its time in the allocator,
//! and glibc's consolidates its free lists on every large free
//! (`orchestrators/nomad/BENCHMARKS.md`). The benchmarks use the same allocator.

#![forbid(unsafe_code)]

mod backends;
mod check;
mod diag;
mod plan;
mod show;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc instead of the system allocator (see the module doc).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A digital twin of Linux container networking: applies a scenario's ip/iptables steps to a
/// backend, sends its probes and explains every hop.
#[derive(Parser, Debug)]
#[command(name = "nettwin", version, after_help = EXAMPLES)]
struct Cli {
    /// Where to run: the simulator, the real kernel in a sandbox, or both compared.
    #[arg(long, global = true, value_enum, default_value_t = BackendChoice::Sim)]
    backend: BackendChoice,

    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  nettwin trace scenarios/library/seed-journey.yaml
  nettwin trace scenarios/library/seed-journey.yaml --probe 'the world reaches the allocation' --format json
  nettwin check scenarios/
  nettwin show scenarios/library/job-bridge-mode.yaml --as iptables-save
  nettwin --backend both check scenarios/library/hairpin.yaml
  nettwin plan testdata/jobs/cloak-bridge.nomad.hcl
  nettwin plan --diff testdata/jobs/cloak-host.nomad.hcl testdata/jobs/cloak-bridge.nomad.hcl
  nettwin gc";

/// The backends `--backend` accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum BackendChoice {
    /// The in-memory simulator (default).
    Sim,
    /// The real kernel, in throwaway network namespaces (needs root, iproute2, iptables).
    Linux,
    /// Both, printing every disagreement side by side.
    Both,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Apply a scenario and print each probe's trace, hop by hop.
    #[command(after_help = "\
Examples:
  nettwin trace scenarios/library/seed-journey.yaml
  nettwin trace scenarios/library/reject-vs-drop.yaml --probe 'REJECT answers at once'
  nettwin trace scenarios/library/masquerade.yaml --format json")]
    Trace {
        /// The scenario file.
        file: PathBuf,
        /// Trace only the probe with this name.
        #[arg(long)]
        probe: Option<String>,
        /// Text for people, JSON (an array, one object per probe) for machines.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run scenarios and check every expectation; exit 0 only when all pass.
    #[command(after_help = "\
Examples:
  nettwin check scenarios/
  nettwin check scenarios/library/hairpin.yaml scenarios/library/reject-vs-drop.yaml")]
    Check {
        /// Scenario files, or directories searched recursively for *.yaml.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Apply a scenario and print the resulting state like the real tools, per namespace.
    #[command(after_help = "\
Examples:
  nettwin show scenarios/library/seed-journey.yaml --as ip-addr
  nettwin show scenarios/library/seed-journey.yaml --as iptables-save")]
    Show {
        /// The scenario file.
        file: PathBuf,
        /// Which tool's view.
        #[arg(long = "as", value_enum)]
        view: ViewChoice,
    },
    /// Plan a Nomad job the way a client with the CNI reference plugins sets it up: per
    /// allocation the ops (ip/iptables commands) and the host's iptables-save; with --diff,
    /// the network state before and after updating a job from OLD to NEW.
    #[command(after_help = "\
Examples:
  nettwin plan testdata/jobs/cloak-bridge.nomad.hcl
  nettwin plan job.nomad.hcl --client client.hcl --seed 7
  nettwin plan --diff old.nomad.hcl new.nomad.hcl

The client file is HCL: a Nomad agent configuration's client block (bridge_network_name,
bridge_network_subnet, bridge_network_hairpin_mode, min_dynamic_port, max_dynamic_port,
bind_wildcard_default_host_network, reserved { reserved_ports }) plus
nettwin { host_ip = \"192.0.2.10\" }; other blocks are ignored.")]
    Plan {
        /// The job file (HCL jobspec).
        #[arg(required_unless_present = "diff", conflicts_with = "diff")]
        job: Option<PathBuf>,
        /// Compare two versions of a job instead: OLD is planned, then updated to NEW.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
        diff: Option<Vec<PathBuf>>,
        /// The client's settings (see below); Nomad's defaults on 192.0.2.10 without it.
        #[arg(long)]
        client: Option<PathBuf>,
        /// The seed of allocation ids, veth names, MACs and dynamic ports.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Remove what killed linux-backend runs left behind (namespaces with nettwin's prefix).
    #[command(after_help = "Example:\n  sudo nettwin gc")]
    Gc,
}

/// `--format`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Format {
    /// Aligned columns, one hop per line.
    Text,
    /// A JSON array, one object per probe.
    Json,
}

/// `show --as`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum ViewChoice {
    /// `ip -br addr`.
    IpAddr,
    /// `ip route`.
    IpRoute,
    /// `iptables-save`.
    IptablesSave,
    /// `ss -ltun`.
    Ss,
    /// `bridge link`.
    Bridge,
}

impl From<ViewChoice> for nettwin_core::show::View {
    fn from(v: ViewChoice) -> Self {
        use nettwin_core::show::View;
        match v {
            ViewChoice::IpAddr => View::IpAddr,
            ViewChoice::IpRoute => View::IpRoute,
            ViewChoice::IptablesSave => View::IptablesSave,
            ViewChoice::Ss => View::Ss,
            ViewChoice::Bridge => View::Bridge,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Trace { file, probe, format } => {
            trace::run(&file, probe.as_deref(), format, cli.backend)
        }
        Command::Check { paths } => check::run(&paths, cli.backend),
        Command::Show { file, view } => show::run(&file, view.into(), cli.backend),
        Command::Plan { job, diff, client, seed } => match (job, diff.as_deref()) {
            (_, Some([old, new])) => plan::diff(old, new, client.as_deref(), seed),
            (Some(job), _) => plan::run(&job, client.as_deref(), seed),
            _ => Err(miette::miette!("nettwin plan needs a job file, or --diff OLD NEW")),
        },
        Command::Gc => backends::gc(),
    };
    match result {
        Ok(code) => code,
        Err(report) => {
            eprint!("{}", diag::render(&report));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn backend_defaults_to_sim_and_is_global() {
        let cli = Cli::parse_from(["nettwin", "check", "scenarios"]);
        assert_eq!(cli.backend, BackendChoice::Sim);
        let cli = Cli::parse_from(["nettwin", "check", "--backend", "both", "x.yaml"]);
        assert_eq!(cli.backend, BackendChoice::Both);
    }

    #[test]
    fn trace_takes_probe_and_format() {
        let cli =
            Cli::parse_from(["nettwin", "trace", "a.yaml", "--probe", "p q", "--format", "json"]);
        match cli.command {
            Command::Trace { file, probe, format } => {
                assert_eq!(file, PathBuf::from("a.yaml"));
                assert_eq!(probe.as_deref(), Some("p q"));
                assert_eq!(format, Format::Json);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn show_requires_a_known_view() {
        assert!(Cli::try_parse_from(["nettwin", "show", "a.yaml", "--as", "ip-link"]).is_err());
        let cli = Cli::parse_from(["nettwin", "show", "a.yaml", "--as", "iptables-save"]);
        assert!(matches!(cli.command, Command::Show { view: ViewChoice::IptablesSave, .. }));
    }

    #[test]
    fn plan_takes_a_job_or_two_versions_to_diff() {
        let cli = Cli::parse_from(["nettwin", "plan", "j.hcl", "--client", "c.hcl", "--seed", "7"]);
        assert!(matches!(cli.command, Command::Plan { job: Some(_), seed: 7, .. }));
        let cli = Cli::parse_from(["nettwin", "plan", "--diff", "a.hcl", "b.hcl"]);
        match cli.command {
            Command::Plan { diff: Some(d), job: None, .. } => assert_eq!(d.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["nettwin", "plan"]).is_err());
        assert!(Cli::try_parse_from(["nettwin", "plan", "--diff", "a.hcl"]).is_err());
        assert!(Cli::try_parse_from(["nettwin", "plan", "j.hcl", "--diff", "a", "b"]).is_err());
    }

    #[test]
    fn check_needs_at_least_one_path() {
        assert!(Cli::try_parse_from(["nettwin", "check"]).is_err());
    }
}
