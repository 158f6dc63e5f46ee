//! The seed's host, built from ops: a `world` namespace (192.0.2.1 on `up0`) facing a
//! `host` (192.0.2.10 on `eth0`) over a veth; on the host a `nomad` bridge 172.26.64.1/20
//! and allocations, each in its own namespace behind a `veth` + 8 hex port, with the rules
//! Nomad's CNI chain (bridge ipMasq, firewall, portmap) creates. Written by hand after the
//! rules captured from the real plugins; the planner will later generate the same.
//!
//! Shared by the probe tables and the benchmark (`#[path]`-included there).

#![allow(dead_code)]

use nettwin_core::op::{Op, text::parse_op};

/// One allocation: its host number in 172.26.64.0/20, namespace, and port mappings
/// `host → container`, each for tcp and udp.
pub struct Alloc {
    /// The host number: 5 is 172.26.64.5, 256 is 172.26.65.0.
    pub index: u32,
    /// The namespace.
    pub netns: String,
    /// `(host port, container port)`.
    pub ports: Vec<(u16, u16)>,
}

impl Alloc {
    /// The allocation's address.
    pub fn ip(&self) -> String {
        let n = self.index;
        format!("172.26.{}.{}", 64 + n / 256, n % 256)
    }

    /// The allocation id (a UUID-shaped string).
    pub fn id(&self) -> String {
        format!("aaaaaaaa-1111-2222-3333-{:012x}", 0x4444_4444_4444u64 + u64::from(self.index))
    }

    /// A 64-bit hex digest standing in for CNI's sha512 of network name and id.
    fn hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in format!("nomad{}", self.id()).bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}{:016x}", h.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The host side of the veth: `veth` + 8 hex.
    pub fn veth(&self) -> String {
        format!("veth{}", &self.hash()[..8])
    }

    /// The masquerade chain, `CNI-` + 24 hex.
    pub fn masq_chain(&self) -> String {
        format!("CNI-{}", &self.hash()[..24])
    }

    /// The port-mapping chain, `CNI-DN-` + 21 hex.
    pub fn dn_chain(&self) -> String {
        format!("CNI-DN-{}", &self.hash()[..21])
    }
}

/// The host, the world, the bridge and the shared chains.
pub fn base_ops() -> Vec<String> {
    let mut v: Vec<String> = [
        "ip netns add world",
        "ip netns add host",
        "ip -n world link set lo up",
        "ip -n host link set lo up",
        "ip -n host link add eth0 type veth peer name up0 netns world",
        "ip -n host addr add 192.0.2.10/24 dev eth0",
        "ip -n host link set eth0 up",
        "ip -n world addr add 192.0.2.1/24 dev up0",
        "ip -n world link set up0 up",
        "ip netns exec world listen tcp 0.0.0.0:9000",
        "ip netns exec world listen udp 0.0.0.0:9000",
        "ip -n host link add nomad type bridge",
        "ip -n host link set nomad up",
        "ip -n host addr add 172.26.64.1/20 dev nomad",
        "ip netns exec host sysctl -w net.ipv4.ip_forward=1",
        "ip netns exec host sysctl -w net.ipv4.conf.nomad.route_localnet=1",
        "ip netns exec host iptables -N CNI-FORWARD",
        "ip netns exec host iptables -N NOMAD-ADMIN",
        "ip netns exec host iptables -A NOMAD-ADMIN -d 172.26.64.0/20 -o nomad -j ACCEPT",
        r#"ip netns exec host iptables -A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD"#,
        r#"ip netns exec host iptables -A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j NOMAD-ADMIN"#,
        "ip netns exec host iptables -t nat -N CNI-HOSTPORT-DNAT",
        "ip netns exec host iptables -t nat -N CNI-HOSTPORT-MASQ",
        "ip netns exec host iptables -t nat -N CNI-HOSTPORT-SETMARK",
        r#"ip netns exec host iptables -t nat -A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000"#,
        "ip netns exec host iptables -t nat -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE",
        "ip netns exec host iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
        "ip netns exec host iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
        r#"ip netns exec host iptables -t nat -A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ"#,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    v.shrink_to_fit();
    v
}

/// What CNI ADD does for one allocation, and its listeners.
pub fn alloc_ops(a: &Alloc) -> Vec<String> {
    let (ns, ip, veth, id) = (&a.netns, a.ip(), a.veth(), a.id());
    let (masq, dn) = (a.masq_chain(), a.dn_chain());
    let comment = format!(r#"-m comment --comment "name: \"nomad\" id: \"{id}\"""#);
    let host = "ip netns exec host iptables";
    let mut v = vec![
        format!("ip netns add {ns}"),
        format!("ip -n {ns} link set lo up"),
        format!("ip -n host link add {veth} type veth peer name eth0 netns {ns}"),
        format!("ip -n host link set {veth} master nomad"),
        format!("ip -n host link set {veth} up"),
        format!("ip -n {ns} link set eth0 up"),
        format!("ip -n {ns} addr add {ip}/20 dev eth0"),
        format!("ip -n {ns} route add default via 172.26.64.1"),
        format!(
            "{host} -A CNI-FORWARD -d {ip}/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        ),
        format!("{host} -A CNI-FORWARD -s {ip}/32 -j ACCEPT"),
        format!("{host} -t nat -N {masq}"),
        format!("{host} -t nat -A {masq} -d 172.26.64.0/20 {comment} -j ACCEPT"),
        format!("{host} -t nat -A {masq} ! -d 224.0.0.0/4 {comment} -j MASQUERADE"),
        format!("{host} -t nat -A POSTROUTING -s {ip}/32 {comment} -j {masq}"),
        format!("{host} -t nat -N {dn}"),
    ];
    for proto in ["tcp", "udp"] {
        for (hp, cp) in &a.ports {
            let m = format!("-p {proto} -m {proto} --dport {hp}");
            v.push(format!("{host} -t nat -A {dn} -s 172.26.64.0/20 {m} -j CNI-HOSTPORT-SETMARK"));
            v.push(format!("{host} -t nat -A {dn} -s 127.0.0.1/32 {m} -j CNI-HOSTPORT-SETMARK"));
            v.push(format!("{host} -t nat -A {dn} {m} -j DNAT --to-destination {ip}:{cp}"));
        }
    }
    let dports: Vec<String> = a.ports.iter().map(|(hp, _)| hp.to_string()).collect();
    for proto in ["tcp", "udp"] {
        v.push(format!(
            r#"{host} -t nat -A CNI-HOSTPORT-DNAT -p {proto} -m comment --comment "dnat name: \"nomad\" id: \"{id}\"" -m multiport --dports {} -j {dn}"#,
            dports.join(",")
        ));
    }
    for (_, cp) in &a.ports {
        v.push(format!("ip netns exec {ns} listen tcp 0.0.0.0:{cp}"));
    }
    v
}

/// The two allocations of the seed: a5 (172.26.64.5: 8080→80, 25000→6379) and a6
/// (172.26.64.6: 8081→80, 25001→6379), tcp and udp each.
pub fn seed_allocs() -> Vec<Alloc> {
    vec![
        Alloc { index: 5, netns: "a5".into(), ports: vec![(8080, 80), (25000, 6379)] },
        Alloc { index: 6, netns: "a6".into(), ports: vec![(8081, 80), (25001, 6379)] },
    ]
}

/// `n` (at most 4093) allocations like the seed's at 172.26.64.2 onwards, with host ports
/// 20000 + 2i and 20000 + 2i + 1.
pub fn many_allocs(n: u32) -> Vec<Alloc> {
    (0..n)
        .map(|i| {
            let hp = u16::try_from(20000 + 2 * i).unwrap_or(u16::MAX);
            let ports = vec![(hp, 80), (hp + 1, 6379)];
            Alloc { index: i + 2, netns: format!("a{}", i + 2), ports }
        })
        .collect()
}

/// Parses op text, panicking with the text on error (test input).
pub fn op(text: &str) -> Op {
    parse_op(text).unwrap_or_else(|e| panic!("fixture op {text:?} does not parse: {e}"))
}

/// Every op of a host with these allocations.
pub fn host_ops(allocs: &[Alloc]) -> Vec<Op> {
    let mut text = base_ops();
    for a in allocs {
        text.extend(alloc_ops(a));
    }
    text.iter().map(|t| op(t)).collect()
}
