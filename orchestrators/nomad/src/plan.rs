//! `nettwin plan JOBFILE [--client FILE]` as data: a job planned on the standard sandbox
//! host, and for each allocation the ops (as `ip`/`iptables` commands, `Op`'s `Display`)
//! and the host's `iptables-save` after them. The CLI only reads files and prints.
//!
//! The standard host is `nettwin_core::host`; its ops come first and are not part of the
//! plan.

use std::fmt;

use nettwin_cni::seed::Seed;
use nettwin_core::error::OpError;
use nettwin_core::host::{HOST_NETNS, standard_host};
use nettwin_core::op::Op;
use nettwin_core::state::State;

use crate::client::ClientConfig;
use crate::client_file::ClientFile;
use crate::jobspec::{Group, Job, NetworkMode};
use crate::planner::{AddFailure, Alloc, Pin, PlanError, Planner};

/// Why a plan could not even start.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PlanSetupError {
    /// The standard host could not be built (a client setting clashes with it).
    #[error("building the standard host: `{op}` failed: {source}")]
    Host {
        /// The op.
        op: String,
        /// The refusal.
        #[source]
        source: OpError,
    },
    /// The planner refused the client settings.
    #[error(transparent)]
    Planner(#[from] PlanError),
}

/// The standard host's state and a planner on it, for `client` with `seed`.
pub fn planner_on_standard_host(
    client: &ClientFile,
    seed: Seed,
) -> Result<(Vec<Op>, Planner), PlanSetupError> {
    let ops = standard_host(client.config.host_ip);
    let mut state = State::new();
    for op in &ops {
        state.apply(op).map_err(|source| PlanSetupError::Host { op: op.to_string(), source })?;
    }
    let mut planner = Planner::on(
        state,
        client.config.clone(),
        nettwin_core::static_name!(NetnsName, HOST_NETNS),
        seed,
    )?;
    planner.reserve_host_ports(&client.reserved_ports);
    Ok((ops, planner))
}

/// One allocation of a plan.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PlannedAlloc {
    /// The allocation as set up.
    pub alloc: Alloc,
    /// Nomad's network hook and the CNI chain, in order.
    pub setup: Vec<Op>,
    /// The tasks binding their ports.
    pub tasks: Vec<Op>,
}

/// What stopped a plan.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PlanStop {
    /// The scheduler could not place an allocation (ports).
    #[error("placing an allocation of group {group:?} failed: {error}")]
    Placement {
        /// The group.
        group: String,
        /// Nomad's reason.
        #[source]
        error: PlanError,
    },
    /// The client could not set up an allocation's network.
    #[error(transparent)]
    Setup(#[from] AddFailure),
}

impl PlanStop {
    /// The ops that ran before the failure (the last one failed), if any.
    pub fn ops(&self) -> &[Op] {
        match self {
            PlanStop::Placement { .. } => &[],
            PlanStop::Setup(f) => &f.ops,
        }
    }
}

/// A planned job: the allocations that could be placed and set up, in order, and the
/// failure that stopped the plan, if any.
#[derive(Clone, Debug)]
pub struct JobPlan {
    /// The job's name.
    pub job: String,
    /// The seed every id, name and port came from.
    pub seed: Seed,
    /// The client settings.
    pub client: ClientConfig,
    /// The ops of the standard host (not part of the plan).
    pub host_ops: Vec<Op>,
    /// The allocations.
    pub allocs: Vec<PlannedAlloc>,
    /// What stopped the plan, with the ops that ran before it.
    pub failure: Option<PlanStop>,
    /// The model at the end.
    pub state: State,
}

/// Plans every allocation of `job` (groups in file order, `count` each) on the standard
/// host of `client`.
pub fn plan_job(job: &Job, client: &ClientFile, seed: Seed) -> Result<JobPlan, PlanSetupError> {
    let (host_ops, mut planner) = planner_on_standard_host(client, seed)?;
    let (allocs, failure) = plan_groups(&mut planner, job, |_, _| Pin::default());
    Ok(JobPlan {
        job: job.name.clone(),
        seed,
        client: client.config.clone(),
        host_ops,
        allocs,
        failure,
        state: planner.into_state(),
    })
}

/// Plans every allocation of `job` on `planner` (groups in file order, `count` each), with
/// the names `pin` fixes for allocation `index` of a group; stops at the first failure.
pub fn plan_groups(
    planner: &mut Planner,
    job: &Job,
    pin: impl Fn(&Group, u32) -> Pin,
) -> (Vec<PlannedAlloc>, Option<PlanStop>) {
    let mut allocs = Vec::new();
    for group in &job.groups {
        for index in 0..group.count {
            match plan_one(planner, &job.name, group, index, &pin(group, index)) {
                Ok(a) => allocs.push(a),
                Err(stop) => return (allocs, Some(stop)),
            }
        }
    }
    (allocs, None)
}

/// Schedules, sets up and starts allocation `index` of `group`.
pub(super) fn plan_one(
    planner: &mut Planner,
    job: &str,
    group: &Group,
    index: u32,
    pin: &Pin,
) -> Result<PlannedAlloc, PlanStop> {
    let none = |error| PlanStop::Setup(AddFailure { ops: Vec::new(), error });
    let placement = planner
        .schedule_pinned(job, group, index, pin)
        .map_err(|error| PlanStop::Placement { group: group.name.clone(), error })?;
    let id = placement.alloc_id.clone();
    let (_, setup) = planner.add(placement)?;
    let tasks = planner.start_tasks(&id).map_err(none)?;
    let alloc = planner.allocs().get(&id).cloned().ok_or_else(|| none(PlanError::Unknown(id)))?;
    Ok(PlannedAlloc { alloc, setup, tasks })
}

/// One line describing an allocation: id, group, mode, address, ports.
pub fn describe_alloc(a: &Alloc) -> String {
    let p = &a.placement;
    let mut s = format!("{} (group {:?}, {} mode", p.alloc_id, p.group, p.mode.as_str());
    if let Some(addr) = a.addr {
        s.push_str(&format!(", eth0 {addr}"));
    }
    if let Some(veth) = &a.veth {
        s.push_str(&format!(", host veth {veth}"));
    }
    let ports: Vec<String> = p
        .ports
        .iter()
        .map(|port| match p.mode {
            NetworkMode::Bridge => format!("{}={}->{}", port.label, port.value, port.to),
            NetworkMode::Host => format!("{}={}", port.label, port.value),
        })
        .collect();
    if !ports.is_empty() {
        s.push_str(&format!(", ports {}", ports.join(" ")));
    }
    s.push(')');
    s
}

impl fmt::Display for JobPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.client;
        writeln!(
            f,
            "# nettwin plan of job {:?}, seed {}: bridge {}, subnet {}, host {}",
            self.job, self.seed.0, c.bridge, c.subnet, c.host_ip
        )?;
        writeln!(f, "# the standard host (not part of the plan):")?;
        for op in &self.host_ops {
            writeln!(f, "#   {op}")?;
        }
        let total = self.allocs.len() + usize::from(self.failure.is_some());
        for (i, a) in self.allocs.iter().enumerate() {
            writeln!(f)?;
            writeln!(f, "== allocation {}/{total}: {}", i + 1, describe_alloc(&a.alloc))?;
            if a.setup.is_empty() {
                writeln!(f, "-- network setup: none (host mode: no namespace, no CNI)")?;
            } else {
                writeln!(
                    f,
                    "-- network setup (Nomad, then CNI loopback, bridge, firewall, portmap)"
                )?;
                for op in &a.setup {
                    writeln!(f, "{op}")?;
                }
            }
            writeln!(f, "-- tasks")?;
            for op in &a.tasks {
                writeln!(f, "{op}")?;
            }
            if a.tasks.is_empty() {
                writeln!(f, "(no ports to listen on)")?;
            }
        }
        if let Some(fail) = &self.failure {
            writeln!(f)?;
            writeln!(f, "== allocation {total}/{total} failed: {fail}")?;
            if !fail.ops().is_empty() {
                writeln!(
                    f,
                    "-- what ran before the failure (the last op failed; nothing undoes the rest)"
                )?;
                for op in fail.ops() {
                    writeln!(f, "{op}")?;
                }
            }
        }
        // Once, at the end: printed after every allocation, a /20's plan would be
        // quadratic in the number of allocations.
        writeln!(f)?;
        writeln!(f, "-- iptables-save of {HOST_NETNS} after the plan")?;
        match self.state.netns(HOST_NETNS).map(|h| h.firewall.to_string()) {
            Some(save) if !save.is_empty() => f.write_str(&save)?,
            _ => writeln!(f, "(no rules: no table exists yet)")?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobspec::parse_job;

    const JOB: &str = r#"
job "cloak" {
  group "redis" {
    network {
      mode = "bridge"
      port "redis" { to = 6379 }
    }
  }
  group "cloak" {
    network {
      mode = "host"
      port "cloak" { static = 7000 }
    }
  }
}
"#;

    #[test]
    fn job_plans_per_allocation_ops_tasks_and_iptables_save() {
        let job = parse_job(JOB).expect("job");
        let plan = plan_job(&job, &ClientFile::default(), Seed(1)).expect("plan");
        assert!(plan.failure.is_none());
        assert_eq!(plan.allocs.len(), 2);
        let cloak = &plan.allocs[1];
        assert!(cloak.setup.is_empty());
        let text = plan.to_string();
        assert!(text.contains("-A CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT"), "{text}");
        assert_eq!(text.matches("-- iptables-save of host after the plan\n*filter\n").count(), 1);
        assert!(text.contains("== allocation 1/2: "), "{text}");
        assert!(text.contains("ip netns exec host listen tcp 192.0.2.10:7000"), "{text}");
        assert!(text.contains("-- network setup: none (host mode"), "{text}");
        assert!(text.contains("ipam allocate nomad 172.26.64.0/20"), "{text}");
    }

    #[test]
    fn reserved_port_collides_with_a_static_port_and_stops_the_plan() {
        let job = parse_job(JOB).expect("job");
        let client = ClientFile { reserved_ports: vec![7000], ..ClientFile::default() };
        let plan = plan_job(&job, &client, Seed(1)).expect("plan");
        assert_eq!(plan.allocs.len(), 1);
        let fail = plan.failure.as_ref().expect("collision");
        assert_eq!(
            fail.to_string(),
            "placing an allocation of group \"cloak\" failed: network: reserved port collision cloak=7000"
        );
        assert!(plan.to_string().contains("== allocation 2/2 failed: "));
    }
}
