//! The standard host every planner plays an orchestrator's client on: a namespace `host`
//! whose `eth0` (192.0.2.10/24 by default) faces a namespace `world` (`up0`, the first
//! other address of that /24), both with `lo` up, the host routing by default via the
//! world. Addresses come from the documentation ranges, so nothing here names a real
//! network.

use std::net::Ipv4Addr;

use crate::addr::{Cidr, IfAddr};

use crate::names::{IfName, NetnsName};
use crate::op::{AddrOpts, LinkChange, Op, RouteSpec};

/// The namespace playing the orchestrator's client.
pub const HOST_NETNS: &str = "host";
/// The namespace playing the rest of the network.
pub const WORLD_NETNS: &str = "world";
/// The host's interface towards the world.
pub const HOST_IFNAME: &str = "eth0";
/// The world's end of that link.
pub const WORLD_IFNAME: &str = "up0";

/// The world's address facing a host at `host_ip`: the first address of the host's /24
/// that is not the host's.
pub fn world_ip(host_ip: Ipv4Addr) -> Ipv4Addr {
    let net = Cidr::containing(host_ip, 24).ip();
    let first = Ipv4Addr::from(u32::from(net) + 1);
    if first == host_ip { Ipv4Addr::from(u32::from(net) + 2) } else { first }
}

/// The ops that build the standard host for a client at `host_ip` (see the module docs).
pub fn standard_host(host_ip: Ipv4Addr) -> Vec<Op> {
    let (host, world) =
        (crate::static_name!(NetnsName, HOST_NETNS), crate::static_name!(NetnsName, WORLD_NETNS));
    let (eth0, up0, lo) = (
        crate::static_name!(IfName, HOST_IFNAME),
        crate::static_name!(IfName, WORLD_IFNAME),
        crate::static_name!(IfName, "lo"),
    );
    let world_ip = world_ip(host_ip);
    let set = |netns: &NetnsName, name: &IfName| Op::LinkSet {
        netns: netns.clone(),
        name: name.clone(),
        change: LinkChange::Up,
    };
    vec![
        Op::NetnsAdd { name: world.clone() },
        Op::NetnsAdd { name: host.clone() },
        set(&world, &lo),
        set(&host, &lo),
        Op::VethAdd {
            netns: host.clone(),
            name: eth0.clone(),
            mac: None,
            peer_netns: world.clone(),
            peer: up0.clone(),
            peer_mac: None,
        },
        Op::AddrAdd {
            netns: host.clone(),
            dev: eth0.clone(),
            addr: IfAddr { ip: host_ip, prefix: 24 },
            opts: AddrOpts::default(),
        },
        Op::AddrAdd {
            netns: world.clone(),
            dev: up0.clone(),
            addr: IfAddr { ip: world_ip, prefix: 24 },
            opts: AddrOpts::default(),
        },
        set(&host, &eth0),
        set(&world, &up0),
        Op::RouteAdd {
            netns: host,
            route: RouteSpec::new(Cidr::DEFAULT, Some(world_ip), Some(eth0)),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_faces_the_host_on_the_first_other_address() {
        assert_eq!(world_ip(Ipv4Addr::new(192, 0, 2, 10)), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(world_ip(Ipv4Addr::new(192, 0, 2, 1)), Ipv4Addr::new(192, 0, 2, 2));
    }
}
