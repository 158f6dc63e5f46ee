//! Printing rules and commands exactly as `iptables-save` does.
//! (Stub: the contract; the implementation is being written.)

use std::fmt;

use super::rule::Command;

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl fmt::Display for super::ruleset::Ruleset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}
