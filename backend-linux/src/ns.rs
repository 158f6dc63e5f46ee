//! One sandbox namespace as the backend holds it: its worker thread, the listeners of
//! its sockets, the captures probes read, and its rule counters as last read.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::netns::NsWorker;
use crate::sandbox::unbind;
use crate::sockets::Listener;

/// One sandbox namespace. Fields drop in order: sockets first, then the worker.
#[derive(Debug)]
pub(crate) struct Ns {
    pub(crate) listeners: Vec<Listener>,
    /// The packet capture probes read, opened by the first probe and kept (closing a
    /// packet socket waits for an RCU grace period, ~10 ms).
    pub(crate) capture: Option<OwnedFd>,
    /// A raw ICMP socket that sees the echo requests this namespace answers, as its stack
    /// received them (after nat INPUT): the source an echo's receiver saw. Opened by the
    /// first echo probe and kept.
    pub(crate) echo_watch: Option<OwnedFd>,
    /// Keeps kernel receive timestamps on (see `capture::clock_keeper`).
    pub(crate) _clock: Option<OwnedFd>,
    pub(crate) iptables_used: bool,
    /// The rule counters as last read (by `observe` or after a probe), while no iptables op
    /// ran since: the next probe's "before" reading, one `iptables-save` saved.
    pub(crate) counters: Option<Vec<nettwin_core::iptables::Counter>>,
    pub(crate) bound: Option<PathBuf>,
    pub(crate) worker: NsWorker,
}

impl Drop for Ns {
    fn drop(&mut self) {
        self.listeners.clear();
        if let Some(fd) = self.capture.take() {
            crate::capture::close_later(fd);
        }
        if let Some(p) = self.bound.take() {
            let _ = unbind(&p);
        }
    }
}
