//! Conntrack: the connections one probe creates, per namespace, with the NAT the first
//! packet received there, so that the reply is recognized and the NAT reversed.
//!
//! Model (the kernel's, reduced to one connection per flow): a connection is created by the
//! first packet a namespace sees (at PREROUTING or OUTPUT). It remembers the original tuple
//! and the tuple a reply will carry; DNAT rewrites the reply's source, SNAT/MASQUERADE its
//! destination. nat chains run once per manipulation type: the destination type at
//! PREROUTING/OUTPUT, the source type at POSTROUTING/INPUT. A reply gets the reverse
//! rewrites at the same hooks: un-SNAT of its destination at PREROUTING/OUTPUT, un-DNAT of
//! its source at POSTROUTING/INPUT. An ICMP error is RELATED to the connection of the packet
//! it quotes, and gets the same rewrites of its outer addresses.

use nettwin_core::addr::Endpoint;
use nettwin_core::iptables::CtStates;
use nettwin_core::names::NetnsName;
use nettwin_core::trace::Flow;

/// One tracked connection.
#[derive(Clone, Debug)]
pub struct Conn {
    /// The tuple of the first packet, as it arrived.
    pub orig: Flow,
    /// The tuple a reply will carry (the original after NAT, reversed).
    pub reply: Flow,
    /// The destination was rewritten.
    pub dnat: bool,
    /// The source was rewritten.
    pub snat: bool,
    /// nat chains of the destination type ran (PREROUTING or OUTPUT).
    pub dst_init: bool,
    /// nat chains of the source type ran (POSTROUTING or INPUT).
    pub src_init: bool,
    /// A reply was seen.
    pub replied: bool,
}

/// Which way a packet goes on its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtDir {
    /// The direction of the first packet.
    Original,
    /// The answer.
    Reply,
    /// An ICMP error about a packet of the connection.
    Related,
}

/// A packet's link to its connection, valid inside one namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtRef {
    /// Index into the namespace's connections.
    pub idx: usize,
    /// The packet's direction.
    pub dir: CtDir,
}

/// The conntrack tables of every namespace, for one probe (a handful: a list).
#[derive(Clone, Debug, Default)]
pub struct Conntrack {
    tables: Vec<(NetnsName, Vec<Conn>)>,
}

impl Conntrack {
    /// Finds the connection of a packet (`inner`: the header an ICMP error quotes), or
    /// creates one for a packet that is not an error.
    pub fn lookup(&mut self, ns: &NetnsName, flow: &Flow, inner: Option<&Flow>) -> Option<CtRef> {
        let i = match self.position(ns) {
            Some(i) => i,
            None => {
                self.tables.push((ns.clone(), Vec::new()));
                self.tables.len() - 1
            }
        };
        let conns = &mut self.tables.get_mut(i)?.1;
        if let Some(inner) = inner {
            let idx =
                conns.iter().position(|c| *inner == c.orig || *inner == c.reply.reversed())?;
            return Some(CtRef { idx, dir: CtDir::Related });
        }
        for (idx, c) in conns.iter_mut().enumerate() {
            if *flow == c.orig {
                return Some(CtRef { idx, dir: CtDir::Original });
            }
            if *flow == c.reply {
                c.replied = true;
                return Some(CtRef { idx, dir: CtDir::Reply });
            }
        }
        conns.push(Conn {
            orig: *flow,
            reply: flow.reversed(),
            dnat: false,
            snat: false,
            dst_init: false,
            src_init: false,
            replied: false,
        });
        Some(CtRef { idx: conns.len() - 1, dir: CtDir::Original })
    }

    fn position(&self, ns: &NetnsName) -> Option<usize> {
        let same = |n: &NetnsName| n.as_str().as_ptr() == ns.as_str().as_ptr();
        self.tables
            .iter()
            .position(|(n, _)| same(n))
            .or_else(|| self.tables.iter().position(|(n, _)| n == ns))
    }

    fn table(&self, ns: &NetnsName) -> Option<&Vec<Conn>> {
        self.tables.get(self.position(ns)?).map(|(_, t)| t)
    }

    /// A connection.
    pub fn get(&self, ns: &NetnsName, r: CtRef) -> Option<&Conn> {
        self.table(ns)?.get(r.idx)
    }

    /// A connection, to change.
    pub fn get_mut(&mut self, ns: &NetnsName, r: CtRef) -> Option<&mut Conn> {
        let i = self.position(ns)?;
        self.tables.get_mut(i)?.1.get_mut(r.idx)
    }

    /// The `--ctstate` set a packet is in (`NEW`, `ESTABLISHED`, `RELATED`, plus `DNAT` /
    /// `SNAT` when the connection was rewritten; `INVALID` without a connection).
    pub fn states(&self, ns: &NetnsName, r: Option<CtRef>) -> CtStates {
        let Some(r) = r else { return CtStates::INVALID };
        let Some(c) = self.get(ns, r) else { return CtStates::INVALID };
        let mut s = match r.dir {
            CtDir::Original if !c.replied => CtStates::NEW,
            CtDir::Original | CtDir::Reply => CtStates::ESTABLISHED,
            CtDir::Related => CtStates::RELATED,
        };
        if c.dnat {
            s = s.union(CtStates::DNAT);
        }
        if c.snat {
            s = s.union(CtStates::SNAT);
        }
        s
    }

    /// Records a DNAT of the connection's first packet.
    pub fn set_dnat(&mut self, ns: &NetnsName, r: CtRef, to: Endpoint) {
        if let Some(c) = self.get_mut(ns, r) {
            c.reply.src = to;
            c.dnat = true;
        }
    }

    /// Records an SNAT (or MASQUERADE) of the connection's first packet.
    pub fn set_snat(&mut self, ns: &NetnsName, r: CtRef, to: Endpoint) {
        if let Some(c) = self.get_mut(ns, r) {
            c.reply.dst = to;
            c.snat = true;
        }
    }
}
