//! Addresses: interface addresses (`172.26.64.1/20`), network prefixes (`172.26.64.0/20`),
//! transport protocols and socket endpoints. IPv4 only.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnetwork::Ipv4Network;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an address did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// Not `a.b.c.d/len` (or `a.b.c.d`).
    #[error("invalid CIDR {0:?}: expected an IPv4 address and prefix length like 172.26.64.0/20")]
    BadCidr(String),
    /// A prefix with host bits set where a network address is required.
    #[error("invalid prefix {text:?}: host bits are set; the network is {network}")]
    HostBitsSet {
        /// The refused text.
        text: String,
        /// The network address it should have been.
        network: Cidr,
    },
    /// Not a dotted-quad IPv4 address.
    #[error("invalid IPv4 address {0:?}")]
    BadIp(String),
    /// Not `ip:port`.
    #[error("invalid endpoint {0:?}: expected ip:port like 192.0.2.10:7000")]
    BadEndpoint(String),
    /// Not a protocol nettwin models.
    #[error("unknown protocol {0:?}: expected tcp, udp or icmp")]
    BadProto(String),
}

/// An address assigned to an interface: the host address and the prefix length of its
/// subnet, as `ip addr add 172.26.64.1/20` takes it. A bare address means `/32`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfAddr {
    /// The host address.
    pub ip: Ipv4Addr,
    /// The prefix length, 0–32.
    pub prefix: u8,
}

impl IfAddr {
    /// Builds an interface address; `None` if `prefix > 32`.
    pub fn new(ip: Ipv4Addr, prefix: u8) -> Option<IfAddr> {
        (prefix <= 32).then_some(IfAddr { ip, prefix })
    }

    /// The connected network this address sits in (`172.26.64.0/20` for `172.26.64.1/20`).
    pub fn network(&self) -> Cidr {
        Cidr::containing(self.ip, self.prefix)
    }
}

impl FromStr for IfAddr {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, AddrError> {
        let net: Ipv4Network = s.parse().map_err(|_| AddrError::BadCidr(s.to_owned()))?;
        if !s.contains('/') && s.parse::<Ipv4Addr>().is_err() {
            return Err(AddrError::BadCidr(s.to_owned()));
        }
        Ok(IfAddr { ip: net.ip(), prefix: net.prefix() })
    }
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

impl fmt::Debug for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A network prefix whose host bits are all zero (`172.26.64.0/20`), as the kernel
/// requires for route destinations. Guaranteed: `ip` is the network address.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    ip: Ipv4Addr,
    prefix: u8,
}

impl Cidr {
    /// The default route's destination, `0.0.0.0/0`.
    pub const DEFAULT: Cidr = Cidr { ip: Ipv4Addr::UNSPECIFIED, prefix: 0 };

    /// The prefix of length `prefix` containing `ip` (host bits cleared).
    pub fn containing(ip: Ipv4Addr, prefix: u8) -> Cidr {
        let prefix = prefix.min(32);
        let mask = prefix_mask(prefix);
        Cidr { ip: Ipv4Addr::from(u32::from(ip) & mask), prefix }
    }

    /// A `/32` for one host.
    pub fn host(ip: Ipv4Addr) -> Cidr {
        Cidr::containing(ip, 32)
    }

    /// The network address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The netmask as a host-order integer.
    pub fn mask(&self) -> u32 {
        prefix_mask(self.prefix())
    }

    /// Whether `ip` lies inside this prefix.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.ip())
    }

    /// The broadcast address of the prefix.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.ip()) | !self.mask())
    }
}

/// The netmask of a prefix length as a host-order integer.
pub fn prefix_mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) }
}

impl FromStr for Cidr {
    type Err = AddrError;
    /// Parses `a.b.c.d/len`, a bare address (`/32`) or `default` (`0.0.0.0/0`); refuses host
    /// bits, as `ip route add 172.26.64.1/20` does.
    fn from_str(s: &str) -> Result<Self, AddrError> {
        if s == "default" {
            return Ok(Cidr::DEFAULT);
        }
        let a: IfAddr = s.parse()?;
        let c = Cidr::containing(a.ip, a.prefix);
        if c.ip() != a.ip {
            return Err(AddrError::HostBitsSet { text: s.to_owned(), network: c });
        }
        Ok(c)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ip(), self.prefix())
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialOrd for Cidr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cidr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ip(), self.prefix()).cmp(&(other.ip(), other.prefix()))
    }
}

/// Parses a dotted-quad IPv4 address.
pub fn parse_ip(s: &str) -> Result<Ipv4Addr, AddrError> {
    s.parse().map_err(|_| AddrError::BadIp(s.to_owned()))
}

/// A transport protocol nettwin models.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (echo only).
    Icmp,
}

impl Proto {
    /// The name as iptables and `ss` print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }

    /// Whether the protocol has ports.
    pub fn has_ports(self) -> bool {
        !matches!(self, Proto::Icmp)
    }
}

impl FromStr for Proto {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, AddrError> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "icmp" => Ok(Proto::Icmp),
            _ => Err(AddrError::BadProto(s.to_owned())),
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IPv4 socket endpoint, `ip:port`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// The address.
    pub ip: Ipv4Addr,
    /// The port (0 for ICMP).
    pub port: u16,
}

impl Endpoint {
    /// Builds an endpoint.
    pub const fn new(ip: Ipv4Addr, port: u16) -> Endpoint {
        Endpoint { ip, port }
    }
}

impl FromStr for Endpoint {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, AddrError> {
        let err = || AddrError::BadEndpoint(s.to_owned());
        let (ip, port) = s.rsplit_once(':').ok_or_else(err)?;
        let ip = ip.parse().map_err(|_| err())?;
        let port = port.parse().map_err(|_| err())?;
        Ok(Endpoint { ip, port })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

macro_rules! serde_via_display {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_via_display!(IfAddr, Cidr, Proto, Endpoint);

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("172.26.64.0/20", "172.26.64.0/20")]
    #[case("default", "0.0.0.0/0")]
    #[case("0.0.0.0/0", "0.0.0.0/0")]
    #[case("192.0.2.7", "192.0.2.7/32")]
    fn cidr_parses_network_addresses(#[case] s: &str, #[case] want: &str) {
        assert_eq!(s.parse::<Cidr>().map(|c| c.to_string()), Ok(want.to_owned()));
    }

    #[rstest]
    #[case("172.26.64.1/20", "host bits are set; the network is 172.26.64.0/20")]
    #[case("172.26.64.0/33", "invalid CIDR")]
    #[case("300.1.1.1/8", "invalid CIDR")]
    #[case("10.0.0.0/", "invalid CIDR")]
    #[case("fe80::/64", "invalid CIDR")]
    fn cidr_refuses_bad_text(#[case] s: &str, #[case] msg: &str) {
        let err = s.parse::<Cidr>().expect_err("refused").to_string();
        assert!(err.contains(msg), "{err}");
    }

    #[test]
    fn ifaddr_keeps_host_bits_and_knows_its_network() {
        let a: IfAddr = "172.26.64.1/20".parse().expect("valid");
        assert_eq!(a.to_string(), "172.26.64.1/20");
        assert_eq!(a.network().to_string(), "172.26.64.0/20");
        assert_eq!(a.network().broadcast(), Ipv4Addr::new(172, 26, 79, 255));
        assert!(a.network().contains(Ipv4Addr::new(172, 26, 79, 254)));
        assert!(!a.network().contains(Ipv4Addr::new(172, 26, 80, 1)));
        assert_eq!("10.1.2.3".parse::<IfAddr>().map(|a| a.prefix), Ok(32));
    }

    #[test]
    fn endpoints_and_protocols_round_trip() {
        let e: Endpoint = "192.0.2.10:7000".parse().expect("valid");
        assert_eq!(e.to_string(), "192.0.2.10:7000");
        assert!("192.0.2.10".parse::<Endpoint>().is_err());
        assert!("192.0.2.10:70000".parse::<Endpoint>().is_err());
        assert_eq!("udp".parse::<Proto>(), Ok(Proto::Udp));
        assert!("sctp".parse::<Proto>().is_err());
    }
}
