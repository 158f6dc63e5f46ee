//! `ipam::HostLocal` replays the operations of the experiments in docs/cni-findings.md and
//! ends with the same store directory, byte for byte, as the real host-local plugin left
//! in `testdata/cni/store-*` (the workspace's).

use std::collections::BTreeMap;

use nettwin_core::ipam::{HostLocal, IpRange, RangeConfig};

fn range(subnet: &str) -> IpRange {
    IpRange::new(&RangeConfig::subnet(subnet.parse().expect("subnet"))).expect("valid range")
}

fn store_dir(name: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = format!("{}/../testdata/cni/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().into_string().expect("utf-8 name");
        files.insert(name, std::fs::read(entry.path()).expect("readable"));
    }
    files
}

fn assert_store(hl: &HostLocal, name: &str) {
    let want = store_dir(name);
    let got = hl.to_store();
    assert_eq!(got, want, "store {name}");
    let back = HostLocal::from_store(*hl.range(), &want).expect("readable");
    assert_eq!(&back, hl, "read back {name}");
}

enum Step {
    Add(&'static str, &'static str, Result<&'static str, &'static str>),
    Del(&'static str, &'static str),
}
use Step::{Add, Del};

fn replay(hl: &mut HostLocal, steps: &[Step]) {
    for step in steps {
        match step {
            Add(id, ifname, want) => {
                let got = hl.allocate(id, ifname).map(|l| l.addr.to_string());
                let got = got.as_deref().map_err(|e| e.plugin_message());
                assert_eq!(got, want.map_err(str::to_owned), "ADD {id} {ifname}");
            }
            Del(id, ifname) => {
                hl.release(id, ifname);
            }
        }
    }
}

#[test]
fn slash_29_round_robin_exhaustion_release_and_duplicates_leave_the_plugins_store() {
    let mut hl = HostLocal::new(range("10.9.0.0/29"));
    replay(
        &mut hl,
        &[
            Add("c1", "eth0", Ok("10.9.0.2/29")),
            Add("c2", "eth0", Ok("10.9.0.3/29")),
            Add("c3", "eth0", Ok("10.9.0.4/29")),
            Add("c4", "eth0", Ok("10.9.0.5/29")),
            Add("c5", "eth0", Ok("10.9.0.6/29")),
            Add(
                "c6",
                "eth0",
                Err(
                    "failed to allocate for range 0: no IP addresses available in range set: 10.9.0.1-10.9.0.6",
                ),
            ),
            Del("c3", "eth0"),
            Add("c7", "eth0", Ok("10.9.0.4/29")),
            Del("c7", "eth0"),
            Del("c7", "eth0"),
            Del("nope", "eth0"),
            Add(
                "c1",
                "eth0",
                Err(
                    "failed to allocate for range 0: 10.9.0.2 has been allocated to c1, duplicate allocation is not allowed",
                ),
            ),
            Add("c1", "eth1", Ok("10.9.0.4/29")),
        ],
    );
    assert_store(&hl, "store-e3-d1");
}

#[test]
fn released_address_comes_back_only_after_wrap_in_the_plugins_store() {
    let mut hl = HostLocal::new(range("10.9.0.0/29"));
    replay(
        &mut hl,
        &[
            Add("a", "eth0", Ok("10.9.0.2/29")),
            Add("b", "eth0", Ok("10.9.0.3/29")),
            Del("a", "eth0"),
            Add("c", "eth0", Ok("10.9.0.4/29")),
            Add("d", "eth0", Ok("10.9.0.5/29")),
            Add("e", "eth0", Ok("10.9.0.6/29")),
            Add("f", "eth0", Ok("10.9.0.2/29")),
        ],
    );
    assert_store(&hl, "store-e3-d2");
}

#[test]
fn stale_last_reserved_and_legacy_lease_end_as_the_plugins_store() {
    let start: BTreeMap<String, Vec<u8>> = [
        ("last_reserved_ip.0".to_owned(), b"10.200.0.9".to_vec()),
        ("10.9.4.3".to_owned(), b"old".to_vec()),
    ]
    .into();
    let mut hl = HostLocal::from_store(range("10.9.4.0/29"), &start).expect("readable");
    replay(
        &mut hl,
        &[
            Add("x", "eth0", Ok("10.9.4.2/29")),
            Add(
                "old",
                "eth0",
                Err(
                    "failed to allocate for range 0: 10.9.4.3 has been allocated to old, duplicate allocation is not allowed",
                ),
            ),
            Del("old", "eth0"),
        ],
    );
    assert_store(&hl, "store-e3-d7");
}

#[test]
fn full_cni_chain_on_a_slash_29_leaves_the_plugins_store() {
    // Experiment 2: the IPAM part of every ADD and DEL of the bridge plugin.
    let mut hl = HostLocal::new(range("172.26.64.0/29"));
    let b1 = "0b5e4c3a-1111-2222-3333-444455556666";
    let b2 = "0b5e4c3a-aaaa-bbbb-cccc-ddddeeeeffff";
    replay(
        &mut hl,
        &[
            Add(b1, "eth0", Ok("172.26.64.2/29")),
            Add(b2, "eth0", Ok("172.26.64.3/29")),
            Add(
                b2,
                "eth0",
                Err(
                    "failed to allocate for range 0: 172.26.64.3 has been allocated to 0b5e4c3a-aaaa-bbbb-cccc-ddddeeeeffff, duplicate allocation is not allowed",
                ),
            ),
            Add("0b5e4c3a-0000-0000-0000-000000000004", "eth0", Ok("172.26.64.4/29")),
            Add("0b5e4c3a-0000-0000-0000-000000000005", "eth0", Ok("172.26.64.5/29")),
            Add("0b5e4c3a-0000-0000-0000-000000000006", "eth0", Ok("172.26.64.6/29")),
            Add(
                "0b5e4c3a-0000-0000-0000-000000000007",
                "eth0",
                Err(
                    "failed to allocate for range 0: no IP addresses available in range set: 172.26.64.1-172.26.64.6",
                ),
            ),
            Del(b2, "eth0"),
            Del(b1, "eth0"),
        ],
    );
    assert_store(&hl, "store-e2-data");
}

#[test]
fn three_allocations_and_their_dels_on_the_default_subnet_leave_the_plugins_store() {
    // Experiment 1: DEL releases also when the namespace is gone, and twice is once.
    let mut hl = HostLocal::new(range("172.26.64.0/20"));
    let (a1, a2, a3) = (
        "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512",
        "1c9e7b04-a3d2-6f58-9e10-4b7d2c8f6a33",
        "f07a5c9d-2e81-4b36-a7c4-93d1e6b0f285",
    );
    replay(
        &mut hl,
        &[
            Add(a1, "eth0", Ok("172.26.64.2/20")),
            Add(a2, "eth0", Ok("172.26.64.3/20")),
            Add(a3, "eth0", Ok("172.26.64.4/20")),
            Del(a2, "eth0"),
            Del(a3, "eth0"),
            Del(a1, "eth0"),
            Del(a1, "eth0"),
        ],
    );
    assert_store(&hl, "store-e1-data");
}
