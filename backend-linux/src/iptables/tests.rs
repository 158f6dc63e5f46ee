//! Batch planning against a fake iptables-restore that behaves like the real one: sections
//! commit one at a time, the run stops at the first failure, and some failures name the op's
//! line while others name the COMMIT line.

use nettwin_core::iptables::{Command, Table};
use nettwin_core::names::ChainName;

use super::*;

/// A fake restore: ops whose chain name starts with `BAD` fail naming their line, `LATE`
/// fail naming the COMMIT line, `KBAD` fail at COMMIT naming their own line (a kernel
/// refusal), and `DEP` fail naming their line while a `KBAD` is queued before them in the
/// same section (a check against the batch's pending changes). Committed lines are
/// recorded.
#[derive(Default)]
struct Fake {
    runs: Vec<String>,
    committed: Vec<String>,
}

impl Restore for Fake {
    fn run(&mut self, input: &str) -> io::Result<Result<(), RestoreFailure>> {
        self.runs.push(input.to_owned());
        let mut pending = Vec::new();
        let mut late = None;
        for (n, line) in input.lines().enumerate() {
            let n = n + 1;
            if line.starts_with('*') {
                pending.clear();
                late = None;
            } else if line == "COMMIT" {
                if let Some(msg) = late {
                    return Ok(Err(RestoreFailure { line: Some(n), message: msg }));
                }
                self.committed.append(&mut pending);
            } else if line.contains(" DEP") && pending.iter().any(|p: &String| p.contains(" KBAD"))
            {
                return Ok(Err(RestoreFailure {
                    line: Some(n),
                    message: format!("iptables-restore: line {n} failed: Directory not empty."),
                }));
            } else if line.contains(" KBAD") {
                // Refused by the kernel at COMMIT, naming its own line.
                if late.is_none() {
                    late = Some(format!("line {n}: RULE_APPEND failed (Invalid argument)"));
                }
                pending.push(line.to_owned());
            } else if line.contains(" BAD") {
                return Ok(Err(RestoreFailure {
                    line: Some(n),
                    message: format!("iptables-restore: line {n} failed: Chain already exists."),
                }));
            } else {
                if line.contains(" LATE") && late.is_none() {
                    late = Some("Chain 'LATE' does not exist".to_owned());
                }
                pending.push(line.to_owned());
            }
        }
        Ok(Ok(()))
    }
}

fn new_chain(name: &str) -> Command {
    Command::NewChain(ChainName::new(name).unwrap_or_else(|e| panic!("{e}")))
}

fn kinds(results: &[Result<(), OpError>]) -> Vec<Option<ErrorKind>> {
    results.iter().map(|r| r.as_ref().err().map(|e| e.kind)).collect()
}

#[test]
fn a_good_batch_takes_one_process() {
    let cmds = [new_chain("A"), new_chain("B"), new_chain("C")];
    let ops: Vec<(Table, &Command)> =
        vec![(Table::Filter, &cmds[0]), (Table::Nat, &cmds[1]), (Table::Filter, &cmds[2])];
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(kinds(&r), vec![None, None, None]);
    assert_eq!(fake.runs.len(), 1);
    assert_eq!(fake.runs[0], "*filter\n-N A\n-N C\nCOMMIT\n*nat\n-N B\nCOMMIT\n");
}

#[test]
fn a_comment_with_a_newline_never_reaches_the_batch() {
    let chain = ChainName::new("FORWARD").unwrap_or_else(|e| panic!("{e}"));
    let rule = nettwin_core::iptables::Rule {
        matches: vec![nettwin_core::iptables::Match::Comment("x\n-A FORWARD -j DROP".into())],
        target: nettwin_core::iptables::Target::Accept,
        ..Default::default()
    };
    let cmds = [Command::Append(chain, rule), new_chain("A")];
    let ops: Vec<(Table, &Command)> = vec![(Table::Filter, &cmds[0]), (Table::Filter, &cmds[1])];
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(kinds(&r), vec![Some(ErrorKind::InvalidArgument), None]);
    assert_eq!(fake.runs, vec!["*filter\n-N A\nCOMMIT\n".to_owned()]);
}

#[test]
fn a_failure_naming_its_line_fails_that_op_only() {
    let cmds = [new_chain("A"), new_chain("BAD1"), new_chain("C"), new_chain("D")];
    let ops: Vec<(Table, &Command)> = cmds.iter().map(|c| (Table::Filter, c)).collect();
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(kinds(&r), vec![None, Some(ErrorKind::AlreadyExists), None, None]);
    assert_eq!(fake.committed, vec!["-N A", "-N C", "-N D"]);
    assert_eq!(fake.runs.len(), 3, "the batch, the ops before, the ops after");
}

#[test]
fn a_failure_at_commit_falls_back_to_one_process_per_op() {
    let cmds = [new_chain("A"), new_chain("LATE"), new_chain("C")];
    let ops: Vec<(Table, &Command)> = cmds.iter().map(|c| (Table::Filter, c)).collect();
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(kinds(&r), vec![None, Some(ErrorKind::NotFound), None]);
    assert_eq!(fake.committed, vec!["-N A", "-N C"]);
}

#[test]
fn sections_before_the_failing_one_stay_committed() {
    let cmds = [new_chain("A"), new_chain("B"), new_chain("BAD"), new_chain("E")];
    let ops: Vec<(Table, &Command)> = vec![
        (Table::Nat, &cmds[0]),
        (Table::Filter, &cmds[1]),
        (Table::Nat, &cmds[2]),
        (Table::Nat, &cmds[3]),
    ];
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(kinds(&r), vec![None, None, Some(ErrorKind::AlreadyExists), None]);
    assert_eq!(fake.committed, vec!["-N B", "-N A", "-N E"]);
}

#[test]
fn every_failure_of_a_batch_is_found() {
    let cmds = [new_chain("BAD1"), new_chain("LATE"), new_chain("C"), new_chain("BAD2")];
    let ops: Vec<(Table, &Command)> = cmds.iter().map(|c| (Table::Filter, c)).collect();
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(
        kinds(&r),
        vec![
            Some(ErrorKind::AlreadyExists),
            Some(ErrorKind::NotFound),
            None,
            Some(ErrorKind::AlreadyExists)
        ]
    );
    assert_eq!(fake.committed, vec!["-N C"]);
}

#[test]
fn restore_messages_give_the_blamed_line() {
    let f = parse_failure("iptables-restore: line 2 failed: Chain already exists.\n");
    assert_eq!(f.line, Some(2));
    assert_eq!(f.message, "iptables-restore: line 2 failed: Chain already exists.");
    let f = parse_failure(
        "iptables-restore v1.8.9 (nf_tables): \nline 11: RULE_APPEND failed (No such file or directory): rule in chain FORWARD\n",
    );
    assert_eq!(f.line, Some(11));
    let f = parse_failure(
        "iptables-restore v1.8.9 (nf_tables): Chain 'NOPE' does not exist\nError occurred at line: 3\nTry `iptables-restore -h' or 'iptables-restore --help' for more information.\n",
    );
    assert_eq!(f.line, Some(3));
    assert_eq!(f.message, "iptables-restore v1.8.9 (nf_tables): Chain 'NOPE' does not exist");
}

#[test]
fn an_aborted_batch_blames_its_first_failing_line_only() {
    let f = parse_failure(
        "iptables-restore v1.8.9 (nf_tables): \nline 2: RULE_APPEND failed (Invalid argument): rule in chain FORWARD\nline 5: RULE_DELETE failed (No such file or directory): rule in chain FORWARD\n",
    );
    assert_eq!(f.line, Some(2));
    assert!(f.message.contains("Invalid argument"), "{}", f.message);
    assert!(!f.message.contains("No such file"), "{}", f.message);
    assert_eq!(crate::errors::iptables_kind(&f.message), ErrorKind::InvalidArgument);
}

const SAVE: &str = "*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [7:420]
:OUTPUT ACCEPT [0:0]
:A - [0:0]
[3:180] -A FORWARD -j A
[0:0] -A A -s 10.0.0.1/32 -j ACCEPT
[3:180] -A A -j REJECT --reject-with icmp-port-unreachable
COMMIT
";

#[test]
fn only_counters_that_grew_moved() {
    let before = parse_counters(SAVE).expect("parses");
    let after =
        parse_counters(&SAVE.replace("[3:180] -A A -j", "[4:240] -A A -j")).expect("parses");
    let m = moved(&before, &after);
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].0.chain.as_str(), m[0].0.rule, m[0].1), ("A", Some(2), 1));
}

#[test]
fn a_flush_or_a_chain_deletion_starts_a_new_section_of_its_table() {
    let flush = Command::Flush(Some(ChainName::new("A").unwrap_or_else(|e| panic!("{e}"))));
    let delete = Command::DeleteChain(ChainName::new("B").unwrap_or_else(|e| panic!("{e}")));
    let cmds = [new_chain("A"), flush, new_chain("B"), delete];
    let ops: Vec<(Table, &Command)> = cmds.iter().map(|c| (Table::Filter, c)).collect();
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(kinds(&r), vec![None, None, None, None]);
    assert_eq!(fake.runs.len(), 1);
    assert_eq!(
        fake.runs[0],
        "*filter\n-N A\nCOMMIT\n*filter\n-F A\n-N B\nCOMMIT\n*filter\n-X B\nCOMMIT\n"
    );
}

#[test]
fn a_rule_deletion_starts_a_new_section_so_earlier_rules_are_checked_before_it() {
    let dnat = "-A Y -p icmp -j DNAT --to-destination 172.26.64.2";
    let nat = |t: &str| {
        let text = format!("-t nat {t}");
        let tokens = nettwin_core::text::tokenize(&text).unwrap_or_else(|e| panic!("{e}"));
        let mut c = nettwin_core::text::Cursor::new(&tokens, text.len());
        nettwin_core::iptables::parse_command(&mut c).unwrap_or_else(|e| panic!("{t}: {e}")).1
    };
    let cmds: Vec<Command> = ["-N Y", "-A INPUT -g Y", dnat, "-D INPUT 1"].map(nat).to_vec();
    let ops: Vec<(Table, &Command)> = cmds.iter().map(|c| (Table::Nat, c)).collect();
    let mut fake = Fake::default();
    run_batch(&mut fake, &ops);
    assert_eq!(
        fake.runs[0],
        format!("*nat\n-N Y\n-A INPUT -g Y\n{dnat}\nCOMMIT\n*nat\n-D INPUT 1\nCOMMIT\n")
    );
}

#[test]
fn an_op_checked_against_a_change_the_kernel_refuses_is_run_again() {
    let cmds = [new_chain("KBAD"), new_chain("DEP"), new_chain("C")];
    let ops: Vec<(Table, &Command)> = cmds.iter().map(|c| (Table::Filter, c)).collect();
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(kinds(&r), vec![Some(ErrorKind::InvalidArgument), None, None]);
    assert_eq!(fake.committed, vec!["-N DEP", "-N C"]);
}

#[test]
fn a_counter_reset_runs_in_a_process_of_its_own_in_order() {
    let zero = Command::Zero(Some(ChainName::new("INPUT").unwrap_or_else(|e| panic!("{e}"))), None);
    let cmds = [new_chain("A"), zero, new_chain("B")];
    let ops: Vec<(Table, &Command)> =
        vec![(Table::Filter, &cmds[0]), (Table::Filter, &cmds[1]), (Table::Filter, &cmds[2])];
    let mut fake = Fake::default();
    let r = run_batch(&mut fake, &ops);
    assert_eq!(kinds(&r), vec![None, None, None]);
    assert_eq!(
        fake.runs,
        ["*filter\n-N A\nCOMMIT\n", "*filter\n-Z INPUT\nCOMMIT\n", "*filter\n-N B\nCOMMIT\n"]
    );
}

#[test]
fn a_reasonless_failure_of_a_numbered_counter_reset_is_a_missing_chain() {
    let chain = || Some(ChainName::new("FORWARD").unwrap_or_else(|e| panic!("{e}")));
    let bare = "iptables-restore: line 2 failed";
    assert_eq!(failure_kind(&Command::Zero(chain(), Some(1)), bare), ErrorKind::NotFound);
    assert_eq!(failure_kind(&Command::Zero(chain(), None), bare), iptables_kind(bare));
    assert_eq!(failure_kind(&new_chain("A"), bare), iptables_kind(bare));
}
