//! Devices: sending out of a device towards a next hop (ARP must be answered), crossing a
//! veth (both ends up, or no carrier), and bridge forwarding.
//!
//! A bridge sends a frame to the port behind which the next hop's owner answered ARP (its
//! forwarding database), or up its own namespace's stack when the frame is for the bridge
//! itself. It never sends a frame back out the port it came in on unless that port has
//! hairpin on. With `bridge-nf-call-iptables` = 1 (br_netfilter), a frame entering a port
//! first passes nat PREROUTING with `-i <bridge>`; when DNAT sends it to an address on the
//! same bridge it is bridged to the new owner (no routing, no ip_forward) and passes
//! filter FORWARD and nat POSTROUTING with `-i/-o <bridge>`.

use std::net::Ipv4Addr;

use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::state::LinkKind;
use nettwin_core::trace::{Dir, Silence, Step};

use super::hooks::Devs;
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
                self.hop(ns, Some(dev), Dir::Out, &pkt, Step::Seen)?;
                self.hop(ns, Some(dev), Dir::In, &pkt, Step::Seen)?;
                self.input(ns, dev, pkt, false)
            }
            LinkKind::Veth { .. } => self.veth_out(ns, dev, nexthop, pkt),
            LinkKind::Bridge => {
                if !link.up {
                    return Err(End::timed_out(ns, Silence::NoCarrier { dev: dev.clone() }));
                }
                let Some(L2Owner::Port(port)) = self.ns_topo(ns).l2_owner(dev.as_str(), nexthop)
                else {
                    return Err(no_neighbor(ns, nexthop, dev));
                };
                self.hop(ns, Some(dev), Dir::Out, &pkt, Step::Seen)?;
                let step = Step::Bridge { to: port.clone(), learned: true };
                self.hop(ns, Some(dev), Dir::Bridge, &pkt, step)?;
                self.veth_out(ns, &port, nexthop, pkt)
            }
        }
    }

    /// Sends `pkt` out of veth `dev`: the peer receives it, as a bridge port or a device of
    /// its namespace's stack.
    fn veth_out(&mut self, ns: &NetnsName, dev: &IfName, nexthop: Ipv4Addr, mut pkt: Pkt) -> Go {
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
        // ARP: someone behind the peer must answer for the next hop.
        let answered = match &plink.master {
            Some(br) => {
                ptopo.link(br.as_str()).is_some_and(|b| b.up)
                    && ptopo.l2_owner(br.as_str(), nexthop).is_some()
            }
            None => ptopo.is_local(nexthop) && !nexthop.is_loopback(),
        };
        if !answered {
            return Err(no_neighbor(ns, nexthop, dev));
        }
        let master = plink.master.clone();
        self.hop(ns, Some(dev), Dir::Out, &pkt, Step::Seen)?;
        // Crossing a veth scrubs the skb: conntrack always, the mark between namespaces.
        pkt.ct = None;
        if peer_netns != *ns {
            pkt.mark = 0;
        }
        self.hop(&peer_netns, Some(&peer), Dir::In, &pkt, Step::Seen)?;
        match master {
            Some(br) => self.bridge_in(&peer_netns, &br, &peer, nexthop, pkt),
            None => self.input(&peer_netns, &peer, pkt, false),
        }
    }

    /// A frame for `nexthop` entered bridge `br` through `port`.
    fn bridge_in(
        &mut self,
        ns: &NetnsName,
        br: &IfName,
        port: &IfName,
        nexthop: Ipv4Addr,
        mut pkt: Pkt,
    ) -> Go {
        let netns = self.netns(ns)?;
        let br_nf = netns.bridge_nf_call_iptables;
        let topo = self.ns_topo(ns);
        let mut nexthop = nexthop;
        let mut dest =
            topo.l2_owner(br.as_str(), nexthop).ok_or_else(|| no_neighbor(ns, nexthop, br))?;
        if br_nf {
            let devs = Devs { input: Some(br.as_str()), output: None };
            if self.nat_dst(ns, "PREROUTING", &mut pkt, &devs)? {
                // br_nf_pre_routing_finish: a new destination routed out of this same
                // bridge is bridged to its owner; anything else goes up the stack.
                let netns = self.netns(ns)?;
                let topo = self.ns_topo(ns);
                let dst = pkt.flow.dst.ip;
                dest = L2Owner::Local;
                if !topo.is_local(dst)
                    && let Some(r) = netns.lookup(dst)
                    && r.dev == *br
                {
                    nexthop = r.via.unwrap_or(dst);
                    dest = topo
                        .l2_owner(br.as_str(), nexthop)
                        .ok_or_else(|| no_neighbor(ns, nexthop, br))?;
                }
            }
        }
        let to = match dest {
            L2Owner::Local => {
                self.hop(ns, Some(br), Dir::In, &pkt, Step::Seen)?;
                return self.input(ns, br, pkt, br_nf);
            }
            L2Owner::Port(to) => to,
        };
        if to == *port && !self.ns_topo(ns).link(port.as_str()).is_some_and(|l| l.hairpin) {
            return Err(End::timed_out(ns, Silence::NoHairpin { port: port.clone() }));
        }
        self.hop(ns, Some(br), Dir::Bridge, &pkt, Step::Bridge { to: to.clone(), learned: true })?;
        if br_nf {
            let devs = Devs { input: Some(br.as_str()), output: Some(br.as_str()) };
            self.filter(ns, "FORWARD", &mut pkt, &devs)?;
            let out = Devs { input: None, output: Some(br.as_str()) };
            self.nat_src(ns, "POSTROUTING", &mut pkt, &out, nexthop)?;
        }
        self.veth_out(ns, &to, nexthop, pkt)
    }
}

fn no_neighbor(ns: &NetnsName, ip: Ipv4Addr, dev: &IfName) -> End {
    End::timed_out(ns, Silence::NoNeighbor { ip, dev: dev.clone() })
}
