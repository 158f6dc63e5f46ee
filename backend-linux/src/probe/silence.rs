//! Naming why a probe went unanswered, from the kernel's state where the captures stop
//! (namespace N, the last place the packet was seen, or the sender):
//! - no hairpin: it came in on a bridge port of N, was DNATed to an address of the
//!   namespace behind that same port, and the port's hairpin mode is off;
//! - martian: it arrived in N with a source address that is N's own;
//! - not forwarding: its destination is not N's and N's `ip_forward` is 0;
//! - no carrier: the device N's routing picks for it is down or has no carrier.
//!
//! (An unanswered ARP request, `no-neighbor`, is read from the captures themselves.)

use super::ProbeCx;
use std::net::Ipv4Addr;

use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::trace::{Dir, Hop, Silence};

use nettwin_core::iptables::Counter;

/// The DNAT target address of a rule's iptables-save text.
fn dnat_target(text: &str) -> Option<Ipv4Addr> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--to-destination" {
            let to = words.next()?;
            return to.split(':').next()?.parse().ok();
        }
    }
    None
}

/// What N knows about the packet's fate.
struct Facts {
    local: Vec<Ipv4Addr>,
    forwarding: bool,
    out_dev: Option<(String, bool)>,
    port_hairpin_off: bool,
}

/// Why the probe went unanswered, if the kernel's state says (see the module docs).
pub fn diagnose(
    cx: &ProbeCx<'_>,
    from: &NetnsName,
    dst: Ipv4Addr,
    hops: &[Hop],
    counters: &[(NetnsName, Counter)],
) -> Option<Silence> {
    let last = hops.last();
    let netns = last.map_or(from, |h| &h.netns);
    let dnat = counters
        .iter()
        .filter(|(ns, c)| ns == netns && c.verdict() == Some("DNAT"))
        .find_map(|(_, c)| dnat_target(&c.text));
    let dst = dnat.or(last.map(|h| h.packet.dst.ip)).unwrap_or(dst);
    // The packet entered N through the last `in` hop there; with br_netfilter a DNATed
    // frame is then seen leaving the bridge device before the bridge drops it.
    let entry = hops.iter().rposition(|h| &h.netns == netns && h.dir == Dir::In);
    let port = entry.and_then(|i| hops[i].device.clone());
    let port_name = port.as_ref().map(ToString::to_string);
    let facts = cx
        .namespaces
        .get(netns)?
        .worker
        .call(move |ctx| {
            let links = crate::links::dump(&mut ctx.nl).ok()?;
            let local = crate::routes::addr_dump(&mut ctx.nl)
                .ok()?
                .into_iter()
                .map(|(_, a)| a.ip)
                .collect();
            let forwarding = crate::sysctl::read("/proc/sys/net/ipv4/ip_forward") == Some(1);
            // The device's own, current state (a dump's can lag a carrier change).
            let out_dev = crate::routes::route_get(&mut ctx.nl, dst)
                .ok()
                .flatten()
                .and_then(|i| crate::links::get(&mut ctx.nl, i).ok())
                .map(|l| (l.name, l.carrier));
            let port_hairpin_off = port_name.is_some_and(|p| {
                links.iter().any(|l| l.name == p && l.master.is_some() && l.hairpin != Some(true))
            });
            Some(Facts { local, forwarding, out_dev, port_hairpin_off })
        })
        .ok()
        .flatten()?;
    let before = entry.and_then(|i| i.checked_sub(1)).and_then(|i| hops.get(i));
    if let (Some(port), Some(dnat), Some(before)) = (port, dnat, before)
        && facts.port_hairpin_off
        && before.dir == Dir::Out
        && local_in(cx, &before.netns, dnat)
    {
        return Some(Silence::NoHairpin { port });
    }
    if let Some(h) = last
        && h.dir == Dir::In
    {
        if facts.local.contains(&h.packet.src.ip) {
            return Some(Silence::Martian);
        }
        if !facts.local.contains(&dst) && !facts.forwarding {
            return Some(Silence::NotForwarding);
        }
    }
    match facts.out_dev {
        Some((dev, false)) => IfName::new(&dev).ok().map(|dev| Silence::NoCarrier { dev }),
        _ => None,
    }
}

/// Whether `ip` is an address of namespace `netns`.
fn local_in(cx: &ProbeCx<'_>, netns: &NetnsName, ip: Ipv4Addr) -> bool {
    let Some(ns) = cx.namespaces.get(netns) else { return false };
    ns.worker
        .call(move |ctx| {
            crate::routes::addr_dump(&mut ctx.nl)
                .ok()
                .is_some_and(|a| a.iter().any(|(_, x)| x.ip == ip))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dnat_target_is_read_from_the_rule() {
        let t = "-A CNI-DN-x -p tcp -m tcp --dport 7000 -j DNAT --to-destination 172.26.64.2:7000";
        assert_eq!(dnat_target(t), Some(Ipv4Addr::new(172, 26, 64, 2)));
        assert_eq!(
            dnat_target("-A X -j DNAT --to-destination 10.0.0.1"),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(dnat_target("-A X -j ACCEPT"), None);
    }
}
