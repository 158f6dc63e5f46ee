//! The plugins' iptables work as conditional steps, and their resolution against a rule set.
//!
//! Every plugin is idempotent in its own way ("create the chain unless it exists", "insert
//! at the top unless the rule is there", "delete, ignoring not found"), so each step
//! carries that condition; [`resolve`] decides it against the current rules of the
//! namespace and gives the unconditional commands (the chain runner resolves against the
//! model of the host it builds on). Rules are built in the canonical form iptables-save
//! prints them back in (`-d 172.26.64.2/20` given by a plugin is kept as `172.26.64.0/20`,
//! `-s 127.0.0.1` as `127.0.0.1/32`), so they compare equal to rules read back from the
//! kernel.

use std::net::Ipv4Addr;

use nettwin_core::addr::Cidr;
use nettwin_core::iptables::{Command, Match, Neg, Rule, RuleRef, Ruleset, Table, Target};
use nettwin_core::names::ChainName;

/// One iptables action with the condition under which the plugin performs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IptStep {
    /// `-N CHAIN` unless the chain exists (`utils.EnsureChain`).
    EnsureChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
    },
    /// `-I CHAIN 1 RULE` unless the rule is in the chain (`InsertUnique(prepend)`).
    InsertUnique {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
        /// The rule, canonical.
        rule: Rule,
    },
    /// `-A CHAIN RULE` unless the rule is in the chain (`AppendUnique`).
    AppendUnique {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
        /// The rule, canonical.
        rule: Rule,
    },
    /// `-D CHAIN RULE` if the rule is there; a missing rule or chain is not an error.
    DeleteRule {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
        /// The rule, canonical.
        rule: Rule,
    },
    /// `-F CHAIN`, or `-N CHAIN` if it does not exist (`utils.ClearChain`).
    ClearChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
    },
    /// `-X CHAIN` if it exists.
    DeleteChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
    },
    /// `-D CHAIN RULE` for every rule of `chain` that jumps to `target` (portmap's
    /// teardown of its entry rules, found by listing the chain).
    DeleteJumpsTo {
        /// The table.
        table: Table,
        /// The chain listed.
        chain: ChainName,
        /// The jump target.
        target: ChainName,
    },
}

/// A rule with only a target; the builders below add to it.
pub(crate) fn rule(target: Target) -> Rule {
    Rule {
        src: None,
        dst: None,
        in_iface: None,
        out_iface: None,
        proto: None,
        matches: Vec::new(),
        target,
    }
}

pub(crate) fn comment(text: &str) -> Match {
    Match::Comment(text.into())
}

pub(crate) fn host(ip: Ipv4Addr) -> Option<Neg<Cidr>> {
    Some(Neg::plain(Cidr::host(ip)))
}

pub(crate) fn ensure(table: Table, chain: &ChainName) -> IptStep {
    IptStep::EnsureChain { table, chain: chain.clone() }
}

pub(crate) fn append(table: Table, chain: &ChainName, rule: Rule) -> IptStep {
    IptStep::AppendUnique { table, chain: chain.clone(), rule }
}

pub(crate) fn insert(table: Table, chain: &ChainName, rule: Rule) -> IptStep {
    IptStep::InsertUnique { table, chain: chain.clone(), rule }
}

pub(crate) fn delete(table: Table, chain: &ChainName, rule: Rule) -> IptStep {
    IptStep::DeleteRule { table, chain: chain.clone(), rule }
}

/// Whether `chain` of `table` holds `rule` (as `iptables -C` answers). The rules built
/// here are canonical by construction, so they compare as they are.
pub(crate) fn has_rule(rules: &Ruleset, table: Table, chain: &ChainName, rule: &Rule) -> bool {
    debug_assert_eq!(*rule, rule.canonical(), "plugin rules are built canonical");
    rules.table(table).contains_rule(chain.as_str(), rule)
}

pub(crate) fn has_chain(rules: &Ruleset, table: Table, chain: &ChainName) -> bool {
    rules.table(table).chain(chain.as_str()).is_some()
}

/// What a step comes to against the current rules.
enum Decision {
    /// Nothing to do.
    Skip,
    /// The step's own command (`-N`, `-I 1`, `-A`, `-D`, `-X`).
    Run,
    /// `ClearChain` of a missing chain: `-N`.
    Create,
    /// `DeleteJumpsTo`: `-D` of each of these rules.
    DeleteEach(Vec<Rule>),
}

fn decide(step: &IptStep, rules: &Ruleset) -> Decision {
    let run = |yes: bool| if yes { Decision::Run } else { Decision::Skip };
    match step {
        IptStep::EnsureChain { table, chain } => run(!has_chain(rules, *table, chain)),
        IptStep::InsertUnique { table, chain, rule }
        | IptStep::AppendUnique { table, chain, rule } => {
            run(!has_rule(rules, *table, chain, rule))
        }
        IptStep::DeleteRule { table, chain, rule } => run(has_rule(rules, *table, chain, rule)),
        IptStep::ClearChain { table, chain } if has_chain(rules, *table, chain) => Decision::Run,
        IptStep::ClearChain { .. } => Decision::Create,
        IptStep::DeleteChain { table, chain } => run(has_chain(rules, *table, chain)),
        IptStep::DeleteJumpsTo { table, chain, target } => Decision::DeleteEach(
            rules
                .table(*table)
                .chain(chain.as_str())
                .into_iter()
                .flat_map(|c| &c.rules)
                .filter(|r| r.target.chain() == Some(target))
                .cloned()
                .collect(),
        ),
    }
}

/// The commands a plugin runs for `step` in a namespace whose rules are `rules`: the
/// step's condition decided, the result unconditional (`-N` only for a missing chain,
/// `-A` only for a missing rule, `-D` for each rule found, ...). Apply the commands before
/// resolving the next step: later steps see what earlier ones did.
pub fn resolve(step: IptStep, rules: &Ruleset) -> Vec<(Table, Command)> {
    let decision = decide(&step, rules);
    let (table, chain) = step.target();
    let (table, chain) = (table, chain.clone());
    match (decision, step) {
        (Decision::Skip, _) => Vec::new(),
        (Decision::Create, _) => vec![(table, Command::NewChain(chain))],
        (Decision::DeleteEach(found), _) => found
            .into_iter()
            .map(|r| (table, Command::Delete(chain.clone(), RuleRef::Spec(r))))
            .collect(),
        (Decision::Run, step) => step.into_command().map(|c| (table, c)).into_iter().collect(),
    }
}

/// [`resolve`] for a step that is kept (a template the planner reuses on every ADD):
/// decides without cloning and clones only what it emits.
pub fn resolve_ref(step: &IptStep, rules: &Ruleset) -> Vec<(Table, Command)> {
    match decide(step, rules) {
        Decision::Skip => Vec::new(),
        _ => resolve(step.clone(), rules),
    }
}

impl IptStep {
    /// The table and chain the step works on.
    pub fn target(&self) -> (Table, &ChainName) {
        match self {
            IptStep::EnsureChain { table, chain }
            | IptStep::InsertUnique { table, chain, .. }
            | IptStep::AppendUnique { table, chain, .. }
            | IptStep::DeleteRule { table, chain, .. }
            | IptStep::ClearChain { table, chain }
            | IptStep::DeleteChain { table, chain }
            | IptStep::DeleteJumpsTo { table, chain, .. } => (*table, chain),
        }
    }

    /// The step's own command, run unconditionally. `DeleteJumpsTo` has none (it lists the
    /// chain and deletes what it finds: [`decide`] gives `DeleteEach` for it).
    fn into_command(self) -> Option<Command> {
        Some(match self {
            IptStep::EnsureChain { chain, .. } => Command::NewChain(chain),
            IptStep::InsertUnique { chain, rule, .. } => Command::Insert(chain, 1, rule),
            IptStep::AppendUnique { chain, rule, .. } => Command::Append(chain, rule),
            IptStep::DeleteRule { chain, rule, .. } => Command::Delete(chain, RuleRef::Spec(rule)),
            IptStep::ClearChain { chain, .. } => Command::Flush(Some(chain)),
            IptStep::DeleteJumpsTo { .. } => return None,
            IptStep::DeleteChain { chain, .. } => Command::DeleteChain(chain),
        })
    }
}
