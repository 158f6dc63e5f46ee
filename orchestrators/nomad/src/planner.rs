//! The planner: what a Nomad client with the CNI reference plugins does to a host for each
//! allocation, as `Op`s, in the order the real components do it.
//!
//! Two halves, as in Nomad: [`Planner::schedule`] places a group's allocation (allocation
//! id, host ports), as the servers do; [`Planner::add`] and [`Planner::del`] are the
//! client's network setup and teardown for a placement, as `Op` lists for a backend to
//! execute. [`Planner::start_tasks`] stands in for the tasks: each binds its ports.
//!
//! The ops are the truth. The planner keeps a model `State` of the host (and of the
//! allocations' namespaces) and applies every op it emits to it as it goes; each "unless it
//! exists" condition of the plugins is decided against that state, and the address
//! `eth0` gets is the one `IpamAllocate` returned when applied. There is no second
//! allocator and no second view of the rules that could drift from what the ops do:
//! replaying the emitted ops on a copy of the starting state gives the planner's state.
//!
//! ADD of a bridge-mode allocation (docs/cni-reference.md, "What the planner emits per allocation"):
//! the allocation's namespace; NOMAD-ADMIN; then the CNI chain's ADD
//! (`nettwin_cni::chain::BridgeChain`: loopback, bridge, firewall, portmap). DEL: the
//! tasks' sockets close; then the chain's DEL (portmap, firewall, bridge, loopback), and
//! the namespace goes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use nettwin_cni::chain::{Attachment, BridgeChain, BridgeNetwork, CniError, Emitter};
use nettwin_cni::portmap::PortMapping;
use nettwin_cni::seed::{Seed, SplitMix64};
use nettwin_cni::steps::IptStep;
use nettwin_core::addr::{Endpoint, IfAddr, Proto};
use nettwin_core::ipam::HostLocal;
use nettwin_core::iptables::IfacePattern;
use nettwin_core::names::{IfName, NameError, NetnsName};
use nettwin_core::op::{Effect, Op};
use nettwin_core::state::State;
use nettwin_core::static_name;

use crate::client::{CONTAINER_IFNAME, ClientConfig, NETWORK_NAME};
use crate::hook::{NOMAD_ADMIN_CHAIN, nomad_admin_add, nomad_port_mappings};
use crate::ids::alloc_id;
use crate::jobspec::{Group, Job, NetworkMode};
use crate::ports::{AssignedPort, PortError, PortIndex};

/// Why planning failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PlanError {
    /// The scheduler found no ports (Nomad's placement failure text).
    #[error("network: {0}")]
    Ports(#[from] PortError),
    /// The CNI chain failed, or the model refused one of the ops.
    #[error(transparent)]
    Cni(#[from] CniError),
    /// A name derived from the client settings or the job is not valid.
    #[error("{0}")]
    Name(#[from] NameError),
    /// The allocation id is already placed.
    #[error("allocation {0} is already set up")]
    Duplicate(String),
    /// The allocation id is not known.
    #[error("allocation {0} is not set up")]
    Unknown(String),
    /// The host namespace the plan is for is not in the starting state.
    #[error("the host namespace {0} does not exist")]
    NoHost(NetnsName),
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
    /// The host veth name to use instead of the seeded one.
    pub veth: Option<IfName>,
}

/// What a caller fixes instead of the seed for one allocation (a scenario pinning names).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Pin {
    /// The allocation id.
    pub alloc_id: Option<String>,
    /// The allocation's namespace (Nomad names it after the id).
    pub netns: Option<NetnsName>,
    /// The host end of its veth pair.
    pub veth: Option<IfName>,
}

/// A socket a task listens on: where, and which address.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TaskSocket {
    /// tcp (the model's tasks serve tcp).
    pub proto: Proto,
    /// The bound address.
    pub at: Endpoint,
}

/// A placement that has been set up: what the plugins built for it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Alloc {
    /// The placement.
    pub placement: Placement,
    /// `eth0`'s address (bridge mode), as IPAM handed it out.
    pub addr: Option<IfAddr>,
    /// The host end of the veth pair (bridge mode).
    pub veth: Option<IfName>,
    /// What portmap was given.
    pub mappings: Vec<PortMapping>,
    /// Where the tasks listen, once started: the host namespace in host mode, the
    /// allocation's namespace in bridge mode.
    pub sockets: Vec<TaskSocket>,
}

impl Alloc {
    /// The namespace the allocation's tasks run in, given the host's.
    pub fn netns<'a>(&'a self, host: &'a NetnsName) -> &'a NetnsName {
        match self.placement.mode {
            NetworkMode::Host => host,
            NetworkMode::Bridge => &self.placement.netns,
        }
    }
}

/// One allocation of a planned job: the placement with what was built, the network setup
/// (Nomad's network hook and the CNI chain) and the tasks' sockets.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AllocPlan {
    /// The allocation as set up.
    pub alloc: Alloc,
    /// Network setup, in order.
    pub setup: Vec<Op>,
    /// The tasks binding their ports.
    pub tasks: Vec<Op>,
}

/// A failed ADD: what ran, which nothing undoes, and why.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("failed to configure network: {error}")]
pub struct AddFailure {
    /// The ops that ran and stay; when a plugin failed, the last one is the op that
    /// failed (it changed nothing).
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

/// The planner for one client (one host namespace).
#[derive(Clone, Debug)]
pub struct Planner {
    /// Nomad's NOMAD-ADMIN steps, the same before every ADD.
    admin: Arc<[IptStep]>,
    chain: BridgeChain,
    client: ClientConfig,
    host: NetnsName,
    seed: Seed,
    ports: PortIndex,
    port_rng: SplitMix64,
    state: State,
    allocs: BTreeMap<String, Alloc>,
}

impl Planner {
    /// A planner for a client with these settings, on a bare host: the model holds only
    /// the namespace `host` (with `lo` down), as `ip netns add` makes it.
    pub fn new(client: ClientConfig, host: NetnsName, seed: Seed) -> Result<Planner, PlanError> {
        let mut state = State::new();
        state.apply(&Op::NetnsAdd { name: host.clone() }).map_err(|source| CniError::Model {
            op: format!("ip netns add {host}"),
            source: Box::new(source),
        })?;
        Planner::on(state, client, host, seed)
    }

    /// A planner for a client whose host is namespace `host` of `state` (a scenario's
    /// topology, with whatever rules and links it already has).
    pub fn on(
        state: State,
        client: ClientConfig,
        host: NetnsName,
        seed: Seed,
    ) -> Result<Planner, PlanError> {
        if state.netns(host.as_str()).is_none() {
            return Err(PlanError::NoHost(host));
        }
        let admin_chain = static_name!(ChainName, NOMAD_ADMIN_CHAIN);
        let chain = BridgeChain::new(
            BridgeNetwork {
                name: NETWORK_NAME.to_owned(),
                bridge: client.bridge.clone(),
                subnet: client.subnet,
                hairpin: client.hairpin_mode,
                admin_chain: admin_chain.clone(),
            },
            seed,
        )?;
        // `BridgeChain::new` has checked that the bridge name can be matched.
        let bridge_match = IfacePattern::new(client.bridge.as_str())
            .ok_or_else(|| CniError::BridgeName(client.bridge.to_string()))?;
        Ok(Planner {
            admin: nomad_admin_add(&admin_chain, &bridge_match, client.subnet).into(),
            chain,
            ports: PortIndex::new(client.min_dynamic_port, client.max_dynamic_port),
            port_rng: seed.stream(&["ports", host.as_str()]),
            allocs: BTreeMap::new(),
            client,
            host,
            seed,
            state,
        })
    }

    /// The client settings.
    pub fn client(&self) -> &ClientConfig {
        &self.client
    }

    /// The host namespace.
    pub fn host(&self) -> &NetnsName {
        &self.host
    }

    /// The model after every op planned so far.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The model after every op planned so far, by value.
    pub fn into_state(self) -> State {
        self.state
    }

    /// The host-local store of Nomad's network, once an ADD or DEL touched it.
    pub fn ipam(&self) -> Option<&HostLocal> {
        self.state.ipam_pools().get(NETWORK_NAME)
    }

    /// Takes host ports on the client's address before any allocation (the client's
    /// `reserved.reserved_ports`).
    pub fn reserve_host_ports(&mut self, ports: &[u16]) {
        self.ports.reserve(self.client.host_ip, ports.iter().copied());
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
        self.schedule_pinned(job, group, index, &Pin::default())
    }

    /// [`Planner::schedule`] with the names `pin` fixes instead of the seeded ones.
    pub fn schedule_pinned(
        &mut self,
        job: &str,
        group: &Group,
        index: u32,
        pin: &Pin,
    ) -> Result<Placement, PlanError> {
        let alloc_id =
            pin.alloc_id.clone().unwrap_or_else(|| alloc_id(self.seed, job, &group.name, index));
        let netns = match &pin.netns {
            Some(n) => n.clone(),
            None => NetnsName::new(&alloc_id)?,
        };
        let ports =
            self.ports.assign(self.client.host_ip, &group.network.ports, &mut self.port_rng)?;
        Ok(Placement {
            alloc_id,
            group: group.name.clone(),
            netns,
            mode: group.network.mode,
            ports,
            veth: pin.veth.clone(),
        })
    }

    /// Schedules, sets up and starts every allocation of a job, group by group; stops at
    /// the first failure (whose ops stay applied to the model).
    pub fn plan_job(&mut self, job: &Job) -> Result<Vec<AllocPlan>, AddFailure> {
        let mut out = Vec::new();
        for group in &job.groups {
            for index in 0..group.count {
                let placement = self
                    .schedule(&job.name, group, index)
                    .map_err(|error| AddFailure { ops: Vec::new(), error })?;
                let (mut alloc, setup) = self.add(placement)?;
                // `start_tasks`, without looking up the allocation just added (it has no
                // sockets yet) twice more.
                let (netns, sockets) = self.task_sockets(&alloc);
                let tasks = self
                    .listen(&netns, &sockets)
                    .map_err(|error| AddFailure { ops: Vec::new(), error })?;
                if let Some(a) = self.allocs.get_mut(&alloc.placement.alloc_id) {
                    a.sockets.clone_from(&sockets);
                }
                alloc.sockets = sockets;
                out.push(AllocPlan { alloc, setup, tasks });
            }
        }
        Ok(out)
    }

    /// The client's network setup of one placement. Host mode needs no op (the tasks bind
    /// host ports themselves). On failure the ops that already ran are returned with the
    /// error and stay applied, as with the real plugins.
    pub fn add(&mut self, placement: Placement) -> Result<(Alloc, Vec<Op>), AddFailure> {
        if self.allocs.contains_key(&placement.alloc_id) {
            let error = PlanError::Duplicate(placement.alloc_id);
            return Err(AddFailure { ops: Vec::new(), error });
        }
        let mut alloc =
            Alloc { placement, addr: None, veth: None, mappings: Vec::new(), sockets: Vec::new() };
        let host_ip = self.client.host_ip;
        // Later ADDs emit 18 ops, and with ports 4 + 6 per port more (portmap); the first
        // one some 15 more. Sized to that (a plan holds some 130,000 ops of 176 bytes):
        // a wrong estimate only costs a reallocation.
        let ports = alloc.placement.ports.len();
        let mut ops = Vec::with_capacity(18 + if ports == 0 { 0 } else { 4 + 6 * ports });
        if alloc.placement.mode == NetworkMode::Bridge
            && let Err(error) = self.bridge_add(&mut alloc, &mut ops)
        {
            self.ports.release(&alloc.placement.ports);
            return Err(AddFailure { ops, error });
        }
        self.ports.reserve(host_ip, alloc.placement.ports.iter().map(|p| p.value));
        self.allocs.insert(alloc.placement.alloc_id.clone(), alloc.clone());
        Ok((alloc, ops))
    }

    /// The emitter of this planner's ops on its model.
    fn emitter<'a>(&'a mut self, ops: &'a mut Vec<Op>) -> Emitter<'a> {
        Emitter { state: &mut self.state, host: &self.host, ops }
    }

    /// Applies `op` to the model and records it.
    fn emit(&mut self, ops: &mut Vec<Op>, op: Op) -> Result<Effect, PlanError> {
        Ok(self.emitter(ops).emit(op)?)
    }

    /// Nomad's network hook for a bridge-mode placement: the namespace, NOMAD-ADMIN, then
    /// the CNI chain's ADD.
    fn bridge_add(&mut self, alloc: &mut Alloc, ops: &mut Vec<Op>) -> Result<(), PlanError> {
        let id = alloc.placement.alloc_id.clone();
        let ns = alloc.placement.netns.clone();
        let eth0 = static_name!(IfName, CONTAINER_IFNAME);
        self.emit(ops, Op::NetnsAdd { name: ns.clone() })?;
        let admin = Arc::clone(&self.admin);
        self.emitter(ops).iptables(&admin)?;
        let veth = match &alloc.placement.veth {
            Some(v) => v.clone(),
            None => self.veth_name(&id),
        };
        alloc.veth = Some(veth.clone());
        alloc.mappings = nomad_port_mappings(&alloc.placement.ports, self.client.portmap_host_ip());
        let attachment = Attachment {
            container_id: &id,
            netns: &ns,
            ifname: &eth0,
            host_veth: &veth,
            mappings: &alloc.mappings,
        };
        let mut e = Emitter { state: &mut self.state, host: &self.host, ops };
        alloc.addr = Some(self.chain.add(&mut e, &attachment)?);
        Ok(())
    }

    /// A host veth name for the container: the seeded one, or the next one from the same
    /// stream if the host already has it (the plugin retries on EEXIST).
    fn veth_name(&self, id: &str) -> IfName {
        let host = self.state.netns(self.host.as_str());
        let taken = |name: &IfName| host.is_some_and(|h| h.link(name.as_str()).is_some());
        let mut name = self.seed.veth_name(id);
        let mut n = 0u32;
        while taken(&name) {
            n += 1;
            name = self.seed.veth_name(&format!("{id}#{n}"));
        }
        name
    }

    /// The tasks of a set-up allocation bind their ports, tcp: in host mode each port on
    /// the host's address (`NOMAD_ADDR_<label>`), in bridge mode each `to` port on any
    /// address of the allocation's namespace. Two labels with the same port bind once.
    pub fn start_tasks(&mut self, alloc_id: &str) -> Result<Vec<Op>, PlanError> {
        let alloc =
            self.allocs.get(alloc_id).ok_or_else(|| PlanError::Unknown(alloc_id.to_owned()))?;
        if !alloc.sockets.is_empty() {
            return Ok(Vec::new());
        }
        let (netns, sockets) = self.task_sockets(alloc);
        let ops = self.listen(&netns, &sockets)?;
        if let Some(a) = self.allocs.get_mut(alloc_id) {
            a.sockets = sockets;
        }
        Ok(ops)
    }

    /// Where the tasks of `alloc` listen (see [`Planner::start_tasks`]).
    fn task_sockets(&self, alloc: &Alloc) -> (NetnsName, Vec<TaskSocket>) {
        let netns = alloc.netns(&self.host).clone();
        let mut sockets: Vec<TaskSocket> = Vec::new();
        for p in &alloc.placement.ports {
            let at = match alloc.placement.mode {
                NetworkMode::Host => Endpoint::new(self.client.host_ip, p.value),
                NetworkMode::Bridge => Endpoint::new(Ipv4Addr::UNSPECIFIED, p.to),
            };
            let socket = TaskSocket { proto: Proto::Tcp, at };
            if !sockets.contains(&socket) {
                sockets.push(socket);
            }
        }
        (netns, sockets)
    }

    /// The tasks bind `sockets` in `netns`.
    fn listen(&mut self, netns: &NetnsName, sockets: &[TaskSocket]) -> Result<Vec<Op>, PlanError> {
        let mut ops = Vec::with_capacity(sockets.len());
        for s in sockets {
            self.emit(&mut ops, Op::Listen { netns: netns.clone(), proto: s.proto, at: s.at })?;
        }
        Ok(ops)
    }

    /// The client's teardown of an allocation: its tasks stop (their sockets close), then
    /// the CNI DEL chain runs and the namespace goes.
    pub fn del(&mut self, alloc_id: &str, mode: DelMode) -> Result<Vec<Op>, PlanError> {
        let alloc =
            self.allocs.remove(alloc_id).ok_or_else(|| PlanError::Unknown(alloc_id.to_owned()))?;
        self.ports.release(&alloc.placement.ports);
        let mut ops = Vec::new();
        let alive = mode == DelMode::Normal || alloc.placement.mode == NetworkMode::Host;
        if alive {
            let netns = alloc.netns(&self.host).clone();
            for s in &alloc.sockets {
                let op = Op::Close { netns: netns.clone(), proto: s.proto, at: s.at };
                self.emit(&mut ops, op)?;
            }
        }
        let (Some(addr), Some(veth)) = (alloc.addr, &alloc.veth) else { return Ok(ops) };
        let ns = alloc.placement.netns.clone();
        if !alive {
            self.emit(&mut ops, Op::NetnsDel { name: ns.clone() })?;
        }
        let eth0 = static_name!(IfName, CONTAINER_IFNAME);
        let attachment = Attachment {
            container_id: alloc_id,
            netns: &ns,
            ifname: &eth0,
            host_veth: veth,
            mappings: &alloc.mappings,
        };
        let mut e = Emitter { state: &mut self.state, host: &self.host, ops: &mut ops };
        self.chain.del(&mut e, &attachment, addr, alive)?;
        if alive {
            self.emit(&mut ops, Op::NetnsDel { name: ns })?;
        }
        Ok(ops)
    }
}
