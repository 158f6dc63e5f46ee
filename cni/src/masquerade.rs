//! The bridge plugin's IP masquerade (`ipMasq: true`, `ip.SetupIPMasq` and
//! `ip.TeardownIPMasq`): a per-container nat chain that accepts the container's own subnet
//! and masquerades the rest but multicast, entered from POSTROUTING for the container's
//! address.

use std::net::Ipv4Addr;
use std::sync::Arc;

use nettwin_core::addr::{Cidr, IfAddr};
use nettwin_core::iptables::{Match, Neg, Rule, Table, Target};
use nettwin_core::names::ChainName;

use nettwin_core::static_name;

use crate::names::{masquerade_chain, masquerade_comment};
use crate::steps::{IptStep, append, delete, ensure, rule};

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
                ..rule(Target::MASQUERADE)
            },
        ),
        append(
            Table::Nat,
            &static_name!(ChainName, "POSTROUTING"),
            masq_jump(&masq, &text, Cidr::host(addr.ip)),
        ),
    ]
}

/// The bridge plugin's masquerade teardown at DEL (`ip.TeardownIPMasq`). It only runs
/// for addresses found on the container's interface: if the namespace or the interface is
/// already gone, pass `None` and nothing is removed (the chain and its jump leak).
pub fn bridge_masq_del(network: &str, container_id: &str, addr: Option<IfAddr>) -> Vec<IptStep> {
    let Some(addr) = addr else { return Vec::new() };
    let masq = masquerade_chain(network, container_id);
    let text: Arc<str> = masquerade_comment(network, container_id).into();
    let post = static_name!(ChainName, "POSTROUTING");
    vec![
        delete(Table::Nat, &post, masq_jump(&masq, &text, Cidr::host(addr.ip))),
        // "for downward compatibility": the same jump written with the subnet's prefix.
        delete(Table::Nat, &post, masq_jump(&masq, &text, addr.network())),
        IptStep::ClearChain { table: Table::Nat, chain: masq.clone() },
        IptStep::DeleteChain { table: Table::Nat, chain: masq },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
