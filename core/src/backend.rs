//! The `Backend` trait: what the simulator and the linux backend both implement, so that
//! one scenario or property test runs against either (or both, compared).

use crate::error::OpError;
use crate::op::{Effect, Op};
use crate::snapshot::Snapshot;
use crate::trace::{Probe, Trace};

/// A failure of the backend itself, as opposed to an op the model refuses: missing
/// privileges, a tool that is not installed, a netlink socket that broke.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend cannot run here (not root, no iptables, ...).
    #[error("the {backend} backend cannot run here: {why}")]
    Unavailable {
        /// Which backend.
        backend: &'static str,
        /// Why not.
        why: String,
    },
    /// The probe names something the backend cannot send (an unknown namespace, ...).
    #[error("cannot send probe: {0}")]
    BadProbe(String),
    /// Something the backend relies on failed.
    #[error("{context}")]
    Io {
        /// What the backend was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A place ops are applied, state is observed and probes are sent.
pub trait Backend {
    /// A short name (`sim`, `linux`).
    fn name(&self) -> &'static str;

    /// Applies one op. On error nothing changed.
    fn apply(&mut self, op: &Op) -> Result<Effect, OpError>;

    /// Applies ops in order, each independently (a failed op does not stop the others);
    /// the same results as calling `apply` for each. Backends may batch the work.
    fn apply_all(&mut self, ops: &[Op]) -> Vec<Result<Effect, OpError>> {
        ops.iter().map(|op| self.apply(op)).collect()
    }

    /// The current state, normalized.
    fn observe(&mut self) -> Result<Snapshot, BackendError>;

    /// Sends one probe and reports what happened. A probe without a source port uses
    /// `trace::default_sport(n)`, where `n` counts the earlier such probes on this
    /// backend instance.
    fn probe(&mut self, probe: &Probe) -> Result<Trace, BackendError>;
}
