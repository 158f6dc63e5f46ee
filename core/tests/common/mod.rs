//! Test support: a minimal rule set keyed by chain, which resolves the plugins' conditional
//! steps and applies iptables commands, and prints itself as `iptables-save` does, for the
//! subset of rules the CNI plugins write.
//!
//! FIXME: once `iptables::print` and `iptables::Ruleset` land on main, print with `Rule`'s
//! `Display` and apply commands with `Ruleset::apply`, and drop `render_rule` and
//! `save_quote` here.

#![allow(dead_code)]

use std::collections::BTreeMap;

use nettwin_core::iptables::{
    AddrType, Command, CtStates, Match, Neg, PortDir, PortRange, Rule, RuleRef, Table, Target,
};
use nettwin_core::names::ChainName;
use nettwin_core::nomad::cni_rules::IptStep;

/// Quotes as `iptables-save` does (`xtables_save_string`): bare if only letters, digits,
/// `_` and `-`; otherwise double-quoted with `"`, `\` and `'` escaped.
pub fn save_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        return value.to_owned();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn neg<T>(n: &Neg<T>) -> &'static str {
    if n.negated { "! " } else { "" }
}

fn range(r: &PortRange) -> String {
    if r.lo == r.hi { r.lo.to_string() } else { format!("{}:{}", r.lo, r.hi) }
}

/// A rule as iptables-save prints it after `-A CHAIN`, for the subset used here.
pub fn render_rule(r: &Rule) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(s) = &r.src {
        parts.push(format!("{}-s {}", neg(s), s.value));
    }
    if let Some(d) = &r.dst {
        parts.push(format!("{}-d {}", neg(d), d.value));
    }
    if let Some(i) = &r.in_iface {
        parts.push(format!("{}-i {}", neg(i), i.value.as_str()));
    }
    if let Some(o) = &r.out_iface {
        parts.push(format!("{}-o {}", neg(o), o.value.as_str()));
    }
    if let Some(p) = &r.proto {
        parts.push(format!("{}-p {}", neg(p), p.value));
    }
    for m in &r.matches {
        parts.push(match m {
            Match::Tcp { sport, dport } | Match::Udp { sport, dport } => {
                let name = if matches!(m, Match::Tcp { .. }) { "tcp" } else { "udp" };
                let mut s = format!("-m {name}");
                if let Some(p) = sport {
                    s.push_str(&format!(" {}--sport {}", neg(p), range(&p.value)));
                }
                if let Some(p) = dport {
                    s.push_str(&format!(" {}--dport {}", neg(p), range(&p.value)));
                }
                s
            }
            Match::Comment(c) => format!("-m comment --comment {}", save_quote(c)),
            Match::Conntrack { ctstate } => {
                let names: Vec<&str> = CtStates::NAMES
                    .iter()
                    .filter(|(_, s)| ctstate.value.intersects(*s))
                    .map(|(n, _)| *n)
                    .collect();
                format!("-m conntrack {}--ctstate {}", neg(ctstate), names.join(","))
            }
            Match::AddrType { src, dst } => {
                let mut s = String::from("-m addrtype");
                for (flag, t) in [("--src-type", src), ("--dst-type", dst)] {
                    if let Some(t) = t {
                        let AddrType::Local = t.value;
                        s.push_str(&format!(" {}{flag} LOCAL", neg(t)));
                    }
                }
                s
            }
            Match::Multiport { dir, ports } => {
                let flag = if *dir == PortDir::Destination { "--dports" } else { "--sports" };
                let list: Vec<String> = ports.value.iter().map(range).collect();
                format!("-m multiport {}{flag} {}", neg(ports), list.join(","))
            }
            Match::Mark { negated, value, mask } => {
                let bang = if *negated { "! " } else { "" };
                format!("-m mark {bang}--mark {value:#x}/{mask:#x}")
            }
        });
    }
    match &r.target {
        Target::None => {}
        Target::Accept => parts.push("-j ACCEPT".into()),
        Target::Drop => parts.push("-j DROP".into()),
        Target::Return => parts.push("-j RETURN".into()),
        Target::Masquerade => parts.push("-j MASQUERADE".into()),
        Target::Jump(c) => parts.push(format!("-j {c}")),
        Target::Goto(c) => parts.push(format!("-g {c}")),
        Target::Dnat { ip, ports } => parts.push(match ports {
            Some(p) => format!("-j DNAT --to-destination {ip}:{}", range(p)),
            None => format!("-j DNAT --to-destination {ip}"),
        }),
        Target::Mark { value, mask } => {
            parts.push(format!("-j MARK --set-xmark {value:#x}/{mask:#x}"))
        }
        other => panic!("target {other:?} is not rendered by the test support"),
    }
    parts.join(" ")
}

/// Chains and rules of the tables that exist.
#[derive(Default, Clone, PartialEq, Eq, Debug)]
pub struct TextRules {
    tables: BTreeMap<&'static str, BTreeMap<String, Vec<Rule>>>,
}

fn builtins(table: &str) -> &'static [&'static str] {
    match table {
        "filter" => &["INPUT", "FORWARD", "OUTPUT"],
        _ => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    }
}

fn jumps_to(r: &Rule, target: &ChainName) -> bool {
    r.target.chain() == Some(target)
}

impl TextRules {
    fn table(&mut self, t: Table) -> &mut BTreeMap<String, Vec<Rule>> {
        let name = t.as_str();
        self.tables.entry(name).or_insert_with(|| {
            builtins(name).iter().map(|c| ((*c).to_owned(), Vec::new())).collect()
        })
    }

    fn chain(&mut self, t: Table, chain: &ChainName) -> &mut Vec<Rule> {
        self.table(t).get_mut(chain.as_str()).unwrap_or_else(|| panic!("no chain {t}/{chain}"))
    }

    /// Resolves and applies the plugins' conditional steps.
    pub fn apply_steps<'a>(&mut self, steps: impl IntoIterator<Item = &'a IptStep>) {
        for step in steps {
            match step {
                IptStep::EnsureChain { table, chain } => {
                    self.table(*table).entry(chain.to_string()).or_default();
                }
                IptStep::InsertUnique { table, chain, rule } => {
                    let c = self.chain(*table, chain);
                    if !c.contains(rule) {
                        c.insert(0, rule.clone());
                    }
                }
                IptStep::AppendUnique { table, chain, rule } => {
                    let c = self.chain(*table, chain);
                    if !c.contains(rule) {
                        c.push(rule.clone());
                    }
                }
                IptStep::DeleteRule { table, chain, rule } => {
                    if let Some(c) = self.table(*table).get_mut(chain.as_str())
                        && let Some(i) = c.iter().position(|r| r == rule)
                    {
                        c.remove(i);
                    }
                }
                IptStep::ClearChain { table, chain } => {
                    self.table(*table).entry(chain.to_string()).or_default().clear();
                }
                IptStep::DeleteChain { table, chain } => {
                    if self.table(*table).contains_key(chain.as_str()) {
                        self.apply(*table, &Command::DeleteChain(chain.clone()));
                    }
                }
                IptStep::DeleteJumpsTo { table, chain, target } => {
                    if let Some(c) = self.table(*table).get_mut(chain.as_str()) {
                        c.retain(|r| !jumps_to(r, target));
                    }
                }
            }
        }
    }

    /// Applies one command as iptables would, panicking where iptables would refuse.
    pub fn apply(&mut self, table: Table, cmd: &Command) {
        match cmd {
            Command::NewChain(c) => {
                let t = self.table(table);
                assert!(!t.contains_key(c.as_str()), "-N of existing {c}");
                t.insert(c.to_string(), Vec::new());
            }
            Command::DeleteChain(c) => {
                let t = self.table(table);
                let rules = t.get(c.as_str()).unwrap_or_else(|| panic!("-X of missing {c}"));
                assert!(rules.is_empty(), "-X of non-empty {c}");
                assert!(!t.values().flatten().any(|r| jumps_to(r, c)), "-X of referenced {c}");
                t.remove(c.as_str());
            }
            Command::Flush(Some(c)) => self.chain(table, c).clear(),
            Command::Append(c, r) => self.chain(table, c).push(r.clone()),
            Command::Insert(c, n, r) => {
                let idx = usize::try_from(*n).expect("index") - 1;
                self.chain(table, c).insert(idx, r.clone());
            }
            Command::Delete(c, RuleRef::Spec(r)) => {
                let rules = self.chain(table, c);
                let i = rules
                    .iter()
                    .position(|x| x == r)
                    .unwrap_or_else(|| panic!("-D of missing rule in {c}"));
                rules.remove(i);
            }
            other => panic!("command {other:?} is not used by the planner"),
        }
    }

    /// Appends a rule as a test's own setup (`iptables -A`).
    pub fn seed(&mut self, t: Table, chain: &str, rule: Rule) {
        self.table(t).entry(chain.to_owned()).or_default().push(rule);
    }

    /// `iptables-save` without its `#` comment lines.
    pub fn save(&self) -> String {
        let mut out = String::new();
        for name in ["filter", "nat"] {
            let Some(chains) = self.tables.get(name) else { continue };
            let order: Vec<&String> = builtins(name)
                .iter()
                .filter_map(|b| chains.get_key_value(*b).map(|(k, _)| k))
                .chain(chains.keys().filter(|k| !builtins(name).contains(&k.as_str())))
                .collect();
            out.push_str(&format!("*{name}\n"));
            for c in &order {
                let policy = if builtins(name).contains(&c.as_str()) { "ACCEPT" } else { "-" };
                out.push_str(&format!(":{c} {policy} [0:0]\n"));
            }
            for c in &order {
                for r in &chains[*c] {
                    out.push_str(&format!("-A {c} {}\n", render_rule(r)));
                }
            }
            out.push_str("COMMIT\n");
        }
        out
    }
}

/// A golden file under `tests/data/cni/`.
pub fn golden(path: &str) -> String {
    let p = format!("{}/tests/data/cni/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Asserts that the rules print as the golden `iptables-save` output.
pub fn assert_save(r: &TextRules, path: &str) {
    let want = golden(path);
    let got = r.save();
    assert!(got == want, "{path} differs\n--- want\n{want}\n--- got\n{got}");
}
