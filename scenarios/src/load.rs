//! Loading: YAML text → `ScenarioFile` (shape) → `Scenario` (meaning). Every refusal is a
//! `Problem` with the place of the offending text; the checks of meaning collect every
//! problem of a file instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use nettwin_core::iptables::{Command, Table, target_names};
use nettwin_core::names::{ChainName, NetnsName};
use nettwin_core::op::{Op, text::parse_op};
use nettwin_core::text::did_you_mean;
use nettwin_core::trace::Probe;
use serde_saphyr::{DefaultMessageFormatter, MessageFormatter, Spanned};

use crate::error::{InvalidScenario, LoadError, Problem, ProblemKind};
use crate::format::{ProbeEntry, ScenarioFile, StepEntry};
use crate::scenario::{
    Expectation, ExpectedError, HopPattern, OutcomeKind, PathPattern, ProbeCase, Scenario, Step,
};
use crate::source::{YamlPlaces, col, place_of};
use nettwin_core::source::{Place, SourceFile};

/// Reads and loads one scenario file; `path` as given names the file in messages.
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    let read = |source| LoadError::Read { path: path.to_owned(), source };
    // Never open what is not a regular file: a FIFO would block, a device never end.
    if !std::fs::metadata(path).map_err(read)?.is_file() {
        return Err(LoadError::NotAFile { path: path.to_owned() });
    }
    let bytes = std::fs::read(path).map_err(read)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let valid = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
        let at = SourceFile::new("", valid).place(offset..offset);
        LoadError::NotUtf8 { path: path.to_owned(), line: at.line, column: at.column, offset }
    })?;
    Ok(load_str(&path.display().to_string(), &text)?)
}

/// Loads a scenario from its text; `name` names the file in messages.
pub fn load_str(name: &str, text: &str) -> Result<Scenario, InvalidScenario> {
    let file = SourceFile::new(name, text);
    let raw: ScenarioFile = match serde_saphyr::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let problem = yaml_problem(&file, &e);
            return Err(InvalidScenario { file, problems: vec![problem] });
        }
    };
    let mut problems = Vec::new();
    let scenario = check(&file, raw, &mut problems);
    if problems.is_empty() {
        Ok(scenario)
    } else {
        problems.sort_by_key(|p| p.place.bytes.start);
        Err(InvalidScenario { file, problems })
    }
}

fn yaml_problem(file: &SourceFile, e: &serde_saphyr::Error) -> Problem {
    let inner = e.without_snippet();
    let message = DefaultMessageFormatter.format_message(inner).into_owned();
    let place = match e.location() {
        Some(loc) if loc.line() > 0 => {
            file.token_place(usize::try_from(loc.line()).unwrap_or(usize::MAX), col(loc.column()))
        }
        _ => file.place(file.text.len()..file.text.len()),
    };
    Problem { place, kind: ProblemKind::Yaml { message } }
}

/// Checks the meaning of a file that has the right shape; pushes every problem found.
fn check(file: &SourceFile, raw: ScenarioFile, problems: &mut Vec<Problem>) -> Scenario {
    let before = problems.len();
    let nomad = raw
        .nomad
        .as_ref()
        .map(|n| crate::nomad::expand(file, &raw.name.value, n, problems))
        .unwrap_or_default();
    // A `nomad:` section that could not be planned creates namespaces nobody can name: one
    // mistake is one error, not one more for every step and probe that uses them.
    let namespaces = if problems.len() > before { Known::Any } else { Known::Checked };
    let mut steps = nomad.steps;
    let known: BTreeSet<String> = steps
        .iter()
        .filter_map(|s| match &s.op {
            Op::NetnsAdd { name } => Some(name.to_string()),
            _ => None,
        })
        .collect();
    // Chains the section's steps created, per namespace and table.
    let chains = steps
        .iter()
        .filter_map(|s| match &s.op {
            Op::Iptables { netns, table, cmd: Command::NewChain(c) } => {
                Some((netns.clone(), *table, c.clone()))
            }
            _ => None,
        })
        .collect();
    steps.extend(check_steps(file, &raw.steps, known, chains, namespaces, problems));
    let created: BTreeSet<&str> = steps
        .iter()
        .filter_map(|s| match &s.op {
            Op::NetnsAdd { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let probes = check_probes(file, &raw.probes, &created, namespaces, &nomad.aliases, problems);
    Scenario {
        file: file.clone(),
        name: raw.name.value,
        description: raw.description.value,
        steps,
        probes,
    }
}

/// Whether namespace names are checked against the steps that create them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Known {
    /// Every name must be created by a step.
    Checked,
    /// Any name is taken (what creates them could not be worked out).
    Any,
}

/// Checks the `steps:`; `known` holds the namespaces earlier steps (the `nomad:`
/// section's) created.
fn check_steps(
    file: &SourceFile,
    entries: &[Spanned<StepEntry>],
    mut known: BTreeSet<String>,
    mut chains: BTreeSet<(NetnsName, Table, ChainName)>,
    namespaces: Known,
    problems: &mut Vec<Problem>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    for entry in entries {
        let (text, place, expect) = match &entry.value {
            StepEntry::Run(text) => (text.as_str(), place_of(file, entry), None),
            StepEntry::Fails(f) => {
                let expect = ExpectedError {
                    kind: f.error.value.0,
                    message: f.message.as_ref().map(|m| m.value.clone()),
                };
                (f.run.value.as_str(), place_of(file, &f.run), Some(expect))
            }
        };
        let op = match parse_op(text) {
            Ok(op) => op,
            Err(error) => {
                let place = token_in_scalar(file, &place, text, error.span.clone());
                problems.push(Problem {
                    place,
                    kind: ProblemKind::Op { text: text.to_owned(), error },
                });
                continue;
            }
        };
        if expect.is_none() && namespaces == Known::Checked {
            let adding = match &op {
                Op::NetnsAdd { name } => Some(name),
                _ => None,
            };
            for ns in op.namespaces() {
                if Some(ns) != adding && !known.contains(ns.as_str()) {
                    let place = word_in_scalar(file, &place, text, ns.as_str());
                    problems.push(Problem {
                        place,
                        kind: ProblemKind::UnknownNetns {
                            name: ns.to_string(),
                            what: "namespace",
                            by: "an earlier step",
                        },
                    });
                }
            }
        }
        if let Op::NetnsAdd { name } = &op {
            known.insert(name.to_string());
        }
        if let Op::Iptables { netns, table, cmd } = &op {
            let key = |c: &ChainName| (netns.clone(), *table, c.clone());
            match cmd {
                Command::NewChain(c) => {
                    chains.insert(key(c));
                }
                Command::Append(_, r) | Command::Insert(_, _, r) if expect.is_none() => {
                    if let Some(c) = r.target.chain()
                        && !table.is_builtin(c.as_str())
                        && !chains.contains(&key(c))
                        && namespaces == Known::Checked
                    {
                        let mine: Vec<&str> = chains
                            .iter()
                            .filter(|(n, t, _)| n == netns && t == table)
                            .map(|(_, _, c)| c.as_str())
                            .collect();
                        let targets: Vec<&str> = target_names().collect();
                        let suggestion = did_you_mean(c.as_str(), &targets)
                            .map(|t| format!("the target {t}"))
                            .or_else(|| {
                                did_you_mean(c.as_str(), &mine).map(|m| format!("the chain {m}"))
                            });
                        problems.push(Problem {
                            place: word_in_scalar(file, &place, text, c.as_str()),
                            kind: ProblemKind::UnknownChain {
                                name: c.to_string(),
                                table: table.as_str(),
                                suggestion,
                            },
                        });
                    }
                }
                _ => {}
            }
        }
        steps.push(Step { op, written: Some(text.to_owned()), expect, place });
    }
    steps
}

/// The place of a byte range of a scalar's value; the whole scalar when it cannot be
/// aligned with the file.
fn token_in_scalar(
    file: &SourceFile,
    scalar: &Place,
    value: &str,
    range: std::ops::Range<usize>,
) -> Place {
    match file.map_scalar(scalar.bytes.start, value, range) {
        Some(bytes) => file.place(bytes),
        None => scalar.clone(),
    }
}

/// The place of the first token of an op text equal to `word`.
fn word_in_scalar(file: &SourceFile, scalar: &Place, value: &str, word: &str) -> Place {
    let tokens = nettwin_core::text::tokenize(value).unwrap_or_default();
    match tokens.iter().find(|t| t.text == word) {
        Some(t) => token_in_scalar(file, scalar, value, t.span.clone()),
        None => scalar.clone(),
    }
}

/// Checks the probes; a namespace may be named by an alias (a `nomad:` group's name).
fn check_probes(
    file: &SourceFile,
    entries: &[ProbeEntry],
    created: &BTreeSet<&str>,
    namespaces: Known,
    aliases: &BTreeMap<String, NetnsName>,
    problems: &mut Vec<Problem>,
) -> Vec<ProbeCase> {
    let resolve = |n: &NetnsName| aliases.get(n.as_str()).cloned().unwrap_or_else(|| n.clone());
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut probes = Vec::new();
    let unknown = |place: Place, name: &str, what: &'static str, problems: &mut Vec<_>| {
        if namespaces == Known::Checked && !created.contains(name) {
            problems.push(Problem {
                place,
                kind: ProblemKind::UnknownNetns { name: name.to_owned(), what, by: "any step" },
            });
        }
    };
    for e in entries {
        let place = place_of(file, &e.name);
        if let Some(first_line) = seen.insert(&e.name.value, place.line) {
            problems.push(Problem {
                place: place.clone(),
                kind: ProblemKind::DuplicateProbe { name: e.name.value.clone(), first_line },
            });
        }
        let from = resolve(&e.from.value);
        unknown(place_of(file, &e.from), from.as_str(), "probe source", problems);
        let at = e.expect.at.as_ref().map(|a| (resolve(&a.value), place_of(file, a)));
        if let Some((at, place)) = &at {
            unknown(place.clone(), at.as_str(), "expected namespace", problems);
        }
        let outcome = e.expect.outcome.value;
        if let Some(s) = &e.expect.seen_src
            && outcome != OutcomeKind::Delivered
        {
            problems.push(Problem {
                place: place_of(file, s),
                kind: ProblemKind::SeenSrcNotDelivered { outcome: outcome.as_str() },
            });
        }
        let path = e.expect.path.as_ref().map(|p| {
            let mut hops = Vec::new();
            for hop in &p.value {
                let mut pattern = hop.value.0.clone();
                if let HopPattern::Hop { netns, .. } = &mut pattern
                    && let Some(real) = aliases.get(netns.as_str())
                {
                    *netns = real.to_string();
                }
                if let Some(ns) = pattern.exact_netns() {
                    unknown(place_of(file, hop), ns, "path namespace", problems);
                }
                hops.push(pattern);
            }
            PathPattern(hops)
        });
        let to = e.to.value.0;
        probes.push(ProbeCase {
            probe: Probe {
                name: e.name.value.clone(),
                from,
                src: e.src.as_ref().map(|s| s.value.0),
                sport: e.sport.as_ref().map(|s| s.value),
                dst: to.dst,
                proto: to.proto,
            },
            expect: Expectation {
                outcome,
                at: at.map(|(a, _)| a),
                seen_src: e.expect.seen_src.as_ref().map(|s| s.value.0),
                path,
            },
            place,
        });
    }
    probes
}

#[cfg(test)]
mod tests {
    use super::*;
    use nettwin_core::error::ErrorKind;

    const GOOD: &str = r#"name: tiny
description: Two namespaces over a veth.
steps:
  - ip netns add a
  - ip netns add b
  - ip -n a link add v0 type veth peer name v1 netns b
  - run: ip -n a link add v0 type veth peer name v1 netns b
    error: already-exists
    message: '"v0"'
  - run: ip -n ghost link set lo up
    error: not-found
probes:
  - name: a to b
    from: a
    to: 10.0.0.2:80/tcp
    sport: 40001
    expect:
      outcome: refused
      at: b
      path: [a/v0:out, "*", b/*]
  - name: ping
    from: a
    src: 10.0.0.1
    to: 10.0.0.2/icmp
    expect: { outcome: delivered, seen_src: 10.0.0.1 }
"#;

    #[test]
    fn valid_scenario_loads_steps_and_probes() {
        let s = load_str("tiny.yaml", GOOD).expect("loads");
        assert_eq!(s.name, "tiny");
        assert_eq!(s.steps.len(), 5);
        assert_eq!(s.steps[2].text(), "ip -n a link add v0 type veth peer name v1 netns b");
        assert_eq!(s.steps[2].place.line, 6);
        let e = s.steps[3].expect.as_ref().expect("expected error");
        assert_eq!((e.kind, e.message.as_deref()), (ErrorKind::AlreadyExists, Some("\"v0\"")));
        assert_eq!(s.steps[3].place.line, 7);
        assert_eq!(s.probes.len(), 2);
        assert_eq!(s.probes[0].probe.sport, Some(40001));
        assert_eq!(s.probes[0].expect.path.as_ref().map(|p| p.0.len()), Some(3));
        assert_eq!(s.probes[1].probe.proto, nettwin_core::addr::Proto::Icmp);
        assert_eq!(s.probes[1].place.line, 21);
    }

    #[test]
    fn failing_step_may_name_an_unknown_namespace() {
        // `ghost` is only named by a step that must fail; that is not a problem.
        let s = load_str("tiny.yaml", GOOD).expect("loads");
        assert_eq!(s.steps[4].expect.as_ref().map(|e| e.kind), Some(ErrorKind::NotFound));
    }

    #[test]
    fn every_problem_of_a_file_is_reported_in_file_order() {
        let text = "name: x\ndescription: y\nsteps:\n  - ip -n a link set lo up\n  - ip netns add b\n  - ip -n b link add abcdefghijklmnop type bridge\nprobes:\n  - name: p\n    from: c\n    to: 1.2.3.4:5/udp\n    expect: { outcome: dropped }\n";
        let err = load_str("x.yaml", text).expect_err("refused");
        let lines: Vec<usize> = err.problems.iter().map(|p| p.place.line).collect();
        assert_eq!(lines, vec![4, 6, 9], "{err}");
    }

    #[test]
    fn op_error_inside_a_folded_scalar_points_into_the_right_line() {
        let text = "name: x\ndescription: y\nsteps:\n  - ip netns add a\n  - ip -n a link add\n      v0 type vxlan\n";
        let err = load_str("x.yaml", text).expect_err("refused");
        let p = &err.problems[0];
        assert_eq!((p.place.line, p.place.column), (6, 15));
        assert_eq!(&err.file.text[p.place.bytes.clone()], "vxlan");
    }
}
