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

/// A host namespace with the Nomad bridge, one allocation namespace `a1` behind a veth,
/// and a `world` namespace reaching the host over `eth0` (documentation addresses).
pub const HOST: &[&str] = &[
    "ip netns add host",
    "ip netns add a1",
    "ip netns add world",
    "ip -n host link set lo up",
    "ip -n host link add nomad type bridge",
    "ip -n host link set nomad up",
    "ip -n host addr add 172.26.64.1/20 dev nomad",
    "ip -n host link add veth1 type veth peer name eth0 netns a1",
    "ip -n host link set veth1 master nomad",
    "ip -n host link set veth1 up",
    "ip -n a1 link set lo up",
    "ip -n a1 link set eth0 up",
    "ip -n a1 addr add 172.26.64.2/20 dev eth0",
    "ip -n a1 route add default via 172.26.64.1",
    "ip -n host link add eth0 type veth peer name up0 netns world",
    "ip -n host link set eth0 up",
    "ip -n host addr add 192.0.2.10/24 dev eth0",
    "ip -n world link set up0 up",
    "ip -n world addr add 192.0.2.1/24 dev up0",
    "ip netns exec host sysctl -w net.ipv4.ip_forward=1",
];
