//! The scenario file as YAML sees it: serde types with `deny_unknown_fields` everywhere and
//! `Spanned` values wherever a later check needs to point back into the file.
//!
//! These types only describe the shape of the file. Meaning (op text, references between
//! probes and namespaces) is checked by `load`, which turns a `ScenarioFile` into a
//! validated `Scenario`.

use crate::scenario::{HopPattern, OutcomeKind, SeenSrc};
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use nettwin_core::addr::Proto;
use nettwin_core::error::ErrorKind;
use nettwin_core::names::NetnsName;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// A short identifier (`seed-journey`).
    pub name: Spanned<String>,
    /// What the scenario teaches, in a sentence or a paragraph.
    pub description: Spanned<String>,
    /// Low-level steps, applied in order.
    #[serde(default)]
    pub steps: Vec<Spanned<StepEntry>>,
    /// A Nomad client and one job's groups, which the planner expands into steps (the
    /// standard host, then each allocation's setup and tasks) before `steps`.
    #[serde(default)]
    pub nomad: Option<Spanned<NomadEntry>>,
    /// Flows to send once every step ran, each with what must happen to it.
    #[serde(default)]
    pub probes: Vec<ProbeEntry>,
}

/// The `nomad:` section: a client and the groups of one job.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NomadEntry {
    /// The seed of allocation ids, veth names, MACs and dynamic ports (default 1).
    #[serde(default)]
    pub seed: Option<Spanned<u64>>,
    /// The job's name (default: the scenario's name); part of every seeded id.
    #[serde(default)]
    pub job: Option<Spanned<String>>,
    /// The client's settings (Nomad's defaults when absent).
    #[serde(default)]
    pub client: Option<Spanned<ClientEntry>>,
    /// The task groups, in order.
    pub groups: Vec<Spanned<GroupEntry>>,
}

/// The client settings of a `nomad:` section, named as in Nomad's client block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// `bridge_network_name` (default `nomad`).
    #[serde(default)]
    pub bridge: Option<Spanned<Parsed<nettwin_core::names::IfName>>>,
    /// `bridge_network_subnet` (default 172.26.64.0/20).
    #[serde(default)]
    pub subnet: Option<Spanned<Parsed<nettwin_core::addr::Cidr>>>,
    /// The client's address on `eth0` towards the world (default 192.0.2.10).
    #[serde(default)]
    pub host_ip: Option<Spanned<Parsed<std::net::Ipv4Addr>>>,
    /// `bridge_network_hairpin_mode` (default false).
    #[serde(default)]
    pub hairpin_mode: Option<bool>,
    /// `bind_wildcard_default_host_network` (default true).
    #[serde(default)]
    pub bind_wildcard_default_host_network: Option<bool>,
    /// `min_dynamic_port` (default 20000).
    #[serde(default)]
    pub min_dynamic_port: Option<Spanned<u16>>,
    /// `max_dynamic_port` (default 32000).
    #[serde(default)]
    pub max_dynamic_port: Option<Spanned<u16>>,
    /// `reserved.reserved_ports`, as a list.
    #[serde(default)]
    pub reserved_ports: Vec<u16>,
}

/// One task group of a `nomad:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    /// The group's name; probes name its allocation by it.
    pub name: Spanned<String>,
    /// `host` (default) or `bridge`; anything else is not supported yet.
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
    /// How many allocations (default 1).
    #[serde(default)]
    pub count: Option<Spanned<u32>>,
    /// The `port` blocks.
    #[serde(default)]
    pub ports: Vec<Spanned<PortEntry>>,
    /// Allocation ids to use instead of the seeded ones, by index.
    #[serde(default)]
    pub alloc_ids: Vec<Spanned<String>>,
    /// Host veth names to use instead of the seeded ones, by index.
    #[serde(default)]
    pub veths: Vec<Spanned<Parsed<nettwin_core::names::IfName>>>,
}

/// One `port "label" { static, to }` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortEntry {
    /// The label.
    pub label: String,
    /// A static host port; a dynamic one when absent.
    #[serde(default, rename = "static")]
    pub static_port: Option<u16>,
    /// The port inside the allocation (default: the host port).
    #[serde(default)]
    pub to: Option<u16>,
}

/// One step: op text, or op text with the error it must fail with.
#[derive(Debug)]
pub enum StepEntry {
    /// `- ip netns add host`.
    Run(String),
    /// `- { run: ..., error: already-exists, message: ... }`.
    Fails(FailingStep),
}

/// A step that must fail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailingStep {
    /// The op text.
    pub run: Spanned<String>,
    /// The kind of the refusal (`already-exists`, `not-found`, `in-use`, ...).
    pub error: Spanned<Parsed<ErrorKind>>,
    /// Text the refusal's message must contain.
    #[serde(default)]
    pub message: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for StepEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StepVisitor;
        impl<'de> Visitor<'de> for StepVisitor {
            type Value = StepEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("op text, or a mapping with run, error and optionally message")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StepEntry, E> {
                Ok(StepEntry::Run(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StepEntry, A::Error> {
                FailingStep::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(StepEntry::Fails)
            }
        }
        d.deserialize_any(StepVisitor)
    }
}

/// One probe.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeEntry {
    /// A unique label (`--probe NAME` selects it).
    pub name: Spanned<String>,
    /// The namespace that sends.
    pub from: Spanned<NetnsName>,
    /// `ip:port/proto` (`192.0.2.10:7000/tcp`), or `ip/icmp`.
    pub to: Spanned<Parsed<Destination>>,
    /// The source address; chosen by routing when absent.
    #[serde(default)]
    pub src: Option<Spanned<Parsed<std::net::Ipv4Addr>>>,
    /// The source port; `trace::default_sport` when absent.
    #[serde(default)]
    pub sport: Option<Spanned<u16>>,
    /// What must happen.
    pub expect: ExpectEntry,
}

/// A probe's expectations. Only `outcome` is required; every given field is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectEntry {
    /// `delivered`, `refused`, `dropped`, `no-route` or `timed-out`.
    pub outcome: Spanned<OutcomeKind>,
    /// The namespace where it ended (delivered to, refused by, dropped in, ...).
    #[serde(default)]
    pub at: Option<Spanned<NetnsName>>,
    /// The source the receiver saw: `ip` or `ip:port`.
    #[serde(default)]
    pub seen_src: Option<Spanned<Parsed<SeenSrc>>>,
    /// The wire path: `netns/device` patterns, `*` matching any characters and a lone `"*"`
    /// any run of hops.
    #[serde(default)]
    pub path: Option<Spanned<Vec<Spanned<Parsed<HopPattern>>>>>,
}

/// A probe destination: address, port and protocol (`192.0.2.10:7000/tcp`, `192.0.2.1/icmp`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Destination {
    /// Address and port (port 0 for ICMP).
    pub dst: nettwin_core::addr::Endpoint,
    /// The protocol.
    pub proto: Proto,
}

/// Why a destination did not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid destination {0:?}: expected ip:port/tcp, ip:port/udp or ip/icmp")]
pub struct DestinationError(String);

impl FromStr for Destination {
    type Err = DestinationError;
    fn from_str(s: &str) -> Result<Self, DestinationError> {
        let err = || DestinationError(s.to_owned());
        let (addr, proto) = s.rsplit_once('/').ok_or_else(err)?;
        let proto: Proto = proto.parse().map_err(|_| err())?;
        let dst = if proto.has_ports() {
            addr.parse().map_err(|_| err())?
        } else {
            nettwin_core::addr::Endpoint::new(addr.parse().map_err(|_| err())?, 0)
        };
        Ok(Destination { dst, proto })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.proto.has_ports() {
            write!(f, "{}/{}", self.dst, self.proto)
        } else {
            write!(f, "{}/{}", self.dst.ip, self.proto)
        }
    }
}

/// A value read from a YAML string with its `FromStr`, so that a refusal carries the
/// value's place and the type's own message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Parsed<T>(pub T);

impl<'de, T> Deserialize<'de> for Parsed<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: FromStr> Visitor<'_> for V<T>
        where
            T::Err: fmt::Display,
        {
            type Value = Parsed<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Parsed<T>, E> {
                v.parse().map(Parsed).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Parsed<T>, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}
