//! Random iptables commands from the supported matches and targets, as the text an
//! administrator would type (parsed into ops when a case is built, so every generated rule
//! is one the parser accepts and prints back the same way).
//!
//! The value pools are the firewall suite's host (`super::firewall`): its addresses,
//! interfaces, ports and the user chains `X` and `Y`. Targets are mostly the ones valid in
//! the command's table, sometimes not, so that the kernel's refusals get compared too.

use proptest::prelude::*;

/// Addresses and networks rules match on.
const CIDRS: [&str; 9] = [
    "172.26.64.0/20",
    "172.26.64.2",
    "172.26.64.3",
    "172.26.64.1",
    "192.0.2.0/24",
    "192.0.2.1",
    "192.0.2.10",
    "127.0.0.1",
    "10.99.0.0/16",
];
/// Interfaces rules match on (`veth+` is every allocation's host end).
const IFACES: [&str; 6] = ["eth0", "nomad", "veth+", "lo", "vetha1", "vetha2"];
/// Ports rules match on (the listeners' ports and a few others).
const PORTS: [&str; 7] = ["22", "53", "80", "8080", "7000", "1000:9000", "0:65535"];
/// DNAT and SNAT destinations.
const NAT_TO: [&str; 8] = [
    "172.26.64.2",
    "172.26.64.3",
    "172.26.64.2:80",
    "172.26.64.3:8080",
    "192.0.2.1:80",
    "172.26.64.9",
    "127.0.0.1:22",
    "192.0.2.10",
];
/// Conntrack state sets.
const CTSTATES: [&str; 6] =
    ["NEW", "ESTABLISHED", "RELATED,ESTABLISHED", "DNAT", "SNAT", "INVALID"];
/// REJECT answers.
const REJECT_WITH: [&str; 5] = [
    "",
    " --reject-with icmp-port-unreachable",
    " --reject-with icmp-host-unreachable",
    " --reject-with icmp-admin-prohibited",
    " --reject-with tcp-reset",
];

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = &'static str> + Clone {
    prop::sample::select(pool)
}

fn neg() -> impl Strategy<Value = &'static str> + Clone {
    prop_oneof![5 => Just(""), 1 => Just("! ")]
}

fn opt<S: Strategy<Value = String> + Clone>(
    weight: u32,
    s: S,
) -> impl Strategy<Value = String> + Clone {
    prop_oneof![(10 - weight.min(10)) => Just(String::new()), weight => s]
}

/// A protocol and the matches that go with it.
fn proto_part() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => Just(String::new()),
        1 => Just("-p icmp".to_owned()),
        4 => (pick(&["tcp", "udp"]), prop::option::of((any::<bool>(), neg(), pick(&PORTS))), prop::option::of(prop::collection::vec(pick(&["22", "53", "80", "8080", "7000"]), 1..3)))
            .prop_map(|(p, port, multi)| {
                let mut s = format!("-p {p}");
                if let Some((dport, n, v)) = port {
                    let dir = if dport { "--dport" } else { "--sport" };
                    s.push_str(&format!(" -m {p} {n}{dir} {v}"));
                }
                if let Some(list) = multi {
                    s.push_str(&format!(" -m multiport --dports {}", list.join(",")));
                }
                s
            }),
    ]
}

fn match_part() -> impl Strategy<Value = String> + Clone {
    (
        opt(3, (neg(), pick(&CIDRS)).prop_map(|(n, c)| format!("{n}-s {c}"))),
        opt(4, (neg(), pick(&CIDRS)).prop_map(|(n, c)| format!("{n}-d {c}"))),
        opt(2, (neg(), pick(&IFACES)).prop_map(|(n, i)| format!("{n}-i {i}"))),
        opt(2, (neg(), pick(&IFACES)).prop_map(|(n, i)| format!("{n}-o {i}"))),
        proto_part(),
        opt(
            2,
            (neg(), pick(&CTSTATES)).prop_map(|(n, c)| format!("-m conntrack {n}--ctstate {c}")),
        ),
        opt(
            2,
            (neg(), pick(&["--dst-type", "--src-type"]))
                .prop_map(|(n, t)| format!("-m addrtype {n}{t} LOCAL")),
        ),
        opt(1, neg().prop_map(|n| format!("-m mark {n}--mark 0x2000/0x2000"))),
        opt(1, Just("-m comment --comment \"random rule\"".to_owned())),
    )
        .prop_map(|(s, d, i, o, p, ct, at, mark, comment)| {
            [s, d, i, o, p, ct, at, mark, comment]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// A target for a rule of the filter (`nat` false) or nat table.
fn target(nat: bool) -> impl Strategy<Value = String> + Clone {
    let common = prop_oneof![
        Just("-j ACCEPT".to_owned()),
        Just("-j RETURN".to_owned()),
        pick(&["X", "Y"]).prop_map(|c| format!("-j {c}")),
        pick(&["X", "Y"]).prop_map(|c| format!("-g {c}")),
        Just("-j MARK --set-xmark 0x2000/0x2000".to_owned()),
        pick(&["INPUT", "FORWARD", "PREROUTING"]).prop_map(|c| format!("-j {c}")),
    ];
    let filter = prop_oneof![
        Just("-j DROP".to_owned()),
        pick(&REJECT_WITH).prop_map(|w| format!("-j REJECT{w}")),
    ];
    let nat_only = prop_oneof![
        pick(&NAT_TO).prop_map(|t| format!("-j DNAT --to-destination {t}")),
        pick(&["172.26.64.1", "192.0.2.10", "10.99.0.1"])
            .prop_map(|t| format!("-j SNAT --to-source {t}")),
        Just("-j MASQUERADE".to_owned()),
    ];
    if nat {
        prop_oneof![3 => common, 6 => nat_only, 1 => filter].boxed()
    } else {
        prop_oneof![3 => common, 6 => filter, 1 => nat_only].boxed()
    }
}

/// A chain of the filter (`nat` false) or nat table, built-in or user.
fn chain(nat: bool) -> BoxedStrategy<&'static str> {
    if nat {
        prop_oneof![3 => pick(&["PREROUTING", "POSTROUTING", "OUTPUT"]), 1 => Just("INPUT"), 2 => pick(&["X", "Y"])].boxed()
    } else {
        prop_oneof![3 => Just("FORWARD"), 2 => pick(&["INPUT", "OUTPUT"]), 2 => pick(&["X", "Y"])]
            .boxed()
    }
}

/// One iptables command line (after `iptables`), for the filter or nat table.
pub fn command() -> impl Strategy<Value = String> {
    any::<bool>().prop_flat_map(|nat| {
        let t = if nat { "-t nat " } else { "" };
        let rule = (match_part(), target(nat)).prop_map(|(m, j)| {
            if m.is_empty() { j } else { format!("{m} {j}") }
        });
        prop_oneof![
            10 => (chain(nat), rule.clone()).prop_map(move |(c, r)| format!("{t}-A {c} {r}")),
            3 => (chain(nat), 1u32..4, rule.clone()).prop_map(move |(c, n, r)| format!("{t}-I {c} {n} {r}")),
            1 => (chain(nat), rule).prop_map(move |(c, r)| format!("{t}-D {c} {r}")),
            1 => (chain(nat), 1u32..3).prop_map(move |(c, n)| format!("{t}-D {c} {n}")),
            1 => chain(nat).prop_map(move |c| format!("{t}-F {c}")),
            1 => chain(nat).prop_map(move |c| format!("{t}-X {c}")),
            1 => pick(&["X", "Y", "Z"]).prop_map(move |c| format!("{t}-N {c}")),
            2 => (chain(nat), prop::bool::weighted(0.7))
                .prop_map(move |(c, d)| format!("{t}-P {c} {}", if d { "DROP" } else { "ACCEPT" })),
        ]
    })
}
