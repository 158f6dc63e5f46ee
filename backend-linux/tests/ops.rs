//! Ops on the kernel against the model: the same ops give the same result kinds and the
//! same observed state. Where the kernel disagrees, the test asserts the kernel's answer
//! and says so (the model is fixed later).

mod common;

use common::{HOST, apply_both, assert_same_state, backend, kind, op};
use nettwin_core::backend::Backend;
use nettwin_core::error::ErrorKind;
use nettwin_core::state::State;
use rstest::rstest;

fn run_case(setup: &[&str], text: &str, kernel_kind: Option<ErrorKind>) {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, setup);
    let o = op(text);
    let k = b.apply(&o);
    let m = s.apply(&o);
    assert_eq!(kind(&k), kernel_kind, "{text}: kernel said {k:?}");
    if kind(&k) == kind(&m) {
        assert_same_state(&mut b, &s, text);
    }
}

#[rstest]
#[case::netns_add_twice(&["ip netns add x"], "ip netns add x", ErrorKind::AlreadyExists)]
#[case::netns_del_missing(&[], "ip netns del x", ErrorKind::NotFound)]
#[case::bridge_in_missing_netns(&[], "ip -n x link add br0 type bridge", ErrorKind::NotFound)]
#[case::bridge_name_taken(HOST, "ip -n host link add veth1 type bridge", ErrorKind::AlreadyExists)]
#[case::veth_name_taken(
    HOST,
    "ip -n host link add nomad type veth peer name p",
    ErrorKind::AlreadyExists
)]
#[case::veth_peer_name_taken(
    HOST,
    "ip -n host link add v9 type veth peer name eth0 netns a1",
    ErrorKind::AlreadyExists
)]
#[case::veth_same_names(
    HOST,
    "ip -n host link add v9 type veth peer name v9",
    ErrorKind::AlreadyExists
)]
#[case::veth_peer_netns_missing(
    HOST,
    "ip -n host link add v9 type veth peer name p netns nope",
    ErrorKind::NotFound
)]
#[case::link_del_missing(HOST, "ip -n host link del nope", ErrorKind::NotFound)]
#[case::link_del_lo(HOST, "ip -n host link del lo", ErrorKind::NotSupported)]
#[case::link_up_missing(HOST, "ip -n host link set nope up", ErrorKind::NotFound)]
#[case::master_missing(HOST, "ip -n a1 link set eth0 master nope", ErrorKind::NotFound)]
#[case::master_not_bridge(HOST, "ip -n host link set lo master veth1", ErrorKind::NotSupported)]
#[case::bridge_into_bridge(HOST, "ip -n host link set nomad master nomad", ErrorKind::Loop)]
#[case::lo_into_bridge(HOST, "ip -n host link set lo master nomad", ErrorKind::InvalidArgument)]
#[case::mtu_too_small(HOST, "ip -n host link set veth1 mtu 67", ErrorKind::InvalidArgument)]
#[case::mtu_too_big(HOST, "ip -n host link set veth1 mtu 65536", ErrorKind::InvalidArgument)]
#[case::hairpin_not_port(
    HOST,
    "ip -n a1 link set eth0 type bridge_slave hairpin on",
    ErrorKind::NotSupported
)]
#[case::move_to_missing_netns(HOST, "ip -n host link set veth1 netns nope", ErrorKind::NotFound)]
#[case::move_bridge(HOST, "ip -n host link set nomad netns a1", ErrorKind::InvalidArgument)]
#[case::move_lo(HOST, "ip -n host link set lo netns a1", ErrorKind::InvalidArgument)]
#[case::move_name_clash(&["ip netns add a", "ip netns add b", "ip -n a link add x type veth peer name y", "ip -n b link add x type veth peer name z"], "ip -n a link set x netns b", ErrorKind::AlreadyExists)]
#[case::addr_twice(HOST, "ip -n host addr add 172.26.64.1/20 dev nomad", ErrorKind::AlreadyExists)]
#[case::addr_missing_dev(HOST, "ip -n host addr add 10.0.0.1/8 dev nope", ErrorKind::NotFound)]
#[case::addr_del_absent(HOST, "ip -n host addr del 10.0.0.1/8 dev nomad", ErrorKind::NotFound)]
#[case::addr_del_wrong_prefix(
    HOST,
    "ip -n host addr del 172.26.64.1/24 dev nomad",
    ErrorKind::NotFound
)]
#[case::route_twice(HOST, "ip -n a1 route add default via 172.26.64.1", ErrorKind::AlreadyExists)]
#[case::route_over_connected(
    HOST,
    "ip -n a1 route add 172.26.64.0/20 dev eth0",
    ErrorKind::AlreadyExists
)]
#[case::route_gateway_unreachable(
    HOST,
    "ip -n a1 route add 10.0.0.0/8 via 10.9.9.9",
    ErrorKind::Unreachable
)]
#[case::route_gateway_wrong_dev(
    HOST,
    "ip -n a1 route add 10.0.0.0/8 via 172.26.64.1 dev lo",
    ErrorKind::Unreachable
)]
#[case::route_missing_dev(HOST, "ip -n a1 route add 10.0.0.0/8 dev nope", ErrorKind::NotFound)]
#[case::route_dev_down(&["ip netns add n", "ip -n n link add v type veth peer name w"], "ip -n n route add 10.0.0.0/8 dev v", ErrorKind::LinkDown)]
#[case::route_bad_src(
    HOST,
    "ip -n a1 route add 10.0.0.0/8 dev eth0 src 10.1.1.1",
    ErrorKind::InvalidArgument
)]
#[case::route_del_absent(HOST, "ip -n a1 route del 10.0.0.0/8", ErrorKind::NotFound)]
#[case::route_del_wrong_via(
    HOST,
    "ip -n a1 route del default via 172.26.64.9",
    ErrorKind::NotFound
)]
#[case::sysctl_missing_dev(
    HOST,
    "ip netns exec host sysctl -w net.ipv4.conf.nope.route_localnet=1",
    ErrorKind::NotFound
)]
#[case::sysctl_missing_netns(
    HOST,
    "ip netns exec nope sysctl -w net.ipv4.ip_forward=1",
    ErrorKind::NotFound
)]
#[case::listen_not_local(
    HOST,
    "ip netns exec a1 listen tcp 10.0.0.1:80",
    ErrorKind::AddressNotAvailable
)]
#[case::listen_port_zero(HOST, "ip netns exec a1 listen tcp 0.0.0.0:0", ErrorKind::InvalidArgument)]
#[case::listen_twice(&[HOST, &["ip netns exec a1 listen tcp 0.0.0.0:80"]].concat(), "ip netns exec a1 listen tcp 172.26.64.2:80", ErrorKind::AddressInUse)]
#[case::listen_specific_then_any(&[HOST, &["ip netns exec a1 listen udp 172.26.64.2:53"]].concat(), "ip netns exec a1 listen udp 0.0.0.0:53", ErrorKind::AddressInUse)]
#[case::close_absent(HOST, "ip netns exec a1 close tcp 0.0.0.0:80", ErrorKind::NotFound)]
fn refused_ops_have_the_models_kind_and_change_nothing(
    #[case] setup: &[&str],
    #[case] text: &str,
    #[case] expected: ErrorKind,
) {
    run_case(setup, text, Some(expected));
}

#[rstest]
#[case::netns_add(&[], "ip netns add x")]
#[case::netns_del_takes_veth_peers(HOST, "ip netns del a1")]
#[case::veth_same_netns(HOST, "ip -n host link add v9 type veth peer name v8")]
#[case::master_again_is_a_no_op(HOST, "ip -n host link set veth1 master nomad")]
#[case::nomaster(HOST, "ip -n host link set veth1 nomaster")]
#[case::nomaster_unenslaved(HOST, "ip -n a1 link set eth0 nomaster")]
#[case::move_to_same_netns(HOST, "ip -n host link set veth1 netns host")]
#[case::move_veth_end(&[HOST, &["ip netns add a2"]].concat(), "ip -n a1 link set eth0 netns a2")]
#[case::link_del_veth_takes_peer(HOST, "ip -n host link del veth1")]
#[case::link_del_bridge_releases_ports(HOST, "ip -n host link del nomad")]
#[case::link_down_flushes_routes(HOST, "ip -n a1 link set eth0 down")]
#[case::port_mtu_shrinks_bridge(HOST, "ip -n host link set veth1 mtu 1400")]
#[case::bridge_mtu_by_hand(HOST, "ip -n host link set nomad mtu 9000")]
#[case::hairpin_on(HOST, "ip -n host link set veth1 type bridge_slave hairpin on")]
#[case::same_ip_other_prefix(HOST, "ip -n host addr add 172.26.64.1/24 dev nomad")]
#[case::secondary_address(HOST, "ip -n a1 addr add 172.26.64.9/20 dev eth0")]
#[case::addr_del_last_flushes_routes(HOST, "ip -n a1 addr del 172.26.64.2/20 dev eth0")]
#[case::route_dev(HOST, "ip -n a1 route add 10.0.0.0/8 dev eth0")]
#[case::route_src(HOST, "ip -n a1 route add 10.0.0.0/8 dev eth0 src 172.26.64.2")]
#[case::route_del_default(HOST, "ip -n a1 route del default")]
#[case::route_del_connected(HOST, "ip -n a1 route del 172.26.64.0/20")]
#[case::listen_any(HOST, "ip netns exec a1 listen tcp 0.0.0.0:6379")]
#[case::listen_other_proto_same_port(&[HOST, &["ip netns exec a1 listen tcp 0.0.0.0:53"]].concat(), "ip netns exec a1 listen udp 0.0.0.0:53")]
#[case::close(&[HOST, &["ip netns exec a1 listen tcp 0.0.0.0:53"]].concat(), "ip netns exec a1 close tcp 0.0.0.0:53")]
#[case::listen_down_link_address(&["ip netns add n", "ip -n n link add v type veth peer name w", "ip -n n addr add 10.0.0.1/24 dev v"], "ip netns exec n listen tcp 10.0.0.1:80")]
#[case::sysctl_forward(HOST, "ip netns exec host sysctl -w net.ipv4.ip_forward=1")]
#[case::sysctl_route_localnet(
    HOST,
    "ip netns exec host sysctl -w net.ipv4.conf.nomad.route_localnet=1"
)]
#[case::sysctl_bridge_nf(HOST, "ip netns exec host sysctl -w net.bridge.bridge-nf-call-iptables=0")]
fn accepted_ops_succeed_and_leave_the_models_state(#[case] setup: &[&str], #[case] text: &str) {
    run_case(setup, text, None);
}

#[test]
fn the_host_fixture_builds_the_models_state() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, HOST);
    assert_same_state(&mut b, &s, "HOST");
}

#[test]
fn lo_up_gets_127_0_0_1_and_keeps_it_when_down() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(
        &mut b,
        &mut s,
        &["ip netns add n", "ip -n n link set lo up", "ip -n n link set lo down"],
    );
    assert_same_state(&mut b, &s, "lo up then down");
}

#[test]
fn deleting_a_primary_address_takes_its_secondaries() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, HOST);
    apply_both(
        &mut b,
        &mut s,
        &[
            "ip -n a1 addr add 172.26.64.9/20 dev eth0",
            "ip -n a1 addr add 10.1.0.1/16 dev eth0",
            "ip -n a1 route add 10.9.0.0/16 dev eth0 src 172.26.64.9",
            "ip -n a1 addr del 172.26.64.2/20 dev eth0",
        ],
    );
    assert_same_state(&mut b, &s, "after deleting the primary");
}

#[test]
fn a_bridge_follows_its_smallest_port_until_set_by_hand() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, HOST);
    for step in [
        "ip -n host link set veth1 mtu 1400",
        "ip -n host link set veth1 nomaster",
        "ip -n host link set nomad mtu 9000",
        "ip -n host link set veth1 master nomad",
    ] {
        apply_both(&mut b, &mut s, &[step]);
        assert_same_state(&mut b, &s, step);
    }
}

#[test]
fn explicit_macs_are_kept() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(
        &mut b,
        &mut s,
        &[
            "ip netns add n",
            "ip -n n link add br0 address 02:00:00:00:00:01 type bridge",
            "ip -n n link add v0 address 02:00:00:00:00:02 type veth peer name v1 address 02:00:00:00:00:03",
        ],
    );
    assert_same_state(&mut b, &s, "explicit MACs");
}

#[test]
fn ipam_allocates_and_releases_like_the_model_and_the_store_matches() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    let alloc = |id: &str| {
        format!("ipam allocate nomad 172.26.64.0/20 gateway 172.26.64.1 id {id} ifname eth0")
    };
    let steps = [
        alloc("a"),
        alloc("b"),
        alloc("a"),
        "ipam release nomad id a ifname eth0".to_owned(),
        "ipam release nomad id a ifname eth0".to_owned(),
        "ipam release never id a ifname eth0".to_owned(),
        alloc("c"),
        "ipam allocate tiny 10.0.0.0/30 id x ifname eth0".to_owned(),
        "ipam allocate tiny 10.0.0.0/30 id y ifname eth0".to_owned(),
        "ipam allocate bad 10.0.0.0/31 id y ifname eth0".to_owned(),
    ];
    for step in &steps {
        let o = op(step);
        let (k, m) = (b.apply(&o), s.apply(&o));
        assert_eq!(kind(&k), kind(&m), "{step}: kernel {k:?}, model {m:?}");
        assert_eq!(k.ok(), m.ok(), "{step}: the same address");
    }
    assert_same_state(&mut b, &s, "IPAM stores");
}
