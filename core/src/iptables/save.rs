//! Parsing `iptables-save` / `iptables-save -c` output (and `iptables-restore` input
//! written as commands) into a `Ruleset`, as `iptables-restore` would build it.

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

/// Parses `iptables-save` (or `iptables-save -c`) output into a rule set. Counters and
/// `#` comment lines are ignored. Every `*table` section creates its table with all its
/// built-in chains, as `iptables-restore` does; `:CHAIN POLICY` lines set policies or
/// declare user chains, and the other lines are commands (`-A CHAIN ...`) applied in
/// order with all the checks of `Ruleset::apply`.
pub fn parse_save(text: &str) -> Result<Ruleset, SaveError> {
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
                "mangle" | "raw" | "security" => {
                    let hint = Some("only filter and nat are modeled");
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
        let cmd = if let Some(decl) = trimmed.strip_prefix(':') {
            declaration(table, decl, &tokens).map_err(|error| SaveError { line: line_no, error })?
        } else {
            let skip = usize::from(tokens.first().is_some_and(|t| is_counters(&t.text)));
            let mut c = Cursor::new(&tokens[skip..], at + line.len());
            parse_command_in(&mut c, table, false)
                .map_err(|error| SaveError { line: line_no, error })?
                .1
        };
        if let Err(e) = rs.apply(table, &cmd) {
            return Err(fail(invalid("command", e.to_string()), whole));
        }
    }
    if let Some((_, line)) = current {
        let kind = ParseErrorKind::MissingArgument { expected: "COMMIT", after: String::new() };
        return Err(SaveError { line, error: ParseError { kind, span: text.len()..text.len() } });
    }
    Ok(rs)
}

/// `[packets:bytes]`.
fn is_counters(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    inner.split_once(':').is_some_and(|(p, b)| digits(p) && digits(b))
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
