//! Traversal: jump/goto/RETURN, policies, marks, multiport, negations, addrtype, conntrack
//! states, and the index agreeing with a plain scan of every rule.

use std::net::Ipv4Addr;

use nettwin_core::addr::{Cidr, Endpoint, Proto};
use nettwin_core::iptables::{
    AddrType, ChainRules, CtStates, IfacePattern, Match, Neg, Policy, PortDir, PortRange,
    RejectWith, Rule, Target,
};
use nettwin_core::names::ChainName;
use nettwin_core::trace::Flow;

use super::{Ctx, Decision, Firewall, Hit, Traversal};
use crate::topo::NsTopo;

fn rule(target: Target) -> Rule {
    Rule {
        src: None,
        dst: None,
        in_iface: None,
        out_iface: None,
        proto: None,
        matches: Vec::new(),
        target,
    }
}

fn chain(name: &str) -> ChainName {
    ChainName::new(name).unwrap_or_else(|e| panic!("{e}"))
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn builtin(policy: Policy, rules: Vec<Rule>) -> ChainRules {
    ChainRules { policy: Some(policy), rules }
}

fn user(rules: Vec<Rule>) -> ChainRules {
    ChainRules { policy: None, rules }
}

fn tcp(src: &str, dst: &str) -> Flow {
    Flow {
        proto: Proto::Tcp,
        src: src.parse().unwrap_or_else(|e| panic!("{e}")),
        dst: dst.parse().unwrap_or_else(|e| panic!("{e}")),
    }
}

fn run(fw: &Firewall, flow: Flow, mark: u32, ct: CtStates) -> Traversal<'_> {
    let topo = NsTopo::empty();
    let mut ctx = Ctx {
        flow,
        in_dev: Some("eth0"),
        out_dev: Some("nomad"),
        mark,
        ct,
        topo: &topo,
        info: super::PacketInfo::default(),
    };
    let mut scratch = super::Scratch::default();
    fw.traverse(nettwin_core::iptables::Table::Filter, "FORWARD", &mut ctx, &mut scratch)
}

fn hits(t: &Traversal) -> Vec<String> {
    t.path
        .iter()
        .map(|h: &Hit<'_>| match h.rule {
            Some(n) => format!("{} #{n}", h.chain),
            None => h.chain.to_owned(),
        })
        .collect()
}

fn filter(chains: Vec<(&str, ChainRules)>) -> Firewall {
    Firewall::from_chains(&chains, &[])
}

#[test]
fn jump_falls_off_the_user_chain_and_continues_in_the_caller() {
    let mut accept_a6 = rule(Target::Accept);
    accept_a6.dst = Some(Neg::plain(cidr("172.26.64.6/32")));
    let fw = filter(vec![
        ("FORWARD", builtin(Policy::Drop, vec![rule(Target::Jump(chain("USER"))), accept_a6])),
        ("USER", user(vec![rule(Target::None)])),
    ]);
    let t = run(&fw, tcp("192.0.2.1:1", "172.26.64.6:80"), 0, CtStates::NEW);
    assert_eq!(t.decision, Decision::Accept);
    assert_eq!(hits(&t), ["FORWARD #1", "USER", "FORWARD #2"]);
    let t = run(&fw, tcp("192.0.2.1:1", "172.26.64.7:80"), 0, CtStates::NEW);
    assert_eq!(t.decision, Decision::Drop);
    assert_eq!(hits(&t), ["FORWARD #1", "USER", "FORWARD"]);
}

#[test]
fn goto_returns_past_the_chain_that_went_there() {
    // FORWARD -j A; A -g B; B falls off: back to FORWARD (not A), which rejects.
    let fw = filter(vec![
        (
            "FORWARD",
            builtin(
                Policy::Accept,
                vec![rule(Target::Jump(chain("A"))), rule(Target::Reject(RejectWith::TcpReset))],
            ),
        ),
        ("A", user(vec![rule(Target::Goto(chain("B"))), rule(Target::Accept)])),
        ("B", user(vec![])),
    ]);
    let t = run(&fw, tcp("10.0.0.1:1", "10.0.0.2:2"), 0, CtStates::NEW);
    assert_eq!(t.decision, Decision::Reject(RejectWith::TcpReset));
    assert_eq!(hits(&t), ["FORWARD #1", "A #1", "B", "FORWARD #2"]);
}

#[test]
fn goto_from_the_builtin_chain_ends_in_its_policy() {
    let fw = filter(vec![
        (
            "FORWARD",
            builtin(Policy::Drop, vec![rule(Target::Goto(chain("B"))), rule(Target::Accept)]),
        ),
        ("B", user(vec![])),
    ]);
    let t = run(&fw, tcp("10.0.0.1:1", "10.0.0.2:2"), 0, CtStates::NEW);
    assert_eq!(t.decision, Decision::Drop);
    assert_eq!(hits(&t), ["FORWARD #1", "B", "FORWARD"]);
    assert!(t.by_rule().is_none(), "the policy decided");
}

#[test]
fn return_in_the_builtin_chain_applies_the_policy() {
    let fw = filter(vec![(
        "FORWARD",
        builtin(Policy::Drop, vec![rule(Target::Return), rule(Target::Accept)]),
    )]);
    let t = run(&fw, tcp("10.0.0.1:1", "10.0.0.2:2"), 0, CtStates::NEW);
    assert_eq!(t.decision, Decision::Drop);
    assert_eq!(hits(&t), ["FORWARD #1", "FORWARD"]);
}

#[test]
fn return_in_a_user_chain_resumes_the_caller_after_the_jump() {
    let fw = filter(vec![
        (
            "FORWARD",
            builtin(Policy::Accept, vec![rule(Target::Jump(chain("U"))), rule(Target::Drop)]),
        ),
        ("U", user(vec![rule(Target::Return), rule(Target::Accept)])),
    ]);
    let t = run(&fw, tcp("10.0.0.1:1", "10.0.0.2:2"), 0, CtStates::NEW);
    assert_eq!(t.decision, Decision::Drop);
    assert_eq!(hits(&t), ["FORWARD #1", "U #1", "FORWARD #2"]);
}

#[test]
fn mark_set_in_a_chain_is_matched_later_in_the_same_traversal() {
    let mut marked = rule(Target::Drop);
    marked.matches = vec![Match::Mark { negated: false, value: 0x2000, mask: 0x2000 }];
    let fw = filter(vec![
        ("FORWARD", builtin(Policy::Accept, vec![rule(Target::Jump(chain("SETMARK"))), marked])),
        ("SETMARK", user(vec![rule(Target::Mark { value: 0x2000, mask: 0x2000 })])),
    ]);
    let t = run(&fw, tcp("10.0.0.1:1", "10.0.0.2:2"), 0x1, CtStates::NEW);
    assert_eq!(t.decision, Decision::Drop);
    assert_eq!(t.mark, 0x2001, "--set-xmark keeps bits outside the mask");
}

#[test]
fn multiport_and_negations_match_as_iptables_does() {
    let mut mp = rule(Target::Accept);
    mp.proto = Some(Neg::plain(Proto::Tcp));
    mp.matches = vec![Match::Multiport {
        dir: PortDir::Destination,
        ports: Neg::plain(vec![PortRange::one(8080), PortRange { lo: 25000, hi: 25001 }]),
    }];
    let mut not_multicast = rule(Target::Reject(RejectWith::PortUnreachable));
    not_multicast.dst = Some(Neg { negated: true, value: cidr("224.0.0.0/4") });
    not_multicast.in_iface =
        Some(Neg { negated: true, value: IfacePattern::new("veth+").unwrap_or_else(|| panic!()) });
    let fw = filter(vec![("FORWARD", builtin(Policy::Drop, vec![mp, not_multicast]))]);
    let d = |dst: &str| run(&fw, tcp("10.0.0.1:1", dst), 0, CtStates::NEW).decision;
    assert_eq!(d("10.0.0.2:8080"), Decision::Accept);
    assert_eq!(d("10.0.0.2:25001"), Decision::Accept);
    assert_eq!(d("10.0.0.2:8081"), Decision::Reject(RejectWith::PortUnreachable));
    assert_eq!(d("224.0.0.5:8081"), Decision::Drop);
}

#[test]
fn ctstate_and_addrtype_matches() {
    let mut est = rule(Target::Accept);
    est.matches = vec![Match::Conntrack {
        ctstate: Neg::plain(CtStates::RELATED.union(CtStates::ESTABLISHED)),
    }];
    let mut local = rule(Target::Drop);
    local.matches = vec![Match::AddrType { src: None, dst: Some(Neg::plain(AddrType::Local)) }];
    let fw = filter(vec![("FORWARD", builtin(Policy::Accept, vec![est, local]))]);
    let t = run(&fw, tcp("10.0.0.1:1", "10.0.0.2:2"), 0, CtStates::ESTABLISHED);
    assert_eq!(hits(&t), ["FORWARD #1"]);
    // Nothing is local in an empty namespace: the addrtype rule does not match.
    let t = run(&fw, tcp("10.0.0.1:1", "127.0.0.1:2"), 0, CtStates::NEW);
    assert_eq!(hits(&t), ["FORWARD"]);
}

/// A plain scan of every rule, following the same jump semantics, as the reference the
/// index must agree with (decision only).
fn scan(chains: &[(&str, ChainRules)], flow: Flow) -> Decision {
    fn walk(
        chains: &[(&str, ChainRules)],
        name: &str,
        flow: &Flow,
        depth: u32,
    ) -> Option<Decision> {
        let (_, c) = chains.iter().find(|(n, _)| *n == name)?;
        for r in &c.rules {
            let ok = r.src.is_none_or(|s| s.apply(s.value.contains(flow.src.ip)))
                && r.dst.is_none_or(|s| s.apply(s.value.contains(flow.dst.ip)))
                && r.matches.iter().all(|m| match m {
                    Match::Tcp { dport, .. } => {
                        dport.is_none_or(|p| p.apply(p.value.contains(flow.dst.port)))
                    }
                    _ => true,
                });
            if !ok {
                continue;
            }
            match &r.target {
                Target::Accept => return Some(Decision::Accept),
                Target::Drop => return Some(Decision::Drop),
                Target::Jump(c) if depth < 8 => {
                    if let Some(d) = walk(chains, c.as_str(), flow, depth + 1) {
                        return Some(d);
                    }
                }
                _ => {}
            }
        }
        None
    }
    walk(chains, "FORWARD", &flow, 0).unwrap_or(Decision::Accept)
}

#[test]
fn index_agrees_with_a_scan_of_every_rule() {
    // Rules keyed every way the index files them: exact destination, exact source,
    // destination port, wildcard (a /24), with both verdicts, spread over two chains.
    let mut fwd = Vec::new();
    let mut sub = Vec::new();
    for i in 0..40u8 {
        let target = if i % 3 == 0 { Target::Drop } else { Target::Accept };
        let mut r = rule(target);
        match i % 4 {
            0 => r.dst = Some(Neg::plain(Cidr::host(Ipv4Addr::new(10, 0, 0, i)))),
            1 => r.src = Some(Neg::plain(Cidr::host(Ipv4Addr::new(10, 0, 1, i)))),
            2 => {
                r.proto = Some(Neg::plain(Proto::Tcp));
                r.matches = vec![Match::Tcp {
                    sport: None,
                    dport: Some(Neg::plain(PortRange::one(u16::from(i)))),
                    flags: None,
                }];
            }
            _ => r.dst = Some(Neg::plain(Cidr::containing(Ipv4Addr::new(10, 0, i, 0), 24))),
        }
        if i % 5 == 0 {
            sub.push(r)
        } else {
            fwd.push(r)
        }
        if i == 20 {
            fwd.push(rule(Target::Jump(chain("SUB"))));
        }
    }
    let chains = vec![("FORWARD", builtin(Policy::Accept, fwd)), ("SUB", user(sub))];
    let fw = filter(chains.clone());
    for a in 0..42u8 {
        for b in [0u8, 1, 2, 5, 10, 20, 30, 39] {
            let flow = Flow {
                proto: Proto::Tcp,
                src: Endpoint::new(Ipv4Addr::new(10, 0, 1, a), 1),
                dst: Endpoint::new(Ipv4Addr::new(10, 0, b, a), u16::from(b)),
            };
            let got = run(&fw, flow, 0, CtStates::NEW).decision;
            assert_eq!(got, scan(&chains, flow), "{flow:?}");
        }
    }
}
