//! From captured frames to hops: which frames belong to the probe (forward) and to its
//! answer (reply), in time order, and where rule counters go among them.
//!
//! Matching follows the flow through NAT by what NAT never rewrites:
//! - TCP: the initial sequence number. The probe's SYN is the first SYN without ACK the
//!   captures saw (nothing else sends in a sandbox during a probe); its answer (SYN-ACK or
//!   RST) acknowledges ISN+1; an ICMP error quotes the SYN's sequence number.
//! - UDP and ICMP echo: a payload token unique to the probe, which echo replies carry back
//!   and ICMP errors quote (Linux quotes up to 576 bytes of the offending packet).
//!
//! Of all frames that match, one packet is kept per direction (the first one's IP id, which
//! forwarding and NAT keep, up to its first copy: the same place and TTL seen again), so
//! that a retransmission does not double the path.

use std::net::Ipv4Addr;

use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::trace::{Dir, Flow, Hop, Step};

use super::packet::{Ipv4, L4, Packet, TCP_ACK, TCP_RST, TCP_SYN};
use nettwin_core::iptables::Counter;

/// A frame with its place: namespace, device, direction and time.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The namespace of the capture.
    pub netns: NetnsName,
    /// The device.
    pub dev: IfName,
    /// In or out.
    pub dir: Dir,
    /// Kernel timestamp (ns).
    pub ts: u128,
    /// The parsed frame.
    pub pkt: Packet,
    /// The frame's destination MAC.
    pub dst_mac: [u8; 6],
}

/// What identifies the probe's packets.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Key {
    /// TCP, by initial sequence number (found in the captures).
    Isn(u32),
    /// UDP or ICMP echo, by payload token.
    Token(Vec<u8>),
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The ISN of the probe's SYN: the first SYN without ACK from source port `sport` in time
/// order, else (a source NAT rewrote the port before any capture) the first such SYN, else
/// (the SYN never reached a device: the sender's own OUTPUT rejected it) what the answer
/// says of it: an ICMP error quoting a SYN from `sport`, or a reset acknowledging one.
pub fn find_isn(frames: &[Seen], sport: u16) -> Option<u32> {
    find_syn(frames, sport).or_else(|| {
        frames.iter().find_map(|s| {
            let Packet::Ipv4(p) = &s.pkt else { return None };
            match (&p.l4, p.quoted()) {
                (_, Some(Ipv4 { l4: L4::Tcp { seq, flags, sport: q, .. }, .. }))
                    if q == sport && flags & TCP_SYN != 0 =>
                {
                    Some(seq)
                }
                (L4::Tcp { dport, ack, flags, .. }, None)
                    if *dport == sport && flags & TCP_RST != 0 && flags & TCP_ACK != 0 =>
                {
                    Some(ack.wrapping_sub(1))
                }
                _ => None,
            }
        })
    })
}

fn find_syn(frames: &[Seen], sport: u16) -> Option<u32> {
    let syn = |s: &Seen| match &s.pkt {
        Packet::Ipv4(Ipv4 { l4: L4::Tcp { seq, flags, sport: p, .. }, .. })
            if flags & TCP_SYN != 0 && flags & TCP_ACK == 0 =>
        {
            Some((*seq, *p))
        }
        _ => None,
    };
    frames
        .iter()
        .filter_map(syn)
        .find(|(_, p)| *p == sport)
        .or_else(|| frames.iter().find_map(syn))
        .map(|(seq, _)| seq)
}

fn is_forward(key: &Key, p: &Ipv4) -> bool {
    match (key, &p.l4) {
        (Key::Isn(isn), L4::Tcp { seq, flags, .. }) => {
            *seq == *isn && flags & TCP_SYN != 0 && flags & TCP_ACK == 0
        }
        (Key::Token(t), L4::Udp { payload, .. }) => payload == t,
        (Key::Token(t), L4::Icmp { ty: 8, rest, .. }) => rest == t,
        _ => false,
    }
}

/// Whether `p` answers the probe: a SYN-ACK or RST acknowledging its ISN, an echo reply
/// carrying its token, or an ICMP error quoting it (by ISN or token, or, when the quote was
/// cut short, as an error fragmented on a small MTU can be, by the forward packet's IP id).
fn is_reply(key: &Key, p: &Ipv4, forward_id: Option<u16>) -> bool {
    if let Some(q) = p.quoted() {
        let same_id = forward_id == Some(q.id);
        return match (key, &q.l4) {
            (Key::Isn(isn), L4::Tcp { seq, .. }) => seq == isn,
            (Key::Token(t), L4::Udp { payload, .. }) => contains(payload, t) || same_id,
            (Key::Token(t), L4::Icmp { ty: 8, rest, .. }) => contains(rest, t) || same_id,
            _ => false,
        };
    }
    match (key, &p.l4) {
        (Key::Isn(isn), L4::Tcp { ack, flags, .. }) => {
            *ack == isn.wrapping_add(1) && flags & TCP_ACK != 0 && flags & (TCP_SYN | TCP_RST) != 0
        }
        (Key::Token(t), L4::Icmp { ty: 0, rest, .. }) => rest == t,
        _ => false,
    }
}

/// The header of a packet as a `Flow`.
pub fn flow_of(p: &Ipv4) -> Flow {
    let (sport, dport) = p.ports();
    let proto = match p.l4 {
        L4::Tcp { .. } => Proto::Tcp,
        L4::Udp { .. } => Proto::Udp,
        _ => Proto::Icmp,
    };
    Flow { proto, src: Endpoint::new(p.src, sport), dst: Endpoint::new(p.dst, dport) }
}

fn one_packet(frames: &[Seen], keep: impl Fn(&Ipv4) -> bool) -> Vec<Hop> {
    let matching: Vec<(&Seen, &Ipv4)> = frames
        .iter()
        .filter_map(|s| match &s.pkt {
            Packet::Ipv4(p) if keep(p) => Some((s, p)),
            _ => None,
        })
        .collect();
    let Some(id) = matching.first().map(|(_, p)| p.id) else { return Vec::new() };
    // A copy of the packet seen again where it already was, with the same TTL, is a
    // retransmission (a SYN-ACK's IP id is always 0): the path ends before it. A routing
    // loop passes the same place with a smaller TTL and goes on.
    let mut places = Vec::new();
    matching
        .into_iter()
        .filter(|(_, p)| p.id == id)
        .take_while(|(s, p)| {
            let place = (&s.netns, &s.dev, s.dir, p.ttl);
            let first_time = !places.contains(&place);
            places.push(place);
            first_time
        })
        .map(|(s, p)| Hop {
            netns: s.netns.clone(),
            device: Some(s.dev.clone()),
            dir: s.dir,
            packet: flow_of(p),
            step: Step::Seen,
        })
        .collect()
}

/// The forward and reply hops of the probe, each in time order (`frames` must be sorted
/// by time).
pub fn hops(frames: &[Seen], key: &Key) -> (Vec<Hop>, Vec<Hop>) {
    let forward_id = frames.iter().find_map(|s| match &s.pkt {
        Packet::Ipv4(p) if is_forward(key, p) => Some(p.id),
        _ => None,
    });
    (
        one_packet(frames, |p| is_forward(key, p)),
        one_packet(frames, |p| is_reply(key, p, forward_id)),
    )
}

/// An ARP request that nobody answered: (target, namespace, device), where it was first
/// sent (the device the route chose; a bridge then floods it to its ports).
pub fn unanswered_arp(frames: &[Seen]) -> Option<(Ipv4Addr, NetnsName, IfName)> {
    let answered = |ip: Ipv4Addr| {
        frames.iter().any(|s| matches!(s.pkt, Packet::Arp { op: 2, sender, .. } if sender == ip))
    };
    frames.iter().find_map(|s| match s.pkt {
        Packet::Arp { op: 1, target, .. } if s.dir == Dir::Out && !answered(target) => {
            Some((target, s.netns.clone(), s.dev.clone()))
        }
        _ => None,
    })
}

/// Inserts one `Step::Counters` hop per moved counter into the forward path: a namespace's
/// counters go before its first `out` hop (hooks up to POSTROUTING run before the capture
/// sees a packet leave), else after its last hop (INPUT, or a drop in FORWARD), else at the
/// end. Counters are those of the whole exchange (forward, answer, handshake completion),
/// in iptables-save order.
pub fn place_counters(hops: &mut Vec<Hop>, counters: &[(NetnsName, Counter)], sent: Flow) {
    let mut namespaces: Vec<&NetnsName> = Vec::new();
    for (ns, _) in counters {
        if !namespaces.contains(&ns) {
            namespaces.push(ns);
        }
    }
    for ns in namespaces {
        let mine: Vec<&Counter> =
            counters.iter().filter(|(n, _)| n == ns).map(|(_, c)| c).collect();
        let first_out = hops.iter().position(|h| &h.netns == ns && h.dir == Dir::Out);
        let last = hops.iter().rposition(|h| &h.netns == ns);
        let (at, packet) = match (first_out, last) {
            (Some(i), _) => (i, hops[i].packet),
            (None, Some(i)) => (i + 1, hops[i].packet),
            (None, None) => (hops.len(), hops.last().map_or(sent, |h| h.packet)),
        };
        let new: Vec<Hop> = mine
            .into_iter()
            .map(|c| Hop {
                netns: ns.clone(),
                device: None,
                dir: Dir::Stack,
                packet,
                step: Step::Counters {
                    table: c.table,
                    chain: c.chain.to_string(),
                    rule: c.rule,
                    text: c.text.clone(),
                },
            })
            .collect();
        hops.splice(at..at, new);
    }
}

/// The first moved counter whose verdict is `verdict` (rules before policies), with its
/// namespace.
pub fn counter_with<'a>(
    counters: &'a [(NetnsName, Counter)],
    verdict: &str,
) -> Option<&'a (NetnsName, Counter)> {
    counters
        .iter()
        .find(|(_, c)| c.rule.is_some() && c.verdict() == Some(verdict))
        .or_else(|| counters.iter().find(|(_, c)| c.rule.is_none() && c.verdict() == Some(verdict)))
}

#[cfg(test)]
mod tests;
