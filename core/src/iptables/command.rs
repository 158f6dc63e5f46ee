//! Parsing one `iptables` invocation's arguments into a table and a `Command`.

use super::parse::parse_rule_in;
use super::rule::{Command, Policy, RuleRef, Table, Target};
use super::values::{conflict, invalid, is_target_name, unsupported};
use crate::names::ChainName;
use crate::text::{Cursor, ParseError, Token};

/// Parses the arguments of one `iptables` invocation (everything after the word
/// `iptables`): `[-t filter|nat] -N|-X|-F|-A|-I|-D|-P ...`, long forms (`--append`,
/// `--table`...) included. `-t` may also come among the rule options, as iptables allows.
/// Consumes every token.
pub fn parse_command(c: &mut Cursor<'_>) -> Result<(Table, Command), ParseError> {
    parse_command_in(c, Table::Filter, true)
}

/// Parses a command; `default` is the table when no `-t` is given, and `allow_table`
/// says whether `-t` may be given at all (not in `iptables-restore` input).
pub(crate) fn parse_command_in(
    c: &mut Cursor<'_>,
    default: Table,
    allow_table: bool,
) -> Result<(Table, Command), ParseError> {
    let mut table_tok: Option<&Token> = None;
    while let Some(t) = c.next_if(|s| matches!(s, "-t" | "--table")) {
        if !allow_table {
            return Err(invalid(
                t,
                "option",
                "-t is not allowed here (the table is given by *table)",
            ));
        }
        if table_tok.is_some() {
            return Err(conflict(t, "multiple -t flags not allowed"));
        }
        table_tok = Some(c.expect("a table name")?);
    }
    let verb = c.expect("a command (-A, -I, -D, -N, -X, -F or -P)")?;
    let mut rule_target: Option<&Token> = None;
    let cmd = match verb.text.as_str() {
        "-N" | "--new-chain" => {
            let (tok, name) = chain(c)?;
            if is_target_name(name.as_str()) {
                return Err(invalid(tok, "chain", "chain name may not clash with target name"));
            }
            Command::NewChain(name)
        }
        "-X" | "--delete-chain" => match c.peek_text() {
            Some(s) if !s.starts_with('-') => Command::DeleteChain(chain(c)?.1),
            _ => {
                return Err(unsupported(
                    verb,
                    "command",
                    "-X without a chain deletes every user chain; name the chain",
                ));
            }
        },
        "-F" | "--flush" => match c.peek_text() {
            Some(s) if !s.starts_with('-') => Command::Flush(Some(chain(c)?.1)),
            _ => Command::Flush(None),
        },
        "-P" | "--policy" => {
            let (_, name) = chain(c)?;
            let p = c.expect("a policy (ACCEPT or DROP)")?;
            let policy = match p.text.as_str() {
                "ACCEPT" => Policy::Accept,
                "DROP" => Policy::Drop,
                _ => return Err(invalid(p, "policy", "bad policy name (ACCEPT or DROP)")),
            };
            rule_target = Some(p);
            Command::Policy(name, policy)
        }
        "-A" | "--append" | "-I" | "--insert" | "-D" | "--delete" => {
            let (_, name) = chain(c)?;
            let appending = verb.text == "-A" || verb.text == "--append";
            let number = c.next_if(|s| !s.starts_with('-') && s != "!" && !appending);
            let index = match number {
                Some(t) => match t.text.parse::<u32>() {
                    Ok(n) if n >= 1 && t.text.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                    _ => return Err(invalid(t, "rule number", "invalid rule number")),
                },
                None => None,
            };
            let is_delete = matches!(verb.text.as_str(), "-D" | "--delete");
            if let (true, Some(n)) = (is_delete, index) {
                // `-D C 3 -t nat`: only -t may follow a rule number.
                let table_flag = |s: &str| allow_table && matches!(s, "-t" | "--table");
                if let Some(t) = c.next_if(table_flag) {
                    if table_tok.is_some() {
                        return Err(conflict(t, "multiple -t flags not allowed"));
                    }
                    table_tok = Some(c.expect("a table name")?);
                }
                c.finish()?;
                Command::Delete(name, RuleRef::Index(n))
            } else {
                let mut slot = table_tok;
                let parsed = parse_rule_in(c, allow_table.then_some(&mut slot))?;
                table_tok = slot;
                rule_target = parsed.target;
                match verb.text.as_str() {
                    "-A" | "--append" => Command::Append(name, parsed.rule),
                    "-I" | "--insert" => Command::Insert(name, index.unwrap_or(1), parsed.rule),
                    _ => Command::Delete(name, RuleRef::Spec(parsed.rule)),
                }
            }
        }
        "-L" | "--list" | "-S" | "--list-rules" | "-Z" | "--zero" | "-C" | "--check" | "-E"
        | "--rename-chain" | "-R" | "--replace" => {
            return Err(unsupported(verb, "command", "modeled: -A, -I, -D, -N, -X, -F, -P"));
        }
        _ if verb.text.starts_with('-') => {
            return Err(unsupported(
                verb,
                "option before the command",
                "put -t first, then the command, then the rule",
            ));
        }
        _ => return Err(invalid(verb, "command", "expected a command such as -A")),
    };
    c.finish()?;
    let table = match table_tok {
        None => default,
        Some(t) => table_name(t)?,
    };
    if table == Table::Nat {
        nat_checks(&cmd, rule_target)?;
    }
    Ok((table, cmd))
}

fn chain<'a>(c: &mut Cursor<'a>) -> Result<(&'a Token, ChainName), ParseError> {
    let t = c.expect("a chain name")?;
    let name = ChainName::new(&t.text).map_err(|e| invalid(t, "chain", e.to_string()))?;
    Ok((t, name))
}

fn table_name(t: &Token) -> Result<Table, ParseError> {
    match t.text.as_str() {
        "filter" => Ok(Table::Filter),
        "nat" => Ok(Table::Nat),
        "mangle" | "raw" | "security" => {
            Err(unsupported(t, "table", "only filter and nat are modeled"))
        }
        _ => Err(invalid(t, "table", "no such table")),
    }
}

/// iptables itself refuses DROP in the nat table, as a rule target or a policy; `tok` is
/// the `-j` value or the policy word.
fn nat_checks(cmd: &Command, tok: Option<&Token>) -> Result<(), ParseError> {
    let drop = match cmd {
        Command::Append(_, r) | Command::Insert(_, _, r) | Command::Delete(_, RuleRef::Spec(r)) => {
            r.target == Target::Drop
        }
        Command::Policy(_, p) => *p == Policy::Drop,
        _ => false,
    };
    match (drop, tok) {
        (true, Some(t)) => Err(invalid(
            t,
            "target",
            "the nat table is not intended for filtering; DROP is inhibited",
        )),
        _ => Ok(()),
    }
}
