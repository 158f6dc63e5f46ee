//! The Nomad model: what a Nomad client with the CNI reference plugins builds for a job.
//!
//! - `jobspec`: the network-relevant parts of an HCL jobspec, as plain data.
//! - `client`: the client settings and the conflist Nomad derives from them.
//! - `client_file`: those settings read from an HCL client file (`nettwin plan --client`).
//! - `cni_names`: chain names and comments the plugins derive from network and container id.
//! - `cni_rules`: the iptables steps of Nomad and of each plugin at ADD and DEL, in order.
//! - `planner`: placements and the client's ADD/DEL of each allocation as `Op`s.
//! - `plan`: `nettwin plan` as data: a job planned on the standard sandbox host, per
//!   allocation its ops and the host's `iptables-save`, rendered as text.
//! - `diff`: `nettwin plan --diff`: the network state before and after a job update, as a
//!   `nomad job plan`-style diff.
//! - `libcni`: how libcni drives a conflist (plugin order, stdin, environment), as data,
//!   for the conformance test that runs the real plugins.
//! - `normalize`: the documented rule that compares the plugins' result with the plan's.
//! - `ports`: host port bookkeeping per host address (static collisions, dynamic picks).
//! - `seed`: seeded stand-ins for everything Nomad, the plugins and the kernel draw at
//!   random (allocation ids, veth names, MACs, the port picker's generator).
//!
//! The IPAM allocator these build on is `crate::ipam` (host-local semantics).
//! The facts these modules reproduce, each observed on the real plugins, are in
//! `docs/cni-facts.md`.

pub mod client;
pub mod client_file;
pub mod cni_names;
pub mod cni_rules;
pub mod diff;
pub mod jobspec;
pub mod libcni;
pub mod normalize;
pub mod plan;
pub mod planner;
pub mod ports;
pub mod seed;
