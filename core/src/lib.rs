//! nettwin-core: the model of Linux container networking, as pure data and functions.
//!
//! - `names`, `addr`: validated values (interface and namespace names, CIDRs, MACs).
//! - `text`: the shell-like tokenizer with byte spans that every command parser uses.
//! - `iptables`: rules and commands in iptables-save syntax, and the rule set of a namespace.
//! - `error`: `OpError`, refusals in the kernel's terms.
//!
//! Architecture invariant: nothing here does I/O, reads a clock or draws unseeded random
//! numbers. The kernel is never mentioned except as the thing being modeled.

pub mod addr;
pub mod error;
pub mod ipam;
pub mod iptables;
pub mod names;
pub mod nomad;
pub mod text;
