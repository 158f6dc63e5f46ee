//! nettwin-linux: the `Backend` on the real kernel, inside a sandbox that leaves no trace.
//!
//! - `backend`: `LinuxBackend` (ops, `observe`, `probe`) and `LinuxOptions`.
//! - `conntrack`: emptying a namespace's conntrack table before a probe.
//! - `capture`: AF_PACKET captures on every device of a namespace (probes read them).
//! - `sandbox`: the sandbox id and directory, names bound under /run/netns on request, `gc`.
//! - `netns`: one worker thread per namespace, living inside it; everything that must
//!   happen in a namespace is a job on its worker.
//! - `ns`: one sandbox namespace as the backend holds it (worker, listeners, captures,
//!   counters).
//! - `netlink`, `links`, `routes`: a synchronous rtnetlink client and the link, address and
//!   route requests and dumps.
//! - `jobs`: what link, address, route and sysctl ops do on their namespace's worker.
//! - `sysctl`: /proc/sys from inside the namespace.
//! - `iptables`: `iptables-restore --noflush` batches with per-op results, and counters.
//! - `sockets`: listening sockets that record their peers.
//! - `ipam`: host-local's on-disk store in the sandbox directory, under its lock.
//! - `peers`: veth pairs, so that deleting a namespace need not wait for the kernel.
//! - `observe`: the kernel's state as the model's normalized `Snapshot`.
//! - `probe`: real traffic, packet captures and counter deltas turned into a `Trace`; it
//!   sees the backend only through `probe::ProbeCx`.
//! - `errors`: errno and iptables messages → the model's `ErrorKind`s (tables).
//! - `tools`: the programs it runs, by absolute path from a fixed list of directories.
//! - `testing`: `require_linux()`, the gate of every kernel test in the workspace.
//!
//! Architecture invariants:
//! - Nothing is created, changed or sent in the root network namespace: every namespace is
//!   created by a worker thread with `unshare(CLONE_NEWNET)`, and only workers do
//!   namespace work. No thread ever `setns`es back and forth.
//! - Namespaces are held by descriptors and threads; a killed process leaves only what was
//!   bound on request (names with the sandbox prefix) and its sandbox directory, which
//!   `gc` removes.
//! - This crate executes; it never decides what to build (that is `core` and the planner).

pub mod addrs;
pub mod backend;
mod capture;
mod conntrack;
pub mod errors;
pub mod ipam;
pub mod iptables;
pub mod jobs;
pub mod links;
pub mod neigh;
pub mod netlink;
pub mod netns;
mod ns;
pub mod observe;
pub mod peers;
pub mod probe;
pub mod routes;
pub mod rules;
pub mod sandbox;
pub mod sockets;
pub mod sysctl;
pub mod testing;
pub mod tools;

pub use backend::{LinuxBackend, LinuxOptions};
pub use sandbox::{GcReport, gc};
