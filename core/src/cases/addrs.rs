//! The address and neighbour cases of the op table: `brd +`, labels, `ip addr flush`, and
//! permanent neighbour entries, each with the kernel's answer (checked on Linux 6.18 by
//! backend-linux/tests/ops.rs).

use super::{HOST, OpCase, case};
use crate::error::ErrorKind;

fn host_and(extra: &[&'static str]) -> Vec<&'static str> {
    [HOST, extra].concat()
}

const NEIGH: &str = "ip -n host neigh add 192.0.2.7 lladdr 02:00:00:00:00:07 dev eth0";

/// The cases.
pub fn cases() -> Vec<OpCase> {
    vec![
        case(
            "addr_brd_plus",
            HOST.to_vec(),
            "ip -n host addr add 10.9.0.1/24 brd + dev eth0",
            None,
        ),
        // iproute2 sends no broadcast for /31 and /32.
        case(
            "addr_brd_plus_on_a_31",
            HOST.to_vec(),
            "ip -n host addr add 10.9.0.0/31 brd + dev eth0",
            None,
        ),
        case(
            "addr_label",
            HOST.to_vec(),
            "ip -n host addr add 192.0.2.11/24 dev eth0 label eth0:1",
            None,
        ),
        // The kernel takes any label of up to 15 bytes, even one unlike the device's name.
        case(
            "addr_label_any",
            HOST.to_vec(),
            "ip -n host addr add 10.9.0.1/24 label other dev eth0",
            None,
        ),
        case(
            "addr_label_is_the_device",
            HOST.to_vec(),
            "ip -n host addr add 10.9.0.1/24 label eth0 dev eth0",
            None,
        ),
        case(
            "addr_label_too_long",
            HOST.to_vec(),
            "ip -n host addr add 10.9.0.1/24 label eth0:abcdefghijk dev eth0",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "addr_label_too_long_after_the_device",
            HOST.to_vec(),
            "ip -n host addr add 10.9.0.1/24 label eth0:abcdefghijk dev nosuch",
            Some(ErrorKind::NotFound),
        ),
        case(
            "addr_flush",
            host_and(&[
                "ip -n host addr add 192.0.2.11/24 dev eth0",
                "ip -n host addr add 10.9.0.1/16 dev eth0",
            ]),
            "ip -n host addr flush dev eth0",
            None,
        ),
        case("addr_flush_lo", HOST.to_vec(), "ip -n host addr flush dev lo", None),
        case(
            "addr_flush_nothing",
            host_and(&["ip -n host link add br9 type bridge"]),
            "ip -n host addr flush dev br9",
            None,
        ),
        case(
            "addr_flush_no_device",
            HOST.to_vec(),
            "ip -n host addr flush dev nosuch",
            Some(ErrorKind::NotFound),
        ),
        case("neigh_add", HOST.to_vec(), NEIGH, None),
        case("neigh_add_twice", host_and(&[NEIGH]), NEIGH, Some(ErrorKind::AlreadyExists)),
        case(
            "neigh_replace",
            host_and(&[NEIGH]),
            "ip -n host neigh replace 192.0.2.7 lladdr 02:00:00:00:00:08 dev eth0",
            None,
        ),
        case(
            "neigh_replace_creates",
            HOST.to_vec(),
            "ip -n host neigh replace 192.0.2.7 lladdr 02:00:00:00:00:08 dev eth0 nud permanent",
            None,
        ),
        case("neigh_del", host_and(&[NEIGH]), "ip -n host neigh del 192.0.2.7 dev eth0", None),
        case(
            "neigh_del_missing",
            HOST.to_vec(),
            "ip -n host neigh del 192.0.2.7 dev eth0",
            Some(ErrorKind::NotFound),
        ),
        case(
            "neigh_add_no_device",
            HOST.to_vec(),
            "ip -n host neigh add 192.0.2.7 lladdr 02:00:00:00:00:07 dev nosuch",
            Some(ErrorKind::NotFound),
        ),
        // Every entry on a loopback device is filed under 0.0.0.0.
        case(
            "neigh_on_lo",
            HOST.to_vec(),
            "ip -n host neigh add 10.9.9.9 lladdr 02:00:00:00:00:07 dev lo",
            None,
        ),
        case(
            "neigh_on_a_device_without_ipv4",
            host_and(&["ip -n host link set lo mtu 67"]),
            "ip -n host neigh add 10.9.9.9 lladdr 02:00:00:00:00:07 dev lo",
            Some(ErrorKind::InvalidArgument),
        ),
        // There, an add updates the one entry, and only 0.0.0.0 names it.
        case(
            "neigh_on_lo_again",
            host_and(&["ip -n host neigh add 10.9.9.9 lladdr 02:00:00:00:00:07 dev lo"]),
            "ip -n host neigh add 10.9.9.8 lladdr 02:00:00:00:00:08 dev lo",
            None,
        ),
        case(
            "neigh_on_lo_0_again",
            host_and(&["ip -n host neigh add 10.9.9.9 lladdr 02:00:00:00:00:07 dev lo"]),
            "ip -n host neigh add 0.0.0.0 lladdr 02:00:00:00:00:08 dev lo",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "neigh_del_on_lo_by_address",
            host_and(&["ip -n host neigh add 10.9.9.9 lladdr 02:00:00:00:00:07 dev lo"]),
            "ip -n host neigh del 10.9.9.9 dev lo",
            Some(ErrorKind::NotFound),
        ),
        case(
            "neigh_del_on_lo_by_0",
            host_and(&["ip -n host neigh add 10.9.9.9 lladdr 02:00:00:00:00:07 dev lo"]),
            "ip -n host neigh del 0.0.0.0 dev lo",
            None,
        ),
        // A device that goes down forgets its entries, permanent ones too; one already down
        // keeps what it is given.
        case(
            "neigh_gone_when_the_link_goes_down",
            host_and(&[NEIGH]),
            "ip -n host link set eth0 down",
            None,
        ),
        case(
            "neigh_kept_on_a_link_already_down",
            host_and(&[
                "ip -n host link add br9 type bridge",
                "ip -n host neigh add 10.9.0.2 lladdr 02:00:00:00:00:07 dev br9",
            ]),
            "ip -n host link set br9 down",
            None,
        ),
        case(
            "neigh_gone_with_the_last_address",
            host_and(&[NEIGH]),
            "ip -n host addr del 192.0.2.10/24 dev eth0",
            None,
        ),
        case(
            "neigh_kept_while_an_address_is_left",
            host_and(&["ip -n host addr add 10.9.0.1/24 dev eth0", NEIGH]),
            "ip -n host addr del 192.0.2.10/24 dev eth0",
            None,
        ),
        case("neigh_gone_with_the_link", host_and(&[NEIGH]), "ip -n host link del eth0", None),
        case(
            "neigh_kept_when_enslaved",
            host_and(&[
                "ip -n host link add v9 type veth peer name v9p",
                "ip -n host link set v9 up",
                "ip -n host neigh add 10.9.0.2 lladdr 02:00:00:00:00:07 dev v9",
            ]),
            "ip -n host link set v9 master nomad",
            None,
        ),
    ]
}
