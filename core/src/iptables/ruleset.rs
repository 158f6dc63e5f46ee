//! The filter, nat, mangle and raw tables of one namespace, and the checks iptables-nft and the kernel
//! make on every command, with the error kinds they give.
//!
//! Facts modeled here, measured with iptables v1.8.9 (nf_tables) in a throwaway netns:
//! - a table does not exist until a command first succeeds on it (`-F` of a whole missing
//!   table does not create it); once created it stays and `iptables-save` lists it even
//!   when it is back to its default content;
//! - a built-in chain exists in the kernel only once `-A`/`-I`/`-P`/`-F CHAIN` named it, so
//!   `-j INPUT` fails with ENOENT (NotFound) before that and EOPNOTSUPP (NotSupported) after;
//!   `-X INPUT` is NotFound before that, InUse while it has rules or policy DROP, and
//!   otherwise deletes the base chain from the kernel (not yet there again, until named);
//! - targets are validated against the hooks of the base chains that reach the rule's
//!   chain, through jumps and gotos, only when some base chain reaches it; a chain nothing
//!   reaches takes anything (also DNAT next to MASQUERADE);
//! - loops are refused (EMLINK) only once a base chain would reach them: unreached user
//!   chains may jump to each other in circles, and a jump from a base chain into such a
//!   circle is what fails;
//! - a path of more than 15 jumps below a base chain is refused with EMLINK, like a loop.
//!
//! Architecture invariant: no command clones a table or walks the whole jump graph; each
//! chain keeps its callers and callees with rule counts, and checks walk only the chains
//! above the target chain and below the jumped-to chain; each chain counts its rules by
//! hash, so that `-C` and `-D` of a missing rule need no scan. Chains live in hash-indexed
//! maps (FxHash, insertion-ordered, so iteration is deterministic); `chains()` sorts for
//! printing.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use super::hooks::{self, RESTRICTIONS};
use super::rule::{
    Command, ListVerb, Match, NatTo, PerAddress, Policy, Rule, RuleRef, Table, Target,
};
use super::values::is_target_name;
use crate::error::{ErrorKind, OpError};
use crate::hash::{FxBuildHasher, FxHashMap, FxIndexMap};
use crate::names::ChainName;

/// The most jumps the kernel follows below a base chain (`NFT_JUMP_STACK_SIZE` is 16
/// levels, the base chain being the first).
pub const MAX_JUMP_DEPTH: u32 = 15;

/// One chain: its policy (built-in chains only) and its rules in order.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ChainRules {
    /// `Some` for built-in chains.
    pub policy: Option<Policy>,
    /// The rules, first to last.
    pub rules: Vec<Rule>,
}

/// A chain and the bookkeeping that keeps the kernel's checks local.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(super) struct Chain {
    pub(super) rules: ChainRules,
    /// Chains with rules that jump or go to this one, and how many such rules each has.
    pub(super) callers: FxIndexMap<ChainName, u32>,
    /// Chains this one's rules jump or go to, with rule counts.
    pub(super) callees: FxIndexMap<ChainName, u32>,
    /// Rules of each restriction of `hooks` (DNAT, SNAT, MASQUERADE, `-m owner`...).
    pub(super) restricted: [u32; RESTRICTIONS],
    /// Built-in chains: whether the kernel has it yet.
    pub(super) materialized: bool,
    /// How many rules of the chain have each rule hash, so that "is this rule there" (the
    /// `-C` of every idempotent CNI step) and a `-D` of a missing rule cost a lookup, not
    /// a scan of a chain with thousands of rules. Kept exactly while the chain has more
    /// than `SCANNED_MAX` rules, empty otherwise (a scan of a few rules is cheaper).
    pub(super) hashes: FxHashMap<u64, u32>,
}

/// Chains with at most this many rules (every container's own chains) keep no rule-hash
/// counts: looking for a rule scans them.
const SCANNED_MAX: usize = 8;

/// A rule's hash for `Chain::hashes` (FxHash: fast and deterministic; collisions only
/// cost a scan of the chain, never a wrong answer).
fn rule_hash(rule: &Rule) -> u64 {
    FxBuildHasher.hash_one(rule)
}

impl Chain {
    /// Whether the chain may hold `rule`: false means it does not.
    fn may_hold(&self, rule: &Rule) -> bool {
        self.rules.rules.len() <= SCANNED_MAX
            || self.hashes.get(&rule_hash(rule)).is_some_and(|n| *n > 0)
    }

    /// Brings `hashes` up to date after a rule was added to (`add`) or removed from the
    /// rules; `key` gives that rule's hash, asked for only when it is needed.
    fn count(&mut self, key: impl FnOnce(&ChainRules) -> u64, add: bool) {
        if self.rules.rules.len() <= SCANNED_MAX {
            self.hashes.clear();
            return;
        }
        if self.hashes.is_empty() {
            // Just grew past SCANNED_MAX: count every rule, `rule` included.
            for r in &self.rules.rules {
                *self.hashes.entry(rule_hash(r)).or_insert(0) += 1;
            }
            return;
        }
        let key = key(&self.rules);
        match self.hashes.get_mut(&key) {
            Some(n) if add => *n += 1,
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.hashes.remove(&key);
            }
            None if add => {
                self.hashes.insert(key, 1);
            }
            None => {}
        }
    }

    /// Counts every rule's hash again (after rules changed in place).
    fn rehash(&mut self) {
        self.hashes.clear();
        if self.rules.rules.len() > SCANNED_MAX {
            for r in &self.rules.rules {
                *self.hashes.entry(rule_hash(r)).or_insert(0) += 1;
            }
        }
    }

    fn clear_rules(&mut self) {
        self.rules.rules.clear();
        self.hashes.clear();
        self.callees.clear();
        self.restricted = [0; RESTRICTIONS];
    }
}

/// The chains of one table. Guaranteed: the built-in chains are always present with a
/// policy, user chains never have one, and the chains reached from a built-in chain form
/// no loop and no path longer than `MAX_JUMP_DEPTH` jumps.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TableRules {
    pub(super) table: Table,
    pub(super) exists: bool,
    pub(super) chains: FxIndexMap<ChainName, Chain>,
}

impl TableRules {
    /// A table as a fresh namespace has it (not yet created in the kernel).
    pub fn new(table: Table) -> TableRules {
        let chains = table
            .builtin_chains()
            .iter()
            .filter_map(|name| ChainName::new(name).ok())
            .map(|name| {
                let rules = ChainRules { policy: Some(Policy::Accept), rules: Vec::new() };
                (name, Chain { rules, ..Chain::default() })
            })
            .collect();
        TableRules { table, exists: false, chains }
    }

    /// Which table this is.
    pub fn table(&self) -> Table {
        self.table
    }

    /// A chain by name.
    pub fn chain(&self, name: &str) -> Option<&ChainRules> {
        self.chains.get(name).map(|c| &c.rules)
    }

    /// Every chain, in `iptables-save` order: built-ins first, then user chains by name
    /// (byte order, as `strcmp` sorts them).
    pub fn chains(&self) -> impl Iterator<Item = (&ChainName, &ChainRules)> {
        let table = self.table;
        let builtins = table.builtin_chains().iter().filter_map(|b| self.chains.get_key_value(*b));
        let mut users: Vec<_> =
            self.chains.iter().filter(|(n, _)| !table.is_builtin(n.as_str())).collect();
        users.sort_unstable_by(|a, b| a.0.cmp(b.0));
        builtins.chain(users).map(|(n, c)| (n, &c.rules))
    }

    /// Whether the table is as a fresh namespace has it (built-ins, policy ACCEPT, no rules).
    pub fn is_default(&self) -> bool {
        self.chains.iter().all(|(name, c)| {
            self.table.is_builtin(name.as_str())
                && c.rules.policy == Some(Policy::Accept)
                && c.rules.rules.is_empty()
        })
    }

    /// Whether the kernel has this table: some command succeeded on it. `iptables-save`
    /// lists exactly the tables that exist.
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// Whether `chain` holds `rule` (which must be canonical, as `Rule::canonical` makes
    /// it): what `iptables -C` answers.
    pub fn contains_rule(&self, chain: &str, rule: &Rule) -> bool {
        self.chains.get(chain).is_some_and(|c| c.may_hold(rule) && c.rules.rules.contains(rule))
    }

    /// How many rules jump or go to `chain`.
    pub fn references(&self, chain: &str) -> u32 {
        self.chains.get(chain).map_or(0, |c| c.callers.values().sum())
    }

    fn err(&self, kind: ErrorKind, action: &'static str, chain: &str, detail: &str) -> OpError {
        OpError::new(kind, action, format_args!("{}/{chain}", self.table)).detail(detail)
    }

    /// `iptables-restore` of a `*table` section: the table and all its built-in chains
    /// exist from then on.
    pub(super) fn restore(&mut self) {
        self.exists = true;
        for (name, c) in &mut self.chains {
            c.materialized |= self.table.is_builtin(name.as_str());
        }
    }

    fn touch(&mut self, chain: &str) {
        self.exists = true;
        if let Some(c) = self.chains.get_mut(chain) {
            c.materialized = true;
        }
    }

    fn apply(&mut self, cmd: &Command) -> Result<(), OpError> {
        match cmd {
            Command::NewChain(name) => self.new_chain(name),
            Command::DeleteChain(name) => self.delete_chain(name),
            Command::Flush(None) => {
                for c in self.chains.values_mut() {
                    c.clear_rules();
                    c.callers.clear();
                }
                Ok(())
            }
            Command::Flush(Some(name)) => self.flush(name),
            Command::Append(name, rule) => {
                iface_allowed(name, rule)
                    .map_err(|d| self.err(ErrorKind::InvalidArgument, "add", name.as_str(), d))?;
                let rule = rule.canonical();
                self.jump_target_exists(name, &rule, "add")?;
                let len = self.existing(name, "add")?.rules.rules.len();
                self.insert_at(name, len, rule)
            }
            Command::Insert(name, n, rule) => {
                iface_allowed(name, rule).map_err(|d| {
                    self.err(ErrorKind::InvalidArgument, "insert into", name.as_str(), d)
                })?;
                let rule = rule.canonical();
                self.jump_target_exists(name, &rule, "insert into")?;
                let len = self.existing(name, "insert into")?.rules.rules.len();
                let at = (*n as usize).checked_sub(1).filter(|at| *at <= len).ok_or_else(|| {
                    let e = ErrorKind::InvalidArgument;
                    self.err(e, "insert into", name.as_str(), "Index of insertion too big")
                })?;
                self.insert_at(name, at, rule)
            }
            Command::Delete(name, RuleRef::Spec(rule)) => self.delete_spec(name, rule).map(drop),
            Command::Replace(name, n, rule) => self.replace(name, *n, rule),
            Command::Rename(old, new) => self.rename(old, new),
            Command::Zero(None, _) => Ok(()),
            Command::Zero(Some(name), _) => {
                let there = self
                    .chains
                    .get(name.as_str())
                    .is_some_and(|c| c.materialized || !self.table.is_builtin(name.as_str()));
                if there {
                    Ok(())
                } else {
                    let d = "No chain/target/match by that name";
                    Err(self.err(ErrorKind::NotFound, "zero", name.as_str(), d))
                }
            }
            Command::PerAddress(p) => self.per_address(p),
            Command::Delete(name, RuleRef::Index(n)) => {
                let len = self.existing(name, "delete from")?.rules.rules.len();
                let at = (*n as usize).checked_sub(1).filter(|at| *at < len).ok_or_else(|| {
                    let e = if *n == 0 { ErrorKind::InvalidArgument } else { ErrorKind::NotFound };
                    self.err(e, "delete from", name.as_str(), "Index of deletion too big")
                })?;
                self.remove_at(name, at);
                Ok(())
            }
            Command::Policy(name, policy) => {
                let bad =
                    |d| self.err(ErrorKind::InvalidArgument, "set policy of", name.as_str(), d);
                if !self.table.is_builtin(name.as_str()) {
                    return Err(bad("Bad built-in chain name"));
                }
                if self.table == Table::Nat && *policy == Policy::Drop {
                    return Err(bad("the nat table is not intended for filtering"));
                }
                if let Some(c) = self.chains.get_mut(name.as_str()) {
                    c.rules.policy = Some(*policy);
                }
                self.touch(name.as_str());
                Ok(())
            }
        }
    }

    /// `-D CHAIN rule`: the first rule equal to it goes; returns where it was and itself.
    fn delete_spec(&mut self, name: &ChainName, rule: &Rule) -> Result<(usize, Rule), OpError> {
        iface_allowed(name, rule)
            .map_err(|d| self.err(ErrorKind::InvalidArgument, "delete from", name.as_str(), d))?;
        let rule = rule.canonical();
        self.jump_target_exists(name, &rule, "delete from")?;
        let bad = || self.err(ErrorKind::NotFound, "delete from", name.as_str(), "Bad rule");
        let chain = self.chains.get(name.as_str()).filter(|c| c.may_hold(&rule));
        let chain = chain.ok_or_else(bad)?;
        let at = chain.rules.rules.iter().position(|r| *r == rule).ok_or_else(bad)?;
        self.remove_at(name, at);
        Ok((at, rule))
    }

    /// `-R CHAIN N rule`: the rule at N is checked as if the new one stood there instead
    /// (a jump replaced by another may close a loop), and stays on a refusal.
    fn replace(&mut self, name: &ChainName, n: u32, rule: &Rule) -> Result<(), OpError> {
        let action = "replace in";
        iface_allowed(name, rule)
            .map_err(|d| self.err(ErrorKind::InvalidArgument, action, name.as_str(), d))?;
        let rule = rule.canonical();
        self.jump_target_exists(name, &rule, action)?;
        let len = self.existing(name, action)?.rules.rules.len();
        let at = (n as usize).checked_sub(1).filter(|at| *at < len).ok_or_else(|| {
            self.err(ErrorKind::NotFound, action, name.as_str(), "Index of replacement too big")
        })?;
        let old = self.chains.get(name.as_str()).and_then(|c| c.rules.rules.get(at)).cloned();
        let Some(old) = old else { return Ok(()) };
        self.remove_at(name, at);
        if let Err(e) = self.insert_at(name, at, rule) {
            self.restore_at(name, at, old);
            return Err(e);
        }
        Ok(())
    }

    /// Puts back a rule that was just taken out, without checks.
    fn restore_at(&mut self, name: &ChainName, at: usize, rule: Rule) {
        self.link(name, &rule, true);
        if let Some(c) = self.chains.get_mut(name.as_str()) {
            c.rules.rules.insert(at, rule);
            c.count(|r| rule_hash(&r.rules[at]), true);
        }
    }

    /// `-E OLD NEW`: iptables checks the new name first (a chain by that name, or a
    /// built-in chain's name, is "File exists"), then the old one. Every rule that jumps
    /// or goes to the chain follows the new name.
    fn rename(&mut self, old: &ChainName, new: &ChainName) -> Result<(), OpError> {
        if self.chains.contains_key(new.as_str()) || self.table.is_builtin(new.as_str()) {
            return Err(self.err(ErrorKind::AlreadyExists, "rename", new.as_str(), "File exists"));
        }
        if self.table.is_builtin(old.as_str()) || !self.chains.contains_key(old.as_str()) {
            let d = "No chain/target/match by that name";
            return Err(self.err(ErrorKind::NotFound, "rename", old.as_str(), d));
        }
        let Some(chain) = self.chains.swap_remove(old.as_str()) else { return Ok(()) };
        let callers: Vec<ChainName> = chain.callers.keys().cloned().collect();
        let callees: Vec<ChainName> = chain.callees.keys().cloned().collect();
        self.chains.insert(new.clone(), chain);
        let renamed = |k: &ChainName| if k == old { new.clone() } else { k.clone() };
        for caller in callers.iter().map(renamed) {
            let Some(c) = self.chains.get_mut(caller.as_str()) else { continue };
            for r in &mut c.rules.rules {
                match &mut r.target {
                    Target::Jump(d) | Target::Goto(d) if d == old => *d = new.clone(),
                    _ => {}
                }
            }
            c.callees = c.callees.iter().map(|(k, n)| (renamed(k), *n)).collect();
            c.rehash();
        }
        for callee in callees.iter().map(renamed) {
            if let Some(c) = self.chains.get_mut(callee.as_str()) {
                c.callers = c.callers.iter().map(|(k, n)| (renamed(k), *n)).collect();
            }
        }
        Ok(())
    }

    /// A command with address lists: its single commands in order, all or none.
    fn per_address(&mut self, p: &PerAddress) -> Result<(), OpError> {
        let exists = self.exists;
        let materialized = self.chains.get(p.chain.as_str()).map(|c| c.materialized);
        // What each done command left: where a rule went in, or the rule taken out.
        let mut done: Vec<(usize, Option<Rule>)> = Vec::new();
        for cmd in p.commands() {
            let step = match (&cmd, p.verb) {
                (Command::Delete(name, RuleRef::Spec(rule)), _) => {
                    self.delete_spec(name, rule).map(|(at, r)| (at, Some(r)))
                }
                (_, ListVerb::Insert(n)) => self.apply(&cmd).map(|()| ((n as usize) - 1, None)),
                _ => self.apply(&cmd).map(|()| {
                    let len = self.chains.get(p.chain.as_str()).map_or(0, |c| c.rules.rules.len());
                    (len.saturating_sub(1), None)
                }),
            };
            match step {
                Ok(d) => done.push(d),
                Err(e) => {
                    for (at, taken) in done.into_iter().rev() {
                        match taken {
                            Some(rule) => self.restore_at(&p.chain, at, rule),
                            None => self.remove_at(&p.chain, at),
                        }
                    }
                    self.exists = exists;
                    if let (Some(c), Some(m)) =
                        (self.chains.get_mut(p.chain.as_str()), materialized)
                    {
                        c.materialized = m;
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn existing(&self, name: &ChainName, action: &'static str) -> Result<&Chain, OpError> {
        self.chains.get(name.as_str()).ok_or_else(|| {
            self.err(
                ErrorKind::NotFound,
                action,
                name.as_str(),
                "No chain/target/match by that name",
            )
        })
    }

    fn new_chain(&mut self, name: &ChainName) -> Result<(), OpError> {
        if self.chains.contains_key(name.as_str()) {
            return Err(self.err(
                ErrorKind::AlreadyExists,
                "add",
                name.as_str(),
                "Chain already exists",
            ));
        }
        if is_target_name(name.as_str()) {
            let d = "chain name may not clash with target name";
            return Err(self.err(ErrorKind::InvalidArgument, "add", name.as_str(), d));
        }
        self.chains.insert(name.clone(), Chain::default());
        self.exists = true;
        Ok(())
    }

    fn delete_chain(&mut self, name: &ChainName) -> Result<(), OpError> {
        if self.table.is_builtin(name.as_str()) {
            return self.delete_builtin(name);
        }
        let chain = self.existing(name, "delete")?;
        let refs: u32 = chain.callers.values().sum();
        if refs > 0 {
            let d = format!("referenced by {refs} rule{}", if refs == 1 { "" } else { "s" });
            return Err(self.err(ErrorKind::InUse, "delete", name.as_str(), &d));
        }
        if !chain.rules.rules.is_empty() {
            return Err(self.err(ErrorKind::InUse, "delete", name.as_str(), "chain is not empty"));
        }
        self.chains.swap_remove(name.as_str());
        Ok(())
    }

    /// `-X` of a built-in chain: iptables-nft deletes the base chain from the kernel when
    /// it is there, empty and with policy ACCEPT (and keeps printing it, ACCEPT, in
    /// iptables-save); a base chain the kernel does not have yet is NotFound, one with
    /// rules is busy (EBUSY) and one with policy DROP not empty (ENOTEMPTY), both InUse.
    fn delete_builtin(&mut self, name: &ChainName) -> Result<(), OpError> {
        let chain = self.chains.get(name.as_str());
        let Some(chain) = chain.filter(|c| c.materialized) else {
            let d = "No chain/target/match by that name";
            return Err(self.err(ErrorKind::NotFound, "delete", name.as_str(), d));
        };
        if !chain.rules.rules.is_empty() {
            let d = "CHAIN_DEL failed (Device or resource busy)";
            return Err(self.err(ErrorKind::InUse, "delete", name.as_str(), d));
        }
        if chain.rules.policy == Some(Policy::Drop) {
            return Err(self.err(ErrorKind::InUse, "delete", name.as_str(), "Directory not empty"));
        }
        if let Some(c) = self.chains.get_mut(name.as_str()) {
            c.materialized = false;
        }
        Ok(())
    }

    fn flush(&mut self, name: &ChainName) -> Result<(), OpError> {
        let chain = self.existing(name, "flush")?;
        let callees: Vec<ChainName> = chain.callees.keys().cloned().collect();
        for callee in callees {
            if let Some(c) = self.chains.get_mut(callee.as_str()) {
                c.callers.swap_remove(name.as_str());
            }
        }
        if let Some(c) = self.chains.get_mut(name.as_str()) {
            c.clear_rules();
        }
        self.touch(name.as_str());
        Ok(())
    }

    /// iptables checks in user space that a jumped-to user chain exists, before anything
    /// else (`-I C 9 -j NOPE` is NotFound, not an index error).
    fn jump_target_exists(
        &self,
        chain: &ChainName,
        rule: &Rule,
        action: &'static str,
    ) -> Result<(), OpError> {
        match rule.target.chain() {
            Some(d) if !self.chains.contains_key(d.as_str()) => Err(self.err(
                ErrorKind::NotFound,
                action,
                chain.as_str(),
                &format!("Chain '{d}' does not exist"),
            )),
            _ => Ok(()),
        }
    }

    fn insert_at(&mut self, name: &ChainName, at: usize, rule: Rule) -> Result<(), OpError> {
        self.check_rule(name, &rule)?;
        self.link(name, &rule, true);
        // `touch`, in the same lookup.
        self.exists = true;
        if let Some(c) = self.chains.get_mut(name.as_str()) {
            c.rules.rules.insert(at, rule);
            c.count(|r| rule_hash(&r.rules[at]), true);
            c.materialized = true;
        }
        Ok(())
    }

    fn remove_at(&mut self, name: &ChainName, at: usize) {
        let removed = self.chains.get_mut(name.as_str()).map(|c| {
            let rule = c.rules.rules.remove(at);
            c.count(|_| rule_hash(&rule), false);
            rule
        });
        if let Some(rule) = removed {
            self.link(name, &rule, false);
        }
    }

    /// Adds or removes the bookkeeping of one rule of `chain`.
    fn link(&mut self, chain: &ChainName, rule: &Rule, add: bool) {
        fn bump(map: &mut FxIndexMap<ChainName, u32>, key: &ChainName, add: bool) {
            match map.get_mut(key.as_str()) {
                Some(n) if add => *n += 1,
                Some(n) if *n > 1 => *n -= 1,
                Some(_) => {
                    map.swap_remove(key.as_str());
                }
                None if add => {
                    map.insert(key.clone(), 1);
                }
                None => {}
            }
        }
        if let Some(c) = self.chains.get_mut(chain.as_str()) {
            hooks::count(&mut c.restricted, rule, add);
            if let Some(d) = rule.target.chain() {
                bump(&mut c.callees, d, add);
            }
        }
        if let Some(d) = rule.target.chain()
            && let Some(c) = self.chains.get_mut(d.as_str())
        {
            bump(&mut c.callers, chain, add);
        }
    }

    /// The kernel's checks on a rule about to enter `chain` (which exists).
    fn check_rule(&self, chain: &ChainName, rule: &Rule) -> Result<(), OpError> {
        let name = chain.as_str();
        let einval = |d: &str| self.err(ErrorKind::InvalidArgument, "add rule to", name, d);
        if let Some(why) = static_problem(self.table, rule) {
            return Err(einval(why));
        }
        if let Some(d) = rule.target.chain().filter(|d| self.table.is_builtin(d.as_str())) {
            // The chain the rule goes into is created in the same transaction, first.
            let built = d == chain || self.chains.get(d.as_str()).is_some_and(|c| c.materialized);
            let (kind, d) = if built {
                (ErrorKind::NotSupported, "cannot jump to a built-in chain")
            } else {
                (ErrorKind::NotFound, "the built-in chain is not in the kernel yet")
            };
            return Err(self.err(kind, "add rule to", name, d));
        }
        if let Some(hook) = self.table.is_builtin(name).then(|| hooks::hook_bit(name)).flatten()
            && let Some(why) = hooks::direct_problem(hook, rule)
        {
            return Err(einval(why));
        }
        // The kernel validates jumps and hooks only from the base chains that reach the
        // chain; an unreached chain takes loops and any restricted rule.
        let restricted = hooks::restrictions(rule) != 0;
        if rule.target.chain().is_none() && !restricted {
            return Ok(());
        }
        let above = self.above(name);
        let Some(depth) = above.depth else { return Ok(()) };
        let own = hooks::rule_mask(rule);
        let (allowed, height) = match &rule.target {
            Target::Jump(d) | Target::Goto(d) => {
                let below = self.below(d.as_str());
                let height = below.height.filter(|_| !below.chains.contains(name));
                let Some(height) = height else {
                    return Err(self.err(
                        ErrorKind::Loop,
                        "add rule to",
                        name,
                        "Too many links (loop)",
                    ));
                };
                (below.mask & own, height + 1)
            }
            _ => (own, 0),
        };
        if above.hooks & !allowed != 0 {
            return Err(einval("target not valid in the hooks that reach this chain"));
        }
        if depth + height > MAX_JUMP_DEPTH {
            return Err(self.err(
                ErrorKind::Loop,
                "add rule to",
                name,
                "Too many links (jump depth)",
            ));
        }
        Ok(())
    }
}

/// iptables' own check of a rule spec against the chain named on the command line
/// (`Can't use -o with INPUT`), before anything else and in every table: packets in
/// PREROUTING and INPUT have no output device, those in OUTPUT and POSTROUTING no input
/// device. User chains are not checked, whatever reaches them.
fn iface_allowed(chain: &ChainName, rule: &Rule) -> Result<(), &'static str> {
    match chain.as_str() {
        "PREROUTING" | "INPUT" if rule.out_iface.is_some() => Err("Can't use -o with this chain"),
        "OUTPUT" | "POSTROUTING" if rule.in_iface.is_some() => Err("Can't use -i with this chain"),
        _ => Ok(()),
    }
}

/// What the kernel refuses in a rule whatever chain it goes to (EINVAL), and what
/// iptables refuses in user space for rules that were not parsed from text.
fn static_problem(table: Table, rule: &Rule) -> Option<&'static str> {
    let plain_proto = |p| matches!(rule.proto, Some(n) if !n.negated && n.value == p);
    let any_proto = |p| matches!(rule.proto, Some(n) if n.value == p);
    for a in [&rule.src, &rule.dst].into_iter().flatten() {
        if a.negated && a.value.prefix() == 0 {
            return Some("a negated /0 address never matches");
        }
    }
    for m in &rule.matches {
        if let Match::Comment(text) = m
            && text.chars().any(char::is_control)
        {
            return Some("a comment cannot hold control characters");
        }
        if let Match::Icmp { .. } = m
            && !plain_proto(crate::addr::Proto::Icmp)
        {
            return Some("the icmp match needs -p icmp");
        }
        let (proto, sport, dport, flags) = match m {
            Match::Tcp { sport, dport, flags } => (crate::addr::Proto::Tcp, sport, dport, *flags),
            Match::Udp { sport, dport } => (crate::addr::Proto::Udp, sport, dport, None),
            Match::Multiport { .. }
                if !plain_proto(crate::addr::Proto::Tcp)
                    && !plain_proto(crate::addr::Proto::Udp) =>
            {
                return Some("multiport needs -p tcp or -p udp");
            }
            _ => continue,
        };
        let empty = sport.is_none() && dport.is_none() && flags.is_none();
        if (empty && !plain_proto(proto)) || (!empty && !any_proto(proto)) {
            return Some("the tcp/udp match needs the same -p");
        }
    }
    match (&rule.target, table) {
        (Target::Reject(super::rule::RejectWith::TcpReset), _)
            if !plain_proto(crate::addr::Proto::Tcp) =>
        {
            Some("tcp-reset needs -p tcp")
        }
        (
            Target::Dnat(_) | Target::Snat(_) | Target::Masquerade { .. } | Target::Redirect { .. },
            Table::Filter | Table::Mangle | Table::Raw,
        ) => Some("NAT targets belong to the nat table"),
        (Target::Reject(_), Table::Nat | Table::Mangle | Table::Raw) => {
            Some("REJECT is only valid in the filter table")
        }
        (Target::Notrack { .. }, Table::Filter | Table::Nat | Table::Mangle) => {
            Some("NOTRACK and CT are only valid in the raw table")
        }
        (Target::Tcpmss(_), _) if !plain_proto(crate::addr::Proto::Tcp) => {
            Some("TCPMSS needs -p tcp")
        }
        (Target::Drop, Table::Nat) => Some("the nat table is not intended for filtering"),
        (
            Target::Dnat(NatTo { ports: Some(_), .. }) | Target::Snat(NatTo { ports: Some(_), .. }),
            _,
        ) if rule.proto.is_none() => Some("NAT ports need -p"),
        _ => None,
    }
}

/// The filter, nat, mangle and raw tables of one namespace.
///
/// A table is stored from the first command on it; until then it reads as a fresh one
/// (`TableRules::new`), shared by every namespace, so a namespace without rules (every
/// allocation's) builds no chains. Equality and `Debug` see the tables as read, so a
/// stored fresh table equals an unstored one.
#[derive(Clone, Default)]
pub struct Ruleset {
    filter: Option<TableRules>,
    nat: Option<TableRules>,
    mangle: Option<TableRules>,
    raw: Option<TableRules>,
    generation: u64,
}

impl PartialEq for Ruleset {
    fn eq(&self, other: &Self) -> bool {
        Table::ALL.into_iter().all(|t| self.table(t) == other.table(t))
            && self.generation == other.generation
    }
}

impl Eq for Ruleset {}

impl fmt::Debug for Ruleset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ruleset")
            .field("filter", self.table(Table::Filter))
            .field("nat", self.table(Table::Nat))
            .field("mangle", self.table(Table::Mangle))
            .field("raw", self.table(Table::Raw))
            .field("generation", &self.generation)
            .finish()
    }
}

impl Ruleset {
    /// Applies one command atomically: on error nothing changes. The checks and their
    /// error kinds are those of iptables-nft and the kernel (see the module doc).
    pub fn apply(&mut self, table: Table, cmd: &Command) -> Result<(), OpError> {
        self.table_mut(table).apply(cmd)?;
        self.generation += 1;
        Ok(())
    }

    /// One table.
    pub fn table(&self, table: Table) -> &TableRules {
        let stored = match table {
            Table::Filter => &self.filter,
            Table::Nat => &self.nat,
            Table::Mangle => &self.mangle,
            Table::Raw => &self.raw,
        };
        stored.as_ref().unwrap_or_else(|| fresh_table(table))
    }

    pub(super) fn table_mut(&mut self, table: Table) -> &mut TableRules {
        let stored = match table {
            Table::Filter => &mut self.filter,
            Table::Nat => &mut self.nat,
            Table::Mangle => &mut self.mangle,
            Table::Raw => &mut self.raw,
        };
        stored.get_or_insert_with(|| TableRules::new(table))
    }

    /// A counter that changes whenever the rules change (for caches built on them).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// The table a namespace has before any command on it, built once.
fn fresh_table(table: Table) -> &'static TableRules {
    static FILTER: OnceLock<TableRules> = OnceLock::new();
    static NAT: OnceLock<TableRules> = OnceLock::new();
    static MANGLE: OnceLock<TableRules> = OnceLock::new();
    static RAW: OnceLock<TableRules> = OnceLock::new();
    let cell = match table {
        Table::Filter => &FILTER,
        Table::Nat => &NAT,
        Table::Mangle => &MANGLE,
        Table::Raw => &RAW,
    };
    cell.get_or_init(|| TableRules::new(table))
}

impl fmt::Display for TableRules {
    /// The table as `iptables-save` prints it, every counter `[0:0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "*{}", self.table)?;
        for (name, c) in self.chains() {
            let policy = c.policy.map_or("-", Policy::as_str);
            writeln!(f, ":{name} {policy} [0:0]")?;
        }
        for (name, c) in self.chains() {
            for rule in &c.rules {
                let spec = rule.to_string();
                if spec.is_empty() {
                    writeln!(f, "-A {name}")?;
                } else {
                    writeln!(f, "-A {name} {spec}")?;
                }
            }
        }
        writeln!(f, "COMMIT")
    }
}

impl fmt::Display for Ruleset {
    /// The normalized form used to compare the simulator with the kernel: `iptables-save`
    /// output without its `#` lines, counters `[0:0]`, filter then nat, and only the
    /// tables that exist.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in Table::ALL.map(|t| self.table(t)) {
            if t.exists {
                write!(f, "{t}")?;
            }
        }
        Ok(())
    }
}
