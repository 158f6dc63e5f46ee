//! The scenario writer: a scenario as data (`Draft`: ops, the errors they must fail with,
//! probes and what must happen to them) printed as a file that `load` reads back and
//! `nettwin check` replays. The differential suites write their shrunk counterexamples with
//! it, expectations taken from the kernel's run (`expectation_of`).
//!
//! Every scalar is single-quoted (the op text holds `: ` and `"` often enough), so the
//! writer never has to decide what YAML would misread.

use std::fmt::Write as _;

use nettwin_core::error::ErrorKind;
use nettwin_core::op::Op;
use nettwin_core::trace::{Dir, Probe, Trace};

use crate::format::Destination;
use crate::scenario::OutcomeKind;
use crate::scenario::{Expectation, HopPattern, PathPattern, SeenSrc};

/// A scenario as data, before it is a file.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// The scenario's short name (also the file's stem by the library's convention).
    pub name: String,
    /// What it teaches (or, for a counterexample, what the two backends disagree on).
    pub description: String,
    /// Comment lines printed before everything else (seed, how to replay), without `#`.
    pub header: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<DraftStep>,
    /// The probes, in order.
    pub probes: Vec<DraftProbe>,
}

/// One step of a draft.
#[derive(Clone, Debug)]
pub struct DraftStep {
    /// The op.
    pub op: Op,
    /// The kind of refusal the step must fail with; `None` when it must succeed.
    pub error: Option<ErrorKind>,
}

/// One probe of a draft. The probe's `name` must be unique and not empty.
#[derive(Clone, Debug)]
pub struct DraftProbe {
    /// The flow.
    pub probe: Probe,
    /// What must happen to it.
    pub expect: Expectation,
}

/// The expectation a trace meets exactly: its outcome and where, the source the receiver
/// saw (address and port) when delivered, and its whole wire path.
pub fn expectation_of(trace: &Trace) -> Expectation {
    let outcome = match trace.outcome.kind() {
        "delivered" => OutcomeKind::Delivered,
        "refused" => OutcomeKind::Refused,
        "dropped" => OutcomeKind::Dropped,
        "no-route" => OutcomeKind::NoRoute,
        "send-failed" => OutcomeKind::SendFailed,
        _ => OutcomeKind::TimedOut,
    };
    let at = Some(trace.outcome.netns().clone());
    let seen_src = trace.outcome.seen_src().map(|e| SeenSrc { ip: e.ip, port: Some(e.port) });
    let path = trace
        .wire_path()
        .into_iter()
        .map(|(netns, device, dir)| HopPattern::Hop {
            netns: netns.to_string(),
            device: device.to_string(),
            dir: matches!(dir, Dir::In | Dir::Out).then_some(dir),
        })
        .collect();
    Expectation { outcome, at, seen_src, path: Some(PathPattern(path)) }
}

/// `text` as a single-quoted YAML scalar.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Draft {
    /// The scenario file's text.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "name: {}", quoted(&self.name));
        let _ = writeln!(out, "description: {}", quoted(&self.description));
        out.push_str(if self.steps.is_empty() { "steps: []\n" } else { "steps:\n" });
        for step in &self.steps {
            let text = quoted(&step.op.to_string());
            match step.error {
                None => {
                    let _ = writeln!(out, "  - {text}");
                }
                Some(kind) => {
                    let _ = writeln!(out, "  - run: {text}");
                    let _ = writeln!(out, "    error: {kind}");
                }
            }
        }
        out.push_str(if self.probes.is_empty() { "probes: []\n" } else { "probes:\n" });
        for p in &self.probes {
            write_probe(&mut out, p);
        }
        out
    }
}

fn write_probe(out: &mut String, p: &DraftProbe) {
    let probe = &p.probe;
    let to = Destination { dst: probe.dst, proto: probe.proto };
    let _ = writeln!(out, "  - name: {}", quoted(&probe.name));
    let _ = writeln!(out, "    from: {}", quoted(probe.from.as_str()));
    let _ = writeln!(out, "    to: {}", quoted(&to.to_string()));
    if let Some(src) = probe.src {
        let _ = writeln!(out, "    src: {}", quoted(&src.to_string()));
    }
    if let Some(sport) = probe.sport {
        let _ = writeln!(out, "    sport: {sport}");
    }
    let e = &p.expect;
    let _ = writeln!(out, "    expect:");
    let _ = writeln!(out, "      outcome: {}", e.outcome);
    if let Some(at) = &e.at {
        let _ = writeln!(out, "      at: {}", quoted(at.as_str()));
    }
    if let Some(src) = &e.seen_src {
        let _ = writeln!(out, "      seen_src: {}", quoted(&src.to_string()));
    }
    if let Some(path) = &e.path {
        let hops: Vec<String> = path.0.iter().map(|h| quoted(&h.to_string())).collect();
        let _ = writeln!(out, "      path: [{}]", hops.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;
    use nettwin_core::addr::{Endpoint, Proto};
    use nettwin_core::names::NetnsName;

    fn op(text: &str) -> Op {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn ns(name: &str) -> NetnsName {
        NetnsName::new(name).unwrap_or_else(|e| panic!("{e}"))
    }

    fn draft() -> Draft {
        let rule =
            r#"ip netns exec b iptables -A INPUT -p tcp -m comment --comment "it's: 81" -j DROP"#;
        Draft {
            name: "counterexample".into(),
            description: "sim and linux disagree: the path's second hop".into(),
            header: vec!["seed 0123".into(), "replay: nettwin --backend both check FILE".into()],
            steps: vec![
                DraftStep { op: op("ip netns add a"), error: None },
                DraftStep { op: op("ip netns add b"), error: None },
                DraftStep {
                    op: op("ip -n ghost link set lo up"),
                    error: Some(ErrorKind::NotFound),
                },
                DraftStep { op: op(rule), error: None },
            ],
            probes: vec![DraftProbe {
                probe: Probe {
                    name: "p1 tcp a → 10.0.0.2:80".into(),
                    from: ns("a"),
                    src: Some("10.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"))),
                    sport: Some(41000),
                    dst: Endpoint::new("10.0.0.2".parse().unwrap_or_else(|e| panic!("{e}")), 80),
                    proto: Proto::Tcp,
                },
                expect: Expectation {
                    outcome: OutcomeKind::Delivered,
                    at: Some(ns("b")),
                    seen_src: "10.0.0.1:41000".parse().ok(),
                    path: Some(PathPattern(vec![
                        "a/v0:out".parse().unwrap_or_else(|e| panic!("{e}")),
                        "b/v1:in".parse().unwrap_or_else(|e| panic!("{e}")),
                    ])),
                },
            }],
        }
    }

    #[test]
    fn a_written_draft_loads_back_with_the_same_steps_probes_and_expectations() {
        let d = draft();
        let text = d.to_yaml();
        let s = load_str("counterexample.yaml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(s.name, d.name);
        assert_eq!(s.description, d.description);
        let ops: Vec<&Op> = s.steps.iter().map(|s| &s.op).collect();
        let want: Vec<&Op> = d.steps.iter().map(|s| &s.op).collect();
        assert_eq!(ops, want);
        assert_eq!(s.steps[2].expect.as_ref().map(|e| e.kind), Some(ErrorKind::NotFound));
        assert_eq!(s.probes[0].probe, d.probes[0].probe);
        assert_eq!(s.probes[0].expect, d.probes[0].expect);
        assert!(text.starts_with("# seed 0123\n"), "{text}");
    }

    #[test]
    fn an_empty_draft_is_still_a_file_that_loads() {
        let d = Draft { name: "empty".into(), description: "nothing".into(), ..Draft::default() };
        let s = load_str("empty.yaml", &d.to_yaml()).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.steps.is_empty() && s.probes.is_empty());
    }
}
