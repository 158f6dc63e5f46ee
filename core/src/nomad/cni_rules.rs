//! The iptables work of Nomad and of each CNI plugin in its conflist (containernetworking
//! /plugins v1.1.1), in the order they do it, as data.
//!
//! Every plugin is idempotent in its own way ("create the chain unless it exists", "insert
//! at the top unless the rule is there", "delete, ignoring not found"), so each step
//! carries that condition; whoever executes the steps resolves it against the current rule
//! set. Rules are written in iptables-save's canonical form (what `iptables-save` prints
//! after `-A CHAIN`), which is also how the twin compares rules.
//!
//! Order of one ADD: Nomad's NOMAD-ADMIN rule; then bridge (masquerade chain, rules,
//! POSTROUTING jump); firewall (CNI-FORWARD, admin chain, jumps inserted at the top, the
//! container's two rules appended); portmap (SETMARK and MASQ chains, MASQ jump inserted
//! first in POSTROUTING, CNI-HOSTPORT-DNAT with PREROUTING/OUTPUT jumps appended, the
//! container's DNAT chain, its rules and its jumps). DEL runs portmap, firewall, bridge in
//! reverse; see `docs/cni-facts.md` for what each leaves behind.

use std::fmt;
use std::net::Ipv4Addr;

use super::cni_names::{
    FIREWALL_ADMIN_COMMENT, FIREWALL_RULES_COMMENT, FORWARD_CHAIN, HOSTPORT_DNAT_CHAIN,
    HOSTPORT_MASQ_CHAIN, HOSTPORT_SETMARK_CHAIN, MASQ_MARK, MULTICAST_NET, MULTIPORT_MAX,
    PORTFWD_MARK_COMMENT, PORTFWD_MASQ_COMMENT, masquerade_chain, masquerade_comment,
    portmap_dnat_chain, portmap_dnat_comment,
};
use super::ports::AssignedPort;
use crate::addr::{Cidr, IfAddr, Proto};
use crate::iptables::Table;

/// One iptables action with the condition under which the plugin performs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IptStep {
    /// `-N CHAIN` unless the chain exists (`utils.EnsureChain`).
    EnsureChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: String,
    },
    /// `-I CHAIN 1 RULE` unless the rule is in the chain (`InsertUnique(prepend)`).
    InsertUnique {
        /// The table.
        table: Table,
        /// The chain.
        chain: String,
        /// The rule, canonical.
        rule: String,
    },
    /// `-A CHAIN RULE` unless the rule is in the chain (`AppendUnique`).
    AppendUnique {
        /// The table.
        table: Table,
        /// The chain.
        chain: String,
        /// The rule, canonical.
        rule: String,
    },
    /// `-D CHAIN RULE` if the rule is there; a missing rule or chain is not an error.
    DeleteRule {
        /// The table.
        table: Table,
        /// The chain.
        chain: String,
        /// The rule, canonical.
        rule: String,
    },
    /// `-F CHAIN`, or `-N CHAIN` if it does not exist (`utils.ClearChain`).
    ClearChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: String,
    },
    /// `-X CHAIN` if it exists.
    DeleteChain {
        /// The table.
        table: Table,
        /// The chain.
        chain: String,
    },
    /// `-D CHAIN RULE` for every rule of `chain` that ends in `-j TARGET` (portmap's
    /// teardown of its entry rules, found by listing).
    DeleteJumpsTo {
        /// The table.
        table: Table,
        /// The chain listed.
        chain: String,
        /// The jump target.
        target: String,
    },
}

impl fmt::Display for IptStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IptStep::EnsureChain { table, chain } => {
                write!(f, "-t {table} -N {chain} (unless it exists)")
            }
            IptStep::InsertUnique { table, chain, rule } => {
                write!(f, "-t {table} -I {chain} 1 {rule} (unless present)")
            }
            IptStep::AppendUnique { table, chain, rule } => {
                write!(f, "-t {table} -A {chain} {rule} (unless present)")
            }
            IptStep::DeleteRule { table, chain, rule } => {
                write!(f, "-t {table} -D {chain} {rule} (if present)")
            }
            IptStep::ClearChain { table, chain } => {
                write!(f, "-t {table} -F {chain} (-N if missing)")
            }
            IptStep::DeleteChain { table, chain } => {
                write!(f, "-t {table} -X {chain} (if present)")
            }
            IptStep::DeleteJumpsTo { table, chain, target } => {
                write!(f, "-t {table} -D {chain} <each rule ending in -j {target}>")
            }
        }
    }
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

/// Quotes a string argument as `iptables-save` prints it (`xtables_save_string`): bare if
/// it is made only of letters, digits, `_` and `-`; otherwise in double quotes with `"`,
/// `\` and `'` escaped by a backslash.
pub fn save_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn step_chain(table: Table, chain: &str) -> IptStep {
    IptStep::EnsureChain { table, chain: chain.to_owned() }
}

fn append(table: Table, chain: &str, rule: String) -> IptStep {
    IptStep::AppendUnique { table, chain: chain.to_owned(), rule }
}

fn insert(table: Table, chain: &str, rule: String) -> IptStep {
    IptStep::InsertUnique { table, chain: chain.to_owned(), rule }
}

fn delete(table: Table, chain: &str, rule: String) -> IptStep {
    IptStep::DeleteRule { table, chain: chain.to_owned(), rule }
}

/// What Nomad does before every bridge-mode ADD (`ensureChainRule`): the admin chain in
/// the filter table, with `-A ADMIN -o BRIDGE -d SUBNET -j ACCEPT` unless present.
/// Nomad never removes either.
pub fn nomad_admin_add(admin_chain: &str, bridge: &str, subnet: Cidr) -> Vec<IptStep> {
    vec![
        step_chain(Table::Filter, admin_chain),
        append(Table::Filter, admin_chain, format!("-d {subnet} -o {bridge} -j ACCEPT")),
    ]
}

/// The bridge plugin's masquerade setup for one container address (`ip.SetupIPMasq`).
pub fn bridge_masq_add(network: &str, container_id: &str, addr: IfAddr) -> Vec<IptStep> {
    let chain = masquerade_chain(network, container_id);
    let chain = chain.as_str();
    let comment = save_quote(&masquerade_comment(network, container_id));
    vec![
        step_chain(Table::Nat, chain),
        append(
            Table::Nat,
            chain,
            format!("-d {} -m comment --comment {comment} -j ACCEPT", addr.network()),
        ),
        append(
            Table::Nat,
            chain,
            format!("! -d {MULTICAST_NET} -m comment --comment {comment} -j MASQUERADE"),
        ),
        append(
            Table::Nat,
            "POSTROUTING",
            format!("-s {}/32 -m comment --comment {comment} -j {chain}", addr.ip),
        ),
    ]
}

/// The bridge plugin's masquerade teardown at DEL (`ip.TeardownIPMasq`). It only runs
/// for addresses found on the container's interface: if the namespace or the interface is
/// already gone, pass `None` and nothing is removed (the chain and its jump leak).
pub fn bridge_masq_del(network: &str, container_id: &str, addr: Option<IfAddr>) -> Vec<IptStep> {
    let Some(addr) = addr else { return Vec::new() };
    let chain = masquerade_chain(network, container_id);
    let chain = chain.as_str();
    let comment = save_quote(&masquerade_comment(network, container_id));
    vec![
        delete(
            Table::Nat,
            "POSTROUTING",
            format!("-s {}/32 -m comment --comment {comment} -j {chain}", addr.ip),
        ),
        // "for downward compatibility": the same jump written with the subnet's prefix.
        delete(
            Table::Nat,
            "POSTROUTING",
            format!("-s {} -m comment --comment {comment} -j {chain}", addr.network()),
        ),
        IptStep::ClearChain { table: Table::Nat, chain: chain.to_owned() },
        IptStep::DeleteChain { table: Table::Nat, chain: chain.to_owned() },
    ]
}

fn firewall_ip_rules(ip: Ipv4Addr) -> [String; 2] {
    [
        format!("-d {ip}/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        format!("-s {ip}/32 -j ACCEPT"),
    ]
}

/// The firewall plugin's ADD (iptables backend) for the container's IPv4 addresses.
pub fn firewall_add(admin_chain: &str, ips: &[Ipv4Addr]) -> Vec<IptStep> {
    if ips.is_empty() {
        return Vec::new();
    }
    let mut steps = vec![
        step_chain(Table::Filter, FORWARD_CHAIN),
        step_chain(Table::Filter, admin_chain),
        insert(
            Table::Filter,
            "FORWARD",
            format!(
                "-m comment --comment {} -j {FORWARD_CHAIN}",
                save_quote(FIREWALL_RULES_COMMENT)
            ),
        ),
        insert(
            Table::Filter,
            FORWARD_CHAIN,
            format!("-m comment --comment {} -j {admin_chain}", save_quote(FIREWALL_ADMIN_COMMENT)),
        ),
    ];
    for ip in ips {
        steps.extend(firewall_ip_rules(*ip).map(|r| append(Table::Filter, FORWARD_CHAIN, r)));
    }
    steps
}

/// The firewall plugin's DEL: the container's rules go (from the cached result, so also
/// when the namespace is gone); the chains and jumps stay.
pub fn firewall_del(ips: &[Ipv4Addr]) -> Vec<IptStep> {
    ips.iter()
        .flat_map(|ip| firewall_ip_rules(*ip).map(|r| delete(Table::Filter, FORWARD_CHAIN, r)))
        .collect()
}

/// portmap's ADD for one container address (`forwardPorts` with `snat: true`). No
/// mappings, no work: not even the shared chains are created.
pub fn portmap_add(
    network: &str,
    container_id: &str,
    addr: IfAddr,
    mappings: &[PortMapping],
) -> Vec<IptStep> {
    if mappings.is_empty() {
        return Vec::new();
    }
    let mark = format!("{MASQ_MARK:#x}/{MASQ_MARK:#x}");
    let mut steps = vec![
        step_chain(Table::Nat, HOSTPORT_SETMARK_CHAIN),
        append(
            Table::Nat,
            HOSTPORT_SETMARK_CHAIN,
            format!(
                "-m comment --comment {} -j MARK --set-xmark {mark}",
                save_quote(PORTFWD_MARK_COMMENT)
            ),
        ),
        step_chain(Table::Nat, HOSTPORT_MASQ_CHAIN),
        append(Table::Nat, HOSTPORT_MASQ_CHAIN, format!("-m mark --mark {mark} -j MASQUERADE")),
        insert(
            Table::Nat,
            "POSTROUTING",
            format!(
                "-m comment --comment {} -j {HOSTPORT_MASQ_CHAIN}",
                save_quote(PORTFWD_MASQ_COMMENT)
            ),
        ),
        step_chain(Table::Nat, HOSTPORT_DNAT_CHAIN),
    ];
    for entry in ["PREROUTING", "OUTPUT"] {
        steps.push(append(
            Table::Nat,
            entry,
            format!("-m addrtype --dst-type LOCAL -j {HOSTPORT_DNAT_CHAIN}"),
        ));
    }
    let dn = portmap_dnat_chain(network, container_id);
    let dn = dn.as_str();
    steps.push(step_chain(Table::Nat, dn));
    for m in mappings {
        let dst = match m.host_ip {
            Some(ip) if !ip.is_unspecified() => format!("-d {ip}/32 "),
            _ => String::new(),
        };
        let proto = m.proto;
        let port = format!("{dst}-p {proto} -m {proto} --dport {}", m.host_port);
        steps.push(append(
            Table::Nat,
            dn,
            format!("-s {} {port} -j {HOSTPORT_SETMARK_CHAIN}", addr.network()),
        ));
        steps.push(append(
            Table::Nat,
            dn,
            format!("-s 127.0.0.1/32 {port} -j {HOSTPORT_SETMARK_CHAIN}"),
        ));
        steps.push(append(
            Table::Nat,
            dn,
            format!("{port} -j DNAT --to-destination {}:{}", addr.ip, m.container_port),
        ));
    }
    let comment = save_quote(&portmap_dnat_comment(network, container_id));
    for (proto, ports) in ports_by_proto(mappings) {
        for chunk in ports.chunks(MULTIPORT_MAX) {
            let list: Vec<String> = chunk.iter().map(u16::to_string).collect();
            steps.push(append(
                Table::Nat,
                HOSTPORT_DNAT_CHAIN,
                format!(
                    "-p {proto} -m comment --comment {comment} -m multiport --dports {} -j {dn}",
                    list.join(",")
                ),
            ));
        }
    }
    steps
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
    let dn = portmap_dnat_chain(network, container_id).as_str().to_owned();
    let sn = super::cni_names::portmap_old_snat_chain(network, container_id).as_str().to_owned();
    vec![
        IptStep::ClearChain { table: Table::Nat, chain: dn.clone() },
        IptStep::DeleteJumpsTo {
            table: Table::Nat,
            chain: HOSTPORT_DNAT_CHAIN.to_owned(),
            target: dn.clone(),
        },
        IptStep::DeleteChain { table: Table::Nat, chain: dn },
        IptStep::ClearChain { table: Table::Nat, chain: sn.clone() },
        IptStep::DeleteChain { table: Table::Nat, chain: sn },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_quote_leaves_plain_words_bare_and_escapes_quotes() {
        assert_eq!(save_quote("extra"), "extra");
        assert_eq!(save_quote("CNI portfwd masquerade mark"), "\"CNI portfwd masquerade mark\"");
        assert_eq!(save_quote(r#"name: "nomad" id: "x""#), r#""name: \"nomad\" id: \"x\"""#);
        assert_eq!(save_quote(""), "\"\"");
    }

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
        assert!(portmap_add("nomad", "x", addr, &[]).is_empty());
        assert!(portmap_del("nomad", "x", &[]).is_empty());
    }

    #[test]
    fn bridge_del_without_the_interface_removes_nothing() {
        assert!(bridge_masq_del("nomad", "x", None).is_empty());
    }
}
