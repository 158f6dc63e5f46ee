//! Netfilter hooks as the walk meets them: the nat table's destination hooks (PREROUTING,
//! OUTPUT) and source hooks (POSTROUTING, INPUT), consulted for a connection's first
//! packet only and reversed by conntrack for its answers, and the filter table's hooks.
//!
//! A traversal becomes a hop only when it says something: a rule decided, the packet was
//! rewritten or marked, or it was dropped. Falling through to an ACCEPT policy is silent.

use std::net::Ipv4Addr;

use nettwin_core::addr::Endpoint;
use nettwin_core::iptables::{RejectWith, Table};
use nettwin_core::names::NetnsName;
use nettwin_core::trace::{Dir, DropCause, Outcome, Refusal, Step, Verdict};

use super::{End, Pkt, Walk};
use crate::conntrack::CtDir;
use crate::netfilter::{Ctx, Decision, Traversal};

/// The devices a hook sees.
pub(crate) struct Devs<'a> {
    pub input: Option<&'a str>,
    pub output: Option<&'a str>,
}

impl<'s> Walk<'s> {
    fn run(
        &self,
        ns: &NetnsName,
        table: Table,
        hook: &str,
        pkt: &Pkt,
        devs: &Devs<'_>,
    ) -> Option<Traversal<'s>> {
        let fw = self.firewall(ns)?;
        if fw.is_trivial(table, hook) {
            return None;
        }
        let mut ctx = Ctx {
            flow: pkt.flow,
            in_dev: devs.input,
            out_dev: devs.output,
            mark: pkt.mark,
            ct: self.ct.states(ns, pkt.ct),
            topo: self.ns_topo(ns),
        };
        let mut scratch = self.scratch.borrow_mut();
        Some(fw.traverse(table, hook, &mut ctx, &mut scratch))
    }

    /// Gives a traversal's buffers back.
    fn done(&self, t: Traversal<'s>) {
        self.scratch.borrow_mut().recycle(t);
    }

    /// Records a traversal as a hop when it said something; `seen` is the header before it.
    fn record(
        &mut self,
        ns: &NetnsName,
        table: Table,
        hook: &str,
        t: &Traversal<'_>,
        verdict: Verdict,
        seen: &Pkt,
    ) -> Result<(), End> {
        let quiet = verdict == Verdict::Accept && t.by_rule().is_none() && t.mark == seen.mark;
        if quiet {
            return Ok(());
        }
        let step = Step::Netfilter {
            table,
            hook: hook.to_owned(),
            path: t.chain_hits(),
            verdict,
            mark: t.mark,
        };
        self.annotate(ns, seen.flow, step)
    }

    /// The end of a packet a traversal dropped or rejected.
    fn stopped(
        &self,
        ns: &NetnsName,
        table: Table,
        hook: &str,
        t: &Traversal<'_>,
        pkt: &Pkt,
    ) -> End {
        let (chain, rule) = match t.by_rule() {
            Some(h) => (h.chain.to_owned(), h.rule),
            None => (hook.to_owned(), None),
        };
        match (t.decision, rule) {
            (Decision::Reject(with), Some(rule)) => {
                let answer = match with {
                    // A reset for a packet that came in through a bridge port under
                    // br_netfilter goes straight out of that port (nf_send_reset keeps
                    // the MACs and skips routing and hooks), bridged or routed.
                    RejectWith::TcpReset if pkt.flow.proto.has_ports() => {
                        self.reversed(ns, pkt).map(|mut a| {
                            a.direct = self
                                .bridge_port
                                .as_ref()
                                .filter(|(n, _)| n == ns)
                                .map(|(_, port)| port.clone());
                            a
                        })
                    }
                    _ => self.icmp_error(ns, pkt),
                };
                End::of(Outcome::Refused {
                    netns: ns.clone(),
                    by: Refusal::Reject { table, chain, rule },
                })
                .with_answer(answer)
            }
            (_, Some(rule)) => End::of(Outcome::Dropped {
                netns: ns.clone(),
                by: DropCause::Rule { table, chain, rule },
            }),
            (_, None) => End::of(Outcome::Dropped {
                netns: ns.clone(),
                by: DropCause::Policy { table, chain: hook.to_owned() },
            }),
        }
    }

    /// A filter hook: ACCEPT goes on, DROP and REJECT end the walk.
    pub(crate) fn filter(
        &mut self,
        ns: &NetnsName,
        hook: &str,
        pkt: &mut Pkt,
        devs: &Devs<'_>,
    ) -> Result<(), End> {
        let Some(t) = self.run(ns, Table::Filter, hook, pkt, devs) else { return Ok(()) };
        let before = *pkt;
        pkt.mark = t.mark;
        let verdict = match t.decision {
            Decision::Drop => Verdict::Drop,
            Decision::Reject(with) => Verdict::Reject { with },
            _ => Verdict::Accept,
        };
        self.conclude(ns, Table::Filter, hook, t, verdict, &before)
    }

    /// Records a traversal, ends the walk if it dropped or rejected the packet, and gives
    /// its buffers back.
    fn conclude(
        &mut self,
        ns: &NetnsName,
        table: Table,
        hook: &str,
        t: Traversal<'s>,
        verdict: Verdict,
        before: &Pkt,
    ) -> Result<(), End> {
        let stop = matches!(verdict, Verdict::Drop | Verdict::Reject { .. });
        let result = match self.record(ns, table, hook, &t, verdict, before) {
            Err(end) => Err(end),
            Ok(()) if stop => Err(self.stopped(ns, table, hook, &t, before)),
            Ok(()) => Ok(()),
        };
        self.done(t);
        result
    }

    /// A destination-NAT hook (PREROUTING, OUTPUT): nat chains for a connection's first
    /// packet, un-SNAT for its answers. Returns whether the destination changed.
    pub(crate) fn nat_dst(
        &mut self,
        ns: &NetnsName,
        hook: &str,
        pkt: &mut Pkt,
        devs: &Devs<'_>,
    ) -> Result<bool, End> {
        if pkt.ct.is_none() {
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
                let verdict = match t.decision {
                    Decision::Dnat(ip, port) => {
                        let port = if pkt.flow.proto.has_ports() {
                            port.unwrap_or(pkt.flow.dst.port)
                        } else {
                            0
                        };
                        let to = Endpoint::new(ip, port);
                        pkt.flow.dst = to;
                        self.ct.set_dnat(ns, r, to);
                        Verdict::Dnat { to }
                    }
                    Decision::Drop | Decision::Reject(_) => Verdict::Drop,
                    _ => Verdict::Accept,
                };
                self.conclude(ns, Table::Nat, hook, t, verdict, &before)?;
            }
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
                    Decision::Snat(ip, port) => Some((ip, port, false)),
                    Decision::Masquerade => {
                        self.masquerade_address(ns, devs.output, nexthop).map(|ip| (ip, None, true))
                    }
                    _ => None,
                };
                let verdict = match (t.decision, new_src) {
                    (Decision::Snat(..) | Decision::Masquerade, Some((ip, port, masq))) => {
                        let port = if pkt.flow.proto.has_ports() {
                            port.unwrap_or(pkt.flow.src.port)
                        } else {
                            0
                        };
                        let to = Endpoint::new(ip, port);
                        pkt.flow.src = to;
                        self.ct.set_snat(ns, r, to);
                        if masq { Verdict::Masquerade { to } } else { Verdict::Snat { to } }
                    }
                    // MASQUERADE without an address on the device drops the packet.
                    (Decision::Accept, _) => Verdict::Accept,
                    _ => Verdict::Drop,
                };
                self.conclude(ns, Table::Nat, hook, t, verdict, &before)?;
            }
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
