//! The firewall plugin's iptables backend: its CNI-FORWARD chain and the admin chain,
//! entered from FORWARD, and two rules per container address.

use std::net::Ipv4Addr;

use nettwin_core::iptables::{CtStates, Match, Neg, Rule, Table, Target};
use nettwin_core::names::ChainName;

use nettwin_core::static_name;

use crate::names::{FIREWALL_ADMIN_COMMENT, FIREWALL_RULES_COMMENT, FORWARD_CHAIN};
use crate::steps::{IptStep, append, comment, delete, ensure, host, insert, rule};

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
    let fwd = static_name!(ChainName, FORWARD_CHAIN);
    vec![
        ensure(Table::Filter, &fwd),
        ensure(Table::Filter, admin),
        insert(
            Table::Filter,
            &static_name!(ChainName, "FORWARD"),
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
    let fwd = static_name!(ChainName, FORWARD_CHAIN);
    ips.iter()
        .flat_map(|ip| firewall_ip_rules(*ip).map(|r| append(Table::Filter, &fwd, r)))
        .collect()
}

/// The firewall plugin's DEL: the container's rules go (from the cached result, so also
/// when the namespace is gone); the chains and jumps stay.
pub fn firewall_del(ips: &[Ipv4Addr]) -> Vec<IptStep> {
    let fwd = static_name!(ChainName, FORWARD_CHAIN);
    ips.iter()
        .flat_map(|ip| firewall_ip_rules(*ip).map(|r| delete(Table::Filter, &fwd, r)))
        .collect()
}
