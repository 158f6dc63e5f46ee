//! iptables in its own syntax: rule and command data (`rule`), the parsers (`parse` for
//! rule specifications, `command` for whole invocations, `save` for `iptables-save`
//! output), the canonical printer that reproduces `iptables-save` byte for byte (`print`),
//! and the per-namespace rule set with the kernel's checks (`ruleset`, `graph`, and `nat`
//! for the hooks each NAT target is valid in).
//!
//! Only the subset nettwin models is accepted; anything else is a parse error naming the
//! unsupported token. Nothing here guesses.

mod command;
mod ext_values;
mod graph;
mod hooks;
mod matches;
mod parse;
mod parse_match;
mod parse_target;
mod print;
pub mod rule;
mod ruleset;
mod save;
mod services;
mod values;

pub use command::parse_command;
pub use parse::{COMMENT_MAX, parse_rule};
pub use print::save_string;
pub use rule::*;
pub use ruleset::{ChainRules, MAX_JUMP_DEPTH, Ruleset, TableRules};
pub use save::{Counter, SaveError, parse_save, parse_save_counted};
pub use services::service_names;
pub use values::target_names;
