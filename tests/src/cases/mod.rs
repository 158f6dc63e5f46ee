//! Generators of cases: small name and address spaces, so that random ops collide often
//! (duplicates, deletes of what exists, moves onto taken names), and references to what
//! earlier ops created, so that most ops act on something real.
//!
//! - `topology`: namespaces, bridges, veths, link changes, addresses, routes, sysctls,
//!   sockets, and a few probes.
//! - `rules`: iptables rules and commands from the supported matches and targets.
//! - `firewall`: random filter and nat rule sets on a fixed bridge host, random probes.
//! - `teardown`: setups valid in the model, followed by their inverse, twice.
//!
//! Every generator produces a `Case`; shrinking removes specs and simplifies their indices,
//! and the ops are re-derived, so a shrunk case is always a coherent sequence.

pub mod firewall;
pub mod rules;
pub mod teardown;
pub mod topology;

use std::net::Ipv4Addr;

use nettwin_core::addr::{Cidr, Endpoint, IfAddr, Proto};
use nettwin_core::names::{IfName, NetnsName};
use proptest::prelude::*;

/// A namespace name known to be valid.
pub fn ns(name: &str) -> NetnsName {
    NetnsName::new(name).unwrap_or_else(|e| unreachable!("{name}: {e}"))
}

/// An interface name known to be valid.
pub fn ifn(name: &str) -> IfName {
    IfName::new(name).unwrap_or_else(|e| unreachable!("{name}: {e}"))
}

/// An address known to be valid.
pub fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap_or_else(|e| unreachable!("{text}: {e}"))
}

/// An interface address known to be valid.
pub fn ifaddr(ip: Ipv4Addr, prefix: u8) -> IfAddr {
    IfAddr::new(ip, prefix).unwrap_or_else(|| unreachable!("prefix {prefix}"))
}

/// A CIDR known to be valid (`10.0.0.0/24`).
pub fn cidr(text: &str) -> Cidr {
    text.parse().unwrap_or_else(|e| unreachable!("{text}: {e}"))
}

/// tcp, udp or icmp.
pub fn proto() -> impl Strategy<Value = Proto> + Clone {
    prop::sample::select(vec![Proto::Tcp, Proto::Udp, Proto::Icmp])
}

/// An endpoint for a probe of `proto` (port 0 for ICMP).
pub fn endpoint(ip: Ipv4Addr, port: u16, proto: Proto) -> Endpoint {
    Endpoint::new(ip, if proto.has_ports() { port } else { 0 })
}
