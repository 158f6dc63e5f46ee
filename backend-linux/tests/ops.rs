//! Ops on the kernel against the model: the shared per-op case table
//! (`nettwin_core::cases`) and the transitions that need a sequence, each with the same
//! result kinds and the same observed state on both.

mod common;

use common::{apply_both, assert_same_state, backend, kind, op};
use nettwin_core::backend::Backend;
use nettwin_core::cases::{HOST, OpCase, op_cases};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::state::State;

/// Runs one case of the shared table in a fresh sandbox: the kernel's result kind must be
/// the table's, and the observed state the model's after the same ops.
fn run_case(c: &OpCase) -> Result<(), String> {
    let Some(mut b) = backend() else { return Ok(()) };
    let mut s = State::new();
    for text in &c.setup {
        let o = op(text);
        let (k, m) = (b.apply(&o), s.apply(&o));
        if kind(&k) != kind(&m) {
            return Err(format!("{}: setup `{text}`: kernel {k:?}, model {m:?}", c.name));
        }
    }
    let o = op(c.op);
    let k = b.apply(&o);
    let _ = s.apply(&o);
    if kind(&k) != c.refused {
        return Err(format!(
            "{}: `{}`: the kernel said {k:?}, the table {:?}",
            c.name, c.op, c.refused
        ));
    }
    let kernel = b.observe().map_err(|e| format!("{}: observe: {e}", c.name))?;
    let diff = Snapshot::of(&s).diff(&kernel);
    if !diff.is_empty() {
        return Err(format!(
            "{}: model (left) and kernel (right) differ:\n{}",
            c.name,
            diff.join("\n")
        ));
    }
    Ok(())
}

/// The per-op case table (`nettwin_core::cases`, which the model's tests run too) on the
/// kernel, a few sandboxes at a time; every failing case is reported.
#[test]
fn every_op_case_has_the_tables_answer_on_the_kernel_and_the_models_state() {
    if !nettwin_linux::testing::require_linux() {
        return;
    }
    let cases = op_cases();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some(c) =
                    cases.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    if let Err(e) = run_case(c) {
                        failures.lock().unwrap_or_else(|p| p.into_inner()).push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_host_fixture_builds_the_models_state() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, HOST);
    assert_same_state(&mut b, &s, "HOST");
}

#[test]
fn lo_up_gets_127_0_0_1_and_keeps_it_when_down() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(
        &mut b,
        &mut s,
        &["ip netns add n", "ip -n n link set lo up", "ip -n n link set lo down"],
    );
    assert_same_state(&mut b, &s, "lo up then down");
}

#[test]
fn deleting_a_primary_address_takes_its_secondaries() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, HOST);
    apply_both(
        &mut b,
        &mut s,
        &[
            "ip -n a1 addr add 172.26.64.9/20 dev eth0",
            "ip -n a1 addr add 10.1.0.1/16 dev eth0",
            "ip -n a1 route add 10.9.0.0/16 dev eth0 src 172.26.64.9",
            "ip -n a1 addr del 172.26.64.2/20 dev eth0",
        ],
    );
    assert_same_state(&mut b, &s, "after deleting the primary");
}

#[test]
fn a_bridge_follows_its_smallest_port_until_set_by_hand() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, HOST);
    for step in [
        "ip -n host link set veth1 mtu 1400",
        "ip -n host link set veth1 nomaster",
        "ip -n host link set nomad mtu 9000",
        "ip -n host link set veth1 master nomad",
    ] {
        apply_both(&mut b, &mut s, &[step]);
        assert_same_state(&mut b, &s, step);
    }
}

#[test]
fn explicit_macs_are_kept() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(
        &mut b,
        &mut s,
        &[
            "ip netns add n",
            "ip -n n link add br0 address 02:00:00:00:00:01 type bridge",
            "ip -n n link add v0 address 02:00:00:00:00:02 type veth peer name v1 address 02:00:00:00:00:03",
        ],
    );
    assert_same_state(&mut b, &s, "explicit MACs");
}

#[test]
fn ipam_allocates_and_releases_like_the_model_and_the_store_matches() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    let alloc = |id: &str| {
        format!("ipam allocate nomad 172.26.64.0/20 gateway 172.26.64.1 id {id} ifname eth0")
    };
    let steps = [
        alloc("a"),
        alloc("b"),
        alloc("a"),
        "ipam release nomad id a ifname eth0".to_owned(),
        "ipam release nomad id a ifname eth0".to_owned(),
        "ipam release never id a ifname eth0".to_owned(),
        alloc("c"),
        "ipam allocate tiny 10.0.0.0/30 id x ifname eth0".to_owned(),
        "ipam allocate tiny 10.0.0.0/30 id y ifname eth0".to_owned(),
        "ipam allocate bad 10.0.0.0/31 id y ifname eth0".to_owned(),
    ];
    for step in &steps {
        let o = op(step);
        let (k, m) = (b.apply(&o), s.apply(&o));
        assert_eq!(kind(&k), kind(&m), "{step}: kernel {k:?}, model {m:?}");
        assert_eq!(k.ok(), m.ok(), "{step}: the same address");
    }
    assert_same_state(&mut b, &s, "IPAM stores");
}
