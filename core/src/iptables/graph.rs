//! Walks of one table's jump graph, limited to the part a command affects: the chains
//! above a chain (who reaches it, from which hooks, how deep) and the chains below a
//! chain (what it reaches, which hooks its NAT targets allow, how deep it goes).
//!
//! The kernel refuses loops only among chains a base chain reaches: unreached user chains
//! may jump to each other in circles. So the walks are memoized post-order walks that
//! notice back edges: a cycle below a chain makes its height infinite, and a cycle above
//! one can only be among unreached chains, which contribute nothing.

use std::collections::{BTreeMap, BTreeSet};

use super::hooks::own_mask;
use super::ruleset::{MAX_JUMP_DEPTH, TableRules};

/// What is above a chain.
#[derive(PartialEq, Eq, Debug)]
pub(super) struct Above {
    /// Hook bits (`hooks::hook_bit`) of the base chains that reach it.
    pub(super) hooks: u8,
    /// The longest jump path from a base chain to it; `None` when no base chain reaches it.
    pub(super) depth: Option<u32>,
}

/// What is below a chain (the chain included).
#[derive(PartialEq, Eq, Debug)]
pub(super) struct Below<'a> {
    /// Every chain reachable from it, itself included.
    pub(super) chains: BTreeSet<&'a str>,
    /// The hooks every restricted rule below allows (all bits when there is none).
    pub(super) mask: u8,
    /// The longest jump path below it; `None` when a cycle is below it.
    pub(super) height: Option<u32>,
}

impl TableRules {
    fn hook_bit(&self, chain: &str) -> Option<u8> {
        if self.table.is_builtin(chain) { super::hooks::hook_bit(chain) } else { None }
    }

    /// Post-order over the chains reached from `start` by `next`, calling `done` on each
    /// chain once all of its `next` chains are done, with the values of those and whether
    /// one of them is on the current path (a cycle).
    fn walk<'a, T: Copy>(
        &'a self,
        start: &'a str,
        next: impl Fn(&'a str) -> Vec<&'a str>,
        mut done: impl FnMut(&'a str, &[T], bool) -> T,
    ) -> BTreeMap<&'a str, T> {
        let mut memo: BTreeMap<&'a str, T> = BTreeMap::new();
        let mut on_path: BTreeSet<&'a str> = BTreeSet::new();
        let mut stack = vec![(start, false)];
        while let Some((name, expanded)) = stack.pop() {
            if memo.contains_key(name) || (!expanded && on_path.contains(name)) {
                continue;
            }
            let succ = next(name);
            if expanded {
                let cyclic = succ.iter().any(|s| on_path.contains(s));
                let vals: Vec<T> = succ.iter().filter_map(|s| memo.get(s).copied()).collect();
                on_path.remove(name);
                let v = done(name, &vals, cyclic);
                memo.insert(name, v);
            } else {
                on_path.insert(name);
                stack.push((name, true));
                let fresh =
                    succ.into_iter().filter(|s| !memo.contains_key(s) && !on_path.contains(s));
                stack.extend(fresh.map(|s| (s, false)));
            }
        }
        memo
    }

    /// The base chains reaching `chain` and the longest path from them.
    pub(super) fn above(&self, chain: &str) -> Above {
        // Without a walk: a base chain is its own only base; a user chain nothing jumps to
        // is reached by none.
        if let Some(bit) = self.hook_bit(chain) {
            return Above { hooks: bit, depth: Some(0) };
        }
        let callers_of = self.chains.get(chain).map(|c| &c.callers);
        if callers_of.is_some_and(|c| c.is_empty()) {
            return Above { hooks: 0, depth: None };
        }
        // Nor when only base chains jump to it (portmap's CNI-HOSTPORT-DNAT): what the
        // walk would find, one level up.
        let only_base = callers_of.and_then(|c| {
            c.keys().try_fold(0u8, |bits, n| self.hook_bit(n.as_str()).map(|b| bits | b))
        });
        if let Some(hooks) = only_base {
            return Above { hooks, depth: Some(1) };
        }
        self.above_by_walk(chain)
    }

    /// [`TableRules::above`] by walking the chains above `chain`, no further than
    /// `MAX_JUMP_DEPTH + 1` jumps up: the kernel refuses any path from a base chain longer
    /// than `MAX_JUMP_DEPTH`, so every path from a base chain to `chain` lies within that
    /// distance, and what is further up (a long line of chains no base chain reaches)
    /// cannot matter. This keeps building a long line of user chains linear.
    fn above_by_walk(&self, chain: &str) -> Above {
        let up = |n: &str| -> Vec<&str> {
            if self.hook_bit(n).is_some() {
                return Vec::new();
            }
            self.chains
                .get(n)
                .map(|c| c.callers.keys().map(|k| k.as_str()).collect())
                .unwrap_or_default()
        };
        let mut near: BTreeSet<&str> = BTreeSet::from([chain]);
        let mut frontier = vec![chain];
        for _ in 0..=MAX_JUMP_DEPTH {
            let next: Vec<&str> =
                frontier.iter().flat_map(|n| up(n)).filter(|n| near.insert(n)).collect();
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        let callers =
            |n: &str| -> Vec<&str> { up(n).into_iter().filter(|c| near.contains(c)).collect() };
        let memo = self.walk(chain, callers, |n, vals: &[(u8, Option<u32>)], _| {
            if let Some(bit) = self.hook_bit(n) {
                return (bit, Some(0));
            }
            vals.iter().fold((0, None), |(h, d), (vh, vd)| (h | vh, d.max(vd.map(|x| x + 1))))
        });
        let (hooks, depth) = memo.get(chain).copied().unwrap_or((0, None));
        Above { hooks, depth }
    }

    /// The chains reached from `chain`, the hooks their restricted rules allow, and the
    /// longest path below it.
    pub(super) fn below<'a>(&'a self, chain: &'a str) -> Below<'a> {
        // Without a walk: a chain that jumps nowhere has only itself below.
        let Some(c) = self.chains.get(chain) else {
            return Below { chains: BTreeSet::from([chain]), mask: 0xff, height: Some(0) };
        };
        if c.callees.is_empty() {
            return Below {
                chains: BTreeSet::from([chain]),
                mask: own_mask(&c.restricted),
                height: Some(0),
            };
        }
        // Nor when it jumps only to other chains that jump nowhere (a portmap DNAT chain
        // to CNI-HOSTPORT-SETMARK): what the walk would find, one level down.
        let leaves = c.callees.keys().try_fold(own_mask(&c.restricted), |mask, n| {
            let callee = self.chains.get(n.as_str()).filter(|d| d.callees.is_empty());
            callee.filter(|_| n.as_str() != chain).map(|d| mask & own_mask(&d.restricted))
        });
        if let Some(mask) = leaves {
            let mut chains: BTreeSet<&'a str> = c.callees.keys().map(|n| n.as_str()).collect();
            chains.insert(chain);
            return Below { chains, mask, height: Some(1) };
        }
        self.below_by_walk(chain)
    }

    /// [`TableRules::below`] by walking every chain below `chain`.
    fn below_by_walk<'a>(&'a self, chain: &'a str) -> Below<'a> {
        let callees = |n: &str| -> Vec<&str> {
            self.chains
                .get(n)
                .map(|c| c.callees.keys().map(|k| k.as_str()).collect())
                .unwrap_or_default()
        };
        let memo = self.walk(chain, callees, |n, vals: &[(u8, Option<u32>)], cyclic| {
            let own = self.chains.get(n).map_or(0xff, |c| own_mask(&c.restricted));
            let start = (own, if cyclic { None } else { Some(0) });
            vals.iter()
                .fold(start, |(m, h), (vm, vh)| (m & vm, h.zip(*vh).map(|(h, vh)| h.max(vh + 1))))
        });
        let (mask, height) = memo.get(chain).copied().unwrap_or((0xff, Some(0)));
        Below { chains: memo.keys().copied().collect(), mask, height }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::iptables::{Command, Rule, Ruleset, Table, Target};
    use crate::names::ChainName;

    const CHAINS: [&str; 9] =
        ["A", "B", "C", "D", "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "FORWARD"];

    fn chain(i: usize) -> ChainName {
        ChainName::new(CHAINS[i % CHAINS.len()]).unwrap_or_else(|e| panic!("{e}"))
    }

    proptest! {
        /// The walk-free answers of `above` and `below` are the walks' answers, on
        /// random jump graphs (loops, gotos, NAT targets, unreached chains included).
        #[test]
        fn shortcuts_agree_with_the_walks(
            nat in any::<bool>(),
            cmds in prop::collection::vec((0usize..9, 0usize..9, 0u8..4), 0..30),
        ) {
            let table = if nat { Table::Nat } else { Table::Filter };
            let mut rs = Ruleset::default();
            // The user chains A to D.
            for i in 0..4 {
                rs.apply(table, &Command::NewChain(chain(i))).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            for (from, to, kind) in cmds {
                let target = match kind {
                    0 => Target::Jump(chain(to)),
                    1 => Target::Goto(chain(to)),
                    2 => Target::MASQUERADE,
                    _ => Target::Accept,
                };
                let rule = Rule { target, ..Rule::default() };
                // Refused commands (loops, bad hooks, missing chains) change nothing.
                let _ = rs.apply(table, &Command::Append(chain(from), rule));
            }
            let t = rs.table(table);
            for name in CHAINS {
                prop_assert_eq!(t.above(name), t.above_by_walk(name), "above {}", name);
                prop_assert_eq!(t.below(name), t.below_by_walk(name), "below {}", name);
            }
        }
    }

    /// The base chains above `name` and the longest path from one, by an unbounded walk
    /// of every caller (what `above_by_walk` computes within its bound).
    fn above_unbounded(
        t: &super::TableRules,
        name: &str,
        on_path: &mut Vec<String>,
    ) -> (u8, Option<u32>) {
        if let Some(bit) = t.hook_bit(name) {
            return (bit, Some(0));
        }
        if on_path.iter().any(|n| n == name) {
            return (0, None);
        }
        on_path.push(name.to_owned());
        let callers: Vec<String> = t
            .chains
            .get(name)
            .map(|c| c.callers.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        let mut out = (0u8, None::<u32>);
        for c in callers {
            let (h, d) = above_unbounded(t, &c, on_path);
            out = (out.0 | h, out.1.max(d.map(|x| x + 1)));
        }
        on_path.pop();
        out
    }

    proptest! {
        /// On lines of user chains longer than the jump depth limit, with extra jumps and
        /// base chains jumping in, the walk bounded to `MAX_JUMP_DEPTH + 1` levels up gives
        /// what a walk of every caller gives.
        #[test]
        fn the_bounded_walk_up_misses_nothing(
            n in 17usize..36,
            extra in prop::collection::vec((0usize..36, 0usize..36), 0..12),
            entries in prop::collection::vec((0usize..5, 0usize..36), 0..4),
        ) {
            let mut rs = Ruleset::default();
            let name = |i: usize| ChainName::new(&format!("L{}", i % n)).unwrap_or_else(|e| panic!("{e}"));
            for i in 0..n {
                rs.apply(Table::Filter, &Command::NewChain(name(i))).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            let jump = |to: ChainName| Rule { target: Target::Jump(to), ..Rule::default() };
            // Entries first, then the line and the extras: each add is checked from the
            // base chains that reach it by then.
            let base = ["INPUT", "FORWARD", "OUTPUT"];
            for (b, to) in &entries {
                let from = ChainName::new(base[b % 3]).unwrap_or_else(|e| panic!("{e}"));
                let _ = rs.apply(Table::Filter, &Command::Append(from, jump(name(*to))));
            }
            for i in 0..n - 1 {
                let _ = rs.apply(Table::Filter, &Command::Append(name(i), jump(name(i + 1))));
            }
            for (a, b) in extra {
                let _ = rs.apply(Table::Filter, &Command::Append(name(a), jump(name(b))));
            }
            let t = rs.table(Table::Filter);
            for i in 0..n {
                let c = name(i);
                let got = t.above_by_walk(c.as_str());
                let want = above_unbounded(t, c.as_str(), &mut Vec::new());
                prop_assert_eq!((got.hooks, got.depth), want, "above {}", c);
            }
        }
    }
}
