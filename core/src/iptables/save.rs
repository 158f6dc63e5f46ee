//! Parsing `iptables-save` / `iptables-save -c` output (and `iptables-restore` input
//! written as commands) into a `Ruleset`, as `iptables-restore` would build it, and
//! reading its packet counters when asked. This is the one parser of the format: the
//! model reads rule files with it and the linux backend reads the kernel's rules and
//! counters with it.

use super::command::parse_command_in;
use super::rule::{Command, Policy, Table};
use super::ruleset::Ruleset;
use crate::names::ChainName;
use crate::text::{Cursor, ParseError, ParseErrorKind, Token, tokenize};

/// A line of `iptables-save` output that did not parse.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("iptables-save line {line}: {error}")]
pub struct SaveError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong on that line; the span is a byte range of the whole text. A
    /// command the rule set refuses (say a jump to an undeclared chain) is reported as
    /// `Invalid` with the refusal as the reason.
    pub error: ParseError,
}

/// What `iptables-save -c` counted for one rule or one built-in chain's policy.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Counter {
    /// The table.
    pub table: Table,
    /// The chain.
    pub chain: ChainName,
    /// The 1-based rule number in its chain; `None` for the policy.
    pub rule: Option<u32>,
    /// Packets counted.
    pub packets: u64,
    /// Bytes counted.
    pub bytes: u64,
    /// The rule as iptables-save prints it (`-A CHAIN ...`), or the policy (`DROP`).
    pub text: String,
}

impl Counter {
    /// The verdict keyword the rule or policy ends with (`DROP`, `REJECT`, `ACCEPT`, ...).
    pub fn verdict(&self) -> Option<&str> {
        if self.rule.is_none() {
            return Some(self.text.as_str());
        }
        let mut words = self.text.split_whitespace();
        while let Some(w) = words.next() {
            if w == "-j" {
                return words.next();
            }
        }
        None
    }
}

/// Parses `iptables-save` (or `iptables-save -c`) output into a rule set. Counters and
/// `#` comment lines are ignored. Every `*table` section creates its table with all its
/// built-in chains, as `iptables-restore` does; `:CHAIN POLICY` lines set policies or
/// declare user chains, and the other lines are commands (`-A CHAIN ...`) applied in
/// order with all the checks of `Ruleset::apply`.
pub fn parse_save(text: &str) -> Result<Ruleset, SaveError> {
    parse(text, None)
}

/// [`parse_save`] of `iptables-save -c` output, with the counters of every rule (numbered
/// per chain, in order) and of every built-in chain's policy, in file order. A line
/// without counters counts 0.
pub fn parse_save_counted(text: &str) -> Result<(Ruleset, Vec<Counter>), SaveError> {
    let mut counters = Vec::new();
    let rs = parse(text, Some(&mut counters))?;
    Ok((rs, counters))
}

fn parse(text: &str, mut counters: Option<&mut Vec<Counter>>) -> Result<Ruleset, SaveError> {
    let mut rs = Ruleset::default();
    let mut current: Option<(Table, usize)> = None;
    let mut start = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let at = start;
        start += raw.len() + 1;
        let line = raw.trim_end_matches('\r');
        let fail = |kind, span: std::ops::Range<usize>| SaveError {
            line: line_no,
            error: ParseError { kind, span: at + span.start..at + span.end },
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let whole = 0..line.len();
        let invalid = |what, reason: String| ParseErrorKind::Invalid {
            what,
            token: trimmed.to_owned(),
            reason,
        };
        if let Some(name) = trimmed.strip_prefix('*') {
            if current.is_some() {
                return Err(fail(
                    invalid("line", "COMMIT missing before a new table".into()),
                    whole,
                ));
            }
            let table = match name {
                "filter" => Table::Filter,
                "nat" => Table::Nat,
                "mangle" => Table::Mangle,
                "raw" => Table::Raw,
                "security" => {
                    let hint = Some("only filter, nat, mangle and raw are modeled");
                    let token = name.to_owned();
                    return Err(fail(
                        ParseErrorKind::Unsupported { what: "table", token, hint },
                        whole,
                    ));
                }
                _ => return Err(fail(invalid("table", "no such table".into()), whole)),
            };
            rs.table_mut(table).restore();
            current = Some((table, line_no));
            continue;
        }
        let Some((table, _)) = current else {
            return Err(fail(invalid("line", "outside of a *table section".into()), whole));
        };
        if trimmed == "COMMIT" {
            current = None;
            continue;
        }
        let mut tokens = tokenize(line).map_err(|e| fail(e.kind, e.span))?;
        for t in &mut tokens {
            t.span = at + t.span.start..at + t.span.end;
        }
        let (cmd, count) = if let Some(decl) = trimmed.strip_prefix(':') {
            let cmd = declaration(table, decl, &tokens)
                .map_err(|error| SaveError { line: line_no, error })?;
            (cmd, tokens.get(2).and_then(|t| counts(&t.text)))
        } else {
            let count = tokens.first().and_then(|t| counts(&t.text));
            let mut c = Cursor::new(&tokens[usize::from(count.is_some())..], at + line.len());
            let cmd = parse_command_in(&mut c, table, false)
                .map_err(|error| SaveError { line: line_no, error })?
                .1;
            (cmd, count)
        };
        if let Err(e) = rs.apply(table, &cmd) {
            return Err(fail(invalid("command", e.to_string()), whole));
        }
        if let Some(out) = counters.as_deref_mut() {
            let (packets, bytes) = count.unwrap_or((0, 0));
            let counter = |chain: &ChainName, rule, text: &str| Counter {
                table,
                chain: chain.clone(),
                rule,
                packets,
                bytes,
                text: text.to_owned(),
            };
            match &cmd {
                Command::Policy(chain, policy) => out.push(counter(chain, None, policy.as_str())),
                Command::Append(chain, _) => {
                    let n = rs.table(table).chain(chain.as_str()).map_or(0, |c| c.rules.len());
                    let rule = trimmed.trim_start_matches(|c| c != '-');
                    out.push(counter(chain, u32::try_from(n).ok(), rule));
                }
                _ => {}
            }
        }
    }
    if let Some((_, line)) = current {
        let kind = ParseErrorKind::MissingArgument { expected: "COMMIT", after: String::new() };
        return Err(SaveError { line, error: ParseError { kind, span: text.len()..text.len() } });
    }
    Ok(rs)
}

/// `[packets:bytes]`, read.
fn counts(s: &str) -> Option<(u64, u64)> {
    let (p, b) = s.strip_prefix('[')?.strip_suffix(']')?.split_once(':')?;
    let number = |x: &str| x.bytes().all(|b| b.is_ascii_digit()).then(|| x.parse().ok())?;
    Some((number(p)?, number(b)?))
}

/// Whether a token is `[packets:bytes]`.
fn is_counters(s: &str) -> bool {
    counts(s).is_some()
}

/// `:CHAIN POLICY [p:b]`: a policy for a built-in chain, `-` declares a user chain.
fn declaration(table: Table, decl: &str, tokens: &[Token]) -> Result<Command, ParseError> {
    let name_tok = tokens.first();
    let name = decl.split_whitespace().next().unwrap_or_default();
    let bad = |t: Option<&Token>, what, reason: &str| {
        let t = t.or(name_tok);
        ParseError {
            kind: ParseErrorKind::Invalid {
                what,
                token: t.map(|t| t.text.clone()).unwrap_or_default(),
                reason: reason.to_owned(),
            },
            span: t.map(|t| t.span.clone()).unwrap_or(0..0),
        }
    };
    let chain = ChainName::new(name).map_err(|e| bad(None, "chain", &e.to_string()))?;
    let policy = tokens.get(1);
    if let Some(extra) = tokens.get(2).filter(|t| !is_counters(&t.text)).or(tokens.get(3)) {
        return Err(bad(Some(extra), "declaration", "expected :CHAIN POLICY [packets:bytes]"));
    }
    match policy.map(|t| t.text.as_str()) {
        Some("-") if !table.is_builtin(name) => Ok(Command::NewChain(chain)),
        Some("ACCEPT") if table.is_builtin(name) => Ok(Command::Policy(chain, Policy::Accept)),
        Some("DROP") if table.is_builtin(name) => Ok(Command::Policy(chain, Policy::Drop)),
        _ => Err(bad(policy, "policy", "built-in chains take ACCEPT or DROP, user chains -")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVE: &str = "# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [7:420]
:OUTPUT ACCEPT [0:0]
:A - [0:0]
[3:180] -A FORWARD -j A
[0:0] -A A -s 10.0.0.1/32 -j ACCEPT
[3:180] -A A -j REJECT --reject-with icmp-port-unreachable
COMMIT
*nat
:PREROUTING ACCEPT [1:60]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -j MASQUERADE
COMMIT
";

    #[test]
    fn counters_are_numbered_per_chain_and_read_with_the_rules() {
        let (rules, c) = parse_save_counted(SAVE).expect("parses");
        assert_eq!(rules, parse_save(SAVE).expect("parses"));
        let rows: Vec<(Table, &str, Option<u32>, u64, u64)> =
            c.iter().map(|c| (c.table, c.chain.as_str(), c.rule, c.packets, c.bytes)).collect();
        assert_eq!(
            rows,
            vec![
                (Table::Filter, "INPUT", None, 0, 0),
                (Table::Filter, "FORWARD", None, 7, 420),
                (Table::Filter, "OUTPUT", None, 0, 0),
                (Table::Filter, "FORWARD", Some(1), 3, 180),
                (Table::Filter, "A", Some(1), 0, 0),
                (Table::Filter, "A", Some(2), 3, 180),
                (Table::Nat, "PREROUTING", None, 1, 60),
                (Table::Nat, "INPUT", None, 0, 0),
                (Table::Nat, "OUTPUT", None, 0, 0),
                (Table::Nat, "POSTROUTING", None, 0, 0),
                (Table::Nat, "POSTROUTING", Some(1), 0, 0),
            ]
        );
        assert_eq!(c[5].text, "-A A -j REJECT --reject-with icmp-port-unreachable");
        assert_eq!(c[5].verdict(), Some("REJECT"));
        assert_eq!(c[1].verdict(), Some("DROP"));
        assert_eq!(c[10].verdict(), Some("MASQUERADE"));
    }

    #[test]
    fn counters_that_are_not_numbers_are_refused() {
        assert!(parse_save_counted("*filter\n:INPUT ACCEPT [x:0]\nCOMMIT\n").is_err());
        assert!(parse_save_counted("*filter\n[1:2:3] -A INPUT -j ACCEPT\nCOMMIT\n").is_err());
    }
}
