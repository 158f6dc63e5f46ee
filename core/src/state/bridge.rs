//! Bridges and their ports: enslaving and releasing ports, hairpin, and the bridge's MTU
//! following its smallest port until set by hand. (Frames crossing a bridge are the
//! simulator's business: `nettwin_sim`'s `walk::bridge`.)

use super::{ETH_MTU, Link, LinkKind, Netns, State, missing_link};
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, NetnsName};
use crate::op::Effect;

impl State {
    /// `ip link set NAME master BRIDGE`.
    pub(super) fn enslave(
        &mut self,
        netns: &NetnsName,
        name: &IfName,
        bridge: &IfName,
    ) -> Result<Effect, OpError> {
        let ns = self.ns(netns)?;
        let link = ns.links.get(name).ok_or_else(|| missing_link(netns, name))?;
        let br = ns.links.get(bridge).ok_or_else(|| missing_link(netns, bridge))?;
        if !br.is_bridge() {
            return Err(OpError::new(ErrorKind::NotSupported, "enslave", name)
                .detail(format!("{bridge} is not a bridge")));
        }
        if link.is_bridge() {
            return Err(OpError::new(ErrorKind::Loop, "enslave", name)
                .detail("a bridge cannot be a bridge port"));
        }
        if link.kind == LinkKind::Loopback {
            return Err(OpError::new(ErrorKind::InvalidArgument, "enslave", name));
        }
        let old = link.master.clone();
        let ns = self.ns_mut(netns)?;
        if let Some(l) = ns.links.get_mut(name)
            && l.master.as_ref() != Some(bridge)
        {
            l.master = Some(bridge.clone());
            l.hairpin = false;
        }
        if let Some(old) = old.filter(|o| o != bridge) {
            ns.bridge_mtu_auto_adjust(&old);
        }
        ns.bridge_mtu_port_joined(bridge, name);
        Ok(Effect::Done)
    }

    /// `ip link set NAME nomaster`: a port leaves its bridge (hairpin goes with it).
    pub(super) fn release(&mut self, netns: &NetnsName, name: &IfName) -> Result<Effect, OpError> {
        let ns = self.ns(netns)?;
        let link = ns.links.get(name).ok_or_else(|| missing_link(netns, name))?;
        let old = link.master.clone();
        let ns = self.ns_mut(netns)?;
        if let Some(l) = ns.links.get_mut(name) {
            l.master = None;
            l.hairpin = false;
        }
        if let Some(old) = old {
            ns.bridge_mtu_auto_adjust(&old);
        }
        Ok(Effect::Done)
    }

    /// `ip link set NAME type bridge_slave hairpin on|off`: only a bridge port has it.
    pub(super) fn hairpin(
        &mut self,
        netns: &NetnsName,
        name: &IfName,
        on: bool,
    ) -> Result<Effect, OpError> {
        let ns = self.ns(netns)?;
        let link = ns.links.get(name).ok_or_else(|| missing_link(netns, name))?;
        if link.master.is_none() {
            return Err(OpError::new(ErrorKind::NotSupported, "set hairpin on", name)
                .detail("not a bridge port"));
        }
        let ns = self.ns_mut(netns)?;
        if let Some(l) = ns.links.get_mut(name) {
            l.hairpin = on;
        }
        Ok(Effect::Done)
    }
}

impl Netns {
    /// The bridge ports of `bridge`.
    pub fn ports<'a>(&'a self, bridge: &'a str) -> impl Iterator<Item = (&'a IfName, &'a Link)> {
        self.links
            .iter()
            .filter(move |(_, l)| l.master.as_ref().is_some_and(|m| m.as_str() == bridge))
    }

    /// A bridge went away: its ports are released (hairpin goes with them).
    pub(super) fn release_ports(&mut self, bridge: &IfName) {
        for port in self.links.values_mut().filter(|l| l.master.as_ref() == Some(bridge)) {
            port.master = None;
            port.hairpin = false;
        }
    }

    /// `bridge_mtu_auto_adjust` after `port` joined `bridge`, without walking every link
    /// when the answer is known: a port whose MTU equals the bridge's leaves it as it is
    /// (whether or not the bridge had other ports), a smaller one becomes the bridge's.
    fn bridge_mtu_port_joined(&mut self, bridge: &IfName, port: &IfName) {
        let (Some(br), Some(p)) = (self.links.get(bridge), self.links.get(port)) else { return };
        if br.mtu_set_by_user || p.mtu == br.mtu {
            return;
        }
        if p.mtu < br.mtu {
            let mtu = p.mtu;
            if let Some(br) = self.links.get_mut(bridge) {
                br.mtu = mtu;
            }
            return;
        }
        self.bridge_mtu_auto_adjust(bridge);
    }

    /// Re-computes an auto-sized bridge's MTU: the smallest port MTU, or 1500 without ports.
    pub(super) fn bridge_mtu_auto_adjust(&mut self, bridge: &IfName) {
        let Some(br) = self.links.get(bridge) else { return };
        if br.mtu_set_by_user {
            return;
        }
        let mtu = self.ports(bridge.as_str()).map(|(_, l)| l.mtu).min().unwrap_or(ETH_MTU);
        if let Some(br) = self.links.get_mut(bridge) {
            br.mtu = mtu;
        }
    }
}
