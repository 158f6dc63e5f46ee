//! Waiting for a probe's answer without waiting for nothing.
//!
//! Everything a probe sets off in the sandbox happens within microseconds: the kernel
//! moves a packet through veths, bridges and namespaces in softirq context right after it
//! is sent, and answers (SYN-ACK, RST, ICMP errors, echo replies) the same way. The only
//! timers that could add more (ARP and TCP retransmissions) fire after a second, long past
//! a probe's bound. So while waiting for the sender's socket or a listener, a `Watch` also
//! reads the captures: once no IPv4 or ARP frame has appeared anywhere in the sandbox for
//! `QUIET`, nothing more will come, and the probe ends in silence without sitting out the
//! whole `probe_timeout`. The frames read while waiting are kept for the path.

use super::ProbeCx;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nettwin_core::names::NetnsName;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::capture::{self, Frame};

/// How long the sandbox must stay silent for a probe to end early: many times what the
/// kernel needs to answer, even with both CPUs busy.
pub const QUIET: Duration = Duration::from_millis(40);

/// The captures of every namespace, watched while a probe waits.
pub struct Watch {
    captures: Vec<(NetnsName, OwnedFd)>,
    /// Frames read while waiting, per namespace, in arrival order.
    pub frames: BTreeMap<NetnsName, Vec<Frame>>,
    last: Instant,
}

/// What a wait ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Woke {
    /// These of the waited-for descriptors are ready (by index).
    Ready(Vec<usize>),
    /// The sandbox went quiet, or the hard bound passed.
    Silence,
}

/// Whether a frame is IPv4 or ARP (IPv6 is off in the sandbox, but a frame of it would not
/// be the probe's).
fn counts(f: &Frame) -> bool {
    f.data.len() >= 14 && matches!((f.data[12], f.data[13]), (0x08, 0x00) | (0x08, 0x06))
}

impl Watch {
    /// Watches the captures of the sandbox's namespaces (duplicated descriptors), from now.
    pub fn new(cx: &ProbeCx<'_>) -> Watch {
        let captures = cx
            .namespaces
            .iter()
            .filter_map(|(n, ns)| Some((n.clone(), ns.capture.as_ref()?.try_clone().ok()?)))
            .collect();
        Watch { captures, frames: BTreeMap::new(), last: Instant::now() }
    }

    fn collect(&mut self, i: usize) {
        let Some((name, fd)) = self.captures.get(i) else { return };
        let got = capture::read_all(fd);
        if got.iter().any(counts) {
            self.last = Instant::now();
        }
        if !got.is_empty() {
            self.frames.entry(name.clone()).or_default().extend(got);
        }
    }

    /// Waits until one of `fds` (with the events asked for) is ready, the sandbox has been
    /// quiet for `QUIET`, or `hard` passes.
    pub fn wait(&mut self, fds: &[(BorrowedFd<'_>, PollFlags)], hard: Instant) -> Woke {
        loop {
            let now = Instant::now();
            let until = hard.min(self.last + QUIET);
            if now >= until {
                return Woke::Silence;
            }
            let left = until - now;
            let ms = PollTimeout::try_from(left.as_millis().clamp(1, 60_000) as i32)
                .unwrap_or(PollTimeout::ZERO);
            let mut polls: Vec<PollFd<'_>> =
                fds.iter().map(|(fd, ev)| PollFd::new(*fd, *ev)).collect();
            polls.extend(
                self.captures.iter().map(|(_, c)| PollFd::new(c.as_fd(), PollFlags::POLLIN)),
            );
            match poll(&mut polls, ms) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => return Woke::Silence,
            }
            let ready: Vec<bool> =
                polls.iter().map(|p| p.revents().is_some_and(|r| !r.is_empty())).collect();
            drop(polls);
            for i in 0..self.captures.len() {
                if ready[fds.len() + i] {
                    self.collect(i);
                }
            }
            let mine: Vec<usize> = (0..fds.len()).filter(|i| ready[*i]).collect();
            if !mine.is_empty() {
                return Woke::Ready(mine);
            }
        }
    }
}
