//! Probes (a flow to send) and traces (what happened to it, hop by hop).
//!
//! A trace is a list of hops. A hop is one line of the story: where the packet was
//! (namespace, device or stack stage), what it looked like there (NAT rewrites visible) and
//! the step that moved it on. Hops on a device in direction `in` or `out` are *wire hops*:
//! the places an AF_PACKET capture on that device would see the packet. They form the
//! normalized path both backends must agree on (`Trace::wire_path`).

use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::addr::{Endpoint, Proto};
use crate::iptables::{PortRange, RejectWith, Table};
use crate::names::{IfName, NetnsName};
use crate::state::{Route, RoutingRule, Socket, SpecialRoute};

pub mod render;

/// The first source port used for probes that do not pin one.
pub const DEFAULT_SPORT_BASE: u16 = 40000;

/// The source port of the `n`-th probe (counting from 0) that did not pin one, on one
/// backend instance. Both backends use it, so that their traces compare.
pub fn default_sport(n: u32) -> u16 {
    DEFAULT_SPORT_BASE + (n % 20000) as u16
}

/// A flow to send: from a namespace, to an address and port, over a protocol.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Probe {
    /// A label (empty when unnamed).
    pub name: String,
    /// The namespace that sends.
    pub from: NetnsName,
    /// The source address; chosen by routing when absent.
    pub src: Option<Ipv4Addr>,
    /// The source port; `default_sport` when absent.
    pub sport: Option<u16>,
    /// The destination (port 0 for ICMP).
    pub dst: Endpoint,
    /// tcp (connect), udp (a datagram) or icmp (echo).
    pub proto: Proto,
}

impl Probe {
    /// Why no backend sends this probe yet, if so: datagrams and echoes to a multicast
    /// group (who receives them depends on group memberships the model does not keep).
    pub fn not_supported(&self) -> Option<&'static str> {
        (self.dst.ip.is_multicast() && self.proto != Proto::Tcp)
            .then_some("datagrams and echoes to a multicast group are not modeled yet")
    }
}

/// A packet header: protocol, source and destination.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct Flow {
    /// The protocol.
    pub proto: Proto,
    /// Source address and port.
    pub src: Endpoint,
    /// Destination address and port.
    pub dst: Endpoint,
}

impl Flow {
    /// The same flow seen from the other end (for replies).
    pub fn reversed(&self) -> Flow {
        Flow { proto: self.proto, src: self.dst, dst: self.src }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.proto.has_ports() {
            write!(f, "{} → {}", self.src, self.dst)
        } else {
            write!(f, "{} → {}", self.src.ip, self.dst.ip)
        }
    }
}

/// Which way a packet crosses a device, or that the hop is a bridge decision or a stage of
/// the IP stack with no device.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Received on the device (a wire hop).
    In,
    /// Sent out of the device (a wire hop).
    Out,
    /// A bridge deciding which port a frame goes to.
    Bridge,
    /// A stage of the namespace's IP stack (routing, a netfilter hook, delivery).
    Stack,
}

/// How a netfilter traversal ended.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "verdict")]
pub enum Verdict {
    /// Accepted by a rule or by the policy.
    Accept,
    /// Dropped.
    Drop,
    /// Rejected.
    Reject {
        /// With what.
        #[serde(serialize_with = "ser_reject")]
        with: RejectWith,
    },
    /// Destination rewritten (and accepted).
    Dnat {
        /// The new destination.
        to: Endpoint,
    },
    /// Source rewritten by SNAT (and accepted).
    Snat {
        /// The new source (its port the range's first when drawn).
        to: Endpoint,
        /// The range the kernel draws the new source port from at random, if it does.
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_drawn")]
        drawn: Option<PortRange>,
    },
    /// Source rewritten to the outgoing device's address (and accepted).
    Masquerade {
        /// The new source (its port the range's first when drawn).
        to: Endpoint,
        /// The range the kernel draws the new source port from at random, if it does.
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_drawn")]
        drawn: Option<PortRange>,
    },
}

fn ser_drawn<S: serde::Serializer>(r: &Option<PortRange>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(r) => s.serialize_str(&format!("{}-{}", r.lo, r.hi)),
        None => s.serialize_none(),
    }
}

fn ser_reject<S: serde::Serializer>(w: &RejectWith, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(reject_name(*w))
}

/// The `--reject-with` name of a reject type.
pub fn reject_name(w: RejectWith) -> &'static str {
    match w {
        RejectWith::PortUnreachable => "icmp-port-unreachable",
        RejectWith::NetUnreachable => "icmp-net-unreachable",
        RejectWith::HostUnreachable => "icmp-host-unreachable",
        RejectWith::AdminProhibited => "icmp-admin-prohibited",
        RejectWith::TcpReset => "tcp-reset",
        RejectWith::HostProhibited => "icmp-host-prohibited",
        RejectWith::NetProhibited => "icmp-net-prohibited",
        RejectWith::ProtoUnreachable => "icmp-proto-unreachable",
    }
}

/// One chain visited during a traversal, and the rule that decided there.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ChainHit {
    /// The chain.
    pub chain: String,
    /// The 1-based number of the rule that jumped or decided; `None` when the packet fell
    /// off the end of the chain (RETURN to the caller, or the policy).
    pub rule: Option<u32>,
}

/// The step a hop records.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    /// The packet was seen on the device (wire hops with nothing more to say).
    Seen,
    /// A routing decision.
    Route {
        /// The route chosen.
        route: Route,
        /// The policy rule that chose its table, unless it was a new namespace's own.
        #[serde(skip_serializing_if = "Option::is_none")]
        rule: Option<RoutingRule>,
    },
    /// A route lookup that ended in a blackhole, unreachable or prohibit route, or in a
    /// rule of that kind (`route` is then `None`).
    Discard {
        /// The route, if a route decided.
        #[serde(skip_serializing_if = "Option::is_none")]
        route: Option<SpecialRoute>,
        /// The rule that decided, or chose the route's table.
        #[serde(skip_serializing_if = "Option::is_none")]
        rule: Option<RoutingRule>,
    },
    /// The destination is an address of this namespace.
    Local,
    /// A netfilter hook ran: the chains it went through and how it ended. `mark` is the
    /// packet mark afterwards, when not zero.
    Netfilter {
        /// The table.
        table: Table,
        /// The built-in chain (hook) it started in.
        hook: String,
        /// The chains visited, in order; the last one decided.
        path: Vec<ChainHit>,
        /// How it ended.
        verdict: Verdict,
        /// The packet mark after the traversal (0 when unmarked).
        mark: u32,
        /// What the model followed only in part on the way (a rate limit).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<Note>,
    },
    /// Conntrack recognized the packet as part of a known connection and applied the
    /// reverse of the first packet's NAT.
    Conntrack {
        /// The conntrack state (`ESTABLISHED`, `RELATED`).
        state: String,
        /// The header before the reverse NAT.
        from: Flow,
    },
    /// A bridge chose the output port.
    Bridge {
        /// The port.
        to: IfName,
        /// Whether the port came from the forwarding database (else the frame flooded).
        learned: bool,
    },
    /// Rule counters that moved (how the linux backend names the rules it saw hit).
    Counters {
        /// The table.
        table: Table,
        /// The chain.
        chain: String,
        /// The 1-based rule number (`None` for the policy).
        rule: Option<u32>,
        /// The rule text, as iptables-save prints it.
        text: String,
    },
    /// The packet went no further: the last hop of a reply path that did not reach the
    /// original sender says here how it ended (forward paths end in `Trace::outcome`).
    Stopped {
        /// How it ended, in the terms of a probe's outcome.
        outcome: Box<Outcome>,
    },
}

/// Something a netfilter hop says about a rule the model follows only in part.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "note")]
pub enum Note {
    /// A rule with `-m limit` matched: the model follows no clock, so a limit always
    /// matches; on a real host it stops matching once its rate is exceeded.
    RateNotModeled {
        /// The chain.
        chain: String,
        /// The 1-based rule number.
        rule: u32,
    },
    /// A rule whose target has no verdict matched (LOG and NFLOG log, TCPMSS edits a
    /// SYN's MSS option, which a probe does not carry); the packet went on.
    Passed {
        /// The chain.
        chain: String,
        /// The 1-based rule number.
        rule: u32,
        /// The target (`LOG`, `NFLOG`, `TCPMSS`).
        target: String,
    },
    /// A raw-table rule (`NOTRACK`, `CT --notrack`) matched: the packet gets no conntrack
    /// entry (state UNTRACKED, no NAT).
    Untracked {
        /// The chain.
        chain: String,
        /// The 1-based rule number.
        rule: u32,
    },
}

/// One line of a trace.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Hop {
    /// The namespace.
    pub netns: NetnsName,
    /// The device, for wire and bridge hops.
    pub device: Option<IfName>,
    /// Direction, or bridge, or stack stage.
    pub dir: Dir,
    /// The header as seen here.
    pub packet: Flow,
    /// What moved the packet on.
    pub step: Step,
}

impl Hop {
    /// Whether an AF_PACKET capture on the device would see the packet here.
    pub fn is_wire(&self) -> bool {
        self.device.is_some() && matches!(self.dir, Dir::In | Dir::Out)
    }
}

/// Who refused a connection.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by")]
pub enum Refusal {
    /// Nothing listens on that port (TCP RST, ICMP port unreachable).
    NoListener,
    /// A REJECT rule.
    Reject {
        /// Table of the rule.
        table: Table,
        /// Chain of the rule.
        chain: String,
        /// 1-based rule number.
        rule: u32,
    },
}

/// What dropped a packet.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by")]
pub enum DropCause {
    /// A DROP rule.
    Rule {
        /// Table of the rule.
        table: Table,
        /// Chain of the rule.
        chain: String,
        /// 1-based rule number.
        rule: u32,
    },
    /// A built-in chain's DROP policy.
    Policy {
        /// Table.
        table: Table,
        /// The built-in chain.
        chain: String,
    },
}

/// Why a packet vanished without anyone saying so.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum Silence {
    /// A bridge would have to send the frame back out the port it came in on, and that
    /// port's hairpin mode is off.
    NoHairpin {
        /// The port.
        port: IfName,
    },
    /// Nobody on the link answers ARP for the next hop.
    NoNeighbor {
        /// The next hop.
        ip: Ipv4Addr,
        /// The output device.
        dev: IfName,
    },
    /// The output device has no carrier (its veth peer or the bridge's ports are down, or
    /// the device itself is down).
    NoCarrier {
        /// The device.
        dev: IfName,
    },
    /// The frame's destination MAC is not the receiving device's (a permanent neighbour
    /// entry with another MAC): the device drops it as for another host.
    OtherHost {
        /// The receiving device.
        dev: IfName,
    },
    /// The packet is not for this namespace and the device it came in through does not
    /// forward (`net.ipv4.conf.DEV.forwarding`, which `ip_forward` sets for every device).
    NotForwarding,
    /// Reverse-path filtering (`rp_filter`) dropped it: the route back to its source does
    /// not leave through the device it came in on (strict), or there is none (loose).
    ReversePath,
    /// A packet arrived with a local source address from outside (martian) or from
    /// 127.0.0.0/8 on a device without `route_localnet`.
    Martian,
    /// The namespace ignores echo requests (`net.ipv4.icmp_echo_ignore_all`).
    EchoIgnored,
    /// A blackhole route (or rule) discarded it.
    Blackhole,
    /// The TTL ran out on a router (a routing loop); it answered ICMP time exceeded, which
    /// TCP and UDP senders treat as a soft error: the sender times out.
    TtlExceeded,
    /// The linux backend saw no answer and no DROP counter moved.
    NoAnswer,
}

/// How a probe ended.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    /// A socket received it (for ICMP: the echo was answered).
    Delivered {
        /// The receiving namespace.
        netns: NetnsName,
        /// The receiving socket (none for ICMP echo).
        socket: Option<Socket>,
        /// The source the receiver saw.
        seen_src: Endpoint,
    },
    /// Refused: RST / ICMP port unreachable / REJECT.
    Refused {
        /// The namespace that refused.
        netns: NetnsName,
        /// Why.
        by: Refusal,
    },
    /// Dropped by a rule or a policy.
    Dropped {
        /// Where.
        netns: NetnsName,
        /// By what.
        by: DropCause,
    },
    /// No route to the destination.
    NoRoute {
        /// The namespace that had no route.
        netns: NetnsName,
        /// The destination it looked up.
        dst: Ipv4Addr,
    },
    /// Vanished without an answer.
    TimedOut {
        /// Where it was last seen.
        netns: NetnsName,
        /// Why.
        why: Silence,
    },
    /// The sender's own kernel refused the send: the socket call failed and nothing left.
    SendFailed {
        /// The sending namespace.
        netns: NetnsName,
        /// The error the call failed with.
        errno: SendErrno,
    },
}

/// Why the sender's kernel refused a probe before sending anything.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum SendErrno {
    /// `EACCES`: a datagram or an echo to a broadcast address, from a socket without
    /// `SO_BROADCAST`; or a prohibit route or rule on the way.
    #[serde(rename = "EACCES")]
    Access,
    /// `EADDRINUSE`: the pinned source port is taken by a socket of the namespace.
    #[serde(rename = "EADDRINUSE")]
    AddressInUse,
}

impl SendErrno {
    /// The errno's name (`EACCES`).
    pub fn name(self) -> &'static str {
        match self {
            SendErrno::Access => "EACCES",
            SendErrno::AddressInUse => "EADDRINUSE",
        }
    }

    /// Why the kernel says it, in a few words; `prohibited` when a prohibit route or rule
    /// decided the lookup (the trace shows it as a discard step).
    pub fn reason(self, prohibited: bool) -> &'static str {
        match self {
            SendErrno::Access if prohibited => "a prohibit route or rule refuses it",
            SendErrno::Access => "a broadcast destination needs SO_BROADCAST",
            SendErrno::AddressInUse => "the source port is already bound",
        }
    }
}

impl Outcome {
    /// The outcome's kind: `delivered`, `refused`, `dropped`, `no-route`, `timed-out`,
    /// `send-failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Refused { .. } => "refused",
            Outcome::Dropped { .. } => "dropped",
            Outcome::NoRoute { .. } => "no-route",
            Outcome::TimedOut { .. } => "timed-out",
            Outcome::SendFailed { .. } => "send-failed",
        }
    }

    /// The namespace where it ended, whatever its kind.
    pub fn netns(&self) -> &NetnsName {
        match self {
            Outcome::Delivered { netns, .. }
            | Outcome::Refused { netns, .. }
            | Outcome::Dropped { netns, .. }
            | Outcome::NoRoute { netns, .. }
            | Outcome::TimedOut { netns, .. }
            | Outcome::SendFailed { netns, .. } => netns,
        }
    }

    /// The receiving namespace, when delivered.
    pub fn delivered_to(&self) -> Option<&NetnsName> {
        match self {
            Outcome::Delivered { netns, .. } => Some(netns),
            _ => None,
        }
    }

    /// The source the receiver saw, when delivered.
    pub fn seen_src(&self) -> Option<Endpoint> {
        match self {
            Outcome::Delivered { seen_src, .. } => Some(*seen_src),
            _ => None,
        }
    }
}

/// A probe's whole story.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Trace {
    /// What was sent.
    pub probe: Probe,
    /// The header as it left the sender.
    pub flow: Flow,
    /// The forward path.
    pub hops: Vec<Hop>,
    /// How it ended.
    pub outcome: Outcome,
    /// The path of the answer (SYN-ACK, echo reply, RST or ICMP error), if one was sent.
    pub reply: Vec<Hop>,
}

/// A wire hop reduced to what both backends can observe: (namespace, device, direction).
pub type WireHop = (NetnsName, IfName, Dir);

impl Trace {
    /// The range the kernel drew the connection's new source port from at random, when a
    /// source NAT on the forward path drew one (the trace goes on with the range's first
    /// port in its place).
    pub fn drawn_port(&self) -> Option<PortRange> {
        self.hops.iter().find_map(|h| match &h.step {
            Step::Netfilter {
                verdict: Verdict::Snat { drawn, .. } | Verdict::Masquerade { drawn, .. },
                ..
            } => *drawn,
            _ => None,
        })
    }

    /// The forward path as wire hops.
    pub fn wire_path(&self) -> Vec<WireHop> {
        wire(&self.hops)
    }

    /// The reply path as wire hops.
    pub fn reply_wire_path(&self) -> Vec<WireHop> {
        wire(&self.reply)
    }
}

fn wire(hops: &[Hop]) -> Vec<WireHop> {
    hops.iter()
        .filter(|h| h.is_wire())
        .filter_map(|h| Some((h.netns.clone(), h.device.clone()?, h.dir)))
        .collect()
}
