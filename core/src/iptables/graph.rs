//! Walks of one table's jump graph, limited to the part a command affects: the chains
//! above a chain (who reaches it, from which hooks, how deep) and the chains below a
//! chain (what it reaches, which hooks its NAT targets allow, how deep it goes).
//!
//! The kernel refuses loops only among chains a base chain reaches: unreached user chains
//! may jump to each other in circles. So the walks are memoized post-order walks that
//! notice back edges: a cycle below a chain makes its height infinite, and a cycle above
//! one can only be among unreached chains, which contribute nothing.

use std::collections::{BTreeMap, BTreeSet};

use super::ruleset::{TableRules, own_mask};

/// What is above a chain.
pub(super) struct Above {
    /// Hook bits (positions in `Table::builtin_chains`) of the base chains that reach it.
    pub(super) hooks: u8,
    /// The longest jump path from a base chain to it; `None` when no base chain reaches it.
    pub(super) depth: Option<u32>,
}

/// What is below a chain (the chain included).
pub(super) struct Below<'a> {
    /// Every chain reachable from it, itself included.
    pub(super) chains: BTreeSet<&'a str>,
    /// The nat hooks every NAT target below allows (all bits when there is none).
    pub(super) mask: u8,
    /// The longest jump path below it; `None` when a cycle is below it.
    pub(super) height: Option<u32>,
}

impl TableRules {
    fn hook_bit(&self, chain: &str) -> Option<u8> {
        let builtins = self.table.builtin_chains();
        builtins.iter().position(|b| *b == chain).map(|i| 1 << i)
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
        if self.chains.get(chain).is_some_and(|c| c.callers.is_empty()) {
            return Above { hooks: 0, depth: None };
        }
        let callers = |n: &str| -> Vec<&str> {
            if self.hook_bit(n).is_some() {
                return Vec::new();
            }
            self.chains
                .get(n)
                .map(|c| c.callers.keys().map(|k| k.as_str()).collect())
                .unwrap_or_default()
        };
        let memo = self.walk(chain, callers, |n, vals: &[(u8, Option<u32>)], _| {
            if let Some(bit) = self.hook_bit(n) {
                return (bit, Some(0));
            }
            vals.iter().fold((0, None), |(h, d), (vh, vd)| (h | vh, d.max(vd.map(|x| x + 1))))
        });
        let (hooks, depth) = memo.get(chain).copied().unwrap_or((0, None));
        Above { hooks, depth }
    }

    /// The chains reached from `chain`, the hooks their NAT targets allow, and the
    /// longest path below it.
    pub(super) fn below<'a>(&'a self, chain: &'a str) -> Below<'a> {
        // Without a walk: a chain that jumps nowhere has only itself below.
        if let Some(c) = self.chains.get(chain).filter(|c| c.callees.is_empty()) {
            return Below { chains: BTreeSet::from([chain]), mask: own_mask(c), height: Some(0) };
        }
        let callees = |n: &str| -> Vec<&str> {
            self.chains
                .get(n)
                .map(|c| c.callees.keys().map(|k| k.as_str()).collect())
                .unwrap_or_default()
        };
        let memo = self.walk(chain, callees, |n, vals: &[(u8, Option<u32>)], cyclic| {
            let own = self.chains.get(n).map_or(0xff, own_mask);
            let start = (own, if cyclic { None } else { Some(0) });
            vals.iter()
                .fold(start, |(m, h), (vm, vh)| (m & vm, h.zip(*vh).map(|(h, vh)| h.max(vh + 1))))
        });
        let (mask, height) = memo.get(chain).copied().unwrap_or((0xff, Some(0)));
        Below { chains: memo.keys().copied().collect(), mask, height }
    }
}
