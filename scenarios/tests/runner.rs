//! The runner against a stand-in backend: the model's `State` for ops, and canned traces
//! for probes, so that every kind of mismatch can be produced on purpose.

use std::net::Ipv4Addr;

use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::backend::{Backend, BackendError};
use nettwin_core::error::OpError;
use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::op::{Effect, Op};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::state::{Socket, State};
use nettwin_core::trace::{Dir, Flow, Hop, Outcome, Probe, Step, Trace};
use nettwin_scenarios::{Mismatch, RunError, load_str, run};

/// Applies ops to the model; every probe is "delivered to b from 10.0.0.1" over a/v0 → b/v1.
struct Canned {
    state: State,
    batches: usize,
    probes: Vec<String>,
}

impl Backend for Canned {
    fn name(&self) -> &'static str {
        "canned"
    }
    fn apply(&mut self, op: &Op) -> Result<Effect, OpError> {
        self.state.apply(op)
    }
    fn apply_all(&mut self, ops: &[Op]) -> Vec<Result<Effect, OpError>> {
        self.batches += 1;
        ops.iter().map(|op| self.apply(op)).collect()
    }
    fn observe(&mut self) -> Result<Snapshot, BackendError> {
        Ok(Snapshot::of(&self.state))
    }
    fn probe(&mut self, probe: &Probe) -> Result<Trace, BackendError> {
        self.probes.push(probe.name.clone());
        let ns = |s: &str| NetnsName::new(s).expect("ns");
        let dev = |s: &str| IfName::new(s).expect("dev");
        let src = Endpoint::new(Ipv4Addr::new(10, 0, 0, 1), probe.sport.unwrap_or(40000));
        let flow = Flow { proto: probe.proto, src, dst: probe.dst };
        let hop = |n: &str, d: &str, dir| Hop {
            netns: ns(n),
            device: Some(dev(d)),
            dir,
            packet: flow,
            step: Step::Seen,
        };
        Ok(Trace {
            probe: probe.clone(),
            flow,
            hops: vec![hop("a", "v0", Dir::Out), hop("b", "v1", Dir::In)],
            outcome: Outcome::Delivered {
                netns: ns("b"),
                socket: Some(Socket {
                    proto: Proto::Tcp,
                    at: Endpoint::new(Ipv4Addr::UNSPECIFIED, 80),
                }),
                seen_src: src,
            },
            reply: Vec::new(),
        })
    }
}

fn backend() -> Canned {
    Canned { state: State::new(), batches: 0, probes: Vec::new() }
}

const HEAD: &str = "name: t\ndescription: d\nsteps:\n  - ip netns add a\n  - ip netns add b\n";

#[test]
fn met_expectations_pass_and_steps_go_in_one_batch() {
    let text = format!(
        "{HEAD}  - run: ip netns add a\n    error: already-exists\nprobes:\n  - name: p\n    from: a\n    to: 10.0.0.2:80/tcp\n    expect: {{ outcome: delivered, at: b, seen_src: 10.0.0.1, path: [a/v0, b/*] }}\n"
    );
    let s = load_str("t.yaml", &text).expect("loads");
    let mut b = backend();
    let r = run(&s, &mut b, None).expect("runs");
    assert!(r.passed(), "{:?}", r.mismatches);
    assert_eq!(b.batches, 1);
    assert_eq!(r.traces.len(), 1);
}

#[test]
fn unexpected_failure_and_unexpected_success_are_mismatches() {
    let text = format!(
        "{HEAD}  - ip -n a link set nope up\n  - run: ip netns add c\n    error: already-exists\n  - run: ip netns add b\n    error: already-exists\n    message: nothing like this\n"
    );
    let s = load_str("t.yaml", &text).expect("loads");
    let r = run(&s, &mut backend(), None).expect("runs");
    let lines: Vec<String> = r.mismatches.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0]
            .starts_with("line 6: step `ip -n a link set nope up` failed: could not find \"nope\""),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], "line 7: step `ip netns add c`: expected already-exists, got success");
    assert!(lines[2].starts_with("line 9: step `ip netns add b`: expected already-exists with a message containing \"nothing like this\", got already-exists ("), "{}", lines[2]);
}

#[test]
fn probe_mismatch_names_field_expected_and_got() {
    let text = format!(
        "{HEAD}probes:\n  - name: p\n    from: a\n    to: 10.0.0.2:80/tcp\n    expect: {{ outcome: dropped, at: a, path: [a/v0, \"*\", a/v0] }}\n"
    );
    let s = load_str("t.yaml", &text).expect("loads");
    let r = run(&s, &mut backend(), None).expect("runs");
    let got: Vec<(&'static str, String, String)> = r
        .mismatches
        .iter()
        .map(|m| match m {
            Mismatch::Probe { field, expected, got, .. } => (*field, expected.clone(), got.clone()),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("outcome", "dropped".into(), "delivered".into()),
            ("at", "a".into(), "b".into()),
            ("path", "[a/v0, *, a/v0]".into(), "[a/v0:out, b/v1:in]".into()),
        ]
    );
    assert_eq!(
        r.mismatches[0].to_string(),
        "line 7: probe \"p\": outcome: expected dropped, got delivered"
    );
}

#[test]
fn selecting_one_probe_sends_the_earlier_ones_too() {
    let text = format!(
        "{HEAD}probes:\n  - name: first\n    from: a\n    to: 10.0.0.2:80/tcp\n    expect: {{ outcome: delivered }}\n  - name: second\n    from: a\n    to: 10.0.0.2:81/tcp\n    expect: {{ outcome: delivered }}\n  - name: third\n    from: a\n    to: 10.0.0.2:82/tcp\n    expect: {{ outcome: delivered }}\n"
    );
    let s = load_str("t.yaml", &text).expect("loads");
    let mut b = backend();
    let r = run(&s, &mut b, Some("second")).expect("runs");
    assert_eq!(b.probes, vec!["first", "second"]);
    assert_eq!(r.traces.len(), 1);
    assert_eq!(r.traces[0].index, 1);
    match run(&s, &mut backend(), Some("fourth")) {
        Err(RunError::NoSuchProbe { known, .. }) => {
            assert_eq!(known, vec!["first", "second", "third"])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn identical_runs_agree_and_each_difference_is_a_side_by_side_disagreement() {
    use nettwin_scenarios::compare::{Disagreement, Sides, compare};
    let text = format!(
        "{HEAD}  - run: ip netns add a\n    error: already-exists\nprobes:\n  - name: p\n    from: a\n    to: 10.0.0.2:80/tcp\n    expect: {{ outcome: delivered }}\n"
    );
    let s = load_str("t.yaml", &text).expect("loads");
    let (mut left, mut right) = (backend(), backend());
    let l = run(&s, &mut left, None).expect("runs");
    let mut r = run(&s, &mut right, None).expect("runs");
    let (ls, rs) = (left.observe().expect("state"), right.observe().expect("state"));
    assert_eq!(compare(&s, (&l, &ls), (&r, &rs)), Vec::<Disagreement>::new());

    r.steps[2] = Ok(Effect::Done);
    r.traces[0].trace.outcome = Outcome::TimedOut {
        netns: NetnsName::new("b").expect("ns"),
        why: nettwin_core::trace::Silence::NoAnswer,
    };
    let d = compare(&s, (&l, &ls), (&r, &rs));
    let sides = Sides { left: "sim", right: "linux" };
    let lines: Vec<String> = d.iter().map(|d| d.render(&sides)).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with("line 6: step `ip netns add a`\n    sim    already-exists ("),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with("\n    linux  ok"), "{}", lines[0]);
    assert_eq!(
        lines[1],
        "probe \"p\": outcome\n    sim    delivered at b\n    linux  timed-out at b"
    );
    assert_eq!(lines[2], "probe \"p\": seen_src\n    sim    10.0.0.1:40000\n    linux  -");
}
