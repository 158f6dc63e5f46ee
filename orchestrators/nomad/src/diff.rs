//! `nettwin plan --diff OLD NEW`: what a job update does to the client's network, as a
//! `nomad job plan`-style diff.
//!
//! The update is played the way Nomad's scheduler and client play it: version OLD is
//! planned on the standard host (`nettwin_core::host::standard_host`); then every group whose network
//! block changed, or that NEW drops, has its allocations stopped (CNI DEL, namespace
//! gone), a group whose `count` shrank loses its highest indexes, and the allocations NEW
//! needs are placed and set up (all stops before any start, so a static port can move
//! from an old allocation to a new one). Allocations of the new version get ids from the
//! seed's stream of `<job>@2`, as Nomad gives replacements fresh ids. Unchanged
//! allocations are left alone ("ignore").
//!
//! The diff compares the model before and after: namespaces, links, addresses, routes,
//! modeled sysctls, listening sockets, iptables chains and rules, IPAM store files.
//! Markers: `+` added, `-` removed, `~` changed (`"old" => "new"`). Leaks show up as what
//! they are: a masquerade chain that stays is simply not in the diff.

use std::collections::BTreeMap;
use std::fmt;

use crate::client_file::ClientFile;
use crate::jobspec::{Group, Job};
use crate::plan::{PlanSetupError, PlanStop, describe_alloc, plan_one, planner_on_standard_host};
use crate::planner::{Alloc, DelMode, Pin, Planner};
use nettwin_cni::seed::Seed;
use nettwin_core::names::NetnsName;
use nettwin_core::snapshot::{LinkSnapshot, NetnsSnapshot, Snapshot};
use nettwin_core::state::{LinkKind, Route, RouteProto, Socket};

/// The mark of one line of the diff.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Marker {
    /// `+`: only after.
    Added,
    /// `-`: only before.
    Removed,
    /// `~`: in both, different.
    Changed,
    /// No mark: in both, the same (context).
    Same,
}

impl Marker {
    fn as_str(self) -> &'static str {
        match self {
            Marker::Added => "+",
            Marker::Removed => "-",
            Marker::Changed => "~",
            Marker::Same => " ",
        }
    }
}

/// One line of the diff and the lines nested under it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Change {
    /// The mark.
    pub marker: Marker,
    /// What changed, `Link "nomad": bridge, up` or `up: "false" => "true"`.
    pub text: String,
    /// Nested changes.
    pub children: Vec<Change>,
}

impl Change {
    fn leaf(marker: Marker, text: impl Into<String>) -> Change {
        Change { marker, text: text.into(), children: Vec::new() }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        writeln!(f, "{:indent$}{} {}", "", self.marker.as_str(), self.text, indent = depth * 2)?;
        for c in &self.children {
            c.write(f, depth + 1)?;
        }
        Ok(())
    }
}

/// What the update does to one group's allocations.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GroupChange {
    /// The group's name.
    pub name: String,
    /// Allocations stopped.
    pub destroyed: Vec<Alloc>,
    /// Allocations placed and started.
    pub created: Vec<Alloc>,
    /// Allocations left as they were.
    pub ignored: Vec<Alloc>,
}

/// A job update played on the model, and its diff.
#[derive(Clone, Debug)]
pub struct UpdatePlan {
    /// The job's name (of the new version).
    pub job: String,
    /// Per group (old groups first, in file order, then groups only NEW has).
    pub groups: Vec<GroupChange>,
    /// The network state with OLD running.
    pub before: Snapshot,
    /// The network state after the update.
    pub after: Snapshot,
    /// What stopped OLD's plan or the update, if anything did.
    pub failure: Option<PlanStop>,
}

/// Plays the update from `old` to `new` on the standard host of `client`.
pub fn plan_update(
    old: &Job,
    new: &Job,
    client: &ClientFile,
    seed: Seed,
) -> Result<UpdatePlan, PlanSetupError> {
    let (_, mut planner) = planner_on_standard_host(client, seed)?;
    let mut running: BTreeMap<String, Vec<Alloc>> = BTreeMap::new();
    let mut failure = None;
    'old: for group in &old.groups {
        for index in 0..group.count {
            match plan_one(&mut planner, &old.name, group, index, &Pin::default()) {
                Ok(a) => running.entry(group.name.clone()).or_default().push(a.alloc),
                Err(stop) => {
                    failure = Some(stop);
                    break 'old;
                }
            }
        }
    }
    let before = Snapshot::of(planner.state());
    let mut groups = Vec::new();
    if failure.is_none() {
        failure = update(&mut planner, old, new, &mut running, &mut groups).err();
    }
    Ok(UpdatePlan {
        job: new.name.clone(),
        groups,
        before,
        after: Snapshot::of(planner.state()),
        failure,
    })
}

/// The stops, then the starts, of an update.
fn update(
    planner: &mut Planner,
    old: &Job,
    new: &Job,
    running: &mut BTreeMap<String, Vec<Alloc>>,
    out: &mut Vec<GroupChange>,
) -> Result<(), PlanStop> {
    let find = |job: &Job, name: &str| job.groups.iter().find(|g| g.name == name).cloned();
    let mut names: Vec<String> = old.groups.iter().map(|g| g.name.clone()).collect();
    names.extend(new.groups.iter().map(|g| g.name.clone()).filter(|n| find(old, n).is_none()));
    // What each group keeps, and from which index it starts new allocations.
    let mut starts: Vec<(Group, u32, u32)> = Vec::new();
    for name in names {
        let (before, after) = (find(old, &name), find(new, &name));
        let mut allocs = running.remove(&name).unwrap_or_default();
        let keep = match (&before, &after) {
            (Some(b), Some(a)) if b.network == a.network => allocs.len().min(a.count as usize),
            _ => 0,
        };
        let destroyed: Vec<Alloc> = allocs.split_off(keep);
        for a in destroyed.iter().rev() {
            planner
                .del(&a.placement.alloc_id, DelMode::Normal)
                .map_err(|error| PlanStop::Placement { group: name.clone(), error })?;
        }
        if let Some(a) = after {
            let from = u32::try_from(keep).unwrap_or(u32::MAX);
            starts.push((a.clone(), from, a.count));
        }
        out.push(GroupChange { name, destroyed, created: Vec::new(), ignored: allocs });
    }
    let version = format!("{}@2", new.name);
    for (group, from, to) in starts {
        for index in from..to {
            let alloc = plan_one(planner, &version, &group, index, &Pin::default())?.alloc;
            if let Some(g) = out.iter_mut().find(|g| g.name == group.name) {
                g.created.push(alloc);
            }
        }
    }
    Ok(())
}

impl UpdatePlan {
    /// The network diff, namespace by namespace, then the IPAM stores.
    pub fn network_changes(&self) -> Vec<Change> {
        let mut out = diff_snapshots(&self.before, &self.after);
        for c in &mut out {
            // Name the allocation a namespace belongs to.
            let owner = self.groups.iter().find_map(|g| {
                g.created
                    .iter()
                    .chain(&g.destroyed)
                    .find(|a| c.text == ns_title(&a.placement.netns))
            });
            if let Some(a) = owner {
                c.text.push_str(&format!(" (allocation of group {:?})", a.placement.group));
            }
        }
        out
    }
}

fn ns_title(name: &NetnsName) -> String {
    format!("Namespace {:?}", name.as_str())
}

impl fmt::Display for UpdatePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let changed = self.groups.iter().any(|g| !g.created.is_empty() || !g.destroyed.is_empty());
        let mark = if changed { "~" } else { " " };
        writeln!(f, "{mark} Job: {:?}", self.job)?;
        for g in &self.groups {
            let mut counts = Vec::new();
            for (n, what) in [
                (g.created.len(), "create"),
                (g.destroyed.len(), "destroy"),
                (g.ignored.len(), "ignore"),
            ] {
                if n > 0 {
                    counts.push(format!("{n} {what}"));
                }
            }
            let mark = match (g.created.is_empty(), g.destroyed.is_empty()) {
                (true, true) => " ",
                (false, true) => "+",
                (true, false) => "-",
                (false, false) => "~",
            };
            writeln!(f, "{mark} Task Group: {:?} ({})", g.name, counts.join(", "))?;
            for a in &g.destroyed {
                writeln!(f, "  - Allocation {}", describe_alloc(a))?;
            }
            for a in &g.created {
                writeln!(f, "  + Allocation {}", describe_alloc(a))?;
            }
        }
        writeln!(f)?;
        writeln!(f, "Network state of the client:")?;
        let changes = self.network_changes();
        if changes.is_empty() {
            writeln!(f, "  (no change)")?;
        }
        for c in &changes {
            c.write(f, 0)?;
        }
        if let Some(stop) = &self.failure {
            writeln!(f)?;
            writeln!(f, "Stopped: {stop}")?;
        }
        Ok(())
    }
}

/// Every difference between two snapshots, as a tree: one entry per namespace or IPAM
/// pool that differs.
pub fn diff_snapshots(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    let empty = NetnsSnapshot::default();
    for name in keys(&before.namespaces, &after.namespaces) {
        let (b, a) = (before.namespaces.get(name), after.namespaces.get(name));
        let marker = presence(b.is_some(), a.is_some());
        let children = netns_changes(b.unwrap_or(&empty), a.unwrap_or(&empty));
        if marker != Marker::Changed || !children.is_empty() {
            out.push(Change { marker, text: ns_title(name), children });
        }
    }
    let none = BTreeMap::new();
    for pool in keys(&before.ipam, &after.ipam) {
        let (b, a) = (before.ipam.get(pool), after.ipam.get(pool));
        let mut children = Vec::new();
        let (bf, af) = (b.unwrap_or(&none), a.unwrap_or(&none));
        for file in keys(bf, af) {
            let show = |content: &String| format!("{file}: {:?}", content);
            match (bf.get(file), af.get(file)) {
                (Some(x), Some(y)) if x != y => {
                    children.push(Change::leaf(Marker::Changed, format!("{file}: {x:?} => {y:?}")))
                }
                (Some(x), None) => children.push(Change::leaf(Marker::Removed, show(x))),
                (None, Some(y)) => children.push(Change::leaf(Marker::Added, show(y))),
                _ => {}
            }
        }
        if !children.is_empty() {
            let marker = presence(b.is_some(), a.is_some());
            out.push(Change { marker, text: format!("IPAM store {pool:?}"), children });
        }
    }
    out
}

fn keys<'a, K: Ord, V>(a: &'a BTreeMap<K, V>, b: &'a BTreeMap<K, V>) -> Vec<&'a K> {
    let mut k: Vec<&K> = a.keys().chain(b.keys()).collect();
    k.sort();
    k.dedup();
    k
}

fn presence(before: bool, after: bool) -> Marker {
    match (before, after) {
        (false, true) => Marker::Added,
        (true, false) => Marker::Removed,
        _ => Marker::Changed,
    }
}

fn netns_changes(b: &NetnsSnapshot, a: &NetnsSnapshot) -> Vec<Change> {
    let mut out = Vec::new();
    for name in keys(&b.links, &a.links) {
        match (b.links.get(name), a.links.get(name)) {
            (None, Some(l)) => out.push(Change::leaf(Marker::Added, link_line(name.as_str(), l))),
            (Some(l), None) => out.push(Change::leaf(Marker::Removed, link_line(name.as_str(), l))),
            (Some(x), Some(y)) if x != y => out.push(Change {
                marker: Marker::Changed,
                text: format!("Link {:?}", name.as_str()),
                children: link_changes(x, y),
            }),
            _ => {}
        }
    }
    let route_text: fn(&Route) -> String = |r| format!("Route {:?}", route_line(r));
    out.extend(list_diff(&b.routes, &a.routes, route_text));
    for key in keys(&b.sysctls, &a.sysctls) {
        let (x, y) = (b.sysctls.get(key).copied(), a.sysctls.get(key).copied());
        // A link that comes or goes brings its sysctls; only values that differ from the
        // default (0) say something.
        match (x, y) {
            (Some(x), Some(y)) if x != y => out
                .push(Change::leaf(Marker::Changed, format!("Sysctl {key:?}: \"{x}\" => \"{y}\""))),
            (None, Some(y)) if y != 0 => {
                out.push(Change::leaf(Marker::Added, format!("Sysctl {key:?}: \"{y}\"")));
            }
            (Some(x), None) if x != 0 => {
                out.push(Change::leaf(Marker::Removed, format!("Sysctl {key:?}: \"{x}\"")));
            }
            _ => {}
        }
    }
    let socket_text: fn(&Socket) -> String = |s| format!("Listening \"{} {}\"", s.proto, s.at);
    out.extend(list_diff(&b.sockets, &a.sockets, socket_text));
    out.extend(iptables_changes(&b.iptables, &a.iptables));
    out
}

/// Items only before (`-`) and only after (`+`), counting duplicates, in order.
fn list_diff<T: PartialEq>(b: &[T], a: &[T], text: fn(&T) -> String) -> Vec<Change> {
    let mut out = Vec::new();
    let mut left: Vec<&T> = a.iter().collect();
    for x in b {
        match left.iter().position(|y| *y == x) {
            Some(i) => {
                left.remove(i);
            }
            None => out.push(Change::leaf(Marker::Removed, text(x))),
        }
    }
    out.extend(left.into_iter().map(|y| Change::leaf(Marker::Added, text(y))));
    out
}

/// A link in one line: `Link "nomad": bridge, up, mtu 1500, 172.26.64.1/20`.
fn link_line(name: &str, l: &LinkSnapshot) -> String {
    let mut parts = vec![kind_text(&l.kind), if l.up { "up" } else { "down" }.to_owned()];
    parts.push(format!("mtu {}", l.mtu));
    if let Some(m) = &l.master {
        parts.push(format!("master {m}"));
    }
    if l.hairpin == Some(true) {
        parts.push("hairpin on".into());
    }
    parts.extend(l.addrs.iter().map(ToString::to_string));
    format!("Link {name:?}: {}", parts.join(", "))
}

fn kind_text(k: &LinkKind) -> String {
    match k {
        LinkKind::Loopback => "loopback".into(),
        LinkKind::Bridge => "bridge".into(),
        LinkKind::Veth { peer_netns, peer } => format!("veth, peer {peer}@{peer_netns}"),
    }
}

fn link_changes(x: &LinkSnapshot, y: &LinkSnapshot) -> Vec<Change> {
    let mut out = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push(Change::leaf(Marker::Changed, format!("{name}: {a:?} => {b:?}")));
        }
    };
    field("kind", kind_text(&x.kind), kind_text(&y.kind));
    field("state", updown(x.up), updown(y.up));
    field("mtu", x.mtu.to_string(), y.mtu.to_string());
    field("mac", x.mac.to_string(), y.mac.to_string());
    let opt = |m: &Option<nettwin_core::names::IfName>| {
        m.as_ref().map_or("none".into(), |m| m.to_string())
    };
    field("master", opt(&x.master), opt(&y.master));
    let hp = |h: Option<bool>| h.map_or("n/a".into(), |h| if h { "on" } else { "off" }.to_owned());
    field("hairpin", hp(x.hairpin), hp(y.hairpin));
    let addr_text: fn(&nettwin_core::addr::IfAddr) -> String = |a| format!("address {a}");
    out.extend(list_diff(&x.addrs, &y.addrs, addr_text));
    out
}

fn updown(up: bool) -> String {
    if up { "up" } else { "down" }.to_owned()
}

/// A route as `ip route` prints it.
pub fn route_line(r: &Route) -> String {
    let mut s = if r.dst.prefix() == 0 { "default".to_owned() } else { r.dst.to_string() };
    if let Some(via) = r.via {
        s.push_str(&format!(" via {via}"));
    }
    s.push_str(&format!(" dev {}", r.dev));
    if r.proto == RouteProto::Kernel {
        s.push_str(" proto kernel scope link");
    }
    if let Some(src) = r.src {
        s.push_str(&format!(" src {src}"));
    }
    s
}

/// Chains and rules that differ, per table, from two `iptables-save` texts.
fn iptables_changes(b: &str, a: &str) -> Vec<Change> {
    let (b, a) = (save_items(b), save_items(a));
    let text: fn(&String) -> String = |s| s.clone();
    let mut out = list_diff(&b.0, &a.0, text);
    // A built-in chain's policy line that changed is one change, not two.
    let mut policies = Vec::new();
    out.retain(|c| {
        let is_policy = c.text.starts_with("Policy ");
        if is_policy {
            policies.push(c.clone());
        }
        !is_policy
    });
    for p in policies.iter().filter(|p| p.marker == Marker::Added) {
        let chain = p.text.rsplit_once(' ').map_or("", |(c, _)| c);
        let before =
            policies.iter().find(|q| q.marker == Marker::Removed && q.text.starts_with(chain));
        let old = before.and_then(|q| q.text.rsplit_once(' ')).map_or("ACCEPT", |(_, v)| v);
        let new = p.text.rsplit_once(' ').map_or("", |(_, v)| v);
        out.push(Change::leaf(Marker::Changed, format!("{chain}: \"{old}\" => \"{new}\"")));
    }
    out.extend(list_diff(&b.1, &a.1, text));
    out
}

/// The chain declarations and the rules of an `iptables-save` text, each tagged with its
/// table: (`Chain "nat/CNI-HOSTPORT-DNAT"` / `Policy "filter/FORWARD" DROP`,
/// `Rule nat: -A ...`, the rule as iptables-save prints it, unquoted).
fn save_items(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut chains, mut rules) = (Vec::new(), Vec::new());
    let mut table = "";
    for line in text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = t;
        } else if let Some(decl) = line.strip_prefix(':') {
            let mut words = decl.split_whitespace();
            let (name, policy) = (words.next().unwrap_or(""), words.next().unwrap_or("-"));
            if policy == "-" {
                chains.push(format!("Chain \"{table}/{name}\""));
            } else {
                chains.push(format!("Policy \"{table}/{name}\" {policy}"));
            }
        } else if line.starts_with("-A ") {
            rules.push(format!("Rule {table}: {line}"));
        }
    }
    // Built-in chains with the default policy are the table's furniture, not news.
    chains.retain(|c| !c.ends_with(" ACCEPT"));
    (chains, rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobspec::parse_job;

    fn job(mode: &str) -> Job {
        parse_job(&format!(
            r#"
job "cloak" {{
  group "redis" {{
    network {{
      mode = "{mode}"
      port "redis" {{ to = 6379 }}
    }}
  }}
  group "cloak" {{
    network {{
      mode = "{mode}"
      port "cloak" {{
        static = 7000
        to     = 7000
      }}
    }}
  }}
}}
"#
        ))
        .expect("job")
    }

    #[test]
    fn same_job_twice_changes_nothing() {
        let up = plan_update(&job("bridge"), &job("bridge"), &ClientFile::default(), Seed(1))
            .expect("plan");
        assert!(up.network_changes().is_empty());
        assert!(up.groups.iter().all(|g| g.ignored.len() == 1 && g.created.is_empty()));
        assert!(up.to_string().contains("(no change)"));
    }

    #[test]
    fn host_to_bridge_replaces_allocations_and_builds_the_bridge() {
        let up = plan_update(&job("host"), &job("bridge"), &ClientFile::default(), Seed(1))
            .expect("plan");
        assert!(up.failure.is_none(), "{:?}", up.failure);
        assert!(up.groups.iter().all(|g| g.created.len() == 1 && g.destroyed.len() == 1));
        let text = up.to_string();
        for want in [
            "~ Job: \"cloak\"",
            "~ Task Group: \"cloak\" (1 create, 1 destroy)",
            "~ Namespace \"host\"",
            "  + Link \"nomad\": bridge, up, mtu 1500, 172.26.64.1/20",
            "  ~ Sysctl \"net.ipv4.ip_forward\": \"0\" => \"1\"",
            "  - Listening \"tcp 192.0.2.10:7000\"",
            "  + Chain \"nat/CNI-HOSTPORT-DNAT\"",
            "  + Rule filter: -A CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT\n",
            "  + Route \"172.26.64.0/20 dev nomad proto kernel scope link src 172.26.64.1\"",
            "  + Route \"default via 172.26.64.1 dev eth0\"",
            "  + Listening \"tcp 0.0.0.0:7000\"",
            "+ IPAM store \"nomad\"",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        let created = &up.groups[0].created[0];
        assert!(text.contains(&format!(
            "+ Namespace {:?} (allocation of group \"redis\")",
            created.placement.netns.as_str()
        )));
    }

    #[test]
    fn bridge_to_host_tears_down_but_leaves_the_plugins_leftovers() {
        let up = plan_update(&job("bridge"), &job("host"), &ClientFile::default(), Seed(1))
            .expect("plan");
        let text = up.to_string();
        assert!(text.contains("  + Listening \"tcp 192.0.2.10:7000\""), "{text}");
        assert!(text.contains("  - Rule filter: -A CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT\n"));
        // The bridge, its address and the shared chains stay.
        assert!(!text.contains("Link \"nomad\""), "{text}");
        assert!(!text.contains("Chain \"nat/CNI-HOSTPORT-DNAT\""), "{text}");
    }

    #[test]
    fn count_change_creates_only_the_extra_allocations() {
        let old = job("bridge");
        let mut new = old.clone();
        new.groups[0].count = 3;
        let up = plan_update(&old, &new, &ClientFile::default(), Seed(1)).expect("plan");
        let redis = &up.groups[0];
        assert_eq!((redis.ignored.len(), redis.created.len(), redis.destroyed.len()), (1, 2, 0));
        assert!(up.to_string().contains("+ Task Group: \"redis\" (2 create, 1 ignore)"));
    }
}
