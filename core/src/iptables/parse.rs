//! Parsing iptables commands, rule specifications and `iptables-save` output.
//! (Stub: the contract; the implementation is being written.)

use super::rule::{Command, Rule, Table};
use super::ruleset::Ruleset;
use crate::text::{Cursor, ParseError};

/// Parses the arguments of one `iptables` invocation (everything after the word
/// `iptables`): `[-t filter|nat] -N|-X|-F|-A|-I|-D|-P ...`. Consumes every token.
pub fn parse_command(c: &mut Cursor<'_>) -> Result<(Table, Command), ParseError> {
    let _ = c;
    unimplemented!("parse_command")
}

/// Parses a rule specification (matches and target) from the cursor to its end.
pub fn parse_rule(c: &mut Cursor<'_>) -> Result<Rule, ParseError> {
    let _ = c;
    unimplemented!("parse_rule")
}

/// A line of `iptables-save` output that did not parse.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("iptables-save line {line}: {error}")]
pub struct SaveError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong on that line.
    pub error: ParseError,
}

/// Parses `iptables-save` (or `iptables-save -c`) output into a rule set. Counters and
/// `#` comment lines are ignored.
pub fn parse_save(text: &str) -> Result<Ruleset, SaveError> {
    let _ = text;
    unimplemented!("parse_save")
}
