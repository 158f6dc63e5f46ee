//! Sysctls: the namespace-wide switches and the per-device IPv4 settings
//! (`net.ipv4.conf.{all,default,DEV}.*`) with the kernel's rules for combining and copying
//! them, each checked on the kernel (docs/linux-backend.md):
//!
//! - `ip_forward` and `conf.all.forwarding` are one switch; writing it writes `default`'s
//!   and every device's `forwarding` too, but only when the value changes (writing the
//!   value it already has leaves `default` and the devices alone). Whether a packet is forwarded is decided by the
//!   `forwarding` of the device it came in through, alone.
//! - `route_localnet` and `proxy_arp` are on for a device when `all`'s or its own is;
//!   `rp_filter` is the larger of `all`'s and the device's.
//! - A device created in (or moved into) a namespace starts with `default`'s values.
//!   Writing `default`'s `rp_filter` or `proxy_arp` also changes the devices on which the
//!   setting counts as never written. It counts as written on a device once it was
//!   written there, once `default`'s was written before the device was made (the mark is
//!   copied with the values), once an address was added to the device, and on `lo` once
//!   it came up (the kernel marks every setting written then).
//! - Values are kept as written: the kernel takes any number for these (`rp_filter=3`
//!   filters loosely, `forwarding=2` forwards) and copies the number itself. Only
//!   `icmp_echo_ignore_all` is 0 or 1 (anything else is EINVAL), and
//!   `bridge-nf-call-iptables` stores any non-zero number as 1.
//! - A device without IPv4 configuration (`lo` with an MTU below 68) has no settings:
//!   writing one is `NotFound`; when the configuration comes back it starts from
//!   `default`'s.

use super::{Netns, State};
use crate::error::{ErrorKind, OpError};
use crate::names::{IfName, NetnsName};
use crate::op::{ConfKnob, ConfScope, Effect, SysctlKey};

/// One set of `net.ipv4.conf` values (a device's, `all`'s or `default`'s).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct DevConf {
    /// `forwarding` (non-zero: on).
    pub forwarding: u8,
    /// `route_localnet` (non-zero: on).
    pub route_localnet: u8,
    /// `rp_filter`: 0 off, 1 strict, anything larger loose.
    pub rp_filter: u8,
    /// `proxy_arp` (non-zero: on).
    pub proxy_arp: u8,
    /// `rp_filter` counts as written (a write to `default` leaves it alone).
    pub rp_filter_set: bool,
    /// `proxy_arp` counts as written.
    pub proxy_arp_set: bool,
}

impl DevConf {
    /// A new device's values: `default`'s, with its marks of what was written.
    pub fn from_default(default: &DevConf) -> DevConf {
        *default
    }

    /// Marks every setting written (an address was added, `lo` came up).
    pub fn mark_written(&mut self) {
        self.rp_filter_set = true;
        self.proxy_arp_set = true;
    }

    /// One knob's value.
    pub fn get(&self, knob: ConfKnob) -> u8 {
        match knob {
            ConfKnob::Forwarding => self.forwarding,
            ConfKnob::RouteLocalnet => self.route_localnet,
            ConfKnob::RpFilter => self.rp_filter,
            ConfKnob::ProxyArp => self.proxy_arp,
        }
    }

    fn set(&mut self, knob: ConfKnob, value: u8) {
        let field = match knob {
            ConfKnob::Forwarding => &mut self.forwarding,
            ConfKnob::RouteLocalnet => &mut self.route_localnet,
            ConfKnob::RpFilter => &mut self.rp_filter,
            ConfKnob::ProxyArp => &mut self.proxy_arp,
        };
        *field = value;
    }

    fn mark(&mut self, knob: ConfKnob) {
        match knob {
            ConfKnob::RpFilter => self.rp_filter_set = true,
            ConfKnob::ProxyArp => self.proxy_arp_set = true,
            ConfKnob::Forwarding | ConfKnob::RouteLocalnet => {}
        }
    }
}

impl Netns {
    /// `net.ipv4.ip_forward` (= `conf.all.forwarding`).
    pub fn ip_forward(&self) -> bool {
        self.conf_all.forwarding != 0
    }

    /// Whether a packet that came in through `dev` may be forwarded (its own `forwarding`).
    pub fn forwarding(&self, dev: &str) -> bool {
        self.links.get(dev).is_some_and(|l| l.ipv4 && l.conf.forwarding != 0)
    }

    /// Whether 127.0.0.0/8 may be routed to and from `dev` (`all`'s or its own).
    pub fn route_localnet(&self, dev: &str) -> bool {
        self.conf_all.route_localnet != 0
            || self.links.get(dev).is_some_and(|l| l.conf.route_localnet != 0)
    }

    /// The reverse-path filtering of packets that came in through `dev` (the larger of
    /// `all`'s and its own): 0 off, 1 strict, anything larger loose.
    pub fn rp_filter(&self, dev: &str) -> u8 {
        let own = self.links.get(dev).map_or(0, |l| l.conf.rp_filter);
        self.conf_all.rp_filter.max(own)
    }

    /// Whether the namespace answers ARP on `dev` for addresses it routes elsewhere.
    pub fn proxy_arp(&self, dev: &str) -> bool {
        self.conf_all.proxy_arp != 0 || self.links.get(dev).is_some_and(|l| l.conf.proxy_arp != 0)
    }
}

impl State {
    pub(super) fn sysctl(
        &mut self,
        netns: &NetnsName,
        key: &SysctlKey,
        value: u8,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        if value > key.max_value() {
            return Err(OpError::new(ErrorKind::InvalidArgument, "set", key.name())
                .detail(format!("{value} is out of range (0 to {})", key.max_value())));
        }
        match key {
            SysctlKey::IpForward | SysctlKey::Conf(ConfScope::All, ConfKnob::Forwarding) => {
                if ns.conf_all.forwarding == value {
                    return Ok(Effect::Done);
                }
                ns.conf_all.forwarding = value;
                ns.conf_default.forwarding = value;
                for l in ns.links.values_mut().filter(|l| l.ipv4) {
                    l.conf.forwarding = value;
                }
            }
            SysctlKey::IpNonlocalBind => ns.ip_nonlocal_bind = value,
            SysctlKey::IcmpEchoIgnoreAll => ns.icmp_echo_ignore_all = value != 0,
            SysctlKey::BridgeNfCallIptables => ns.bridge_nf_call_iptables = value != 0,
            SysctlKey::Conf(ConfScope::All, knob) => ns.conf_all.set(*knob, value),
            SysctlKey::Conf(ConfScope::Default, knob) => {
                ns.conf_default.set(*knob, value);
                ns.conf_default.mark(*knob);
                for l in ns.links.values_mut().filter(|l| l.ipv4) {
                    match knob {
                        ConfKnob::RpFilter if !l.conf.rp_filter_set => l.conf.rp_filter = value,
                        ConfKnob::ProxyArp if !l.conf.proxy_arp_set => l.conf.proxy_arp = value,
                        _ => {}
                    }
                }
            }
            SysctlKey::Conf(ConfScope::Dev(dev), knob) => {
                let link = dev_conf(ns, dev).ok_or_else(|| {
                    OpError::new(ErrorKind::NotFound, "set", key.name())
                        .detail(format!("{netns} has no device {dev} with IPv4 settings"))
                })?;
                link.set(*knob, value);
                link.mark(*knob);
            }
        }
        Ok(Effect::Done)
    }
}

/// A device's settings, if it has IPv4 configuration.
fn dev_conf<'a>(ns: &'a mut Netns, dev: &IfName) -> Option<&'a mut DevConf> {
    ns.links.get_mut(dev).filter(|l| l.ipv4).map(|l| &mut l.conf)
}
