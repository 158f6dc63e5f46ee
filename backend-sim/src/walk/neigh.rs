//! The neighbour (ARP) entries one probe's packets leave behind, as far as they change a
//! path. The linux backend flushes every neighbour table before a probe, so a walk starts
//! with none, and within the probe the kernel's states follow the exchanges:
//!
//! - a namespace that resolves a next hop itself (its ARP request is answered) holds a
//!   REACHABLE entry; the packet that triggered the request waited in the queue and then
//!   went out through the neighbour's slow path;
//! - a namespace that answers an ARP request learns the requester as STALE;
//! - using a STALE entry moves it to DELAY (still not confirmed).
//!
//! Where it shows: br_netfilter sends a frame DNATed on a bridge port back out of the same
//! bridge (`br_nf_pre_routing_finish_bridge`) directly only through a confirmed (REACHABLE)
//! entry; otherwise through the neighbour's output, which transmits on the bridge device
//! first: a capture sees the frame leave the bridge before it reaches the port.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use nettwin_core::names::{IfName, NetnsName};

/// One entry's state (NUD_*), as far as the model needs it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Learned from someone's request; not confirmed.
    Stale,
    /// A STALE entry that was used; still not confirmed.
    Delay,
    /// Resolved by our own request.
    Reachable,
}

/// How a packet found its next hop's entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Entry {
    /// Confirmed (REACHABLE): the fast path.
    Confirmed,
    /// Known but not confirmed (STALE, DELAY): sent through the neighbour's output.
    Unconfirmed,
    /// None: an ARP request went out and was answered; the packet waited for it.
    Resolved,
}

/// The entries of every namespace, by (namespace, device, address).
#[derive(Debug, Default)]
pub(crate) struct Neighbours {
    entries: BTreeMap<(NetnsName, IfName, Ipv4Addr), State>,
}

impl Neighbours {
    /// `ns` sends through `dev` to `nexthop`, whose owner answers ARP: how the packet
    /// found the entry (which moves on).
    pub(crate) fn send(&mut self, ns: &NetnsName, dev: &IfName, nexthop: Ipv4Addr) -> Entry {
        let key = (ns.clone(), dev.clone(), nexthop);
        match self.entries.get(&key).copied() {
            Some(State::Reachable) => Entry::Confirmed,
            Some(State::Stale) => {
                self.entries.insert(key, State::Delay);
                Entry::Unconfirmed
            }
            Some(State::Delay) => Entry::Unconfirmed,
            None => {
                self.entries.insert(key, State::Reachable);
                Entry::Resolved
            }
        }
    }

    /// Whether `ns` holds an entry for `ip` on `dev` (in any state): a packet to it goes
    /// out without asking ARP first.
    pub(crate) fn known(&self, ns: &NetnsName, dev: &IfName, ip: Ipv4Addr) -> bool {
        self.entries.contains_key(&(ns.clone(), dev.clone(), ip))
    }

    /// `ns` answered an ARP request that arrived on `dev` from `requester`: it learns it.
    pub(crate) fn learn(&mut self, ns: &NetnsName, dev: &IfName, requester: Ipv4Addr) {
        self.entries.entry((ns.clone(), dev.clone(), requester)).or_insert(State::Stale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> NetnsName {
        NetnsName::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn dev(s: &str) -> IfName {
        IfName::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn resolving_confirms_the_entry_for_the_next_packet_only() {
        let mut n = Neighbours::default();
        let ip: Ipv4Addr = [10, 0, 0, 2].into();
        assert_eq!(n.send(&ns("h"), &dev("br0"), ip), Entry::Resolved);
        assert_eq!(n.send(&ns("h"), &dev("br0"), ip), Entry::Confirmed);
    }

    #[test]
    fn a_learned_entry_stays_unconfirmed_when_used() {
        let mut n = Neighbours::default();
        let ip: Ipv4Addr = [10, 0, 0, 3].into();
        n.learn(&ns("h"), &dev("br0"), ip);
        assert_eq!(n.send(&ns("h"), &dev("br0"), ip), Entry::Unconfirmed, "STALE");
        assert_eq!(n.send(&ns("h"), &dev("br0"), ip), Entry::Unconfirmed, "DELAY");
    }
}
