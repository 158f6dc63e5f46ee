//! NAT as the walk meets it: the nat table's destination hooks (PREROUTING, OUTPUT) and
//! source hooks (POSTROUTING, INPUT), consulted for a connection's first packet only and
//! reversed by conntrack for its answers; the address MASQUERADE picks.

use std::net::Ipv4Addr;

use nettwin_core::addr::Endpoint;
use nettwin_core::iptables::{NatTo, Table};
use nettwin_core::names::NetnsName;
use nettwin_core::trace::{Dir, Step, Verdict};

use super::hooks::Devs;
use super::nat_pick::{self, PortPick};
use super::{End, Pkt, Walk};
use crate::conntrack::CtDir;
use crate::netfilter::Decision;

impl<'s> Walk<'s> {
    /// A destination-NAT hook (PREROUTING, OUTPUT): nat chains for a connection's first
    /// packet, un-SNAT for its answers. Returns whether the destination changed.
    pub(crate) fn nat_dst(
        &mut self,
        ns: &NetnsName,
        hook: &str,
        pkt: &mut Pkt,
        devs: &Devs<'_>,
    ) -> Result<bool, End> {
        if pkt.ct.is_none() && !pkt.untracked {
            pkt.ct = self.ct.lookup(ns, &pkt.flow, pkt.inner.as_ref(), self.replying());
        }
        let Some(r) = pkt.ct else { return Ok(false) };
        let Some(conn) = self.ct.get(ns, r).cloned() else { return Ok(false) };
        let before = *pkt;
        match r.dir {
            CtDir::Original if !conn.dst_init => {
                if let Some(c) = self.ct.get_mut(ns, r) {
                    c.dst_init = true;
                }
                let Some(t) = self.run(ns, Table::Nat, hook, pkt, devs) else { return Ok(false) };
                pkt.mark = t.mark;
                let new_dst = match t.decision {
                    Decision::Dnat(to) => Some(to),
                    Decision::Redirect(ports, flags) => self
                        .redirect_address(ns, hook, devs.input)
                        .map(|ip| NatTo { flags, ..NatTo::one(ip, ports) }),
                    _ => None,
                };
                let verdict = match (t.decision, new_dst) {
                    (Decision::Dnat(_) | Decision::Redirect(..), Some(range)) => {
                        let (ip, port) = nat_pick::destination(&range, &pkt.flow);
                        let to = Endpoint::new(ip, port.port(pkt.flow.dst.port));
                        pkt.flow.dst = to;
                        self.ct.set_dnat(ns, r, to);
                        Verdict::Dnat { to }
                    }
                    // REDIRECT without an address on the input device drops the packet.
                    (Decision::Accept, _) => Verdict::Accept,
                    _ => Verdict::Drop,
                };
                self.conclude(ns, Table::Nat, hook, t, verdict, &before)?;
            }
            // A later packet of the connection (the handshake's ACK) gets the mapping its
            // first packet got.
            CtDir::Original if conn.dnat => pkt.flow.dst = conn.reply.src,
            CtDir::Original => {}
            CtDir::Reply if conn.snat => pkt.flow.dst = conn.orig.src,
            CtDir::Related if conn.snat => pkt.flow.dst.ip = conn.orig.src.ip,
            CtDir::Reply | CtDir::Related => {}
        }
        if r.dir == CtDir::Related && (conn.snat || conn.dnat) {
            pkt.inner = Some(conn.orig);
        }
        if r.dir != CtDir::Original && pkt.flow != before.flow {
            let state = if r.dir == CtDir::Reply { "ESTABLISHED" } else { "RELATED" };
            let step = Step::Conntrack { state: state.to_owned(), from: before.flow };
            let after = *pkt;
            self.hop(ns, None, Dir::Stack, &after, step)?;
        }
        Ok(pkt.flow.dst != before.flow.dst)
    }

    /// A source-NAT hook (POSTROUTING, INPUT): nat chains for a connection's first packet
    /// (MASQUERADE takes the address of `devs.output` facing `nexthop`), un-DNAT for its
    /// answers.
    pub(crate) fn nat_src(
        &mut self,
        ns: &NetnsName,
        hook: &str,
        pkt: &mut Pkt,
        devs: &Devs<'_>,
        nexthop: Ipv4Addr,
    ) -> Result<(), End> {
        if hook == "POSTROUTING" {
            self.table_hook(ns, Table::Mangle, hook, pkt, devs)?;
        }
        let Some(r) = pkt.ct else { return Ok(()) };
        let Some(conn) = self.ct.get(ns, r).cloned() else { return Ok(()) };
        let before = *pkt;
        match r.dir {
            CtDir::Original if !conn.src_init => {
                if let Some(c) = self.ct.get_mut(ns, r) {
                    c.src_init = true;
                }
                let Some(t) = self.run(ns, Table::Nat, hook, pkt, devs) else { return Ok(()) };
                pkt.mark = t.mark;
                let new_src = match t.decision {
                    Decision::Snat(to) => Some((to, false)),
                    Decision::Masquerade(ports, flags) => self
                        .masquerade_address(ns, devs.output, nexthop)
                        .map(|ip| (NatTo { flags, ..NatTo::one(ip, ports) }, true)),
                    _ => None,
                };
                let verdict = match (t.decision, new_src) {
                    (Decision::Snat(_) | Decision::Masquerade(..), Some((range, masq))) => {
                        let (ip, port) = nat_pick::source(&range, &pkt.flow);
                        let to = Endpoint::new(ip, port.port(pkt.flow.src.port));
                        let drawn = match port {
                            PortPick::Drawn(r) => Some(r),
                            _ => None,
                        };
                        pkt.flow.src = to;
                        self.ct.set_snat(ns, r, to);
                        if masq {
                            Verdict::Masquerade { to, drawn }
                        } else {
                            Verdict::Snat { to, drawn }
                        }
                    }
                    // MASQUERADE without an address on the device drops the packet.
                    (Decision::Accept, _) => Verdict::Accept,
                    _ => Verdict::Drop,
                };
                self.conclude(ns, Table::Nat, hook, t, verdict, &before)?;
            }
            CtDir::Original if conn.snat => pkt.flow.src = conn.reply.dst,
            CtDir::Original => {}
            CtDir::Reply if conn.dnat => pkt.flow.src = conn.orig.dst,
            CtDir::Related if conn.dnat => pkt.flow.src.ip = conn.orig.dst.ip,
            CtDir::Reply | CtDir::Related => {}
        }
        if r.dir != CtDir::Original && pkt.flow != before.flow {
            let state = if r.dir == CtDir::Reply { "ESTABLISHED" } else { "RELATED" };
            let step = Step::Conntrack { state: state.to_owned(), from: before.flow };
            let after = *pkt;
            self.hop(ns, None, Dir::Stack, &after, step)?;
        }
        Ok(())
    }

    /// The address REDIRECT sends to: 127.0.0.1 in OUTPUT, else the input device's first
    /// address (`nf_nat_redirect_ipv4`; none: the packet is dropped).
    fn redirect_address(&self, ns: &NetnsName, hook: &str, dev: Option<&str>) -> Option<Ipv4Addr> {
        if hook == "OUTPUT" {
            return Some(Ipv4Addr::LOCALHOST);
        }
        let link = self.lookup_ns(ns)?.link(dev?)?;
        link.addrs.first().map(|a| a.ip)
    }

    /// The address MASQUERADE picks (`inet_select_addr` at universe scope): a primary
    /// address of the device on the next hop's network, else its first, else the
    /// namespace's first global address in device order (`Netns::select_address`).
    fn masquerade_address(
        &self,
        ns: &NetnsName,
        dev: Option<&str>,
        nexthop: Ipv4Addr,
    ) -> Option<Ipv4Addr> {
        let dev = nettwin_core::names::IfName::new(dev?).ok()?;
        let netns = self.lookup_ns(ns)?;
        netns.select_address(&dev, Some(nexthop), nettwin_core::state::AddrScope::Universe)
    }
}
