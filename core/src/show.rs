//! State rendered like the tools people know, per namespace: `ip -br addr`, `ip route`,
//! `iptables-save`, `ss -ltun` and `bridge link`. Every renderer takes a `Snapshot`, so the
//! same text comes from either backend and can be compared with a real host at a glance.
//!
//! Each namespace's section starts with the command that shows the same thing on a real
//! host (`$ ip -n host -br addr`). Where the snapshot lacks what the real tool prints, the
//! rendering says so instead of inventing it:
//! - interface indexes are not modeled, so a veth's peer is named as `name@peer` (same
//!   namespace) or `name@netns/peer` (where `ip` would print `name@ifN`), and `bridge link`
//!   lines have no `N:` prefix;
//! - IPv4 only (no `inet6` addresses);
//! - socket queues are not modeled, so `ss` has no Recv-Q/Send-Q columns;
//! - trailing blanks that the real tools print are trimmed.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::addr::Cidr;
use crate::addr::Proto;
use crate::names::NetnsName;
use crate::snapshot::{NetnsSnapshot, Snapshot};
use crate::state::{LinkKind, RouteProto, RouteScope, RouteTable, RoutingRule};

/// Which tool's view to render.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum View {
    /// `ip -br addr`.
    IpAddr,
    /// `ip route` (and each other table's routes).
    IpRoute,
    /// `ip rule`.
    IpRule,
    /// `iptables-save`.
    IptablesSave,
    /// `ss -ltun`.
    Ss,
    /// `bridge link`.
    Bridge,
}

impl View {
    /// Every view, in the order `--as` lists them.
    pub const ALL: [View; 6] =
        [View::IpAddr, View::IpRoute, View::IpRule, View::IptablesSave, View::Ss, View::Bridge];

    /// The name `--as` takes (`ip-addr`).
    pub fn as_str(self) -> &'static str {
        match self {
            View::IpAddr => "ip-addr",
            View::IpRoute => "ip-route",
            View::IpRule => "ip-rule",
            View::IptablesSave => "iptables-save",
            View::Ss => "ss",
            View::Bridge => "bridge",
        }
    }

    /// The command that shows the same on a real host, for namespace `ns`.
    pub fn command(self, ns: &NetnsName) -> String {
        match self {
            View::IpAddr => format!("ip -n {ns} -br addr"),
            View::IpRoute => format!("ip -n {ns} route"),
            View::IpRule => format!("ip -n {ns} rule"),
            View::IptablesSave => format!("ip netns exec {ns} iptables-save"),
            View::Ss => format!("ip netns exec {ns} ss -ltun"),
            View::Bridge => format!("bridge -n {ns} link"),
        }
    }
}

/// A view name that is not one of `View::ALL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown view {0:?}: expected ip-addr, ip-route, ip-rule, iptables-save, ss or bridge")]
pub struct ViewError(pub String);

impl FromStr for View {
    type Err = ViewError;
    fn from_str(s: &str) -> Result<View, ViewError> {
        View::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| ViewError(s.to_owned()))
    }
}

/// Renders every namespace of `snap` in `view`, one section per namespace (in name order).
/// Namespaces with nothing to show in that view (no sockets, no bridge ports, default
/// iptables tables) are left out; when none is left, says so.
pub fn render(snap: &Snapshot, view: View) -> String {
    let mut out = String::new();
    for (name, ns) in &snap.namespaces {
        let body = match view {
            View::IpAddr => ip_addr(snap, name, ns),
            View::IpRoute => ip_route(snap, name, ns),
            View::IpRule => ip_rule(ns),
            View::IptablesSave => ns.iptables.trim_end().to_owned(),
            View::Ss => ss(ns),
            View::Bridge => bridge_link(snap, name, ns),
        };
        if body.is_empty() && !matches!(view, View::IpAddr | View::IpRoute | View::IpRule) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "$ {}", view.command(name));
        for line in body.lines() {
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    if out.is_empty() {
        let _ = writeln!(out, "(no namespace has anything to show for {})", view.as_str());
    }
    out
}

/// Whether a link has carrier (`LOWER_UP`): up, and for a veth its peer up, for a bridge
/// one of its ports with carrier.
fn carrier(snap: &Snapshot, ns: &NetnsSnapshot, dev: &str) -> bool {
    let Some(link) = ns.links.get(dev) else { return false };
    if !link.up {
        return false;
    }
    match &link.kind {
        LinkKind::Loopback => true,
        LinkKind::Veth { peer_netns, peer } => {
            snap.namespaces.get(peer_netns).and_then(|p| p.links.get(peer)).is_some_and(|p| p.up)
        }
        LinkKind::Bridge => ns.links.iter().any(|(n, l)| {
            l.master.as_ref().is_some_and(|m| m.as_str() == dev) && carrier(snap, ns, n.as_str())
        }),
    }
}

/// The name as `ip` prints it, with the veth peer after `@`.
fn display_name(ns_name: &NetnsName, name: &str, kind: &LinkKind) -> String {
    match kind {
        LinkKind::Veth { peer_netns, peer } if peer_netns == ns_name => format!("{name}@{peer}"),
        LinkKind::Veth { peer_netns, peer } => format!("{name}@{peer_netns}/{peer}"),
        _ => name.to_owned(),
    }
}

fn ip_addr(snap: &Snapshot, ns_name: &NetnsName, ns: &NetnsSnapshot) -> String {
    let mut out = String::new();
    for (name, link) in &ns.links {
        let state = match (&link.kind, link.up, carrier(snap, ns, name.as_str())) {
            (_, false, _) => "DOWN",
            (LinkKind::Loopback, true, _) => "UNKNOWN",
            (LinkKind::Veth { .. }, true, false) => "LOWERLAYERDOWN",
            (_, true, false) => "DOWN",
            (_, true, true) => "UP",
        };
        let mut line =
            format!("{:<16} {:<14} ", display_name(ns_name, name.as_str(), &link.kind), state);
        for a in &link.addrs {
            let _ = write!(line, "{a} ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

fn ip_route(snap: &Snapshot, ns_name: &NetnsName, ns: &NetnsSnapshot) -> String {
    // One section per table, main first (what `ip route` shows), then the others in
    // number order, each as `ip route show table N` prints it.
    let mut tables: Vec<RouteTable> = ns
        .routes
        .iter()
        .map(|r| r.table)
        .chain(ns.special_routes.iter().map(|r| r.table))
        .filter(|t| !t.is_main())
        .collect();
    tables.sort();
    tables.dedup();
    let mut out = route_lines(snap, ns, RouteTable::MAIN);
    for t in tables {
        let _ = writeln!(out, "\n$ ip -n {ns_name} route show table {t}");
        out.push_str(&route_lines(snap, ns, t));
    }
    out
}

/// The routes of one table as `ip route show table T` prints them.
fn route_lines(snap: &Snapshot, ns: &NetnsSnapshot, table: RouteTable) -> String {
    let name = |dst: Cidr| if dst.prefix() == 0 { "default".to_owned() } else { dst.to_string() };
    let mut lines: Vec<(Cidr, u32, String)> = Vec::new();
    for r in ns.routes.iter().filter(|r| r.table == table) {
        let mut line = name(r.dst);
        if let Some(via) = r.via {
            let _ = write!(line, " via {via}");
        }
        let _ = write!(line, " dev {}", r.dev);
        if r.proto == RouteProto::Kernel {
            line.push_str(" proto kernel");
        }
        if r.scope == RouteScope::Link {
            line.push_str(" scope link");
        }
        if let Some(src) = r.src {
            let _ = write!(line, " src {src}");
        }
        if r.metric != 0 {
            let _ = write!(line, " metric {}", r.metric);
        }
        if r.onlink {
            line.push_str(" onlink");
        }
        if !carrier(snap, ns, r.dev.as_str()) {
            line.push_str(" linkdown");
        }
        lines.push((r.dst, r.metric, line));
    }
    for r in ns.special_routes.iter().filter(|r| r.table == table) {
        let mut line = format!("{} {}", r.kind.as_str(), name(r.dst));
        if r.metric != 0 {
            let _ = write!(line, " metric {}", r.metric);
        }
        lines.push((r.dst, r.metric, line));
    }
    // The kernel dumps a table in key order, longer prefixes of one key first, then by
    // metric.
    lines.sort_by_key(|(dst, metric, _)| (dst.ip(), std::cmp::Reverse(dst.prefix()), *metric));
    let mut out = String::new();
    for (_, _, line) in lines {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// `ip rule` (a new namespace's three rules when none was changed).
fn ip_rule(ns: &NetnsSnapshot) -> String {
    let rules = if ns.rules.is_empty() { RoutingRule::defaults() } else { ns.rules.clone() };
    let mut out = String::new();
    for r in rules {
        let _ = writeln!(out, "{r}");
    }
    out
}

fn ss(ns: &NetnsSnapshot) -> String {
    if ns.sockets.is_empty() {
        return String::new();
    }
    let mut socks = ns.sockets.clone();
    // ss lists udp before tcp.
    socks.sort_by_key(|s| (s.proto != Proto::Udp, s.at));
    let mut out = format!(
        "{:<6}{:<7}{:<21}{}\n",
        "Netid", "State", "Local Address:Port", "Peer Address:Port"
    );
    for s in socks {
        let state = if s.proto == Proto::Udp { "UNCONN" } else { "LISTEN" };
        let _ =
            writeln!(out, "{:<6}{:<7}{:<21}0.0.0.0:*", s.proto.as_str(), state, s.at.to_string());
    }
    out
}

fn bridge_link(snap: &Snapshot, ns_name: &NetnsName, ns: &NetnsSnapshot) -> String {
    let mut out = String::new();
    for (name, link) in &ns.links {
        let Some(master) = &link.master else { continue };
        let lower = carrier(snap, ns, name.as_str());
        let flags = match (link.up, lower) {
            (false, _) => "BROADCAST,MULTICAST",
            (true, false) => "NO-CARRIER,BROADCAST,MULTICAST,UP",
            (true, true) => "BROADCAST,MULTICAST,UP,LOWER_UP",
        };
        let bridge_up = ns.links.get(master.as_str()).is_some_and(|b| b.up);
        let state = if lower && bridge_up { "forwarding" } else { "disabled" };
        let hairpin = if link.hairpin == Some(true) { "on" } else { "off" };
        let _ = writeln!(
            out,
            "{}: <{flags}> mtu {} master {master} state {state} priority 32 cost 2 hairpin {hairpin}",
            display_name(ns_name, name.as_str(), &link.kind),
            link.mtu,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::text::parse_op;
    use crate::state::State;

    fn snapshot(ops: &[&str]) -> Snapshot {
        let mut st = State::new();
        for text in ops {
            let op = parse_op(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            st.apply(&op).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        Snapshot::of(&st)
    }

    fn host_and_alloc() -> Snapshot {
        snapshot(&[
            "ip netns add host",
            "ip netns add alloc",
            "ip -n host link add nomad type bridge",
            "ip -n host addr add 172.26.64.1/20 dev nomad",
            "ip -n host link set nomad up",
            "ip -n host link add veth1a2b3c4d type veth peer name eth0 netns alloc",
            "ip -n host link set veth1a2b3c4d master nomad",
            "ip -n host link set veth1a2b3c4d up",
            "ip -n alloc addr add 172.26.64.2/20 dev eth0",
            "ip -n alloc link set lo up",
            "ip -n alloc link set eth0 up",
            "ip -n alloc route add default via 172.26.64.1",
            "ip netns exec alloc listen tcp 0.0.0.0:6379",
            "ip netns exec alloc listen udp 172.26.64.2:53",
        ])
    }

    #[test]
    fn ip_addr_reads_like_ip_br_addr() {
        let text = render(&host_and_alloc(), View::IpAddr);
        assert_eq!(
            text,
            "\
$ ip -n alloc -br addr
eth0@host/veth1a2b3c4d UP             172.26.64.2/20
lo               UNKNOWN        127.0.0.1/8

$ ip -n host -br addr
lo               DOWN
nomad            UP             172.26.64.1/20
veth1a2b3c4d@alloc/eth0 UP
"
        );
    }

    #[test]
    fn veth_whose_peer_is_down_is_lowerlayerdown_and_its_routes_linkdown() {
        let snap = snapshot(&[
            "ip netns add a",
            "ip -n a link add v0 type veth peer name v1",
            "ip -n a addr add 10.0.0.1/24 dev v0",
            "ip -n a link set v0 up",
        ]);
        assert!(
            render(&snap, View::IpAddr).contains("v0@v1            LOWERLAYERDOWN 10.0.0.1/24\n")
        );
        assert_eq!(
            render(&snap, View::IpRoute),
            "$ ip -n a route\n10.0.0.0/24 dev v0 proto kernel scope link src 10.0.0.1 linkdown\n"
        );
    }

    #[test]
    fn ip_route_prints_default_first_and_kernel_routes_with_proto() {
        let text = render(&host_and_alloc(), View::IpRoute);
        assert_eq!(
            text,
            "\
$ ip -n alloc route
default via 172.26.64.1 dev eth0
172.26.64.0/20 dev eth0 proto kernel scope link src 172.26.64.2

$ ip -n host route
172.26.64.0/20 dev nomad proto kernel scope link src 172.26.64.1
"
        );
    }

    #[test]
    fn ss_lists_udp_then_tcp_and_skips_namespaces_without_sockets() {
        assert_eq!(
            render(&host_and_alloc(), View::Ss),
            "\
$ ip netns exec alloc ss -ltun
Netid State  Local Address:Port   Peer Address:Port
udp   UNCONN 172.26.64.2:53       0.0.0.0:*
tcp   LISTEN 0.0.0.0:6379         0.0.0.0:*
"
        );
    }

    #[test]
    fn bridge_link_shows_ports_with_state_and_hairpin() {
        let mut snap = host_and_alloc();
        assert_eq!(
            render(&snap, View::Bridge),
            "$ bridge -n host link\nveth1a2b3c4d@alloc/eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master nomad state forwarding priority 32 cost 2 hairpin off\n"
        );
        // A port whose peer is down has no carrier and is disabled.
        if let Some(l) = snap.namespaces.values_mut().flat_map(|n| n.links.get_mut("eth0")).next() {
            l.up = false;
        }
        assert!(
            render(&snap, View::Bridge).contains(
                "<NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 master nomad state disabled"
            )
        );
    }

    #[test]
    fn empty_views_say_so() {
        let snap = snapshot(&["ip netns add a"]);
        assert_eq!(render(&snap, View::Bridge), "(no namespace has anything to show for bridge)\n");
    }

    #[test]
    fn view_names_round_trip() {
        for v in View::ALL {
            assert_eq!(v.as_str().parse::<View>(), Ok(v));
        }
        assert!("ip-link".parse::<View>().is_err());
    }
}
