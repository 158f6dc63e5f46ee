//! IPAM with the semantics of the CNI `host-local` plugin (containernetworking/plugins
//! v1.1.1), as a pure allocator over one range, plus its on-disk store as data.
//!
//! What host-local does, and this model reproduces (each rule verified against the real
//! plugin, see docs/cni-reference.md, "host-local"):
//!
//! - A range is a subnet with an inclusive `rangeStart`–`rangeEnd` (default: network + 1 to
//!   broadcast − 1) and a gateway (default: network + 1). The gateway is never handed out.
//! - Allocation is round robin: the search starts just after the last reserved address
//!   (`last_reserved_ip.0`), wraps from `rangeEnd` to `rangeStart`, and takes the first free
//!   address. A released address is therefore reused only after the search has wrapped.
//!   With no (usable) last reserved address the search starts at `rangeStart`, so the first
//!   address of the default range is `.2`.
//! - One file per leased address, named by the address, holding `<id>\r\n<ifname>` (no
//!   trailing newline); `last_reserved_ip.0` holds the last reserved address (no newline);
//!   `lock` is empty. Releasing deletes the lease files of (id, ifname); releasing what is
//!   not there succeeds.
//! - The same (id, ifname) cannot hold two addresses of the range: the second request fails
//!   with the duplicate error. The same id with another ifname gets a second address.
//!
//! Architecture invariant: no I/O. The store is exchanged as a map from file name to the
//! exact file bytes; the linux backend writes and reads those files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::addr::{Cidr, IfAddr};
use crate::hash::FxHashMap;

/// The name of the file that remembers the last reserved address of range set 0.
pub const LAST_RESERVED_FILE: &str = "last_reserved_ip.0";

/// The name of the (empty) file host-local locks with `flock`.
pub const LOCK_FILE: &str = "lock";

/// Separator between container id and interface name in a lease file (`disk.LineBreak`).
pub const LINE_BREAK: &str = "\r\n";

/// File mode of lease files and `last_reserved_ip.0` as host-local creates them.
pub const LEASE_FILE_MODE: u32 = 0o644;

/// File mode of the `lock` file as host-local creates it (go-filemutex).
pub const LOCK_FILE_MODE: u32 = 0o750;

/// Mode of the store directory `<dataDir>/<network>` as host-local creates it.
pub const STORE_DIR_MODE: u32 = 0o755;

/// Whether `name` can name a pool: a CNI network name (`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`, the
/// spec's rule), which is also always a safe directory name for host-local's store (never
/// `.`, `..` or a path). Both backends refuse any other name the same way.
pub fn check_pool_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a network name: letters, digits, `_`, `.` and `-`, starting with a letter or digit"
        ))
    }
}

/// One range as written in the IPAM configuration (`ranges: [[{subnet, rangeStart,
/// rangeEnd, gateway}]]`). The subnet keeps its host bits so that the plugin's refusal of
/// them can be reproduced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RangeConfig {
    /// `subnet`, as written.
    pub subnet: IfAddr,
    /// `rangeStart`, first address handed out (inclusive).
    pub range_start: Option<Ipv4Addr>,
    /// `rangeEnd`, last address handed out (inclusive).
    pub range_end: Option<Ipv4Addr>,
    /// `gateway`, never handed out.
    pub gateway: Option<Ipv4Addr>,
}

impl RangeConfig {
    /// A range of a whole subnet with the defaults (what Nomad configures).
    pub fn subnet(subnet: Cidr) -> RangeConfig {
        RangeConfig {
            subnet: IfAddr { ip: subnet.ip(), prefix: subnet.prefix() },
            range_start: None,
            range_end: None,
            gateway: None,
        }
    }
}

/// Why host-local refuses a range configuration. `Display` is the plugin's text; the
/// plugin prefixes it with `invalid range set 0: ` (see [`RangeError::plugin_message`]).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RangeError {
    /// A /31 or /32 has no address to hand out.
    #[error("Network {subnet} too small to allocate from")]
    TooSmall {
        /// The subnet as written.
        subnet: IfAddr,
    },
    /// The subnet was written with host bits set.
    #[error(
        "Network has host bits set. For a subnet mask of length {prefix} the network address is {network}"
    )]
    HostBitsSet {
        /// The prefix length.
        prefix: u8,
        /// The network address it should have been.
        network: Ipv4Addr,
    },
    /// `rangeStart` lies outside the subnet.
    #[error("RangeStart {start} not in network {subnet}")]
    StartOutside {
        /// The refused start.
        start: Ipv4Addr,
        /// The subnet.
        subnet: Cidr,
    },
    /// `rangeEnd` lies outside the subnet (or before `rangeStart`).
    #[error("RangeEnd {end} not in network {subnet}")]
    EndOutside {
        /// The refused end.
        end: Ipv4Addr,
        /// The subnet.
        subnet: Cidr,
    },
}

impl RangeError {
    /// The message host-local prints for this error (range set index 0).
    pub fn plugin_message(&self) -> String {
        format!("invalid range set 0: {self}")
    }
}

/// A checked range: `start <= end`, both inside `subnet`, which is a network address of
/// prefix length ≤ 30.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IpRange {
    subnet: Cidr,
    start: Ipv4Addr,
    end: Ipv4Addr,
    gateway: Ipv4Addr,
}

impl IpRange {
    /// Canonicalizes a configuration as host-local does (`Range.Canonicalize`), with its
    /// errors. One deviation, since the plugin does not check it: a `rangeEnd` before
    /// `rangeStart` is refused as [`RangeError::EndOutside`].
    pub fn new(cfg: &RangeConfig) -> Result<IpRange, RangeError> {
        let prefix = cfg.subnet.prefix;
        if prefix > 30 {
            return Err(RangeError::TooSmall { subnet: cfg.subnet });
        }
        let subnet = Cidr::containing(cfg.subnet.ip, prefix);
        if subnet.ip() != cfg.subnet.ip {
            return Err(RangeError::HostBitsSet { prefix, network: subnet.ip() });
        }
        let first = next_ip(subnet.ip());
        let gateway = cfg.gateway.unwrap_or(first);
        let start = cfg.range_start.unwrap_or(first);
        if !subnet.contains(start) {
            return Err(RangeError::StartOutside { start, subnet });
        }
        let end = cfg.range_end.unwrap_or_else(|| prev_ip(subnet.broadcast()));
        if !subnet.contains(end) || end < start {
            return Err(RangeError::EndOutside { end, subnet });
        }
        Ok(IpRange { subnet, start, end, gateway })
    }

    /// The subnet; leases carry its prefix length.
    pub fn subnet(&self) -> Cidr {
        self.subnet
    }

    /// First address handed out (inclusive).
    pub fn start(&self) -> Ipv4Addr {
        self.start
    }

    /// Last address handed out (inclusive).
    pub fn end(&self) -> Ipv4Addr {
        self.end
    }

    /// The gateway, skipped by the allocator and returned with every lease.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// Whether `ip` is in `start..=end` (host-local's `Range.Contains`).
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.subnet.contains(ip) && self.start <= ip && ip <= self.end
    }
}

/// Prints as host-local prints a range set of one range: `172.26.64.1-172.26.79.254`.
impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

fn next_ip(ip: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip).wrapping_add(1))
}

fn prev_ip(ip: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip).wrapping_sub(1))
}

/// Why an allocation failed. `Display` is the allocator's text; host-local prefixes it
/// with `failed to allocate for range 0: ` (see [`IpamError::plugin_message`]).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum IpamError {
    /// Every address of the range is leased (or is the gateway).
    #[error("no IP addresses available in range set: {range}")]
    Exhausted {
        /// The range, printed `start-end`.
        range: IpRange,
    },
    /// (id, ifname) already holds an address of this range.
    #[error("{ip} has been allocated to {id}, duplicate allocation is not allowed")]
    Duplicate {
        /// The address it holds.
        ip: Ipv4Addr,
        /// The container id.
        id: String,
    },
}

impl IpamError {
    /// The message host-local prints for this error (range set index 0), which the bridge
    /// plugin passes on unchanged.
    pub fn plugin_message(&self) -> String {
        format!("failed to allocate for range 0: {self}")
    }
}

/// A granted address: the address with the subnet's prefix length, and the gateway.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Lease {
    /// The address, `172.26.64.2/20`.
    pub addr: IfAddr,
    /// The range's gateway, `172.26.64.1`.
    pub gateway: Ipv4Addr,
}

/// Who holds a lease: the lease file's content, kept verbatim so the store round-trips
/// byte for byte. host-local writes `<id>\r\n<ifname>`; versions before 0.7 wrote `<id>`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Owner(String);

impl Owner {
    /// The content host-local writes for (id, ifname): the trimmed id, `\r\n`, the ifname.
    pub fn new(id: &str, ifname: &str) -> Owner {
        Owner(format!("{}{LINE_BREAK}{ifname}", id.trim()))
    }

    /// The file content as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The container id (the text before `\r\n`, or all of a legacy file, trimmed).
    pub fn id(&self) -> &str {
        let t = self.0.trim();
        t.split_once(LINE_BREAK).map_or(t, |(id, _)| id)
    }

    /// The interface name, if the file records one.
    pub fn ifname(&self) -> Option<&str> {
        self.0.trim().split_once(LINE_BREAK).map(|(_, ifname)| ifname)
    }

    /// What host-local compares when it looks for an owner: the trimmed content. A file
    /// matches (id, ifname) when this is `id\r\nifname` (ids trimmed), and matches the
    /// legacy form when this is the trimmed id alone.
    fn key(&self) -> &str {
        self.0.trim()
    }
}

/// The key host-local's match of (id, ifname) compares lease files with.
fn owner_key(id: &str, ifname: &str) -> String {
    format!("{}{LINE_BREAK}{ifname}", id.trim())
}

/// Why a store directory could not be read back.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum StoreError {
    /// A file that is neither an IPv4 address, `last_reserved_ip.0` nor `lock`.
    #[error("unexpected file {0:?} in the host-local store")]
    UnknownFile(String),
    /// A file whose content is not UTF-8 text.
    #[error("file {0:?} in the host-local store is not UTF-8 text")]
    NotText(String),
}

/// The state of one host-local network: its range, its leases and its store files.
///
/// Invariant: `owners` indexes `leases` by each lease's trimmed content, so that finding
/// the addresses of an owner (host-local reads every file for it) costs a lookup, not a
/// scan of the store.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HostLocal {
    range: IpRange,
    leases: BTreeMap<Ipv4Addr, Owner>,
    /// Looked up, never iterated (FxHash: no B-tree of 36-byte ids to walk per ADD).
    owners: FxHashMap<String, BTreeSet<Ipv4Addr>>,
    /// The content of `last_reserved_ip.0`, verbatim (host-local ignores it unless it
    /// parses as an address inside the range).
    last_reserved: Option<String>,
    /// Whether the store directory exists: host-local creates it, with `lock`, on every
    /// ADD and DEL, successful or not.
    created: bool,
}

impl HostLocal {
    /// A network whose store does not exist yet.
    pub fn new(range: IpRange) -> HostLocal {
        HostLocal {
            range,
            leases: BTreeMap::new(),
            owners: FxHashMap::default(),
            last_reserved: None,
            created: false,
        }
    }

    /// The range.
    pub fn range(&self) -> &IpRange {
        &self.range
    }

    /// Every lease, by address.
    pub fn leases(&self) -> impl Iterator<Item = (Ipv4Addr, &Owner)> {
        self.leases.iter().map(|(ip, o)| (*ip, o))
    }

    /// The address held by (id, ifname), if any (the lowest, should there be several).
    pub fn lease_of(&self, id: &str, ifname: &str) -> Option<Ipv4Addr> {
        self.owned(&owner_key(id, ifname)).next()
    }

    /// The addresses whose lease file has this trimmed content, ascending.
    fn owned(&self, key: &str) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.owners.get(key).into_iter().flatten().copied()
    }

    fn insert_lease(&mut self, ip: Ipv4Addr, owner: Owner) {
        self.owners.entry(owner.key().to_owned()).or_default().insert(ip);
        if let Some(old) = self.leases.insert(ip, owner) {
            self.unindex(ip, &old);
        }
    }

    fn remove_lease(&mut self, ip: Ipv4Addr) {
        if let Some(old) = self.leases.remove(&ip) {
            self.unindex(ip, &old);
        }
    }

    fn unindex(&mut self, ip: Ipv4Addr, owner: &Owner) {
        if let Some(set) = self.owners.get_mut(owner.key()) {
            set.remove(&ip);
            if set.is_empty() {
                self.owners.remove(owner.key());
            }
        }
    }

    /// The last reserved address, if the file holds one that parses (`net.ParseIP`: no
    /// surrounding whitespace).
    pub fn last_reserved(&self) -> Option<Ipv4Addr> {
        match self.last_reserved.as_deref()?.parse::<IpAddr>().ok()? {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        }
    }

    /// ADD: leases the next free address to (id, ifname), round robin after the last
    /// reserved address. On error nothing changes except that the store now exists.
    pub fn allocate(&mut self, id: &str, ifname: &str) -> Result<Lease, IpamError> {
        self.created = true;
        self.try_allocate(id, ifname)
    }

    /// ADD without host-local's side effect on error: on error nothing changes at all, not
    /// even the store's existence (what `State::apply`'s atomicity needs).
    pub fn try_allocate(&mut self, id: &str, ifname: &str) -> Result<Lease, IpamError> {
        // GetByID walks the directory in lexical file-name order.
        let key = owner_key(id, ifname);
        let mut held: Vec<(String, Ipv4Addr)> =
            self.owned(&key).chain(self.owned(id.trim())).map(|ip| (ip.to_string(), ip)).collect();
        held.sort();
        if let Some((_, ip)) = held.into_iter().find(|(_, ip)| self.range.contains(*ip)) {
            return Err(IpamError::Duplicate { ip, id: id.to_owned() });
        }
        let ip = self.candidates().find(|ip| !self.leases.contains_key(ip));
        let Some(ip) = ip else {
            return Err(IpamError::Exhausted { range: self.range });
        };
        self.created = true;
        // `Owner::new(id, ifname)` is this key.
        self.insert_lease(ip, Owner(key));
        self.last_reserved = Some(ip.to_string());
        Ok(Lease {
            addr: IfAddr { ip, prefix: self.range.subnet.prefix() },
            gateway: self.range.gateway,
        })
    }

    /// The addresses host-local tries, in order (`RangeIter`): from the last reserved
    /// address + 1 (wrapping) around to the last reserved address itself, or from
    /// `rangeStart` to `rangeEnd`; the gateway is skipped.
    fn candidates(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        let r = self.range;
        let (lo, hi) = (u32::from(r.start), u32::from(r.end));
        let first = match self.last_reserved().filter(|ip| r.contains(*ip)) {
            Some(last) if u32::from(last) == hi => lo,
            Some(last) => u32::from(last) + 1,
            None => lo,
        };
        let len = u64::from(hi - lo) + 1;
        (0..len)
            .map(move |k| {
                let off = (u64::from(first - lo) + k) % len;
                // off < len <= 2^32, and lo + off <= hi.
                Ipv4Addr::from(lo + u32::try_from(off).unwrap_or(0))
            })
            .filter(move |ip| *ip != r.gateway)
    }

    /// DEL: releases every address held by (id, ifname); if there is none, every address
    /// whose legacy file holds the id alone. Releasing nothing succeeds.
    pub fn release(&mut self, id: &str, ifname: &str) -> Vec<Ipv4Addr> {
        self.created = true;
        let mut gone: Vec<Ipv4Addr> = self.owned(&owner_key(id, ifname)).collect();
        if gone.is_empty() {
            gone = self.owned(id.trim()).collect();
        }
        for ip in &gone {
            self.remove_lease(*ip);
        }
        gone
    }

    /// The store directory as files: name → exact bytes. Empty before the first ADD/DEL.
    pub fn to_store(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        if !self.created {
            return files;
        }
        for (ip, owner) in &self.leases {
            files.insert(ip.to_string(), owner.as_str().as_bytes().to_vec());
        }
        if let Some(last) = &self.last_reserved {
            files.insert(LAST_RESERVED_FILE.to_owned(), last.as_bytes().to_vec());
        }
        files.insert(LOCK_FILE.to_owned(), Vec::new());
        files
    }

    /// Reads a store directory back (the inverse of [`HostLocal::to_store`]). An empty map
    /// is a store that does not exist yet. The content of `lock` is ignored.
    pub fn from_store(
        range: IpRange,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<HostLocal, StoreError> {
        let mut hl = HostLocal::new(range);
        hl.created = !files.is_empty();
        for (name, bytes) in files {
            let text =
                || String::from_utf8(bytes.clone()).map_err(|_| StoreError::NotText(name.clone()));
            if name == LOCK_FILE {
                continue;
            }
            if name == LAST_RESERVED_FILE {
                hl.last_reserved = Some(text()?);
                continue;
            }
            // Lease files are named by the address as Go prints it.
            match name.parse::<Ipv4Addr>() {
                Ok(ip) if ip.to_string() == *name => hl.insert_lease(ip, Owner(text()?)),
                _ => return Err(StoreError::UnknownFile(name.clone())),
            }
        }
        Ok(hl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("test address")
    }

    fn range(subnet: &str) -> IpRange {
        let cfg = RangeConfig { subnet: subnet.parse().expect("subnet"), ..no_range() };
        IpRange::new(&cfg).expect("valid range")
    }

    fn no_range() -> RangeConfig {
        RangeConfig {
            subnet: IfAddr { ip: Ipv4Addr::UNSPECIFIED, prefix: 0 },
            range_start: None,
            range_end: None,
            gateway: None,
        }
    }

    fn alloc(hl: &mut HostLocal, id: &str) -> String {
        hl.allocate(id, "eth0").map(|l| l.addr.to_string()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn first_allocation_of_the_default_range_is_dot_two_with_gateway_dot_one() {
        let mut hl = HostLocal::new(range("172.26.64.0/20"));
        let lease = hl.allocate("a1", "eth0").expect("free");
        assert_eq!(lease.addr.to_string(), "172.26.64.2/20");
        assert_eq!(lease.gateway, ip("172.26.64.1"));
        assert_eq!(hl.range().to_string(), "172.26.64.1-172.26.79.254");
    }

    #[test]
    fn allocations_go_round_robin_and_exhaust_with_the_plugins_text() {
        // Experiment 3, "/29: first, round robin, exhaustion".
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        let got: Vec<_> = (1..=6).map(|n| alloc(&mut hl, &format!("c{n}"))).collect();
        assert_eq!(
            got,
            [
                "10.9.0.2/29",
                "10.9.0.3/29",
                "10.9.0.4/29",
                "10.9.0.5/29",
                "10.9.0.6/29",
                "no IP addresses available in range set: 10.9.0.1-10.9.0.6"
            ]
        );
        let err = hl.allocate("c6", "eth0").expect_err("full");
        assert_eq!(
            err.plugin_message(),
            "failed to allocate for range 0: no IP addresses available in range set: 10.9.0.1-10.9.0.6"
        );
    }

    #[test]
    fn released_address_is_found_again_after_wrapping_past_the_end() {
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        for n in 1..=5 {
            alloc(&mut hl, &format!("c{n}"));
        }
        assert_eq!(hl.release("c3", "eth0"), [ip("10.9.0.4")]);
        assert_eq!(alloc(&mut hl, "c7"), "10.9.0.4/29");
        assert_eq!(hl.last_reserved(), Some(ip("10.9.0.4")));
    }

    #[test]
    fn released_address_is_not_reused_before_the_search_wraps() {
        // Experiment 3, "reuse only after wrap".
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        assert_eq!(alloc(&mut hl, "a"), "10.9.0.2/29");
        assert_eq!(alloc(&mut hl, "b"), "10.9.0.3/29");
        hl.release("a", "eth0");
        assert_eq!(alloc(&mut hl, "c"), "10.9.0.4/29");
        assert_eq!(alloc(&mut hl, "d"), "10.9.0.5/29");
        assert_eq!(alloc(&mut hl, "e"), "10.9.0.6/29");
        assert_eq!(alloc(&mut hl, "f"), "10.9.0.2/29");
    }

    #[test]
    fn releasing_the_last_reserved_address_does_not_rewind_the_search() {
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        alloc(&mut hl, "a");
        alloc(&mut hl, "b");
        hl.release("b", "eth0");
        assert_eq!(alloc(&mut hl, "c"), "10.9.0.4/29");
    }

    #[test]
    fn release_is_idempotent_and_ignores_unknown_ids() {
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        alloc(&mut hl, "a");
        let before = hl.clone();
        assert!(hl.release("nope", "eth0").is_empty());
        assert_eq!(hl, before);
        assert_eq!(hl.release("a", "eth0").len(), 1);
        let once = hl.clone();
        assert!(hl.release("a", "eth0").is_empty());
        assert_eq!(hl, once);
    }

    #[test]
    fn duplicate_id_and_ifname_is_refused_but_another_ifname_is_served() {
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        alloc(&mut hl, "c1");
        let err = hl.allocate("c1", "eth0").expect_err("duplicate");
        assert_eq!(
            err.plugin_message(),
            "failed to allocate for range 0: 10.9.0.2 has been allocated to c1, duplicate allocation is not allowed"
        );
        assert_eq!(hl.allocate("c1", "eth1").map(|l| l.addr.to_string()), Ok("10.9.0.3/29".into()));
    }

    #[test]
    fn explicit_gateway_inside_the_range_is_skipped() {
        let cfg = RangeConfig {
            subnet: "10.9.1.0/24".parse().expect("subnet"),
            range_start: Some(ip("10.9.1.10")),
            range_end: Some(ip("10.9.1.12")),
            gateway: Some(ip("10.9.1.11")),
        };
        let mut hl = HostLocal::new(IpRange::new(&cfg).expect("valid"));
        assert_eq!(hl.allocate("a", "eth0").map(|l| l.gateway), Ok(ip("10.9.1.11")));
        assert_eq!(alloc(&mut hl, "b"), "10.9.1.12/24");
        assert_eq!(
            alloc(&mut hl, "c"),
            "no IP addresses available in range set: 10.9.1.10-10.9.1.12"
        );
        assert_eq!(hl.lease_of("a", "eth0"), Some(ip("10.9.1.10")));
    }

    #[test]
    fn explicit_gateway_outside_the_range_is_returned_with_each_lease() {
        let cfg = RangeConfig {
            subnet: "10.9.2.0/24".parse().expect("subnet"),
            range_start: Some(ip("10.9.2.100")),
            range_end: Some(ip("10.9.2.101")),
            gateway: Some(ip("10.9.2.254")),
        };
        let mut hl = HostLocal::new(IpRange::new(&cfg).expect("valid"));
        let lease = hl.allocate("a", "eth0").expect("free");
        assert_eq!(
            (lease.addr.to_string(), lease.gateway),
            ("10.9.2.100/24".into(), ip("10.9.2.254"))
        );
        assert_eq!(alloc(&mut hl, "b"), "10.9.2.101/24");
        assert_eq!(
            alloc(&mut hl, "c"),
            "no IP addresses available in range set: 10.9.2.100-10.9.2.101"
        );
    }

    #[test]
    fn gateway_in_the_middle_of_a_default_range_makes_dot_one_the_first_address() {
        let cfg = RangeConfig {
            subnet: "10.9.3.0/29".parse().expect("subnet"),
            gateway: Some(ip("10.9.3.5")),
            ..no_range()
        };
        let mut hl = HostLocal::new(IpRange::new(&cfg).expect("valid"));
        let got: Vec<_> = (1..=6).map(|n| alloc(&mut hl, &format!("g{n}"))).collect();
        assert_eq!(
            got,
            [
                "10.9.3.1/29",
                "10.9.3.2/29",
                "10.9.3.3/29",
                "10.9.3.4/29",
                "10.9.3.6/29",
                "no IP addresses available in range set: 10.9.3.1-10.9.3.6"
            ]
        );
    }

    #[rstest]
    #[case(
        "10.9.5.0/31",
        None,
        None,
        "invalid range set 0: Network 10.9.5.0/31 too small to allocate from"
    )]
    #[case(
        "10.9.5.1/24",
        None,
        None,
        "invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.9.5.0"
    )]
    #[case(
        "10.9.5.0/24",
        Some("10.9.6.1"),
        None,
        "invalid range set 0: RangeStart 10.9.6.1 not in network 10.9.5.0/24"
    )]
    #[case(
        "10.9.5.0/24",
        None,
        Some("10.9.6.1"),
        "invalid range set 0: RangeEnd 10.9.6.1 not in network 10.9.5.0/24"
    )]
    fn bad_range_is_refused_with_the_plugins_text(
        #[case] subnet: &str,
        #[case] start: Option<&str>,
        #[case] end: Option<&str>,
        #[case] msg: &str,
    ) {
        let cfg = RangeConfig {
            subnet: subnet.parse().expect("subnet"),
            range_start: start.map(ip),
            range_end: end.map(ip),
            gateway: None,
        };
        assert_eq!(IpRange::new(&cfg).map_err(|e| e.plugin_message()), Err(msg.to_owned()));
    }

    #[test]
    fn slash_30_has_exactly_one_address() {
        let mut hl = HostLocal::new(range("10.9.5.0/30"));
        assert_eq!(alloc(&mut hl, "a"), "10.9.5.2/30");
        assert_eq!(
            alloc(&mut hl, "b"),
            "no IP addresses available in range set: 10.9.5.1-10.9.5.2"
        );
    }

    #[test]
    fn default_range_exhausts_after_4093_leases_with_the_documented_text() {
        // Experiment 4 made 4093 real allocations; here the store of the first 4092 is
        // given, as host-local would find it on disk.
        let mut files = BTreeMap::new();
        let (first, last) = (u32::from(ip("172.26.64.2")), u32::from(ip("172.26.79.253")));
        for (n, a) in (first..=last).enumerate() {
            files.insert(Ipv4Addr::from(a).to_string(), format!("c{n}\r\neth0").into_bytes());
        }
        files.insert(LAST_RESERVED_FILE.to_owned(), b"172.26.79.253".to_vec());
        files.insert(LOCK_FILE.to_owned(), Vec::new());
        let mut hl = HostLocal::from_store(range("172.26.64.0/20"), &files).expect("readable");
        assert_eq!(hl.leases().count(), 4092);
        assert_eq!(alloc(&mut hl, "c4092"), "172.26.79.254/20");
        let err = hl.allocate("one-more", "eth0").expect_err("full");
        assert_eq!(
            err.to_string(),
            "no IP addresses available in range set: 172.26.64.1-172.26.79.254"
        );
    }

    #[test]
    fn store_files_have_the_plugins_bytes() {
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        assert!(hl.to_store().is_empty());
        hl.allocate("c1", "eth0").expect("free");
        let files = hl.to_store();
        let want: BTreeMap<String, Vec<u8>> = [
            ("10.9.0.2".to_owned(), b"c1\r\neth0".to_vec()),
            ("last_reserved_ip.0".to_owned(), b"10.9.0.2".to_vec()),
            ("lock".to_owned(), Vec::new()),
        ]
        .into();
        assert_eq!(files, want);
        assert_eq!(HostLocal::from_store(*hl.range(), &files).map(|h| h == hl), Ok(true));
    }

    #[test]
    fn release_of_everything_keeps_last_reserved_and_lock() {
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        alloc(&mut hl, "a");
        hl.release("a", "eth0");
        let names: Vec<_> = hl.to_store().into_keys().collect();
        assert_eq!(names, ["last_reserved_ip.0", "lock"]);
    }

    #[test]
    fn del_on_a_fresh_store_creates_only_the_lock() {
        let mut hl = HostLocal::new(range("10.9.0.0/29"));
        hl.release("a", "eth0");
        assert_eq!(hl.to_store().into_keys().collect::<Vec<_>>(), ["lock"]);
    }

    #[test]
    fn legacy_lease_counts_as_duplicate_and_is_released_by_id() {
        // Experiment 3: a file holding only "old", and a stale last_reserved_ip.0.
        let files: BTreeMap<String, Vec<u8>> = [
            ("10.9.4.3".to_owned(), b"old".to_vec()),
            ("last_reserved_ip.0".to_owned(), b"10.200.0.9".to_vec()),
        ]
        .into();
        let mut hl = HostLocal::from_store(range("10.9.4.0/29"), &files).expect("readable");
        assert_eq!(alloc(&mut hl, "x"), "10.9.4.2/29");
        assert_eq!(
            alloc(&mut hl, "old"),
            "10.9.4.3 has been allocated to old, duplicate allocation is not allowed"
        );
        assert_eq!(hl.release("old", "eth0"), [ip("10.9.4.3")]);
    }

    #[test]
    fn last_reserved_with_a_newline_is_ignored_and_search_restarts() {
        let files: BTreeMap<String, Vec<u8>> =
            [("last_reserved_ip.0".to_owned(), b"10.9.4.3\n".to_vec())].into();
        let mut hl = HostLocal::from_store(range("10.9.4.0/29"), &files).expect("readable");
        assert_eq!(hl.last_reserved(), None);
        assert_eq!(alloc(&mut hl, "y"), "10.9.4.2/29");
    }

    #[test]
    fn unknown_store_file_is_refused() {
        let files: BTreeMap<String, Vec<u8>> = [("notes.txt".to_owned(), b"hi".to_vec())].into();
        assert_eq!(
            HostLocal::from_store(range("10.9.4.0/29"), &files),
            Err(StoreError::UnknownFile("notes.txt".into()))
        );
    }

    #[test]
    fn owner_reports_id_and_ifname() {
        let o = Owner::new(" c1 ", "eth0");
        assert_eq!((o.as_str(), o.id(), o.ifname()), ("c1\r\neth0", "c1", Some("eth0")));
    }
}
