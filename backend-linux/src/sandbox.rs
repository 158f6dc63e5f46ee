//! The sandbox: a unique id, a directory for on-disk state, names bound under /run/netns on
//! request, and `gc` for what a killed run left behind.
//!
//! - The id is `ntw-<pid>-<n>` (`SANDBOX_PREFIX`, the owner's pid, a per-process counter).
//! - The directory is `<run dir>/<id>` (`/run/nettwin` unless `NETTWIN_RUN_DIR` says
//!   otherwise) and holds an `owner` file (`pid starttime`), the IPAM store and its locks.
//! - A bound name is `/run/netns/<id>-<netns>`, a bind mount of the namespace's nsfs file.
//!
//! A run that ends normally removes all of it. A run killed with SIGKILL leaves only the
//! directory and the bound names (its namespaces held by descriptors die with it); `gc`
//! removes those whose owner process is gone.

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

/// The file in a sandbox directory naming its owner process.
const OWNER_FILE: &str = "owner";

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
        fs::write(dir.join(OWNER_FILE), format!("{pid} {start}\n"))?;
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

/// The owner pid encoded in a sandbox id or a bound name (`ntw-<pid>-...`).
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(SANDBOX_PREFIX)?.split('-').next()?.parse().ok()
}

/// What `gc` removed, and what it could not.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Bound namespace names removed from /run/netns.
    pub names: Vec<PathBuf>,
    /// Sandbox directories removed.
    pub dirs: Vec<PathBuf>,
    /// What could not be removed, and why.
    pub failures: Vec<(PathBuf, String)>,
}

impl std::fmt::Display for GcReport {
    /// One line per removed name or directory and per failure, then a summary line.
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
        write!(
            f,
            "gc: {} namespace name(s), {} sandbox director{} removed, {} failure(s)",
            self.names.len(),
            self.dirs.len(),
            if self.dirs.len() == 1 { "y" } else { "ies" },
            self.failures.len()
        )
    }
}

/// Removes what killed runs left: names under /run/netns with the sandbox prefix whose owner
/// process is gone, and sandbox directories whose owner is gone. Live sandboxes (of this or
/// any other process) are left alone. Never touches anything without the prefix.
pub fn gc() -> GcReport {
    let mut report = GcReport::default();
    let mut dead_ids: Vec<String> = Vec::new();
    let run = run_dir();
    if let Ok(entries) = fs::read_dir(&run) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = owner_pid(&name) else { continue };
            let owner = fs::read_to_string(e.path().join(OWNER_FILE)).ok();
            let start = owner.as_deref().and_then(|o| o.split_whitespace().nth(1)?.parse().ok());
            if !owner_alive(pid, start) {
                dead_ids.push(name);
                match fs::remove_dir_all(e.path()) {
                    Ok(()) => report.dirs.push(e.path()),
                    Err(err) => report.failures.push((e.path(), err.to_string())),
                }
            }
        }
    }
    if let Ok(entries) = fs::read_dir(NETNS_RUN_DIR) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = owner_pid(&name) else { continue };
            let from_dead_sandbox = dead_ids.iter().any(|id| name.starts_with(&format!("{id}-")));
            if from_dead_sandbox || !owner_alive(pid, None) {
                match unbind(&e.path()) {
                    Ok(()) => report.names.push(e.path()),
                    Err(err) => report.failures.push((e.path(), err.to_string())),
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_is_read_from_ids_and_bound_names() {
        assert_eq!(owner_pid("ntw-1234-0"), Some(1234));
        assert_eq!(owner_pid("ntw-1234-7-host"), Some(1234));
        assert_eq!(owner_pid("cni-1234"), None);
        assert_eq!(owner_pid("ntw-x-1"), None);
    }

    #[test]
    fn a_report_lists_what_it_removed() {
        let r = GcReport {
            names: vec![PathBuf::from("/run/netns/ntw-1-0-host")],
            dirs: vec![PathBuf::from("/run/nettwin/ntw-1-0")],
            failures: vec![],
        };
        assert_eq!(
            r.to_string(),
            "removed namespace name /run/netns/ntw-1-0-host\nremoved sandbox directory /run/nettwin/ntw-1-0\ngc: 1 namespace name(s), 1 sandbox directory removed, 0 failure(s)"
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
}
