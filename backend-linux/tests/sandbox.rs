//! The sandbox's promises: nothing in the root namespace changes, a run killed with SIGKILL
//! leaves only what `gc` removes, a panic cleans up, and sandboxes do not see each other.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{apply_both, assert_same_state, backend, backend_with, op, probe};
use nettwin_core::backend::Backend;
use nettwin_core::cases::HOST;
use nettwin_core::state::State;
use nettwin_linux::{LinuxBackend, LinuxOptions, gc};

fn bound() -> LinuxOptions {
    LinuxOptions { bind_names: true, ..LinuxOptions::default() }
}

fn run(cmd: &[&str]) -> String {
    let out =
        Command::new(cmd[0]).args(&cmd[1..]).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names under /run/netns other than sandbox names (the sandboxes of concurrent tests
/// come and go; each test checks its own by id with `leftovers_of`).
fn netns_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.retain(|n| !n.starts_with(nettwin_linux::sandbox::SANDBOX_PREFIX));
    v.sort();
    v
}

/// The root namespace as the tools show it, read only.
fn root_state() -> Vec<String> {
    let save: String = run(&["iptables-save"])
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    vec![
        run(&["ip", "-o", "link"]),
        run(&["ip", "-o", "addr"]),
        run(&["ip", "route", "show", "table", "all"]),
        netns_names().join("\n"),
        save,
    ]
}

fn leftovers_of(id: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.retain(|n| n.starts_with(&format!("{id}-")));
    if nettwin_linux::sandbox::run_dir().join(id).exists() {
        v.push(format!("directory {id}"));
    }
    v
}

fn busy(b: &mut LinuxBackend) {
    let mut ops: Vec<String> = HOST.iter().map(|s| (*s).to_owned()).collect();
    ops.push("ip netns exec a1 listen tcp 0.0.0.0:7000".into());
    ops.push("ip netns exec host iptables -t nat -A PREROUTING -d 192.0.2.10/32 -p tcp -m tcp --dport 7000 -j DNAT --to-destination 172.26.64.2:7000".into());
    ops.push("ipam allocate nomad 172.26.64.0/20 id a1 ifname eth0".into());
    let ops: Vec<_> = ops.iter().map(|t| op(t)).collect();
    for (o, r) in ops.iter().zip(b.apply_all(&ops)) {
        assert!(r.is_ok(), "{o}: {r:?}");
    }
    let t = b.probe(&probe("world", "192.0.2.10:7000", "tcp")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.outcome.delivered_to().map(|n| n.as_str()), Some("a1"));
}

#[test]
fn a_batch_of_sandboxes_leaves_the_root_namespace_as_it_was() {
    let Some(first) = backend() else { return };
    drop(first);
    let before = root_state();
    let mut ids = Vec::new();
    for options in [LinuxOptions::default(), bound()] {
        let mut b = LinuxBackend::with_options(options).unwrap_or_else(|e| panic!("{e}"));
        busy(&mut b);
        b.apply(&op("ip netns del a1")).unwrap_or_else(|e| panic!("{e}"));
        ids.push(b.sandbox_id().to_owned());
    }
    // A panic mid-way cleans up too.
    let (tx, rx) = std::sync::mpsc::channel();
    let panicked = std::thread::spawn(move || {
        let mut b = LinuxBackend::with_options(bound()).unwrap_or_else(|e| panic!("{e}"));
        busy(&mut b);
        let _ = tx.send(b.sandbox_id().to_owned());
        panic!("a test bug in the middle of a scenario");
    })
    .join();
    assert!(panicked.is_err());
    ids.extend(rx.try_recv().ok());
    assert_eq!(ids.len(), 3);
    for id in &ids {
        assert_eq!(leftovers_of(id), Vec::<String>::new(), "{id}");
    }
    assert_eq!(root_state(), before);
}

const CHILD_ENV: &str = "NETTWIN_CRASH_CHILD";

/// Not a test on its own: the child process of `a_killed_run_leaves_only_what_gc_removes`
/// (it does nothing unless started by it).
#[test]
fn crash_child_runs_a_scenario_until_killed() {
    let Ok(mode) = std::env::var(CHILD_ENV) else { return };
    let options = if mode == "bound" { bound() } else { LinuxOptions::default() };
    let mut b = LinuxBackend::with_options(options).unwrap_or_else(|e| panic!("{e}"));
    busy(&mut b);
    println!("READY {}", b.sandbox_id());
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

fn killed_child(mode: &str) -> String {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_child_runs_a_scenario_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env_remove("NETTWIN_REQUIRE_LINUX")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let id = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("READY ").map(|(_, id)| id.trim().to_owned()))
        .unwrap_or_else(|| panic!("the child never got ready"));
    if mode == "bound" {
        assert!(leftovers_of(&id).len() >= 4, "names bound: {:?}", leftovers_of(&id));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let _ = child.wait();
    id
}

#[test]
fn a_killed_run_leaves_only_what_gc_removes() {
    if backend().is_none() {
        return;
    }
    let id = killed_child("bound");
    // SIGKILL leaves the bound names (they are mounts) and the sandbox directory...
    let left = leftovers_of(&id);
    assert!(
        left.iter().any(|n| n.ends_with("-host"))
            && left.iter().any(|n| n.starts_with("directory")),
        "{left:?}"
    );
    // ...and gc removes them, and nothing else of this process.
    let report = gc();
    assert_eq!(leftovers_of(&id), Vec::<String>::new());
    assert!(report.names.iter().any(|p| p.to_string_lossy().contains(&id)), "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
}

#[test]
fn a_killed_run_without_bound_names_leaves_only_its_directory() {
    if backend().is_none() {
        return;
    }
    let id = killed_child("unbound");
    assert_eq!(leftovers_of(&id), vec![format!("directory {id}")]);
    gc();
    assert_eq!(leftovers_of(&id), Vec::<String>::new());
}

#[test]
fn gc_leaves_live_sandboxes_alone() {
    let Some(b) = backend_with(bound()) else { return };
    let mut b = b;
    b.apply(&op("ip netns add host")).unwrap_or_else(|e| panic!("{e}"));
    let path = b.netns_path("host").unwrap_or_else(|| panic!("no path"));
    assert!(path.starts_with("/run/netns") && Path::new(&path).exists());
    gc();
    assert!(path.exists() && b.sandbox_dir().exists());
    // The bound name works with the usual tools, inside the sandbox.
    let out = run(&[
        "ip",
        "-n",
        &path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        "-o",
        "link",
    ]);
    assert!(out.contains("lo:"), "{out}");
    drop(b);
    assert!(!path.exists());
}

#[test]
fn eight_sandboxes_run_at_once_without_seeing_each_other() {
    if backend().is_none() {
        return;
    }
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let mut b = LinuxBackend::new().unwrap_or_else(|e| panic!("{e}"));
                let mut s = State::new();
                apply_both(&mut b, &mut s, HOST);
                let extra = [
                    "ip netns exec a1 listen tcp 0.0.0.0:7000",
                    "ip netns exec host iptables -t nat -A PREROUTING -d 192.0.2.10/32 -p tcp -m tcp --dport 7000 -j DNAT --to-destination 172.26.64.2:7000",
                    "ip netns exec host iptables -A FORWARD -p tcp -m tcp --dport 7001 -j DROP",
                ];
                apply_both(&mut b, &mut s, &extra);
                assert_same_state(&mut b, &s, &format!("sandbox {i}"));
                let mut outcomes = Vec::new();
                // Published, unroutable from the world, and a host port nobody listens on.
                for dst in ["192.0.2.10:7000", "172.26.64.2:7000", "192.0.2.10:7001"] {
                    let t = b.probe(&probe("world", dst, "tcp")).unwrap_or_else(|e| panic!("{e}"));
                    outcomes.push(format!("{} {:?}", t.outcome.kind(), t.wire_path()));
                }
                outcomes
            })
        })
        .collect();
    let results: Vec<Vec<String>> = threads
        .into_iter()
        .map(|t| t.join().unwrap_or_else(|_| panic!("a sandbox failed")))
        .collect();
    for r in &results {
        assert_eq!(r, &results[0]);
    }
    assert!(results[0][0].starts_with("delivered"), "{:?}", results[0]);
    assert!(results[0][1].starts_with("no-route"), "{:?}", results[0]);
    assert!(results[0][2].starts_with("refused"), "{:?}", results[0]);
}
