//! How the kernel picks the address and port a NAT rule gives a connection's first packet
//! (`get_unique_tuple` in `nf_nat_core.c`), for connections that clash with no other:
//! every probe starts with an empty conntrack table.
//!
//! - A source NAT leaves the connection as it is when its source is already in the range
//!   (and `--random`/`--random-fully` are not given).
//! - From an address range the kernel takes the address a hash of the connection's
//!   addresses picks (`find_best_ips_proto`), so one client keeps one address.
//! - A port already in the range (or any port, when no range is given) is kept. Otherwise
//!   a destination gets the range's first port, and a source a port the kernel draws at
//!   random, as it does for every port under `--random`/`--random-fully`: the model
//!   names the range it is drawn from ([`PortPick::Drawn`]). Measured on Linux 6.18
//!   (`docs/research/nat-ranges.md`).

use std::net::Ipv4Addr;

use nettwin_core::iptables::{NatTo, PortRange};
use nettwin_core::trace::Flow;

/// What happens to the port NAT rewrites.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PortPick {
    /// Kept as it is.
    Kept,
    /// Set to this port.
    Set(u16),
    /// Drawn at random by the kernel from the range.
    Drawn(PortRange),
}

impl PortPick {
    /// The port the walk goes on with: the range's first for a drawn one (the trace says
    /// that it is drawn).
    pub(crate) fn port(self, own: u16) -> u16 {
        match self {
            PortPick::Kept => own,
            PortPick::Set(p) => p,
            PortPick::Drawn(r) => r.lo,
        }
    }
}

/// The new source of a connection whose first packet source NAT maps to `to` (SNAT, or
/// MASQUERADE with the device's address as a one-address range).
pub(crate) fn source(to: &NatTo, flow: &Flow) -> (Ipv4Addr, PortPick) {
    let own = flow.src.port;
    let ports = flow.proto.has_ports();
    let random = to.flags.random_port();
    let port_in_range = !ports || to.ports.is_none_or(|r| r.contains(own));
    if !random && in_range(to, flow.src.ip) && port_in_range {
        return (flow.src.ip, PortPick::Kept);
    }
    let ip = address(to, flow);
    if !ports {
        return (ip, PortPick::Kept);
    }
    let pick = match to.ports {
        _ if random => PortPick::Drawn(to.ports.unwrap_or_else(|| default_source_ports(own))),
        Some(r) if r.contains(own) => PortPick::Kept,
        Some(r) if r.lo == r.hi => PortPick::Set(r.lo),
        Some(r) => PortPick::Drawn(r),
        None => PortPick::Kept,
    };
    (ip, pick)
}

/// The new destination of a connection whose first packet DNAT (or REDIRECT, as a
/// one-address range) maps to `to`. A drawn destination port never comes out: the
/// parser refuses `--random` with a destination port range.
pub(crate) fn destination(to: &NatTo, flow: &Flow) -> (Ipv4Addr, PortPick) {
    let own = flow.dst.port;
    let ip = address(to, flow);
    let pick = match to.ports {
        Some(r) if flow.proto.has_ports() && !r.contains(own) => PortPick::Set(r.lo),
        _ => PortPick::Kept,
    };
    (ip, pick)
}

fn in_range(to: &NatTo, ip: Ipv4Addr) -> bool {
    (to.first..=to.last).contains(&ip)
}

/// The address `find_best_ips_proto` takes from the range: `first + scale(hash)`, the
/// hash taken over the connection's source address, seeded with its destination (with
/// nothing under `--persistent`; conntrack zone 0).
fn address(to: &NatTo, flow: &Flow) -> Ipv4Addr {
    if to.first == to.last {
        return to.first;
    }
    let seed = if to.flags.persistent { 0 } else { word(flow.dst.ip) };
    let hash = jhash2(&[word(flow.src.ip), 0, 0, 0], seed);
    let first = u32::from(to.first);
    let dist = u32::from(to.last) - first + 1;
    // `reciprocal_scale`: the hash scaled into [0, dist).
    let offset = ((u64::from(hash) * u64::from(dist)) >> 32) as u32;
    Ipv4Addr::from(first + offset)
}

/// An address as the kernel's hash reads it: the network-order bytes loaded as a
/// little-endian word (x86 and arm64 kernels).
fn word(ip: Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

/// The ports a source port is drawn from when the rule gives none
/// (`nf_nat_l4proto_unique_tuple`): the class of the connection's own port.
fn default_source_ports(own: u16) -> PortRange {
    match own {
        0..512 => PortRange { lo: 1, hi: 511 },
        512..1024 => PortRange { lo: 600, hi: 1023 },
        _ => PortRange { lo: 1024, hi: 65535 },
    }
}

/// The kernel's `jhash2` (Bob Jenkins' lookup3 `hashword`) over 32-bit words. Written
/// here rather than taken from a crate: its exact output is what the kernel computes, and
/// no maintained crate offers the kernel's variant.
fn jhash2(key: &[u32], initval: u32) -> u32 {
    let n = u32::try_from(key.len()).unwrap_or(u32::MAX);
    let init = 0xdead_beef_u32.wrapping_add(n << 2).wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = key;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        mix(&mut a, &mut b, &mut c);
        k = &k[3..];
    }
    if k.is_empty() {
        return c;
    }
    if k.len() == 3 {
        c = c.wrapping_add(k[2]);
    }
    if k.len() >= 2 {
        b = b.wrapping_add(k[1]);
    }
    a = a.wrapping_add(k[0]);
    final_mix(&mut a, &mut b, &mut c);
    c
}

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    for (x, y, z, r) in
        [(0, 2, 1, 4), (1, 0, 2, 6), (2, 1, 0, 8), (0, 2, 1, 16), (1, 0, 2, 19), (2, 1, 0, 4)]
    {
        let mut v = [*a, *b, *c];
        v[x] = v[x].wrapping_sub(v[y]);
        v[x] ^= v[y].rotate_left(r);
        v[y] = v[y].wrapping_add(v[z]);
        [*a, *b, *c] = v;
    }
}

fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    for (x, y, r) in
        [(2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14), (2, 1, 24)]
    {
        let mut v = [*a, *b, *c];
        v[x] ^= v[y];
        v[x] = v[x].wrapping_sub(v[y].rotate_left(r));
        [*a, *b, *c] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nettwin_core::addr::{Endpoint, Proto};
    use nettwin_core::iptables::NatFlags;

    fn flow(src: &str, sport: u16, dst: &str, dport: u16) -> Flow {
        let ep = |ip: &str, port| Endpoint::new(ip.parse().expect("an address"), port);
        Flow { proto: Proto::Tcp, src: ep(src, sport), dst: ep(dst, dport) }
    }

    fn range(first: &str, last: &str) -> NatTo {
        NatTo {
            first: first.parse().expect("an address"),
            last: last.parse().expect("an address"),
            ports: None,
            flags: NatFlags::NONE,
        }
    }

    /// Picks the kernel made (Linux 6.18, `conntrack -L` after one SYN each, the table
    /// flushed in between; `docs/research/nat-ranges.md`).
    #[test]
    fn addresses_are_the_ones_the_kernel_picked() {
        let snat = range("10.0.2.10", "10.0.2.20");
        for (src, dst, want) in [
            ("10.0.1.12", "10.0.2.3", "10.0.2.12"),
            ("10.0.1.3", "10.0.2.77", "10.0.2.17"),
            ("10.0.1.6", "10.0.2.3", "10.0.2.20"),
        ] {
            let (ip, port) = source(&snat, &flow(src, 41000, dst, 80));
            assert_eq!((ip.to_string(), port), (want.to_owned(), PortPick::Kept), "{src} → {dst}");
        }
        let dnat = range("10.0.2.30", "10.0.2.40");
        for (src, dst, want) in [
            ("10.0.1.10", "10.0.2.3", "10.0.2.38"),
            ("10.0.1.2", "10.0.2.77", "10.0.2.30"),
            ("10.0.1.9", "10.0.2.3", "10.0.2.31"),
        ] {
            let (ip, _) = destination(&dnat, &flow(src, 41000, dst, 90));
            assert_eq!(ip.to_string(), want, "{src} → {dst}");
        }
        let persistent = NatTo { flags: NatFlags { persistent: true, ..NatFlags::NONE }, ..dnat };
        for (src, want) in [("10.0.1.2", "10.0.2.40"), ("10.0.1.8", "10.0.2.33")] {
            let (ip, _) = destination(&persistent, &flow(src, 41000, "10.0.2.3", 91));
            assert_eq!(ip.to_string(), want, "{src}, persistent");
        }
    }

    #[test]
    fn ports_are_kept_set_or_drawn_as_the_kernel_does() {
        let f = flow("10.0.1.2", 40002, "10.0.2.3", 80);
        let with = |ports: Option<PortRange>, flags| NatTo {
            ports,
            flags,
            ..range("10.0.2.10", "10.0.2.10")
        };
        let r = |lo, hi| Some(PortRange { lo, hi });
        assert_eq!(
            source(&with(r(2000, 2010), NatFlags::NONE), &f).1,
            PortPick::Drawn(PortRange { lo: 2000, hi: 2010 })
        );
        assert_eq!(source(&with(r(40000, 40010), NatFlags::NONE), &f).1, PortPick::Kept);
        assert_eq!(source(&with(r(3000, 3000), NatFlags::NONE), &f).1, PortPick::Set(3000));
        let fully = NatFlags { random_fully: true, ..NatFlags::NONE };
        assert_eq!(
            source(&with(None, fully), &f).1,
            PortPick::Drawn(PortRange { lo: 1024, hi: 65535 })
        );
        assert_eq!(destination(&with(r(8000, 8100), NatFlags::NONE), &f).1, PortPick::Set(8000));
        // A source already in the range is left alone.
        let own = NatTo { ports: None, ..range("10.0.1.2", "10.0.1.20") };
        assert_eq!(source(&own, &f), ("10.0.1.2".parse().expect("an address"), PortPick::Kept));
    }
}
