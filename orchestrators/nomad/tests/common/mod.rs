//! Test support for the CNI tests: golden files captured from the real plugins, and
//! helpers that apply the plugins' steps and the planner's ops with the real rule set
//! (`iptables::Ruleset`) and model (`State::apply`).

#![allow(dead_code)]

use std::collections::BTreeMap;

use nettwin_cni::steps::{IptStep, resolve};
use nettwin_core::iptables::{Command, Rule};
use nettwin_core::iptables::{Ruleset, Table};
use nettwin_core::names::ChainName;
use nettwin_core::op::Op;
use nettwin_core::snapshot::{Snapshot, store_text};
use nettwin_core::state::State;

/// A golden file under the workspace's `testdata/cni/`.
pub fn golden(path: &str) -> String {
    let p = format!("{}/../../testdata/cni/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// A host-local store directory captured under `testdata/cni/`, as a snapshot holds it.
pub fn golden_store(name: &str) -> BTreeMap<String, String> {
    let dir = format!("{}/../../testdata/cni/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().into_string().expect("utf-8 name");
        files.insert(name, std::fs::read(entry.path()).expect("readable"));
    }
    store_text(&files)
}

/// Asserts that text equals a golden `iptables-save` capture.
pub fn assert_golden(got: &str, path: &str) {
    let want = golden(path);
    assert!(got == want, "{path} differs\n--- want\n{want}\n--- got\n{got}");
}

/// Asserts that a rule set prints as the golden `iptables-save` output.
pub fn assert_save(r: &Ruleset, path: &str) {
    assert_golden(&r.to_string(), path);
}

/// Asserts that namespace `netns` of the state's snapshot has the golden rules.
pub fn assert_state_save(state: &State, netns: &str, path: &str) {
    let snap = Snapshot::of(state);
    let ns = snap.namespaces.get(netns).unwrap_or_else(|| panic!("no namespace {netns}"));
    assert_golden(&ns.iptables, path);
}

/// Resolves the plugins' steps one at a time against the rule set and applies the
/// commands, panicking where iptables would refuse.
pub fn apply_steps<'a>(r: &mut Ruleset, steps: impl IntoIterator<Item = &'a IptStep>) {
    for step in steps {
        for (table, cmd) in resolve(step.clone(), r) {
            r.apply(table, &cmd).unwrap_or_else(|e| panic!("{table} {cmd}: {e}"));
        }
    }
}

/// Appends a rule as a test's own setup (`iptables -A`).
pub fn append(r: &mut Ruleset, table: Table, chain: &str, rule: Rule) {
    let chain = ChainName::new(chain).expect("chain name");
    r.apply(table, &Command::Append(chain, rule)).expect("test setup rule");
}

/// Applies ops to a state, panicking on the first refusal.
pub fn apply_all(state: &mut State, ops: &[Op]) {
    for op in ops {
        state.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
}
