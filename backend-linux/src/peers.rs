//! Which veth ends the backend created where, so that deleting a namespace can be cheap.
//!
//! Deleting a link waits for an RCU grace period (~10–25 ms), so `NetnsDel` does not
//! delete the namespace's veths one by one: it lets the namespace go, and the kernel
//! removes its devices asynchronously, many namespaces in one batch. Until it has, the peers
//! of those veths still show in their own namespaces; so the peers to wait for are noted
//! here, and every later op, observation or probe touching such a namespace first waits
//! until they are gone (`LinuxBackend::settle`). The model's semantics hold: after
//! `ip netns del`, the peers are gone for everyone who looks.

use std::collections::BTreeMap;

use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::op::{LinkChange, Op};

type End = (NetnsName, IfName);

/// The veth pairs created through the backend, and the peers still to disappear.
#[derive(Debug, Default)]
pub struct Peers {
    pairs: Vec<(End, End)>,
    /// Per namespace: veth ends whose peer's namespace was deleted, not yet seen gone.
    pending: BTreeMap<NetnsName, Vec<IfName>>,
}

impl Peers {
    /// Updates the pairs after `op` succeeded.
    pub fn record(&mut self, op: &Op) {
        match op {
            Op::VethAdd { netns, name, peer_netns, peer, .. } => {
                self.pairs
                    .push(((netns.clone(), name.clone()), (peer_netns.clone(), peer.clone())));
            }
            Op::LinkDel { netns, name } => {
                let end = (netns.clone(), name.clone());
                self.pairs.retain(|(a, b)| *a != end && *b != end);
            }
            Op::LinkSet { netns, name, change: LinkChange::Netns(to) } if to != netns => {
                let end = (netns.clone(), name.clone());
                for (a, b) in &mut self.pairs {
                    for e in [a, b] {
                        if *e == end {
                            e.0 = to.clone();
                        }
                    }
                }
            }
            Op::NetnsDel { name } => {
                self.pending.remove(name);
                let mut keep = Vec::new();
                for (a, b) in self.pairs.drain(..) {
                    match (&a.0 == name, &b.0 == name) {
                        (true, false) => self.pending.entry(b.0).or_default().push(b.1),
                        (false, true) => self.pending.entry(a.0).or_default().push(a.1),
                        (true, true) => {}
                        (false, false) => keep.push((a, b)),
                    }
                }
                self.pairs = keep;
            }
            _ => {}
        }
    }

    /// Takes the ends still to disappear in `netns`.
    pub fn take_pending(&mut self, netns: &str) -> Vec<IfName> {
        self.pending.remove(netns).unwrap_or_default()
    }

    /// Namespaces with ends still to disappear.
    pub fn pending_namespaces(&self) -> Vec<NetnsName> {
        self.pending.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(t: &str) -> Op {
        t.parse().unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn deleting_a_namespace_leaves_its_peers_pending_elsewhere() {
        let mut p = Peers::default();
        p.record(&op("ip -n host link add v1 type veth peer name eth0 netns a1"));
        p.record(&op("ip -n host link add v2 type veth peer name eth0 netns a2"));
        p.record(&op("ip -n a1 link add x type veth peer name y"));
        p.record(&op("ip -n a2 link set eth0 netns a3"));
        p.record(&op("ip netns del a1"));
        assert_eq!(p.pending_namespaces(), vec![op_ns("host")]);
        assert_eq!(
            p.take_pending("host"),
            vec![IfName::new("v1").unwrap_or_else(|e| panic!("{e}"))]
        );
        p.record(&op("ip netns del a3"));
        assert_eq!(
            p.take_pending("host"),
            vec![IfName::new("v2").unwrap_or_else(|e| panic!("{e}"))]
        );
        p.record(&op("ip -n host link add v4 type veth peer name eth0 netns a4"));
        p.record(&op("ip -n host link del v4"));
        p.record(&op("ip netns del a4"));
        assert!(p.pending_namespaces().is_empty());
    }

    fn op_ns(s: &str) -> NetnsName {
        NetnsName::new(s).unwrap_or_else(|e| panic!("{e}"))
    }
}
