//! Helpers shared by the kernel tests: parsing op text, running the same ops on the model
//! and on the kernel, and comparing what they say.
#![allow(dead_code)]

use nettwin_core::backend::Backend;
use nettwin_core::error::ErrorKind;
use nettwin_core::op::{Effect, Op};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::state::State;
use nettwin_core::trace::Probe;
use nettwin_linux::{LinuxBackend, LinuxOptions};

/// Parses op text, panicking with the text on a typo in a test.
pub fn op(text: &str) -> Op {
    text.parse().unwrap_or_else(|e| panic!("test op {text:?} does not parse: {e}"))
}

/// A fresh backend, or `None` (after the visible skip line) when kernel tests cannot run.
pub fn backend() -> Option<LinuxBackend> {
    backend_with(LinuxOptions::default())
}

/// Like `backend`, with options.
pub fn backend_with(options: LinuxOptions) -> Option<LinuxBackend> {
    if !nettwin_linux::testing::require_linux() {
        return None;
    }
    Some(LinuxBackend::with_options(options).unwrap_or_else(|e| panic!("backend: {e}")))
}

/// The kind of a result (`None` for success).
pub fn kind(r: &Result<Effect, nettwin_core::error::OpError>) -> Option<ErrorKind> {
    r.as_ref().err().map(|e| e.kind)
}

/// Applies `ops` to both the kernel and the model, one call each, and asserts that every
/// op had the same result kind on both.
pub fn apply_both(b: &mut LinuxBackend, s: &mut State, ops: &[&str]) {
    let ops: Vec<Op> = ops.iter().map(|t| op(t)).collect();
    let kernel = b.apply_all(&ops);
    for (o, k) in ops.iter().zip(kernel) {
        let m = s.apply(o);
        assert_eq!(kind(&k), kind(&m), "{o}: kernel {k:?}, model {m:?}");
    }
}

/// Asserts that the kernel's observed state is the model's.
pub fn assert_same_state(b: &mut LinuxBackend, s: &State, context: &str) {
    let kernel = b.observe().unwrap_or_else(|e| panic!("observe: {e}"));
    let model = Snapshot::of(s);
    let diff = model.diff(&kernel);
    assert!(
        diff.is_empty(),
        "{context}: model (left) and kernel (right) differ:\n{}",
        diff.join("\n")
    );
}

/// A probe from `from` to `dst` (`ip:port`) over `proto`.
pub fn probe(from: &str, dst: &str, proto: &str) -> Probe {
    Probe {
        name: String::new(),
        from: from.parse().unwrap_or_else(|e| panic!("{e}")),
        src: None,
        sport: None,
        dst: dst.parse().unwrap_or_else(|e| panic!("{e}")),
        proto: proto.parse().unwrap_or_else(|e| panic!("{e}")),
    }
}
