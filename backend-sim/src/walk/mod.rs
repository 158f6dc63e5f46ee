//! The packet walk: one packet's journey through namespaces, devices and hooks, recorded
//! as hops, ending in an outcome and possibly an answer (SYN-ACK, echo reply, RST, ICMP
//! error) that is walked back the same way, through conntrack.
//!
//! - `stack`: the IP stack of a namespace: local output, input, forwarding, delivery.
//! - `routing`: the routing decision (local table, then the main table) and its hop.
//! - `link`: devices: sending towards a next hop, veth crossing, loopback.
//! - `bridge`: bridge forwarding (FDB, hairpin, br_netfilter).
//! - `hooks`: netfilter hooks in the kernel's order and the filter table.
//! - `nat`: the nat hooks and their conntrack reversal, MASQUERADE's address.
//! - `send`: what the sender's kernel decides before anything leaves (a taken port,
//!   `0.0.0.0`, broadcast and multicast destinations).
//! - `neigh`: the neighbour entries a probe's ARP exchanges leave, where they change a path.
//!
//! Every function on the path returns `Go`: `Err` ends the walk early with its `End`, so
//! `?` reads like the kernel's `NF_DROP`/`return`.

mod bridge;
mod hooks;
mod link;
mod nat;
mod nat_pick;
mod neigh;
mod routing;
mod send;
mod stack;

pub(crate) use routing::source_for;

use std::cell::RefCell;
use std::net::Ipv4Addr;

use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::iptables::{SocketOwner, TcpFlags};
use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::state::Netns;
use nettwin_core::trace::{Dir, Flow, Hop, Outcome, Probe, Silence, Step, Trace};

use crate::conntrack::{Conntrack, CtRef};
use crate::fault::Faults;
use crate::netfilter::{Firewall, Scratch};
use crate::topo::{LookupMap, NsTopo, Topo};

/// The TTL a Linux socket sends with (`net.ipv4.ip_default_ttl`).
pub const DEFAULT_TTL: u8 = 64;

/// At most this many hops per path: ends bridge loops, which have no TTL.
const MAX_HOPS: usize = 512;

/// A packet in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pkt {
    /// The header.
    pub flow: Flow,
    /// For ICMP errors: the header of the packet the error is about.
    pub inner: Option<Flow>,
    /// Time to live.
    pub ttl: u8,
    /// The skb mark (cleared when crossing into another namespace).
    pub mark: u32,
    /// The conntrack entry, inside the current namespace.
    pub ct: Option<CtRef>,
    /// Sent by a socket bound to no address whose one route lookup has no source (a raw
    /// ICMP socket's send; see `routing`).
    pub unbound: bool,
    /// A raw-table NOTRACK matched in this namespace: no conntrack entry, no NAT.
    pub untracked: bool,
    /// Flags, ICMP type and sending socket.
    pub meta: Meta,
}

impl Pkt {
    fn new(flow: Flow, inner: Option<Flow>, meta: Meta) -> Pkt {
        Pkt {
            flow,
            inner,
            ttl: DEFAULT_TTL,
            mark: 0,
            ct: None,
            unbound: false,
            untracked: false,
            meta,
        }
    }
}

/// The probe's sockets (sender and listeners) belong to root: uid 0, gid 0.
const ROOT: SocketOwner = SocketOwner { uid: 0, gid: 0 };

/// What rules see of a packet beyond its addresses and ports: its TCP flags, its ICMP
/// type and code, and the user socket that sent it (`None` for the kernel's own
/// answers: resets, ICMP errors, echo replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    /// TCP flags (`TcpFlags` bits; 0 for other protocols).
    pub tcp_flags: u8,
    /// ICMP type and code, for ICMP packets.
    pub icmp: Option<(u8, u8)>,
    /// The sending socket's owner.
    pub socket: Option<SocketOwner>,
}

impl Meta {
    /// A probe's first packet from the sender's socket: a SYN, a datagram or an echo
    /// request.
    fn probe(proto: Proto) -> Meta {
        match proto {
            Proto::Tcp => Meta { tcp_flags: TcpFlags::SYN, icmp: None, socket: Some(ROOT) },
            Proto::Icmp => Meta { tcp_flags: 0, icmp: Some((8, 0)), socket: Some(ROOT) },
            Proto::Udp => Meta { tcp_flags: 0, icmp: None, socket: Some(ROOT) },
        }
    }

    /// The handshake's third packet (the client's ACK).
    fn ack() -> Meta {
        Meta { tcp_flags: TcpFlags::ACK, icmp: None, socket: Some(ROOT) }
    }

    /// The listener's SYN-ACK (sent on behalf of the listening socket).
    pub(crate) fn syn_ack() -> Meta {
        Meta { tcp_flags: TcpFlags::SYN | TcpFlags::ACK, icmp: None, socket: Some(ROOT) }
    }

    /// The kernel's reset for a SYN (RST with ACK), from no socket.
    pub(crate) fn reset() -> Meta {
        Meta { tcp_flags: TcpFlags::RST | TcpFlags::ACK, icmp: None, socket: None }
    }

    /// An ICMP message the kernel sends itself (an echo reply, an error).
    pub(crate) fn icmp(ty: u8, code: u8) -> Meta {
        Meta { tcp_flags: 0, icmp: Some((ty, code)), socket: None }
    }
}

/// Something sent back: generated in `from`, walked through its output path.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    from: NetnsName,
    flow: Flow,
    inner: Option<Flow>,
    /// The receiving stack answers from an address it does not have (a route through
    /// `lo` delivered a foreign destination): the answer's route lookup fails and it is
    /// never sent. REJECT and routers' ICMP errors may use any source.
    unsendable: bool,
    /// Sent straight out of this bridge port, without routing or hooks: the TCP reset a
    /// REJECT in br_netfilter's FORWARD answers a bridged frame with.
    direct: Option<IfName>,
    /// What it is (a SYN-ACK, a reset, an ICMP message).
    meta: Meta,
}

/// How a walk ended.
#[derive(Clone, Debug)]
pub(crate) struct End {
    outcome: Outcome,
    /// Boxed: an `End` travels in every `Err` of the walk.
    answer: Option<Box<Answer>>,
    /// For an answer's walk: it reached the original sender.
    reached: bool,
    /// The sender learned the outcome from its own send call (EPERM: its OUTPUT rejected
    /// a datagram or an echo), whatever becomes of the answer.
    told: bool,
}

impl End {
    fn of(outcome: Outcome) -> End {
        End { outcome, answer: None, reached: false, told: false }
    }

    fn timed_out(netns: &NetnsName, why: Silence) -> End {
        End::of(Outcome::TimedOut { netns: netns.clone(), why })
    }

    fn with_answer(mut self, answer: Option<Answer>) -> End {
        self.answer = answer.map(Box::new);
        self
    }
}

/// The result of a step of the walk; `Err` ends it.
type Go = Result<End, End>;

/// Whether the walk follows the probe or its answer.
enum Mode {
    Probe,
    Answer {
        /// The namespace that sent the probe.
        sender: NetnsName,
        /// The probe's header as it left the sender.
        origin: Flow,
    },
}

/// One walk over a state.
pub(crate) struct Walk<'s> {
    topo: &'s Topo,
    firewalls: &'s LookupMap<NetnsName, Firewall>,
    ct: Conntrack,
    hops: Vec<Hop>,
    mode: Mode,
    /// The namespaces met so far, resolved once: a walk visits a handful, and each lookup
    /// in the state's maps of thousands costs more than the rest of a hop.
    views: RefCell<Vec<(NetnsName, View<'s>)>>,
    /// Buffers for netfilter traversals.
    scratch: RefCell<Scratch<'s>>,
    /// Deliberate mistakes to make (none outside the suites' self-test).
    faults: Faults,
    /// Neighbour entries learned during this probe (forward and answer).
    neigh: neigh::Neighbours,
    /// The bridge port the packet being walked came in through, while br_netfilter's
    /// information is attached to it: from a port of a bridge with bridge-nf-call-iptables
    /// (bridged, or up to that namespace's stack) until it crosses into another namespace
    /// (which scrubs it). A REJECT's TCP reset for such a packet goes straight out of that
    /// port (`nf_send_reset`).
    bridge_port: Option<(NetnsName, IfName)>,
}

/// One namespace of the walk: its state, indexes and firewall.
#[derive(Clone, Copy)]
struct View<'s> {
    ns: &'s Netns,
    topo: &'s NsTopo,
    fw: Option<&'s Firewall>,
}

/// Traces `probe`, whose header as it leaves the sender is `flow`.
pub(crate) fn trace(
    topo: &Topo,
    firewalls: &LookupMap<NetnsName, Firewall>,
    faults: Faults,
    probe: &Probe,
    flow: Flow,
) -> Trace {
    let mut w = Walk {
        topo,
        firewalls,
        ct: Conntrack::default(),
        hops: Vec::with_capacity(16),
        mode: Mode::Probe,
        views: RefCell::new(Vec::with_capacity(4)),
        scratch: RefCell::new(Scratch::default()),
        faults,
        neigh: neigh::Neighbours::default(),
        bridge_port: None,
    };
    let from = w.canonical(&probe.from).map_or_else(|| probe.from.clone(), |(n, _)| n);
    let flow = match w.view(&from).map(|v| send::decide(v.ns, v.topo, &from, probe, flow)) {
        Some(send::Send::Refused(outcome)) => {
            return Trace {
                probe: probe.clone(),
                flow,
                hops: Vec::new(),
                outcome,
                reply: Vec::new(),
            };
        }
        Some(send::Send::Packet(flow)) => flow,
        None => flow,
    };
    let unbound = probe.proto == Proto::Icmp && probe.src.is_none();
    let pkt = Pkt { unbound, ..Pkt::new(flow, None, Meta::probe(flow.proto)) };
    let end = w.output(&from, pkt).unwrap_or_else(|e| e);
    let hops = std::mem::replace(&mut w.hops, Vec::with_capacity(16));
    let mut reply = Vec::new();
    let mut outcome = end.outcome;
    let mut reached = false;
    if let Some(a) = end.answer {
        w.mode = Mode::Answer { sender: from.clone(), origin: flow };
        w.bridge_port = None;
        let start = Pkt::new(a.flow, a.inner, a.meta);
        let back = match &a.direct {
            _ if a.unsendable => End::timed_out(&a.from, Silence::NoAnswer),
            Some(port) => {
                w.veth_out_resolved(&a.from, port, a.flow.dst.ip, start).unwrap_or_else(|e| e)
            }
            None => w.output(&a.from, start).unwrap_or_else(|e| e),
        };
        reply = std::mem::take(&mut w.hops);
        reached = back.reached;
        if !back.reached {
            let last = reply.last().map_or(a.flow, |h| h.packet);
            let netns = back.outcome.netns().clone();
            if !end.told {
                outcome = unanswered(outcome, &back.outcome);
            }
            reply.push(Hop {
                netns,
                device: None,
                dir: Dir::Stack,
                packet: last,
                step: Step::Stopped { outcome: Box::new(back.outcome) },
            });
        }
    }
    if reached && probe.proto == Proto::Tcp && matches!(outcome, Outcome::Delivered { .. }) {
        outcome = third_packet(&mut w, &from, flow, outcome);
    }
    Trace { probe: probe.clone(), flow, hops, outcome, reply }
}

/// The handshake's third packet: the server accepts the connection only once the client's
/// ACK arrives, so it is walked too (not shown: it takes the SYN's path). Should it not
/// reach the listener (a rule drops ESTABLISHED packets one way), nothing is delivered:
/// the client believes it is connected, the server never accepts.
fn third_packet(w: &mut Walk<'_>, from: &NetnsName, flow: Flow, delivered: Outcome) -> Outcome {
    w.mode = Mode::Probe;
    w.bridge_port = None;
    let ack = w.output(from, Pkt::new(flow, None, Meta::ack())).unwrap_or_else(|e| e);
    w.hops.clear();
    match ack.outcome {
        Outcome::Delivered { .. } => delivered,
        lost @ (Outcome::Dropped { .. } | Outcome::Refused { .. } | Outcome::TimedOut { .. }) => {
            lost
        }
        Outcome::NoRoute { netns, .. } | Outcome::SendFailed { netns, .. } => {
            Outcome::TimedOut { netns, why: Silence::NoAnswer }
        }
    }
}

/// How a probe ends for its sender when the answer (`lost`: how its walk ended) never
/// reached it: a TCP handshake that does not complete, an echo without reply, a refusal
/// or an ICMP error nobody hears. The sender only waits: dropped when the answer was
/// dropped by a rule or policy, else timed out where the answer was last seen.
fn unanswered(outcome: Outcome, lost: &Outcome) -> Outcome {
    match outcome {
        Outcome::Delivered { .. } | Outcome::Refused { .. } | Outcome::NoRoute { .. } => match lost
        {
            Outcome::Dropped { .. } | Outcome::TimedOut { .. } => lost.clone(),
            other => Outcome::TimedOut { netns: other.netns().clone(), why: Silence::NoAnswer },
        },
        timed_out => timed_out,
    }
}

impl<'s> Walk<'s> {
    fn view(&self, name: &NetnsName) -> Option<View<'s>> {
        if let Some(v) = self.known(name, |_, v| *v) {
            return Some(v);
        }
        self.canonical(name).map(|(_, v)| v)
    }

    /// Looks `name` up among the namespaces met so far. Names met before are usually the
    /// very same shared text: compare addresses first, then text.
    fn known<T>(&self, name: &NetnsName, f: impl Fn(&NetnsName, &View<'s>) -> T) -> Option<T> {
        let views = self.views.borrow();
        let same = |n: &NetnsName| n.as_str().as_ptr() == name.as_str().as_ptr();
        let hit =
            views.iter().find(|(n, _)| same(n)).or_else(|| views.iter().find(|(n, _)| n == name));
        hit.map(|(n, v)| f(n, v))
    }

    /// The namespace's name as the state's map holds it (so that later comparisons are
    /// pointer comparisons), and its view.
    fn canonical(&self, name: &NetnsName) -> Option<(NetnsName, View<'s>)> {
        if let Some(hit) = self.known(name, |n, v| (n.clone(), *v)) {
            return Some(hit);
        }
        let (key, topo) = self.topo.get(name)?;
        let v = View { ns: topo.netns(), topo, fw: self.firewalls.get(name) };
        self.views.borrow_mut().push((key.clone(), v));
        Some((key.clone(), v))
    }

    /// A namespace of the state.
    fn lookup_ns(&self, name: &NetnsName) -> Option<&'s Netns> {
        self.view(name).map(|v| v.ns)
    }

    /// A namespace's topology indexes.
    fn ns_topo(&self, name: &NetnsName) -> &'s NsTopo {
        match self.view(name) {
            Some(v) => v.topo,
            None => self.topo.ns(name),
        }
    }

    fn firewall(&self, ns: &NetnsName) -> Option<&'s Firewall> {
        self.view(ns)?.fw
    }

    fn replying(&self) -> bool {
        matches!(self.mode, Mode::Answer { .. })
    }

    /// Records a hop; ends the walk when the path grows without bound (a bridge loop).
    fn hop(
        &mut self,
        netns: &NetnsName,
        device: Option<&IfName>,
        dir: Dir,
        pkt: &Pkt,
        step: Step,
    ) -> Result<(), End> {
        if self.hops.len() >= MAX_HOPS {
            return Err(End::timed_out(netns, Silence::NoAnswer));
        }
        self.hops.push(Hop {
            netns: netns.clone(),
            device: device.cloned(),
            dir,
            packet: pkt.flow,
            step,
        });
        Ok(())
    }

    /// Puts a step on the wire hop that just received the packet in `netns` (when it has
    /// nothing else to say), else records it as a hop of the stack.
    fn annotate(&mut self, netns: &NetnsName, seen: Flow, step: Step) -> Result<(), End> {
        if let Some(last) = self.hops.last_mut()
            && last.netns == *netns
            && last.dir == Dir::In
            && last.step == Step::Seen
        {
            last.step = step;
            return Ok(());
        }
        let pkt = Pkt::new(seen, None, Meta::probe(seen.proto));
        self.hop(netns, None, Dir::Stack, &pkt, step)
    }

    /// An ICMP error of type `ty` and `code` about `pkt`, sent from `ns` back to its source
    /// (none while walking an answer: errors about answers are not traced).
    fn icmp_error(&self, ns: &NetnsName, pkt: &Pkt, (ty, code): (u8, u8)) -> Option<Answer> {
        if self.replying() || pkt.inner.is_some() {
            return None;
        }
        let src = self.icmp_source(ns, pkt);
        let flow = Flow {
            proto: Proto::Icmp,
            src: Endpoint::new(src, 0),
            dst: Endpoint::new(pkt.flow.src.ip, 0),
        };
        Some(Answer {
            from: ns.clone(),
            flow,
            inner: Some(pkt.flow),
            unsendable: false,
            direct: None,
            meta: Meta::icmp(ty, code),
        })
    }

    /// An ICMP error about a packet this namespace delivered locally (no listener): from
    /// the packet's destination, whatever it is (a route through `lo` delivers foreign
    /// addresses too, and then the error cannot be sent).
    fn icmp_error_here(&self, ns: &NetnsName, pkt: &Pkt) -> Option<Answer> {
        let mut a = self.icmp_error(ns, pkt, (3, 3))?;
        a.flow.src = Endpoint::new(pkt.flow.dst.ip, 0);
        Some(self.stack_answer(ns, a))
    }

    /// An answer of the receiving stack itself (SYN-ACK, RST, echo reply, port
    /// unreachable): its source is the packet's destination, and its route lookup fails
    /// unless that is an address of the namespace (`__ip_dev_find`).
    pub(crate) fn stack_answer(&self, ns: &NetnsName, mut a: Answer) -> Answer {
        a.unsendable = !self.ns_topo(ns).is_local(a.flow.src.ip);
        a
    }

    /// The source of an ICMP error: the destination when it is local, else what routing
    /// back to the packet's source picks.
    fn icmp_source(&self, ns: &NetnsName, pkt: &Pkt) -> Ipv4Addr {
        if self.ns_topo(ns).is_local(pkt.flow.dst.ip) {
            return pkt.flow.dst.ip;
        }
        routing::source_for(self.ns_topo(ns), pkt.flow.src.ip).unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// A transport-level answer (SYN-ACK, RST, echo reply: `meta` says which) from `ns`:
    /// the header reversed.
    fn reversed(&self, ns: &NetnsName, pkt: &Pkt, meta: Meta) -> Option<Answer> {
        if self.replying() {
            return None;
        }
        Some(Answer {
            from: ns.clone(),
            flow: pkt.flow.reversed(),
            inner: None,
            unsendable: false,
            direct: None,
            meta,
        })
    }
}
