//! nettwin-core: the model of Linux container networking, as pure data and functions.
//!
//! - `names`, `addr`: validated values (interface and namespace names, CIDRs, MACs).
//! - `source`: a file's text and places in it (line, column, bytes), for every parser's
//!   errors.
//! - `text`: the shell-like tokenizer with byte spans that every command parser uses.
//! - `iptables`: rules and commands in iptables-save syntax, and the rule set of a namespace.
//! - `error`: `OpError`, refusals in the kernel's terms.
//! - `op`: `Op`, every state change, and its text form (`ip -n host link add ...`).
//! - `state`: `State` and `State::apply`, the pure, atomic transitions.
//! - `snapshot`: the normalized observed state both backends report.
//! - `trace`: `Probe`, `Trace`, hops, steps and outcomes.
//! - `backend`: the `Backend` trait both backends implement.
//! - `cases`: the per-op case table every backend is tested against.
//! - `ipam`: host-local's allocator and its on-disk store, as data (what `IpamAllocate`
//!   means on both backends).
//! - `host`: the standard host (a `host` namespace facing a `world`) planners build on.
//! - `show`: a `Snapshot` rendered like `ip -br addr`, `ip route`, `iptables-save`, `ss`,
//!   `bridge link`.
//!
//! Architecture invariant: nothing here does I/O, reads a clock or draws unseeded random
//! numbers. The kernel is never mentioned except as the thing being modeled. No
//! orchestrator lives here (they are `nettwin-cni` and `orchestrators/*`).

#![forbid(unsafe_code)]

pub mod addr;
pub mod backend;
pub mod cases;
pub mod error;
mod hash;
pub mod host;
pub mod ipam;
pub mod iptables;
pub mod names;
pub mod op;
pub mod show;
pub mod snapshot;
pub mod source;
pub mod state;
pub mod text;
pub mod trace;
