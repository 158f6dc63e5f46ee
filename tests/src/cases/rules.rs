//! Random iptables commands from the supported matches and targets, as the text an
//! administrator would type (parsed into ops when a case is built, so every generated rule
//! is one the parser accepts and prints back the same way).
//!
//! The value pools are the firewall suite's host (`super::firewall`): its addresses,
//! interfaces, ports and the user chains `X` and `Y`. Targets are mostly the ones valid in
//! the command's table, sometimes not, so that the kernel's refusals get compared too.

use nettwin_core::iptables::Table;
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
/// NAT target flags (none most often; the first two are DNAT's).
const NAT_FLAGS: [&str; 5] = ["", " --persistent", "", " --random-fully", " --random"];

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
const CTSTATES: [&str; 7] =
    ["NEW", "ESTABLISHED", "RELATED,ESTABLISHED", "DNAT", "SNAT", "INVALID", "UNTRACKED"];
/// REJECT answers.
const REJECT_WITH: [&str; 9] = [
    " --reject-with icmp-host-prohibited",
    " --reject-with icmp-net-prohibited",
    " --reject-with icmp-proto-unreachable",
    " --reject-with icmp-net-unreachable",
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
        1 => (neg(), pick(&["--syn", "--tcp-flags SYN,ACK SYN", "--tcp-flags ALL ACK", "--tcp-flags RST RST"]))
            .prop_map(|(n, f)| format!("-p tcp {n}{f}")),
        1 => (neg(), pick(&["echo-request", "echo-reply", "destination-unreachable", "port-unreachable", "3/13", "any"]))
            .prop_map(|(n, t)| format!("-p icmp {n}--icmp-type {t}")),
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
        opt(
            1,
            (neg(), pick(&["0x2000/0x2000", "0x1", "0x0"]))
                .prop_map(|(n, m)| format!("-m mark {n}--mark {m}")),
        ),
        opt(1, (neg(), pick(&CTSTATES)).prop_map(|(n, c)| format!("-m state {n}--state {c}"))),
        opt(
            1,
            (
                neg(),
                pick(&["--src-range", "--dst-range"]),
                pick(&[
                    "172.26.64.2-172.26.64.3",
                    "192.0.2.1-192.0.2.10",
                    "10.0.0.0-10.255.255.255",
                ]),
            )
                .prop_map(|(n, d, r)| format!("-m iprange {n}{d} {r}")),
        ),
        opt(1, Just("-m limit --limit 5/sec --limit-burst 10".to_owned())),
        opt(1, Just("-m comment --comment \"random rule\"".to_owned())),
    )
        .prop_map(|(s, d, i, o, p, ct, at, mark, state, range, limit, comment)| {
            [s, d, i, o, p, ct, at, mark, state, range, limit, comment]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// A target for a rule of `table` (the ones valid there mostly, others sometimes).
fn target(table: Table) -> impl Strategy<Value = String> + Clone {
    let common = prop_oneof![
        Just("-j ACCEPT".to_owned()),
        Just("-j RETURN".to_owned()),
        pick(&["X", "Y"]).prop_map(|c| format!("-j {c}")),
        pick(&["X", "Y"]).prop_map(|c| format!("-g {c}")),
        pick(&["--set-xmark 0x2000/0x2000", "--set-mark 0x1", "--or-mark 0x1", "--and-mark 0x0"])
            .prop_map(|m| format!("-j MARK {m}")),
        pick(&["INPUT", "FORWARD", "PREROUTING"]).prop_map(|c| format!("-j {c}")),
        pick(&["-j LOG", "-j LOG --log-prefix \"fw: \" --log-level 6", "-j NFLOG --nflog-group 2"])
            .prop_map(str::to_owned),
        pick(&["-p tcp -j TCPMSS --clamp-mss-to-pmtu", "-p tcp -j TCPMSS --set-mss 1400"])
            .prop_map(str::to_owned),
    ];
    let raw_only = prop_oneof![Just("-j NOTRACK".to_owned()), Just("-j CT --notrack".to_owned())];
    let filter = prop_oneof![
        Just("-j DROP".to_owned()),
        pick(&REJECT_WITH).prop_map(|w| format!("-j REJECT{w}")),
    ];
    let nat_only = prop_oneof![
        pick(&NAT_TO).prop_map(|t| format!("-j DNAT --to-destination {t}")),
        (pick(&["172.26.64.2-172.26.64.4", "-p tcp", "-p udp"]), pick(&NAT_FLAGS[..2])).prop_map(
            |(t, f)| match t {
                "-p tcp" | "-p udp" => {
                    format!("{t} -j DNAT --to-destination 172.26.64.2-172.26.64.3:80-90{f}")
                }
                _ => format!("-j DNAT --to-destination {t}{f}"),
            }
        ),
        (
            pick(&["172.26.64.1", "192.0.2.10", "10.99.0.1", "172.26.64.1-172.26.64.3"]),
            pick(&NAT_FLAGS)
        )
            .prop_map(|(t, f)| format!("-j SNAT --to-source {t}{f}")),
        Just("-j MASQUERADE".to_owned()),
        pick(&["-j MASQUERADE --random", "-j MASQUERADE --random-fully"]).prop_map(str::to_owned),
        pick(&["tcp", "udp"]).prop_map(|p| format!("-p {p} -j MASQUERADE --to-ports 20000-20010")),
        pick(&[
            "-p tcp -j REDIRECT",
            "-p tcp -j REDIRECT --to-ports 22",
            "-p udp -j REDIRECT --to-ports 53-80"
        ])
        .prop_map(str::to_owned),
    ];
    match table {
        Table::Nat => prop_oneof![3 => common, 6 => nat_only, 1 => filter].boxed(),
        Table::Filter => {
            prop_oneof![3 => common, 6 => filter, 1 => nat_only, 1 => raw_only].boxed()
        }
        Table::Mangle => {
            prop_oneof![6 => common, 2 => Just("-j DROP".to_owned()), 1 => filter].boxed()
        }
        Table::Raw => {
            prop_oneof![4 => common, 4 => raw_only, 2 => Just("-j DROP".to_owned()), 1 => nat_only]
                .boxed()
        }
    }
}

/// A chain of `table`, built-in or user.
fn chain(table: Table) -> BoxedStrategy<&'static str> {
    match table {
        Table::Nat => prop_oneof![3 => pick(&["PREROUTING", "POSTROUTING", "OUTPUT"]), 1 => Just("INPUT"), 2 => pick(&["X", "Y"])].boxed(),
        Table::Filter => prop_oneof![3 => Just("FORWARD"), 2 => pick(&["INPUT", "OUTPUT"]), 2 => pick(&["X", "Y"])]
            .boxed(),
        Table::Mangle => prop_oneof![5 => pick(&["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]), 2 => pick(&["X", "Y"])].boxed(),
        Table::Raw => prop_oneof![4 => pick(&["PREROUTING", "OUTPUT"]), 1 => Just("INPUT"), 2 => pick(&["X", "Y"])].boxed(),
    }
}

/// The tables commands go to (filter and nat most often).
fn table() -> impl Strategy<Value = Table> {
    prop_oneof![4 => Just(Table::Filter), 3 => Just(Table::Nat), 2 => Just(Table::Mangle), 1 => Just(Table::Raw)]
}

/// One iptables command line (after `iptables`), for any modeled table.
pub fn command() -> impl Strategy<Value = String> {
    table().prop_flat_map(|table| {
        let t = match table {
            Table::Filter => "",
            Table::Nat => "-t nat ",
            Table::Mangle => "-t mangle ",
            Table::Raw => "-t raw ",
        };
        let wait = prop_oneof![6 => Just(""), 1 => Just("-w "), 1 => Just("-w 5 ")];
        let rule = (match_part(), target(table)).prop_map(|(m, j)| {
            if m.is_empty() { j } else { format!("{m} {j}") }
        });
        let nat = table;
        prop_oneof![
            10 => (chain(nat), rule.clone()).prop_map(move |(c, r)| format!("{t}-A {c} {r}")),
            3 => (chain(nat), 1u32..4, rule.clone()).prop_map(move |(c, n, r)| format!("{t}-I {c} {n} {r}")),
            1 => (chain(nat), rule.clone()).prop_map(move |(c, r)| format!("{t}-D {c} {r}")),
            1 => (chain(nat), 1u32..3).prop_map(move |(c, n)| format!("{t}-D {c} {n}")),
            1 => chain(nat).prop_map(move |c| format!("{t}-F {c}")),
            1 => chain(nat).prop_map(move |c| format!("{t}-X {c}")),
            1 => pick(&["X", "Y", "Z"]).prop_map(move |c| format!("{t}-N {c}")),
            2 => (chain(nat), prop::bool::weighted(0.7))
                .prop_map(move |(c, d)| format!("{t}-P {c} {}", if d { "DROP" } else { "ACCEPT" })),
            1 => (chain(nat), 1u32..3, rule.clone()).prop_map(move |(c, n, r)| format!("{t}-R {c} {n} {r}")),
            1 => prop_oneof![
                Just(String::new()),
                chain(nat).prop_map(|c| format!(" {c}")),
                (chain(nat), 1u32..3).prop_map(|(c, n)| format!(" {c} {n}")),
            ]
            .prop_map(move |z| format!("{t}-Z{z}")),
        ]
        .prop_flat_map(move |cmd| wait.clone().prop_map(move |w| format!("{w}{cmd}")))
    })
}
