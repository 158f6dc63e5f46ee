//! The per-op case table: for each op, a scene (setup ops), the op, and the answer the
//! kernel gives (success, or the kind of its refusal). It exists once and is run against
//! every backend: on the model by this crate's tests, on the kernel by the linux
//! backend's, so that the two can never drift apart. A refused op must change nothing.
//!
//! Pure data: op text, as `ip`/`iptables` commands.

use crate::error::ErrorKind;

mod addrs;
mod routing;

/// A host namespace with the Nomad bridge, one allocation namespace `a1` behind a veth,
/// and a `world` namespace reaching the host over `eth0` (documentation addresses).
pub const HOST: &[&str] = &[
    "ip netns add host",
    "ip netns add a1",
    "ip netns add world",
    "ip -n host link set lo up",
    "ip -n host link add nomad type bridge",
    "ip -n host link set nomad up",
    "ip -n host addr add 172.26.64.1/20 dev nomad",
    "ip -n host link add veth1 type veth peer name eth0 netns a1",
    "ip -n host link set veth1 master nomad",
    "ip -n host link set veth1 up",
    "ip -n a1 link set lo up",
    "ip -n a1 link set eth0 up",
    "ip -n a1 addr add 172.26.64.2/20 dev eth0",
    "ip -n a1 route add default via 172.26.64.1",
    "ip -n host link add eth0 type veth peer name up0 netns world",
    "ip -n host link set eth0 up",
    "ip -n host addr add 192.0.2.10/24 dev eth0",
    "ip -n world link set up0 up",
    "ip -n world addr add 192.0.2.1/24 dev up0",
    "ip netns exec host sysctl -w net.ipv4.ip_forward=1",
];

/// One op and the kernel's answer to it after a scene.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpCase {
    /// What the case shows, as a test name.
    pub name: &'static str,
    /// The ops that set the scene (all succeed).
    pub setup: Vec<&'static str>,
    /// The op under test.
    pub op: &'static str,
    /// `None` when the op succeeds, else the kind of the kernel's refusal.
    pub refused: Option<ErrorKind>,
}

fn case(
    name: &'static str,
    setup: Vec<&'static str>,
    op: &'static str,
    refused: Option<ErrorKind>,
) -> OpCase {
    OpCase { name, setup, op, refused }
}

/// Every case: links, addresses, sysctls and sockets (refusals first), then routing.
pub fn op_cases() -> Vec<OpCase> {
    let mut all = base_cases();
    all.extend(routing::cases());
    all.extend(addrs::cases());
    all
}

fn base_cases() -> Vec<OpCase> {
    vec![
        case(
            "netns_add_twice",
            vec!["ip netns add x"],
            "ip netns add x",
            Some(ErrorKind::AlreadyExists),
        ),
        case("netns_del_missing", Vec::new(), "ip netns del x", Some(ErrorKind::NotFound)),
        case(
            "bridge_in_missing_netns",
            Vec::new(),
            "ip -n x link add br0 type bridge",
            Some(ErrorKind::NotFound),
        ),
        case(
            "bridge_name_taken",
            HOST.to_vec(),
            "ip -n host link add veth1 type bridge",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "veth_name_taken",
            HOST.to_vec(),
            "ip -n host link add nomad type veth peer name p",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "veth_peer_name_taken",
            HOST.to_vec(),
            "ip -n host link add v9 type veth peer name eth0 netns a1",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "veth_same_names",
            HOST.to_vec(),
            "ip -n host link add v9 type veth peer name v9",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "veth_peer_netns_missing",
            HOST.to_vec(),
            "ip -n host link add v9 type veth peer name p netns nope",
            Some(ErrorKind::NotFound),
        ),
        case(
            "link_del_missing",
            HOST.to_vec(),
            "ip -n host link del nope",
            Some(ErrorKind::NotFound),
        ),
        case("link_del_lo", HOST.to_vec(), "ip -n host link del lo", Some(ErrorKind::NotSupported)),
        case(
            "link_up_missing",
            HOST.to_vec(),
            "ip -n host link set nope up",
            Some(ErrorKind::NotFound),
        ),
        case(
            "master_missing",
            HOST.to_vec(),
            "ip -n a1 link set eth0 master nope",
            Some(ErrorKind::NotFound),
        ),
        case(
            "master_not_bridge",
            HOST.to_vec(),
            "ip -n host link set lo master veth1",
            Some(ErrorKind::NotSupported),
        ),
        case(
            "bridge_into_bridge",
            HOST.to_vec(),
            "ip -n host link set nomad master nomad",
            Some(ErrorKind::Loop),
        ),
        case(
            "lo_into_bridge",
            HOST.to_vec(),
            "ip -n host link set lo master nomad",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "mtu_too_small",
            HOST.to_vec(),
            "ip -n host link set veth1 mtu 67",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "mtu_too_big",
            HOST.to_vec(),
            "ip -n host link set veth1 mtu 65536",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "hairpin_not_port",
            HOST.to_vec(),
            "ip -n a1 link set eth0 type bridge_slave hairpin on",
            Some(ErrorKind::NotSupported),
        ),
        case(
            "move_to_missing_netns",
            HOST.to_vec(),
            "ip -n host link set veth1 netns nope",
            Some(ErrorKind::NotFound),
        ),
        case(
            "move_bridge",
            HOST.to_vec(),
            "ip -n host link set nomad netns a1",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "move_lo",
            HOST.to_vec(),
            "ip -n host link set lo netns a1",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "move_name_clash",
            vec![
                "ip netns add a",
                "ip netns add b",
                "ip -n a link add x type veth peer name y",
                "ip -n b link add x type veth peer name z",
            ],
            "ip -n a link set x netns b",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "addr_twice",
            HOST.to_vec(),
            "ip -n host addr add 172.26.64.1/20 dev nomad",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "addr_missing_dev",
            HOST.to_vec(),
            "ip -n host addr add 10.0.0.1/8 dev nope",
            Some(ErrorKind::NotFound),
        ),
        case(
            "addr_del_absent",
            HOST.to_vec(),
            "ip -n host addr del 10.0.0.1/8 dev nomad",
            Some(ErrorKind::NotFound),
        ),
        case(
            "addr_del_wrong_prefix",
            HOST.to_vec(),
            "ip -n host addr del 172.26.64.1/24 dev nomad",
            Some(ErrorKind::NotFound),
        ),
        case(
            "route_twice",
            HOST.to_vec(),
            "ip -n a1 route add default via 172.26.64.1",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "route_over_connected",
            HOST.to_vec(),
            "ip -n a1 route add 172.26.64.0/20 dev eth0",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "route_gateway_unreachable",
            HOST.to_vec(),
            "ip -n a1 route add 10.0.0.0/8 via 10.9.9.9",
            Some(ErrorKind::Unreachable),
        ),
        case(
            "route_gateway_wrong_dev",
            HOST.to_vec(),
            "ip -n a1 route add 10.0.0.0/8 via 172.26.64.1 dev lo",
            Some(ErrorKind::Unreachable),
        ),
        case(
            "route_missing_dev",
            HOST.to_vec(),
            "ip -n a1 route add 10.0.0.0/8 dev nope",
            Some(ErrorKind::NotFound),
        ),
        case(
            "route_dev_down",
            vec!["ip netns add n", "ip -n n link add v type veth peer name w"],
            "ip -n n route add 10.0.0.0/8 dev v",
            Some(ErrorKind::LinkDown),
        ),
        case(
            "route_bad_src",
            HOST.to_vec(),
            "ip -n a1 route add 10.0.0.0/8 dev eth0 src 10.1.1.1",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "route_del_absent",
            HOST.to_vec(),
            "ip -n a1 route del 10.0.0.0/8",
            Some(ErrorKind::NotFound),
        ),
        case(
            "route_del_wrong_via",
            HOST.to_vec(),
            "ip -n a1 route del default via 172.26.64.9",
            Some(ErrorKind::NotFound),
        ),
        case(
            "sysctl_missing_dev",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.conf.nope.route_localnet=1",
            Some(ErrorKind::NotFound),
        ),
        case(
            "sysctl_missing_netns",
            HOST.to_vec(),
            "ip netns exec nope sysctl -w net.ipv4.ip_forward=1",
            Some(ErrorKind::NotFound),
        ),
        case(
            "listen_not_local",
            HOST.to_vec(),
            "ip netns exec a1 listen tcp 10.0.0.1:80",
            Some(ErrorKind::AddressNotAvailable),
        ),
        case(
            "listen_port_zero",
            HOST.to_vec(),
            "ip netns exec a1 listen tcp 0.0.0.0:0",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "listen_twice",
            [HOST, &["ip netns exec a1 listen tcp 0.0.0.0:80"]].concat(),
            "ip netns exec a1 listen tcp 172.26.64.2:80",
            Some(ErrorKind::AddressInUse),
        ),
        case(
            "listen_specific_then_any",
            [HOST, &["ip netns exec a1 listen udp 172.26.64.2:53"]].concat(),
            "ip netns exec a1 listen udp 0.0.0.0:53",
            Some(ErrorKind::AddressInUse),
        ),
        case(
            "listen_not_local_once_lo_is_up",
            vec!["ip netns add n", "ip -n n link set lo up"],
            "ip netns exec n listen udp 10.0.0.1:80",
            Some(ErrorKind::AddressNotAvailable),
        ),
        case(
            "listen_not_local_after_the_only_address_went",
            vec![
                "ip netns add n",
                "ip -n n link add v type veth peer name w",
                "ip -n n addr add 10.9.0.1/24 dev v",
                "ip -n n addr del 10.9.0.1/24 dev v",
            ],
            "ip netns exec n listen tcp 10.0.0.1:80",
            Some(ErrorKind::AddressNotAvailable),
        ),
        case(
            "close_absent",
            HOST.to_vec(),
            "ip netns exec a1 close tcp 0.0.0.0:80",
            Some(ErrorKind::NotFound),
        ),
        case(
            "ipam_pool_dot_dot",
            Vec::new(),
            "ipam allocate .. 10.0.0.0/24 id x ifname eth0",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "ipam_pool_with_a_slash",
            Vec::new(),
            "ipam release a/b id x ifname eth0",
            Some(ErrorKind::InvalidArgument),
        ),
        // A pool named like another pool's file of the linux backend's store is a pool.
        case(
            "ipam_pool_named_like_a_range_file",
            vec!["ipam allocate a 10.0.0.0/24 id x ifname eth0"],
            "ipam allocate a.range 10.0.1.0/24 id x ifname eth0",
            None,
        ),
        case(
            "link_named_all",
            HOST.to_vec(),
            "ip -n host link add all type bridge",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "veth_peer_named_default",
            HOST.to_vec(),
            "ip -n host link add v9 type veth peer name default netns a1",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "sysctl_rp_filter_beyond_loose",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.conf.eth0.rp_filter=3",
            None,
        ),
        case(
            "sysctl_icmp_echo_ignore_all_out_of_range",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.icmp_echo_ignore_all=2",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "sysctl_bridge_nf_call_iptables_non_zero_is_one",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.bridge.bridge-nf-call-iptables=5",
            None,
        ),
        case(
            "sysctl_forwarding_of_a_missing_device",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.conf.nope.forwarding=1",
            Some(ErrorKind::NotFound),
        ),
        case("netns_add", Vec::new(), "ip netns add x", None),
        case(
            "veth_same_netns",
            HOST.to_vec(),
            "ip -n host link add v9 type veth peer name v8",
            None,
        ),
        case(
            "master_again_is_a_no_op",
            HOST.to_vec(),
            "ip -n host link set veth1 master nomad",
            None,
        ),
        case("nomaster_unenslaved", HOST.to_vec(), "ip -n a1 link set eth0 nomaster", None),
        case("move_to_same_netns", HOST.to_vec(), "ip -n host link set veth1 netns host", None),
        case(
            "same_ip_other_prefix",
            HOST.to_vec(),
            "ip -n host addr add 172.26.64.1/24 dev nomad",
            None,
        ),
        case("route_dev", HOST.to_vec(), "ip -n a1 route add 10.0.0.0/8 dev eth0", None),
        case(
            "route_src",
            HOST.to_vec(),
            "ip -n a1 route add 10.0.0.0/8 dev eth0 src 172.26.64.2",
            None,
        ),
        case("route_del_default", HOST.to_vec(), "ip -n a1 route del default", None),
        case("route_del_connected", HOST.to_vec(), "ip -n a1 route del 172.26.64.0/20", None),
        case("listen_any", HOST.to_vec(), "ip netns exec a1 listen tcp 0.0.0.0:6379", None),
        case(
            "listen_other_proto_same_port",
            [HOST, &["ip netns exec a1 listen tcp 0.0.0.0:53"]].concat(),
            "ip netns exec a1 listen udp 0.0.0.0:53",
            None,
        ),
        case(
            "listen_down_link_address",
            vec![
                "ip netns add n",
                "ip -n n link add v type veth peer name w",
                "ip -n n addr add 10.0.0.1/24 dev v",
            ],
            "ip netns exec n listen tcp 10.0.0.1:80",
            None,
        ),
        // Before its first IPv4 address a namespace has no local table, and bind takes
        // anything.
        case(
            "listen_any_address_before_the_local_table_exists",
            vec!["ip netns add n"],
            "ip netns exec n listen udp 10.0.0.1:80",
            None,
        ),
        case(
            "listen_any_address_with_only_a_route",
            vec![
                "ip netns add n",
                "ip -n n link add v type veth peer name w",
                "ip -n n link set v up",
                "ip -n n route add 10.0.0.0/24 dev v",
            ],
            "ip netns exec n listen tcp 10.0.0.1:80",
            None,
        ),
        case(
            "sysctl_forward",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.ip_forward=1",
            None,
        ),
        case("netns_del_takes_veth_peers", HOST.to_vec(), "ip netns del a1", None),
        case("nomaster", HOST.to_vec(), "ip -n host link set veth1 nomaster", None),
        case(
            "move_veth_end",
            [HOST, &["ip netns add a2"]].concat(),
            "ip -n a1 link set eth0 netns a2",
            None,
        ),
        case("link_del_veth_takes_peer", HOST.to_vec(), "ip -n host link del veth1", None),
        case("link_del_bridge_releases_ports", HOST.to_vec(), "ip -n host link del nomad", None),
        case("link_down_flushes_routes", HOST.to_vec(), "ip -n a1 link set eth0 down", None),
        case("port_mtu_shrinks_bridge", HOST.to_vec(), "ip -n host link set veth1 mtu 1400", None),
        case("bridge_mtu_by_hand", HOST.to_vec(), "ip -n host link set nomad mtu 9000", None),
        case(
            "hairpin_on",
            HOST.to_vec(),
            "ip -n host link set veth1 type bridge_slave hairpin on",
            None,
        ),
        case("secondary_address", HOST.to_vec(), "ip -n a1 addr add 172.26.64.9/20 dev eth0", None),
        case(
            "addr_del_last_flushes_routes",
            HOST.to_vec(),
            "ip -n a1 addr del 172.26.64.2/20 dev eth0",
            None,
        ),
        case(
            "close",
            [HOST, &["ip netns exec a1 listen tcp 0.0.0.0:53"]].concat(),
            "ip netns exec a1 close tcp 0.0.0.0:53",
            None,
        ),
        case(
            "sysctl_route_localnet",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.conf.nomad.route_localnet=1",
            None,
        ),
        case(
            "sysctl_bridge_nf",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.bridge.bridge-nf-call-iptables=0",
            None,
        ),
        // `sysctl KEY=VALUE` without -w; ip_forward writes every device's forwarding.
        case(
            "sysctl_without_w",
            HOST.to_vec(),
            "ip netns exec a1 sysctl net.ipv4.ip_forward=1",
            None,
        ),
        // all's forwarding is ip_forward: it writes default's and every device's too.
        case(
            "sysctl_all_forwarding_off",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.conf.all.forwarding=0",
            None,
        ),
        case(
            "sysctl_one_device_forwarding",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.conf.eth0.forwarding=0",
            None,
        ),
        // default's rp_filter reaches the devices whose own was never written.
        case(
            "sysctl_default_rp_filter",
            [HOST, &["ip netns exec host sysctl -w net.ipv4.conf.eth0.rp_filter=0"]].concat(),
            "ip netns exec host sysctl -w net.ipv4.conf.default.rp_filter=2",
            None,
        ),
        // ...but not a device made after an earlier write to default's (it inherits the
        // mark), nor one with an address, nor `lo` once up; `lo` still down follows.
        case(
            "sysctl_default_rp_filter_mark_is_inherited",
            [
                HOST,
                &[
                    "ip netns exec host sysctl -w net.ipv4.conf.default.rp_filter=1",
                    "ip -n host link add br1 type bridge",
                ],
            ]
            .concat(),
            "ip netns exec host sysctl -w net.ipv4.conf.default.rp_filter=2",
            None,
        ),
        case(
            "sysctl_default_proxy_arp_reaches_lo_while_down",
            vec!["ip netns add x"],
            "ip netns exec x sysctl -w net.ipv4.conf.default.proxy_arp=1",
            None,
        ),
        case(
            "sysctl_default_proxy_arp",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.conf.default.proxy_arp=1",
            None,
        ),
        // default's route_localnet does not (and new devices start with it).
        case(
            "sysctl_default_route_localnet_then_a_device",
            [HOST, &["ip netns exec host sysctl -w net.ipv4.conf.default.route_localnet=1"]]
                .concat(),
            "ip -n host link add br1 type bridge",
            None,
        ),
        case(
            "sysctl_all_route_localnet",
            HOST.to_vec(),
            "ip netns exec host sysctl -w net.ipv4.conf.all.route_localnet=1",
            None,
        ),
        // A dot in a device name is a slash in the key.
        case(
            "sysctl_of_a_dotted_device",
            [HOST, &["ip -n host link add br.0 type bridge"]].concat(),
            "ip netns exec host sysctl -w net.ipv4.conf.br/0.route_localnet=1",
            None,
        ),
        case(
            "sysctl_nonlocal_bind",
            HOST.to_vec(),
            "ip netns exec a1 sysctl -w net.ipv4.ip_nonlocal_bind=1",
            None,
        ),
        case(
            "listen_nonlocal_with_nonlocal_bind",
            [HOST, &["ip netns exec a1 sysctl -w net.ipv4.ip_nonlocal_bind=1"]].concat(),
            "ip netns exec a1 listen tcp 10.9.9.9:80",
            None,
        ),
        // A device moved in takes its new namespace's defaults.
        case(
            "move_takes_the_new_defaults",
            [
                HOST,
                &[
                    "ip netns exec a1 sysctl -w net.ipv4.conf.default.rp_filter=1",
                    "ip -n host link add v9 type veth peer name v8",
                ],
            ]
            .concat(),
            "ip -n host link set v9 netns a1",
            None,
        ),
        // The address 0.0.0.0 is accepted and dropped.
        case("addr_add_unspecified", HOST.to_vec(), "ip -n a1 addr add 0.0.0.0/0 dev eth0", None),
        // A multicast address gets no prefix route.
        case("addr_add_multicast", HOST.to_vec(), "ip -n a1 addr add 224.1.1.1/24 dev eth0", None),
        // Broadcast and multicast addresses may be bound.
        case(
            "listen_broadcast",
            HOST.to_vec(),
            "ip netns exec a1 listen udp 172.26.79.255:53",
            None,
        ),
        case("listen_multicast", HOST.to_vec(), "ip netns exec a1 listen udp 239.1.1.1:5000", None),
    ]
}
