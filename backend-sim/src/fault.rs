//! Deliberate mistakes the simulator can be told to make, so that the differential suites
//! can prove they catch a wrong simulator (and shrink the evidence to a small case).
//!
//! Only the `faults` feature exposes a way to switch one on (`SimBackend::with_fault`);
//! without it every fault stays off and the simulator is the model.

/// One deliberate mistake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// Forward packets whatever `net.ipv4.ip_forward` says (a namespace with it at 0, the
    /// default, routes like a router).
    IgnoreIpForward,
}

/// The faults switched on (none by default).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Faults {
    pub(crate) ignore_ip_forward: bool,
}

impl Faults {
    /// Switches `fault` on.
    #[cfg_attr(not(feature = "faults"), allow(dead_code))]
    pub(crate) fn set(&mut self, fault: Fault) {
        match fault {
            Fault::IgnoreIpForward => self.ignore_ip_forward = true,
        }
    }
}
