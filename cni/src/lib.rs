//! nettwin-cni: what the CNI reference plugins (containernetworking/plugins v1.1.1) and
//! libcni do to a host, as the model's ops. Any orchestrator that drives CNI (Nomad today;
//! Podman's CNI mode or Kubernetes later) builds on this.
//!
//! - `names`: chain names and comment texts the plugins derive from network and container
//!   id (SHA-512, cut to iptables' limit), and the fixed names of their shared chains.
//! - `steps`: the plugins' iptables work as conditional steps ("create unless it exists",
//!   "insert unless present"), resolved against a rule set into plain commands.
//! - `masquerade`, `firewall`, `portmap`: each plugin's steps at ADD and DEL.
//! - `chain`: a bridge network's conflist (loopback → bridge → firewall → portmap) run for
//!   one container, as ops applied to the model as they are emitted.
//! - `libcni`: how libcni drives a conflist (plugin order, stdin, environment), as data,
//!   for the conformance test that runs the real plugins.
//! - `normalize`: the documented rule that compares the plugins' result with the model's.
//! - `seed`: seeded stand-ins for what the plugins and the kernel draw at random (veth
//!   names, MACs), and the generator orchestrators draw their own choices from.
//!
//! host-local's allocator itself is `nettwin_core::ipam`: it is what the model's
//! `IpamAllocate` op means, so both backends share it.
//!
//! Architecture invariant: no I/O. The facts these modules reproduce, each observed on the
//! real plugins, are in `docs/cni-reference.md` (and how each was observed in
//! `docs/cni-findings.md`).

#![forbid(unsafe_code)]

pub mod chain;
pub mod firewall;
pub mod libcni;
pub mod masquerade;
pub mod names;
pub mod normalize;
pub mod portmap;
pub mod seed;
pub mod steps;
