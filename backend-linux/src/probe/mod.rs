//! Probes (stub).

use nettwin_core::backend::BackendError;
use nettwin_core::trace::{Probe, Trace};

use crate::backend::LinuxBackend;

/// Sends a probe.
pub fn run(_b: &mut LinuxBackend, _p: &Probe) -> Result<Trace, BackendError> {
    Err(BackendError::BadProbe("not yet".into()))
}
