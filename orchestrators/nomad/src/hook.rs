//! What Nomad's bridge network hook does itself around the CNI chain
//! (`client/allocrunner/networking_bridge_linux.go`, `networking_iptables.go`): the
//! NOMAD-ADMIN chain and its rule before every ADD, and the port mappings it hands to
//! portmap.

use std::net::Ipv4Addr;

use nettwin_cni::portmap::PortMapping;
use nettwin_cni::steps::IptStep;
use nettwin_core::addr::{Cidr, Proto};
use nettwin_core::iptables::{IfacePattern, Neg, Rule, Table, Target};
use nettwin_core::names::ChainName;

use crate::ports::AssignedPort;

/// The admin chain Nomad names in its conflist (`cniAdminChainName` in
/// `client/allocrunner/networking_iptables.go`).
pub const NOMAD_ADMIN_CHAIN: &str = "NOMAD-ADMIN";

/// The `CNI_ARGS` Nomad runs its conflist with for an allocation.
pub fn cni_args(alloc_id: &str) -> String {
    format!("IgnoreUnknown=true;NOMAD_ALLOC_ID={alloc_id}")
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

/// Nomad's admin rule: `-d SUBNET -o BRIDGE -j ACCEPT` (`generateAdminChainRule`).
pub fn nomad_admin_rule(bridge: &IfacePattern, subnet: Cidr) -> Rule {
    Rule {
        dst: Some(Neg::plain(subnet)),
        out_iface: Some(Neg::plain(bridge.clone())),
        target: Target::Accept,
        ..Rule::default()
    }
}

/// What Nomad does before every bridge-mode ADD (`ensureChainRule`): the admin chain in
/// the filter table, with its rule appended unless present. Nomad never removes either.
pub fn nomad_admin_add(admin: &ChainName, bridge: &IfacePattern, subnet: Cidr) -> Vec<IptStep> {
    vec![
        IptStep::EnsureChain { table: Table::Filter, chain: admin.clone() },
        IptStep::AppendUnique {
            table: Table::Filter,
            chain: admin.clone(),
            rule: nomad_admin_rule(bridge, subnet),
        },
    ]
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
}
