//! nettwin-nomad: what a Nomad client with the CNI reference plugins builds for a job.
//!
//! - `jobspec`: the network-relevant parts of an HCL jobspec, as plain data.
//! - `client`: the client settings and the conflist Nomad derives from them.
//! - `client_file`: those settings read from an HCL client file (`nettwin plan --client`).
//! - `hook`: what Nomad's bridge network hook does itself around the CNI chain (the
//!   NOMAD-ADMIN chain, the port mappings it gives portmap).
//! - `ports`: host port bookkeeping per host address (static collisions, dynamic picks).
//! - `ids`: Nomad's allocation ids, seeded.
//! - `planner`: placements and the client's ADD/DEL of each allocation as `Op`s (the CNI
//!   chain itself is `nettwin_cni::chain`).
//! - `plan`: `nettwin plan` as data: a job planned on the standard sandbox host, per
//!   allocation its ops and the host's `iptables-save`, rendered as text.
//! - `diff`: `nettwin plan --diff`: the network state before and after a job update, as a
//!   `nomad job plan`-style diff.
//!
//! This is the only crate that reads HCL. Architecture invariant: no I/O; the CLI reads
//! the files and prints.

#![forbid(unsafe_code)]

pub mod client;
pub mod client_file;
pub mod diff;
pub mod hook;
pub mod ids;
pub mod jobspec;
pub mod located;
pub mod plan;
pub mod planner;
pub mod ports;
