//! Namespaces and links: add, delete, and every `ip link set` change.

use super::{
    DevConf, ETH_MAX_MTU, ETH_MIN_MTU, IPV4_MIN_MTU, Link, LinkKind, Netns, State, missing_link,
    missing_netns,
};
use crate::addr::IfAddr;
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, Mac, NetnsName};
use crate::op::{Effect, LinkChange};

impl State {
    pub(super) fn netns_add(&mut self, name: &NetnsName) -> Result<Effect, OpError> {
        if self.namespaces.contains_key(name) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add namespace", name));
        }
        self.namespaces.insert(name.clone(), Netns::new());
        Ok(Effect::Done)
    }

    pub(super) fn netns_del(&mut self, name: &NetnsName) -> Result<Effect, OpError> {
        let ns = self.namespaces.remove(name).ok_or_else(|| missing_netns(name))?;
        // Veths whose peer lives elsewhere take the peer with them.
        for link in ns.links.values() {
            if let LinkKind::Veth { peer_netns, peer } = &link.kind
                && peer_netns != name
            {
                self.remove_link(peer_netns, peer);
            }
        }
        Ok(Effect::Done)
    }

    pub(super) fn bridge_add(
        &mut self,
        netns: &NetnsName,
        name: &IfName,
        mac: Option<Mac>,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        reserved_name(name)?;
        if ns.links.contains_key(name) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add", name));
        }
        let mac = mac.unwrap_or_else(|| Mac::derive(&[netns.as_str(), name.as_str()]));
        let mut link = Link::new(LinkKind::Bridge, mac);
        link.conf = DevConf::from_default(&ns.conf_default);
        link.order = self.take_order();
        self.ns_mut(netns)?.links.insert(name.clone(), link);
        Ok(Effect::Done)
    }

    pub(super) fn veth_add(
        &mut self,
        netns: &NetnsName,
        name: &IfName,
        mac: Option<Mac>,
        peer_netns: &NetnsName,
        peer: &IfName,
        peer_mac: Option<Mac>,
    ) -> Result<Effect, OpError> {
        let ns = self.ns(netns)?;
        let pns = self.ns(peer_netns)?;
        reserved_name(name)?;
        reserved_name(peer)?;
        if ns.links.contains_key(name) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add", name));
        }
        if pns.links.contains_key(peer) || (netns == peer_netns && name == peer) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add", peer));
        }
        let mac = mac.unwrap_or_else(|| Mac::derive(&[netns.as_str(), name.as_str()]));
        let peer_mac =
            peer_mac.unwrap_or_else(|| Mac::derive(&[peer_netns.as_str(), peer.as_str()]));
        let mut a =
            Link::new(LinkKind::Veth { peer_netns: peer_netns.clone(), peer: peer.clone() }, mac);
        let mut b =
            Link::new(LinkKind::Veth { peer_netns: netns.clone(), peer: name.clone() }, peer_mac);
        // Each end starts with the defaults of the namespace it is created in.
        a.conf = DevConf::from_default(&ns.conf_default);
        b.conf = DevConf::from_default(&pns.conf_default);
        // The kernel registers the peer first.
        b.order = self.take_order();
        a.order = self.take_order();
        self.ns_mut(netns)?.links.insert(name.clone(), a);
        self.ns_mut(peer_netns)?.links.insert(peer.clone(), b);
        Ok(Effect::Done)
    }

    pub(super) fn link_del(&mut self, netns: &NetnsName, name: &IfName) -> Result<Effect, OpError> {
        let link = self.ns(netns)?.links.get(name).ok_or_else(|| missing_link(netns, name))?;
        if link.kind == LinkKind::Loopback {
            return Err(OpError::new(ErrorKind::NotSupported, "delete", name));
        }
        self.remove_link(netns, name);
        Ok(Effect::Done)
    }

    /// Removes a link with every consequence: its routes, its ports' membership, its peer.
    fn remove_link(&mut self, netns: &NetnsName, name: &IfName) {
        let Some(ns) = self.namespaces.get_mut(netns) else { return };
        let Some(link) = ns.links.remove(name) else { return };
        ns.flush_routes_via(name);
        ns.neigh_ifdown(name);
        if !link.addrs.is_empty() {
            ns.addresses_changed();
        }
        if link.is_bridge() {
            ns.release_ports(name);
        }
        if let Some(master) = &link.master {
            ns.bridge_mtu_auto_adjust(master);
        }
        if let LinkKind::Veth { peer_netns, peer } = link.kind {
            self.remove_link(&peer_netns, &peer);
        }
    }

    pub(super) fn link_set(
        &mut self,
        netns: &NetnsName,
        name: &IfName,
        change: &LinkChange,
    ) -> Result<Effect, OpError> {
        let ns = self.ns(netns)?;
        let link = ns.links.get(name).ok_or_else(|| missing_link(netns, name))?;
        match change {
            LinkChange::Up => {
                let ns = self.ns_mut(netns)?;
                ns.set_up(name);
            }
            LinkChange::Down => {
                let was_up = link.up;
                let ns = self.ns_mut(netns)?;
                if let Some(l) = ns.links.get_mut(name) {
                    l.up = false;
                }
                ns.flush_routes_via(name);
                if was_up {
                    ns.neigh_ifdown(name);
                }
            }
            LinkChange::Master(bridge) => return self.enslave(netns, name, bridge),
            LinkChange::NoMaster => return self.release(netns, name),
            LinkChange::Mtu(mtu) => {
                let range = if link.kind == LinkKind::Loopback {
                    0..=u32::MAX
                } else {
                    ETH_MIN_MTU..=ETH_MAX_MTU
                };
                if !range.contains(mtu) {
                    return Err(OpError::new(ErrorKind::InvalidArgument, "set mtu of", name)
                        .detail(format!("{mtu} is outside {}..={}", range.start(), range.end())));
                }
                let master = link.master.clone();
                let ns = self.ns_mut(netns)?;
                if let Some(l) = ns.links.get_mut(name) {
                    l.mtu = *mtu;
                    if l.is_bridge() {
                        l.mtu_set_by_user = true;
                    }
                }
                ns.ipv4_follows_mtu(name);
                if let Some(m) = master {
                    ns.bridge_mtu_auto_adjust(&m);
                }
            }
            LinkChange::Hairpin(on) => return self.hairpin(netns, name, *on),
            LinkChange::Netns(to) => return self.link_move(netns, name, to),
        }
        Ok(Effect::Done)
    }

    fn link_move(
        &mut self,
        netns: &NetnsName,
        name: &IfName,
        to: &NetnsName,
    ) -> Result<Effect, OpError> {
        let target = self.ns(to)?;
        if to == netns {
            return Ok(Effect::Done);
        }
        let link = self.ns(netns)?.links.get(name).ok_or_else(|| missing_link(netns, name))?;
        if matches!(link.kind, LinkKind::Loopback | LinkKind::Bridge) {
            return Err(OpError::new(ErrorKind::InvalidArgument, "move", name)
                .detail("the device is local to its namespace"));
        }
        if target.links.contains_key(name) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "move", name)
                .detail(format!("{to} already has a device of that name")));
        }
        let ns = self.ns_mut(netns)?;
        let Some(mut link) = ns.links.remove(name) else { return Err(missing_link(netns, name)) };
        ns.flush_routes_via(name);
        ns.neigh_ifdown(name);
        if let Some(master) = link.master.take() {
            ns.bridge_mtu_auto_adjust(&master);
        }
        link.up = false;
        link.hairpin = false;
        let had_addrs = !link.addrs.is_empty();
        link.addrs.clear();
        link.addr_opts.clear();
        if had_addrs {
            ns.addresses_changed();
        }
        if let LinkKind::Veth { peer_netns, peer } = &link.kind
            && let Some(p) = self.namespaces.get_mut(peer_netns).and_then(|n| n.links.get_mut(peer))
        {
            p.kind = LinkKind::Veth { peer_netns: to.clone(), peer: name.clone() };
        }
        link.order = self.take_order();
        let target = self.ns_mut(to)?;
        // A device moved in takes the defaults of its new namespace.
        link.conf = DevConf::from_default(&target.conf_default);
        target.links.insert(name.clone(), link);
        Ok(Effect::Done)
    }
}

impl Netns {
    /// Brings a link up: `lo` gets 127.0.0.1/8 back, and connected routes appear.
    fn set_up(&mut self, name: &IfName) {
        let Some(link) = self.links.get_mut(name) else { return };
        if link.up {
            return;
        }
        link.up = true;
        if link.kind == LinkKind::Loopback && link.ipv4 {
            // The kernel marks every IPv4 setting of `lo` written as it comes up.
            link.conf.mark_written();
            let lo = IfAddr { ip: std::net::Ipv4Addr::LOCALHOST, prefix: 8 };
            if !link.addrs.contains(&lo) {
                link.addrs.push(lo);
            }
            self.local_table = true;
            for a in super::addrs::primaries(&link.addrs) {
                if a.prefix < 32 && !self.lo_nets.contains(&a.network()) {
                    self.lo_nets.push(a.network());
                }
            }
            self.addresses_changed();
        }
        self.add_connected_routes(name);
    }

    /// An MTU below 68 destroys the link's IPv4 configuration (addresses, their local and
    /// connected routes, routes through it, `route_localnet`); 68 or more brings back an
    /// empty one (and `lo` gets 127.0.0.1 only when it next comes up).
    fn ipv4_follows_mtu(&mut self, name: &IfName) {
        let default = self.conf_default;
        let Some(link) = self.links.get_mut(name) else { return };
        let keep = link.mtu >= IPV4_MIN_MTU;
        if keep == link.ipv4 {
            return;
        }
        link.ipv4 = keep;
        // The IPv4 configuration is destroyed or made afresh: a new one starts from the
        // defaults.
        link.conf = DevConf::from_default(&default);
        if !keep {
            link.addrs.clear();
            link.addr_opts.clear();
            self.neighbours.retain(|(d, _), _| d != name);
            if link.kind == LinkKind::Loopback {
                self.lo_nets.clear();
            }
            self.flush_routes_via(name);
            self.addresses_changed();
        }
    }
}

/// `all` and `default` name the sysctl directories `net.ipv4.conf.all` and `.default`:
/// the kernel refuses them as link names (EINVAL).
fn reserved_name(name: &IfName) -> Result<(), OpError> {
    if matches!(name.as_str(), "all" | "default") {
        return Err(OpError::new(ErrorKind::InvalidArgument, "add", name)
            .detail("a link may not be named like net.ipv4.conf's all and default"));
    }
    Ok(())
}
