//! `LinuxBackend`: the `Backend` trait on the real kernel, inside a sandbox.
//!
//! Every op runs on the worker of the namespace it names. `apply_all` defers iptables ops
//! and runs each namespace's pending ones as one `iptables-restore` batch: iptables state is
//! changed by iptables ops only (and by deleting the namespace, which flushes the batch
//! first), so running them later gives the same results as running them in order.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::backend::{Backend, BackendError};
use nettwin_core::error::{ErrorKind, OpError};
use nettwin_core::iptables::{Command, Table};
use nettwin_core::names::NetnsName;
use nettwin_core::op::{Effect, Op};
use nettwin_core::snapshot::Snapshot;
use nettwin_core::trace::{Probe, Trace};

use crate::errors::{OpClass, errno_error};
use crate::links;
use crate::netlink::NlError;
use crate::netns::{NsWorker, WorkerError};
use crate::ns::Ns;
use crate::probe::{Numbering, ProbeCx};
use crate::sandbox::Sandbox;
use crate::sockets::Listener;

/// How a `LinuxBackend` behaves.
#[derive(Clone, Debug)]
pub struct LinuxOptions {
    /// Bind every namespace to `/run/netns/<sandbox id>-<name>` (for `ip netns exec` while
    /// debugging, and for tools that need a path such as the CNI plugins). Off by default:
    /// namespaces are then held by descriptors only.
    pub bind_names: bool,
    /// The most a probe waits for the sandbox to settle (see `probe`'s waiting: the
    /// answer is decided from the kernel's state, this only ends a wait that never settles,
    /// such as a loop of bridges flooding each other).
    pub probe_timeout: Duration,
}

impl Default for LinuxOptions {
    fn default() -> Self {
        LinuxOptions { bind_names: false, probe_timeout: Duration::from_secs(5) }
    }
}

/// The linux backend: ops, observation and probes on the real kernel, in namespaces it
/// creates and removes. See the crate docs for the sandbox's guarantees.
#[derive(Debug)]
pub struct LinuxBackend {
    namespaces: BTreeMap<NetnsName, Ns>,
    options: LinuxOptions,
    /// How many probes were sent, for source ports and payload tokens.
    numbering: Numbering,
    /// Workers started ahead for the `NetnsAdd` ops of a batch (see `apply_all`).
    prepared: BTreeMap<NetnsName, Result<NsWorker, WorkerError>>,
    /// Veth pairs, and peers still to disappear after a namespace was deleted.
    peers: crate::peers::Peers,
    sandbox: Sandbox,
}

/// How long an op waits for the kernel to remove the veth peers of a deleted namespace.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

fn unavailable(why: impl Into<String>) -> BackendError {
    BackendError::Unavailable { backend: "linux", why: why.into() }
}

fn worker_error(e: WorkerError) -> BackendError {
    BackendError::Io { context: "namespace worker".into(), source: io::Error::other(e) }
}

fn missing_netns(name: &NetnsName) -> OpError {
    OpError::new(ErrorKind::NotFound, "find namespace", name)
}

fn gone(e: WorkerError) -> OpError {
    OpError::new(ErrorKind::Unexpected, "reach", "namespace worker").detail(e.to_string())
}

impl LinuxBackend {
    /// A backend with default options; `Unavailable` when not root, when iptables-restore
    /// or iptables-save is missing, or when a network namespace cannot be created.
    pub fn new() -> Result<LinuxBackend, BackendError> {
        LinuxBackend::with_options(LinuxOptions::default())
    }

    /// A backend with the given options (see `new` for when it is unavailable).
    pub fn with_options(options: LinuxOptions) -> Result<LinuxBackend, BackendError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(unavailable("it needs root (to create network namespaces)"));
        }
        for tool in ["iptables-restore", "iptables-save"] {
            if crate::tools::find(tool).is_none() {
                return Err(unavailable(format!(
                    "{tool} is not installed (apt-get install iptables)"
                )));
            }
        }
        // Creating (and at once dropping) a namespace proves the kernel lets us.
        NsWorker::spawn("probe")
            .map_err(|e| unavailable(format!("cannot create a network namespace: {e}")))?;
        let sandbox = Sandbox::create().map_err(|e| BackendError::Io {
            context: format!(
                "creating the sandbox directory under {}",
                crate::sandbox::run_dir().display()
            ),
            source: e,
        })?;
        Ok(LinuxBackend {
            namespaces: BTreeMap::new(),
            options,
            numbering: Numbering::default(),
            prepared: BTreeMap::new(),
            peers: crate::peers::Peers::default(),
            sandbox,
        })
    }

    /// The sandbox's unique id (`ntw-<pid>-<n>`), the prefix of every name it binds.
    pub fn sandbox_id(&self) -> &str {
        self.sandbox.id()
    }

    /// The sandbox directory (IPAM store, locks, owner file).
    pub fn sandbox_dir(&self) -> &std::path::Path {
        self.sandbox.dir()
    }

    /// The path of a sandbox namespace: its bound name when names are bound, else its
    /// `/proc/<pid>/task/<tid>/ns/net` path (valid while the backend lives).
    pub fn netns_path(&self, netns: &str) -> Option<PathBuf> {
        let ns = self.namespaces.get(netns)?;
        Some(ns.bound.clone().unwrap_or_else(|| PathBuf::from(ns.worker.proc_path())))
    }

    /// Runs a program inside a sandbox namespace (spawned from its worker thread) and
    /// returns its output. For tools the model drives from outside (CNI plugins, ...).
    pub fn run_in(
        &self,
        netns: &str,
        mut cmd: std::process::Command,
    ) -> Result<std::process::Output, BackendError> {
        let ns = self.namespaces.get(netns).ok_or_else(|| {
            BackendError::BadProbe(format!("no namespace {netns:?} in the sandbox"))
        })?;
        let out = ns.worker.call(move |_| cmd.output()).map_err(worker_error)?;
        out.map_err(|e| BackendError::Io {
            context: format!("running a program in {netns}"),
            source: e,
        })
    }

    fn ns(&self, name: &NetnsName) -> Result<&Ns, OpError> {
        self.namespaces.get(name).ok_or_else(|| missing_netns(name))
    }

    fn fd_of(&self, name: &NetnsName) -> Result<Arc<OwnedFd>, OpError> {
        Ok(self.ns(name)?.worker.fd())
    }

    fn netns_add(&mut self, name: &NetnsName) -> Result<Effect, OpError> {
        if self.namespaces.contains_key(name) {
            return Err(OpError::new(ErrorKind::AlreadyExists, "add namespace", name));
        }
        let unexpected =
            |e: String| OpError::new(ErrorKind::Unexpected, "add namespace", name).detail(e);
        let worker = match self.prepared.remove(name) {
            Some(w) => w,
            None => NsWorker::spawn(name.as_str()),
        }
        .map_err(|e| unexpected(e.to_string()))?;
        let clock = worker
            .call(|_| {
                crate::sysctl::pin_pristine()?;
                crate::capture::clock_keeper()
            })
            .map_err(|e| unexpected(e.to_string()))?
            .map_err(|e| unexpected(format!("setting the namespace up: {e}")))?;
        let bound = if self.options.bind_names {
            let path = self
                .sandbox
                .bind(name.as_str(), &worker.proc_path())
                .map_err(|e| unexpected(format!("binding the name: {e}")))?;
            Some(path)
        } else {
            None
        };
        let ns = Ns {
            listeners: Vec::new(),
            capture: None,
            echo_watch: None,
            _clock: Some(clock),
            iptables_used: false,
            counters: None,
            bound,
            worker,
        };
        self.namespaces.insert(name.clone(), ns);
        Ok(Effect::Done)
    }

    fn netns_del(&mut self, name: &NetnsName) -> Result<Effect, OpError> {
        let ns = self.namespaces.remove(name).ok_or_else(|| missing_netns(name))?;
        // The kernel removes the namespace's devices asynchronously once nothing holds it;
        // `peers` notes which veth ends elsewhere must be waited for (see `peers`).
        drop(ns);
        Ok(Effect::Done)
    }

    /// Waits until the veth ends whose peers' namespaces were deleted are gone from
    /// `netns` (bounded: `SETTLE_LIMIT`).
    fn settle(&mut self, netns: &NetnsName) {
        let names = self.peers.take_pending(netns.as_str());
        let Some(ns) = self.namespaces.get(netns) else { return };
        if names.is_empty() {
            return;
        }
        let _ = ns.worker.call(move |ctx| {
            let until = std::time::Instant::now() + SETTLE_LIMIT;
            let mut left = names;
            while !left.is_empty() && std::time::Instant::now() < until {
                left.retain(|n| {
                    !matches!(links::index_of(&mut ctx.nl, n.as_str()), Err(NlError::Errno(e)) if e == libc::ENODEV)
                });
                if !left.is_empty() {
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
        });
    }

    /// `settle` for every namespace (before observing or probing).
    fn settle_all(&mut self) {
        for ns in self.peers.pending_namespaces() {
            self.settle(&ns);
        }
    }

    fn listen(&mut self, netns: &NetnsName, proto: Proto, at: Endpoint) -> Result<Effect, OpError> {
        let object = format!("{proto} {at}");
        let ns = self.ns(netns)?;
        if at.port == 0 {
            return Err(OpError::new(ErrorKind::InvalidArgument, "bind", object)
                .detail("port 0 (an ephemeral port) is not modeled"));
        }
        let r = ns.worker.call(move |_| Listener::open(proto, at)).map_err(gone)?;
        let l = r.map_err(|e| errno_error(OpClass::General, e as i32, "bind", object))?;
        if let Some(ns) = self.namespaces.get_mut(netns) {
            ns.listeners.push(l);
        }
        Ok(Effect::Done)
    }

    fn close(&mut self, netns: &NetnsName, proto: Proto, at: Endpoint) -> Result<Effect, OpError> {
        let ns = self.namespaces.get_mut(netns).ok_or_else(|| missing_netns(netns))?;
        let pos = ns.listeners.iter().position(|l| l.socket.proto == proto && l.socket.at == at);
        let Some(pos) = pos else {
            return Err(OpError::new(ErrorKind::NotFound, "close", format!("{proto} {at}")));
        };
        ns.listeners.remove(pos);
        Ok(Effect::Done)
    }

    /// Applies one op (settling the namespaces it names first) and keeps `peers` current.
    fn apply_one(&mut self, op: &Op) -> Result<Effect, OpError> {
        for ns in op.namespaces() {
            self.settle(ns);
        }
        let r = self.apply_inner(op);
        if r.is_ok() {
            self.peers.record(op);
        }
        r
    }

    fn apply_inner(&mut self, op: &Op) -> Result<Effect, OpError> {
        if let Some(job) = crate::jobs::job_for(op, |n| self.fd_of(n)) {
            let netns = op.netns().ok_or_else(|| gone(WorkerError::Gone))?;
            let ns = self.ns(netns)?;
            return ns.worker.call(move |ctx| job?(ctx)).map_err(gone)?;
        }
        match op {
            Op::NetnsAdd { name } => self.netns_add(name),
            Op::NetnsDel { name } => self.netns_del(name),
            Op::Iptables { netns, table, cmd } => {
                self.ns(netns)?;
                let mut r = self.run_iptables(netns, vec![(*table, cmd.clone())]);
                r.pop().unwrap_or_else(|| Err(gone(WorkerError::Gone))).map(|()| Effect::Done)
            }
            Op::IpamAllocate { pool, subnet, gateway, id, ifname } => crate::ipam::allocate(
                self.sandbox.dir(),
                pool,
                *subnet,
                *gateway,
                id,
                ifname.as_str(),
            ),
            Op::IpamRelease { pool, id, ifname } => {
                crate::ipam::release(self.sandbox.dir(), pool, id, ifname.as_str())
            }
            Op::Listen { netns, proto, at } => self.listen(netns, *proto, *at),
            Op::Close { netns, proto, at } => self.close(netns, *proto, *at),
            // Every other op is a job (above).
            _ => Err(OpError::new(ErrorKind::Unexpected, "run", op.to_string())
                .detail("internal: an op without a handler")),
        }
    }

    /// Runs a run of batchable ops of one namespace (`ops[i]` for `i` in `idxs`) as one
    /// job on its worker, after settling it.
    fn run_batch(
        &mut self,
        netns: &NetnsName,
        ops: &[Op],
        idxs: &[usize],
        results: &mut [Option<Result<Effect, OpError>>],
    ) {
        self.settle(netns);
        let mut jobs = Vec::new();
        for &i in idxs {
            match crate::jobs::job_for(&ops[i], |n| self.fd_of(n)) {
                Some(Ok(job)) => jobs.push(job),
                Some(Err(e)) => jobs.push(Box::new(move |_: &mut crate::netns::NsCtx| Err(e))),
                None => jobs.push(Box::new(|_: &mut crate::netns::NsCtx| {
                    Err(OpError::new(ErrorKind::Unexpected, "run", "op")
                        .detail("internal: not a job"))
                })),
            }
        }
        let rs = match self.ns(netns) {
            Ok(ns) => ns
                .worker
                .call(move |ctx| jobs.into_iter().map(|j| j(ctx)).collect::<Vec<_>>())
                .unwrap_or_else(|e| vec![Err(gone(e)); idxs.len()]),
            Err(e) => vec![Err(e); idxs.len()],
        };
        for (&i, r) in idxs.iter().zip(rs) {
            if r.is_ok() {
                self.peers.record(&ops[i]);
            }
            results[i] = Some(r);
        }
    }

    /// Runs iptables commands of one namespace as one batch (see `iptables`).
    fn run_iptables(
        &mut self,
        netns: &NetnsName,
        cmds: Vec<(Table, Command)>,
    ) -> Vec<Result<(), OpError>> {
        let n = cmds.len();
        let Some(ns) = self.namespaces.get_mut(netns) else {
            return vec![Err(missing_netns(netns)); n];
        };
        ns.iptables_used = true;
        ns.counters = None;
        let r = ns.worker.call(move |_| {
            let refs: Vec<(Table, &Command)> = cmds.iter().map(|(t, c)| (*t, c)).collect();
            crate::iptables::run_batch(&mut crate::iptables::Spawn::default(), &refs)
        });
        r.unwrap_or_else(|e| vec![Err(gone(e)); n])
    }

    /// Starts the namespaces of the run of `NetnsAdd` ops at the head of `ops` at once.
    fn prepare_namespaces(&mut self, ops: &[Op]) {
        let mut names: Vec<&NetnsName> = Vec::new();
        for op in ops {
            let Op::NetnsAdd { name } = op else { break };
            if !self.namespaces.contains_key(name) && !names.contains(&name) {
                names.push(name);
            }
        }
        if names.len() < 2 {
            return;
        }
        let labels: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        for (name, w) in names.iter().zip(NsWorker::spawn_many(&labels)) {
            self.prepared.insert((*name).clone(), w);
        }
    }

    fn flush_pending(
        &mut self,
        netns: &NetnsName,
        pending: &mut BTreeMap<NetnsName, Vec<usize>>,
        ops: &[Op],
        results: &mut [Option<Result<Effect, OpError>>],
    ) {
        let Some(idxs) = pending.remove(netns) else { return };
        let cmds: Vec<(Table, Command)> = idxs
            .iter()
            .filter_map(|&i| match &ops[i] {
                Op::Iptables { table, cmd, .. } => Some((*table, cmd.clone())),
                _ => None,
            })
            .collect();
        let rs = self.run_iptables(netns, cmds);
        for (i, r) in idxs.into_iter().zip(rs) {
            results[i] = Some(r.map(|()| Effect::Done));
        }
    }
}

impl Backend for LinuxBackend {
    fn name(&self) -> &'static str {
        "linux"
    }

    fn apply(&mut self, op: &Op) -> Result<Effect, OpError> {
        self.apply_one(op)
    }

    fn apply_all(&mut self, ops: &[Op]) -> Vec<Result<Effect, OpError>> {
        let mut results: Vec<Option<Result<Effect, OpError>>> = vec![None; ops.len()];
        let mut pending: BTreeMap<NetnsName, Vec<usize>> = BTreeMap::new();
        let mut i = 0;
        while i < ops.len() {
            let op = &ops[i];
            if matches!(op, Op::NetnsAdd { .. }) && self.prepared.is_empty() {
                self.prepare_namespaces(&ops[i..]);
            }
            // A run of batchable ops on one existing namespace (iptables ops in between
            // are deferred as usual and do not end the run).
            if let Some(netns) = op.netns().filter(|n| self.namespaces.contains_key(*n))
                && crate::jobs::batchable(op)
            {
                let mut run = Vec::new();
                let mut j = i;
                while j < ops.len() {
                    match &ops[j] {
                        o if crate::jobs::batchable(o) && o.netns() == Some(netns) => run.push(j),
                        Op::Iptables { netns: n, .. } if self.namespaces.contains_key(n) => {
                            pending.entry(n.clone()).or_default().push(j);
                        }
                        _ => break,
                    }
                    j += 1;
                }
                let netns = netns.clone();
                self.run_batch(&netns, ops, &run, &mut results);
                i = j;
                continue;
            }
            match op {
                Op::Iptables { netns, .. } => {
                    if self.namespaces.contains_key(netns) {
                        pending.entry(netns.clone()).or_default().push(i);
                    } else {
                        results[i] = Some(Err(missing_netns(netns)));
                    }
                }
                Op::NetnsDel { name } => {
                    self.flush_pending(name, &mut pending, ops, &mut results);
                    results[i] = Some(self.apply_one(op));
                }
                _ => results[i] = Some(self.apply_one(op)),
            }
            i += 1;
        }
        let names: Vec<NetnsName> = pending.keys().cloned().collect();
        for name in names {
            self.flush_pending(&name, &mut pending, ops, &mut results);
        }
        self.prepared.clear();
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(gone(WorkerError::Gone)))).collect()
    }

    fn observe(&mut self) -> Result<Snapshot, BackendError> {
        self.settle_all();
        let all: Vec<(NetnsName, Arc<OwnedFd>)> =
            self.namespaces.iter().map(|(n, ns)| (n.clone(), ns.worker.fd())).collect();
        let mut jobs = Vec::new();
        for (name, ns) in &self.namespaces {
            let others: Vec<(NetnsName, Arc<OwnedFd>)> =
                all.iter().filter(|(n, _)| n != name).cloned().collect();
            let used = ns.iptables_used;
            let job = ns
                .worker
                .submit(move |ctx| crate::observe::read_netns(&mut ctx.nl, used, &others))
                .map_err(worker_error)?;
            jobs.push((name.clone(), job));
        }
        let mut raw = BTreeMap::new();
        for (name, job) in jobs {
            let r = job.wait().map_err(worker_error)?.map_err(|e| BackendError::Io {
                context: format!("observing {name}"),
                source: io::Error::other(e),
            })?;
            if let (Some(text), Some(ns)) = (&r.iptables, self.namespaces.get_mut(&name)) {
                // A text that does not parse is reported by `assemble` below.
                ns.counters = crate::iptables::parse_counters(text).ok();
            }
            raw.insert(name, r);
        }
        let ipam = crate::ipam::observe(self.sandbox.dir()).map_err(|e| BackendError::Io {
            context: "reading the IPAM store".into(),
            source: e,
        })?;
        Ok(Snapshot { namespaces: crate::observe::assemble(&raw)?, ipam })
    }

    fn probe(&mut self, probe: &Probe) -> Result<Trace, BackendError> {
        self.settle_all();
        let mut cx = ProbeCx {
            namespaces: &mut self.namespaces,
            timeout: self.options.probe_timeout,
            sandbox_id: self.sandbox.id(),
            numbering: &mut self.numbering,
        };
        crate::probe::run(&mut cx, probe)
    }
}
