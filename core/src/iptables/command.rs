//! Parsing one `iptables` invocation's arguments into a table and a `Command`.

use super::parse::{CommandCx, is_wait_word, parse_rule_in};
use super::rule::{Command, ListVerb, PerAddress, Policy, RuleRef, Table, Target};
use super::values::{conflict, invalid, is_target_name, unsupported};
use crate::names::ChainName;
use crate::text::{Cursor, ParseError, Token};

/// Parses the arguments of one `iptables` invocation (everything after the word
/// `iptables`): `[-t TABLE] [-w [SECS]] -N|-X|-F|-A|-I|-D|-R|-E|-Z|-P ...`, long forms
/// (`--append`, `--table`...) included. `-t` and `-w` may also come among the rule
/// options, as iptables allows; `-w` changes nothing and is not kept. Consumes every token.
pub fn parse_command(c: &mut Cursor<'_>) -> Result<(Table, Command), ParseError> {
    parse_command_in(c, Table::Filter, true)
}

/// Parses a command; `default` is the table when no `-t` is given, and `allow_table`
/// says whether `-t` and `-w` may be given at all (not in `iptables-restore` input).
pub(crate) fn parse_command_in(
    c: &mut Cursor<'_>,
    default: Table,
    allow_table: bool,
) -> Result<(Table, Command), ParseError> {
    let mut cx = CommandCx { restore: !allow_table, ..CommandCx::default() };
    while c.peek().is_some() {
        if let Some(w) = c.next_if(is_wait_word) {
            cx.wait_option(c, w)?;
            continue;
        }
        let Some(t) = c.next_if(|s| matches!(s, "-t" | "--table")) else { break };
        if !allow_table {
            return Err(invalid(
                t,
                "option",
                "-t is not allowed here (the table is given by *table)",
            ));
        }
        if cx.table.is_some() {
            return Err(conflict(t, "multiple -t flags not allowed"));
        }
        cx.table = Some(c.expect("a table name")?);
    }
    let verb = c.expect("a command (-A, -I, -D, -R, -N, -X, -E, -F, -Z or -P)")?;
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
        "-Z" | "--zero" => match c.peek_text() {
            Some(s) if !s.starts_with('-') => {
                let name = chain(c)?.1;
                let n = match c.next_if(|s| !s.starts_with('-')) {
                    Some(t) => Some(rule_number(t)?),
                    None => None,
                };
                Command::Zero(Some(name), n)
            }
            _ => Command::Zero(None, None),
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
        "-E" | "--rename-chain" => {
            let (old_tok, old) = chain(c)?;
            let Some(new_tok) = c.next_if(|s| !s.starts_with('-') && !s.starts_with('!')) else {
                return Err(ParseError::at(
                    verb,
                    crate::text::ParseErrorKind::MissingArgument {
                        expected: "a new chain name",
                        after: old_tok.text.clone(),
                    },
                ));
            };
            Command::Rename(old, new_chain_name(new_tok)?)
        }
        "-A" | "--append" | "-I" | "--insert" | "-D" | "--delete" | "-R" | "--replace" => {
            let (_, name) = chain(c)?;
            let appending = verb.text == "-A" || verb.text == "--append";
            let replacing = verb.text == "-R" || verb.text == "--replace";
            let number = c.next_if(|s| !s.starts_with('-') && s != "!" && !appending);
            let index = match number {
                Some(t) => Some(rule_number(t)?),
                None if replacing => {
                    return Err(invalid(verb, "command", "-R requires a rule number"));
                }
                None => None,
            };
            let is_delete = matches!(verb.text.as_str(), "-D" | "--delete");
            if let (true, Some(n)) = (is_delete, index) {
                // `-D C 3 -t nat`: only -t and -w may follow a rule number.
                wait_and_table(c, &mut cx, allow_table)?;
                c.finish()?;
                Command::Delete(name, RuleRef::Index(n))
            } else {
                let parsed = parse_rule_in(c, Some(&mut cx))?;
                rule_target = parsed.target;
                if let Some(t) = parsed.list_token {
                    if replacing {
                        return Err(invalid(
                            t,
                            "address",
                            "Replacement rule does not specify a unique address",
                        ));
                    }
                    let mut rule = parsed.rule;
                    rule.src = None;
                    rule.dst = None;
                    let verb = match verb.text.as_str() {
                        "-A" | "--append" => ListVerb::Append,
                        "-I" | "--insert" => ListVerb::Insert(index.unwrap_or(1)),
                        _ => ListVerb::Delete,
                    };
                    Command::PerAddress(Box::new(PerAddress {
                        verb,
                        chain: name,
                        rule,
                        sources: parsed.sources,
                        destinations: parsed.destinations,
                    }))
                } else {
                    match verb.text.as_str() {
                        "-A" | "--append" => Command::Append(name, parsed.rule),
                        "-I" | "--insert" => Command::Insert(name, index.unwrap_or(1), parsed.rule),
                        "-R" | "--replace" => {
                            Command::Replace(name, index.unwrap_or(1), parsed.rule)
                        }
                        _ => Command::Delete(name, RuleRef::Spec(parsed.rule)),
                    }
                }
            }
        }
        "-L" | "--list" | "-S" | "--list-rules" | "-C" | "--check" => {
            return Err(unsupported(
                verb,
                "command",
                "modeled: -A, -I, -D, -R, -N, -X, -E, -F, -Z, -P",
            ));
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
    if !matches!(verb.text.as_str(), "-A" | "--append" | "-I" | "--insert" | "-R" | "--replace")
        || matches!(cmd, Command::Delete(_, RuleRef::Index(_)))
    {
        wait_and_table(c, &mut cx, allow_table)?;
    }
    c.finish()?;
    cx.finish()?;
    let table = match cx.table {
        None => default,
        Some(t) => table_name(t)?,
    };
    if table == Table::Nat {
        nat_checks(&cmd, rule_target)?;
    }
    Ok((table, cmd))
}

/// After a command's fixed arguments: `-w`/`-W` and `-t`, which iptables takes anywhere.
fn wait_and_table<'a>(
    c: &mut Cursor<'a>,
    cx: &mut CommandCx<'a>,
    allow_table: bool,
) -> Result<(), ParseError> {
    loop {
        if let Some(w) = c.next_if(is_wait_word) {
            cx.wait_option(c, w)?;
            continue;
        }
        let table_flag = |s: &str| allow_table && matches!(s, "-t" | "--table");
        let Some(t) = c.next_if(table_flag) else { break };
        if cx.table.is_some() {
            return Err(conflict(t, "multiple -t flags not allowed"));
        }
        cx.table = Some(c.expect("a table name")?);
    }
    Ok(())
}

/// A rule number of `-I`, `-D`, `-R`, `-Z`: a decimal number from 1.
fn rule_number(t: &Token) -> Result<u32, ParseError> {
    match t.text.parse::<u32>() {
        Ok(n) if n >= 1 && t.text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(invalid(t, "rule number", format!("Invalid rule number `{}'", t.text))),
    }
}

/// `-E`'s new name. iptables-nft renames to any word at all (a name `-N` refuses, such as
/// a target's or one too long, included); nettwin models only names `-N` takes.
fn new_chain_name(t: &Token) -> Result<ChainName, ParseError> {
    let name = ChainName::new(&t.text).map_err(|_| {
        unsupported(t, "chain name", "iptables renames to it, but -N refuses it; not modeled")
    })?;
    if is_target_name(name.as_str()) {
        return Err(unsupported(
            t,
            "chain name",
            "a target's name: iptables renames to it, but rules could not name it",
        ));
    }
    Ok(name)
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
        "mangle" => Ok(Table::Mangle),
        "raw" => Ok(Table::Raw),
        "security" => Err(unsupported(t, "table", "only filter, nat, mangle and raw are modeled")),
        _ => Err(invalid(t, "table", "no such table")),
    }
}

/// iptables itself refuses DROP in the nat table, as a rule target or a policy; `tok` is
/// the `-j` value or the policy word.
fn nat_checks(cmd: &Command, tok: Option<&Token>) -> Result<(), ParseError> {
    let drop = match cmd {
        Command::Append(_, r)
        | Command::Insert(_, _, r)
        | Command::Replace(_, _, r)
        | Command::Delete(_, RuleRef::Spec(r)) => r.target == Target::Drop,
        Command::PerAddress(p) => p.rule.target == Target::Drop,
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
