//! The malformed-scenario corpus (`testdata/malformed-scenarios/`): each file must be refused
//! with exactly one problem, at the expected line and column, underlining the expected text,
//! with the expected message.

use std::path::PathBuf;

use nettwin_scenarios::{LoadError, load_file};
use rstest::rstest;

fn corpus(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/malformed-scenarios").join(file)
}

#[rstest]
#[case("bad-yaml.yaml", 3, 8, "[ip netns add host", "unclosed bracket '['")]
#[case(
    "unknown-key.yaml",
    2,
    1,
    "descripton",
    "unknown field `descripton`, expected one of name, description, steps, nomad, probes"
)]
#[case(
    "unknown-key-in-expect.yaml",
    11,
    7,
    "seen_from",
    "unknown field `seen_from`, expected one of outcome, at, seen_src, path"
)]
#[case(
    "unknown-key-in-step.yaml",
    7,
    5,
    "because",
    "unknown field `because`, expected one of run, error, message"
)]
#[case("duplicate-key.yaml", 5, 1, "description", "duplicate mapping key: description")]
#[case("wrong-type.yaml", 3, 8, "ip netns add host", "expected sequence start")]
#[case("wrong-type-sport.yaml", 9, 12, "high", "invalid u16")]
#[case("bad-cidr.yaml", 6, 25, "172.26.64.1/33", "invalid CIDR \"172.26.64.1/33\"")]
#[case(
    "ifname-too-long.yaml",
    5,
    25,
    "nomad-bridge-0001",
    "interface name \"nomad-bridge-0001\" is 17 bytes long; the limit is 15"
)]
#[case("unknown-netns.yaml", 5, 11, "hots", "namespace \"hots\" is not created by an earlier step")]
#[case(
    "unsupported-sysctl.yaml",
    5,
    34,
    "net.ipv4.tcp_syncookies=1",
    "unsupported sysctl \"net.ipv4.tcp_syncookies=1\""
)]
#[case(
    "unsupported-iptables-match.yaml",
    5,
    53,
    "recent",
    "unsupported match \"recent\" (modeled: tcp, udp, icmp, conntrack, state, addrtype, multiport, mark, comment, iprange, physdev, limit, owner)"
)]
#[case("bad-dport-quoted.yaml", 5, 100, "80800", "invalid port \"80800\"")]
#[case(
    "expect-unknown-netns.yaml",
    10,
    39,
    "cloack",
    "expected namespace \"cloack\" is not created by any step"
)]
#[case(
    "probe-from-unknown-netns.yaml",
    7,
    11,
    "world",
    "probe source \"world\" is not created by any step"
)]
#[case(
    "path-unknown-netns.yaml",
    12,
    26,
    "hots/eth0",
    "path namespace \"hots\" is not created by any step"
)]
#[case(
    "bad-outcome.yaml",
    9,
    24,
    "deliverd",
    "unknown variant `deliverd`, expected one of delivered, refused, dropped, no-route, timed-out"
)]
#[case(
    "bad-error-kind.yaml",
    6,
    12,
    "exists",
    "unknown error kind \"exists\"; expected one of already-exists, not-found"
)]
#[case(
    "bad-destination.yaml",
    8,
    9,
    "127.0.0.1:80",
    "invalid destination \"127.0.0.1:80\": expected ip:port/tcp, ip:port/udp or ip/icmp"
)]
#[case("bad-hop-pattern.yaml", 13, 11, "lo", "invalid hop \"lo\": expected netns/device")]
#[case(
    "seen-src-not-delivered.yaml",
    9,
    43,
    "127.0.0.1",
    "seen_src can only be checked when the outcome is delivered, not refused"
)]
#[case(
    "duplicate-probe-name.yaml",
    10,
    11,
    "to itself",
    "a probe named \"to itself\" already exists (line 6)"
)]
#[case("missing-expect.yaml", 8, 5, "to", "missing field `expect`")]
#[case(
    "jump-to-a-misspelt-target.yaml",
    5,
    72,
    "MASQUARADE",
    "nat chain \"MASQUARADE\" is not created by an earlier step; did you mean the target MASQUERADE?"
)]
#[case(
    "nomad-cni-mode.yaml",
    6,
    13,
    "cni/mynet",
    "group \"web\": network mode \"cni/mynet\" (supported: host, bridge) is not supported yet"
)]
#[case(
    "nomad-mode-typo.yaml",
    6,
    13,
    "brigde",
    "group \"web\": unknown network mode \"brigde\", did you mean \"bridge\"?"
)]
#[case(
    "nomad-port-collision.yaml",
    6,
    15,
    "b",
    "placing an allocation of group \"b\" failed: network: reserved port collision web=8080"
)]
fn malformed_scenario_is_refused_at_the_offending_text(
    #[case] file: &str,
    #[case] line: usize,
    #[case] column: usize,
    #[case] underlined: &str,
    #[case] message: &str,
) {
    let err = match load_file(&corpus(file)) {
        Ok(_) => panic!("{file} loaded"),
        Err(LoadError::Invalid(e)) => e,
        Err(e) => panic!("{file}: {e}"),
    };
    assert_eq!(err.problems.len(), 1, "{err}");
    let p = &err.problems[0];
    let text = p.kind.to_string();
    assert_eq!((p.place.line, p.place.column), (line, column), "{file}: {text}");
    assert_eq!(&err.file.text[p.place.bytes.clone()], underlined, "{file}: {text}");
    assert!(text.contains(message), "{file}: {text:?} should contain {message:?}");
    // The one-line form names the file, line and column.
    assert!(err.to_string().starts_with(&format!("{}:{line}:{column}: ", err.file.name)));
}

#[test]
fn every_corpus_file_is_in_the_table() {
    let table = include_str!("malformed.rs");
    let dir = corpus("");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("corpus dir") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if !table.contains(&format!("\"{name}\"")) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "corpus files without a test case: {missing:?}");
}
