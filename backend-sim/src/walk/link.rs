//! Devices: sending out of a device towards a next hop (ARP must be answered, by the
//! next hop's owner or by a namespace that proxies for it), crossing a veth (both ends up,
//! or no carrier) into the peer's stack or bridge (`bridge`).

use std::net::Ipv4Addr;

use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::state::{LinkKind, RouteQuery};
use nettwin_core::trace::{Dir, Silence, Step};

use super::neigh::Entry;
use super::{End, Go, Pkt, Walk};
use crate::topo::L2Owner;

impl<'s> Walk<'s> {
    /// Sends `pkt` out of `dev` in `ns` towards `nexthop`.
    pub(crate) fn xmit(&mut self, ns: &NetnsName, dev: &IfName, nexthop: Ipv4Addr, pkt: Pkt) -> Go {
        let link = self.ns_topo(ns).link(dev.as_str());
        let Some(link) = link else {
            return Err(End::timed_out(ns, Silence::NoCarrier { dev: dev.clone() }));
        };
        match &link.kind {
            LinkKind::Loopback => {
                // Local traffic goes through `lo`; while it is down the kernel drops it.
                if !link.up {
                    return Err(End::timed_out(ns, Silence::NoCarrier { dev: dev.clone() }));
                }
                self.hop(ns, Some(dev), Dir::Out, &pkt, Step::Seen)?;
                self.hop(ns, Some(dev), Dir::In, &pkt, Step::Seen)?;
                self.loopback_takes(ns, dev)?;
                self.input(ns, dev, pkt, false)
            }
            // A bridge port transmits, but the ARP answer it asks for comes back into the
            // bridge, not to the port's own stack: its neighbour never resolves.
            // (A permanent neighbour entry needs no answer: the frame goes out.)
            LinkKind::Veth { .. }
                if link.master.is_some()
                    && self.ns_topo(ns).netns().neighbour(dev, nexthop).is_some() =>
            {
                self.veth_out(ns, dev, nexthop, pkt, Arp::Ask)
            }
            LinkKind::Veth { peer_netns, peer } if link.master.is_some() => {
                if link.up && self.peer_up(peer_netns, peer) {
                    Err(no_neighbor(ns, nexthop, dev))
                } else {
                    Err(End::timed_out(ns, Silence::NoCarrier { dev: dev.clone() }))
                }
            }
            LinkKind::Veth { .. } => self.veth_out(ns, dev, nexthop, pkt, Arp::Ask),
            LinkKind::Bridge => {
                if !link.up || !self.bridge_has_carrier(ns, dev) {
                    return Err(End::timed_out(ns, Silence::NoCarrier { dev: dev.clone() }));
                }
                let owner = self.ns_topo(ns).l2_owner(dev.as_str(), nexthop);
                let Some(L2Owner::Port { port, owner }) = owner else {
                    return Err(no_neighbor(ns, nexthop, dev));
                };
                let on = self.arp_device(ns, &port, &owner);
                let fixed = self.ns_topo(ns).netns().neighbour(dev, nexthop);
                if let Some(mac) = fixed
                    && self.mac_behind(ns, &port) != Some(mac)
                {
                    self.hop(ns, Some(dev), Dir::Out, &pkt, Step::Seen)?;
                    return Err(End::timed_out(ns, Silence::OtherHost { dev: dev.clone() }));
                }
                if fixed.is_none()
                    && !self.neigh.known(ns, dev, nexthop)
                    && !self.arp_answered(ns, dev, nexthop, &pkt, (&owner, on.as_ref()))
                {
                    return Err(no_neighbor(ns, nexthop, dev));
                }
                if fixed.is_none() {
                    self.neigh.send(ns, dev, nexthop);
                }
                self.hop(ns, Some(dev), Dir::Out, &pkt, Step::Seen)?;
                let step = Step::Bridge { to: port.clone(), learned: true };
                self.hop(ns, Some(dev), Dir::Bridge, &pkt, step)?;
                self.veth_out(ns, &port, nexthop, pkt, Arp::Done)
            }
        }
    }

    /// Whether `owner`, which holds `nexthop`, answers the ARP request `ns` sends out of
    /// `dev` for it while sending `pkt`; the request reaches the owner on device `on`
    /// (`None` when it is further away than the next bridge). The request's sender address
    /// is the packet's source when that is local, else the device's address; the owner
    /// looks the request up like a packet from that address (`arp_process` with
    /// `ip_route_input`): an address of its own there is a martian source (the same address
    /// in two namespaces on one link), and a source the reverse-path filter of `on` refuses
    /// gets no answer either. The target must be local to the owner by its own route lookup.
    pub(super) fn arp_answered(
        &self,
        ns: &NetnsName,
        dev: &IfName,
        nexthop: Ipv4Addr,
        pkt: &Pkt,
        (owner, on): (&NetnsName, Option<&IfName>),
    ) -> bool {
        let sender = self.ns_topo(ns).arp_source(dev.as_str(), nexthop, pkt.flow.src.ip);
        let (owner_ns, owner) = (owner, self.ns_topo(owner));
        let filtered = match (sender, on) {
            (Some(ip), Some(on)) => !super::stack::reverse_path_ok(owner, on, ip, nexthop),
            _ => false,
        };
        let target =
            owner.is_local(nexthop) || on.is_some_and(|on| self.proxies(owner_ns, on, nexthop));
        target && sender.is_none_or(|ip| !owner.has_address(ip)) && !filtered
    }

    /// Whether `ns` answers an ARP request for `ip` that arrives on `dev` by proxy
    /// (`arp_fwd_proxy`): `proxy_arp` is on for `dev`, `dev` forwards, and `ns` routes `ip`
    /// elsewhere, out of another device.
    pub(super) fn proxies(&self, ns: &NetnsName, dev: &IfName, ip: Ipv4Addr) -> bool {
        let topo = self.ns_topo(ns);
        let netns = topo.netns();
        netns.proxy_arp(dev.as_str())
            && netns.forwarding(dev.as_str())
            && !topo.is_local(ip)
            && netns
                .decide(&RouteQuery { dst: ip, src: None, iif: Some(dev), oif: None, mark: 0 })
                .route()
                .is_some_and(|r| r.dev != *dev)
    }

    /// Whether bridge `br` of `ns` has carrier: some port of it is up with carrier (a veth
    /// whose peer is up too). Without, the kernel sends nothing out of it.
    fn bridge_has_carrier(&self, ns: &NetnsName, br: &IfName) -> bool {
        self.ns_topo(ns).netns().ports(br.as_str()).any(|(_, port)| {
            port.up
                && match &port.kind {
                    LinkKind::Veth { peer_netns, peer } => self.peer_up(peer_netns, peer),
                    _ => true,
                }
        })
    }

    /// Whether a veth's peer (`peer` in `peer_netns`) is up: the veth's carrier.
    fn peer_up(&self, peer_netns: &NetnsName, peer: &IfName) -> bool {
        let n = self.canonical(peer_netns).map_or_else(|| peer_netns.clone(), |(n, _)| n);
        self.ns_topo(&n).link(peer.as_str()).is_some_and(|l| l.up)
    }

    /// The device of `owner` an ARP request sent out of bridge port `port` of `ns` arrives
    /// on: the port's veth peer, or the bridge above that peer; `None` when `owner` is not
    /// the peer's namespace (further bridges away).
    pub(super) fn arp_device(
        &self,
        ns: &NetnsName,
        port: &IfName,
        owner: &NetnsName,
    ) -> Option<IfName> {
        let link = self.ns_topo(ns).link(port.as_str())?;
        let LinkKind::Veth { peer_netns, peer } = &link.kind else { return None };
        let peer_netns = self.canonical(peer_netns).map_or_else(|| peer_netns.clone(), |(n, _)| n);
        if peer_netns != *owner {
            return None;
        }
        let plink = self.ns_topo(&peer_netns).link(peer.as_str())?;
        Some(plink.master.clone().unwrap_or_else(|| peer.clone()))
    }

    /// Sends `pkt` out of veth `dev`: the peer receives it, as a bridge port or a device of
    /// its namespace's stack. With `Arp::Ask`, `ns` resolves `nexthop` first.
    pub(super) fn veth_out(
        &mut self,
        ns: &NetnsName,
        dev: &IfName,
        nexthop: Ipv4Addr,
        mut pkt: Pkt,
        arp: Arp,
    ) -> Go {
        let no_carrier = || End::timed_out(ns, Silence::NoCarrier { dev: dev.clone() });
        let link = self.ns_topo(ns).link(dev.as_str()).ok_or_else(no_carrier)?;
        let LinkKind::Veth { peer_netns, peer } = &link.kind else { return Err(no_carrier()) };
        let peer = peer.clone();
        let peer_netns = self.canonical(peer_netns).map_or_else(|| peer_netns.clone(), |(n, _)| n);
        let ptopo = self.ns_topo(&peer_netns);
        let plink = ptopo.link(peer.as_str()).ok_or_else(no_carrier)?;
        if !link.up || !plink.up {
            return Err(no_carrier());
        }
        // ARP: someone behind the peer must answer for the next hop, unless an entry for
        // it is already known (learned from its own request earlier in the probe).
        let owner = match &plink.master {
            Some(br) if ptopo.link(br.as_str()).is_some_and(|b| b.up) => {
                match ptopo.l2_owner(br.as_str(), nexthop) {
                    Some(L2Owner::Local) => Some(peer_netns.clone()),
                    Some(L2Owner::Port { owner, .. }) => Some(owner),
                    None => self.proxies(&peer_netns, br, nexthop).then(|| peer_netns.clone()),
                }
            }
            Some(_) => None,
            None => ((ptopo.is_local(nexthop) && !nexthop.is_loopback())
                || self.proxies(&peer_netns, &peer, nexthop))
            .then(|| peer_netns.clone()),
        };
        // The device the owner hears the request on.
        let on = match (&owner, &plink.master) {
            (Some(o), Some(br)) if *o == peer_netns => Some(br.clone()),
            (Some(o), Some(br)) => match ptopo.l2_owner(br.as_str(), nexthop) {
                Some(L2Owner::Port { port, .. }) => self.arp_device(&peer_netns, &port, o),
                _ => None,
            },
            (_, None) => Some(peer.clone()),
            (None, Some(_)) => None,
        };
        // A permanent neighbour entry sends the frame to its MAC without asking: the peer
        // takes it if the MAC is its own (or, as a bridge port, the MAC of what the bridge
        // reaches through the port the owner is behind), else drops it.
        let fixed =
            if arp == Arp::Ask { self.ns_topo(ns).netns().neighbour(dev, nexthop) } else { None };
        if let Some(mac) = fixed {
            let taker = match &plink.master {
                None => Some(plink.mac),
                Some(br) => match ptopo.l2_owner(br.as_str(), nexthop) {
                    Some(L2Owner::Local) => ptopo.link(br.as_str()).map(|b| b.mac),
                    Some(L2Owner::Port { port, .. }) => self.mac_behind(&peer_netns, &port),
                    None => None,
                },
            };
            if taker != Some(mac) {
                self.hop(ns, Some(dev), Dir::Out, &pkt, Step::Seen)?;
                self.hop(&peer_netns, Some(&peer), Dir::In, &pkt, Step::Seen)?;
                let at = plink.master.clone().unwrap_or_else(|| peer.clone());
                return Err(End::timed_out(&peer_netns, Silence::OtherHost { dev: at }));
            }
        }
        let answered = fixed.is_some()
            || owner.as_ref().is_some_and(|owner| {
                arp == Arp::Done
                    || self.neigh.known(ns, dev, nexthop)
                    || self.arp_answered(ns, dev, nexthop, &pkt, (owner, on.as_ref()))
            });
        if !answered {
            return Err(no_neighbor(ns, nexthop, dev));
        }
        if fixed.is_none()
            && arp == Arp::Ask
            && self.neigh.send(ns, dev, nexthop) == Entry::Resolved
        {
            // The owner learns the requester, on the device the request arrived on: the
            // peer, or the bridge above it when the bridge's own namespace answers.
            let sender = self.ns_topo(ns).arp_source(dev.as_str(), nexthop, pkt.flow.src.ip);
            let on = match &plink.master {
                Some(br) if owner.as_ref() == Some(&peer_netns) => Some(br.clone()),
                Some(_) => None,
                None => Some(peer.clone()),
            };
            if let (Some(ip), Some(on)) = (sender, on) {
                self.neigh.learn(&peer_netns, &on, ip);
            }
        }
        let master = plink.master.clone();
        self.hop(ns, Some(dev), Dir::Out, &pkt, Step::Seen)?;
        // Crossing a veth scrubs the skb: conntrack and br_netfilter's information always,
        // the mark between namespaces.
        pkt.ct = None;
        pkt.untracked = false;
        self.bridge_port = None;
        if peer_netns != *ns {
            pkt.mark = 0;
        }
        self.hop(&peer_netns, Some(&peer), Dir::In, &pkt, Step::Seen)?;
        match master {
            Some(br) => self.bridge_in(&peer_netns, &br, &peer, nexthop, pkt),
            None => self.input(&peer_netns, &peer, pkt, false),
        }
    }
}

impl Walk<'_> {
    /// Sends `pkt` out of veth `dev` as an already addressed frame (no ARP, no routing).
    pub(crate) fn veth_out_resolved(
        &mut self,
        ns: &NetnsName,
        dev: &IfName,
        nexthop: Ipv4Addr,
        pkt: Pkt,
    ) -> Go {
        self.veth_out(ns, dev, nexthop, pkt, Arp::Done)
    }
}

impl Walk<'_> {
    /// Whether loopback device `dev` of `ns` takes back what it sent: the kernel files
    /// every neighbour of a loopback device under 0.0.0.0, so one permanent entry there
    /// with a MAC other than the device's addresses every frame to another host, and the
    /// device drops them all.
    pub(super) fn loopback_takes(&self, ns: &NetnsName, dev: &IfName) -> Result<(), End> {
        let topo = self.ns_topo(ns);
        let mac = topo.link(dev.as_str()).map(|l| l.mac);
        match topo.netns().neighbour(dev, Ipv4Addr::UNSPECIFIED) {
            Some(m) if Some(m) != mac => {
                Err(End::timed_out(ns, Silence::OtherHost { dev: dev.clone() }))
            }
            _ => Ok(()),
        }
    }

    /// The MAC of the device behind bridge port `port` of `ns`: its veth peer (or the
    /// bridge above that peer).
    fn mac_behind(&self, ns: &NetnsName, port: &IfName) -> Option<nettwin_core::names::Mac> {
        let link = self.ns_topo(ns).link(port.as_str())?;
        let LinkKind::Veth { peer_netns, peer } = &link.kind else { return None };
        let peer_netns = self.canonical(peer_netns).map_or_else(|| peer_netns.clone(), |(n, _)| n);
        let ptopo = self.ns_topo(&peer_netns);
        let plink = ptopo.link(peer.as_str())?;
        match &plink.master {
            Some(br) => ptopo.link(br.as_str()).map(|b| b.mac),
            None => Some(plink.mac),
        }
    }
}

/// Whether a frame still needs its next hop resolved by the namespace sending it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Arp {
    /// The sender asks (and the owner must answer it).
    Ask,
    /// Already resolved: a bridge forwarding a frame addressed upstream.
    Done,
}

pub(super) fn no_neighbor(ns: &NetnsName, ip: Ipv4Addr, dev: &IfName) -> End {
    End::timed_out(ns, Silence::NoNeighbor { ip, dev: dev.clone() })
}
