//! iptables through `iptables-restore --noflush` batches and `iptables-save -c`.
//!
//! A batch is every pending iptables op of one namespace, rendered as one restore input
//! with one section per table (`*filter ... COMMIT`, `*nat ... COMMIT`). Ops of different
//! tables commute (no command of one table reads or changes the other), so grouping them by
//! table gives the same results as running them in order; within a table the order is kept.
//! A flush, a chain deletion or a rule deletion starts a new section of its table (and a
//! rename, a replacement or a counter reset is a section of its own, `section_bounds`):
//! iptables-nft silently drops what the same transaction appended to a flushed chain,
//! refusals included, and checks a chain deletion against its cache, where an earlier
//! policy change does not show; and the kernel checks which hooks reach a target (DNAT
//! only from PREROUTING and OUTPUT) against the transaction's final rules, so a deletion
//! of the jump that made an earlier rule invalid would let that rule through.
//!
//! Each COMMIT is atomic, and iptables-restore stops at the first failure, so a failed run
//! tells exactly which sections were committed. To report each op's result as if the ops
//! had run one at a time (`run_batch`):
//! - sections before the failing one were committed: their ops succeeded;
//! - if the message names the line of an op (`line 3 failed: ...`, `line 3: RULE_APPEND
//!   failed (...)`), the ops before it in its section are re-run as a batch, that op gets the
//!   message's kind, and everything after it is re-run as a new batch; unless one of the ops
//!   before it then fails: iptables checks an op against the changes queued before it in
//!   the batch, which the kernel may refuse at commit, so the blamed op is run again;
//! - otherwise (a check deferred to COMMIT, such as `Chain 'X' does not exist`), the
//!   section's ops run one per process until one fails, and the rest as a new batch.
//!
//! The planning is pure and tested with a fake executor; only `Restore::run` spawns.

use std::io::{self, Write};
use std::process::{Command as Process, Stdio};

use nettwin_core::error::{ErrorKind, OpError};
use nettwin_core::iptables::{Command, Counter, ListVerb, SaveError, Table, parse_save_counted};

use crate::errors::iptables_kind;

/// `iptables-restore` failed: the line it blamed (if it said) and its message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RestoreFailure {
    /// The 1-based input line the message names.
    pub line: Option<usize>,
    /// The message, on one line.
    pub message: String,
}

/// Runs one restore input and reports success or the failure.
pub trait Restore {
    /// Runs `input` through `iptables-restore --noflush`.
    fn run(&mut self, input: &str) -> io::Result<Result<(), RestoreFailure>>;
}

/// The real thing: spawns `iptables-restore --noflush` from the calling thread, which must
/// be a namespace worker (the child inherits the thread's namespace).
#[derive(Debug, Default)]
pub struct Spawn {
    /// How many processes were spawned (for tests and benchmarks).
    pub spawned: usize,
}

impl Restore for Spawn {
    fn run(&mut self, input: &str) -> io::Result<Result<(), RestoreFailure>> {
        self.spawned += 1;
        let mut child = Process::new(crate::tools::path_of("iptables-restore")?)
            .arg("--noflush")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if out.status.success() {
            return Ok(Ok(()));
        }
        Ok(Err(parse_failure(&String::from_utf8_lossy(&out.stderr))))
    }
}

/// Reads the blamed line and the message out of iptables-restore's stderr. When the
/// kernel refuses an nf_tables batch it reports every message that failed (`line 2:
/// RULE_APPEND failed (Invalid argument) ... line 5: RULE_DELETE failed (No such file or
/// directory)`); only the first is the cause (the later ones fail because the batch was
/// aborted), so the message stops before the next line number.
pub fn parse_failure(stderr: &str) -> RestoreFailure {
    let mut line: Option<usize> = None;
    let mut parts = Vec::new();
    for l in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.starts_with("Try `") {
            continue;
        }
        if let Some(rest) = l.strip_prefix("Error occurred at line:") {
            line = line.or_else(|| rest.trim().parse().ok());
            continue;
        }
        if let Some(pos) = l.find("line ") {
            let digits: String = l[pos + 5..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<usize>() {
                if line.is_some_and(|first| first != n) {
                    break;
                }
                line = Some(n);
            }
        }
        parts.push(l);
    }
    RestoreFailure { line, message: parts.join(" ") }
}

/// `iptables-save -c`, spawned from the calling thread (a namespace worker).
pub fn save_with_counters() -> io::Result<String> {
    let out = Process::new(crate::tools::path_of("iptables-save")?)
        .arg("-c")
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "iptables-save failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(io::Error::other)
}

/// One restore input and where each op sits in it.
#[derive(Debug)]
struct Plan {
    text: String,
    /// (table, line of its first op, COMMIT line, positions into the batch's op list).
    sections: Vec<(Table, usize, usize, Vec<usize>)>,
}

fn plan(ops: &[(Table, &Command)], which: &[usize]) -> Plan {
    let mut text = String::new();
    let mut sections = Vec::new();
    let mut line = 0;
    for table in Table::ALL {
        let mine: Vec<usize> = which.iter().copied().filter(|&i| ops[i].0 == table).collect();
        // A flush and a deletion start a new section (see the module's documentation):
        // each op must be checked against the rules as the ops before it left them.
        let mut chunks: Vec<Vec<usize>> = Vec::new();
        let mut alone = false;
        for i in mine {
            let (starts, ends) = section_bounds(ops[i].1);
            match chunks.last_mut() {
                Some(chunk) if !starts && !alone => chunk.push(i),
                _ => chunks.push(vec![i]),
            }
            alone = ends;
        }
        for chunk in chunks {
            text.push_str(&format!("*{table}\n"));
            line += 1;
            let first = line + 1;
            for &i in &chunk {
                text.push_str(&format!("{}\n", ops[i].1));
                line += 1;
            }
            text.push_str("COMMIT\n");
            line += 1;
            sections.push((table, first, line, chunk));
        }
    }
    Plan { text, sections }
}

/// Whether a command starts a new section, and whether it must also be the last of its
/// section (see the module docs): a flush, a chain deletion and a rule deletion start one;
/// a rename, a replacement and a counter reset stand alone, because iptables-restore's
/// cache does not see a rename within its transaction (the next line naming the new
/// chain fails) and it crashes (SIGSEGV) on a `-R` or `-Z N` of a rule the same
/// transaction already replaced or zeroed.
fn section_bounds(cmd: &Command) -> (bool, bool) {
    match cmd {
        Command::Rename(..) | Command::Replace(..) | Command::Zero(..) => (true, true),
        Command::Flush(_) | Command::DeleteChain(_) | Command::Delete(..) => (true, false),
        Command::PerAddress(p) => (p.verb == ListVerb::Delete, false),
        _ => (false, false),
    }
}

/// The kind of a failure iptables-restore blamed on `cmd`. For `-Z CHAIN N` of a built-in
/// chain that the table does not have yet, iptables-nft gives no reason ("line 2 failed";
/// `iptables -Z` says "Incompatible with this kernel"): the chain is not found, as the
/// same `-Z` without a rule number says.
fn failure_kind(cmd: &Command, message: &str) -> ErrorKind {
    let bare = message.trim_end().ends_with("failed");
    match cmd {
        Command::Zero(Some(_), Some(_)) if bare => ErrorKind::NotFound,
        _ => iptables_kind(message),
    }
}

fn op_error(table: Table, cmd: &Command, kind: ErrorKind, message: &str) -> OpError {
    OpError::new(kind, "apply", format!("{table}: {cmd}")).detail(message.to_owned())
}

/// Runs `ops` (all of one namespace, in order) and returns each op's result as if they had
/// been run one at a time (see the module docs for how).
pub fn run_batch(exec: &mut dyn Restore, ops: &[(Table, &Command)]) -> Vec<Result<(), OpError>> {
    let mut results: Vec<Option<Result<(), OpError>>> = vec![None; ops.len()];
    // A command whose text holds a control character (a newline in a comment) would be
    // more than one line of the batch: it never reaches iptables-restore.
    let mut all = Vec::with_capacity(ops.len());
    for (i, (table, cmd)) in ops.iter().enumerate() {
        match cmd.to_string().chars().find(|c| c.is_control()) {
            Some(c) => {
                let why = format!("control character {c:?} in the command");
                results[i] = Some(Err(op_error(*table, cmd, ErrorKind::InvalidArgument, &why)));
            }
            None => all.push(i),
        }
    }
    // A counter reset runs in a process of its own: iptables-restore checks `-Z CHAIN`
    // of a built-in chain against a cache that a policy change earlier in the same run
    // has filled in, and refuses it as a bad built-in chain name where it alone would
    // find no chain.
    for group in all.split_inclusive(|&i| matches!(ops[i].1, Command::Zero(..))) {
        let (zero, before) = match group.split_last() {
            Some((&z, before)) if matches!(ops[z].1, Command::Zero(..)) => (Some(z), before),
            _ => (None, group),
        };
        run(exec, ops, before, &mut results);
        if let Some(z) = zero {
            run(exec, ops, &[z], &mut results);
        }
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(OpError::new(ErrorKind::Unexpected, "apply", "iptables")
                    .detail("internal: op left without a result"))
            })
        })
        .collect()
}

fn run(
    exec: &mut dyn Restore,
    ops: &[(Table, &Command)],
    which: &[usize],
    results: &mut [Option<Result<(), OpError>>],
) {
    if which.is_empty() {
        return;
    }
    let p = plan(ops, which);
    let failure = match exec.run(&p.text) {
        Ok(Ok(())) => {
            for &i in which {
                results[i] = Some(Ok(()));
            }
            return;
        }
        Ok(Err(f)) => f,
        Err(e) => {
            for &i in which {
                let (t, c) = ops[i];
                results[i] = Some(Err(op_error(
                    t,
                    c,
                    ErrorKind::Unexpected,
                    &format!("could not run iptables-restore: {e}"),
                )));
            }
            return;
        }
    };
    // The failing section: the one whose lines hold the blamed line (the first without a
    // line number, or the last when the line is past the end).
    let s = failure
        .line
        .and_then(|l| p.sections.iter().position(|(_, _, end, _)| l <= *end))
        .unwrap_or(if failure.line.is_some() { p.sections.len() - 1 } else { 0 });
    for (_, _, _, committed) in &p.sections[..s] {
        for &i in committed {
            results[i] = Some(Ok(()));
        }
    }
    let (_, first, _, section) = &p.sections[s];
    let later: Vec<usize> = p.sections[s + 1..].iter().flat_map(|x| x.3.iter().copied()).collect();
    // A section of one op failed because of that op, whatever line the message names.
    let blamed = if section.len() == 1 {
        section.first()
    } else {
        failure.line.and_then(|l| l.checked_sub(*first)).and_then(|k| section.get(k))
    };
    if let Some(&i) = blamed {
        let k = section.iter().position(|&x| x == i).unwrap_or(0);
        run(exec, ops, &section[..k], results);
        if section[..k].iter().any(|&j| matches!(results[j], Some(Err(_)))) {
            // An op before it failed once run alone: the blamed op was checked against
            // that op's change (iptables checks against its batch, the kernel refuses at
            // commit), so its failure says nothing. Run it again from here.
            let rest: Vec<usize> = section[k..].iter().copied().chain(later).collect();
            run(exec, ops, &rest, results);
            return;
        }
        let (t, c) = ops[i];
        results[i] = Some(Err(op_error(t, c, failure_kind(c, &failure.message), &failure.message)));
        let rest: Vec<usize> = section[k + 1..].iter().copied().chain(later).collect();
        run(exec, ops, &rest, results);
        return;
    }
    // The message does not say which op: one process per op until one fails.
    for (k, &i) in section.iter().enumerate() {
        run(exec, ops, &[i], results);
        if matches!(results[i], Some(Err(_))) {
            let rest: Vec<usize> = section[k + 1..].iter().copied().chain(later).collect();
            run(exec, ops, &rest, results);
            return;
        }
    }
    run(exec, ops, &later, results);
}

/// The counters of `iptables-save -c` output, read with the model's parser
/// (`nettwin_core::iptables::parse_save_counted`).
pub fn parse_counters(save: &str) -> Result<Vec<Counter>, SaveError> {
    parse_save_counted(save).map(|(_, counters)| counters)
}

/// The counters that moved between two readings, with how much.
pub fn moved(before: &[Counter], after: &[Counter]) -> Vec<(Counter, u64)> {
    after
        .iter()
        .filter_map(|a| {
            let b = before
                .iter()
                .find(|b| b.table == a.table && b.chain == a.chain && b.rule == a.rule)
                .map_or(0, |b| b.packets);
            (a.packets > b).then(|| (a.clone(), a.packets - b))
        })
        .collect()
}

#[cfg(test)]
mod tests;
