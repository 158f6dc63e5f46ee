//! iptables in its own syntax: rule and command data (`rule`), the parser (`parse`), the
//! canonical printer that reproduces `iptables-save` byte for byte (`print`), and the
//! per-namespace rule set with the kernel's checks (`ruleset`).
//!
//! Only the subset nettwin models is accepted; anything else is a parse error naming the
//! unsupported token. Nothing here guesses.

mod parse;
mod print;
pub mod rule;
mod ruleset;

pub use parse::{SaveError, parse_command, parse_rule, parse_save};
pub use rule::*;
pub use ruleset::{ChainRules, Ruleset, TableRules};
