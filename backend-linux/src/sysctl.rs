//! Sysctls through /proc/sys, opened from a thread inside the namespace (the files under
//! /proc/sys/net belong to the namespace of the thread that opens them).

use std::io;

use nettwin_core::op::SysctlKey;

/// The defaults a pristine kernel gives a new namespace, for the sysctls the model covers
/// namespace-wide: (path, value). A new namespace inherits some IPv4 settings from the
/// host's initial namespace (`net.core.devconf_inherit_init_net`), so the backend writes
/// these into every namespace it creates, so that the host's configuration never leaks in.
pub const PRISTINE: &[(&str, u8)] = &[
    ("/proc/sys/net/ipv4/ip_forward", 0),
    ("/proc/sys/net/ipv4/conf/all/route_localnet", 0),
    ("/proc/sys/net/ipv4/conf/default/route_localnet", 0),
    ("/proc/sys/net/bridge/bridge-nf-call-iptables", 1),
];

/// Reads a 0/1 sysctl (`None` when the file is missing or holds something else).
pub fn read(path: &str) -> Option<u8> {
    match std::fs::read_to_string(path).ok()?.trim() {
        "0" => Some(0),
        "1" => Some(1),
        _ => None,
    }
}

/// Writes a 0/1 sysctl.
pub fn write(path: &str, value: bool) -> io::Result<()> {
    std::fs::write(path, if value { "1\n" } else { "0\n" })
}

/// Writes the pristine defaults where they differ (missing files are skipped: without
/// br_netfilter there is no bridge-nf-call-iptables to pin).
pub fn pin_pristine() -> io::Result<()> {
    for (path, want) in PRISTINE {
        if let Some(have) = read(path)
            && have != *want
        {
            write(path, *want == 1)?;
        }
    }
    Ok(())
}

/// Writes the sysctl of an op.
pub fn set(key: &SysctlKey, value: bool) -> io::Result<()> {
    write(&key.proc_path(), value)
}

/// The modeled sysctls of a namespace with links `links`, by dotted name, as `observe`
/// reports them (a missing file reads as absent).
pub fn snapshot(links: &[String]) -> Vec<(String, u8)> {
    let mut keys = vec![SysctlKey::IpForward, SysctlKey::BridgeNfCallIptables];
    for l in links {
        if let Ok(dev) = nettwin_core::names::IfName::new(l) {
            keys.push(SysctlKey::RouteLocalnet(dev));
        }
    }
    keys.into_iter().filter_map(|k| Some((k.name(), read(&k.proc_path())?))).collect()
}
