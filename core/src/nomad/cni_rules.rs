//! The iptables work of Nomad and of each CNI plugin in its conflist (containernetworking
//! /plugins v1.1.1), in the order they do it, as data.
//!
//! Every plugin is idempotent in its own way ("create the chain unless it exists", "insert
//! at the top unless the rule is there", "delete, ignoring not found"), so each step
//! carries that condition; [`resolve`] decides it against the current rules of the
//! namespace and gives the unconditional commands (the planner resolves against the
//! model of the host it plans for). Rules are built in the
//! canonical form iptables-save prints them back in (`-d 172.26.64.2/20` given by a plugin
//! is kept as `172.26.64.0/20`, `-s 127.0.0.1` as `127.0.0.1/32`), so they compare equal
//! to rules read back from the kernel.
//!
//! Order of one ADD: Nomad's NOMAD-ADMIN rule; then bridge (masquerade chain, rules,
//! POSTROUTING jump); firewall (CNI-FORWARD, admin chain, jumps inserted at the top, the
//! container's two rules appended); portmap (SETMARK and MASQ chains, MASQ jump inserted
//! first in POSTROUTING, CNI-HOSTPORT-DNAT with PREROUTING/OUTPUT jumps appended, the
//! container's DNAT chain, its rules and its jumps). DEL runs portmap, firewall, bridge in
//! reverse; see `docs/cni-facts.md` for what each leaves behind.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::cni_names::{
    FIREWALL_ADMIN_COMMENT, FIREWALL_RULES_COMMENT, FORWARD_CHAIN, HOSTPORT_DNAT_CHAIN,
    HOSTPORT_MASQ_CHAIN, HOSTPORT_SETMARK_CHAIN, MASQ_MARK, MULTIPORT_MAX, PORTFWD_MARK_COMMENT,
    PORTFWD_MASQ_COMMENT, masquerade_chain, masquerade_comment, portmap_dnat_chain,
    portmap_dnat_comment, portmap_old_snat_chain,
};
use super::ports::AssignedPort;
use crate::addr::{Cidr, IfAddr, Proto};
use crate::iptables::{
    AddrType, Command, CtStates, IfacePattern, Match, Neg, PortDir, PortRange, Rule, RuleRef,
    Ruleset, Table, Target,
};
use crate::names::ChainName;

/// One iptables action with the condition under which the plugin performs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IptStep {
    /// `-N CHAIN` unless the chain exists (`utils.EnsureChain`).
    EnsureChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
    },
    /// `-I CHAIN 1 RULE` unless the rule is in the chain (`InsertUnique(prepend)`).
    InsertUnique {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
        /// The rule, canonical.
        rule: Rule,
    },
    /// `-A CHAIN RULE` unless the rule is in the chain (`AppendUnique`).
    AppendUnique {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
        /// The rule, canonical.
        rule: Rule,
    },
    /// `-D CHAIN RULE` if the rule is there; a missing rule or chain is not an error.
    DeleteRule {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
        /// The rule, canonical.
        rule: Rule,
    },
    /// `-F CHAIN`, or `-N CHAIN` if it does not exist (`utils.ClearChain`).
    ClearChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
    },
    /// `-X CHAIN` if it exists.
    DeleteChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: ChainName,
    },
    /// `-D CHAIN RULE` for every rule of `chain` that jumps to `target` (portmap's
    /// teardown of its entry rules, found by listing the chain).
    DeleteJumpsTo {
        /// The table.
        table: Table,
        /// The chain listed.
        chain: ChainName,
        /// The jump target.
        target: ChainName,
    },
}

/// One entry of portmap's `runtimeConfig.portMappings`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PortMapping {
    /// `hostPort`.
    pub host_port: u16,
    /// `containerPort`.
    pub container_port: u16,
    /// `protocol`.
    pub proto: Proto,
    /// `hostIP`; `None` or 0.0.0.0 matches any local address.
    pub host_ip: Option<Ipv4Addr>,
}

/// The mappings Nomad passes to portmap for an allocation's ports (`getPortMapping`):
/// every port twice, tcp then udp, in the order of the allocation's ports.
pub fn nomad_port_mappings(ports: &[AssignedPort], host_ip: Option<Ipv4Addr>) -> Vec<PortMapping> {
    ports
        .iter()
        .flat_map(|p| {
            [Proto::Tcp, Proto::Udp].map(|proto| PortMapping {
                host_port: p.value,
                container_port: p.to,
                proto,
                host_ip,
            })
        })
        .collect()
}

/// A fixed chain name of the plugins.
fn chain(name: &str) -> ChainName {
    ChainName::new(name).unwrap_or_else(|e| unreachable!("plugin chain name {name:?}: {e}"))
}

/// A builtin chain name.
fn builtin(name: &'static str) -> ChainName {
    chain(name)
}

/// A rule with only a target; the builders below add to it.
fn rule(target: Target) -> Rule {
    Rule {
        src: None,
        dst: None,
        in_iface: None,
        out_iface: None,
        proto: None,
        matches: Vec::new(),
        target,
    }
}

fn comment(text: &str) -> Match {
    Match::Comment(text.into())
}

fn host(ip: Ipv4Addr) -> Option<Neg<Cidr>> {
    Some(Neg::plain(Cidr::host(ip)))
}

fn ensure(table: Table, chain: &ChainName) -> IptStep {
    IptStep::EnsureChain { table, chain: chain.clone() }
}

fn append(table: Table, chain: &ChainName, rule: Rule) -> IptStep {
    IptStep::AppendUnique { table, chain: chain.clone(), rule }
}

fn insert(table: Table, chain: &ChainName, rule: Rule) -> IptStep {
    IptStep::InsertUnique { table, chain: chain.clone(), rule }
}

fn delete(table: Table, chain: &ChainName, rule: Rule) -> IptStep {
    IptStep::DeleteRule { table, chain: chain.clone(), rule }
}

/// Nomad's admin rule: `-d SUBNET -o BRIDGE -j ACCEPT` (`generateAdminChainRule`).
pub fn nomad_admin_rule(bridge: &IfacePattern, subnet: Cidr) -> Rule {
    Rule {
        dst: Some(Neg::plain(subnet)),
        out_iface: Some(Neg::plain(bridge.clone())),
        ..rule(Target::Accept)
    }
}

/// What Nomad does before every bridge-mode ADD (`ensureChainRule`): the admin chain in
/// the filter table, with its rule appended unless present. Nomad never removes either.
pub fn nomad_admin_add(admin: &ChainName, bridge: &IfacePattern, subnet: Cidr) -> Vec<IptStep> {
    vec![
        ensure(Table::Filter, admin),
        append(Table::Filter, admin, nomad_admin_rule(bridge, subnet)),
    ]
}

/// The POSTROUTING jump into a container's masquerade chain `masq`, for source `src`;
/// `note` is the masquerade comment.
fn masq_jump(masq: &ChainName, note: &Arc<str>, src: Cidr) -> Rule {
    Rule {
        src: Some(Neg::plain(src)),
        matches: vec![Match::Comment(Arc::clone(note))],
        ..rule(Target::Jump(masq.clone()))
    }
}

/// The bridge plugin's masquerade setup for one container address (`ip.SetupIPMasq`).
pub fn bridge_masq_add(network: &str, container_id: &str, addr: IfAddr) -> Vec<IptStep> {
    let masq = masquerade_chain(network, container_id);
    let text: Arc<str> = masquerade_comment(network, container_id).into();
    let note = || vec![Match::Comment(Arc::clone(&text))];
    let multicast = Cidr::containing(Ipv4Addr::new(224, 0, 0, 0), 4);
    vec![
        ensure(Table::Nat, &masq),
        append(
            Table::Nat,
            &masq,
            Rule { dst: Some(Neg::plain(addr.network())), matches: note(), ..rule(Target::Accept) },
        ),
        append(
            Table::Nat,
            &masq,
            Rule {
                dst: Some(Neg { negated: true, value: multicast }),
                matches: note(),
                ..rule(Target::Masquerade)
            },
        ),
        append(Table::Nat, &builtin("POSTROUTING"), masq_jump(&masq, &text, Cidr::host(addr.ip))),
    ]
}

/// The bridge plugin's masquerade teardown at DEL (`ip.TeardownIPMasq`). It only runs
/// for addresses found on the container's interface: if the namespace or the interface is
/// already gone, pass `None` and nothing is removed (the chain and its jump leak).
pub fn bridge_masq_del(network: &str, container_id: &str, addr: Option<IfAddr>) -> Vec<IptStep> {
    let Some(addr) = addr else { return Vec::new() };
    let masq = masquerade_chain(network, container_id);
    let text: Arc<str> = masquerade_comment(network, container_id).into();
    let post = builtin("POSTROUTING");
    vec![
        delete(Table::Nat, &post, masq_jump(&masq, &text, Cidr::host(addr.ip))),
        // "for downward compatibility": the same jump written with the subnet's prefix.
        delete(Table::Nat, &post, masq_jump(&masq, &text, addr.network())),
        IptStep::ClearChain { table: Table::Nat, chain: masq.clone() },
        IptStep::DeleteChain { table: Table::Nat, chain: masq },
    ]
}

fn firewall_ip_rules(ip: Ipv4Addr) -> [Rule; 2] {
    let established = CtStates::RELATED.union(CtStates::ESTABLISHED);
    [
        Rule {
            dst: host(ip),
            matches: vec![Match::Conntrack { ctstate: Neg::plain(established) }],
            ..rule(Target::Accept)
        },
        Rule { src: host(ip), ..rule(Target::Accept) },
    ]
}

/// The firewall plugin's ADD (iptables backend) for the container's IPv4 addresses:
/// [`firewall_setup`], then [`firewall_ip_steps`].
pub fn firewall_add(admin: &ChainName, ips: &[Ipv4Addr]) -> Vec<IptStep> {
    if ips.is_empty() {
        return Vec::new();
    }
    let mut steps = firewall_setup(admin);
    steps.extend(firewall_ip_steps(ips));
    steps
}

/// The part of the firewall plugin's ADD that is the same for every container: its
/// chain, the admin chain, and the jumps inserted at the top.
pub fn firewall_setup(admin: &ChainName) -> Vec<IptStep> {
    let fwd = chain(FORWARD_CHAIN);
    vec![
        ensure(Table::Filter, &fwd),
        ensure(Table::Filter, admin),
        insert(
            Table::Filter,
            &builtin("FORWARD"),
            Rule {
                matches: vec![comment(FIREWALL_RULES_COMMENT)],
                ..rule(Target::Jump(fwd.clone()))
            },
        ),
        insert(
            Table::Filter,
            &fwd,
            Rule {
                matches: vec![comment(FIREWALL_ADMIN_COMMENT)],
                ..rule(Target::Jump(admin.clone()))
            },
        ),
    ]
}

/// The firewall plugin's two rules per container address, appended to its chain.
pub fn firewall_ip_steps(ips: &[Ipv4Addr]) -> Vec<IptStep> {
    let fwd = chain(FORWARD_CHAIN);
    ips.iter()
        .flat_map(|ip| firewall_ip_rules(*ip).map(|r| append(Table::Filter, &fwd, r)))
        .collect()
}

/// The firewall plugin's DEL: the container's rules go (from the cached result, so also
/// when the namespace is gone); the chains and jumps stay.
pub fn firewall_del(ips: &[Ipv4Addr]) -> Vec<IptStep> {
    let fwd = chain(FORWARD_CHAIN);
    ips.iter()
        .flat_map(|ip| firewall_ip_rules(*ip).map(|r| delete(Table::Filter, &fwd, r)))
        .collect()
}

/// What portmap does, split where it writes `route_localnet` in between.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PortmapAdd {
    /// The SETMARK and MASQ chains, their rules and the POSTROUTING jump.
    pub before_localnet: Vec<IptStep>,
    /// Whether `net.ipv4.conf.<bridge>.route_localnet=1` is written next.
    pub route_localnet: bool,
    /// CNI-HOSTPORT-DNAT, its entry jumps, the container's DNAT chain and jumps.
    pub after_localnet: Vec<IptStep>,
}

impl PortmapAdd {
    /// All iptables steps in order (without the sysctl).
    pub fn steps(&self) -> impl Iterator<Item = &IptStep> {
        self.before_localnet.iter().chain(&self.after_localnet)
    }
}

fn port_match(proto: Proto, port: u16) -> Match {
    let dport = Some(Neg::plain(PortRange::one(port)));
    match proto {
        Proto::Udp => Match::Udp { sport: None, dport },
        _ => Match::Tcp { sport: None, dport },
    }
}

/// portmap's ADD for one container address (`forwardPorts` with `snat: true`). No
/// mappings, no work: not even the shared chains or `route_localnet`. Made of
/// [`portmap_shared_masq`], the sysctl, [`portmap_shared_dnat`] and [`portmap_container`].
pub fn portmap_add(
    network: &str,
    container_id: &str,
    addr: IfAddr,
    mappings: &[PortMapping],
) -> PortmapAdd {
    if mappings.is_empty() {
        return PortmapAdd::default();
    }
    let mut after = portmap_shared_dnat();
    after.extend(portmap_container(network, container_id, addr, mappings));
    PortmapAdd {
        before_localnet: portmap_shared_masq(),
        route_localnet: true,
        after_localnet: after,
    }
}

/// portmap's shared SETMARK and MASQ chains, their rules and the POSTROUTING jump (the
/// same for every container; before `route_localnet`).
pub fn portmap_shared_masq() -> Vec<IptStep> {
    let (setmark, masq) = (chain(HOSTPORT_SETMARK_CHAIN), chain(HOSTPORT_MASQ_CHAIN));
    vec![
        ensure(Table::Nat, &setmark),
        append(
            Table::Nat,
            &setmark,
            Rule {
                matches: vec![comment(PORTFWD_MARK_COMMENT)],
                ..rule(Target::Mark { value: MASQ_MARK, mask: MASQ_MARK })
            },
        ),
        ensure(Table::Nat, &masq),
        append(
            Table::Nat,
            &masq,
            Rule {
                matches: vec![Match::Mark { negated: false, value: MASQ_MARK, mask: MASQ_MARK }],
                ..rule(Target::Masquerade)
            },
        ),
        insert(
            Table::Nat,
            &builtin("POSTROUTING"),
            Rule {
                matches: vec![comment(PORTFWD_MASQ_COMMENT)],
                ..rule(Target::Jump(masq.clone()))
            },
        ),
    ]
}

/// portmap's shared CNI-HOSTPORT-DNAT chain and its PREROUTING and OUTPUT jumps (the same
/// for every container; after `route_localnet`).
pub fn portmap_shared_dnat() -> Vec<IptStep> {
    let dnat = chain(HOSTPORT_DNAT_CHAIN);
    let mut steps = vec![ensure(Table::Nat, &dnat)];
    let local = Match::AddrType { src: None, dst: Some(Neg::plain(AddrType::Local)) };
    for entry in ["PREROUTING", "OUTPUT"] {
        steps.push(append(
            Table::Nat,
            &builtin(entry),
            Rule { matches: vec![local.clone()], ..rule(Target::Jump(dnat.clone())) },
        ));
    }
    steps
}

/// portmap's work for one container: its DNAT chain, three rules per mapping, and the
/// multiport jumps to it from CNI-HOSTPORT-DNAT.
pub fn portmap_container(
    network: &str,
    container_id: &str,
    addr: IfAddr,
    mappings: &[PortMapping],
) -> Vec<IptStep> {
    let (setmark, dnat) = (chain(HOSTPORT_SETMARK_CHAIN), chain(HOSTPORT_DNAT_CHAIN));
    let dn = portmap_dnat_chain(network, container_id);
    // The chain, three rules per mapping, and a jump per protocol and 15 ports.
    let mut after = Vec::with_capacity(3 + 3 * mappings.len() + mappings.len() / MULTIPORT_MAX);
    after.push(ensure(Table::Nat, &dn));
    for m in mappings {
        let dst = match m.host_ip {
            Some(ip) if !ip.is_unspecified() => host(ip),
            _ => None,
        };
        let base = |target: Target| Rule {
            dst,
            proto: Some(Neg::plain(m.proto)),
            matches: vec![port_match(m.proto, m.host_port)],
            ..rule(target)
        };
        let mark = || Target::Jump(setmark.clone());
        after.push(append(
            Table::Nat,
            &dn,
            Rule { src: Some(Neg::plain(addr.network())), ..base(mark()) },
        ));
        after.push(append(
            Table::Nat,
            &dn,
            Rule { src: host(Ipv4Addr::LOCALHOST), ..base(mark()) },
        ));
        after.push(append(
            Table::Nat,
            &dn,
            base(Target::Dnat { ip: addr.ip, ports: Some(PortRange::one(m.container_port)) }),
        ));
    }
    let note: Arc<str> = portmap_dnat_comment(network, container_id).into();
    for (proto, ports) in ports_by_proto(mappings) {
        for chunk in ports.chunks(MULTIPORT_MAX) {
            after.push(append(
                Table::Nat,
                &dnat,
                Rule {
                    proto: Some(Neg::plain(proto)),
                    matches: vec![
                        Match::Comment(Arc::clone(&note)),
                        Match::Multiport {
                            dir: PortDir::Destination,
                            ports: Neg::plain(chunk.iter().map(|p| PortRange::one(*p)).collect()),
                        },
                    ],
                    ..rule(Target::Jump(dn.clone()))
                },
            ));
        }
    }
    after
}

/// Host ports per protocol, protocols sorted by name, ports in mapping order, duplicates
/// kept (`groupByProto`).
fn ports_by_proto(mappings: &[PortMapping]) -> Vec<(Proto, Vec<u16>)> {
    let mut out: Vec<(Proto, Vec<u16>)> = Vec::new();
    for m in mappings {
        match out.iter_mut().find(|(p, _)| *p == m.proto) {
            Some((_, ports)) => ports.push(m.host_port),
            None => out.push((m.proto, vec![m.host_port])),
        }
    }
    out.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    out
}

/// portmap's DEL (`unforwardPorts`). Without mappings it does nothing, so the DNAT chain
/// of a container whose DEL is not given its mappings leaks. With mappings: the DNAT
/// chain is flushed (created if missing), the jumps to it are deleted, the chain deleted;
/// then the chain of a long-gone version (`CNI-SN-...`) is created and deleted again.
pub fn portmap_del(network: &str, container_id: &str, mappings: &[PortMapping]) -> Vec<IptStep> {
    if mappings.is_empty() {
        return Vec::new();
    }
    let dn = portmap_dnat_chain(network, container_id);
    let sn = portmap_old_snat_chain(network, container_id);
    vec![
        IptStep::ClearChain { table: Table::Nat, chain: dn.clone() },
        IptStep::DeleteJumpsTo {
            table: Table::Nat,
            chain: chain(HOSTPORT_DNAT_CHAIN),
            target: dn.clone(),
        },
        IptStep::DeleteChain { table: Table::Nat, chain: dn },
        IptStep::ClearChain { table: Table::Nat, chain: sn.clone() },
        IptStep::DeleteChain { table: Table::Nat, chain: sn },
    ]
}

/// Whether `chain` of `table` holds `rule` (as `iptables -C` answers). The rules built
/// here are canonical by construction, so they compare as they are.
fn has_rule(rules: &Ruleset, table: Table, chain: &ChainName, rule: &Rule) -> bool {
    debug_assert_eq!(*rule, rule.canonical(), "plugin rules are built canonical");
    rules.table(table).contains_rule(chain.as_str(), rule)
}

fn has_chain(rules: &Ruleset, table: Table, chain: &ChainName) -> bool {
    rules.table(table).chain(chain.as_str()).is_some()
}

/// What a step comes to against the current rules.
enum Decision {
    /// Nothing to do.
    Skip,
    /// The step's own command (`-N`, `-I 1`, `-A`, `-D`, `-X`).
    Run,
    /// `ClearChain` of a missing chain: `-N`.
    Create,
    /// `DeleteJumpsTo`: `-D` of each of these rules.
    DeleteEach(Vec<Rule>),
}

fn decide(step: &IptStep, rules: &Ruleset) -> Decision {
    let run = |yes: bool| if yes { Decision::Run } else { Decision::Skip };
    match step {
        IptStep::EnsureChain { table, chain } => run(!has_chain(rules, *table, chain)),
        IptStep::InsertUnique { table, chain, rule }
        | IptStep::AppendUnique { table, chain, rule } => {
            run(!has_rule(rules, *table, chain, rule))
        }
        IptStep::DeleteRule { table, chain, rule } => run(has_rule(rules, *table, chain, rule)),
        IptStep::ClearChain { table, chain } if has_chain(rules, *table, chain) => Decision::Run,
        IptStep::ClearChain { .. } => Decision::Create,
        IptStep::DeleteChain { table, chain } => run(has_chain(rules, *table, chain)),
        IptStep::DeleteJumpsTo { table, chain, target } => Decision::DeleteEach(
            rules
                .table(*table)
                .chain(chain.as_str())
                .into_iter()
                .flat_map(|c| &c.rules)
                .filter(|r| r.target.chain() == Some(target))
                .cloned()
                .collect(),
        ),
    }
}

/// The commands a plugin runs for `step` in a namespace whose rules are `rules`: the
/// step's condition decided, the result unconditional (`-N` only for a missing chain,
/// `-A` only for a missing rule, `-D` for each rule found, ...). Apply the commands before
/// resolving the next step: later steps see what earlier ones did.
pub fn resolve(step: IptStep, rules: &Ruleset) -> Vec<(Table, Command)> {
    let decision = decide(&step, rules);
    let (table, chain) = step.target();
    let (table, chain) = (table, chain.clone());
    match (decision, step) {
        (Decision::Skip, _) => Vec::new(),
        (Decision::Create, _) => vec![(table, Command::NewChain(chain))],
        (Decision::DeleteEach(found), _) => found
            .into_iter()
            .map(|r| (table, Command::Delete(chain.clone(), RuleRef::Spec(r))))
            .collect(),
        (Decision::Run, step) => vec![(table, step.into_command())],
    }
}

/// [`resolve`] for a step that is kept (a template the planner reuses on every ADD):
/// decides without cloning and clones only what it emits.
pub fn resolve_ref(step: &IptStep, rules: &Ruleset) -> Vec<(Table, Command)> {
    match decide(step, rules) {
        Decision::Skip => Vec::new(),
        _ => resolve(step.clone(), rules),
    }
}

impl IptStep {
    /// The table and chain the step works on.
    pub fn target(&self) -> (Table, &ChainName) {
        match self {
            IptStep::EnsureChain { table, chain }
            | IptStep::InsertUnique { table, chain, .. }
            | IptStep::AppendUnique { table, chain, .. }
            | IptStep::DeleteRule { table, chain, .. }
            | IptStep::ClearChain { table, chain }
            | IptStep::DeleteChain { table, chain }
            | IptStep::DeleteJumpsTo { table, chain, .. } => (*table, chain),
        }
    }

    /// The step's own command, run unconditionally. `DeleteJumpsTo` has none (it lists the
    /// chain and deletes what it finds), so [`decide`] never asks for it.
    fn into_command(self) -> Command {
        match self {
            IptStep::EnsureChain { chain, .. } => Command::NewChain(chain),
            IptStep::InsertUnique { chain, rule, .. } => Command::Insert(chain, 1, rule),
            IptStep::AppendUnique { chain, rule, .. } => Command::Append(chain, rule),
            IptStep::DeleteRule { chain, rule, .. } => Command::Delete(chain, RuleRef::Spec(rule)),
            IptStep::ClearChain { chain, .. } => Command::Flush(Some(chain)),
            IptStep::DeleteJumpsTo { .. } => unreachable!("DeleteJumpsTo decides DeleteEach"),
            IptStep::DeleteChain { chain, .. } => Command::DeleteChain(chain),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomad_maps_every_port_for_tcp_then_udp() {
        let ports = [AssignedPort {
            label: "redis".into(),
            value: 23417,
            to: 6379,
            host_ip: Ipv4Addr::new(192, 0, 2, 10),
        }];
        let m = nomad_port_mappings(&ports, None);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].proto, m[1].proto), (Proto::Tcp, Proto::Udp));
        assert_eq!((m[1].host_port, m[1].container_port), (23417, 6379));
    }

    #[test]
    fn portmap_without_mappings_does_nothing_at_add_and_del() {
        let addr: IfAddr = "172.26.64.2/20".parse().expect("addr");
        assert_eq!(portmap_add("nomad", "x", addr, &[]), PortmapAdd::default());
        assert!(portmap_del("nomad", "x", &[]).is_empty());
    }

    #[test]
    fn bridge_del_without_the_interface_removes_nothing() {
        assert!(bridge_masq_del("nomad", "x", None).is_empty());
    }

    #[test]
    fn masquerade_accept_rule_keeps_the_network_not_the_host_address() {
        let addr: IfAddr = "172.26.64.2/20".parse().expect("addr");
        let steps = bridge_masq_add("nomad", "x", addr);
        let IptStep::AppendUnique { rule, .. } = &steps[1] else { panic!("{steps:?}") };
        assert_eq!(rule.dst.map(|d| d.value.to_string()), Some("172.26.64.0/20".into()));
    }

    #[test]
    fn more_than_fifteen_ports_split_into_several_jumps() {
        let addr: IfAddr = "172.26.64.2/20".parse().expect("addr");
        let maps: Vec<PortMapping> = (1..=16)
            .map(|p| PortMapping {
                host_port: p,
                container_port: 80,
                proto: Proto::Tcp,
                host_ip: None,
            })
            .collect();
        let add = portmap_add("nomad", "x", addr, &maps);
        let jumps = add
            .after_localnet
            .iter()
            .filter(|s| matches!(s, IptStep::AppendUnique { chain, .. } if chain.as_str() == HOSTPORT_DNAT_CHAIN))
            .count();
        assert_eq!(jumps, 2);
        assert!(add.route_localnet);
    }
}
