//! The routing cases of the op table: metrics, `replace`, other tables, special routes,
//! `onlink`, `scope` and policy rules, each with the kernel's answer (checked on Linux
//! 6.18 by backend-linux/tests/ops.rs).

use super::{HOST, OpCase, case};
use crate::error::ErrorKind;

/// HOST with a second route to 10.5.0.0/24 at metric 100.
const METRIC_100: &[&str] = &["ip -n host route add 10.5.0.0/24 via 192.0.2.1 metric 100"];

fn host_and(extra: &[&'static str]) -> Vec<&'static str> {
    [HOST, extra].concat()
}

/// The cases.
pub fn cases() -> Vec<OpCase> {
    vec![
        case("route_metric", HOST.to_vec(), METRIC_100[0], None),
        // One route per table, prefix and metric: another metric is another route.
        case(
            "route_other_metric",
            host_and(METRIC_100),
            "ip -n host route add 10.5.0.0/24 dev nomad metric 50",
            None,
        ),
        case(
            "route_same_metric",
            host_and(METRIC_100),
            "ip -n host route add 10.5.0.0/24 dev nomad metric 100",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "route_del_without_metric_takes_the_lowest",
            host_and(&[METRIC_100[0], "ip -n host route add 10.5.0.0/24 dev nomad metric 50"]),
            "ip -n host route del 10.5.0.0/24",
            None,
        ),
        case(
            "route_del_by_metric",
            host_and(&[METRIC_100[0], "ip -n host route add 10.5.0.0/24 dev nomad metric 50"]),
            "ip -n host route del 10.5.0.0/24 metric 100",
            None,
        ),
        // Metric 0 is the kernel's "any metric" in a delete.
        case(
            "route_del_metric_0_is_any",
            host_and(METRIC_100),
            "ip -n host route del 10.5.0.0/24 metric 0",
            None,
        ),
        case(
            "route_replace_same_metric",
            host_and(METRIC_100),
            "ip -n host route replace 10.5.0.0/24 dev nomad metric 100",
            None,
        ),
        // Without a metric, replace means metric 0: a route of its own.
        case(
            "route_replace_adds_at_metric_0",
            host_and(METRIC_100),
            "ip -n host route replace 10.5.0.0/24 dev nomad",
            None,
        ),
        case(
            "route_replace_with_a_blackhole",
            host_and(METRIC_100),
            "ip -n host route replace blackhole 10.5.0.0/24 metric 100",
            None,
        ),
        case(
            "route_in_another_table",
            HOST.to_vec(),
            "ip -n host route add default via 192.0.2.1 table 100",
            None,
        ),
        case(
            "route_in_a_large_table",
            HOST.to_vec(),
            "ip -n host route add 10.6.0.0/16 dev nomad table 3000000000",
            None,
        ),
        // A table's gateway is looked up in that table first, then as usual.
        case(
            "route_table_gateway_through_main",
            HOST.to_vec(),
            "ip -n host route add 10.6.0.0/16 via 172.26.64.9 table 100",
            None,
        ),
        case(
            "route_table_gateway_through_its_own_table",
            host_and(&["ip -n host route add 10.7.0.0/24 dev nomad table 100"]),
            "ip -n host route add 10.8.0.0/16 via 10.7.0.1 table 100",
            None,
        ),
        case(
            "route_table_gateway_not_in_main",
            host_and(&["ip -n host route add 10.7.0.0/24 dev nomad table 100"]),
            "ip -n host route add 10.8.0.0/16 via 10.7.0.1",
            Some(ErrorKind::Unreachable),
        ),
        case(
            "route_del_in_its_table",
            host_and(&["ip -n host route add default via 192.0.2.1 table 100"]),
            "ip -n host route del default table 100",
            None,
        ),
        case(
            "route_del_not_in_main",
            host_and(&["ip -n host route add 10.6.0.0/16 dev nomad table 100"]),
            "ip -n host route del 10.6.0.0/16",
            Some(ErrorKind::NotFound),
        ),
        case("route_blackhole", HOST.to_vec(), "ip -n host route add blackhole 10.9.0.0/16", None),
        case(
            "route_unreachable",
            HOST.to_vec(),
            "ip -n host route add unreachable 10.10.0.0/16 metric 7",
            None,
        ),
        case(
            "route_prohibit",
            HOST.to_vec(),
            "ip -n host route add prohibit 10.11.0.0/16 table 100",
            None,
        ),
        case(
            "route_throw",
            HOST.to_vec(),
            "ip -n host route add throw 10.12.0.0/16 table 100",
            None,
        ),
        case(
            "route_blackhole_with_a_device",
            HOST.to_vec(),
            "ip -n host route add blackhole 10.9.0.0/16 dev nomad",
            Some(ErrorKind::InvalidArgument),
        ),
        case(
            "route_blackhole_over_a_unicast",
            host_and(&["ip -n host route add 10.9.0.0/16 dev nomad"]),
            "ip -n host route add blackhole 10.9.0.0/16",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "route_del_a_blackhole_by_prefix",
            host_and(&["ip -n host route add blackhole 10.9.0.0/16"]),
            "ip -n host route del 10.9.0.0/16",
            None,
        ),
        case(
            "route_del_a_blackhole_as_unreachable",
            host_and(&["ip -n host route add blackhole 10.9.0.0/16"]),
            "ip -n host route del unreachable 10.9.0.0/16",
            Some(ErrorKind::NotFound),
        ),
        // onlink: a gateway off every connected network is taken to be on the link.
        case(
            "route_onlink",
            HOST.to_vec(),
            "ip -n host route add 10.80.0.0/16 via 198.51.100.1 dev eth0 onlink",
            None,
        ),
        case(
            "route_off_link_gateway",
            HOST.to_vec(),
            "ip -n host route add 10.80.0.0/16 via 198.51.100.1 dev eth0",
            Some(ErrorKind::Unreachable),
        ),
        case(
            "route_onlink_to_an_own_address",
            HOST.to_vec(),
            "ip -n host route add 10.80.0.0/16 via 172.26.64.1 dev eth0 onlink",
            Some(ErrorKind::InvalidArgument),
        ),
        // The device's state is checked before the gateway's.
        case(
            "route_onlink_through_a_down_device",
            host_and(&["ip -n host link add br9 type bridge"]),
            "ip -n host route add 10.80.0.0/16 via 172.26.64.1 dev br9 onlink",
            Some(ErrorKind::LinkDown),
        ),
        case(
            "route_scope_link_dev",
            HOST.to_vec(),
            "ip -n host route add 10.81.0.0/16 dev eth0 scope link",
            None,
        ),
        case(
            "route_scope_global_dev",
            HOST.to_vec(),
            "ip -n host route add 10.81.0.0/16 dev eth0 scope global",
            None,
        ),
        case(
            "route_scope_link_gateway",
            HOST.to_vec(),
            "ip -n host route add 10.81.0.0/16 via 192.0.2.1 scope link",
            Some(ErrorKind::Unreachable),
        ),
        case(
            "route_scope_link_own_gateway",
            HOST.to_vec(),
            "ip -n host route add 10.81.0.0/16 via 192.0.2.10 scope link",
            None,
        ),
        // Rules.
        case(
            "rule_from",
            HOST.to_vec(),
            "ip -n host rule add from 10.0.0.0/24 table 100 priority 100",
            None,
        ),
        case(
            "rule_twice",
            host_and(&["ip -n host rule add from 10.0.0.0/24 table 100 priority 100"]),
            "ip -n host rule add from 10.0.0.0/24 table 100 priority 100",
            Some(ErrorKind::AlreadyExists),
        ),
        // Without a priority each gets one below the second rule's: no duplicate.
        case(
            "rule_twice_without_priority",
            host_and(&["ip -n host rule add from 10.0.0.0/24 table 100"]),
            "ip -n host rule add from 10.0.0.0/24 table 100",
            None,
        ),
        case("rule_fwmark", HOST.to_vec(), "ip -n host rule add fwmark 0x1/0xff lookup 200", None),
        case("rule_iif", HOST.to_vec(), "ip -n host rule add iif eth0 table 300 pref 50", None),
        case(
            "rule_not_to",
            HOST.to_vec(),
            "ip -n host rule add not to 10.9.0.0/16 table main priority 40",
            None,
        ),
        case("rule_prohibit", HOST.to_vec(), "ip -n host rule add to 1.2.3.0/24 prohibit", None),
        // The kernel's own rules are `proto kernel`: one added like them is another rule.
        case(
            "rule_like_main",
            HOST.to_vec(),
            "ip -n host rule add from all lookup main priority 32766",
            None,
        ),
        case(
            "rule_del_by_priority",
            host_and(&["ip -n host rule add from 10.0.0.0/24 table 100 priority 100"]),
            "ip -n host rule del priority 100",
            None,
        ),
        case(
            "rule_del_first_match_whatever_its_not",
            host_and(&[
                "ip -n host rule add not from 10.1.0.0/16 table 100 pref 10",
                "ip -n host rule add from 10.1.0.0/16 table 100 pref 20",
            ]),
            "ip -n host rule del from 10.1.0.0/16 table 100",
            None,
        ),
        case(
            "rule_del_absent",
            HOST.to_vec(),
            "ip -n host rule del from 10.0.0.0/24",
            Some(ErrorKind::NotFound),
        ),
        case("rule_del_main", HOST.to_vec(), "ip -n host rule del priority 32766", None),
        // The kernel compares a prefix only when the new rule has one.
        case(
            "rule_without_from_equals_one_with",
            host_and(&["ip -n host rule add from 10.0.0.0/24 priority 20 lookup 100"]),
            "ip -n host rule add priority 20 lookup 100",
            Some(ErrorKind::AlreadyExists),
        ),
        case(
            "rule_with_from_differs_from_one_without",
            host_and(&["ip -n host rule add priority 20 lookup 100"]),
            "ip -n host rule add from 10.0.0.0/24 priority 20 lookup 100",
            None,
        ),
    ]
}
