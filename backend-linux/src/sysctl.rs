//! Sysctls through /proc/sys, opened from a thread inside the namespace (the files under
//! /proc/sys/net belong to the namespace of the thread that opens them).

use std::io;

use nettwin_core::op::SysctlKey;

/// The defaults a pristine kernel gives a new namespace, for the sysctls the model covers
/// namespace-wide and for those it assumes at their defaults, and IPv6 off: (path, value). A new
/// namespace inherits the host's `conf/all` and `conf/default` IPv4 settings
/// (`net.core.devconf_inherit_init_net` = 0), and distributions set some of them (Ubuntu
/// turns `rp_filter` on, which makes the kernel drop what the model routes), so the
/// backend writes these into every namespace it creates: the host's configuration never
/// leaks in.
pub const PRISTINE: &[(&str, u8)] = &[
    ("/proc/sys/net/ipv4/ip_forward", 0),
    ("/proc/sys/net/ipv4/conf/all/route_localnet", 0),
    ("/proc/sys/net/ipv4/conf/default/route_localnet", 0),
    ("/proc/sys/net/bridge/bridge-nf-call-iptables", 1),
    // Assumed by the model's martian and ARP rules.
    ("/proc/sys/net/ipv4/conf/all/rp_filter", 0),
    ("/proc/sys/net/ipv4/conf/default/rp_filter", 0),
    ("/proc/sys/net/ipv4/conf/all/accept_local", 0),
    ("/proc/sys/net/ipv4/conf/default/accept_local", 0),
    ("/proc/sys/net/ipv4/conf/all/arp_ignore", 0),
    ("/proc/sys/net/ipv4/conf/default/arp_ignore", 0),
    ("/proc/sys/net/ipv4/conf/all/arp_filter", 0),
    ("/proc/sys/net/ipv4/conf/default/arp_filter", 0),
    ("/proc/sys/net/ipv4/conf/all/proxy_arp", 0),
    ("/proc/sys/net/ipv4/conf/default/proxy_arp", 0),
    // Not a default: the model is IPv4 only, and IPv6's own traffic on every new link
    // (duplicate address detection, MLD reports, router solicitations) would only be
    // noise in the captures a probe reads.
    ("/proc/sys/net/ipv6/conf/all/disable_ipv6", 1),
    ("/proc/sys/net/ipv6/conf/default/disable_ipv6", 1),
    // Not a default either: a namespace reports its link-local multicast groups (IGMP)
    // when its links come up, which moves iptables counters (a probe reads rule hits from
    // them) and would be blamed on whatever probe runs then.
    ("/proc/sys/net/ipv4/igmp_link_local_mcast_reports", 0),
];

/// Reads a small numeric sysctl (`None` when the file is missing or holds something
/// else); the modeled ones are 0 or 1.
pub fn read(path: &str) -> Option<u8> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
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
