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

#[test]
fn smoke_probe() {
    if !nettwin_linux::testing::require_linux() {
        return;
    }
    let mut b = LinuxBackend::new().unwrap();
    let mut ops: Vec<&str> = HOST.to_vec();
    ops.push("ip netns exec a1 listen tcp 0.0.0.0:6379");
    ops.push("ip netns exec a1 listen udp 0.0.0.0:53");
    ops.push("ip -n host link set lo up");
    for t in &ops {
        let op: Op = t.parse().unwrap();
        b.apply(&op).unwrap();
    }
    for (proto, dst) in [
        ("tcp", "172.26.64.2:6379"),
        ("udp", "172.26.64.2:53"),
        ("icmp", "172.26.64.2:0"),
        ("tcp", "172.26.64.2:80"),
        ("udp", "172.26.64.2:54"),
        ("tcp", "10.9.9.9:80"),
        ("tcp", "172.26.64.9:80"),
        ("tcp", "172.26.64.1:80"),
        ("tcp", "127.0.0.1:80"),
    ] {
        let p = nettwin_core::trace::Probe {
            name: String::new(),
            from: "host".parse().unwrap(),
            src: None,
            sport: None,
            dst: dst.parse().unwrap(),
            proto: proto.parse().unwrap(),
        };
        let t0 = std::time::Instant::now();
        let t = b.probe(&p);
        println!("=== {proto} {dst} ({:?})", t0.elapsed());
        match t {
            Ok(t) => {
                println!("flow {}", t.flow);
                for h in &t.hops {
                    println!("  {} {:?} {:?} {} {:?}", h.netns, h.device, h.dir, h.packet, h.step);
                }
                println!("  outcome {:?}", t.outcome);
                for h in &t.reply {
                    println!("  R {} {:?} {:?} {}", h.netns, h.device, h.dir, h.packet);
                }
            }
            Err(e) => println!("ERR {e}"),
        }
    }
}
