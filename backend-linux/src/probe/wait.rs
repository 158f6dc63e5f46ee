//! Waiting for a probe's answer, decided from the kernel's state rather than a clock.
//!
//! Everything a probe sets off in the sandbox is softirq work: a packet sent into a veth or
//! `lo` is queued on the CPU's receive backlog, and the softirq that takes it off moves it
//! through the next namespace's stack, netfilter and bridges, queueing it again at the
//! next veth, and answers (SYN-ACK, RST, ICMP errors, echo replies) the same way. The only
//! timers that could add more (ARP and TCP retransmissions) fire after a second. So the
//! sandbox has done all it will do when every CPU's backlog is empty
//! (`/proc/net/softnet_stat`, the queue length column) and stays empty, with no new frame
//! captured, across two readings: a softirq cannot be preempted half way through a packet
//! by the load on the machine, so a slow machine only makes the wait longer, never its
//! result different. While waiting for the sender's socket or a listener, a `Watch` also
//! reads the captures; the frames read are kept for the path.
//!
//! A kernel without the queue column (before 5.10) falls back to a quiet period: no IPv4
//! or ARP frame for `QUIET`. A hard bound (`LinuxOptions::probe_timeout`) ends a wait that
//! never goes quiet (a loop of bridges flooding each other).

use super::ProbeCx;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nettwin_core::names::NetnsName;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::capture::{self, Frame};

/// Without the backlog column: how long the sandbox must stay silent for a probe to end.
pub const QUIET: Duration = Duration::from_millis(40);

/// How often the backlog is read while nothing wakes the wait, and the least time between
/// the two readings that must both find it empty.
const RECHECK: Duration = Duration::from_millis(1);

/// The length of every CPU's receive backlog, summed: column 12 of
/// `/proc/net/softnet_stat` (`input_qlen + process_qlen`); `None` when the kernel does not
/// print it.
pub fn backlog() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/softnet_stat").ok()?;
    text.lines().try_fold(0u64, |sum, line| {
        let col = line.split_whitespace().nth(11)?;
        Some(sum + u64::from_str_radix(col, 16).ok()?)
    })
}

/// The captures of every namespace, watched while a probe waits.
pub struct Watch {
    captures: Vec<(NetnsName, OwnedFd)>,
    /// Frames read while waiting, per namespace, in arrival order.
    pub frames: BTreeMap<NetnsName, Vec<Frame>>,
    /// When the last IPv4 or ARP frame was read.
    last: Instant,
    /// When the backlog was last found empty with no frame read since.
    idle_since: Option<Instant>,
    /// Whether the kernel shows its backlog (else the quiet period decides).
    backlog_known: bool,
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
        let backlog_known = backlog().is_some();
        Watch {
            captures,
            frames: BTreeMap::new(),
            last: Instant::now(),
            idle_since: None,
            backlog_known,
        }
    }

    fn collect(&mut self, i: usize) {
        let Some((name, fd)) = self.captures.get(i) else { return };
        let got = capture::read_all(fd);
        if got.iter().any(counts) {
            self.last = Instant::now();
            self.idle_since = None;
        }
        if !got.is_empty() {
            self.frames.entry(name.clone()).or_default().extend(got);
        }
    }

    /// Whether the sandbox has done all it will do (see the module docs): the backlog was
    /// empty at two readings at least `RECHECK` apart with no frame read in between.
    fn settled(&mut self, now: Instant) -> bool {
        if !self.backlog_known {
            return now >= self.last + QUIET;
        }
        if backlog() != Some(0) {
            self.idle_since = None;
            return false;
        }
        match self.idle_since {
            Some(since) => now >= since + RECHECK,
            None => {
                self.idle_since = Some(now);
                false
            }
        }
    }

    /// Waits until one of `fds` (with the events asked for) is ready, the sandbox has done
    /// all it will do, or `hard` passes.
    pub fn wait(&mut self, fds: &[(BorrowedFd<'_>, PollFlags)], hard: Instant) -> Woke {
        loop {
            let now = Instant::now();
            if now >= hard || self.settled(now) {
                return Woke::Silence;
            }
            let next = if self.backlog_known { now + RECHECK } else { self.last + QUIET };
            let until = hard.min(next);
            let left = until.saturating_duration_since(now);
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
