//! The `nettwin` binary, run as a user would: the library checks clean, output is
//! deterministic, JSON has the documented fields, errors point at the offending text.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn nettwin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nettwin"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("nettwin runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const SEED: &str = "scenarios/library/seed-journey.yaml";

#[test]
fn check_of_the_library_passes_with_n_passed_0_failed() {
    let n = std::fs::read_dir(root().join("scenarios/library"))
        .expect("library")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml")))
        .count();
    let out = nettwin(&["check", "scenarios/"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.lines().last(), Some(format!("{n} passed, 0 failed").as_str()), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("PASS  ")).count(), n);
}

#[test]
fn trace_text_and_json_are_byte_identical_across_runs() {
    for format in ["text", "json"] {
        let a = nettwin(&["trace", SEED, "--format", format]);
        let b = nettwin(&["trace", SEED, "--format", format]);
        assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
        assert!(!a.stdout.is_empty());
        assert_eq!(a.stdout, b.stdout, "{format} output differs between runs");
    }
}

#[test]
fn trace_json_is_an_array_with_one_object_per_probe() {
    let out = nettwin(&["trace", SEED, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let items = v.as_array().expect("an array");
    assert_eq!(items.len(), 4);
    for item in items {
        for key in ["name", "outcome", "delivered_to", "seen_src", "hops"] {
            assert!(item.get(key).is_some(), "{key} missing in {item}");
        }
    }
    assert_eq!(items[0]["outcome"], "delivered");
    assert_eq!(items[0]["delivered_to"], "web");
    assert_eq!(items[0]["seen_src"], "192.0.2.1:40000");
    assert_eq!(items[3]["outcome"], "refused");
    assert_eq!(items[3]["delivered_to"], serde_json::Value::Null);
}

#[test]
fn trace_probe_selects_one_probe_and_refuses_an_unknown_name() {
    let out = nettwin(&["trace", SEED, "--probe", "the world reaches redis on host port 25000"]);
    let text = stdout(&out);
    assert_eq!(text.lines().filter(|l| l.starts_with("probe ")).count(), 1, "{text}");
    // The earlier probe was sent first, so the source port is the second default one.
    assert!(text.contains("192.0.2.1:40001 → 192.0.2.10:25000/tcp"), "{text}");
    let out = nettwin(&["trace", SEED, "--probe", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no probe named \"nope\""));
}

#[test]
fn malformed_scenario_is_shown_with_file_line_column_and_underline() {
    let file = "testdata/malformed-scenarios/unsupported-iptables-match.yaml";
    let out = nettwin(&["check", file]);
    let text = stdout(&out);
    assert!(!out.status.success());
    assert!(text.contains(&format!("[{file}:5:53]")), "{text}");
    assert!(text.contains("unsupported match \"recent\""), "{text}");
    let line = text.lines().find(|l| l.contains("───┬──")).expect("an underline");
    let col = |s: &str, pat: &str| s.find(pat).map(|i| s[..i].chars().count());
    let source = text.lines().find(|l| l.contains("-m recent")).expect("the source line");
    assert_eq!(col(line, "─"), col(source, "recent"), "the underline is under `recent`:\n{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn unmet_expectation_fails_check_with_expected_and_got() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("wrong.yaml");
    std::fs::write(
        &file,
        "name: wrong\ndescription: d\nsteps:\n  - ip netns add a\n  - ip -n a link set lo up\nprobes:\n  - name: p\n    from: a\n    to: 127.0.0.1:80/tcp\n    expect: { outcome: delivered }\n",
    )
    .expect("write");
    let out = nettwin(&["check", path(&file)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("line 7: probe \"p\": outcome: expected delivered, got refused"),
        "{text}"
    );
    assert!(text.contains("probe \"p\"  127.0.0.1:40000 → 127.0.0.1:80/tcp"), "the trace: {text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn show_renders_state_like_the_tools() {
    let out = nettwin(&["show", "scenarios/library/job-bridge-mode.yaml", "--as", "ss"]);
    let text = stdout(&out);
    assert!(out.status.success());
    assert!(text.contains("$ ip netns exec redis ss -ltun\n"), "{text}");
    assert!(!text.contains("$ ip netns exec host ss"), "nothing listens on the host: {text}");
    let out = nettwin(&["show", SEED, "--as", "iptables-save"]);
    assert!(stdout(&out).contains("-A NOMAD-ADMIN -d 172.26.64.0/20 -o nomad -j ACCEPT"));
}

#[test]
fn help_shows_examples() {
    let text = stdout(&nettwin(&["--help"]));
    assert!(text.contains("Examples:"), "{text}");
    assert!(text.contains("nettwin check scenarios/"), "{text}");
}

#[test]
fn every_example_in_help_names_files_that_exist() {
    let text = stdout(&nettwin(&["--help"]));
    let files: Vec<&str> =
        text.split_whitespace().filter(|w| w.ends_with(".yaml") || w.ends_with(".hcl")).collect();
    assert!(files.len() >= 4, "{text}");
    for f in files {
        assert!(root().join(f).is_file(), "--help names {f}, which does not exist");
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

const JOBS: &str = "testdata/jobs";

#[test]
fn plan_prints_each_allocation_with_its_ops_and_iptables_save_deterministically() {
    let job = format!("{JOBS}/cloak-bridge.nomad.hcl");
    let a = nettwin(&["plan", &job]);
    let text = stdout(&a);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(text.contains("== allocation 1/2: "), "{text}");
    assert!(text.contains("ip netns exec host iptables -t nat -N CNI-HOSTPORT-DNAT"), "{text}");
    assert!(text.contains("-- iptables-save of host after the plan\n*filter\n"), "{text}");
    assert_eq!(a.stdout, nettwin(&["plan", &job]).stdout, "same seed, same plan");
    assert_ne!(a.stdout, nettwin(&["plan", &job, "--seed", "2"]).stdout);
}

#[test]
fn plan_diff_from_host_to_bridge_mode_marks_what_comes_and_goes() {
    let (old, new) =
        (format!("{JOBS}/cloak-host.nomad.hcl"), format!("{JOBS}/cloak-bridge.nomad.hcl"));
    let out = nettwin(&["plan", "--diff", &old, &new]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for want in [
        "~ Task Group: \"redis\" (1 create, 1 destroy)",
        "  + Link \"nomad\": bridge, up, mtu 1500, 172.26.64.1/20",
        "  - Listening \"tcp 192.0.2.10:7000\"",
        "  ~ Sysctl \"net.ipv4.ip_forward\": \"0\" => \"1\"",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn plan_errors_name_the_file_line_and_column_or_the_unsupported_block() {
    let out = nettwin(&["plan", &format!("{JOBS}/syntax-error.nomad.hcl")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // As scenario errors are shown: the message, file:line:column, the place marked.
    assert!(err.contains("HCL syntax error"), "{err}");
    assert!(err.contains("[testdata/jobs/syntax-error.nomad.hcl:9:2]"), "{err}");
    assert!(err.contains("the parser stopped here"), "{err}");
    let out = nettwin(&["plan", &format!("{JOBS}/unsupported-cni.nomad.hcl")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not supported yet"), "{err}");
    assert!(err.contains("[testdata/jobs/unsupported-cni.nomad.hcl:4:7]"), "{err}");
    let line = err.lines().find(|l| l.contains("─┬─")).expect("an underline");
    let source = err.lines().find(|l| l.starts_with(" 4 │")).expect("the source line");
    let col = |s: &str, pat: &str| s.find(pat).map(|i| s[..i].chars().count());
    assert_eq!(col(line, "─"), col(source, "mode"), "the underline starts under `mode`:\n{err}");
}

#[test]
fn plan_reads_a_client_file() {
    let dir = std::env::temp_dir().join(format!("nettwin-cli-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let client = dir.join("client.hcl");
    std::fs::write(
        &client,
        "client {\n  bridge_network_subnet = \"10.88.0.0/24\"\n}\nnettwin {\n  host_ip = \"198.51.100.7\"\n}\n",
    )
    .expect("client file");
    let job = format!("{JOBS}/cloak-bridge.nomad.hcl");
    let out = nettwin(&["plan", &job, "--client", &client.display().to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("subnet 10.88.0.0/24, host 198.51.100.7"), "{text}");
    assert!(text.contains("addr add 10.88.0.2/24 brd + dev eth0"), "{text}");
}

#[test]
fn an_error_far_right_on_a_long_line_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("long.yaml");
    let steps = "\"ip netns add a\", ".repeat(5000);
    std::fs::write(&file, format!("name: x\ndescription: d\nsteps: [ {steps} : : ]\n"))
        .expect("write");
    let out = nettwin(&["check", path(&file)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("long.yaml:3:90011 (too far right to show)"), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}
