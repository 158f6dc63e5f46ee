//! The nomad suite's cases: a random job (1–3 groups, host or bridge mode, `count` 1–2,
//! 0–3 ports each, static from 7000–7003 or dynamic, with or without `to`) and random
//! client settings (hairpin mode, `bind_wildcard_default_host_network`, a dynamic port
//! range that may be tiny and overlap the static ports, a reserved port, a tiny subnet,
//! the seed), planned by the Nomad planner on the standard host (`nettwin_core::host`,
//! what a `nomad:` scenario section expands to), with a world that serves tcp/80 and
//! udp/53 and, half the time, routes the allocation subnet to the host; the host may
//! have been set up with a FORWARD policy DROP or without br_netfilter's iptables hook. Then, optionally, the client's DEL of some allocations (their namespace still
//! there, or already gone) and a few allocations placed again; then probes: from the world
//! to host ports, between allocations (by address and through host ports, hairpin
//! included), from the host to its own and loopback addresses, from allocations to the
//! world (masquerade) and to the bridge's gateway address, tcp and udp.
//!
//! The planner is pure, so its refusals are not differentials: an allocation the scheduler
//! cannot place (static collision, dynamic exhaustion) is left out, as Nomad leaves it
//! unplaced, and the job goes on. What the backends are compared on is what the planner
//! emits: every op of every ADD (a failed ADD's ops included, its last op the one that
//! fails, as with an exhausted subnet), the tasks' listeners, every DEL, and the probes.
//! The state right before the first DEL is a checkpoint, so ADD's state is compared too.
//!
//! The case is derived from the spec by planning, so shrinking (fewer groups, ports,
//! DELs, probes; smaller indices) always leaves a coherent plan.

use std::net::Ipv4Addr;

use nettwin_cni::seed::Seed;
use nettwin_core::addr::{Cidr, Endpoint, Proto};
use nettwin_core::host::world_ip;
use nettwin_core::ipam::{IpRange, RangeConfig};
use nettwin_core::names::NetnsName;
use nettwin_core::op::{Op, RouteSpec};
use nettwin_core::trace::Probe;
use nettwin_nomad::client_file::{ClientFile, DEFAULT_HOST_IP};
use nettwin_nomad::jobspec::{Group, Network, NetworkMode, PortSpec};
use nettwin_nomad::plan::planner_on_standard_host;
use nettwin_nomad::planner::{DelMode, Pin, Planner, TaskSocket};
use nettwin_nomad::ports::AssignedPort;
use proptest::prelude::*;

use super::{cidr, endpoint, ns};
use crate::harness::Case;

/// The job's name (allocation ids are seeded from it).
pub const JOB: &str = "suite";
/// Static ports come from this small range, so that they collide.
pub const STATIC_PORTS: [u16; 4] = [7000, 7001, 7002, 7003];
/// `to` ports (one in the static range, so a DNAT's target can also be a host port).
pub const TO_PORTS: [u16; 3] = [7000, 8080, 9090];
/// Where the world serves: tcp 80, udp 53.
pub const WORLD_TCP: u16 = 80;
/// Where the world serves udp.
pub const WORLD_UDP: u16 = 53;

/// The client settings a case varies.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// `bridge_network_hairpin_mode`.
    pub hairpin: bool,
    /// `bind_wildcard_default_host_network`.
    pub wildcard: bool,
    /// A tiny dynamic range, 7002–7004, overlapping the static ports (else Nomad's
    /// default, 20000–32000).
    pub tiny_dynamic: bool,
    /// 7001 in `reserved_ports`.
    pub reserve_7001: bool,
    /// A tiny subnet instead of the default /20: 1 a /30 (one allocation address), 2 a
    /// /29 (five), so that ADDs exhaust it and released addresses come back.
    pub tiny_subnet: u8,
    /// The seed of ids, names and dynamic ports.
    pub seed: u64,
    /// The world routes the allocation subnet to the host (an upstream router that knows
    /// the client's bridge network), so it can reach allocations by address.
    pub world_route: bool,
    /// How the host was set up before Nomad: 0 as the standard host is; 1 the filter
    /// FORWARD policy DROP (as Docker leaves it); 2 `bridge-nf-call-iptables` off (no
    /// br_netfilter).
    pub host_setup: u8,
}

/// One port block of a group.
#[derive(Clone, Debug)]
pub struct PortGen {
    /// `static`, an index into [`STATIC_PORTS`]; dynamic when `None`.
    pub static_port: Option<usize>,
    /// `to`, an index into [`TO_PORTS`].
    pub to: Option<usize>,
}

/// One group of the job.
#[derive(Clone, Debug)]
pub struct GroupSpec {
    /// Bridge mode (else host mode).
    pub bridge: bool,
    /// `count`.
    pub count: u32,
    /// The port blocks (a static port given twice in a group, which Nomad's validation
    /// refuses, is left out).
    pub ports: Vec<PortGen>,
    /// The tasks also serve udp on their ports.
    pub udp: bool,
}

/// One probe, by kind, resolved against what was planned (indices wrap around).
#[derive(Clone, Debug)]
pub struct ProbeSpec {
    /// What kind of flow (see `resolve_probe`).
    pub kind: u8,
    /// Picks the sending allocation.
    pub a: usize,
    /// Picks the target (allocation or host port).
    pub b: usize,
    /// Picks the target's port.
    pub c: usize,
    /// The protocol.
    pub proto: Proto,
}

/// A whole case, before planning.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The client.
    pub client: ClientSpec,
    /// The job's groups.
    pub groups: Vec<GroupSpec>,
    /// DELs after the job is up: an allocation (index into those set up, wrapping) and
    /// whether its namespace is already gone.
    pub dels: Vec<(usize, bool)>,
    /// Groups placed again after the DELs (index into the groups, wrapping).
    pub again: Vec<usize>,
    /// The probes.
    pub probes: Vec<ProbeSpec>,
}

fn client_spec() -> impl Strategy<Value = ClientSpec> {
    (any::<bool>(), prop::bool::weighted(0.8), any::<bool>(), prop::bool::weighted(0.2))
        .prop_flat_map(|(hairpin, wildcard, tiny_dynamic, reserve_7001)| {
            (
                prop::sample::select(vec![0u8, 0, 0, 0, 0, 0, 1, 2]),
                0u64..4,
                any::<bool>(),
                prop::sample::select(vec![0u8, 0, 0, 0, 1, 2]),
            )
                .prop_map(move |(tiny_subnet, seed, world_route, host_setup)| {
                    ClientSpec {
                        hairpin,
                        wildcard,
                        tiny_dynamic,
                        reserve_7001,
                        tiny_subnet,
                        seed,
                        world_route,
                        host_setup,
                    }
                })
        })
}

fn port_gen() -> impl Strategy<Value = PortGen> {
    (
        prop::option::weighted(0.6, 0..STATIC_PORTS.len()),
        prop::option::weighted(0.5, 0..TO_PORTS.len()),
    )
        .prop_map(|(static_port, to)| PortGen { static_port, to })
}

fn group_spec() -> impl Strategy<Value = GroupSpec> {
    (
        prop::bool::weighted(0.7),
        prop::sample::select(vec![1u32, 1, 2]),
        prop::collection::vec(port_gen(), 0..4),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(bridge, count, ports, udp)| GroupSpec { bridge, count, ports, udp })
}

fn probe_spec() -> impl Strategy<Value = ProbeSpec> {
    (
        0u8..12,
        0usize..8,
        0usize..8,
        0usize..4,
        prop::sample::select(vec![
            Proto::Tcp,
            Proto::Tcp,
            Proto::Tcp,
            Proto::Udp,
            Proto::Udp,
            Proto::Icmp,
        ]),
    )
        .prop_map(|(kind, a, b, c, proto)| ProbeSpec { kind, a, b, c, proto })
}

/// An allocation that was set up (or whose ADD failed half-way), as the probes see it.
#[derive(Clone, Debug)]
struct Planned {
    /// Its id.
    id: String,
    /// Its namespace (bridge mode).
    netns: Option<NetnsName>,
    /// `eth0`'s address (bridge mode, ADD succeeded).
    ip: Option<Ipv4Addr>,
    /// Its host ports.
    ports: Vec<AssignedPort>,
    /// Its tasks' udp sockets (in the host or its namespace).
    udp: Vec<(NetnsName, Endpoint)>,
    /// Whether the planner knows it (its ADD succeeded and no DEL ran).
    live: bool,
    /// Whether a DEL ran (its namespace is gone).
    deleted: bool,
}

/// The client settings of a spec.
pub fn client_file(c: &ClientSpec) -> ClientFile {
    let mut f = ClientFile::default();
    let cfg = &mut f.config;
    cfg.hairpin_mode = c.hairpin;
    cfg.bind_wildcard_default_host_network = c.wildcard;
    if c.tiny_dynamic {
        cfg.min_dynamic_port = 7002;
        cfg.max_dynamic_port = 7004;
    }
    match c.tiny_subnet {
        0 => {}
        1 => cfg.subnet = cidr("10.88.0.0/30"),
        _ => cfg.subnet = cidr("10.88.0.0/29"),
    }
    if c.reserve_7001 {
        f.reserved_ports = vec![7001];
    }
    f
}

/// An op known to parse.
fn parse_op(text: &str) -> Op {
    text.parse().unwrap_or_else(|e| unreachable!("{text}: {e}"))
}

/// The group a spec stands for (named `gN`).
fn group(i: usize, g: &GroupSpec) -> Group {
    let mut ports: Vec<PortSpec> = Vec::new();
    for (k, p) in g.ports.iter().enumerate() {
        let static_port = p.static_port.map(|s| STATIC_PORTS[s]);
        if static_port.is_some() && ports.iter().any(|q| q.static_port == static_port) {
            continue;
        }
        ports.push(PortSpec {
            label: format!("p{}", k + 1),
            static_port,
            to: p.to.map(|t| TO_PORTS[t]),
        });
    }
    let mode = if g.bridge { NetworkMode::Bridge } else { NetworkMode::Host };
    Group { name: format!("g{}", i + 1), count: g.count, network: Network { mode, ports } }
}

/// Places, sets up and starts allocation `index` of `group`, appending the ops; an
/// allocation the scheduler cannot place is left out.
fn place(
    planner: &mut Planner,
    group: &Group,
    index: u32,
    udp: bool,
    steps: &mut Vec<Op>,
    allocs: &mut Vec<Planned>,
) {
    let netns = ns(&format!("a{}", allocs.len() + 1));
    let pin = Pin { netns: Some(netns.clone()), ..Pin::default() };
    let Ok(placement) = planner.schedule_pinned(JOB, group, index, &pin) else { return };
    let id = placement.alloc_id.clone();
    let ports = placement.ports.clone();
    let bridge = placement.mode == NetworkMode::Bridge;
    let mut planned = Planned {
        id: id.clone(),
        netns: bridge.then_some(netns),
        ip: None,
        ports,
        udp: Vec::new(),
        live: false,
        deleted: false,
    };
    match planner.add(placement) {
        Ok((alloc, ops)) => {
            steps.extend(ops);
            planned.ip = alloc.addr.map(|a| a.ip);
            let Ok(tasks) = planner.start_tasks(&id) else { unreachable!("{id} was just set up") };
            steps.extend(tasks);
            planned.live = true;
            if udp {
                let sockets: Vec<TaskSocket> =
                    planner.allocs().get(&id).map(|a| a.sockets.clone()).unwrap_or_default();
                let host = planner.host().clone();
                for s in sockets {
                    let at_ns = planned.netns.clone().unwrap_or_else(|| host.clone());
                    steps.push(Op::Listen { netns: at_ns.clone(), proto: Proto::Udp, at: s.at });
                    planned.udp.push((at_ns, s.at));
                }
            }
        }
        Err(failure) => steps.extend(failure.ops),
    }
    allocs.push(planned);
}

/// What the probes aim at, after planning.
struct Targets {
    host_ip: Ipv4Addr,
    world_ip: Ipv4Addr,
    gateway: Ipv4Addr,
    /// Namespaces of bridge-mode allocations that were not deleted.
    senders: Vec<NetnsName>,
    /// Addresses of bridge-mode allocations and their `to` ports.
    addrs: Vec<(Ipv4Addr, Vec<u16>)>,
    /// The host ports of each sender.
    own_ports: Vec<Vec<u16>>,
    /// Every host port ever assigned, and the static range.
    host_ports: Vec<u16>,
    /// Every `to` port ever assigned, and [`TO_PORTS`].
    to_ports: Vec<u16>,
}

fn pick<T: Copy>(v: &[T], i: usize, fallback: T) -> T {
    if v.is_empty() { fallback } else { v[i % v.len()] }
}

/// The probe a spec stands for. Kinds: 0 world → host port; 1 allocation → allocation by
/// address; 2 allocation → host port (hairpin when its own); 3 host → 127.0.0.1:host port;
/// 4 host → its own address:host port; 5 allocation → the world (masquerade); 6 host →
/// allocation by address; 7 allocation → the gateway address:host port; 8 world → host
/// at a container port; 9 allocation → the host's address at one of its own host ports
/// (hairpin); 10 the same through the gateway address; 11 world → allocation by address
/// (routed there when the world has the route).
fn resolve_probe(p: &ProbeSpec, t: &Targets) -> Probe {
    let world = ns("world");
    let sender_index = p.a % t.senders.len().max(1);
    let host = ns("host");
    let sender = t.senders.get(sender_index).cloned().unwrap_or(host.clone());
    let host_port = pick(&t.host_ports, p.b, STATIC_PORTS[0]);
    let own_port = pick(t.own_ports.get(sender_index).map_or(&[][..], |v| v), p.b, host_port);
    let (alloc_ip, alloc_ports) =
        t.addrs.get(p.b % t.addrs.len().max(1)).cloned().unwrap_or((t.gateway, TO_PORTS.to_vec()));
    let alloc_port = pick(&alloc_ports, p.c, pick(&t.to_ports, p.c, TO_PORTS[0]));
    let world_port = match (p.proto, p.c) {
        (_, 3) => WORLD_TCP + 1,
        (Proto::Udp, _) => WORLD_UDP,
        _ => WORLD_TCP,
    };
    let (from, dst) = match p.kind {
        0 => (world, Endpoint::new(t.host_ip, host_port)),
        1 => (sender, Endpoint::new(alloc_ip, alloc_port)),
        2 => (sender, Endpoint::new(t.host_ip, host_port)),
        3 => (host, Endpoint::new(Ipv4Addr::LOCALHOST, host_port)),
        4 => (host, Endpoint::new(t.host_ip, host_port)),
        5 => (sender, Endpoint::new(t.world_ip, world_port)),
        6 => (host, Endpoint::new(alloc_ip, alloc_port)),
        7 => (sender, Endpoint::new(t.gateway, host_port)),
        9 => (sender, Endpoint::new(t.host_ip, own_port)),
        10 => (sender, Endpoint::new(t.gateway, own_port)),
        11 => (world, Endpoint::new(alloc_ip, alloc_port)),
        _ => (world, Endpoint::new(t.host_ip, pick(&t.to_ports, p.c, TO_PORTS[0]))),
    };
    Probe {
        name: String::new(),
        from,
        src: None,
        sport: None,
        dst: endpoint(dst.ip, dst.port, p.proto),
        proto: p.proto,
    }
}

/// Builds a case: the standard host and the world's servers, the job's allocations, the
/// DELs (state checkpoint before them) and the allocations placed again, the probes.
pub fn build(spec: &Spec) -> Case {
    let client = client_file(&spec.client);
    let (host_ops, mut planner) = planner_on_standard_host(&client, Seed(spec.client.seed))
        .unwrap_or_else(|e| unreachable!("the standard host: {e}"));
    let host_ip = client.config.host_ip;
    let world = ns("world");
    let mut steps = host_ops;
    for (proto, port) in [(Proto::Tcp, WORLD_TCP), (Proto::Udp, WORLD_UDP)] {
        steps.push(Op::Listen {
            netns: world.clone(),
            proto,
            at: Endpoint::new(Ipv4Addr::UNSPECIFIED, port),
        });
    }
    if spec.client.world_route {
        steps.push(Op::RouteAdd {
            netns: world.clone(),
            route: RouteSpec::new(client.config.subnet, Some(host_ip), None),
        });
    }
    match spec.client.host_setup {
        0 => {}
        1 => steps.push(parse_op("ip netns exec host iptables -P FORWARD DROP")),
        _ => steps
            .push(parse_op("ip netns exec host sysctl -w net.bridge.bridge-nf-call-iptables=0")),
    }
    let groups: Vec<Group> = spec.groups.iter().enumerate().map(|(i, g)| group(i, g)).collect();
    let mut allocs: Vec<Planned> = Vec::new();
    for (g, gs) in groups.iter().zip(&spec.groups) {
        for index in 0..g.count {
            place(&mut planner, g, index, gs.udp, &mut steps, &mut allocs);
        }
    }
    let mut checkpoints = Vec::new();
    let live: Vec<usize> = (0..allocs.len()).filter(|i| allocs[*i].live).collect();
    let mut deleted = Vec::new();
    for &(k, gone) in &spec.dels {
        let Some(&i) = live.get(k % live.len().max(1)) else { break };
        if deleted.contains(&i) {
            continue;
        }
        if checkpoints.is_empty() {
            checkpoints.push(steps.len());
        }
        deleted.push(i);
        let a = &mut allocs[i];
        let mode = if gone { DelMode::NetnsAlreadyGone } else { DelMode::Normal };
        // The tasks stop: their udp sockets close with the tcp ones (a namespace that is
        // gone took them along).
        if !(gone && a.netns.is_some()) {
            for (at_ns, at) in a.udp.drain(..) {
                steps.push(Op::Close { netns: at_ns, proto: Proto::Udp, at });
            }
        }
        match planner.del(&a.id, mode) {
            Ok(ops) => steps.extend(ops),
            Err(e) => unreachable!("DEL of {}: {e}", a.id),
        }
        a.live = false;
        a.deleted = true;
    }
    for (n, &g) in spec.again.iter().enumerate() {
        if groups.is_empty() {
            break;
        }
        let gi = g % groups.len();
        let index = groups[gi].count + u32::try_from(n).unwrap_or(0);
        place(&mut planner, &groups[gi], index, spec.groups[gi].udp, &mut steps, &mut allocs);
    }
    let subnet: Cidr = client.config.subnet;
    let gateway = IpRange::new(&RangeConfig::subnet(subnet))
        .map(|r| r.gateway())
        .unwrap_or_else(|e| unreachable!("{subnet}: {e}"));
    let mut host_ports: Vec<u16> = STATIC_PORTS.to_vec();
    let mut to_ports: Vec<u16> = TO_PORTS.to_vec();
    for a in &allocs {
        host_ports.extend(a.ports.iter().map(|p| p.value));
        to_ports.extend(a.ports.iter().map(|p| p.to));
    }
    host_ports.sort_unstable();
    host_ports.dedup();
    to_ports.sort_unstable();
    to_ports.dedup();
    let targets = Targets {
        host_ip,
        world_ip: world_ip(host_ip),
        gateway,
        senders: allocs.iter().filter(|a| !a.deleted).filter_map(|a| a.netns.clone()).collect(),
        own_ports: allocs
            .iter()
            .filter(|a| a.netns.is_some() && !a.deleted)
            .map(|a| a.ports.iter().map(|p| p.value).collect())
            .collect(),
        addrs: allocs
            .iter()
            .filter_map(|a| a.ip.map(|ip| (ip, a.ports.iter().map(|p| p.to).collect())))
            .collect(),
        host_ports,
        to_ports,
    };
    let probes = spec.probes.iter().map(|p| resolve_probe(p, &targets)).collect();
    debug_assert_eq!(host_ip, DEFAULT_HOST_IP);
    Case { steps, probes, checkpoints }
}

/// The nomad suite's cases: 1–3 groups, up to 3 DELs and 2 allocations placed again
/// (each half the time), 1–6 probes.
pub fn cases() -> impl Strategy<Value = Case> {
    (
        client_spec(),
        prop::collection::vec(group_spec(), 1..4),
        prop::option::of(prop::collection::vec((0usize..6, prop::bool::weighted(0.3)), 1..4)),
        prop::option::weighted(0.4, prop::collection::vec(0usize..3, 1..3)),
        prop::collection::vec(probe_spec(), 1..7),
    )
        .prop_map(|(client, groups, dels, again, probes)| {
            let dels = dels.unwrap_or_default();
            let again = if dels.is_empty() { Vec::new() } else { again.unwrap_or_default() };
            build(&Spec { client, groups, dels, again, probes })
        })
}
