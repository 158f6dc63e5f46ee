//! The text form of ops: `ip -n host link add nomad type bridge`,
//! `ip netns exec host iptables -t nat -A POSTROUTING ...`, and nettwin's own verbs
//! (`listen`, `close`, `ipam`). `Display for Op` prints the canonical form; `parse_op`
//! reads it (and `ip netns exec NS ip ...` as a synonym of `ip -n NS ...`).

use std::fmt;
use std::str::FromStr;

use super::{AddrOpts, LinkChange, Op, SysctlKey};

mod route;
use crate::addr::{Cidr, Endpoint, IfAddr, Proto};
use crate::iptables::{self, Table};
use crate::names::{IfName, Mac, NetnsName};
use crate::text::{Cursor, ParseError, ParseErrorKind, Token, quote, tokenize};

/// Parses one op from its text form. Errors carry the byte span of the offending token.
pub fn parse_op(input: &str) -> Result<Op, ParseError> {
    let tokens = tokenize(input)?;
    let mut c = Cursor::new(&tokens, input.len());
    let op = parse_tokens(&mut c)?;
    c.finish()?;
    Ok(op)
}

impl FromStr for Op {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Op, ParseError> {
        parse_op(s)
    }
}

fn unsupported(t: &Token, what: &'static str, hint: &'static str) -> ParseError {
    ParseError::at(t, ParseErrorKind::Unsupported { what, token: t.text.clone(), hint: Some(hint) })
}

fn parse_tokens(c: &mut Cursor<'_>) -> Result<Op, ParseError> {
    let first = c.expect("a command (ip, ipam)")?;
    match first.text.as_str() {
        "ip" => parse_ip(c, None),
        "ipam" => parse_ipam(c),
        _ => Err(unsupported(first, "command", "steps start with ip or ipam")),
    }
}

fn netns_name(c: &mut Cursor<'_>) -> Result<NetnsName, ParseError> {
    c.value("namespace name", NetnsName::new)
}

fn if_name(c: &mut Cursor<'_>, what: &'static str) -> Result<IfName, ParseError> {
    c.value(what, IfName::new)
}

/// `ip ...` after the word `ip`; `netns` is the namespace from `ip netns exec NS ip`.
fn parse_ip(c: &mut Cursor<'_>, netns: Option<NetnsName>) -> Result<Op, ParseError> {
    let mut netns = netns;
    if netns.is_none() && (c.eat("-n") || c.eat("-netns")) {
        netns = Some(netns_name(c)?);
    }
    let object = c.expect("an object (netns, link, addr, route, rule, neigh)")?;
    match (object.text.as_str(), netns) {
        ("netns", None) => parse_netns(c),
        ("link", Some(ns)) => parse_link(c, ns),
        ("addr" | "address", Some(ns)) => parse_addr(c, ns),
        ("route", Some(ns)) => route::parse_route(c, ns),
        ("rule", Some(ns)) => route::parse_rule(c, ns),
        ("neigh" | "neighbor" | "neighbour", Some(ns)) => parse_neigh(c, ns),
        (
            "link" | "addr" | "address" | "route" | "rule" | "neigh" | "neighbor" | "neighbour",
            None,
        ) => Err(unsupported(
            object,
            "command without a namespace",
            "use ip -n NAMESPACE ...; nettwin never touches the root namespace",
        )),
        _ => Err(unsupported(object, "ip object", "netns, link, addr, route, rule or neigh")),
    }
}

fn parse_netns(c: &mut Cursor<'_>) -> Result<Op, ParseError> {
    let verb = c.expect("add, del or exec")?;
    match verb.text.as_str() {
        "add" => Ok(Op::NetnsAdd { name: netns_name(c)? }),
        "del" | "delete" => Ok(Op::NetnsDel { name: netns_name(c)? }),
        "exec" => {
            let ns = netns_name(c)?;
            let cmd = c.expect("a command (ip, sysctl, iptables, listen, close)")?;
            match cmd.text.as_str() {
                "ip" => parse_ip(c, Some(ns)),
                "sysctl" => parse_sysctl(c, ns),
                "iptables" => {
                    let (table, cmd) = iptables::parse_command(c)?;
                    Ok(Op::Iptables { netns: ns, table, cmd })
                }
                "listen" | "close" => {
                    let proto = c.value("protocol (tcp or udp)", parse_socket_proto)?;
                    let at = c.value("address:port", Endpoint::from_str)?;
                    Ok(if cmd.text == "listen" {
                        Op::Listen { netns: ns, proto, at }
                    } else {
                        Op::Close { netns: ns, proto, at }
                    })
                }
                _ => Err(unsupported(cmd, "command", "ip, sysctl, iptables, listen or close")),
            }
        }
        _ => Err(unsupported(verb, "netns verb", "add, del or exec")),
    }
}

fn parse_socket_proto(s: &str) -> Result<Proto, String> {
    match s.parse::<Proto>() {
        Ok(p @ (Proto::Tcp | Proto::Udp)) => Ok(p),
        _ => Err("expected tcp or udp".to_owned()),
    }
}

fn parse_mac_opt(c: &mut Cursor<'_>) -> Result<Option<Mac>, ParseError> {
    if c.eat("address") { Ok(Some(c.value("MAC address", Mac::from_str)?)) } else { Ok(None) }
}

fn parse_link(c: &mut Cursor<'_>, netns: NetnsName) -> Result<Op, ParseError> {
    let verb = c.expect("add, del or set")?;
    match verb.text.as_str() {
        "add" => {
            // `ip link add [name] NAME [address MAC] type ...`.
            let _ = c.eat("name");
            let name = if_name(c, "interface name")?;
            let mac = parse_mac_opt(c)?;
            c.expect_word("type")?;
            let kind = c.expect("link type (bridge or veth)")?;
            match kind.text.as_str() {
                "bridge" => Ok(Op::BridgeAdd { netns, name, mac }),
                "veth" => {
                    c.expect_word("peer")?;
                    let _ = c.eat("name");
                    let peer = if_name(c, "peer name")?;
                    let peer_mac = parse_mac_opt(c)?;
                    let peer_netns = if c.eat("netns") { netns_name(c)? } else { netns.clone() };
                    Ok(Op::VethAdd { netns, name, mac, peer_netns, peer, peer_mac })
                }
                // Modeled only what both backends can be checked on: the kernel nettwin is
                // tested on has no dummy and no 8021q driver.
                "dummy" | "vlan" => Err(unsupported(
                    kind,
                    "link type",
                    "bridge or veth (dummy and vlan are not modeled: the kernel nettwin is checked on has no driver for them)",
                )),
                _ => Err(unsupported(kind, "link type", "bridge or veth")),
            }
        }
        "del" | "delete" => {
            let _ = c.eat("dev");
            Ok(Op::LinkDel { netns, name: if_name(c, "interface name")? })
        }
        "set" => {
            // `ip link set [dev] NAME SETTING`, and `ip link set up|down [dev] NAME`.
            let leading = c.next_if(|s| s == "up" || s == "down");
            let _ = c.eat("dev");
            let name = if_name(c, "interface name")?;
            let change = match leading {
                Some(t) if t.text == "up" => LinkChange::Up,
                Some(_) => LinkChange::Down,
                None => link_change(c)?,
            };
            if let Some(more) = c.peek() {
                return Err(unsupported(
                    more,
                    "second link setting",
                    "one setting per step: write `ip link set NAME mtu N` and `ip link set NAME up` as two steps",
                ));
            }
            Ok(Op::LinkSet { netns, name, change })
        }
        _ => Err(unsupported(verb, "link verb", "add, del or set")),
    }
}

/// One setting of `ip link set NAME ...`.
fn link_change(c: &mut Cursor<'_>) -> Result<LinkChange, ParseError> {
    let what = c.expect("up, down, master, nomaster, mtu, netns or type")?;
    Ok(match what.text.as_str() {
        "up" => LinkChange::Up,
        "down" => LinkChange::Down,
        "master" => LinkChange::Master(if_name(c, "bridge name")?),
        "nomaster" => LinkChange::NoMaster,
        "mtu" => LinkChange::Mtu(c.value("MTU", u32::from_str)?),
        "netns" => LinkChange::Netns(netns_name(c)?),
        "type" => {
            c.expect_word("bridge_slave")?;
            c.expect_word("hairpin")?;
            LinkChange::Hairpin(c.value("on or off", parse_on_off)?)
        }
        _ => {
            return Err(unsupported(
                what,
                "link setting",
                "up, down, master, nomaster, mtu, netns or type bridge_slave hairpin",
            ));
        }
    })
}

fn parse_on_off(s: &str) -> Result<bool, &'static str> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("expected on or off"),
    }
}

fn parse_addr(c: &mut Cursor<'_>, netns: NetnsName) -> Result<Op, ParseError> {
    let verb = c.expect("add, del or flush")?;
    let add = match verb.text.as_str() {
        "add" => true,
        "del" | "delete" => false,
        "flush" => {
            let _ = c.eat("dev");
            return Ok(Op::AddrFlush { netns, dev: if_name(c, "device name")? });
        }
        _ => return Err(unsupported(verb, "addr verb", "add, del or flush")),
    };
    let addr = c.value("address/prefix", IfAddr::from_str)?;
    // The options may come in any order around `dev DEV`, as iproute2 takes them.
    let mut dev = None;
    let mut opts = AddrOpts::default();
    while let Some(t) = c.next_token() {
        match t.text.as_str() {
            "dev" if dev.is_none() => dev = Some(if_name(c, "device name")?),
            "brd" | "broadcast" if add && !opts.broadcast => {
                let value = c.expect("+")?;
                if value.text != "+" {
                    return Err(unsupported(
                        value,
                        "broadcast address",
                        "brd + (the subnet's broadcast); other broadcast addresses are not modeled",
                    ));
                }
                opts.broadcast = true;
            }
            "label" if add && opts.label.is_none() => {
                opts.label = Some(c.expect("label")?.text.clone());
            }
            "dev" | "brd" | "broadcast" | "label" if add => {
                return Err(ParseError::at(
                    t,
                    ParseErrorKind::Invalid {
                        what: "address option",
                        token: t.text.clone(),
                        reason: "given twice".into(),
                    },
                ));
            }
            _ => {
                let hint = if add { "dev DEV, brd + or label LABEL" } else { "dev DEV" };
                return Err(unsupported(t, "address option", hint));
            }
        }
    }
    let Some(dev) = dev else {
        return Err(ParseError::missing(c.consumed(), c.input_len(), "dev DEVICE"));
    };
    Ok(if add { Op::AddrAdd { netns, dev, addr, opts } } else { Op::AddrDel { netns, dev, addr } })
}

/// `ip neigh add|replace ADDR lladdr MAC dev DEV [nud permanent]`, `ip neigh del ADDR dev
/// DEV`: permanent entries only (the others age, which a model without a clock cannot).
fn parse_neigh(c: &mut Cursor<'_>, netns: NetnsName) -> Result<Op, ParseError> {
    let verb = c.expect("add, replace or del")?;
    let replace = match verb.text.as_str() {
        "add" => Some(false),
        "replace" => Some(true),
        "del" | "delete" => None,
        _ => return Err(unsupported(verb, "neigh verb", "add, replace or del")),
    };
    let ip = c.value("neighbour address", crate::addr::parse_ip)?;
    let (mut dev, mut mac) = (None, None);
    while let Some(t) = c.next_token() {
        match t.text.as_str() {
            "dev" if dev.is_none() => dev = Some(if_name(c, "device name")?),
            "lladdr" if replace.is_some() && mac.is_none() => {
                let m = c.value("MAC address", Mac::from_str)?;
                if m.is_group() {
                    let t = &c.consumed()[c.consumed().len() - 1];
                    return Err(unsupported(
                        t,
                        "multicast or broadcast link-layer address",
                        "a unicast MAC",
                    ));
                }
                mac = Some(m);
            }
            "nud" if replace.is_some() => {
                let state = c.expect("permanent")?;
                if state.text != "permanent" {
                    return Err(unsupported(
                        state,
                        "neighbour state",
                        "permanent (entries that age are not modeled)",
                    ));
                }
            }
            _ => {
                let hint = if replace.is_some() {
                    "lladdr MAC, dev DEV or nud permanent"
                } else {
                    "dev DEV"
                };
                return Err(unsupported(t, "neigh option", hint));
            }
        }
    }
    let Some(dev) = dev else {
        return Err(ParseError::missing(c.consumed(), c.input_len(), "dev DEVICE"));
    };
    match replace {
        None => Ok(Op::NeighDel { netns, dev, ip }),
        Some(replace) => {
            let Some(mac) = mac else {
                return Err(ParseError::missing(c.consumed(), c.input_len(), "lladdr MAC"));
            };
            Ok(Op::NeighAdd { netns, dev, ip, mac, replace })
        }
    }
}

fn parse_sysctl(c: &mut Cursor<'_>, netns: NetnsName) -> Result<Op, ParseError> {
    // `sysctl KEY=VALUE` writes as `sysctl -w KEY=VALUE` does.
    let _ = c.next_if(|s| s == "-w");
    let t = c.expect("KEY=VALUE")?;
    let (k, v) = t.text.split_once('=').ok_or_else(|| {
        ParseError::at(
            t,
            ParseErrorKind::Invalid {
                what: "sysctl setting",
                token: t.text.clone(),
                reason: "expected KEY=VALUE".into(),
            },
        )
    })?;
    let key = SysctlKey::parse(k).ok_or_else(|| {
        unsupported(
            t,
            "sysctl",
            "net.ipv4.ip_forward, ip_nonlocal_bind, icmp_echo_ignore_all, net.ipv4.conf.{all,default,DEV}.{forwarding,route_localnet,rp_filter,proxy_arp}, net.bridge.bridge-nf-call-iptables",
        )
    })?;
    let value = v.parse::<u8>().map_err(|_| {
        let reason = "expected a number from 0 to 255 (nettwin models no others)".into();
        ParseError::at(
            t,
            ParseErrorKind::Invalid { what: "sysctl value", token: t.text.clone(), reason },
        )
    })?;
    Ok(Op::Sysctl { netns, key, value })
}

fn parse_ipam(c: &mut Cursor<'_>) -> Result<Op, ParseError> {
    let verb = c.expect("allocate or release")?;
    match verb.text.as_str() {
        "allocate" => {
            let pool = c.expect("pool name")?.text.clone();
            let subnet = c.value("subnet", Cidr::from_str)?;
            let gateway = if c.eat("gateway") {
                Some(c.value("gateway", crate::addr::parse_ip)?)
            } else {
                None
            };
            c.expect_word("id")?;
            let id = c.expect("owner id")?.text.clone();
            c.expect_word("ifname")?;
            let ifname = if_name(c, "interface name")?;
            Ok(Op::IpamAllocate { pool, subnet, gateway, id, ifname })
        }
        "release" => {
            let pool = c.expect("pool name")?.text.clone();
            c.expect_word("id")?;
            let id = c.expect("owner id")?.text.clone();
            c.expect_word("ifname")?;
            let ifname = if_name(c, "interface name")?;
            Ok(Op::IpamRelease { pool, id, ifname })
        }
        _ => Err(unsupported(verb, "ipam verb", "allocate or release")),
    }
}

impl fmt::Display for LinkChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkChange::Up => f.write_str("up"),
            LinkChange::Down => f.write_str("down"),
            LinkChange::Master(m) => write!(f, "master {m}"),
            LinkChange::NoMaster => f.write_str("nomaster"),
            LinkChange::Mtu(m) => write!(f, "mtu {m}"),
            LinkChange::Hairpin(on) => {
                write!(f, "type bridge_slave hairpin {}", if *on { "on" } else { "off" })
            }
            LinkChange::Netns(ns) => write!(f, "netns {ns}"),
        }
    }
}

fn mac_opt(m: &Option<Mac>) -> String {
    m.map(|m| format!(" address {m}")).unwrap_or_default()
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::NetnsAdd { name } => write!(f, "ip netns add {name}"),
            Op::NetnsDel { name } => write!(f, "ip netns del {name}"),
            Op::BridgeAdd { netns, name, mac } => {
                write!(f, "ip -n {netns} link add {name}{} type bridge", mac_opt(mac))
            }
            Op::VethAdd { netns, name, mac, peer_netns, peer, peer_mac } => {
                write!(
                    f,
                    "ip -n {netns} link add {name}{} type veth peer name {peer}{}",
                    mac_opt(mac),
                    mac_opt(peer_mac)
                )?;
                if peer_netns != netns {
                    write!(f, " netns {peer_netns}")?;
                }
                Ok(())
            }
            Op::LinkDel { netns, name } => write!(f, "ip -n {netns} link del {name}"),
            Op::LinkSet { netns, name, change } => {
                write!(f, "ip -n {netns} link set {name} {change}")
            }
            Op::AddrAdd { netns, dev, addr, opts } => {
                write!(f, "ip -n {netns} addr add {addr}")?;
                if opts.broadcast {
                    f.write_str(" brd +")?;
                }
                if let Some(label) = &opts.label {
                    write!(f, " label {}", quote(label))?;
                }
                write!(f, " dev {dev}")
            }
            Op::AddrFlush { netns, dev } => write!(f, "ip -n {netns} addr flush dev {dev}"),
            Op::NeighAdd { netns, dev, ip, mac, replace } => {
                let verb = if *replace { "replace" } else { "add" };
                write!(f, "ip -n {netns} neigh {verb} {ip} lladdr {mac} dev {dev} nud permanent")
            }
            Op::NeighDel { netns, dev, ip } => write!(f, "ip -n {netns} neigh del {ip} dev {dev}"),
            Op::AddrDel { netns, dev, addr } => {
                write!(f, "ip -n {netns} addr del {addr} dev {dev}")
            }
            Op::RouteAdd { netns, route } => write!(f, "ip -n {netns} route add {route}"),
            Op::RouteDel { netns, route } => write!(f, "ip -n {netns} route del {route}"),
            Op::RouteReplace { netns, route } => {
                write!(f, "ip -n {netns} route replace {route}")
            }
            Op::RuleAdd { netns, rule } => write!(f, "ip -n {netns} rule add {rule}"),
            Op::RuleDel { netns, rule } => write!(f, "ip -n {netns} rule del {rule}"),
            Op::Sysctl { netns, key, value } => {
                write!(f, "ip netns exec {netns} sysctl -w {}={value}", key.name())
            }
            Op::Iptables { netns, table, cmd } => {
                write!(f, "ip netns exec {netns} iptables ")?;
                if *table != Table::Filter {
                    write!(f, "-t {table} ")?;
                }
                write!(f, "{cmd}")
            }
            Op::IpamAllocate { pool, subnet, gateway, id, ifname } => {
                write!(f, "ipam allocate {} {subnet}", quote(pool))?;
                if let Some(g) = gateway {
                    write!(f, " gateway {g}")?;
                }
                write!(f, " id {} ifname {ifname}", quote(id))
            }
            Op::IpamRelease { pool, id, ifname } => {
                write!(f, "ipam release {} id {} ifname {ifname}", quote(pool), quote(id))
            }
            Op::Listen { netns, proto, at } => {
                write!(f, "ip netns exec {netns} listen {proto} {at}")
            }
            Op::Close { netns, proto, at } => write!(f, "ip netns exec {netns} close {proto} {at}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("ip netns add host")]
    #[case("ip netns del host")]
    #[case("ip -n host link add nomad type bridge")]
    #[case("ip -n host link add nomad address 02:00:00:00:00:01 type bridge")]
    #[case("ip -n host link add veth1a2b3c4d type veth peer name eth0 netns alloc1")]
    #[case("ip -n host link add v0 type veth peer name v1")]
    #[case("ip -n host link del veth1a2b3c4d")]
    #[case("ip -n host link set veth1a2b3c4d up")]
    #[case("ip -n host link set veth1a2b3c4d down")]
    #[case("ip -n host link set veth1a2b3c4d master nomad")]
    #[case("ip -n host link set veth1a2b3c4d nomaster")]
    #[case("ip -n host link set veth1a2b3c4d mtu 1400")]
    #[case("ip -n host link set veth1a2b3c4d type bridge_slave hairpin on")]
    #[case("ip -n host link set v1 netns alloc1")]
    #[case("ip -n host addr add 172.26.64.1/20 dev nomad")]
    #[case("ip -n host addr del 172.26.64.1/20 dev nomad")]
    #[case("ip -n alloc1 route add default via 172.26.64.1 dev eth0")]
    #[case("ip -n host route add 10.0.0.0/8 dev eth0 src 192.0.2.10")]
    #[case("ip -n host route del default")]
    #[case("ip netns exec host sysctl -w net.ipv4.ip_forward=1")]
    #[case("ip netns exec host sysctl -w net.ipv4.conf.nomad.route_localnet=1")]
    #[case("ip netns exec host sysctl -w net.bridge.bridge-nf-call-iptables=0")]
    #[case("ip netns exec alloc1 listen tcp 0.0.0.0:6379")]
    #[case("ip netns exec alloc1 close udp 172.26.64.5:53")]
    #[case("ipam allocate nomad 172.26.64.0/20 gateway 172.26.64.1 id abc ifname eth0")]
    #[case("ipam release nomad id abc ifname eth0")]
    fn canonical_text_round_trips(#[case] text: &str) {
        let op = parse_op(text).expect("parses");
        assert_eq!(op.to_string(), text);
    }

    #[rstest]
    #[case("ip -n h link add name br0 type bridge", "ip -n h link add br0 type bridge")]
    #[case("ip -n h link add v0 type veth peer v1", "ip -n h link add v0 type veth peer name v1")]
    #[case("ip -n h link set dev v0 up", "ip -n h link set v0 up")]
    #[case("ip -n h link set up dev v0", "ip -n h link set v0 up")]
    #[case("ip -n h link set down v0", "ip -n h link set v0 down")]
    #[case("ip -n h link set dev v0 mtu 1400", "ip -n h link set v0 mtu 1400")]
    #[case("ip -n h link del dev v0", "ip -n h link del v0")]
    #[case("ip -n h link delete v0", "ip -n h link del v0")]
    #[case(
        "ip -n h addr add 10.0.0.1/24 dev v0 brd +",
        "ip -n h addr add 10.0.0.1/24 brd + dev v0"
    )]
    #[case(
        "ip -n h address add 10.0.0.1/24 broadcast + label v0:1 dev v0",
        "ip -n h addr add 10.0.0.1/24 brd + label v0:1 dev v0"
    )]
    #[case("ip -n h addr flush v0", "ip -n h addr flush dev v0")]
    #[case(
        "ip -n h neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev v0",
        "ip -n h neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent"
    )]
    #[case(
        "ip -n h neighbour replace 10.0.0.2 dev v0 lladdr 02:00:00:00:00:02 nud permanent",
        "ip -n h neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent"
    )]
    #[case("ip -n h neigh delete 10.0.0.2 dev v0", "ip -n h neigh del 10.0.0.2 dev v0")]
    fn spellings_people_type_read_as_the_canonical_op(#[case] text: &str, #[case] canonical: &str) {
        let op = parse_op(text).expect("parses");
        assert_eq!(op.to_string(), canonical);
        assert_eq!(parse_op(canonical).expect("canonical parses"), op);
    }

    #[test]
    fn ip_netns_exec_ip_is_a_synonym_of_ip_n() {
        let op = parse_op("ip netns exec host ip link set nomad up").expect("parses");
        assert_eq!(op.to_string(), "ip -n host link set nomad up");
    }

    #[rstest]
    #[case("ip link add nomad type bridge", "link", "command without a namespace")]
    #[case("ip -n host link add nomad type vxlan", "vxlan", "unsupported link type")]
    #[case("ip -n host link add abcdefghijklmnop type bridge", "abcdefghijklmnop", "16 bytes")]
    #[case("ip -n host addr add 172.26.64.1/33 dev nomad", "172.26.64.1/33", "invalid CIDR")]
    #[case("ip -n host route add 172.26.64.1/20 dev nomad", "172.26.64.1/20", "host bits")]
    #[case("ip -n host route add default", "", "via GATEWAY or dev DEVICE")]
    #[case("ip -n host route add default via 1.2.3.4 via 1.2.3.5", "via", "given twice")]
    #[case(
        "ip netns exec host sysctl -w net.ipv4.tcp_syncookies=1",
        "net.ipv4.tcp_syncookies=1",
        "unsupported sysctl"
    )]
    #[case(
        "ip netns exec host sysctl -w net.ipv4.ip_forward=256",
        "net.ipv4.ip_forward=256",
        "0 to 255"
    )]
    #[case(
        "ip netns exec host sysctl -w net.ipv4.ip_forward=on",
        "net.ipv4.ip_forward=on",
        "0 to 255"
    )]
    #[case("ip netns exec host listen sctp 0.0.0.0:1", "sctp", "tcp or udp")]
    #[case("ip netns add bad/name", "bad/name", "'/'")]
    #[case("tc qdisc add", "tc", "unsupported command")]
    #[case("ip netns add host extra", "extra", "unexpected")]
    #[case("ip -n h link set v0 mtu 1400 up", "up", "one setting per step")]
    #[case("ip -n h link add name d0 type dummy", "dummy", "no driver")]
    #[case("ip -n h addr add 10.0.0.1/24 brd 10.0.0.255 dev v0", "10.0.0.255", "brd +")]
    #[case("ip -n h addr add 10.0.0.1/24 label a label b dev v0", "label", "given twice")]
    #[case("ip -n h addr add 10.0.0.1/24 scope link dev v0", "scope", "unsupported address option")]
    #[case("ip -n h addr add 10.0.0.1/24", "", "dev DEVICE")]
    #[case(
        "ip -n h neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev v0 nud reachable",
        "reachable",
        "permanent"
    )]
    #[case(
        "ip -n h neigh add 10.0.0.2 lladdr ff:ff:ff:ff:ff:ff dev v0",
        "ff:ff:ff:ff:ff:ff",
        "unicast"
    )]
    #[case("ip -n h neigh add 10.0.0.2 dev v0", "", "lladdr MAC")]
    #[case("ip neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev v0", "neigh", "without a namespace")]
    fn bad_text_names_the_offending_token(
        #[case] text: &str,
        #[case] token: &str,
        #[case] message: &str,
    ) {
        let err = parse_op(text).expect_err("refused");
        assert_eq!(&text[err.span.clone()], token, "span of {err}");
        assert!(err.to_string().contains(message), "{err} should contain {message:?}");
    }
}
