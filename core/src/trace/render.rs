//! Rendering traces for people (aligned text, one hop per line) and for machines (JSON with
//! stable field names).
//!
//! The text form, as the design sketches it:
//!
//! ```text
//! probe "the world reaches a5"  192.0.2.1:40000 → 192.0.2.10:8080/tcp
//!   world  up0           out  192.0.2.1:40000 → 192.0.2.10:8080
//!   host   eth0          in   nat/PREROUTING #1 → CNI-HOSTPORT-DNAT #1 → CNI-DN-… #3 DNAT → 172.26.64.5:80
//!   host   (route)            172.26.64.0/20 dev nomad
//!   ...
//!   delivered to a5 0.0.0.0:80/tcp, seen from 192.0.2.1:40000
//!   reply SYN-ACK  172.26.64.5:80 → 192.0.2.1:40000/tcp
//!   ...
//! ```
//!
//! A hop on a device shows the device and the direction; a hop of the IP stack shows its
//! stage: `(route)`, `(prerouting)`, `(input)`, `(forward)`, `(output)`, `(postrouting)`,
//! `(conntrack)`. The last column is the deciding step, or the header when the hop only saw
//! the packet. Chain paths name every chain with the 1-based number of the rule that jumped
//! or decided there; a chain without a number was left by falling off its end.

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    ChainHit, Dir, DropCause, Flow, Hop, Note, Outcome, Refusal, Silence, Step, Trace, Verdict,
    reject_name,
};
use crate::addr::{Cidr, Endpoint};
use crate::iptables::{PortRange, RejectWith};
use crate::state::{RoutingRule, RuleAction, SpecialKind};

/// The whole trace as aligned text, ending with a newline.
pub fn text(trace: &Trace) -> String {
    let fwd: Vec<Row> = trace.hops.iter().map(row).collect();
    let reply: Vec<Row> = trace.reply.iter().filter(|h| !is_stopped(h)).map(row).collect();
    let widths = Widths::of(fwd.iter().chain(reply.iter()));
    let mut out = String::new();
    let f = &trace.flow;
    let _ = writeln!(out, "probe {:?}  {}/{}", trace.probe.name, endpoints(f), f.proto);
    for r in &fwd {
        widths.write(&mut out, r);
    }
    let _ = writeln!(out, "  {}", outcome_text(trace));
    if let Some(first) = trace.reply.first() {
        let p = &first.packet;
        let _ = writeln!(out, "  reply {}  {}/{}", reply_kind(trace), endpoints(p), p.proto);
        for r in &reply {
            widths.write(&mut out, r);
        }
        match trace.reply.last().map(|h| &h.step) {
            Some(Step::Stopped { outcome }) => {
                let _ = writeln!(out, "  reply {}", outcome_line(outcome, trace));
            }
            _ => {
                let _ = writeln!(out, "  reply reached {}", trace.probe.from);
            }
        }
    }
    out
}

/// The JSON form of a trace. Field names are stable: `name`, `from`, `flow`, `outcome`
/// (`delivered|refused|dropped|no-route|timed-out`), `delivered_to`, `seen_src`, `summary`
/// (the outcome line of the text form), `detail` (the outcome with all its fields), `hops`,
/// `reply`.
pub fn json(trace: &Trace) -> serde_json::Value {
    let view = JsonTrace {
        name: &trace.probe.name,
        from: trace.probe.from.as_str(),
        flow: &trace.flow,
        outcome: trace.outcome.kind(),
        delivered_to: trace.outcome.delivered_to().map(|n| n.as_str()),
        seen_src: trace.outcome.seen_src().map(|e| seen_text(trace, e)),
        summary: outcome_text(trace),
        detail: &trace.outcome,
        hops: &trace.hops,
        reply: &trace.reply,
    };
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}

/// `json` pretty-printed, ending with a newline.
pub fn json_text(trace: &Trace) -> String {
    let mut s = serde_json::to_string_pretty(&json(trace)).unwrap_or_default();
    s.push('\n');
    s
}

#[derive(Serialize)]
struct JsonTrace<'a> {
    name: &'a str,
    from: &'a str,
    flow: &'a Flow,
    outcome: &'static str,
    delivered_to: Option<&'a str>,
    seen_src: Option<String>,
    summary: String,
    detail: &'a Outcome,
    hops: &'a [Hop],
    reply: &'a [Hop],
}

/// One line of the table: namespace, place (device or stage), direction, what happened.
struct Row {
    netns: String,
    place: String,
    dir: &'static str,
    what: String,
}

struct Widths {
    netns: usize,
    place: usize,
    dir: usize,
}

impl Widths {
    fn of<'a>(rows: impl Iterator<Item = &'a Row>) -> Widths {
        let mut w = Widths { netns: 0, place: 0, dir: 0 };
        for r in rows {
            w.netns = w.netns.max(r.netns.chars().count());
            w.place = w.place.max(r.place.chars().count());
            w.dir = w.dir.max(r.dir.len());
        }
        w
    }

    fn write(&self, out: &mut String, r: &Row) {
        let _ = writeln!(
            out,
            "  {:<nw$}  {:<pw$}  {:<dw$}  {}",
            r.netns,
            r.place,
            r.dir,
            r.what,
            nw = self.netns,
            pw = self.place,
            dw = self.dir
        );
    }
}

fn is_stopped(h: &Hop) -> bool {
    matches!(h.step, Step::Stopped { .. })
}

fn row(h: &Hop) -> Row {
    let place = match &h.device {
        Some(d) => d.to_string(),
        None => stage(&h.step).to_owned(),
    };
    let dir = match h.dir {
        Dir::In => "in",
        Dir::Out => "out",
        Dir::Bridge => "bridge",
        Dir::Stack => "",
    };
    Row { netns: h.netns.to_string(), place, dir, what: step_text(&h.step, &h.packet) }
}

/// The stage name of a hop of the IP stack.
fn stage(step: &Step) -> &'static str {
    match step {
        Step::Route { .. } | Step::Discard { .. } | Step::Local => "(route)",
        Step::Netfilter { hook, .. } => match hook.as_str() {
            "PREROUTING" => "(prerouting)",
            "INPUT" => "(input)",
            "FORWARD" => "(forward)",
            "OUTPUT" => "(output)",
            "POSTROUTING" => "(postrouting)",
            _ => "(netfilter)",
        },
        Step::Conntrack { .. } => "(conntrack)",
        Step::Bridge { .. } => "(bridge)",
        Step::Counters { .. } => "(counters)",
        Step::Seen | Step::Stopped { .. } => "(stack)",
    }
}

/// `a:p → b:q` (ports left out for ICMP).
fn endpoints(f: &Flow) -> String {
    f.to_string()
}

/// The source the receiver saw; a port the kernel drew at random is named by its range.
fn seen_text(trace: &Trace, seen: Endpoint) -> String {
    match trace.drawn_port() {
        Some(r) => format!("{}:<drawn from {}-{}>", seen.ip, r.lo, r.hi),
        None => show_endpoint(seen, &trace.flow),
    }
}

fn show_endpoint(e: Endpoint, f: &Flow) -> String {
    if f.proto.has_ports() { e.to_string() } else { e.ip.to_string() }
}

fn prefix_text(dst: Cidr) -> String {
    if dst == Cidr::DEFAULT { "default".to_owned() } else { dst.to_string() }
}

/// ` (rule 100: from 10.0.0.2 lookup 100)`, the rule as `ip rule` prints it.
fn push_rule(s: &mut String, rule: Option<&RoutingRule>) {
    if let Some(r) = rule {
        let _ = write!(s, " (rule {})", r.to_string().replace(":\t", ": "));
    }
}

fn step_text(step: &Step, p: &Flow) -> String {
    match step {
        Step::Seen => endpoints(p),
        Step::Route { route, rule } => {
            let mut s = prefix_text(route.dst);
            if let Some(v) = route.via {
                let _ = write!(s, " via {v}");
            }
            let _ = write!(s, " dev {}", route.dev);
            if !route.table.is_main() {
                let _ = write!(s, " table {}", route.table);
            }
            if route.metric != 0 {
                let _ = write!(s, " metric {}", route.metric);
            }
            push_rule(&mut s, rule.as_ref());
            s
        }
        Step::Discard { route, rule } => {
            let mut s = match route {
                Some(r) => {
                    let mut s = format!("{} {}", r.kind.as_str(), prefix_text(r.dst));
                    if !r.table.is_main() {
                        let _ = write!(s, " table {}", r.table);
                    }
                    s
                }
                // The rule itself decided.
                None => {
                    return rule.as_ref().map_or_else(
                        || "no route".to_owned(),
                        |r| format!("rule {}", r.to_string().replace(":\t", ": ")),
                    );
                }
            };
            push_rule(&mut s, rule.as_ref());
            s
        }
        Step::Local => format!("local {}", p.dst.ip),
        Step::Netfilter { table, hook, path, verdict, mark, notes } => {
            let mut s = chain_path(table.as_str(), hook, path);
            let last_rule = path.last().and_then(|h| h.rule);
            if last_rule.is_none() {
                s.push_str(" policy");
            }
            let _ = write!(s, " {}", verdict_text(verdict, p));
            if *mark != 0 {
                let _ = write!(s, " (mark {mark:#x})");
            }
            for note in notes {
                match note {
                    Note::RateNotModeled { chain, rule } => {
                        let _ = write!(s, " ({chain} #{rule} -m limit: rate not modeled)");
                    }
                    Note::Passed { chain, rule, target } => {
                        let _ = write!(s, " ({chain} #{rule} {target}, went on)");
                    }
                    Note::Untracked { chain, rule } => {
                        let _ = write!(s, " ({chain} #{rule} NOTRACK)");
                    }
                }
            }
            s
        }
        Step::Conntrack { state, from } => {
            let mut changes = Vec::new();
            if from.src != p.src {
                changes.push(format!(
                    "un-DNAT {} → {}",
                    show_endpoint(from.src, p),
                    show_endpoint(p.src, p)
                ));
            }
            if from.dst != p.dst {
                changes.push(format!(
                    "un-SNAT {} → {}",
                    show_endpoint(from.dst, p),
                    show_endpoint(p.dst, p)
                ));
            }
            if changes.is_empty() {
                format!("conntrack {state}")
            } else {
                format!("conntrack {state}: {}", changes.join(", "))
            }
        }
        Step::Bridge { to, learned } => {
            format!("{} → {to}", if *learned { "fdb" } else { "flood" })
        }
        Step::Counters { table, chain, rule, text } => match rule {
            Some(n) => format!("{table}/{chain} #{n} {text}"),
            None => format!("{table}/{chain} policy"),
        },
        Step::Stopped { outcome } => outcome.kind().to_owned(),
    }
}

fn chain_path(table: &str, hook: &str, path: &[ChainHit]) -> String {
    if path.is_empty() {
        return format!("{table}/{hook}");
    }
    let parts: Vec<String> = path
        .iter()
        .map(|h| match h.rule {
            Some(n) => format!("{} #{n}", h.chain),
            None => h.chain.clone(),
        })
        .collect();
    format!("{table}/{}", parts.join(" → "))
}

fn verdict_text(v: &Verdict, p: &Flow) -> String {
    match v {
        Verdict::Accept => "ACCEPT".to_owned(),
        Verdict::Drop => "DROP".to_owned(),
        Verdict::Reject { with } => format!("REJECT --reject-with {}", reject_name(*with)),
        Verdict::Dnat { to } => format!("DNAT → {}", show_endpoint(*to, p)),
        Verdict::Snat { to, drawn } => format!("SNAT → {}", nat_source(*to, *drawn, p)),
        Verdict::Masquerade { to, drawn } => {
            format!("MASQUERADE → {}", nat_source(*to, *drawn, p))
        }
    }
}

/// A source NAT's new source; a port the kernel draws is named by its range, and the
/// port the trace goes on with is said.
fn nat_source(to: Endpoint, drawn: Option<PortRange>, p: &Flow) -> String {
    match drawn {
        Some(r) => format!(
            "{}:{}-{} (port drawn at random; the trace goes on with {})",
            to.ip, r.lo, r.hi, to.port
        ),
        None => show_endpoint(to, p),
    }
}

/// The outcome line of a trace (without indentation).
pub fn outcome_text(trace: &Trace) -> String {
    outcome_line(&trace.outcome, trace)
}

fn outcome_line(outcome: &Outcome, trace: &Trace) -> String {
    match outcome {
        Outcome::Delivered { netns, socket: Some(s), seen_src } => {
            let seen = seen_text(trace, *seen_src);
            format!("delivered to {netns} {}/{}, seen from {seen}", s.at, s.proto)
        }
        Outcome::Delivered { netns, socket: None, seen_src } => {
            format!("delivered to {netns} (echo answered), seen from {}", seen_src.ip)
        }
        Outcome::Refused { netns, by: Refusal::NoListener } => {
            let at = trace.hops.last().map_or(trace.flow, |h| h.packet);
            format!("refused by {netns}: nothing listens on {}/{}", at.dst, at.proto)
        }
        Outcome::Refused { netns, by: Refusal::Reject { table, chain, rule } } => {
            let with = reject_with(trace).unwrap_or(RejectWith::PortUnreachable);
            format!(
                "refused by {netns}: {table}/{chain} #{rule} REJECT --reject-with {}",
                reject_name(with)
            )
        }
        Outcome::Dropped { netns, by: DropCause::Rule { table, chain, rule } } => {
            format!("dropped in {netns} by {table}/{chain} #{rule} DROP")
        }
        Outcome::Dropped { netns, by: DropCause::Policy { table, chain } } => {
            format!("dropped in {netns} by {table}/{chain} policy DROP")
        }
        Outcome::NoRoute { netns, dst } => format!("no route in {netns} to {dst}"),
        Outcome::TimedOut { netns, why } => format!("timed out in {netns}: {}", silence(why)),
        Outcome::SendFailed { netns, errno } => {
            let prohibited = trace.hops.iter().any(|h| matches!(h.step, Step::Discard { .. }));
            format!("send failed in {netns}: {} ({})", errno.name(), errno.reason(prohibited))
        }
    }
}

/// The reason in words, as a trace prints it.
impl std::fmt::Display for Silence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&silence(self))
    }
}

fn silence(why: &Silence) -> String {
    match why {
        Silence::NoHairpin { port } => {
            format!("the bridge will not send the frame back out {port} (hairpin off)")
        }
        Silence::NoNeighbor { ip, dev } => format!("nobody answers ARP for {ip} on {dev}"),
        Silence::NoCarrier { dev } => format!("{dev} has no carrier"),
        Silence::OtherHost { dev } => {
            format!(
                "the frame's destination MAC is not {dev}'s (a neighbour entry with another MAC)"
            )
        }
        Silence::NotForwarding => {
            "not for this namespace, and its device does not forward".to_owned()
        }
        Silence::ReversePath => "the reverse-path filter (rp_filter) drops it".to_owned(),
        Silence::Martian => {
            "martian packet dropped (a loopback or local address where it may not be)".to_owned()
        }
        Silence::EchoIgnored => "it ignores echo requests (icmp_echo_ignore_all)".to_owned(),
        Silence::Blackhole => "a blackhole route discards it".to_owned(),
        Silence::TtlExceeded => "TTL exceeded (a routing loop)".to_owned(),
        Silence::NoAnswer => "no answer".to_owned(),
    }
}

/// The `--reject-with` of the REJECT rule that decided, from the last netfilter hop.
fn reject_with(trace: &Trace) -> Option<RejectWith> {
    trace.hops.iter().rev().find_map(|h| match &h.step {
        Step::Netfilter { verdict: Verdict::Reject { with }, .. } => Some(*with),
        _ => None,
    })
}

/// What the answer to the probe was, for the reply header.
fn reply_kind(trace: &Trace) -> String {
    use crate::addr::Proto;
    let proto = trace.flow.proto;
    match &trace.outcome {
        Outcome::Delivered { .. } if proto == Proto::Icmp => "echo reply".to_owned(),
        Outcome::Delivered { .. } => "SYN-ACK".to_owned(),
        Outcome::Refused { by: Refusal::NoListener, .. } if proto == Proto::Tcp => "RST".to_owned(),
        Outcome::Refused { by: Refusal::NoListener, .. } => "ICMP port-unreachable".to_owned(),
        Outcome::Refused { by: Refusal::Reject { .. }, .. } => match reject_with(trace) {
            Some(RejectWith::TcpReset) => "RST".to_owned(),
            Some(w) => format!("ICMP {}", reject_name(w).trim_start_matches("icmp-")),
            None => "ICMP port-unreachable".to_owned(),
        },
        Outcome::NoRoute { .. } => {
            // An unreachable or prohibit route (or rule) answers with its own code.
            let discard = trace.hops.iter().rev().find_map(|h| match &h.step {
                Step::Discard { route, rule } => {
                    Some((route.as_ref().map(|r| r.kind), rule.as_ref().map(|r| r.action)))
                }
                _ => None,
            });
            match discard {
                Some((Some(SpecialKind::Prohibit), _))
                | Some((None, Some(RuleAction::Prohibit))) => "ICMP admin-prohibited".to_owned(),
                Some((Some(SpecialKind::Unreachable), _)) | Some((None, Some(_))) => {
                    "ICMP host-unreachable".to_owned()
                }
                _ => "ICMP net-unreachable".to_owned(),
            }
        }
        Outcome::TimedOut { why: Silence::NoNeighbor { .. }, .. } => {
            "ICMP host-unreachable".to_owned()
        }
        Outcome::TimedOut { why: Silence::TtlExceeded, .. } => "ICMP time-exceeded".to_owned(),
        _ => "answer".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Proto;
    use crate::iptables::Table;
    use crate::names::{IfName, NetnsName};
    use crate::state::{Route, RouteProto, Socket};
    use crate::trace::Probe;

    fn name<T: std::str::FromStr>(s: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn hop(netns: &str, device: Option<&str>, dir: Dir, packet: Flow, step: Step) -> Hop {
        Hop { netns: name(netns), device: device.map(name::<IfName>), dir, packet, step }
    }

    fn sample() -> Trace {
        let f =
            Flow { proto: Proto::Tcp, src: name("192.0.2.1:40000"), dst: name("192.0.2.10:8080") };
        let dnat = Flow { dst: name("172.26.64.5:80"), ..f };
        let route = Route {
            dst: name("172.26.64.0/20"),
            via: None,
            dev: name("nomad"),
            src: None,
            proto: RouteProto::Kernel,
            table: crate::state::RouteTable::MAIN,
            metric: 0,
            scope: crate::state::RouteScope::Link,
            onlink: false,
        };
        let nat = Step::Netfilter {
            table: Table::Nat,
            hook: "PREROUTING".into(),
            path: vec![
                ChainHit { chain: "PREROUTING".into(), rule: Some(1) },
                ChainHit { chain: "CNI-DN-x".into(), rule: Some(3) },
            ],
            verdict: Verdict::Dnat { to: dnat.dst },
            mark: 0,
            notes: Vec::new(),
        };
        Trace {
            probe: Probe {
                name: "world to a5".into(),
                from: name::<NetnsName>("world"),
                src: None,
                sport: None,
                dst: f.dst,
                proto: Proto::Tcp,
            },
            flow: f,
            hops: vec![
                hop("world", Some("up0"), Dir::Out, f, Step::Seen),
                hop("host", Some("eth0"), Dir::In, f, nat),
                hop("host", None, Dir::Stack, dnat, Step::Route { route, rule: None }),
                hop("a5", Some("eth0"), Dir::In, dnat, Step::Seen),
            ],
            outcome: Outcome::Delivered {
                netns: name("a5"),
                socket: Some(Socket { proto: Proto::Tcp, at: name("0.0.0.0:80") }),
                seen_src: f.src,
            },
            reply: vec![hop(
                "a5",
                None,
                Dir::Stack,
                dnat.reversed(),
                Step::Stopped {
                    outcome: Box::new(Outcome::Dropped {
                        netns: name("host"),
                        by: DropCause::Policy { table: Table::Filter, chain: "FORWARD".into() },
                    }),
                },
            )],
        }
    }

    #[test]
    fn text_aligns_columns_and_ends_with_the_outcome_and_the_reply() {
        let want = "\
probe \"world to a5\"  192.0.2.1:40000 → 192.0.2.10:8080/tcp
  world  up0      out  192.0.2.1:40000 → 192.0.2.10:8080
  host   eth0     in   nat/PREROUTING #1 → CNI-DN-x #3 DNAT → 172.26.64.5:80
  host   (route)       172.26.64.0/20 dev nomad
  a5     eth0     in   192.0.2.1:40000 → 172.26.64.5:80
  delivered to a5 0.0.0.0:80/tcp, seen from 192.0.2.1:40000
  reply SYN-ACK  172.26.64.5:80 → 192.0.2.1:40000/tcp
  reply dropped in host by filter/FORWARD policy DROP
";
        assert_eq!(text(&sample()), want);
    }

    #[test]
    fn json_names_the_outcome_receiver_and_seen_source() {
        let v = json(&sample());
        assert_eq!(v["name"], "world to a5");
        assert_eq!(v["outcome"], "delivered");
        assert_eq!(v["delivered_to"], "a5");
        assert_eq!(v["seen_src"], "192.0.2.1:40000");
        assert_eq!(v["hops"].as_array().map(Vec::len), Some(4));
        assert_eq!(v["reply"][0]["step"]["step"], "stopped");
    }
}
