//! `Snapshot`: the observed state of every namespace in one normalized form, produced by
//! both backends (`Backend::observe`) so that they compare with `==`.
//!
//! Normalization rules (both backends follow them; the linux backend documents how it
//! gets there):
//! - links by name, never by ifindex; a veth names its peer as (namespace, name);
//! - IPv4 only: IPv6 addresses and routes, and the `local` routing table, are left out;
//! - the unicast routes of every table but `local`, sorted; `proto` is `kernel`
//!   (connected) or `static` (anything added by a command, whatever protocol number it
//!   carried); the blackhole, unreachable, prohibit and throw routes apart, sorted;
//! - the routing rules in the kernel's order (left out while they are a new namespace's);
//! - sysctls: those of `sysctl_keys`: the namespace-wide ones, `conf.all`'s and
//!   `conf.default`'s, and every modeled `conf.<dev>` knob of each link with IPv4
//!   configuration (`lo` loses it with an MTU below 68);
//! - iptables: canonical `iptables-save` text of filter and nat with counters zeroed and
//!   tables still in their default state left out;
//! - hairpin is reported for bridge ports only;
//! - listening sockets sorted;
//! - IPAM stores as host-local's files (name → content), `lock` included.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::addr::IfAddr;
use crate::names::{IfName, Mac, NetnsName};
use crate::op::{AddrOpts, ConfKnob, ConfScope, SysctlKey};
use crate::state::{LinkKind, Netns, Route, RoutingRule, Socket, SpecialRoute, State};

/// The sysctls a snapshot reports, for a namespace whose links with IPv4 configuration are
/// `devs`: `ip_forward`, `ip_nonlocal_bind`, `icmp_echo_ignore_all`,
/// `bridge-nf-call-iptables`, every knob of `conf.all` but `forwarding` (it is
/// `ip_forward`), every knob of `conf.default` and of each device.
pub fn sysctl_keys<'a>(devs: impl Iterator<Item = &'a IfName>) -> Vec<SysctlKey> {
    let mut keys = vec![
        SysctlKey::IpForward,
        SysctlKey::IpNonlocalBind,
        SysctlKey::IcmpEchoIgnoreAll,
        SysctlKey::BridgeNfCallIptables,
    ];
    let knobs = ConfKnob::ALL;
    keys.extend(
        knobs
            .iter()
            .filter(|k| **k != ConfKnob::Forwarding)
            .map(|k| SysctlKey::Conf(ConfScope::All, *k)),
    );
    keys.extend(knobs.iter().map(|k| SysctlKey::Conf(ConfScope::Default, *k)));
    for dev in devs {
        keys.extend(knobs.iter().map(|k| SysctlKey::Conf(ConfScope::Dev(dev.clone()), *k)));
    }
    keys
}

/// The observed state of every namespace.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct Snapshot {
    /// Namespaces by name.
    pub namespaces: BTreeMap<NetnsName, NetnsSnapshot>,
    /// IPAM stores by network name: file name → file content (host-local's format; bytes
    /// that are not UTF-8 are replaced).
    pub ipam: BTreeMap<String, BTreeMap<String, String>>,
}

/// The observed state of one namespace.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct NetnsSnapshot {
    /// Links by name.
    pub links: BTreeMap<IfName, LinkSnapshot>,
    /// Unicast routes of every table but `local`, sorted.
    pub routes: Vec<Route>,
    /// Blackhole, unreachable, prohibit and throw routes, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub special_routes: Vec<SpecialRoute>,
    /// The routing rules in order; empty while they are a new namespace's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RoutingRule>,
    /// The modeled sysctls by dotted name, as 0/1.
    pub sysctls: BTreeMap<String, u8>,
    /// Canonical iptables-save text (see the module docs).
    pub iptables: String,
    /// Listening sockets, sorted.
    pub sockets: Vec<Socket>,
    /// Permanent neighbour entries, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub neighbours: Vec<NeighSnapshot>,
}

/// The observed state of one link.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct LinkSnapshot {
    /// Kind, and for a veth its peer.
    #[serde(flatten)]
    pub kind: LinkKind,
    /// Administratively up.
    pub up: bool,
    /// MTU.
    pub mtu: u32,
    /// MAC address.
    pub mac: Mac,
    /// The bridge it is a port of.
    pub master: Option<IfName>,
    /// Hairpin mode, for bridge ports only.
    pub hairpin: Option<bool>,
    /// IPv4 addresses, sorted.
    pub addrs: Vec<IfAddr>,
    /// The addresses with a broadcast address (`brd +`) or a label of their own.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub addr_opts: BTreeMap<IfAddr, AddrOpts>,
}

/// A permanent neighbour entry.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
pub struct NeighSnapshot {
    /// The device.
    pub dev: IfName,
    /// The address (0.0.0.0 on a loopback device, where the kernel files every entry so).
    pub ip: Ipv4Addr,
    /// The link-layer address.
    pub mac: Mac,
}

impl Snapshot {
    /// The model's state in normalized form.
    pub fn of(state: &State) -> Snapshot {
        let namespaces =
            state.namespaces().iter().map(|(n, ns)| (n.clone(), NetnsSnapshot::of(ns))).collect();
        let ipam = state
            .ipam_pools()
            .iter()
            .map(|(name, pool)| (name.clone(), store_text(&pool.to_store())))
            .collect();
        Snapshot { namespaces, ipam }
    }

    /// Every difference between two snapshots, one line each, as `path: left != right`
    /// (empty when they are equal).
    pub fn diff(&self, other: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        let (a, b) = (to_json(self), to_json(other));
        diff_values("", &a, &b, &mut out);
        out
    }
}

/// An IPAM store's files as text, the way snapshots carry them.
pub fn store_text(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    files.iter().map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned())).collect()
}

fn to_json(s: &Snapshot) -> serde_json::Value {
    serde_json::to_value(s).unwrap_or(serde_json::Value::Null)
}

fn diff_values(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}/{k}") };
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => diff_values(&p, v, w, out),
                    (Some(v), None) => out.push(format!("{p}: {v} != (absent)")),
                    (None, Some(w)) => out.push(format!("{p}: (absent) != {w}")),
                    (None, None) => {}
                }
            }
        }
        (Value::String(x), Value::String(y))
            if x != y && (x.contains('\n') || y.contains('\n')) =>
        {
            let before = out.len();
            let xl: Vec<&str> = x.lines().collect();
            let yl: Vec<&str> = y.lines().collect();
            for l in xl.iter().filter(|l| !yl.contains(l)) {
                out.push(format!("{path}: only left: {l}"));
            }
            for l in yl.iter().filter(|l| !xl.contains(l)) {
                out.push(format!("{path}: only right: {l}"));
            }
            if out.len() == before {
                out.push(format!("{path}: same lines in a different order"));
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

impl NetnsSnapshot {
    /// One namespace of the model in normalized form.
    pub fn of(ns: &Netns) -> NetnsSnapshot {
        let links = ns
            .links
            .iter()
            .map(|(name, l)| {
                let mut addrs = l.addrs.clone();
                addrs.sort();
                let snap = LinkSnapshot {
                    kind: l.kind.clone(),
                    up: l.up,
                    mtu: l.mtu,
                    mac: l.mac,
                    master: l.master.clone(),
                    hairpin: l.master.as_ref().map(|_| l.hairpin),
                    addrs,
                    addr_opts: l.addr_opts.clone(),
                };
                (name.clone(), snap)
            })
            .collect();
        let sysctls = sysctl_keys(ns.links.iter().filter(|(_, l)| l.ipv4).map(|(n, _)| n))
            .into_iter()
            .map(|k| {
                let value = match &k {
                    SysctlKey::IpForward => ns.conf_all.forwarding,
                    SysctlKey::IpNonlocalBind => ns.ip_nonlocal_bind,
                    SysctlKey::IcmpEchoIgnoreAll => u8::from(ns.icmp_echo_ignore_all),
                    SysctlKey::BridgeNfCallIptables => u8::from(ns.bridge_nf_call_iptables),
                    SysctlKey::Conf(ConfScope::All, knob) => ns.conf_all.get(*knob),
                    SysctlKey::Conf(ConfScope::Default, knob) => ns.conf_default.get(*knob),
                    SysctlKey::Conf(ConfScope::Dev(dev), knob) => {
                        ns.links.get(dev).map_or(0, |l| l.conf.get(*knob))
                    }
                };
                (k.name(), value)
            })
            .collect();
        let mut sockets = ns.sockets.clone();
        sockets.sort();
        let mut special_routes = ns.special_routes.clone();
        special_routes.sort();
        NetnsSnapshot {
            links,
            routes: ns.routes_sorted().into_iter().cloned().collect(),
            special_routes,
            rules: normalized_rules(&ns.rules),
            sysctls,
            iptables: ns.firewall.to_string(),
            sockets,
            neighbours: ns
                .neighbours
                .iter()
                .map(|((dev, ip), mac)| NeighSnapshot { dev: dev.clone(), ip: *ip, mac: *mac })
                .collect(),
        }
    }
}

/// The rules as a snapshot shows them: none while they are a new namespace's.
pub fn normalized_rules(rules: &[RoutingRule]) -> Vec<RoutingRule> {
    if rules == RoutingRule::defaults().as_slice() { Vec::new() } else { rules.to_vec() }
}
