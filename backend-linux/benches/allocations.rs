//! Setting up and tearing down 100 Nomad-style allocations (namespace, veth into the
//! bridge, address, default route, the per-allocation CNI rules), on the linux backend
//! (netlink from namespace workers, one iptables-restore batch) and, as the baseline, with
//! one `ip`/`iptables` process per step, in the same run. Everything happens inside sandbox
//! namespaces. Run as root: `cargo bench -p nettwin-linux --bench allocations`.

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use nettwin_core::backend::Backend;
use nettwin_core::op::Op;
use nettwin_linux::{LinuxBackend, LinuxOptions};

const ALLOCATIONS: usize = 100;

static TOTALS: Mutex<Vec<(&'static str, Duration, usize)>> = Mutex::new(Vec::new());

fn record(name: &'static str, d: Duration, allocations: usize) {
    if let Ok(mut t) = TOTALS.lock() {
        match t.iter_mut().find(|(n, _, _)| *n == name) {
            Some(e) => {
                e.1 += d;
                e.2 += allocations;
            }
            None => t.push((name, d, allocations)),
        }
    }
}

fn op(text: &str) -> Op {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

const HOST: &[&str] = &[
    "ip netns add host",
    "ip -n host link add nomad type bridge",
    "ip -n host link set nomad up",
    "ip -n host addr add 172.26.64.1/20 dev nomad",
    "ip netns exec host sysctl -w net.ipv4.ip_forward=1",
    "ip netns exec host iptables -N CNI-FORWARD",
    "ip netns exec host iptables -A FORWARD -j CNI-FORWARD",
];

fn ip_of(i: usize) -> String {
    format!("172.26.{}.{}", 64 + (i + 2) / 256, (i + 2) % 256)
}

fn chain(i: usize) -> String {
    format!("CNI-{i:024x}")
}

/// The per-allocation iptables commands (arguments after `iptables`), set up.
fn rules_up(i: usize) -> Vec<String> {
    let (ip, c) = (ip_of(i), chain(i));
    vec![
        format!("-t nat -N {c}"),
        format!("-t nat -A {c} -d 172.26.64.0/20 -j ACCEPT"),
        format!("-t nat -A {c} ! -d 224.0.0.0/4 -j MASQUERADE"),
        format!("-t nat -A POSTROUTING -s {ip}/32 -j {c}"),
        format!("-A CNI-FORWARD -d {ip}/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        format!("-A CNI-FORWARD -s {ip}/32 -j ACCEPT"),
    ]
}

/// ... and torn down.
fn rules_down(i: usize) -> Vec<String> {
    let (ip, c) = (ip_of(i), chain(i));
    vec![
        format!("-t nat -D POSTROUTING -s {ip}/32 -j {c}"),
        format!("-t nat -F {c}"),
        format!("-t nat -X {c}"),
        format!("-D CNI-FORWARD -d {ip}/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        format!("-D CNI-FORWARD -s {ip}/32 -j ACCEPT"),
    ]
}

/// The link steps of one allocation as `ip` arguments; `{a}` is the allocation namespace.
fn links_up(i: usize, host: &str, a: &str) -> Vec<String> {
    vec![
        format!("-n {host} link add veth{i:08x} type veth peer name eth0 netns {a}"),
        format!("-n {host} link set veth{i:08x} master nomad"),
        format!("-n {host} link set veth{i:08x} up"),
        format!("-n {a} link set lo up"),
        format!("-n {a} link set eth0 up"),
        format!("-n {a} addr add {}/20 dev eth0", ip_of(i)),
        format!("-n {a} route add default via 172.26.64.1"),
    ]
}

fn backend_setup() -> LinuxBackend {
    let mut b = LinuxBackend::with_options(LinuxOptions { bind_names: true, ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    for t in HOST {
        b.apply(&op(t)).unwrap_or_else(|e| panic!("{t}: {e}"));
    }
    b
}

fn backend_round(b: &mut LinuxBackend) {
    let mut up = Vec::new();
    for i in 0..ALLOCATIONS {
        let a = format!("a{i}");
        up.push(op(&format!("ip netns add {a}")));
        for s in links_up(i, "host", &a) {
            up.push(op(&format!("ip {s}")));
        }
        for r in rules_up(i) {
            up.push(op(&format!("ip netns exec host iptables {r}")));
        }
    }
    let mut down = Vec::new();
    for i in 0..ALLOCATIONS {
        for r in rules_down(i) {
            down.push(op(&format!("ip netns exec host iptables {r}")));
        }
        down.push(op(&format!("ip netns del a{i}")));
    }
    for (o, r) in up.iter().chain(&down).zip(b.apply_all(&up).into_iter().chain(b.apply_all(&down)))
    {
        assert!(r.is_ok(), "{o}: {r:?}");
    }
}

fn sh(program: &str, args: &str) {
    let out = Command::new(program)
        .args(args.split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The baseline: one process per step. Allocation namespaces are named with the sandbox's
/// prefix (so `nettwin gc` would remove them after a crash); iptables runs in the host
/// sandbox namespace (spawned from its worker).
fn baseline_round(b: &LinuxBackend) {
    let host = b
        .netns_path("host")
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| panic!("host is not bound"));
    let prefix = format!("{}-bench", b.sandbox_id());
    let iptables = |args: &str| {
        let mut cmd = Command::new("iptables");
        cmd.args(shell_words(args));
        let out = b.run_in("host", cmd).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "iptables {args}: {}", String::from_utf8_lossy(&out.stderr));
    };
    for i in 0..ALLOCATIONS {
        let a = format!("{prefix}-a{i}");
        sh("ip", &format!("netns add {a}"));
        for s in links_up(i, &host, &a) {
            sh("ip", &s);
        }
        for r in rules_up(i) {
            iptables(&r);
        }
    }
    for i in 0..ALLOCATIONS {
        for r in rules_down(i) {
            iptables(&r);
        }
        sh("ip", &format!("netns del {prefix}-a{i}"));
    }
}

/// Splits on spaces, keeping `!` as its own word (the rules here need no quoting).
fn shell_words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn allocations(c: &mut Criterion) {
    if !nettwin_linux::testing::require_linux() {
        return;
    }
    let mut g = c.benchmark_group("100 nomad allocations, up and down");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    let mut b = backend_setup();
    g.bench_function("linux backend", |bench| {
        bench.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                backend_round(&mut b);
            }
            let d = start.elapsed();
            record("linux backend", d, iters as usize * ALLOCATIONS);
            d
        })
    });
    g.bench_function("one ip/iptables process per step", |bench| {
        bench.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                baseline_round(&b);
            }
            let d = start.elapsed();
            record("one process per step", d, iters as usize * ALLOCATIONS);
            d
        })
    });
    g.finish();
    drop(b);
    if let Ok(t) = TOTALS.lock() {
        let per: Vec<(&str, f64)> =
            t.iter().map(|(n, d, k)| (*n, d.as_secs_f64() * 1e3 / (*k).max(1) as f64)).collect();
        for (n, ms) in &per {
            println!("{n}: {ms:.2} ms per allocation (setup and teardown)");
        }
        if let [(_, ours), (_, base)] = per.as_slice() {
            println!("baseline / linux backend: {:.1}x", base / ours);
        }
    }
}

criterion_group!(benches, allocations);
criterion_main!(benches);
