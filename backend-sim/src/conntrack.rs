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
    /// creates one for a packet that is not an error. `answer`: the packet answers the probe
    /// (SYN-ACK, echo reply, reset). The kernel tells the two directions apart by what the
    /// model's flow does not carry (an echo reply's ICMP type); where the tuples are the same
    /// both ways (a namespace pinging its own address) an answer is the reply.
    pub fn lookup(
        &mut self,
        ns: &NetnsName,
        flow: &Flow,
        inner: Option<&Flow>,
        answer: bool,
    ) -> Option<CtRef> {
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
            if *flow == c.orig && !(answer && *flow == c.reply) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use nettwin_core::addr::Proto;

    fn flow(proto: Proto, src: &str, dst: &str) -> Flow {
        let ep = |s: &str| s.parse::<Endpoint>().unwrap_or_else(|e| panic!("{s}: {e}"));
        Flow { proto, src: ep(src), dst: ep(dst) }
    }

    fn ns(n: &str) -> NetnsName {
        NetnsName::new(n).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn first_packet_is_new_and_creates_the_connection() {
        let mut ct = Conntrack::default();
        let host = ns("host");
        let f = flow(Proto::Tcp, "192.0.2.1:40000", "192.0.2.10:8080");
        let r = ct.lookup(&host, &f, None, false);
        assert_eq!(r.map(|r| r.dir), Some(CtDir::Original));
        assert_eq!(ct.states(&host, r), CtStates::NEW);
        assert_eq!(
            ct.lookup(&host, &f, None, false),
            r,
            "the same tuple finds the same connection"
        );
        assert_eq!(ct.states(&host, None), CtStates::INVALID);
    }

    #[test]
    fn dnat_then_snat_make_the_reply_tuple_and_its_states() {
        let mut ct = Conntrack::default();
        let host = ns("host");
        let f = flow(Proto::Tcp, "172.26.64.5:40000", "192.0.2.10:8081");
        let r = ct.lookup(&host, &f, None, false).unwrap_or_else(|| panic!("created"));
        let to_a6 = "172.26.64.6:80".parse().unwrap_or_else(|e| panic!("{e}"));
        let to_gw = "172.26.64.1:40000".parse().unwrap_or_else(|e| panic!("{e}"));
        ct.set_dnat(&host, r, to_a6);
        ct.set_snat(&host, r, to_gw);
        assert_eq!(
            ct.states(&host, Some(r)),
            CtStates::NEW.union(CtStates::DNAT).union(CtStates::SNAT)
        );
        // a6 answers the gateway: that is the connection's reply tuple.
        let reply = flow(Proto::Tcp, "172.26.64.6:80", "172.26.64.1:40000");
        let rr = ct.lookup(&host, &reply, None, false);
        assert_eq!(rr.map(|r| r.dir), Some(CtDir::Reply));
        let c = ct.get(&host, r).unwrap_or_else(|| panic!("exists"));
        assert_eq!((c.orig.src, c.orig.dst), (f.src, f.dst), "what the reply is rewritten back to");
        assert!(ct.states(&host, rr).intersects(CtStates::ESTABLISHED));
        assert_eq!(
            ct.states(&host, Some(r)),
            CtStates::ESTABLISHED.union(CtStates::DNAT).union(CtStates::SNAT)
        );
    }

    #[test]
    fn an_icmp_error_quoting_the_packet_is_related() {
        let mut ct = Conntrack::default();
        let host = ns("host");
        let f = flow(Proto::Udp, "192.0.2.1:40000", "192.0.2.10:25000");
        let r = ct.lookup(&host, &f, None, false).unwrap_or_else(|| panic!("created"));
        let to = "172.26.64.5:6379".parse().unwrap_or_else(|e| panic!("{e}"));
        ct.set_dnat(&host, r, to);
        // The allocation quotes the datagram as it received it (after the DNAT).
        let quoted = flow(Proto::Udp, "192.0.2.1:40000", "172.26.64.5:6379");
        let error = flow(Proto::Icmp, "172.26.64.5:0", "192.0.2.1:0");
        let rel = ct.lookup(&host, &error, Some(&quoted), false);
        assert_eq!(rel.map(|r| r.dir), Some(CtDir::Related));
        assert_eq!(ct.states(&host, rel), CtStates::RELATED.union(CtStates::DNAT));
        // An error quoting something unknown belongs to no connection.
        let stray = flow(Proto::Udp, "10.0.0.1:1", "10.0.0.2:2");
        assert_eq!(ct.lookup(&host, &error, Some(&stray), false), None);
    }

    #[test]
    fn each_namespace_has_its_own_table() {
        let mut ct = Conntrack::default();
        let f = flow(Proto::Tcp, "10.0.0.1:1", "10.0.0.2:2");
        let a = ct.lookup(&ns("a"), &f, None, false);
        let b = ct.lookup(&ns("b"), &f.reversed(), None, false);
        assert_eq!(a.map(|r| r.dir), Some(CtDir::Original));
        assert_eq!(b.map(|r| r.dir), Some(CtDir::Original), "b has not seen the first packet");
    }

    #[test]
    fn a_self_ping_answer_is_the_reply_of_its_own_request() {
        let mut ct = Conntrack::default();
        let a = ns("a");
        let f = flow(Proto::Icmp, "10.0.0.1:0", "10.0.0.1:0");
        let request = ct.lookup(&a, &f, None, false);
        assert_eq!(ct.lookup(&a, &f, None, false), request, "the request seen again");
        let reply = ct.lookup(&a, &f, None, true);
        assert_eq!(reply.map(|r| r.dir), Some(CtDir::Reply));
        assert_eq!(ct.states(&a, reply), CtStates::ESTABLISHED);
    }
}
