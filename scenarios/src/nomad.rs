//! The `nomad:` section: a client and the groups of one job, expanded by the planner
//! (`nettwin_nomad::plan`) into steps that come before the scenario's own `steps`:
//!
//! 1. the standard host (`nettwin_core::host`): namespaces `world` and `host`, `eth0`
//!    with the client's address facing `up0` in the world;
//! 2. for each allocation, in group order: Nomad's network setup and the CNI chain (bridge
//!    mode), then its tasks listening on their ports.
//!
//! An allocation's namespace is named after its group (`redis`; `redis-0`, `redis-1`, ...
//! when `count` > 1) rather than after its id, so that traces read like the design's;
//! chain names, comments and the IPAM store still use the (seeded or pinned) allocation
//! id, as Nomad does. Probes may name an allocation by its group: a bridge-mode group is
//! its namespace, a host-mode group is the host.

use std::collections::BTreeMap;

use nettwin_cni::seed::Seed;
use nettwin_core::host::{HOST_NETNS, WORLD_NETNS};
use nettwin_core::names::NetnsName;
use nettwin_nomad::client_file::{ClientFile, DEFAULT_HOST_IP};
use nettwin_nomad::jobspec::{Group, Job, Network, NetworkMode, PortSpec};
use nettwin_nomad::plan::{PlanStop, plan_groups, planner_on_standard_host};
use nettwin_nomad::planner::Pin;
use serde_saphyr::Spanned;

use crate::error::{Problem, ProblemKind};
use crate::format::{ClientEntry, GroupEntry, NomadEntry};
use crate::scenario::Step;
use crate::source::place_of;
use nettwin_core::source::{Place, SourceFile};
use nettwin_core::text::did_you_mean;

/// The seed a `nomad:` section without one uses.
pub const DEFAULT_SEED: u64 = 1;

/// What a `nomad:` section expands to.
#[derive(Clone, Debug, Default)]
pub struct Expanded {
    /// The steps, standard host first.
    pub steps: Vec<Step>,
    /// Names probes may use for allocations: group name (and `group-N`) → namespace.
    pub aliases: BTreeMap<String, NetnsName>,
}

/// One group as the planner needs it, with where it is written.
struct GroupPlan {
    group: Group,
    pins: Vec<Pin>,
    place: Place,
}

/// Expands a `nomad:` section; pushes every problem found (and then expands nothing).
pub fn expand(
    file: &SourceFile,
    scenario: &str,
    entry: &Spanned<NomadEntry>,
    problems: &mut Vec<Problem>,
) -> Expanded {
    let before = problems.len();
    let section = place_of(file, entry);
    let nomad = &entry.value;
    let client = client_file(file, nomad.client.as_ref(), problems);
    let groups: Vec<GroupPlan> =
        nomad.groups.iter().filter_map(|g| group_plan(file, g, problems)).collect();
    if problems.len() > before {
        return Expanded::default();
    }
    let seed = Seed(nomad.seed.as_ref().map_or(DEFAULT_SEED, |s| s.value));
    let job = Job {
        name: nomad.job.as_ref().map_or_else(|| scenario.to_owned(), |j| j.value.clone()),
        groups: groups.iter().map(|g| g.group.clone()).collect(),
    };
    let (host_ops, mut planner) = match planner_on_standard_host(&client, seed) {
        Ok(x) => x,
        Err(e) => {
            problems.push(Problem { place: section, kind: plan_problem(e.to_string()) });
            return Expanded::default();
        }
    };
    let pin = |g: &Group, index: u32| {
        let plan = groups.iter().find(|p| p.group.name == g.name);
        plan.and_then(|p| p.pins.get(index as usize)).cloned().unwrap_or_default()
    };
    let (allocs, stop) = plan_groups(&mut planner, &job, pin);
    if let Some(stop) = stop {
        // The failing allocation is the one after the last that was planned.
        let failing = group_of(&groups, allocs.len());
        let place = failing.map_or(section, |(g, _)| g.place.clone());
        problems.push(Problem { place, kind: plan_problem(stop_text(&stop)) });
        return Expanded::default();
    }
    let step = |op: nettwin_core::op::Op, place: &Place| Step {
        written: None,
        op,
        expect: None,
        place: place.clone(),
    };
    let mut steps: Vec<Step> = host_ops.into_iter().map(|op| step(op, &section)).collect();
    let mut aliases = BTreeMap::new();
    let host = nettwin_core::static_name!(NetnsName, HOST_NETNS);
    for (i, a) in allocs.into_iter().enumerate() {
        let Some((g, index)) = group_of(&groups, i) else { continue };
        let netns = match a.alloc.placement.mode {
            NetworkMode::Bridge => a.alloc.placement.netns.clone(),
            NetworkMode::Host => host.clone(),
        };
        aliases.entry(g.group.name.clone()).or_insert_with(|| netns.clone());
        if let Some(name) = g.pins.get(index).and_then(|p| p.netns.as_ref()) {
            aliases.insert(name.to_string(), netns);
        }
        steps.extend(a.setup.into_iter().chain(a.tasks).map(|op| step(op, &g.place)));
    }
    Expanded { steps, aliases }
}

fn plan_problem(message: String) -> ProblemKind {
    ProblemKind::NomadPlan { message }
}

fn stop_text(stop: &PlanStop) -> String {
    stop.to_string()
}

/// The group of the `n`-th allocation, counting allocations in group order, and the
/// allocation's index in it.
fn group_of(groups: &[GroupPlan], n: usize) -> Option<(&GroupPlan, usize)> {
    let mut left = n;
    for g in groups {
        let count = g.group.count as usize;
        if left < count {
            return Some((g, left));
        }
        left -= count;
    }
    None
}

fn client_file(
    file: &SourceFile,
    entry: Option<&Spanned<ClientEntry>>,
    problems: &mut Vec<Problem>,
) -> ClientFile {
    let mut out = ClientFile::default();
    let Some(entry) = entry else { return out };
    let c = &entry.value;
    let cfg = &mut out.config;
    cfg.host_ip = c.host_ip.as_ref().map_or(DEFAULT_HOST_IP, |h| h.value.0);
    if let Some(b) = &c.bridge {
        cfg.bridge = b.value.0.clone();
    }
    if let Some(s) = &c.subnet {
        cfg.subnet = s.value.0;
    }
    cfg.hairpin_mode = c.hairpin_mode.unwrap_or(cfg.hairpin_mode);
    cfg.bind_wildcard_default_host_network =
        c.bind_wildcard_default_host_network.unwrap_or(cfg.bind_wildcard_default_host_network);
    if let Some(p) = &c.min_dynamic_port {
        cfg.min_dynamic_port = p.value;
    }
    if let Some(p) = &c.max_dynamic_port {
        cfg.max_dynamic_port = p.value;
        if cfg.min_dynamic_port > p.value {
            problems.push(Problem {
                place: place_of(file, p),
                kind: plan_problem(format!(
                    "max_dynamic_port ({}) is below min_dynamic_port ({})",
                    p.value, cfg.min_dynamic_port
                )),
            });
        }
    }
    out.reserved_ports = c.reserved_ports.clone();
    out
}

/// A group entry as the planner's `Group`, with its pins; `None` (and problems) when it
/// asks for what is not modeled or what Nomad refuses.
fn group_plan(
    file: &SourceFile,
    entry: &Spanned<GroupEntry>,
    problems: &mut Vec<Problem>,
) -> Option<GroupPlan> {
    let g = &entry.value;
    let name = &g.name.value;
    let before = problems.len();
    let mut problem = |place: Place, kind: ProblemKind| problems.push(Problem { place, kind });
    let mode = match g.mode.as_ref().map(|m| m.value.as_str()) {
        None | Some("host") => NetworkMode::Host,
        Some("bridge") => NetworkMode::Bridge,
        Some(other) => {
            let place =
                g.mode.as_ref().map_or_else(|| place_of(file, entry), |m| place_of(file, m));
            if other == "none" || other.starts_with("cni/") {
                let what =
                    format!("group {name:?}: network mode {other:?} (supported: host, bridge)");
                problem(place, ProblemKind::NomadNotSupported { what });
            } else {
                let hint = did_you_mean(other, &["host", "bridge", "none"])
                    .map(|m| format!(", did you mean {m:?}?"))
                    .unwrap_or_else(|| " (Nomad's modes: host, bridge, none, cni/<name>)".into());
                let message = format!("group {name:?}: unknown network mode {other:?}{hint}");
                problem(place, plan_problem(message));
            }
            NetworkMode::Host
        }
    };
    let count = g.count.as_ref().map_or(1, |c| c.value);
    if [HOST_NETNS, WORLD_NETNS].contains(&name.as_str()) {
        let message = format!("group name {name:?} is taken by the standard host's namespaces");
        problem(place_of(file, &g.name), plan_problem(message));
    }
    let mut ports: Vec<PortSpec> = Vec::new();
    for p in &g.ports {
        let spec = PortSpec {
            label: p.value.label.clone(),
            static_port: p.value.static_port.filter(|s| *s > 0),
            to: p.value.to.filter(|t| *t > 0),
        };
        // Nomad's own validation of a group network, with its texts.
        if ports.iter().any(|q| q.label == spec.label) {
            let message = format!("Port label {} already in use by taskgroup network", spec.label);
            problem(place_of(file, p), plan_problem(message));
        }
        if let Some(s) = spec.static_port
            && let Some(q) = ports.iter().find(|q| q.static_port == Some(s))
        {
            let message =
                format!("Static port {s} already reserved by taskgroup network:{}", q.label);
            problem(place_of(file, p), plan_problem(message));
        }
        ports.push(spec);
    }
    let mut pins = Vec::new();
    for index in 0..count {
        let netns_name = if count == 1 { name.clone() } else { format!("{name}-{index}") };
        let netns = match NetnsName::new(&netns_name) {
            Ok(n) => n,
            Err(e) => {
                problem(place_of(file, &g.name), plan_problem(e.to_string()));
                return None;
            }
        };
        let i = index as usize;
        pins.push(Pin {
            alloc_id: g.alloc_ids.get(i).map(|a| a.value.clone()),
            netns: Some(netns),
            veth: g.veths.get(i).map(|v| v.value.0.clone()),
        });
    }
    if problems.len() > before {
        return None;
    }
    Some(GroupPlan {
        group: Group { name: name.clone(), count, network: Network { mode, ports } },
        pins,
        place: place_of(file, &g.name),
    })
}
