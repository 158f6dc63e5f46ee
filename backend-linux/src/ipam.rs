//! IPAM on disk: host-local's store, kept in the sandbox directory and changed under its
//! lock, with the model's pure allocator (`nettwin_core::ipam::HostLocal`) deciding.
//!
//! Layout, as host-local lays out `<dataDir>`: `<sandbox>/ipam/<pool>/` holds one file per
//! lease (named by the address, `<id>\r\n<ifname>`), `last_reserved_ip.0` and `lock`
//! (locked with `flock` for the whole read-decide-write). A release names no subnet, so the
//! pool's range is remembered apart, in `<sandbox>/ipam-ranges/<pool>`, which keeps the
//! store directory byte-identical to host-local's and out of reach of any pool name.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nettwin_core::addr::{Cidr, IfAddr};
use nettwin_core::error::{ErrorKind, OpError};
use nettwin_core::ipam::{
    HostLocal, IpRange, IpamError, LEASE_FILE_MODE, LOCK_FILE, LOCK_FILE_MODE, RangeConfig,
    STORE_DIR_MODE, check_pool_name,
};
use nettwin_core::op::Effect;
use nettwin_core::snapshot::store_text;
use nix::fcntl::{Flock, FlockArg};

/// The store directory of a pool, for a name the model accepts (`check_pool_name`).
fn pool_dir(root: &Path, pool: &str) -> Result<PathBuf, OpError> {
    check_pool_name(pool)
        .map_err(|why| OpError::new(ErrorKind::InvalidArgument, "use pool", pool).detail(why))?;
    Ok(root.join("ipam").join(pool))
}

fn io_error(action: &'static str, pool: &str, e: impl std::fmt::Display) -> OpError {
    OpError::new(ErrorKind::Unexpected, action, pool).detail(e.to_string())
}

/// The store of one pool, locked while it lives.
struct Store {
    dir: PathBuf,
    _lock: Flock<fs::File>,
}

impl Store {
    fn open(dir: PathBuf) -> io::Result<Store> {
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(STORE_DIR_MODE))?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(LOCK_FILE_MODE)
            .open(dir.join(LOCK_FILE))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))?;
        Ok(Store { dir, _lock: lock })
    }

    fn read(&self) -> io::Result<BTreeMap<String, Vec<u8>>> {
        let mut files = BTreeMap::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            files.insert(e.file_name().to_string_lossy().into_owned(), fs::read(e.path())?);
        }
        Ok(files)
    }

    /// Makes the directory hold exactly `files` (the lock file is left alone).
    fn write(
        &self,
        old: &BTreeMap<String, Vec<u8>>,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> io::Result<()> {
        for name in old.keys().filter(|n| !files.contains_key(*n) && n.as_str() != LOCK_FILE) {
            fs::remove_file(self.dir.join(name))?;
        }
        for (name, bytes) in files.iter().filter(|(n, _)| n.as_str() != LOCK_FILE) {
            if old.get(name) != Some(bytes) {
                let path = self.dir.join(name);
                fs::write(&path, bytes)?;
                fs::set_permissions(&path, fs::Permissions::from_mode(LEASE_FILE_MODE))?;
            }
        }
        Ok(())
    }
}

/// Where a pool's range is remembered: outside `ipam/`, so that no pool name can collide
/// with another pool's range file.
fn range_file(root: &Path, pool: &str) -> PathBuf {
    root.join("ipam-ranges").join(pool)
}

fn range_of(subnet: Cidr, gateway: Option<Ipv4Addr>) -> Result<IpRange, OpError> {
    let cfg = RangeConfig {
        subnet: IfAddr { ip: subnet.ip(), prefix: subnet.prefix() },
        range_start: None,
        range_end: None,
        gateway,
    };
    IpRange::new(&cfg).map_err(|e| {
        OpError::new(ErrorKind::InvalidArgument, "use range", subnet).detail(e.plugin_message())
    })
}

/// host-local's ADD: leases the next address of `subnet` to (id, ifname).
pub fn allocate(
    root: &Path,
    pool: &str,
    subnet: Cidr,
    gateway: Option<Ipv4Addr>,
    id: &str,
    ifname: &str,
) -> Result<Effect, OpError> {
    let dir = pool_dir(root, pool)?;
    let range = range_of(subnet, gateway)?;
    let store = Store::open(dir).map_err(|e| io_error("lock pool", pool, e))?;
    let old = store.read().map_err(|e| io_error("read pool", pool, e))?;
    let mut hl = HostLocal::from_store(range, &old).map_err(|e| io_error("read pool", pool, e))?;
    let result = hl.allocate(id, ifname);
    store.write(&old, &hl.to_store()).map_err(|e| io_error("write pool", pool, e))?;
    let gw = gateway.map(|g| format!(" {g}")).unwrap_or_default();
    let range = range_file(root, pool);
    if let Some(dir) = range.parent() {
        fs::create_dir_all(dir).map_err(|e| io_error("write pool", pool, e))?;
    }
    fs::write(range, format!("{subnet}{gw}\n")).map_err(|e| io_error("write pool", pool, e))?;
    match result {
        Ok(lease) => Ok(Effect::Allocated(lease.addr)),
        Err(e) => {
            let kind = match e {
                IpamError::Exhausted { .. } => ErrorKind::PoolExhausted,
                IpamError::Duplicate { .. } => ErrorKind::AlreadyExists,
            };
            Err(OpError::new(kind, "allocate from", pool).detail(e.plugin_message()))
        }
    }
}

/// host-local's DEL: releases what (id, ifname) holds; releasing nothing succeeds.
pub fn release(root: &Path, pool: &str, id: &str, ifname: &str) -> Result<Effect, OpError> {
    let dir = pool_dir(root, pool)?;
    let remembered = fs::read_to_string(range_file(root, pool)).ok();
    let Some(remembered) = remembered else {
        // Nothing was ever allocated from this pool: nothing to release.
        return Ok(Effect::Done);
    };
    let mut words = remembered.split_whitespace();
    let subnet: Cidr = words
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io_error("read pool", pool, "bad range file"))?;
    let gateway = words.next().and_then(|g| g.parse().ok());
    let range = range_of(subnet, gateway)?;
    let store = Store::open(dir).map_err(|e| io_error("lock pool", pool, e))?;
    let old = store.read().map_err(|e| io_error("read pool", pool, e))?;
    let mut hl = HostLocal::from_store(range, &old).map_err(|e| io_error("read pool", pool, e))?;
    hl.release(id, ifname);
    store.write(&old, &hl.to_store()).map_err(|e| io_error("write pool", pool, e))?;
    Ok(Effect::Done)
}

/// Every pool's store as the snapshot shows it: pool → file name → content.
pub fn observe(root: &Path) -> io::Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    let dir = root.join("ipam");
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        if !e.file_type()?.is_dir() {
            continue;
        }
        let store = Store::open(e.path())?;
        let files = store.read()?;
        out.insert(e.file_name().to_string_lossy().into_owned(), store_text(&files));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet() -> Cidr {
        "172.26.64.0/20".parse().unwrap_or(Cidr::DEFAULT)
    }

    #[test]
    fn allocations_follow_host_local_and_land_on_disk() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = root.path();
        let a = allocate(r, "nomad", subnet(), None, "alloc1", "eth0");
        assert_eq!(
            a,
            Ok(Effect::Allocated("172.26.64.2/20".parse().unwrap_or_else(|e| panic!("{e}"))))
        );
        let b = allocate(r, "nomad", subnet(), None, "alloc2", "eth0");
        assert_eq!(
            b,
            Ok(Effect::Allocated("172.26.64.3/20".parse().unwrap_or_else(|e| panic!("{e}"))))
        );
        let dup = allocate(r, "nomad", subnet(), None, "alloc1", "eth0");
        assert_eq!(dup.map_err(|e| e.kind), Err(ErrorKind::AlreadyExists));
        let lease = fs::read(r.join("ipam/nomad/172.26.64.2")).unwrap_or_default();
        assert_eq!(lease, b"alloc1\r\neth0");
        assert_eq!(
            fs::read_to_string(r.join("ipam/nomad/last_reserved_ip.0")).ok().as_deref(),
            Some("172.26.64.3")
        );
        assert_eq!(release(r, "nomad", "alloc1", "eth0"), Ok(Effect::Done));
        assert!(!r.join("ipam/nomad/172.26.64.2").exists());
        // Round robin: the released .2 is not reused before the range wraps.
        let c = allocate(r, "nomad", subnet(), None, "alloc3", "eth0");
        assert_eq!(
            c,
            Ok(Effect::Allocated("172.26.64.4/20".parse().unwrap_or_else(|e| panic!("{e}"))))
        );
        assert_eq!(release(r, "other", "x", "eth0"), Ok(Effect::Done));
        let seen = observe(r).unwrap_or_default();
        let files: Vec<&str> = seen["nomad"].keys().map(String::as_str).collect();
        assert_eq!(files, ["172.26.64.3", "172.26.64.4", "last_reserved_ip.0", "lock"]);
    }

    #[test]
    fn a_full_pool_is_exhausted() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let net: Cidr = "10.0.0.0/30".parse().unwrap_or(Cidr::DEFAULT);
        assert!(allocate(root.path(), "p", net, None, "a", "eth0").is_ok());
        let e = allocate(root.path(), "p", net, None, "b", "eth0").map_err(|e| e.kind);
        assert_eq!(e, Err(ErrorKind::PoolExhausted));
        let bad = allocate(root.path(), "../x", net, None, "b", "eth0").map_err(|e| e.kind);
        assert_eq!(bad, Err(ErrorKind::InvalidArgument));
    }
}
