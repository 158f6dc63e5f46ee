//! nettwin-sim: the `Backend` trait on the core model, and the packet tracer.
//!
//! - [`SimBackend`] (this file): applies ops to a `State`, observes it, and traces probes
//!   with indexes cached until the state changes.
//! - `topo`: derived indexes of the topology: local addresses, which bridge port leads to
//!   which address.
//! - `netfilter`: filter and nat tables compiled for lookup (a per-chain index, so that a
//!   traversal does not scan every rule), and the traversal of a hook's chains.
//! - `conntrack`: the connections one probe creates, and the reversal of their NAT.
//! - `fault`: deliberate mistakes (the `faults` feature switches them on) that prove the
//!   differential suites catch a wrong simulator.
//! - `walk`: the packet's journey: the IP stack (`walk::stack`), routing
//!   (`walk::routing`), devices (`walk::link`), bridge forwarding (`walk::bridge`),
//!   netfilter hooks in the kernel's order (`walk::hooks`) and NAT (`walk::nat`).
//!
//! Architecture invariants: tracing is a pure function of the state and the probe (plus
//! the count of probes without a source port, for `default_sport`): no clock, no
//! randomness, and every collection that is iterated is ordered. Caches change how fast,
//! never what, a trace says. Rendering traces lives in core (`nettwin_core::trace::render`),
//! not here.

#![forbid(unsafe_code)]

mod conntrack;
mod fault;
mod netfilter;
mod topo;
mod walk;

use std::collections::BTreeSet;

use nettwin_core::addr::Endpoint;
use nettwin_core::backend::{Backend, BackendError};
use nettwin_core::error::OpError;
use nettwin_core::names::NetnsName;
use nettwin_core::op::{Effect, Op};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::state::State;
use nettwin_core::trace::{Flow, Probe, Trace, default_sport};

pub use fault::Fault;
use fault::Faults;
use netfilter::Firewall;
use topo::{LookupMap, Topo};

/// The simulator: a `State` and what is derived from it for tracing.
#[derive(Debug, Default)]
pub struct SimBackend {
    state: State,
    /// Probes sent so far without a source port (the `n` of `default_sport`).
    unpinned: u32,
    /// The topology index and the generation of the state it was built from.
    topo: Option<(u64, Topo)>,
    /// Compiled firewalls by namespace.
    firewalls: LookupMap<NetnsName, Firewall>,
    /// Namespaces whose firewall must be compiled again (an op changed their rules, or
    /// they are new), so that a probe costs nothing per unchanged namespace.
    stale: BTreeSet<NetnsName>,
    /// Deliberate mistakes (none unless a test asks, with the `faults` feature).
    faults: Faults,
}

impl SimBackend {
    /// A simulator with no namespaces.
    pub fn new() -> SimBackend {
        SimBackend::default()
    }

    /// A simulator starting from `state`.
    pub fn from_state(state: State) -> SimBackend {
        let stale = state.namespaces().keys().cloned().collect();
        SimBackend { state, stale, ..SimBackend::default() }
    }

    /// The same simulator, deliberately wrong in one way (see `Fault`): for the
    /// differential suites' proof that they catch a wrong simulator. Never use it to
    /// predict anything.
    #[cfg(feature = "faults")]
    pub fn with_fault(mut self, fault: Fault) -> SimBackend {
        self.faults.set(fault);
        self
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Brings the caches up to date with the state.
    fn refresh(&mut self) {
        let generation = self.state.generation();
        if self.topo.as_ref().is_none_or(|(g, _)| *g != generation) {
            self.topo = Some((generation, Topo::build(&self.state)));
        }
        for name in std::mem::take(&mut self.stale) {
            match self.state.netns(name.as_str()) {
                Some(ns) => self.firewalls.insert(name, Firewall::build(&ns.firewall)),
                None => self.firewalls.remove(&name),
            };
        }
    }

    /// The header a probe leaves its namespace with: its source address (or what routing
    /// picks) and port (or the next default port).
    fn flow_of(&mut self, probe: &Probe, topo: &Topo) -> Result<Flow, BackendError> {
        if let Some(why) = probe.not_supported() {
            return Err(BackendError::BadProbe(why.to_owned()));
        }
        let (_, t) = topo
            .get(&probe.from)
            .ok_or_else(|| BackendError::BadProbe(format!("no namespace {}", probe.from)))?;
        let ns = t.netns();
        let src = match probe.src {
            // With `ip_nonlocal_bind` the bind succeeds and routing refuses the address.
            Some(ip) if !t.is_local(ip) && ns.ip_nonlocal_bind == 0 => {
                return Err(BackendError::BadProbe(format!(
                    "{ip} is not an address of {} (bind would fail)",
                    probe.from
                )));
            }
            Some(ip) => ip,
            None => walk::source_for(t, probe.dst.ip).unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        };
        let sport = match probe.sport {
            Some(p) => p,
            None => {
                let p = default_sport(self.unpinned);
                self.unpinned = self.unpinned.wrapping_add(1);
                p
            }
        };
        let (sport, dport) = if probe.proto.has_ports() { (sport, probe.dst.port) } else { (0, 0) };
        Ok(Flow {
            proto: probe.proto,
            src: Endpoint::new(src, sport),
            dst: Endpoint::new(probe.dst.ip, dport),
        })
    }

    /// Traces one probe (the same as `Backend::probe`).
    pub fn trace(&mut self, probe: &Probe) -> Result<Trace, BackendError> {
        self.refresh();
        let (_, topo) = self.topo.take().unwrap_or_else(|| (0, Topo::build(&self.state)));
        let result = self.flow_of(probe, &topo);
        let trace =
            result.map(|flow| walk::trace(&topo, &self.firewalls, self.faults, probe, flow));
        self.topo = Some((self.state.generation(), topo));
        trace
    }
}

impl Backend for SimBackend {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn apply(&mut self, op: &Op) -> Result<Effect, OpError> {
        let effect = self.state.apply(op)?;
        match op {
            Op::Iptables { netns, .. }
            | Op::NetnsAdd { name: netns }
            | Op::NetnsDel { name: netns } => {
                self.stale.insert(netns.clone());
            }
            _ => {}
        }
        Ok(effect)
    }

    fn observe(&mut self) -> Result<Snapshot, BackendError> {
        Ok(Snapshot::of(&self.state))
    }

    fn probe(&mut self, probe: &Probe) -> Result<Trace, BackendError> {
        self.trace(probe)
    }
}
