//! A bridge network's conflist run for one container, as the model's ops: ADD (loopback,
//! bridge with host-local, firewall, portmap) and DEL (portmap, firewall, bridge,
//! loopback), each op applied to the model as it is emitted.
//!
//! The ops are the truth: every "unless it exists" condition of the plugins is decided
//! against the model the ops were applied to, and the container's address is the one
//! `IpamAllocate` returned when applied. Replaying the emitted ops on a copy of the
//! starting state gives the same state.
//!
//! ADD: `lo` up (loopback); the bridge unless the host has it, up; the veth pair made in
//! the container, host end up, master, hairpin; IPAM; the container's address, link up and
//! default route; the gateway address on the bridge (`forceAddress`); `ip_forward`; the
//! masquerade chain (bridge); firewall; portmap, with `route_localnet` between its shared
//! chains and its DNAT chains. DEL: portmap, firewall, IPAM release, the container's
//! interface and its masquerade rules (only if the interface was still there), `lo` down.

use std::net::Ipv4Addr;
use std::sync::Arc;

use nettwin_core::addr::{Cidr, IfAddr};
use nettwin_core::error::{ErrorKind, OpError};
use nettwin_core::ipam::{IpRange, RangeConfig, RangeError};
use nettwin_core::iptables::IfacePattern;
use nettwin_core::names::{ChainName, IfName, NameError, NetnsName};
use nettwin_core::op::{AddrOpts, Effect, LinkChange, Op, RouteSpec, SysctlKey};
use nettwin_core::state::State;

use crate::firewall::{firewall_del, firewall_ip_steps, firewall_setup};
use crate::masquerade::{bridge_masq_add, bridge_masq_del};
use crate::portmap::{
    PortMapping, portmap_container, portmap_del, portmap_shared_dnat, portmap_shared_masq,
};
use crate::seed::Seed;
use crate::steps::{IptStep, resolve, resolve_ref};

/// Why a plugin of the chain failed, or the model refused one of its ops.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CniError {
    /// A CNI plugin failed; the text is libcni's.
    #[error("plugin type=\"{plugin}\" failed (add): {message}")]
    Plugin {
        /// The plugin (`bridge`).
        plugin: &'static str,
        /// The plugin's message.
        message: String,
        /// The model's refusal behind it, if any.
        #[source]
        source: Option<Box<OpError>>,
    },
    /// The network's subnet is not a usable host-local range.
    #[error("bridge network subnet: {0}")]
    Range(#[from] RangeError),
    /// A name derived from the settings is not valid.
    #[error("{0}")]
    Name(#[from] NameError),
    /// The bridge name cannot appear in an iptables `-o` match.
    #[error("bridge name {0:?} cannot be used in an iptables rule")]
    BridgeName(String),
    /// The model refused an op: the starting state conflicts with what the plugins would
    /// build (say a link already named like the planned veth).
    #[error("`{op}` failed: {source}")]
    Model {
        /// The op, as text.
        op: String,
        /// The refusal.
        #[source]
        source: Box<OpError>,
    },
}

/// Ops applied to a model state as they are emitted, and recorded in order.
#[derive(Debug)]
pub struct Emitter<'a> {
    /// The model the ops are applied to.
    pub state: &'a mut State,
    /// The host namespace (where the bridge and the firewall are).
    pub host: &'a NetnsName,
    /// The ops emitted so far.
    pub ops: &'a mut Vec<Op>,
}

impl Emitter<'_> {
    /// Applies `op` to the model and records it; a refused op is not recorded.
    pub fn emit(&mut self, op: Op) -> Result<Effect, CniError> {
        match self.state.apply(&op) {
            Ok(effect) => {
                self.ops.push(op);
                Ok(effect)
            }
            Err(source) => Err(CniError::Model { op: op.to_string(), source: Box::new(source) }),
        }
    }

    /// Resolves kept steps against the host's rules one at a time (cloning only what is
    /// emitted), and emits and applies the resulting commands.
    pub fn iptables(&mut self, steps: &[IptStep]) -> Result<(), CniError> {
        for step in steps {
            let cmds = self.host_rules(|rules| resolve_ref(step, rules));
            self.emit_commands(cmds)?;
        }
        Ok(())
    }

    /// [`Emitter::iptables`] for steps made for this one use.
    pub fn iptables_owned(&mut self, steps: Vec<IptStep>) -> Result<(), CniError> {
        for step in steps {
            let cmds = self.host_rules(|rules| resolve(step, rules));
            self.emit_commands(cmds)?;
        }
        Ok(())
    }

    fn host_rules<T: Default>(&self, f: impl FnOnce(&nettwin_core::iptables::Ruleset) -> T) -> T {
        self.state.netns(self.host.as_str()).map(|h| f(&h.firewall)).unwrap_or_default()
    }

    fn emit_commands(
        &mut self,
        cmds: Vec<(nettwin_core::iptables::Table, nettwin_core::iptables::Command)>,
    ) -> Result<(), CniError> {
        for (table, cmd) in cmds {
            self.emit(Op::Iptables { netns: self.host.clone(), table, cmd })?;
        }
        Ok(())
    }
}

/// The settings of a bridge network's conflist that the plugins act on.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BridgeNetwork {
    /// The network's `name` (chain hashes, comments and the host-local store key).
    pub name: String,
    /// The bridge plugin's `bridge`.
    pub bridge: IfName,
    /// host-local's one range: the whole subnet, gateway `.1`.
    pub subnet: Cidr,
    /// The bridge plugin's `hairpinMode`.
    pub hairpin: bool,
    /// The firewall plugin's `iptablesAdminChainName`.
    pub admin_chain: ChainName,
}

/// One container as the chain is run for it.
#[derive(Clone, Copy, Debug)]
pub struct Attachment<'a> {
    /// `CNI_CONTAINERID`.
    pub container_id: &'a str,
    /// The container's namespace (`CNI_NETNS`).
    pub netns: &'a NetnsName,
    /// `CNI_IFNAME`, the container's end of the veth pair.
    pub ifname: &'a IfName,
    /// The host's end of the veth pair.
    pub host_veth: &'a IfName,
    /// portmap's `runtimeConfig.portMappings`.
    pub mappings: &'a [PortMapping],
}

/// The steps that are the same for every container, built once.
#[derive(Debug)]
struct SharedSteps {
    firewall: Vec<IptStep>,
    portmap_masq: Vec<IptStep>,
    portmap_dnat: Vec<IptStep>,
}

/// A bridge network's conflist (loopback → bridge → firewall → portmap, `snat: true`),
/// ready to run for containers.
#[derive(Clone, Debug)]
pub struct BridgeChain {
    network: BridgeNetwork,
    gateway: Ipv4Addr,
    shared: Arc<SharedSteps>,
    /// The kernel's random MACs, seeded.
    seed: Seed,
}

impl BridgeChain {
    /// The chain for `network`; MACs the kernel would draw come from `seed`. Refuses a
    /// subnet host-local cannot use and a bridge name iptables cannot match.
    pub fn new(network: BridgeNetwork, seed: Seed) -> Result<BridgeChain, CniError> {
        let range = IpRange::new(&RangeConfig::subnet(network.subnet))?;
        if IfacePattern::new(network.bridge.as_str()).is_none() {
            return Err(CniError::BridgeName(network.bridge.to_string()));
        }
        let shared = Arc::new(SharedSteps {
            firewall: firewall_setup(&network.admin_chain),
            portmap_masq: portmap_shared_masq(),
            portmap_dnat: portmap_shared_dnat(),
        });
        Ok(BridgeChain { gateway: range.gateway(), network, shared, seed })
    }

    /// The network's settings.
    pub fn network(&self) -> &BridgeNetwork {
        &self.network
    }

    /// The gateway address host-local hands to containers (the bridge's address).
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// ADD for one container; returns the container's address. On failure the ops that
    /// ran stay emitted and applied, as with the real plugins; when IPAM failed, its op is
    /// the last one (it ran, and changed nothing).
    pub fn add(&self, e: &mut Emitter<'_>, a: &Attachment<'_>) -> Result<IfAddr, CniError> {
        let (host, ns) = (e.host.clone(), a.netns.clone());
        let bridge = self.network.bridge.clone();
        // loopback.
        let lo = nettwin_core::static_name!(IfName, "lo");
        e.emit(Op::LinkSet { netns: ns.clone(), name: lo, change: LinkChange::Up })?;
        // bridge: the bridge if missing, and up on every ADD.
        self.ensure_bridge(e)?;
        e.emit(Op::LinkSet { netns: host.clone(), name: bridge.clone(), change: LinkChange::Up })?;
        // bridge: the veth pair, made in the container, host end moved out.
        let veth = a.host_veth.clone();
        e.emit(Op::VethAdd {
            netns: ns.clone(),
            name: a.ifname.clone(),
            mac: Some(self.seed.mac(ns.as_str(), a.ifname.as_str())),
            peer_netns: host.clone(),
            peer: veth.clone(),
            peer_mac: Some(self.seed.mac(host.as_str(), veth.as_str())),
        })?;
        for change in [
            LinkChange::Up,
            LinkChange::Master(bridge.clone()),
            LinkChange::Hairpin(self.network.hairpin),
        ] {
            e.emit(Op::LinkSet { netns: host.clone(), name: veth.clone(), change })?;
        }
        // bridge: host-local.
        let addr = self.ipam_allocate(e, a)?;
        // bridge: the container's address, link and routes.
        let dev = a.ifname.clone();
        e.emit(Op::AddrAdd {
            netns: ns.clone(),
            dev: dev.clone(),
            addr,
            // The plugins' netlink library sets the broadcast (`brd +`).
            opts: AddrOpts { broadcast: true, label: None },
        })?;
        e.emit(Op::LinkSet { netns: ns.clone(), name: dev.clone(), change: LinkChange::Up })?;
        let default = RouteSpec::new(Cidr::DEFAULT, Some(self.gateway), Some(dev));
        e.emit(Op::RouteAdd { netns: ns, route: default })?;
        // bridge: the gateway address (forceAddress replaces another IPv4 address).
        self.ensure_gateway_addr(e, IfAddr { ip: self.gateway, prefix: addr.prefix })?;
        e.emit(Op::Sysctl { netns: host.clone(), key: SysctlKey::IpForward, value: 1 })?;
        e.iptables_owned(bridge_masq_add(&self.network.name, a.container_id, addr))?;
        // firewall.
        e.iptables(&self.shared.firewall)?;
        e.iptables_owned(firewall_ip_steps(&[addr.ip]))?;
        // portmap: nothing at all without mappings.
        if a.mappings.is_empty() {
            return Ok(addr);
        }
        e.iptables(&self.shared.portmap_masq)?;
        e.emit(Op::Sysctl { netns: host, key: SysctlKey::route_localnet(bridge), value: 1 })?;
        e.iptables(&self.shared.portmap_dnat)?;
        e.iptables_owned(portmap_container(&self.network.name, a.container_id, addr, a.mappings))?;
        Ok(addr)
    }

    /// DEL for one container whose address was `addr`. `netns_alive` says whether the
    /// container's namespace is still there: if it is not, the interface cannot be found,
    /// so it is not deleted and its masquerade rules leak, as with the real plugins.
    pub fn del(
        &self,
        e: &mut Emitter<'_>,
        a: &Attachment<'_>,
        addr: IfAddr,
        netns_alive: bool,
    ) -> Result<(), CniError> {
        let network = &self.network.name;
        e.iptables_owned(portmap_del(network, a.container_id, a.mappings))?;
        e.iptables_owned(firewall_del(&[addr.ip]))?;
        // bridge: host-local first, then the interface (if the namespace is there), and
        // the masquerade rules of the addresses the interface still had.
        e.emit(Op::IpamRelease {
            pool: network.clone(),
            id: a.container_id.to_owned(),
            ifname: a.ifname.clone(),
        })?;
        if netns_alive {
            e.emit(Op::LinkDel { netns: a.netns.clone(), name: a.ifname.clone() })?;
        }
        let found = netns_alive.then_some(addr);
        e.iptables_owned(bridge_masq_del(network, a.container_id, found))?;
        if netns_alive {
            let lo = nettwin_core::static_name!(IfName, "lo");
            e.emit(Op::LinkSet { netns: a.netns.clone(), name: lo, change: LinkChange::Down })?;
        }
        Ok(())
    }

    /// `ensureBridge`: creates the bridge unless the host has it; a link of that name that
    /// is not a bridge fails the plugin with its text.
    fn ensure_bridge(&self, e: &mut Emitter<'_>) -> Result<(), CniError> {
        let bridge = &self.network.bridge;
        let existing = e.state.netns(e.host.as_str()).and_then(|h| h.link(bridge.as_str()));
        match existing {
            Some(link) if link.is_bridge() => Ok(()),
            Some(_) => Err(CniError::Plugin {
                plugin: "bridge",
                message: format!(
                    "failed to create bridge {bridge:?}: {bridge:?} already exists but is not a bridge"
                ),
                source: None,
            }),
            None => {
                let mac = Some(self.seed.mac(e.host.as_str(), bridge.as_str()));
                e.emit(Op::BridgeAdd { netns: e.host.clone(), name: bridge.clone(), mac }).map(drop)
            }
        }
    }

    /// `ensureAddr` with `forceAddress`: walks the bridge's IPv4 addresses in order; the
    /// gateway address ends the walk, any other address is deleted; the gateway address is
    /// added if the walk did not find it.
    fn ensure_gateway_addr(&self, e: &mut Emitter<'_>, gw: IfAddr) -> Result<(), CniError> {
        let bridge = &self.network.bridge;
        loop {
            let first = e
                .state
                .netns(e.host.as_str())
                .and_then(|h| h.link(bridge.as_str()))
                .and_then(|l| l.addrs.first().copied());
            let dev = bridge.clone();
            match first {
                Some(a) if a == gw => return Ok(()),
                Some(old) => {
                    e.emit(Op::AddrDel { netns: e.host.clone(), dev, addr: old }).map(drop)?
                }
                None => {
                    return e
                        .emit(Op::AddrAdd {
                            netns: e.host.clone(),
                            dev,
                            addr: gw,
                            // The plugins' netlink library sets the broadcast (`brd +`).
                            opts: AddrOpts { broadcast: true, label: None },
                        })
                        .map(drop);
                }
            }
        }
    }

    /// host-local's ADD, applied to the model: the address is whatever it hands out. Its
    /// refusals (exhausted range, duplicate) are the bridge plugin's failure; the op that
    /// failed is recorded, since it ran.
    fn ipam_allocate(&self, e: &mut Emitter<'_>, a: &Attachment<'_>) -> Result<IfAddr, CniError> {
        let op = Op::IpamAllocate {
            pool: self.network.name.clone(),
            subnet: self.network.subnet,
            gateway: Some(self.gateway),
            id: a.container_id.to_owned(),
            ifname: a.ifname.clone(),
        };
        let result = e.state.apply(&op);
        e.ops.push(op);
        // The op's text only for an error (it is what `CniError::Model` quotes).
        let text = || e.ops.last().map(ToString::to_string).unwrap_or_default();
        match result {
            Ok(Effect::Allocated(addr)) => Ok(addr),
            Ok(Effect::Done) => Err(CniError::Model {
                op: text(),
                source: Box::new(
                    OpError::new(ErrorKind::Unexpected, "allocate from", &self.network.name)
                        .detail("IPAM handed out no address"),
                ),
            }),
            Err(e) if matches!(e.kind, ErrorKind::PoolExhausted | ErrorKind::AlreadyExists) => {
                let message = e.detail.clone().unwrap_or_else(|| e.to_string());
                Err(CniError::Plugin { plugin: "bridge", message, source: Some(Box::new(e)) })
            }
            Err(source) => Err(CniError::Model { op: text(), source: Box::new(source) }),
        }
    }
}
