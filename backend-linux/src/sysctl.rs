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
    // `ip_forward` writes `conf.all`'s, `conf.default`'s and every device's forwarding.
    ("/proc/sys/net/ipv4/ip_forward", 0),
    ("/proc/sys/net/ipv4/conf/default/forwarding", 0),
    ("/proc/sys/net/ipv4/ip_nonlocal_bind", 0),
    ("/proc/sys/net/ipv4/icmp_echo_ignore_all", 0),
    ("/proc/sys/net/ipv4/conf/all/route_localnet", 0),
    ("/proc/sys/net/ipv4/conf/default/route_localnet", 0),
    // `lo` exists before these are pinned and took the host's defaults; `route_localnet`
    // is not copied from `default` to existing devices (`rp_filter` and `proxy_arp` are).
    ("/proc/sys/net/ipv4/conf/lo/route_localnet", 0),
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
    // Not a default either (it is 1000 ms): the kernel limits the ICMP errors a namespace
    // sends to each destination (a token per second, a burst of 6), and an ICMP redirect
    // it sends spends that destination's tokens (a packet routed back out the bridge it
    // came in on, as a hairpinned DNAT is without br_netfilter's hook). So a port
    // unreachable would depend on which probes went before it in the last second; the
    // model's probes are independent, as every one starts with an empty conntrack table.
    // Pinned by scenarios/library/icmp-errors-are-not-rationed.yaml.
    ("/proc/sys/net/ipv4/icmp_ratelimit", 0),
];

/// Reads a small numeric sysctl (`None` when the file is missing or holds something
/// else, such as a number above 255); the modeled ones are 0 or 1.
pub fn read(path: &str) -> Option<u8> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes a small numeric sysctl.
pub fn write(path: &str, value: u8) -> io::Result<()> {
    std::fs::write(path, format!("{value}\n"))
}

/// Writes the pristine defaults where they differ (missing files are skipped: without
/// br_netfilter there is no bridge-nf-call-iptables to pin).
pub fn pin_pristine() -> io::Result<()> {
    for (path, want) in PRISTINE {
        let Ok(have) = std::fs::read_to_string(path) else { continue };
        if have.trim() != want.to_string() {
            std::fs::write(path, format!("{want}\n"))?;
        }
    }
    Ok(())
}

/// Answers proxy ARP at once on device `dev`: `net.ipv4.neigh.DEV.proxy_delay` = 0
/// (nothing to do for a device without IPv4 configuration, which has no such file).
///
/// Not a default (it is 0.8 s): a namespace answers an ARP request by proxy after a random
/// delay up to `proxy_delay`, a timer a probe's wait cannot see, so whether the answer came
/// in time would depend on chance. A namespace has no `neigh/default` to pin it once (its
/// devices copy the host's), and a device's value is made afresh whenever its IPv4
/// configuration is (moved, MTU below 68 and back), so every probe pins it on every device.
/// Pinned by scenarios/library/proxy-arp.yaml.
pub fn pin_proxy_delay(dev: &str) -> io::Result<()> {
    let path = format!("/proc/sys/net/ipv4/neigh/{dev}/proxy_delay");
    match std::fs::read_to_string(&path) {
        Ok(v) if v.trim() == "0" => Ok(()),
        Ok(_) => std::fs::write(&path, "0\n"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes the sysctl of an op.
pub fn set(key: &SysctlKey, value: u8) -> io::Result<()> {
    write(&key.proc_path(), value)
}

/// The modeled sysctls of a namespace with links `links`, by dotted name, as `observe`
/// reports them (`nettwin_core::snapshot::sysctl_keys`; a missing file reads as absent,
/// as a device without IPv4 configuration has none).
pub fn snapshot(links: &[String]) -> Vec<(String, u8)> {
    let devs: Vec<nettwin_core::names::IfName> =
        links.iter().filter_map(|l| nettwin_core::names::IfName::new(l).ok()).collect();
    nettwin_core::snapshot::sysctl_keys(devs.iter())
        .into_iter()
        .filter_map(|k| Some((k.name(), read(&k.proc_path())?)))
        .collect()
}
