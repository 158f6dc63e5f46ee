//! The iptables golden corpus: every input of `data/iptables/rules.txt` parses and prints
//! exactly as real `iptables-save` printed it, the printed line is a fixed point, and every
//! input of `data/iptables/rejected.txt` is refused with the expected kind at the expected
//! token. The corpus was captured from iptables v1.8.9 (nf_tables) by
//! `data/iptables/regenerate.sh`; these tests only read it.

use nettwin_core::iptables::{Rule, parse_command, parse_rule, parse_save};
use nettwin_core::text::{Cursor, ParseError, ParseErrorKind, tokenize};
use proptest::prelude::*;

const RULES: &str = include_str!("data/iptables/rules.txt");
const REJECTED: &str = include_str!("data/iptables/rejected.txt");

/// The (input, expected) pairs of the golden corpus.
fn golden() -> Vec<(&'static str, &'static str)> {
    let mut pairs = Vec::new();
    let mut pending: Option<&str> = None;
    for line in RULES.lines() {
        if let Some(input) = line.strip_prefix("in ") {
            assert!(pending.is_none(), "two `in` lines in a row: {line:?}");
            pending = Some(input);
        } else if line == "out" || line.starts_with("out ") {
            let input = pending.take().expect("`out` without `in`");
            pairs.push((input, line.get(4..).unwrap_or("")));
        }
    }
    assert!(pending.is_none(), "the last `in` has no `out`");
    pairs
}

#[test]
fn golden_inputs_print_as_iptables_save_prints_them() {
    let pairs = golden();
    assert!(pairs.len() >= 80, "the corpus shrank to {}", pairs.len());
    let mut failures = Vec::new();
    for (input, expected) in &pairs {
        match input.parse::<Rule>() {
            Ok(rule) if rule.to_string() == *expected => {}
            Ok(rule) => {
                failures.push(format!("{input:?}\n  printed  {rule}\n  expected {expected}"))
            }
            Err(e) => failures.push(format!("{input:?}\n  refused: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} of {}:\n{}", failures.len(), pairs.len(), failures.join("\n"));
}

#[test]
fn golden_outputs_are_fixed_points() {
    for (input, expected) in golden() {
        let printed: Rule = expected.parse().unwrap_or_else(|e| panic!("{expected:?}: {e}"));
        assert_eq!(printed.to_string(), expected, "reprinting {expected:?}");
        let original: Rule = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(printed, original, "{input:?} and {expected:?} are the same rule");
    }
}

struct Rejected {
    kind: &'static str,
    token: &'static str,
    verdict: &'static str,
    input: &'static str,
}

fn rejected() -> Vec<Rejected> {
    REJECTED
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.splitn(4, " | ");
            let mut next = || f.next().unwrap_or_else(|| panic!("four columns in {l:?}"));
            Rejected { kind: next(), token: next(), verdict: next(), input: next() }
        })
        .collect()
}

fn kind_name(e: &ParseError) -> &'static str {
    match e.kind {
        ParseErrorKind::UnterminatedQuote => "quote",
        ParseErrorKind::MissingArgument { .. } => "missing",
        ParseErrorKind::Unsupported { .. } => "unsupported",
        ParseErrorKind::Invalid { .. } => "invalid",
        ParseErrorKind::Conflict { .. } => "conflict",
        ParseErrorKind::Trailing { .. } => "trailing",
    }
}

#[test]
fn rejected_inputs_name_the_offending_token() {
    let cases = rejected();
    assert!(cases.len() >= 60, "the corpus shrank to {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let err = match case.input.parse::<Rule>() {
            Ok(rule) => {
                failures.push(format!("{:?} parsed as {rule}", case.input));
                continue;
            }
            Err(e) => e,
        };
        let at = case.input.get(err.span.clone()).unwrap_or("?");
        let at =
            if err.span.is_empty() && err.span.start == case.input.len() { "<end>" } else { at };
        if kind_name(&err) != case.kind || at != case.token {
            failures.push(format!(
                "{:?}: got {} at {at:?} ({err}), expected {} at {:?}",
                case.input,
                kind_name(&err),
                case.kind,
                case.token
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {}:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn unsupported_means_iptables_accepts_and_the_rest_means_it_refuses() {
    for case in rejected() {
        let expected = if case.kind == "unsupported" { "accepted" } else { "refused" };
        assert_eq!(case.verdict, expected, "{:?} ({})", case.input, case.kind);
    }
}

/// Words that make random command lines reach deep into the parser.
const WORDS: &[&str] = &[
    "-A",
    "-I",
    "-D",
    "-N",
    "-X",
    "-F",
    "-P",
    "-t",
    "nat",
    "filter",
    "FORWARD",
    "X",
    "1",
    "0",
    "!",
    "-s",
    "-d",
    "-i",
    "-o",
    "-p",
    "tcp",
    "udp",
    "icmp",
    "all",
    "-m",
    "-j",
    "-g",
    "--dport",
    "--sport",
    "80",
    "1:2",
    ":",
    "0:65535",
    "10.0.0.1",
    "10.0.0.0/8",
    "/",
    "eth+",
    "+",
    "conntrack",
    "--ctstate",
    "NEW,ESTABLISHED",
    "addrtype",
    "--dst-type",
    "--src-type",
    "LOCAL",
    "multiport",
    "--dports",
    "--sports",
    "1,2:3",
    "mark",
    "--mark",
    "0x1/0x1",
    "comment",
    "--comment",
    "\"a b\"",
    "ACCEPT",
    "DROP",
    "RETURN",
    "REJECT",
    "--reject-with",
    "tcp-reset",
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "MARK",
    "--to-destination",
    "--to-source",
    "1.2.3.4:80-90",
    "--set-xmark",
    "--set-mark",
    "--and-mark",
    "-",
    "--",
    "--to",
    "=",
    "é",
    "\"",
    "'",
    "\\",
    "*nat",
    "COMMIT",
    ":X",
    "-",
    "[0:0]",
    "\n",
];

fn soup() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => "[ -~]{0,12}",
    ];
    proptest::collection::vec(word, 0..24).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_token_soup_never_panics(input in soup()) {
        if let Ok(tokens) = tokenize(&input) {
            let _ = parse_rule(&mut Cursor::new(&tokens, input.len()));
            let _ = parse_command(&mut Cursor::new(&tokens, input.len()));
        }
        let _ = parse_save(&input.replace(" \n ", "\n"));
        if let Ok(rule) = input.parse::<Rule>() {
            let again: Rule = rule.to_string().parse().expect("a printed rule parses");
            prop_assert_eq!(again, rule);
        }
    }
}
