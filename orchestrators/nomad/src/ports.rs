//! Host port bookkeeping per host address, as Nomad's scheduler does it
//! (`NetworkIndex.AssignPorts` in hashicorp/nomad `nomad/structs/network.go`).
//!
//! Both network modes take host ports: in host mode the task binds them itself, in bridge
//! mode portmap forwards them. Ports are tracked per host address.
//!
//! An ask is assigned in two passes, and the offer lists static ports first (in the order
//! of the ask), then dynamic ones:
//! - a static port that is already used on the address fails the whole ask with
//!   `reserved port collision <label>=<port>`;
//! - a dynamic port is picked at random: first up to 20 tries in `min..max` (Nomad's
//!   `rand.Intn(max-min)`, so `max` itself is never tried here), refusing ports in use,
//!   static ports of the same ask and ports already offered; then, if all tries hit, one
//!   pick among every free port of `min..=max`; if none is free the ask fails with
//!   `dynamic port selection failed`.
//!
//! Nomad reports these in its placement failure as `network: <message>`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::jobspec::PortSpec;
use nettwin_cni::seed::SplitMix64;

/// Nomad's default lowest dynamic port (`DefaultMinDynamicPort`).
pub const DEFAULT_MIN_DYNAMIC_PORT: u16 = 20000;

/// Nomad's default highest dynamic port (`DefaultMaxDynamicPort`).
pub const DEFAULT_MAX_DYNAMIC_PORT: u16 = 32000;

/// Random tries before the exhaustive pick (`maxRandPortAttempts`).
pub const MAX_RAND_PORT_ATTEMPTS: u32 = 20;

/// Why an ask got no ports. `Display` is Nomad's text.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PortError {
    /// A static port is already taken on the address.
    #[error("reserved port collision {label}={port}")]
    Collision {
        /// The port's label in the job.
        label: String,
        /// The port.
        port: u16,
    },
    /// No free port is left in the dynamic range.
    #[error("dynamic port selection failed")]
    Exhausted,
}

impl PortError {
    /// The text Nomad shows in a placement failure (`network: ...`).
    pub fn placement_message(&self) -> String {
        format!("network: {self}")
    }
}

/// One assigned port: label, host port (`Value`), container port (`To`) and host address.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssignedPort {
    /// The label from the job.
    pub label: String,
    /// The host port.
    pub value: u16,
    /// The port inside the allocation (the host port when the job gives no `to`).
    pub to: u16,
    /// The host address the port is taken on.
    pub host_ip: Ipv4Addr,
}

/// The host ports in use, per host address, and the dynamic range.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PortIndex {
    min: u16,
    max: u16,
    used: BTreeMap<Ipv4Addr, BTreeSet<u16>>,
}

impl Default for PortIndex {
    fn default() -> Self {
        PortIndex::new(DEFAULT_MIN_DYNAMIC_PORT, DEFAULT_MAX_DYNAMIC_PORT)
    }
}

impl PortIndex {
    /// An empty index with the dynamic range `min..=max` (swapped if given backwards).
    pub fn new(min: u16, max: u16) -> PortIndex {
        PortIndex { min: min.min(max), max: max.max(min), used: BTreeMap::new() }
    }

    /// The dynamic range, inclusive.
    pub fn dynamic_range(&self) -> (u16, u16) {
        (self.min, self.max)
    }

    /// Marks ports as used without an ask (the client's `reserved.reserved_ports`, or
    /// ports of allocations already on the node).
    pub fn reserve(&mut self, host_ip: Ipv4Addr, ports: impl IntoIterator<Item = u16>) {
        self.used.entry(host_ip).or_default().extend(ports);
    }

    /// Whether `port` is used on `host_ip`.
    pub fn is_used(&self, host_ip: Ipv4Addr, port: u16) -> bool {
        self.used.get(&host_ip).is_some_and(|s| s.contains(&port))
    }

    /// The ports used on `host_ip`, ascending.
    pub fn used(&self, host_ip: Ipv4Addr) -> impl Iterator<Item = u16> + '_ {
        self.used.get(&host_ip).into_iter().flatten().copied()
    }

    /// Assigns the ports of one group's network ask on `host_ip` and marks them used.
    /// Atomic: on error nothing is marked.
    pub fn assign(
        &mut self,
        host_ip: Ipv4Addr,
        ask: &[PortSpec],
        rng: &mut SplitMix64,
    ) -> Result<Vec<AssignedPort>, PortError> {
        let empty = BTreeSet::new();
        let used = self.used.get(&host_ip).unwrap_or(&empty);
        let mut offer = Vec::new();
        let mut in_offer: Vec<u16> = Vec::new();
        let statics: Vec<u16> = ask.iter().filter_map(|p| p.static_port).collect();
        for p in ask {
            let Some(port) = p.static_port else { continue };
            if used.contains(&port) {
                return Err(PortError::Collision { label: p.label.clone(), port });
            }
            offer.push(AssignedPort {
                label: p.label.clone(),
                value: port,
                to: p.to.unwrap_or(port),
                host_ip,
            });
            in_offer.push(port);
        }
        for p in ask.iter().filter(|p| p.static_port.is_none()) {
            let taken = |port: u16| {
                used.contains(&port) || statics.contains(&port) || in_offer.contains(&port)
            };
            let port = self.pick_stochastic(rng, &taken).or_else(|| self.pick_precise(rng, &taken));
            let Some(port) = port else { return Err(PortError::Exhausted) };
            offer.push(AssignedPort {
                label: p.label.clone(),
                value: port,
                to: p.to.unwrap_or(port),
                host_ip,
            });
            in_offer.push(port);
        }
        self.reserve(host_ip, in_offer);
        Ok(offer)
    }

    /// `getDynamicPortsStochastic` for one port: up to 20 draws from `min..max`.
    fn pick_stochastic(&self, rng: &mut SplitMix64, taken: &dyn Fn(u16) -> bool) -> Option<u16> {
        let span = u64::from(self.max - self.min);
        for _ in 0..MAX_RAND_PORT_ATTEMPTS {
            // rand.Intn(span) < span <= u16::MAX - min, so the sum stays a u16.
            let port = self.min + u16::try_from(rng.below(span)).unwrap_or(0);
            if !taken(port) {
                return Some(port);
            }
        }
        None
    }

    /// `getDynamicPortsPrecise` for one port: a uniform pick among the free ports of
    /// `min..=max`.
    fn pick_precise(&self, rng: &mut SplitMix64, taken: &dyn Fn(u16) -> bool) -> Option<u16> {
        let free: Vec<u16> = (self.min..=self.max).filter(|p| !taken(*p)).collect();
        let i = usize::try_from(rng.below(free.len() as u64)).unwrap_or(0);
        free.get(i).copied()
    }

    /// Frees the ports of an allocation that stopped.
    pub fn release(&mut self, ports: &[AssignedPort]) {
        for p in ports {
            if let Some(set) = self.used.get_mut(&p.host_ip) {
                set.remove(&p.value);
                if set.is_empty() {
                    self.used.remove(&p.host_ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nettwin_cni::seed::Seed;

    const HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

    fn port(label: &str, static_port: Option<u16>, to: Option<u16>) -> PortSpec {
        PortSpec { label: label.into(), static_port, to }
    }

    #[test]
    fn static_port_is_assigned_and_then_collides_with_nomads_text() {
        let mut idx = PortIndex::default();
        let mut rng = Seed(1).stream(&["ports"]);
        let ask = [port("cloak", Some(7000), Some(7000))];
        let got = idx.assign(HOST, &ask, &mut rng).expect("free");
        assert_eq!((got[0].value, got[0].to), (7000, 7000));
        let err = idx.assign(HOST, &ask, &mut rng).expect_err("taken");
        assert_eq!(err.to_string(), "reserved port collision cloak=7000");
        assert_eq!(err.placement_message(), "network: reserved port collision cloak=7000");
    }

    #[test]
    fn same_static_port_on_another_host_address_is_free() {
        let mut idx = PortIndex::default();
        let mut rng = Seed(1).stream(&["ports"]);
        let ask = [port("cloak", Some(7000), None)];
        idx.assign(HOST, &ask, &mut rng).expect("free");
        assert!(idx.assign(Ipv4Addr::new(192, 0, 2, 11), &ask, &mut rng).is_ok());
    }

    #[test]
    fn dynamic_port_lands_in_range_and_maps_to_its_to() {
        let mut idx = PortIndex::default();
        let mut rng = Seed(9).stream(&["ports"]);
        let got = idx.assign(HOST, &[port("redis", None, Some(6379))], &mut rng).expect("free");
        assert!((20000..=32000).contains(&got[0].value));
        assert_eq!(got[0].to, 6379);
        assert!(idx.is_used(HOST, got[0].value));
    }

    #[test]
    fn offer_lists_static_ports_before_dynamic_ones() {
        let mut idx = PortIndex::default();
        let mut rng = Seed(3).stream(&["ports"]);
        let ask = [port("dyn", None, None), port("fixed", Some(8080), Some(80))];
        let got = idx.assign(HOST, &ask, &mut rng).expect("free");
        let labels: Vec<_> = got.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["fixed", "dyn"]);
        assert_eq!(got[1].to, got[1].value);
    }

    #[test]
    fn dynamic_range_exhausts_with_nomads_text_and_changes_nothing() {
        let mut idx = PortIndex::new(30000, 30002);
        let mut rng = Seed(5).stream(&["ports"]);
        let ask = [port("a", None, None), port("b", None, None), port("c", None, None)];
        let got = idx.assign(HOST, &ask, &mut rng).expect("three free");
        let mut values: Vec<u16> = got.iter().map(|p| p.value).collect();
        values.sort();
        // The last port is reachable only through the exhaustive pick.
        assert_eq!(values, [30000, 30001, 30002]);
        let before = idx.clone();
        let err = idx.assign(HOST, &[port("d", None, None)], &mut rng).expect_err("full");
        assert_eq!(err.to_string(), "dynamic port selection failed");
        assert_eq!(idx, before);
    }

    #[test]
    fn dynamic_pick_avoids_static_ports_of_the_same_ask() {
        let mut idx = PortIndex::new(30000, 30001);
        let mut rng = Seed(5).stream(&["ports"]);
        let ask = [port("s", Some(30000), None), port("d", None, None)];
        let got = idx.assign(HOST, &ask, &mut rng).expect("free");
        assert_eq!(got[1].value, 30001);
    }

    #[test]
    fn failed_ask_leaves_earlier_static_ports_unmarked() {
        let mut idx = PortIndex::default();
        let mut rng = Seed(5).stream(&["ports"]);
        idx.reserve(HOST, [7001]);
        let ask = [port("a", Some(7000), None), port("b", Some(7001), None)];
        assert_eq!(
            idx.assign(HOST, &ask, &mut rng),
            Err(PortError::Collision { label: "b".into(), port: 7001 })
        );
        assert!(!idx.is_used(HOST, 7000));
    }

    #[test]
    fn released_ports_can_be_taken_again() {
        let mut idx = PortIndex::default();
        let mut rng = Seed(5).stream(&["ports"]);
        let ask = [port("cloak", Some(7000), None)];
        let got = idx.assign(HOST, &ask, &mut rng).expect("free");
        idx.release(&got);
        assert_eq!(idx.used(HOST).count(), 0);
        assert!(idx.assign(HOST, &ask, &mut rng).is_ok());
    }

    #[test]
    fn same_seed_picks_the_same_dynamic_ports() {
        let pick = || {
            let mut idx = PortIndex::default();
            let mut rng = Seed(77).stream(&["ports"]);
            idx.assign(HOST, &[port("a", None, None), port("b", None, None)], &mut rng)
        };
        assert_eq!(pick(), pick());
    }
}
