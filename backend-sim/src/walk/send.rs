//! What the sender's own kernel decides before anything leaves (`ip_route_output` and the
//! socket calls), each checked on the kernel (docs/linux-backend.md):
//!
//! - a source port already bound by a socket of the namespace fails the `bind`
//!   (`EADDRINUSE`);
//! - to `0.0.0.0` a packet goes to the sender itself over `lo`: the destination becomes
//!   the bound source, or 127.0.0.1 for both when the socket is unbound;
//! - to a broadcast address (a local broadcast route: the subnet broadcast of a primary
//!   address on an up link, or 255.255.255.255 where a default route covers it) a TCP
//!   connect fails with `ENETUNREACH` and sends nothing, a datagram or an echo with
//!   `EACCES` (no `SO_BROADCAST` on the probe's socket);
//! - to a multicast address a TCP connect fails with `ENETUNREACH` (datagrams and echoes
//!   to groups are not modeled: the probe is refused before it is sent);
//! - from a source address the namespace does not have (which `ip_nonlocal_bind` lets a
//!   socket bind) nothing can be sent: `ENETUNREACH`, no route.

use std::net::Ipv4Addr;

use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::names::NetnsName;
use nettwin_core::state::Netns;
use nettwin_core::trace::{Flow, Outcome, Probe, SendErrno};

use crate::topo::NsTopo;

/// What the sender's kernel makes of a probe before sending.
pub(crate) enum Send {
    /// It sends this header.
    Packet(Flow),
    /// It refuses: the probe ends here.
    Refused(Outcome),
}

/// The sender's decision for `probe`, whose header would be `flow` (source as chosen).
pub(crate) fn decide(
    ns: &Netns,
    topo: &NsTopo,
    from: &NetnsName,
    probe: &Probe,
    flow: Flow,
) -> Send {
    let refused = |errno| Send::Refused(Outcome::SendFailed { netns: from.clone(), errno });
    if probe.proto.has_ports() && port_taken(ns, probe.proto, probe.src, flow.src.port) {
        return refused(SendErrno::AddressInUse);
    }
    let dst = flow.dst.ip;
    if dst.is_unspecified() {
        let me = probe.src.unwrap_or(Ipv4Addr::LOCALHOST);
        return Send::Packet(Flow {
            src: Endpoint::new(me, flow.src.port),
            dst: Endpoint::new(me, flow.dst.port),
            ..flow
        });
    }
    let no_route = || Send::Refused(Outcome::NoRoute { netns: from.clone(), dst });
    // A source the namespace does not have (bound thanks to `ip_nonlocal_bind`): the
    // output route lookup finds no device for it.
    if probe.src.is_some_and(|ip| !topo.is_local(ip)) {
        return no_route();
    }
    let broadcast = is_broadcast(ns, topo, dst);
    match probe.proto {
        Proto::Tcp if broadcast || dst.is_multicast() => no_route(),
        _ if broadcast => refused(SendErrno::Access),
        _ => Send::Packet(flow),
    }
}

/// Whether a socket of `proto` bound to `src` (any address when `None`) and `port` would
/// clash with one the namespace already has: the same port with the same or a wildcard
/// address on either side.
fn port_taken(ns: &Netns, proto: Proto, src: Option<Ipv4Addr>, port: u16) -> bool {
    let src = src.unwrap_or(Ipv4Addr::UNSPECIFIED);
    ns.sockets.iter().any(|s| {
        s.proto == proto
            && s.at.port == port
            && (s.at.ip.is_unspecified() || src.is_unspecified() || s.at.ip == src)
    })
}

/// Whether the namespace's routing calls `dst` a broadcast: 255.255.255.255 when a route
/// covers it, or an address with a local broadcast route (`Netns::broadcast_route`) that is
/// not also one of its own addresses.
fn is_broadcast(ns: &Netns, topo: &NsTopo, dst: Ipv4Addr) -> bool {
    if dst.is_broadcast() {
        return ns.lookup(dst).is_some();
    }
    ns.broadcast_route(dst) && !topo.has_address(dst)
}
