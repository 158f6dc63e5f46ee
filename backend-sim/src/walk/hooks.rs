//! Netfilter hooks as the walk meets them: running a table's chains for a hook, recording
//! what they decided, and the filter table's hooks. The nat hooks are `nat`.
//!
//! A traversal becomes a hop only when it says something: a rule decided, the packet was
//! rewritten or marked, or it was dropped. Falling through to an ACCEPT policy is silent.

use nettwin_core::iptables::{CtStates, PhysPorts, RejectWith, Table};
use nettwin_core::names::NetnsName;
use nettwin_core::trace::{DropCause, Outcome, Refusal, Step, Verdict};

use super::{End, Meta, Pkt, Walk};
use crate::netfilter::{Ctx, Decision, PacketInfo, Traversal};

/// The devices a hook sees: input and output device, and for a bridged frame the bridge
/// ports (`phys`; a routed packet that came in through a bridge port gets its input port
/// from the walk's `bridge_port`).
#[derive(Default)]
pub(crate) struct Devs<'a> {
    pub input: Option<&'a str>,
    pub output: Option<&'a str>,
    pub phys: Option<PhysPorts<'a>>,
}

impl<'s> Walk<'s> {
    pub(super) fn run(
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
        let port = self.bridge_port.as_ref().filter(|(n, _)| n == ns).map(|(_, p)| p.as_str());
        let phys = devs.phys.or(port.map(|p| PhysPorts { port_in: Some(p), port_out: None }));
        let info = PacketInfo {
            tcp_flags: pkt.meta.tcp_flags,
            icmp: pkt.meta.icmp,
            socket: pkt.meta.socket,
            phys,
        };
        let mut ctx = Ctx {
            flow: pkt.flow,
            in_dev: devs.input,
            out_dev: devs.output,
            mark: pkt.mark,
            ct: if pkt.untracked { CtStates::UNTRACKED } else { self.ct.states(ns, pkt.ct) },
            topo: self.ns_topo(ns),
            info,
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
        let quiet = verdict == Verdict::Accept
            && t.by_rule().is_none()
            && t.mark == seen.mark
            && t.notes.is_empty();
        if quiet {
            return Ok(());
        }
        let step = Step::Netfilter {
            table,
            hook: hook.to_owned(),
            path: t.chain_hits(),
            verdict,
            mark: t.mark,
            notes: t.notes.clone(),
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
                        self.reversed(ns, pkt, Meta::reset()).map(|mut a| {
                            a.direct = self
                                .bridge_port
                                .as_ref()
                                .filter(|(n, _)| n == ns)
                                .map(|(_, port)| port.clone());
                            a
                        })
                    }
                    _ => self.icmp_error(ns, pkt, (3, reject_code(with))),
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

    /// A filter hook (after mangle's, in INPUT and FORWARD): ACCEPT goes on, DROP and
    /// REJECT end the walk.
    pub(crate) fn filter(
        &mut self,
        ns: &NetnsName,
        hook: &str,
        pkt: &mut Pkt,
        devs: &Devs<'_>,
    ) -> Result<(), End> {
        if matches!(hook, "INPUT" | "FORWARD") {
            self.table_hook(ns, Table::Mangle, hook, pkt, devs)?;
        }
        self.table_hook(ns, Table::Filter, hook, pkt, devs)
    }

    /// PREROUTING: raw (before conntrack: NOTRACK), the conntrack lookup, mangle, then
    /// nat. Returns whether the destination changed.
    pub(crate) fn prerouting(
        &mut self,
        ns: &NetnsName,
        pkt: &mut Pkt,
        devs: &Devs<'_>,
    ) -> Result<bool, End> {
        self.before_nat(ns, "PREROUTING", pkt, devs)?;
        self.nat_dst(ns, "PREROUTING", pkt, devs)
    }

    /// raw, the conntrack lookup and mangle of PREROUTING or OUTPUT (priorities -300,
    /// -200 and -150).
    pub(crate) fn before_nat(
        &mut self,
        ns: &NetnsName,
        hook: &str,
        pkt: &mut Pkt,
        devs: &Devs<'_>,
    ) -> Result<(), End> {
        self.table_hook(ns, Table::Raw, hook, pkt, devs)?;
        if pkt.ct.is_none() && !pkt.untracked {
            pkt.ct = self.ct.lookup(ns, &pkt.flow, pkt.inner.as_ref(), self.replying());
        }
        self.table_hook(ns, Table::Mangle, hook, pkt, devs)
    }

    /// One table's traversal of a hook that rewrites no address (filter, mangle, raw):
    /// marks and NOTRACK apply, ACCEPT goes on, DROP and REJECT end the walk.
    pub(crate) fn table_hook(
        &mut self,
        ns: &NetnsName,
        table: Table,
        hook: &str,
        pkt: &mut Pkt,
        devs: &Devs<'_>,
    ) -> Result<(), End> {
        let Some(t) = self.run(ns, table, hook, pkt, devs) else { return Ok(()) };
        let before = *pkt;
        pkt.mark = t.mark;
        // NOTRACK leaves a packet that already has its entry (looped back) alone.
        pkt.untracked |= t.untrack && pkt.ct.is_none();
        let verdict = match t.decision {
            Decision::Drop => Verdict::Drop,
            Decision::Reject(with) => Verdict::Reject { with },
            _ => Verdict::Accept,
        };
        self.conclude(ns, table, hook, t, verdict, &before)
    }

    /// Records a traversal, ends the walk if it dropped or rejected the packet, and gives
    /// its buffers back.
    pub(super) fn conclude(
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
}

/// The ICMP destination-unreachable code a REJECT type sends.
fn reject_code(with: RejectWith) -> u8 {
    match with {
        RejectWith::NetUnreachable => 0,
        RejectWith::HostUnreachable => 1,
        RejectWith::PortUnreachable | RejectWith::TcpReset => 3,
        RejectWith::ProtoUnreachable => 2,
        RejectWith::NetProhibited => 9,
        RejectWith::HostProhibited => 10,
        RejectWith::AdminProhibited => 13,
    }
}
