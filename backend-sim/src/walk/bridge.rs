//! Bridge forwarding: a bridge sends a frame to the port behind which the next hop's
//! owner answered ARP (its forwarding database), or up its own namespace's stack when the
//! frame is for the bridge itself. It never sends a frame back out the port it came in on
//! unless that port has hairpin on. With `bridge-nf-call-iptables` = 1 (br_netfilter), a
//! frame entering a port first passes nat PREROUTING with `-i <bridge>`; when DNAT sends it
//! to an address on the same bridge it is bridged to the new owner (no routing, no
//! ip_forward) and passes filter FORWARD and nat POSTROUTING with `-i/-o <bridge>`. Such a
//! frame leaves through the bridge device first unless the namespace's neighbour entry for
//! the new next hop is confirmed (`neigh`); the hairpin rule then applies as to any frame of
//! that port.

use std::net::Ipv4Addr;

use nettwin_core::iptables::PhysPorts;
use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::state::RouteQuery;
use nettwin_core::trace::{Dir, Silence, Step};

use super::hooks::Devs;
use super::link::{Arp, no_neighbor};
use super::neigh::Entry;
use super::{End, Go, Pkt, Walk};
use crate::topo::L2Owner;

impl Walk<'_> {
    /// A frame for `nexthop` entered bridge `br` through `port`.
    pub(super) fn bridge_in(
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
        let mut bridged_dnat = false;
        if br_nf {
            let phys = PhysPorts { port_in: Some(port.as_str()), port_out: None };
            let devs = Devs { input: Some(br.as_str()), output: None, phys: Some(phys) };
            let before = pkt.flow.dst.ip;
            // Only a new destination address sends the frame through routing
            // (`br_nf_ipv4_daddr_was_changed`); a new port alone leaves it bridged.
            if self.prerouting(ns, &mut pkt, &devs)? && pkt.flow.dst.ip != before {
                // br_nf_pre_routing_finish routes the new destination as received on the
                // bridge: a martian is dropped there and then (no hop); a destination
                // forwarded out of this same bridge is bridged to its owner; anything else
                // (local, routed elsewhere, not forwarded: ip_forward 0 makes the lookup
                // end in an unreachable local route) goes up the stack.
                let netns = self.netns(ns)?;
                let topo = self.ns_topo(ns);
                let dst = pkt.flow.dst.ip;
                let localnet = netns.route_localnet(br.as_str());
                let loopback = pkt.flow.src.ip.is_loopback() || dst.is_loopback();
                if (loopback && !localnet) || topo.has_address(pkt.flow.src.ip) {
                    return Err(End::timed_out(ns, Silence::Martian));
                }
                dest = L2Owner::Local;
                if !topo.is_local(dst)
                    && netns.forwarding(br.as_str())
                    && let Some(r) = netns
                        .decide(&RouteQuery {
                            dst,
                            src: Some(pkt.flow.src.ip),
                            iif: Some(br),
                            oif: None,
                            mark: pkt.mark,
                        })
                        .route()
                    && r.dev == *br
                {
                    nexthop = netns.next_hop(r, dst);
                    dest = topo
                        .l2_owner(br.as_str(), nexthop)
                        .ok_or_else(|| no_neighbor(ns, nexthop, br))?;
                    // The bridge's namespace resolves the new next hop itself.
                    if let L2Owner::Port { owner, port: to } = &dest
                        && !self.arp_answered(
                            ns,
                            br,
                            nexthop,
                            &pkt,
                            (owner, self.arp_device(ns, to, owner).as_ref()),
                        )
                    {
                        return Err(no_neighbor(ns, nexthop, br));
                    }
                    bridged_dnat = true;
                }
            }
        }
        let to = match dest {
            L2Owner::Local => {
                self.hop(ns, Some(br), Dir::In, &pkt, Step::Seen)?;
                if br_nf {
                    self.bridge_port = Some((ns.clone(), port.clone()));
                }
                return self.input(ns, br, pkt, br_nf);
            }
            L2Owner::Port { port: to, .. } => to,
        };
        // Without a confirmed neighbour entry the re-routed frame goes through the
        // neighbour's output: out of the bridge device, and on from there (see `neigh`).
        if bridged_dnat && self.neigh.send(ns, br, nexthop) != Entry::Confirmed {
            self.hop(ns, Some(br), Dir::Out, &pkt, Step::Seen)?;
        }
        if to == *port && !self.ns_topo(ns).link(port.as_str()).is_some_and(|l| l.hairpin) {
            return Err(End::timed_out(ns, Silence::NoHairpin { port: port.clone() }));
        }
        self.hop(ns, Some(br), Dir::Bridge, &pkt, Step::Bridge { to: to.clone(), learned: true })?;
        if br_nf {
            let phys = PhysPorts { port_in: Some(port.as_str()), port_out: Some(to.as_str()) };
            let devs =
                Devs { input: Some(br.as_str()), output: Some(br.as_str()), phys: Some(phys) };
            self.bridge_port = Some((ns.clone(), port.clone()));
            let forward = self.filter(ns, "FORWARD", &mut pkt, &devs);
            self.bridge_port = None;
            forward?;
            let out = Devs { input: None, output: Some(br.as_str()), phys: Some(phys) };
            self.nat_src(ns, "POSTROUTING", &mut pkt, &out, nexthop)?;
        }
        self.veth_out(ns, &to, nexthop, pkt, Arp::Done)
    }
}
