//! The firewall suite's cases: a fixed Nomad-like host (a world router, the host with its
//! uplink and the `nomad` bridge, two allocations on the bridge, listeners everywhere),
//! then random filter and nat commands (mostly in the host, some in an allocation or the
//! world), a few random sysctl and hairpin changes, and random probes between all of them.

use nettwin_core::addr::Proto;
use nettwin_core::op::Op;
use nettwin_core::trace::Probe;
use proptest::prelude::*;

use super::{endpoint, ip, ns, proto, rules};
use crate::harness::Case;

/// The namespaces of the host.
pub const NAMESPACES: [&str; 4] = ["host", "world", "a1", "a2"];

/// The fixed host: every step must succeed on both backends.
pub const TOPOLOGY: &[&str] = &[
    "ip netns add world",
    "ip netns add host",
    "ip netns add a1",
    "ip netns add a2",
    "ip -n world link set lo up",
    "ip -n host link set lo up",
    "ip -n a1 link set lo up",
    "ip -n a2 link set lo up",
    "ip -n host link add eth0 type veth peer name up0 netns world",
    "ip -n world addr add 192.0.2.1/24 dev up0",
    "ip -n world link set up0 up",
    "ip -n host addr add 192.0.2.10/24 dev eth0",
    "ip -n host link set eth0 up",
    "ip -n host route add default via 192.0.2.1",
    "ip -n host link add nomad type bridge",
    "ip -n host addr add 172.26.64.1/20 dev nomad",
    "ip -n host link set nomad up",
    "ip netns exec host sysctl -w net.ipv4.ip_forward=1",
    "ip -n host link add vetha1 type veth peer name eth0 netns a1",
    "ip -n host link set vetha1 master nomad",
    "ip -n host link set vetha1 up",
    "ip -n a1 addr add 172.26.64.2/20 dev eth0",
    "ip -n a1 link set eth0 up",
    "ip -n a1 route add default via 172.26.64.1",
    "ip -n host link add vetha2 type veth peer name eth0 netns a2",
    "ip -n host link set vetha2 master nomad",
    "ip -n host link set vetha2 up",
    "ip -n a2 addr add 172.26.64.3/20 dev eth0",
    "ip -n a2 link set eth0 up",
    "ip -n a2 route add default via 172.26.64.1",
    "ip netns exec world listen tcp 0.0.0.0:80",
    "ip netns exec world listen udp 0.0.0.0:53",
    "ip netns exec host listen tcp 0.0.0.0:22",
    "ip netns exec host listen udp 0.0.0.0:53",
    "ip netns exec a1 listen tcp 0.0.0.0:80",
    "ip netns exec a1 listen udp 0.0.0.0:53",
    "ip netns exec a2 listen tcp 0.0.0.0:8080",
    "ip netns exec a2 listen tcp 0.0.0.0:80",
    "ip netns exec host iptables -N X",
    "ip netns exec host iptables -N Y",
    "ip netns exec host iptables -t nat -N X",
    "ip netns exec host iptables -t nat -N Y",
    "ip netns exec host iptables -t mangle -N X",
    "ip netns exec host iptables -t mangle -N Y",
    "ip netns exec host iptables -t raw -N X",
    "ip netns exec host iptables -t raw -N Y",
];

/// Probe destinations: every address of the host, and loopback.
const DESTINATIONS: [&str; 6] =
    ["192.0.2.10", "192.0.2.1", "172.26.64.1", "172.26.64.2", "172.26.64.3", "127.0.0.1"];
/// Probe ports: the listeners', and one nobody listens on.
const PORTS: [u16; 5] = [22, 53, 80, 8080, 7000];

/// One random change on top of the fixed host.
#[derive(Clone, Debug)]
pub enum Spec {
    /// An iptables command (the text after `iptables`) in a namespace.
    Iptables(usize, String),
    /// A sysctl of the host: ip_forward, bridge-nf-call-iptables or nomad's
    /// route_localnet, to a value.
    Sysctl(usize, bool),
    /// Hairpin of an allocation's bridge port.
    Hairpin(usize, bool),
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        24 => (prop_oneof![8 => Just(0usize), 1 => 1usize..4], rules::command())
            .prop_map(|(n, c)| Spec::Iptables(n, c)),
        2 => (0usize..3, any::<bool>()).prop_map(|(k, v)| Spec::Sysctl(k, v)),
        1 => (0usize..2, any::<bool>()).prop_map(|(p, on)| Spec::Hairpin(p, on)),
    ]
}

fn op(text: &str) -> Option<Op> {
    text.parse().ok()
}

fn spec_text(s: &Spec) -> String {
    match s {
        Spec::Iptables(n, cmd) => format!("ip netns exec {} iptables {cmd}", NAMESPACES[*n]),
        Spec::Sysctl(k, v) => {
            let key = match k {
                0 => "net.ipv4.ip_forward",
                1 => "net.bridge.bridge-nf-call-iptables",
                _ => "net.ipv4.conf.nomad.route_localnet",
            };
            format!("ip netns exec host sysctl -w {key}={}", u8::from(*v))
        }
        Spec::Hairpin(p, on) => format!(
            "ip -n host link set vetha{} type bridge_slave hairpin {}",
            p + 1,
            if *on { "on" } else { "off" }
        ),
    }
}

/// The fixed host's ops.
pub fn topology() -> Vec<Op> {
    TOPOLOGY.iter().map(|t| op(t).unwrap_or_else(|| unreachable!("{t} parses"))).collect()
}

/// Builds a case: the fixed host, the specs (those whose text the parser refuses are left
/// out: they are not ops), the probes.
pub fn build(specs: &[Spec], probes: &[(usize, usize, Proto, usize)]) -> Case {
    let mut steps = topology();
    steps.extend(specs.iter().filter_map(|s| op(&spec_text(s))));
    let probes = probes
        .iter()
        .map(|(from, to, proto, port)| Probe {
            name: String::new(),
            from: ns(NAMESPACES[*from]),
            src: None,
            sport: None,
            dst: endpoint(ip(DESTINATIONS[*to]), PORTS[*port], *proto),
            proto: *proto,
        })
        .collect();
    Case { steps, probes, checkpoints: Vec::new() }
}

/// The firewall suite's cases: 1–12 random changes, 1–4 probes.
pub fn cases() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(spec(), 1..12),
        prop::collection::vec(
            (0..NAMESPACES.len(), 0..DESTINATIONS.len(), proto(), 0..PORTS.len()),
            1..5,
        ),
    )
        .prop_map(|(specs, probes)| build(&specs, &probes))
}
