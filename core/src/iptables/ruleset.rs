//! The filter and nat tables of one namespace, and the kernel's checks on every command.
//! (Stub: the contract; the implementation is being written.)

use super::rule::{Command, Policy, Rule, Table};
use crate::error::OpError;
use crate::names::ChainName;

/// One chain: its policy (built-in chains only) and its rules in order.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ChainRules {
    /// `Some` for built-in chains.
    pub policy: Option<Policy>,
    /// The rules, first to last.
    pub rules: Vec<Rule>,
}

/// The chains of one table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TableRules {
    table: Table,
}

impl TableRules {
    /// A chain by name.
    pub fn chain(&self, name: &str) -> Option<&ChainRules> {
        let _ = name;
        unimplemented!()
    }

    /// Every chain, in `iptables-save` order: built-ins first, then user chains by name.
    pub fn chains(&self) -> impl Iterator<Item = (&ChainName, &ChainRules)> {
        std::iter::empty()
    }

    /// Whether the table is as a fresh namespace has it (built-ins, policy ACCEPT, no rules).
    pub fn is_default(&self) -> bool {
        unimplemented!()
    }
}

/// The filter and nat tables of one namespace.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ruleset {
    filter: TableRules,
    nat: TableRules,
    generation: u64,
}

impl Default for Ruleset {
    fn default() -> Self {
        Ruleset {
            filter: TableRules { table: Table::Filter },
            nat: TableRules { table: Table::Nat },
            generation: 0,
        }
    }
}

impl Ruleset {
    /// Applies one command atomically: on error nothing changes.
    pub fn apply(&mut self, table: Table, cmd: &Command) -> Result<(), OpError> {
        let _ = (table, cmd);
        unimplemented!()
    }

    /// One table.
    pub fn table(&self, table: Table) -> &TableRules {
        match table {
            Table::Filter => &self.filter,
            Table::Nat => &self.nat,
        }
    }

    /// A counter that changes whenever the rules change (for caches built on them).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}
