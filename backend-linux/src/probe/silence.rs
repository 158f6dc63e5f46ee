//! Naming why a probe went unanswered, from the kernel's state where the captures stop
//! (namespace N, the last place the packet was seen, or the sender):
//! - no hairpin: it came in on a bridge port of N, was DNATed to an address of the
//!   namespace behind that same port (not a loopback one, which every namespace has), and
//!   the port's hairpin mode is off;
//! - martian: it arrived in N with a source address that is N's own (or a loopback one);
//! - blackhole: the kernel's input route lookup for it (`ip route get DST from SRC iif
//!   DEV`) fails with EINVAL and so does N's own lookup of the destination;
//! - reverse path: the input lookup fails with EINVAL for any other reason: `rp_filter`;
//! - echo ignored: an echo request reached N, whose `icmp_echo_ignore_all` is on;
//! - not forwarding: its destination is not N's and the device it came in through does not
//!   forward (`net.ipv4.conf.DEV.forwarding`);
//! - no carrier: the device N's routing picks for it is down or has no carrier.
//!
//! (An unanswered ARP request, `no-neighbor`, is read from the captures themselves.)

use super::ProbeCx;
use std::net::Ipv4Addr;

use nettwin_core::addr::Proto;
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
    /// The input device's `forwarding`.
    forwarding: bool,
    /// The errno of the input route lookup for the last packet seen coming in, if any.
    input_refused: Option<i32>,
    /// `icmp_echo_ignore_all`.
    echo_ignored: bool,
    /// The namespace's own route lookup for the destination hits a blackhole (EINVAL).
    blackhole: bool,
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
    dst_mac: Option<[u8; 6]>,
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
    // The last packet seen coming in, and its device, for the input route lookup.
    // (What comes back in over `lo` is the namespace's own and delivered here whatever
    // its destination: no input lookup decides it.)
    let on_lo = last.is_some_and(|h| h.device.as_ref().is_some_and(|d| d.as_str() == "lo"));
    let arrival = last
        .filter(|h| h.dir == Dir::In && !on_lo)
        .and_then(|h| Some((h.device.as_ref()?.to_string(), h.packet.src.ip, dst)));
    if let (Some(h), Some(mac)) = (last, dst_mac)
        && let Some(why) = other_host(cx, h, mac)
    {
        return Some(why);
    }
    let facts = cx
        .namespaces
        .get(netns)?
        .worker
        .call(move |ctx| {
            let links = crate::links::dump(&mut ctx.nl).ok()?;
            let local =
                crate::addrs::addr_dump(&mut ctx.nl).ok()?.into_iter().map(|a| a.addr.ip).collect();
            let (forwarding, input_refused) = match &arrival {
                Some((dev, src, dst)) => {
                    let path = format!("/proc/sys/net/ipv4/conf/{dev}/forwarding");
                    let forwarding = crate::sysctl::read(&path).is_some_and(|v| v != 0);
                    let index = crate::links::index_of(&mut ctx.nl, dev).ok();
                    let refused = index.and_then(|i| {
                        crate::routes::input_route_errno(&mut ctx.nl, *src, *dst, i).ok()?.err()
                    });
                    (forwarding, refused)
                }
                None => (false, None),
            };
            // The device's own, current state (a dump's can lag a carrier change).
            let out_dev = crate::routes::route_get(&mut ctx.nl, dst)
                .ok()
                .flatten()
                .and_then(|i| crate::links::get(&mut ctx.nl, i).ok())
                .map(|l| (l.name, l.carrier));
            let port_hairpin_off = port_name.is_some_and(|p| {
                links.iter().any(|l| l.name == p && l.master.is_some() && l.hairpin != Some(true))
            });
            let echo_ignored =
                crate::sysctl::read("/proc/sys/net/ipv4/icmp_echo_ignore_all") == Some(1);
            let blackhole = matches!(
                crate::routes::route_get(&mut ctx.nl, dst),
                Err(crate::netlink::NlError::Errno(libc::EINVAL))
            );
            Some(Facts {
                local,
                forwarding,
                input_refused,
                echo_ignored,
                blackhole,
                out_dev,
                port_hairpin_off,
            })
        })
        .ok()
        .flatten()?;
    let before = entry.and_then(|i| i.checked_sub(1)).and_then(|i| hops.get(i));
    if let (Some(port), Some(dnat), Some(before)) = (port, dnat, before)
        && facts.port_hairpin_off
        && !dnat.is_loopback()
        && before.dir == Dir::Out
        && local_in(cx, &before.netns, dnat)
    {
        return Some(Silence::NoHairpin { port });
    }
    if let Some(h) = last
        && h.dir == Dir::In
    {
        let src = h.packet.src.ip;
        // The input lookup decides in the kernel's order: a loopback address first, then
        // the route (not forwarding: EHOSTUNREACH; a blackhole: EINVAL), and only for what
        // is delivered or forwarded the source (its own: martian; else rp_filter: EINVAL).
        if facts.input_refused == Some(libc::EINVAL) {
            let martian = src.is_loopback() || dst.is_loopback() || facts.local.contains(&src);
            return Some(if martian {
                Silence::Martian
            } else if facts.blackhole {
                Silence::Blackhole
            } else {
                Silence::ReversePath
            });
        }
        if !on_lo && !facts.local.contains(&dst) && !facts.forwarding {
            return Some(Silence::NotForwarding);
        }
        if !on_lo && facts.local.contains(&src) {
            return Some(Silence::Martian);
        }
        let here = facts.local.contains(&dst) || on_lo;
        if here && h.packet.proto == Proto::Icmp && facts.echo_ignored {
            return Some(Silence::EchoIgnored);
        }
    }
    match facts.out_dev {
        Some((dev, false)) => IfName::new(&dev).ok().map(|dev| Silence::NoCarrier { dev }),
        _ => None,
    }
}

/// Whether the frame of hop `h` (coming in, addressed to `mac`) was dropped as for another
/// host: `mac` is unicast and not the MAC of its device, which is no bridge port (a port
/// forwards such frames: not judged here).
pub fn other_host(cx: &ProbeCx<'_>, h: &Hop, mac: [u8; 6]) -> Option<Silence> {
    let dev = h.device.clone().filter(|_| h.dir == Dir::In && mac[0] & 1 == 0)?;
    let name = dev.to_string();
    let dropped = cx
        .namespaces
        .get(&h.netns)?
        .worker
        .call(move |ctx| {
            let links = crate::links::dump(&mut ctx.nl).ok()?;
            Some(links.iter().any(|l| l.name == name && l.master.is_none() && l.mac != mac))
        })
        .ok()
        .flatten()?;
    dropped.then_some(Silence::OtherHost { dev })
}

/// Whether `ip` is an address of namespace `netns`.
fn local_in(cx: &ProbeCx<'_>, netns: &NetnsName, ip: Ipv4Addr) -> bool {
    let Some(ns) = cx.namespaces.get(netns) else { return false };
    ns.worker
        .call(move |ctx| {
            crate::addrs::addr_dump(&mut ctx.nl)
                .ok()
                .is_some_and(|a| a.iter().any(|x| x.addr.ip == ip))
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
