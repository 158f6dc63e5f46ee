use nettwin_core::backend::Backend;
use nettwin_core::op::Op;
use nettwin_core::snapshot::Snapshot;
use nettwin_core::state::State;
use nettwin_linux::LinuxBackend;

const HOST: &[&str] = &[
    "ip netns add host",
    "ip netns add a1",
    "ip -n host link add nomad type bridge",
    "ip -n host link set nomad up",
    "ip -n host addr add 172.26.64.1/20 dev nomad",
    "ip -n host link add veth1 type veth peer name eth0 netns a1",
    "ip -n host link set veth1 master nomad",
    "ip -n host link set veth1 up",
    "ip -n a1 link set eth0 up",
    "ip -n a1 addr add 172.26.64.2/20 dev eth0",
    "ip -n a1 route add default via 172.26.64.1",
    "ip -n a1 link set lo up",
];

#[test]
fn smoke() {
    if !nettwin_linux::testing::require_linux() {
        return;
    }
    let mut b = LinuxBackend::new().unwrap();
    let mut s = State::new();
    for t in HOST {
        let op: Op = t.parse().unwrap();
        let r = b.apply(&op);
        let m = s.apply(&op);
        println!("{t}: {r:?} / {m:?}");
    }
    let snap = b.observe().unwrap();
    let model = Snapshot::of(&s);
    for d in model.diff(&snap) {
        println!("DIFF {d}");
    }
    println!("{}", serde_json::to_string_pretty(&snap).unwrap());
}
