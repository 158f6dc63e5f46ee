//! The planner: what a Nomad client with the CNI reference plugins does to a host for each
//! allocation, as `Op`s, in the order the real components do it.
//!
//! Two halves, as in Nomad: [`Planner::schedule`] places a group's allocation (allocation
//! id, host ports), as the servers do; [`Planner::add`] and [`Planner::del`] are the
//! client's network setup and teardown for a placement, as `Op` lists for a backend to
//! execute. The planner keeps its own view of what it has built on the host (chains,
//! rules, bridge address, veth names, IPAM, ports), so that the plugins' "unless it
//! exists" conditions are decided here and every emitted op is unconditional. It assumes
//! the host namespace exists and holds no CNI state it did not plan, except rules given
//! with [`Planner::assume_rule`].
//!
//! ADD of a bridge-mode allocation (docs/cni-facts.md, "What the planner emits"):
//! the allocation's namespace; NOMAD-ADMIN; loopback (`lo` up); bridge (bridge, veth pair,
//! host end up/master/hairpin, IPAM, `eth0` address/up/default route, gateway address,
//! `ip_forward`, masquerade); firewall; portmap (with `route_localnet` between its shared
//! chains and its DNAT chains). DEL: portmap, firewall, bridge (IPAM release, `eth0`,
//! masquerade teardown only if the interface was still there), loopback (`lo` down), then
//! the namespace goes.

use std::collections::{BTreeMap, BTreeSet};

use super::client::{CONTAINER_IFNAME, ClientConfig, NETWORK_NAME};
use super::cni_names::NOMAD_ADMIN_CHAIN;
use super::cni_rules::{
    IptStep, PortMapping, bridge_masq_add, bridge_masq_del, firewall_add, firewall_del,
    nomad_admin_add, nomad_port_mappings, portmap_add, portmap_del,
};
use super::jobspec::{Group, Job, NetworkMode};
use super::ports::{AssignedPort, PortError, PortIndex};
use super::seed::{Seed, SplitMix64};
use crate::addr::{Cidr, IfAddr};
use crate::ipam::{HostLocal, IpRange, IpamError, RangeConfig, RangeError};
use crate::iptables::{Command, IfacePattern, Rule, RuleRef, Table};
use crate::names::{ChainName, IfName, NameError, NetnsName};
use crate::op::{LinkChange, Op, RouteSpec, SysctlKey};

/// Why planning failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PlanError {
    /// The scheduler found no ports (Nomad's placement failure text).
    #[error("network: {0}")]
    Ports(#[from] PortError),
    /// A CNI plugin failed; the text is libcni's.
    #[error("plugin type=\"{plugin}\" failed (add): {message}")]
    Plugin {
        /// The plugin (`bridge`).
        plugin: &'static str,
        /// The plugin's message.
        message: String,
        /// The IPAM error behind it.
        #[source]
        source: IpamError,
    },
    /// The client's subnet is not a usable host-local range.
    #[error("bridge network subnet: {0}")]
    Range(#[from] RangeError),
    /// A name derived from the client settings or the job is not valid.
    #[error("{0}")]
    Name(#[from] NameError),
    /// The bridge name cannot appear in an iptables `-o` match.
    #[error("bridge name {0:?} cannot be used in an iptables rule")]
    BridgeName(String),
    /// The allocation id is already placed.
    #[error("allocation {0} is already set up")]
    Duplicate(String),
    /// The allocation id is not known.
    #[error("allocation {0} is not set up")]
    Unknown(String),
}

/// Where an allocation lands: id, namespace, mode and host ports.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Placement {
    /// The allocation id (also the CNI container id).
    pub alloc_id: String,
    /// The group it belongs to.
    pub group: String,
    /// The namespace the allocation gets in bridge mode.
    pub netns: NetnsName,
    /// The network mode.
    pub mode: NetworkMode,
    /// The host ports, static first.
    pub ports: Vec<AssignedPort>,
}

/// A placement that has been set up: what the plugins built for it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Alloc {
    /// The placement.
    pub placement: Placement,
    /// `eth0`'s address (bridge mode).
    pub addr: Option<IfAddr>,
    /// The host end of the veth pair (bridge mode).
    pub veth: Option<IfName>,
    /// What portmap was given.
    pub mappings: Vec<PortMapping>,
}

/// A failed ADD: what ran before the failing plugin, which nothing undoes, and why.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("failed to configure network: {error}")]
pub struct AddFailure {
    /// The ops that ran (and stay) before the failure.
    pub ops: Vec<Op>,
    /// The failure.
    #[source]
    pub error: PlanError,
}

/// How an allocation goes away.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DelMode {
    /// CNI DEL while the namespace exists, then the namespace is deleted.
    Normal,
    /// The namespace was already deleted (its pause container died): it goes first, and the
    /// CNI DEL that follows finds no interface.
    NetnsAlreadyGone,
}

/// What the planner knows exists on the host.
#[derive(Clone, PartialEq, Eq, Debug)]
struct HostView {
    chains: BTreeMap<(Table, String), Vec<Rule>>,
    bridge_addrs: Option<Vec<IfAddr>>,
    veths: BTreeSet<IfName>,
}

impl HostView {
    fn new() -> HostView {
        let mut chains = BTreeMap::new();
        for table in Table::ALL {
            for c in table.builtin_chains() {
                chains.insert((table, (*c).to_owned()), Vec::new());
            }
        }
        HostView { chains, bridge_addrs: None, veths: BTreeSet::new() }
    }
}

/// The planner for one client (one host namespace).
#[derive(Clone, Debug)]
pub struct Planner {
    client: ClientConfig,
    host: NetnsName,
    seed: Seed,
    admin: ChainName,
    bridge_match: IfacePattern,
    ipam: HostLocal,
    ports: PortIndex,
    port_rng: SplitMix64,
    view: HostView,
    allocs: BTreeMap<String, Alloc>,
}

impl Planner {
    /// A planner for a client with these settings whose host is namespace `host`, on a
    /// host with no CNI state yet.
    pub fn new(client: ClientConfig, host: NetnsName, seed: Seed) -> Result<Planner, PlanError> {
        let range = IpRange::new(&RangeConfig::subnet(client.subnet))?;
        let bridge_match = IfacePattern::new(client.bridge.as_str())
            .ok_or_else(|| PlanError::BridgeName(client.bridge.to_string()))?;
        Ok(Planner {
            ports: PortIndex::new(client.min_dynamic_port, client.max_dynamic_port),
            port_rng: seed.stream(&["ports", host.as_str()]),
            admin: ChainName::new(NOMAD_ADMIN_CHAIN)?,
            ipam: HostLocal::new(range),
            view: HostView::new(),
            allocs: BTreeMap::new(),
            bridge_match,
            client,
            host,
            seed,
        })
    }

    /// Tells the planner that the host already has `rule` at the end of `chain` (rules the
    /// scenario put there before any allocation), creating the chain if needed.
    pub fn assume_rule(&mut self, table: Table, chain: &ChainName, rule: Rule) {
        self.view.chains.entry((table, chain.to_string())).or_default().push(rule);
    }

    /// The host-local state the plan leads to (to compare with a real store).
    pub fn ipam(&self) -> &HostLocal {
        &self.ipam
    }

    /// The host ports in use.
    pub fn ports(&self) -> &PortIndex {
        &self.ports
    }

    /// The allocations that are set up, by id.
    pub fn allocs(&self) -> &BTreeMap<String, Alloc> {
        &self.allocs
    }

    /// Places allocation `index` of `group`: a seeded allocation id, its namespace named
    /// after the id, and host ports on the client's address (static ports first).
    pub fn schedule(
        &mut self,
        job: &str,
        group: &Group,
        index: u32,
    ) -> Result<Placement, PlanError> {
        let alloc_id = self.seed.alloc_id(job, &group.name, index);
        let netns = NetnsName::new(&alloc_id)?;
        let ports =
            self.ports.assign(self.client.host_ip, &group.network.ports, &mut self.port_rng)?;
        Ok(Placement {
            alloc_id,
            group: group.name.clone(),
            netns,
            mode: group.network.mode,
            ports,
        })
    }

    /// Schedules and sets up every allocation of a job, group by group; stops at the first
    /// failure.
    pub fn plan_job(&mut self, job: &Job) -> Result<Vec<(Alloc, Vec<Op>)>, AddFailure> {
        let mut out = Vec::new();
        for group in &job.groups {
            for index in 0..group.count {
                let placement = self
                    .schedule(&job.name, group, index)
                    .map_err(|error| AddFailure { ops: Vec::new(), error })?;
                out.push(self.add(placement)?);
            }
        }
        Ok(out)
    }

    /// The client's setup of one placement. Host mode needs no op (the task binds its
    /// ports itself). On failure the ops that already ran are returned with the error and
    /// stay applied, as with the real plugins.
    pub fn add(&mut self, placement: Placement) -> Result<(Alloc, Vec<Op>), AddFailure> {
        let fail = |ops: Vec<Op>, error: PlanError| AddFailure { ops, error };
        if self.allocs.contains_key(&placement.alloc_id) {
            return Err(fail(Vec::new(), PlanError::Duplicate(placement.alloc_id)));
        }
        let mut alloc = Alloc { placement, addr: None, veth: None, mappings: Vec::new() };
        if alloc.placement.mode == NetworkMode::Host {
            self.ports.reserve(self.client.host_ip, alloc.placement.ports.iter().map(|p| p.value));
            self.allocs.insert(alloc.placement.alloc_id.clone(), alloc.clone());
            return Ok((alloc, Vec::new()));
        }
        let mut ops = Vec::new();
        match self.bridge_add(&mut alloc, &mut ops) {
            Ok(()) => {
                self.ports
                    .reserve(self.client.host_ip, alloc.placement.ports.iter().map(|p| p.value));
                self.allocs.insert(alloc.placement.alloc_id.clone(), alloc.clone());
                Ok((alloc, ops))
            }
            Err(error) => {
                self.ports.release(&alloc.placement.ports);
                Err(fail(ops, error))
            }
        }
    }

    fn bridge_add(&mut self, alloc: &mut Alloc, ops: &mut Vec<Op>) -> Result<(), PlanError> {
        let id = alloc.placement.alloc_id.clone();
        let ns = alloc.placement.netns.clone();
        let host = self.host.clone();
        let bridge = self.client.bridge.clone();
        let eth0 = IfName::new(CONTAINER_IFNAME)?;
        let lo = IfName::new("lo")?;
        // Nomad: the namespace, then its admin chain and rule.
        ops.push(Op::NetnsAdd { name: ns.clone() });
        let admin = nomad_admin_add(&self.admin, &self.bridge_match, self.client.subnet);
        self.iptables(&admin, ops);
        // loopback.
        ops.push(Op::LinkSet { netns: ns.clone(), name: lo, change: LinkChange::Up });
        // bridge: the bridge, up on every ADD.
        if self.view.bridge_addrs.is_none() {
            let mac = Some(self.seed.mac(host.as_str(), bridge.as_str()));
            ops.push(Op::BridgeAdd { netns: host.clone(), name: bridge.clone(), mac });
            self.view.bridge_addrs = Some(Vec::new());
        }
        ops.push(Op::LinkSet { netns: host.clone(), name: bridge.clone(), change: LinkChange::Up });
        // bridge: the veth pair, made in the container, host end moved out.
        let veth = self.veth_name(&id)?;
        ops.push(Op::VethAdd {
            netns: ns.clone(),
            name: eth0.clone(),
            mac: Some(self.seed.mac(ns.as_str(), eth0.as_str())),
            peer_netns: host.clone(),
            peer: veth.clone(),
            peer_mac: Some(self.seed.mac(host.as_str(), veth.as_str())),
        });
        self.view.veths.insert(veth.clone());
        alloc.veth = Some(veth.clone());
        for change in [
            LinkChange::Up,
            LinkChange::Master(bridge.clone()),
            LinkChange::Hairpin(self.client.hairpin_mode),
        ] {
            ops.push(Op::LinkSet { netns: host.clone(), name: veth.clone(), change });
        }
        // bridge: host-local.
        let gateway = self.ipam.range().gateway();
        ops.push(Op::IpamAllocate {
            pool: NETWORK_NAME.to_owned(),
            subnet: self.client.subnet,
            gateway: Some(gateway),
            id: id.clone(),
            ifname: eth0.clone(),
        });
        let lease = self.ipam.allocate(&id, eth0.as_str()).map_err(|source| PlanError::Plugin {
            plugin: "bridge",
            message: source.plugin_message(),
            source,
        })?;
        alloc.addr = Some(lease.addr);
        // bridge: the container's address, link and routes.
        ops.push(Op::AddrAdd { netns: ns.clone(), dev: eth0.clone(), addr: lease.addr });
        ops.push(Op::LinkSet { netns: ns.clone(), name: eth0.clone(), change: LinkChange::Up });
        ops.push(Op::RouteAdd {
            netns: ns,
            route: RouteSpec {
                dst: Cidr::DEFAULT,
                via: Some(lease.gateway),
                dev: Some(eth0),
                src: None,
            },
        });
        // bridge: the gateway address (forceAddress replaces another IPv4 address).
        let gw = IfAddr { ip: lease.gateway, prefix: lease.addr.prefix };
        let addrs = self.view.bridge_addrs.get_or_insert_with(Vec::new);
        if !addrs.contains(&gw) {
            for old in addrs.drain(..) {
                ops.push(Op::AddrDel { netns: host.clone(), dev: bridge.clone(), addr: old });
            }
            ops.push(Op::AddrAdd { netns: host.clone(), dev: bridge.clone(), addr: gw });
            addrs.push(gw);
        }
        ops.push(Op::Sysctl { netns: host.clone(), key: SysctlKey::IpForward, value: true });
        self.iptables(&bridge_masq_add(NETWORK_NAME, &id, lease.addr), ops);
        // firewall.
        self.iptables(&firewall_add(&self.admin.clone(), &[lease.addr.ip]), ops);
        // portmap.
        alloc.mappings = nomad_port_mappings(&alloc.placement.ports, self.client.portmap_host_ip());
        let pm = portmap_add(NETWORK_NAME, &id, lease.addr, &alloc.mappings);
        self.iptables(&pm.before_localnet, ops);
        if pm.route_localnet {
            ops.push(Op::Sysctl {
                netns: host,
                key: SysctlKey::RouteLocalnet(bridge),
                value: true,
            });
        }
        self.iptables(&pm.after_localnet, ops);
        Ok(())
    }

    /// A host veth name for the container: the seeded one, or the next one from the same
    /// stream if the host already has it (the plugin retries on EEXIST).
    fn veth_name(&self, id: &str) -> Result<IfName, PlanError> {
        let mut name = self.seed.veth_name(id);
        let mut n = 0u32;
        while self.view.veths.contains(&name) {
            n += 1;
            name = self.seed.veth_name(&format!("{id}#{n}"));
        }
        Ok(name)
    }

    /// The client's teardown of an allocation.
    pub fn del(&mut self, alloc_id: &str, mode: DelMode) -> Result<Vec<Op>, PlanError> {
        let alloc =
            self.allocs.remove(alloc_id).ok_or_else(|| PlanError::Unknown(alloc_id.to_owned()))?;
        self.ports.release(&alloc.placement.ports);
        let mut ops = Vec::new();
        let Some(addr) = alloc.addr else { return Ok(ops) };
        let ns = alloc.placement.netns.clone();
        let alive = mode == DelMode::Normal;
        if !alive {
            ops.push(Op::NetnsDel { name: ns.clone() });
        }
        self.iptables(&portmap_del(NETWORK_NAME, alloc_id, &alloc.mappings), &mut ops);
        self.iptables(&firewall_del(&[addr.ip]), &mut ops);
        // bridge: the interface first (if the namespace is there), then host-local.
        let eth0 = IfName::new(CONTAINER_IFNAME)?;
        if alive {
            ops.push(Op::LinkDel { netns: ns.clone(), name: eth0.clone() });
        }
        ops.push(Op::IpamRelease {
            pool: NETWORK_NAME.to_owned(),
            id: alloc_id.to_owned(),
            ifname: eth0.clone(),
        });
        self.ipam.release(alloc_id, eth0.as_str());
        if let Some(veth) = &alloc.veth {
            self.view.veths.remove(veth);
        }
        let found = alive.then_some(addr);
        self.iptables(&bridge_masq_del(NETWORK_NAME, alloc_id, found), &mut ops);
        if alive {
            ops.push(Op::LinkSet {
                netns: ns.clone(),
                name: IfName::new("lo")?,
                change: LinkChange::Down,
            });
            ops.push(Op::NetnsDel { name: ns });
        }
        Ok(ops)
    }

    /// Decides the plugins' conditions against the view, emits the unconditional
    /// commands and updates the view.
    fn iptables(&mut self, steps: &[IptStep], ops: &mut Vec<Op>) {
        for step in steps {
            for (table, cmd) in self.resolve(step) {
                self.note(table, &cmd);
                ops.push(Op::Iptables { netns: self.host.clone(), table, cmd });
            }
        }
    }

    fn has_rule(&self, table: Table, chain: &ChainName, rule: &Rule) -> bool {
        self.view.chains.get(&(table, chain.to_string())).is_some_and(|r| r.contains(rule))
    }

    fn has_chain(&self, table: Table, chain: &ChainName) -> bool {
        self.view.chains.contains_key(&(table, chain.to_string()))
    }

    fn resolve(&self, step: &IptStep) -> Vec<(Table, Command)> {
        match step {
            IptStep::EnsureChain { table, chain } => (!self.has_chain(*table, chain))
                .then(|| (*table, Command::NewChain(chain.clone())))
                .into_iter()
                .collect(),
            IptStep::InsertUnique { table, chain, rule } => (!self.has_rule(*table, chain, rule))
                .then(|| (*table, Command::Insert(chain.clone(), 1, rule.clone())))
                .into_iter()
                .collect(),
            IptStep::AppendUnique { table, chain, rule } => (!self.has_rule(*table, chain, rule))
                .then(|| (*table, Command::Append(chain.clone(), rule.clone())))
                .into_iter()
                .collect(),
            IptStep::DeleteRule { table, chain, rule } => self
                .has_rule(*table, chain, rule)
                .then(|| (*table, Command::Delete(chain.clone(), RuleRef::Spec(rule.clone()))))
                .into_iter()
                .collect(),
            IptStep::ClearChain { table, chain } => {
                let cmd = if self.has_chain(*table, chain) {
                    Command::Flush(Some(chain.clone()))
                } else {
                    Command::NewChain(chain.clone())
                };
                vec![(*table, cmd)]
            }
            IptStep::DeleteChain { table, chain } => self
                .has_chain(*table, chain)
                .then(|| (*table, Command::DeleteChain(chain.clone())))
                .into_iter()
                .collect(),
            IptStep::DeleteJumpsTo { table, chain, target } => self
                .view
                .chains
                .get(&(*table, chain.to_string()))
                .into_iter()
                .flatten()
                .filter(|r| r.target.chain() == Some(target))
                .map(|r| (*table, Command::Delete(chain.clone(), RuleRef::Spec(r.clone()))))
                .collect(),
        }
    }

    fn note(&mut self, table: Table, cmd: &Command) {
        let chains = &mut self.view.chains;
        match cmd {
            Command::NewChain(c) => {
                chains.insert((table, c.to_string()), Vec::new());
            }
            Command::DeleteChain(c) => {
                chains.remove(&(table, c.to_string()));
            }
            Command::Flush(Some(c)) => {
                if let Some(r) = chains.get_mut(&(table, c.to_string())) {
                    r.clear();
                }
            }
            Command::Append(c, rule) => {
                chains.entry((table, c.to_string())).or_default().push(rule.clone());
            }
            Command::Insert(c, _, rule) => {
                chains.entry((table, c.to_string())).or_default().insert(0, rule.clone());
            }
            Command::Delete(c, RuleRef::Spec(rule)) => {
                if let Some(r) = chains.get_mut(&(table, c.to_string()))
                    && let Some(i) = r.iter().position(|x| x == rule)
                {
                    r.remove(i);
                }
            }
            // The planner emits no other command.
            Command::Flush(None) | Command::Delete(_, RuleRef::Index(_)) | Command::Policy(..) => {}
        }
    }
}
