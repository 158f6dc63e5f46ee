//! Netfilter: one namespace's filter and nat tables compiled for lookup (`index`), the
//! rule matcher (`matcher`), and the traversal of a hook's chain with user chains,
//! jump/goto/RETURN, marks and policies.
//!
//! A traversal only decides; NAT rewrites, conntrack and the hook order are the walker's.

mod index;
mod matcher;

use std::collections::BTreeMap;

use nettwin_core::iptables::{
    ChainRules, NatFlags, NatTo, Policy, PortRange, RejectWith, Ruleset, Table,
};
use nettwin_core::trace::{ChainHit, Note};

pub use matcher::{Ctx, PacketInfo};

use index::{CTarget, Candidates, Chain};

/// Deepest chain nesting a traversal follows (the kernel refuses loops when rules are
/// loaded, so this only bounds a state that could not exist).
const MAX_DEPTH: usize = 64;

/// What a traversal decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Accepted (by a rule or the policy).
    Accept,
    /// Dropped (by a rule or the policy).
    Drop,
    /// Rejected.
    Reject(RejectWith),
    /// Destination to rewrite (ports `None`: unchanged).
    Dnat(NatTo),
    /// Source to rewrite.
    Snat(NatTo),
    /// Source to rewrite to the outgoing device's address.
    Masquerade(Option<PortRange>, NatFlags),
    /// Destination to rewrite to the input device's address (127.0.0.1 in OUTPUT).
    Redirect(Option<PortRange>, NatFlags),
}

/// One chain visited: its name and the 1-based number of the rule that jumped or decided
/// there (`None`: left by falling off its end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The chain.
    pub chain: &'a str,
    /// The rule.
    pub rule: Option<u32>,
}

/// A traversal's story: the chains visited (the last entry decided; a last entry without a
/// rule number means the hook's policy decided), the decision and the mark afterwards.
#[derive(Clone, Debug)]
pub struct Traversal<'a> {
    /// Chains visited, in order.
    pub path: Vec<Hit<'a>>,
    /// The decision.
    pub decision: Decision,
    /// The packet mark afterwards.
    pub mark: u32,
    /// What the traversal followed only in part (rate limits that matched), and the
    /// rules without a verdict that matched.
    pub notes: Vec<Note>,
    /// A NOTRACK rule matched (raw table).
    pub untrack: bool,
}

impl Traversal<'_> {
    /// Whether a specific rule decided (rather than the hook's policy).
    pub fn by_rule(&self) -> Option<&Hit<'_>> {
        self.path.last().filter(|h| h.rule.is_some())
    }

    /// The path in the trace's terms.
    pub fn chain_hits(&self) -> Vec<ChainHit> {
        self.path.iter().map(|h| ChainHit { chain: h.chain.to_owned(), rule: h.rule }).collect()
    }
}

/// The built-in chains (hooks), in a fixed order, for lookup without names.
const HOOKS: [&str; 5] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

fn hook_slot(hook: &str) -> Option<usize> {
    HOOKS.iter().position(|h| *h == hook)
}

/// One table, compiled.
#[derive(Debug, Default)]
struct TableIndex {
    chains: Vec<Chain>,
    /// The chain number of each hook in `HOOKS` the table has.
    hooks: [Option<usize>; 5],
}

impl TableIndex {
    /// Compiles a table given as its chains, in any order.
    fn build(chains: &[(&str, &ChainRules)]) -> TableIndex {
        let by_name: BTreeMap<String, usize> =
            chains.iter().enumerate().map(|(i, (n, _))| ((*n).to_owned(), i)).collect();
        let resolve = |n: &str| by_name.get(n).copied();
        let chains = chains.iter().map(|(n, c)| Chain::compile(n, c, &resolve)).collect();
        let hooks = HOOKS.map(|h| by_name.get(h).copied());
        TableIndex { chains, hooks }
    }
}

/// The compiled filter, nat, mangle and raw tables of one namespace.
#[derive(Debug, Default)]
pub struct Firewall {
    filter: TableIndex,
    nat: TableIndex,
    mangle: TableIndex,
    raw: TableIndex,
}

struct Frame<'a> {
    chain: usize,
    cands: Candidates<'a>,
}

/// Buffers a walk lends to its traversals, so that a traversal allocates nothing.
#[derive(Default)]
pub struct Scratch<'a> {
    stack: Vec<Frame<'a>>,
    paths: Vec<Vec<Hit<'a>>>,
}

impl<'a> Scratch<'a> {
    /// Takes back a traversal's path buffer.
    pub fn recycle(&mut self, t: Traversal<'a>) {
        let mut path = t.path;
        path.clear();
        self.paths.push(path);
    }
}

impl Firewall {
    /// Compiles a namespace's rule set.
    pub fn build(ruleset: &Ruleset) -> Firewall {
        let table = |t: Table| {
            let chains: Vec<(&str, &ChainRules)> =
                ruleset.table(t).chains().map(|(n, c)| (n.as_str(), c)).collect();
            TableIndex::build(&chains)
        };
        Firewall {
            filter: table(Table::Filter),
            nat: table(Table::Nat),
            mangle: table(Table::Mangle),
            raw: table(Table::Raw),
        }
    }

    /// A firewall from chains given directly (for tests of the traversal).
    #[cfg(test)]
    fn from_chains(filter: &[(&str, ChainRules)], nat: &[(&str, ChainRules)]) -> Firewall {
        let table = |chains: &[(&str, ChainRules)]| {
            let v: Vec<(&str, &ChainRules)> = chains.iter().map(|(n, c)| (*n, c)).collect();
            TableIndex::build(&v)
        };
        Firewall { filter: table(filter), nat: table(nat), ..Firewall::default() }
    }

    /// Whether the table has any rule in the hook's chain (an empty built-in chain with
    /// policy ACCEPT decides nothing).
    pub fn is_trivial(&self, table: Table, hook: &str) -> bool {
        let t = self.table(table);
        hook_slot(hook)
            .and_then(|k| t.hooks[k])
            .and_then(|i| t.chains.get(i))
            .is_none_or(|c| c.rules.is_empty() && c.policy.is_none_or(|p| p == Policy::Accept))
    }

    fn table(&self, table: Table) -> &TableIndex {
        match table {
            Table::Filter => &self.filter,
            Table::Nat => &self.nat,
            Table::Mangle => &self.mangle,
            Table::Raw => &self.raw,
        }
    }

    /// Runs the packet through `table`'s built-in chain `hook`. `ctx.mark` is updated by
    /// MARK rules on the way.
    pub fn traverse<'a>(
        &'a self,
        table: Table,
        hook: &str,
        ctx: &mut Ctx<'_>,
        scratch: &mut Scratch<'a>,
    ) -> Traversal<'a> {
        let t = self.table(table);
        let mut path = scratch.paths.pop().unwrap_or_default();
        let Some(start) = hook_slot(hook).and_then(|k| t.hooks[k]) else {
            let (decision, mark) = (Decision::Accept, ctx.mark);
            return Traversal { path, decision, mark, notes: Vec::new(), untrack: false };
        };
        let (src, dst, dport) = ctx.keys();
        let frame = |i: usize| Frame { chain: i, cands: t.chains[i].candidates(src, dst, dport) };
        let stack = &mut scratch.stack;
        stack.clear();
        stack.push(frame(start));
        fn hit(chain: &Chain, rule: Option<u32>) -> Hit<'_> {
            Hit { chain: chain.name.as_str(), rule }
        }
        let mut notes = Vec::new();
        let mut untrack = false;
        let decision = loop {
            let Some(top) = stack.last_mut() else {
                // Fell off (or returned from) the built-in chain: its policy decides.
                let hook_chain = &t.chains[start];
                if path.last() != Some(&hit(hook_chain, None)) {
                    path.push(hit(hook_chain, None));
                }
                break match hook_chain.policy {
                    Some(Policy::Drop) => Decision::Drop,
                    _ => Decision::Accept,
                };
            };
            let chain = &t.chains[top.chain];
            let Some(i) = top.cands.next() else {
                path.push(hit(chain, None));
                stack.pop();
                continue;
            };
            let Some(rule) = chain.rules.get(i as usize) else { continue };
            if !ctx.matches(rule) {
                continue;
            }
            let number = Some(i + 1);
            if rule.limited {
                notes.push(Note::RateNotModeled { chain: chain.name.clone(), rule: i + 1 });
            }
            match rule.target {
                CTarget::None => {}
                CTarget::Mark(value, mask) => ctx.mark = (ctx.mark & !mask) ^ value,
                CTarget::Pass(target) => notes.push(Note::Passed {
                    chain: chain.name.clone(),
                    rule: i + 1,
                    target: target.to_owned(),
                }),
                CTarget::Notrack => {
                    untrack = true;
                    notes.push(Note::Untracked { chain: chain.name.clone(), rule: i + 1 });
                }
                CTarget::Accept => {
                    path.push(hit(chain, number));
                    break Decision::Accept;
                }
                CTarget::Drop => {
                    path.push(hit(chain, number));
                    break Decision::Drop;
                }
                CTarget::Reject(w) => {
                    path.push(hit(chain, number));
                    break Decision::Reject(w);
                }
                CTarget::Dnat(to) => {
                    path.push(hit(chain, number));
                    break Decision::Dnat(to);
                }
                CTarget::Snat(to) => {
                    path.push(hit(chain, number));
                    break Decision::Snat(to);
                }
                CTarget::Masquerade(ports, flags) => {
                    path.push(hit(chain, number));
                    break Decision::Masquerade(ports, flags);
                }
                CTarget::Redirect(ports, flags) => {
                    path.push(hit(chain, number));
                    break Decision::Redirect(ports, flags);
                }
                CTarget::Return => {
                    path.push(hit(chain, number));
                    stack.pop();
                }
                CTarget::Jump(to) if stack.len() < MAX_DEPTH => {
                    path.push(hit(chain, number));
                    stack.push(frame(to));
                }
                CTarget::Goto(to) if stack.len() < MAX_DEPTH => {
                    path.push(hit(chain, number));
                    stack.pop();
                    stack.push(frame(to));
                }
                CTarget::Jump(_) | CTarget::Goto(_) => {}
            }
        };
        Traversal { path, decision, mark: ctx.mark, notes, untrack }
    }
}

#[cfg(test)]
mod tests;
