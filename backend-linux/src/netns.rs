//! Namespace workers: one OS thread per sandbox namespace, living inside it.
//!
//! The thread creates the namespace itself (`unshare(CLONE_NEWNET)` affects only the
//! calling thread), opens `/proc/thread-self/ns/net` to hold it by descriptor, opens its
//! netlink socket, and then runs jobs sent to it. Everything that must happen *inside* the
//! namespace — netlink requests, /proc/sys reads and writes, spawning iptables, opening
//! sockets — is a job on this thread. No other thread ever changes namespace, so the
//! process's other threads (including any async runtime) stay in the root namespace and
//! nothing is ever done there.
//!
//! Architecture invariant: the namespace lives exactly as long as something holds it: this
//! thread, the descriptor, sockets opened in it, or a name bound under /run/netns on
//! request. When the process dies (even by SIGKILL) all but the bound names go with it.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use nix::sched::{CloneFlags, unshare};

use crate::netlink::Netlink;

/// What a job gets: the worker's netlink socket and its identity.
#[derive(Debug)]
pub struct NsCtx {
    /// The namespace's rtnetlink socket.
    pub nl: Netlink,
}

type Job = Box<dyn FnOnce(&mut NsCtx) + Send>;

/// Why a worker could not be created or reached.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Creating the namespace or its thread failed.
    #[error("could not create a network namespace: {0}")]
    Create(#[source] io::Error),
    /// The worker thread is gone (it panicked).
    #[error("the namespace worker thread is gone")]
    Gone,
}

/// The handle of one namespace's worker thread.
#[derive(Debug)]
pub struct NsWorker {
    tx: Option<mpsc::Sender<Job>>,
    fd: Arc<OwnedFd>,
    tid: i32,
    thread: Option<JoinHandle<()>>,
}

impl NsWorker {
    /// Starts a thread in a fresh network namespace. `label` names the thread.
    pub fn spawn(label: &str) -> Result<NsWorker, WorkerError> {
        Starting::start(label)?.finish()
    }

    /// Starts several at once (creating a namespace takes ~1 ms of kernel work, which
    /// spreads over the CPUs) and returns them in order.
    pub fn spawn_many(labels: &[&str]) -> Vec<Result<NsWorker, WorkerError>> {
        let started: Vec<_> = labels.iter().map(|l| Starting::start(l)).collect();
        started.into_iter().map(|s| s.and_then(Starting::finish)).collect()
    }

    /// Runs `f` on the worker thread (inside the namespace) and waits for its result.
    pub fn call<R, F>(&self, f: F) -> Result<R, WorkerError>
    where
        R: Send + 'static,
        F: FnOnce(&mut NsCtx) -> R + Send + 'static,
    {
        self.submit(f)?.wait()
    }

    /// Starts `f` on the worker thread and returns a handle to wait for it, so that work in
    /// several namespaces can run at once.
    pub fn submit<R, F>(&self, f: F) -> Result<Pending<R>, WorkerError>
    where
        R: Send + 'static,
        F: FnOnce(&mut NsCtx) -> R + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |ctx| {
            let _ = tx.send(f(ctx));
        });
        self.tx.as_ref().ok_or(WorkerError::Gone)?.send(job).map_err(|_| WorkerError::Gone)?;
        Ok(Pending { rx })
    }

    /// The descriptor that holds the namespace (for `IFLA_NET_NS_FD`, `setns`, nsid lookups).
    pub fn fd(&self) -> Arc<OwnedFd> {
        Arc::clone(&self.fd)
    }

    /// A path naming the namespace while the worker lives (`/proc/PID/task/TID/ns/net`), for
    /// bind mounts and for tools that take a namespace path.
    pub fn proc_path(&self) -> String {
        format!("/proc/{}/task/{}/ns/net", std::process::id(), self.tid)
    }
}

impl Drop for NsWorker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; joining makes the namespace's end
        // (as far as this process holds it) happen before drop returns.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A worker whose thread is creating its namespace.
struct Starting {
    tx: mpsc::Sender<Job>,
    ready: mpsc::Receiver<io::Result<(OwnedFd, i32)>>,
    thread: JoinHandle<()>,
}

impl Starting {
    fn start(label: &str) -> Result<Starting, WorkerError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::sync_channel::<io::Result<(OwnedFd, i32)>>(1);
        let thread = std::thread::Builder::new()
            .name(format!("ntw-ns-{label}"))
            .spawn(move || {
                let setup = || -> io::Result<(Netlink, OwnedFd, i32)> {
                    unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                    let fd: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")?.into();
                    let tid = nix::unistd::gettid().as_raw();
                    Ok((Netlink::open()?, fd, tid))
                };
                let mut ctx = match setup() {
                    Ok((nl, fd, tid)) => {
                        if ready_tx.send(Ok((fd, tid))).is_err() {
                            return;
                        }
                        NsCtx { nl }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(&mut ctx);
                }
            })
            .map_err(WorkerError::Create)?;
        Ok(Starting { tx, ready, thread })
    }

    fn finish(self) -> Result<NsWorker, WorkerError> {
        match self.ready.recv() {
            Ok(Ok((fd, tid))) => {
                Ok(NsWorker { tx: Some(self.tx), fd: Arc::new(fd), tid, thread: Some(self.thread) })
            }
            Ok(Err(e)) => {
                let _ = self.thread.join();
                Err(WorkerError::Create(e))
            }
            Err(_) => {
                let _ = self.thread.join();
                Err(WorkerError::Gone)
            }
        }
    }
}

/// A job started with `NsWorker::submit`.
#[derive(Debug)]
pub struct Pending<R> {
    rx: mpsc::Receiver<R>,
}

impl<R> Pending<R> {
    /// Waits for the job's result.
    pub fn wait(self) -> Result<R, WorkerError> {
        self.rx.recv().map_err(|_| WorkerError::Gone)
    }
}
