//! The sandbox: a unique id, a directory for on-disk state, names bound under /run/netns on
//! request, and `gc` for what a killed run left behind.
//!
//! - The id is `ntw-<pid>-<n>` (`SANDBOX_PREFIX`, the owner's pid, a per-process counter).
//! - The directory is `<run dir>/<id>` (`/run/nettwin` unless `NETTWIN_RUN_DIR` says
//!   otherwise) and holds the proof that nettwin made it (the `owner` file: a marker line,
//!   the sandbox id, `pid starttime`), the list of the names it bound (`bound`), the IPAM
//!   store and its locks.
//! - A bound name is `/run/netns/<id>-<netns>`, a bind mount of the namespace's nsfs file,
//!   recorded in `bound` before it is created.
//!
//! A run that ends normally removes all of it. A run killed with SIGKILL leaves only the
//! directory and the bound names (its namespaces held by descriptors die with it); `gc`
//! removes those of sandboxes whose owner process is gone, and only what carries the
//! proof: a directory whose `owner` file is nettwin's and names the directory, and the
//! names that such a directory lists. It never follows a link, and it reports whatever
//! else it finds with the prefix and leaves it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::mount::{MntFlags, MsFlags};

/// Every sandbox id, and so every bound namespace name, starts with this.
pub const SANDBOX_PREFIX: &str = "ntw-";

/// Where `ip netns` keeps named namespaces (iproute2's `NETNS_RUN_DIR`).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// The default parent of sandbox directories.
pub const DEFAULT_RUN_DIR: &str = "/run/nettwin";

/// The file in a sandbox directory proving nettwin made it and naming its owner process.
const OWNER_FILE: &str = "owner";

/// The first line of the owner file.
const OWNER_MARKER: &str = "nettwin sandbox v1";

/// The file in a sandbox directory listing the names it bound under /run/netns.
const BOUND_FILE: &str = "bound";

static NEXT_SANDBOX: AtomicU32 = AtomicU32::new(0);

/// The parent directory of sandbox directories: `$NETTWIN_RUN_DIR` or `/run/nettwin`.
pub fn run_dir() -> PathBuf {
    std::env::var_os("NETTWIN_RUN_DIR").map_or_else(|| PathBuf::from(DEFAULT_RUN_DIR), Into::into)
}

/// One sandbox's identity and directory. Dropping it removes the directory.
#[derive(Debug)]
pub struct Sandbox {
    id: String,
    dir: PathBuf,
}

impl Sandbox {
    /// Creates a sandbox with a fresh id and its directory (with the owner file).
    pub fn create() -> io::Result<Sandbox> {
        let pid = std::process::id();
        let parent = run_dir();
        fs::create_dir_all(&parent)?;
        // A directory left by a killed process whose pid was reused may hold the next id:
        // skip ids that exist rather than adopt someone else's state.
        let (id, dir) = loop {
            let n = NEXT_SANDBOX.fetch_add(1, Ordering::Relaxed);
            let id = format!("{SANDBOX_PREFIX}{pid}-{n}");
            let dir = parent.join(&id);
            match fs::create_dir(&dir) {
                Ok(()) => break (id, dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let start = process_start_time(pid).unwrap_or(0);
        fs::write(dir.join(OWNER_FILE), format!("{OWNER_MARKER}\n{id}\n{pid} {start}\n"))?;
        Ok(Sandbox { id, dir })
    }

    /// The unique id (`ntw-<pid>-<n>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path a namespace of this sandbox is bound to when names are requested.
    pub fn bound_path(&self, netns: &str) -> PathBuf {
        Path::new(NETNS_RUN_DIR).join(format!("{}-{netns}", self.id))
    }

    /// Binds the namespace at `source` (an nsfs path) to its name under /run/netns.
    pub fn bind(&self, netns: &str, source: &str) -> io::Result<PathBuf> {
        let target = self.bound_path(netns);
        fs::create_dir_all(NETNS_RUN_DIR)?;
        // Recorded first: a run killed right after the mount still names it for `gc`.
        let mut list =
            fs::OpenOptions::new().append(true).create(true).open(self.dir.join(BOUND_FILE))?;
        io::Write::write_all(&mut list, format!("{}\n", target.display()).as_bytes())?;
        fs::OpenOptions::new().write(true).create_new(true).open(&target)?;
        let mounted =
            nix::mount::mount(Some(source), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>);
        if let Err(e) = mounted {
            let _ = fs::remove_file(&target);
            return Err(e.into());
        }
        Ok(target)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Unmounts and removes a bound namespace name (best effort, idempotent).
pub fn unbind(path: &Path) -> io::Result<()> {
    match nix::mount::umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The start time of a process (field 22 of /proc/PID/stat), to tell a live owner from a
/// new process that reused its pid.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that owned a sandbox still runs.
fn owner_alive(pid: u32, start: Option<u64>) -> bool {
    match (process_start_time(pid), start) {
        (None, _) => false,
        (Some(_), None | Some(0)) => true,
        (Some(now), Some(then)) => now == then,
    }
}

/// What a sandbox directory's owner file proves: the owner's pid and start time, if the
/// file is nettwin's and names the directory it is in.
fn proven_owner(dir: &Path, id: &str) -> Option<(u32, Option<u64>)> {
    let text = fs::read_to_string(dir.join(OWNER_FILE)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != OWNER_MARKER || lines.next()? != id {
        return None;
    }
    let mut owner = lines.next()?.split_whitespace();
    let pid = owner.next()?.parse().ok()?;
    Some((pid, owner.next().and_then(|s| s.parse().ok())))
}

/// What `gc` removed, what it could not, and what it left because nothing proves nettwin
/// made it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Bound namespace names removed from /run/netns.
    pub names: Vec<PathBuf>,
    /// Sandbox directories removed.
    pub dirs: Vec<PathBuf>,
    /// What could not be removed, and why.
    pub failures: Vec<(PathBuf, String)>,
    /// What has the sandbox prefix but was left, and why.
    pub left: Vec<(PathBuf, String)>,
}

impl std::fmt::Display for GcReport {
    /// One line per removed name or directory, per failure and per entry left, then a
    /// summary line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.names {
            writeln!(f, "removed namespace name {}", p.display())?;
        }
        for p in &self.dirs {
            writeln!(f, "removed sandbox directory {}", p.display())?;
        }
        for (p, why) in &self.failures {
            writeln!(f, "could not remove {}: {why}", p.display())?;
        }
        for (p, why) in &self.left {
            writeln!(f, "left {}: {why}", p.display())?;
        }
        write!(
            f,
            "gc: {} namespace name(s), {} sandbox director{} removed, {} failure(s), {} left",
            self.names.len(),
            self.dirs.len(),
            if self.dirs.len() == 1 { "y" } else { "ies" },
            self.failures.len(),
            self.left.len()
        )
    }
}

/// Removes what killed runs left: the sandbox directories that prove nettwin made them and
/// whose owner process is gone, and the names under /run/netns those directories list.
/// Live sandboxes (of this or any other process) are left alone; so is everything else
/// with the prefix, which the report lists.
pub fn gc() -> GcReport {
    gc_in(&run_dir(), Path::new(NETNS_RUN_DIR))
}

/// [`gc`] with the run directory and the netns directory given (tests use their own).
pub fn gc_in(run: &Path, netns_dir: &Path) -> GcReport {
    let mut report = GcReport::default();
    // Names a sandbox recorded, live or dead: a live sandbox's are not leftovers.
    let mut recorded: Vec<PathBuf> = Vec::new();
    for e in fs::read_dir(run).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(SANDBOX_PREFIX) {
            continue;
        }
        let path = e.path();
        let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_dir());
        let owner = if is_dir { proven_owner(&path, &name) } else { None };
        let Some((pid, start)) = owner else {
            let why = if is_dir { "no nettwin owner file names it" } else { "not a directory" };
            report.left.push((path, why.to_owned()));
            continue;
        };
        let bound: Vec<PathBuf> = fs::read_to_string(path.join(BOUND_FILE))
            .unwrap_or_default()
            .lines()
            .map(PathBuf::from)
            .filter(|p| p.parent() == Some(netns_dir) && bound_by(p, &name))
            .collect();
        if owner_alive(pid, start) {
            recorded.extend(bound);
            continue;
        }
        for p in bound {
            if fs::symlink_metadata(&p).is_err() {
                continue;
            }
            recorded.push(p.clone());
            match unbind(&p) {
                Ok(()) => report.names.push(p),
                Err(err) => report.failures.push((p, err.to_string())),
            }
        }
        match fs::remove_dir_all(&path) {
            Ok(()) => report.dirs.push(path),
            Err(err) => report.failures.push((path, err.to_string())),
        }
    }
    for e in fs::read_dir(netns_dir).into_iter().flatten().flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(SANDBOX_PREFIX) && !recorded.contains(&path) {
            report.left.push((path, "no nettwin sandbox directory records it".to_owned()));
        }
    }
    report
}

/// Whether `path` is a name the sandbox `id` would bind (`<id>-<netns>`).
fn bound_by(path: &Path, id: &str) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(id))
        .is_some_and(|rest| rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_lists_what_it_removed() {
        let r = GcReport {
            names: vec![PathBuf::from("/run/netns/ntw-1-0-host")],
            dirs: vec![PathBuf::from("/run/nettwin/ntw-1-0")],
            failures: vec![],
            left: vec![(PathBuf::from("/run/netns/ntw-2-mine"), "no record".into())],
        };
        assert_eq!(
            r.to_string(),
            "removed namespace name /run/netns/ntw-1-0-host\nremoved sandbox directory /run/nettwin/ntw-1-0\nleft /run/netns/ntw-2-mine: no record\ngc: 1 namespace name(s), 1 sandbox directory removed, 0 failure(s), 1 left"
        );
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = std::process::id();
        let start = process_start_time(me);
        assert!(start.is_some());
        assert!(owner_alive(me, start));
        assert!(!owner_alive(me, start.map(|s| s + 1)));
    }

    /// A sandbox directory as a run that was killed left it, with one bound name (a plain
    /// file standing in for the bind mount).
    fn left_by_a_killed_run(run: &Path, netns: &Path, id: &str, pid: u32) -> PathBuf {
        let dir = run.join(id);
        fs::create_dir_all(&dir).expect("dir");
        fs::write(dir.join(OWNER_FILE), format!("{OWNER_MARKER}\n{id}\n{pid} 1\n")).expect("owner");
        let name = netns.join(format!("{id}-host"));
        fs::write(&name, "").expect("name");
        fs::write(dir.join(BOUND_FILE), format!("{}\n", name.display())).expect("bound");
        name
    }

    #[test]
    fn gc_removes_only_what_a_dead_nettwin_sandbox_proves_it_made() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (run, netns) = (tmp.path().join("run"), tmp.path().join("netns"));
        fs::create_dir_all(&run).expect("run");
        fs::create_dir_all(&netns).expect("netns");
        let dead = 999_999_999;
        let name = left_by_a_killed_run(&run, &netns, "ntw-999999999-0", dead);
        // A user's own directory, a plain file, a link to a proven directory, a name
        // nobody recorded: all left, and reported.
        fs::create_dir_all(run.join("ntw-999999999-mine")).expect("user dir");
        fs::write(run.join("ntw-999999999-1"), "a file").expect("file");
        let elsewhere = tmp.path().join("elsewhere");
        left_by_a_killed_run(&elsewhere, &netns, "ntw-999999999-2", dead);
        std::os::unix::fs::symlink(elsewhere.join("ntw-999999999-2"), run.join("ntw-999999999-2"))
            .expect("link");
        fs::write(netns.join("ntw-999999999-9-x"), "").expect("stray name");
        fs::write(netns.join("mine"), "").expect("unrelated name");

        let r = gc_in(&run, &netns);
        assert_eq!(r.dirs, vec![run.join("ntw-999999999-0")]);
        assert_eq!(r.names, vec![name]);
        assert!(r.failures.is_empty(), "{r}");
        let left: Vec<&Path> = r.left.iter().map(|(p, _)| p.as_path()).collect();
        for p in [
            run.join("ntw-999999999-mine"),
            run.join("ntw-999999999-1"),
            run.join("ntw-999999999-2"),
            netns.join("ntw-999999999-9-x"),
        ] {
            assert!(left.contains(&p.as_path()), "{} should be left: {r}", p.display());
            assert!(fs::symlink_metadata(&p).is_ok(), "{} was removed", p.display());
        }
        // The link's target and the name it lists are untouched; nothing unrelated is named.
        assert!(elsewhere.join("ntw-999999999-2").join(OWNER_FILE).is_file());
        assert!(netns.join("ntw-999999999-2-host").is_file());
        assert!(netns.join("mine").is_file() && !left.contains(&netns.join("mine").as_path()));
        // Running it again removes nothing more and fails on nothing.
        let again = gc_in(&run, &netns);
        assert!(again.dirs.is_empty() && again.names.is_empty() && again.failures.is_empty());
    }

    #[test]
    fn gc_leaves_a_live_sandbox_and_its_names_alone() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (run, netns) = (tmp.path().join("run"), tmp.path().join("netns"));
        fs::create_dir_all(&netns).expect("netns");
        let me = std::process::id();
        let id = format!("ntw-{me}-live");
        let name = left_by_a_killed_run(&run, &netns, &id, me);
        let start = process_start_time(me).expect("start time");
        fs::write(run.join(&id).join(OWNER_FILE), format!("{OWNER_MARKER}\n{id}\n{me} {start}\n"))
            .expect("owner");
        let r = gc_in(&run, &netns);
        assert!(r.dirs.is_empty() && r.names.is_empty() && r.left.is_empty(), "{r}");
        assert!(name.is_file() && run.join(&id).is_dir());
    }
}
