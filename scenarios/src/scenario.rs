//! A validated scenario: ops that parsed, probes whose namespaces exist, expectations ready
//! to compare with a `Trace`. Every item keeps the `Place` it came from, so that a runner
//! can say which line an unmet expectation is on.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use nettwin_core::addr::Endpoint;
use nettwin_core::error::{ErrorKind, OpError};
use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::op::Op;
use nettwin_core::trace::{Dir, Probe, WireHop};

use nettwin_core::source::{Place, SourceFile};

/// A scenario that loaded: every op parsed and every reference resolved.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from.
    pub file: SourceFile,
    /// Its short name.
    pub name: String,
    /// What it teaches.
    pub description: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The probes, in order.
    pub probes: Vec<ProbeCase>,
}

/// One op to apply, and the error it must fail with, if any.
#[derive(Clone, Debug)]
pub struct Step {
    /// The op.
    pub op: Op,
    /// The op text as written; `None` for a step a `nomad:` section generated (its text
    /// is the op's own, printed when needed: a /20 has some 120,000 of them).
    pub written: Option<String>,
    /// `Some` when the step must fail.
    pub expect: Option<ExpectedError>,
    /// Where the op text is.
    pub place: Place,
}

impl Step {
    /// The op text: as written, or the op printed.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match &self.written {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => std::borrow::Cow::Owned(self.op.to_string()),
        }
    }
}

/// The refusal a failing step must produce.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExpectedError {
    /// Its kind.
    pub kind: ErrorKind,
    /// Text its message must contain.
    pub message: Option<String>,
}

impl ExpectedError {
    /// Whether `got` is this refusal.
    pub fn matches(&self, got: &OpError) -> bool {
        got.kind == self.kind && self.message.as_ref().is_none_or(|m| got.to_string().contains(m))
    }
}

impl fmt::Display for ExpectedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(m) = &self.message {
            write!(f, " with a message containing {m:?}")?;
        }
        Ok(())
    }
}

/// A probe and what must happen to it.
#[derive(Clone, Debug)]
pub struct ProbeCase {
    /// The flow (its `name` is the probe's label).
    pub probe: Probe,
    /// What must happen.
    pub expect: Expectation,
    /// Where the probe's name is.
    pub place: Place,
}

/// What must happen to a probe. `None` fields are not checked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expectation {
    /// The outcome kind.
    pub outcome: OutcomeKind,
    /// The namespace where the probe ended.
    pub at: Option<NetnsName>,
    /// The source address (and port) the receiver saw.
    pub seen_src: Option<SeenSrc>,
    /// The wire path.
    pub path: Option<PathPattern>,
}

/// A source address as the receiver must see it: an address, optionally with a port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SeenSrc {
    /// The address.
    pub ip: Ipv4Addr,
    /// The port, when it matters.
    pub port: Option<u16>,
}

/// Why a `seen_src` did not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid source {0:?}: expected an IPv4 address, optionally with :port")]
pub struct SeenSrcError(String);

impl SeenSrc {
    /// Whether the receiver's view matches.
    pub fn matches(&self, got: Endpoint) -> bool {
        got.ip == self.ip && self.port.is_none_or(|p| p == got.port)
    }
}

impl FromStr for SeenSrc {
    type Err = SeenSrcError;
    fn from_str(s: &str) -> Result<Self, SeenSrcError> {
        if let Ok(ip) = s.parse() {
            return Ok(SeenSrc { ip, port: None });
        }
        let e: Endpoint = s.parse().map_err(|_| SeenSrcError(s.to_owned()))?;
        Ok(SeenSrc { ip: e.ip, port: Some(e.port) })
    }
}

impl fmt::Display for SeenSrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.ip),
            None => write!(f, "{}", self.ip),
        }
    }
}

/// One element of a path expectation: `*` (any run of hops, even none), or
/// `netns/device[:in|:out]` where each name may hold `*` wildcards.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum HopPattern {
    /// `*`: any number of hops.
    Any,
    /// One wire hop.
    Hop {
        /// Namespace glob.
        netns: String,
        /// Device glob.
        device: String,
        /// The direction, when given.
        dir: Option<Dir>,
    },
}

/// Why a hop pattern did not parse.
#[derive(Debug, thiserror::Error)]
pub enum HopPatternError {
    /// Not `netns/device`.
    #[error(
        "invalid hop {0:?}: expected netns/device (with * wildcards), optionally :in or :out, or \"*\""
    )]
    Shape(String),
    /// A name that can never match.
    #[error("invalid hop {text:?}: {reason}")]
    Name {
        /// The refused text.
        text: String,
        /// Why.
        reason: String,
    },
}

impl HopPattern {
    /// The namespace this pattern names exactly, when it has no wildcard.
    pub fn exact_netns(&self) -> Option<&str> {
        match self {
            HopPattern::Hop { netns, .. } if !netns.contains('*') => Some(netns),
            _ => None,
        }
    }

    fn matches(&self, hop: &WireHop) -> bool {
        match self {
            HopPattern::Any => true,
            HopPattern::Hop { netns, device, dir } => {
                glob(netns, hop.0.as_str())
                    && glob(device, hop.1.as_str())
                    && dir.is_none_or(|d| d == hop.2)
            }
        }
    }
}

impl FromStr for HopPattern {
    type Err = HopPatternError;
    fn from_str(s: &str) -> Result<Self, HopPatternError> {
        if s == "*" {
            return Ok(HopPattern::Any);
        }
        let shape = || HopPatternError::Shape(s.to_owned());
        let (netns, rest) = s.split_once('/').ok_or_else(shape)?;
        let (device, dir) = match rest.rsplit_once(':') {
            Some((d, "in")) => (d, Some(Dir::In)),
            Some((d, "out")) => (d, Some(Dir::Out)),
            Some(_) => return Err(shape()),
            None => (rest, None),
        };
        if netns.is_empty() || device.is_empty() {
            return Err(shape());
        }
        let name_err = |reason: String| HopPatternError::Name { text: s.to_owned(), reason };
        // Check the literal parts as names, with each `*` standing for one valid character.
        NetnsName::new(&netns.replace('*', "x")).map_err(|e| name_err(e.to_string()))?;
        if !device.contains('*') {
            IfName::new(device).map_err(|e| name_err(e.to_string()))?;
        }
        Ok(HopPattern::Hop { netns: netns.to_owned(), device: device.to_owned(), dir })
    }
}

impl fmt::Display for HopPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HopPattern::Any => f.write_str("*"),
            HopPattern::Hop { netns, device, dir } => {
                write!(f, "{netns}/{device}")?;
                match dir {
                    Some(Dir::In) => f.write_str(":in"),
                    Some(Dir::Out) => f.write_str(":out"),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// A whole-path expectation: the patterns must match the wire path from its first hop to
/// its last.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PathPattern(pub Vec<HopPattern>);

impl PathPattern {
    /// Whether the wire path matches, anchored at both ends.
    pub fn matches(&self, path: &[WireHop]) -> bool {
        match_from(&self.0, path)
    }
}

fn match_from(pats: &[HopPattern], path: &[WireHop]) -> bool {
    match pats.split_first() {
        None => path.is_empty(),
        Some((HopPattern::Any, rest)) => {
            (0..=path.len()).any(|skip| match_from(rest, &path[skip..]))
        }
        Some((p, rest)) => {
            path.split_first().is_some_and(|(h, tail)| p.matches(h) && match_from(rest, tail))
        }
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "[{}]", items.join(", "))
    }
}

/// Prints a wire path the way path expectations are written.
pub fn format_wire_path(path: &[WireHop]) -> String {
    let items: Vec<String> = path
        .iter()
        .map(|(ns, dev, dir)| match dir {
            Dir::In => format!("{ns}/{dev}:in"),
            Dir::Out => format!("{ns}/{dev}:out"),
            _ => format!("{ns}/{dev}"),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Glob match where `*` matches any (possibly empty) run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|i| rest.is_char_boundary(*i)).any(|i| glob(tail, &rest[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn hop(ns: &str, dev: &str, dir: Dir) -> WireHop {
        (NetnsName::new(ns).expect("ns"), IfName::new(dev).expect("dev"), dir)
    }

    fn path() -> Vec<WireHop> {
        vec![
            hop("world", "eth0", Dir::Out),
            hop("host", "eth0", Dir::In),
            hop("host", "veth1a2b3c4d", Dir::Out),
            hop("alloc", "eth0", Dir::In),
        ]
    }

    fn pattern(items: &[&str]) -> PathPattern {
        PathPattern(items.iter().map(|s| s.parse().expect("pattern")).collect())
    }

    #[rstest]
    #[case(&["world/eth0", "host/eth0", "host/veth*", "alloc/eth0"], true)]
    #[case(&["world/eth0:out", "host/eth0:in", "host/veth*:out", "alloc/eth0:in"], true)]
    #[case(&["world/eth0", "*", "alloc/eth0"], true)]
    #[case(&["*", "alloc/*"], true)]
    #[case(&["*"], true)]
    #[case(&["world/eth0", "alloc/eth0"], false)]
    #[case(&["world/eth0", "host/eth0", "host/veth*"], false)]
    #[case(&["world/eth0:in", "*"], false)]
    #[case(&["*/eth0", "*", "*/eth0"], true)]
    fn path_pattern_matches_whole_wire_paths(#[case] items: &[&str], #[case] want: bool) {
        assert_eq!(pattern(items).matches(&path()), want);
    }

    #[rstest]
    #[case("host", "hop")]
    #[case("host/eth0:sideways", "hop")]
    #[case("host/abcdefghijklmnop", "16 bytes")]
    #[case("bad ns/eth0", "contains ' '")]
    fn hop_pattern_refuses_bad_text(#[case] text: &str, #[case] msg: &str) {
        let err = text.parse::<HopPattern>().expect_err("refused").to_string();
        assert!(err.contains(msg), "{err}");
    }

    #[test]
    fn seen_src_with_and_without_port() {
        let e: Endpoint = "192.0.2.1:40000".parse().expect("endpoint");
        assert!("192.0.2.1".parse::<SeenSrc>().expect("ip").matches(e));
        assert!("192.0.2.1:40000".parse::<SeenSrc>().expect("ip:port").matches(e));
        assert!(!"192.0.2.1:40001".parse::<SeenSrc>().expect("ip:port").matches(e));
        assert!("192.0.2".parse::<SeenSrc>().is_err());
    }

    #[test]
    fn expected_errors_check_kind_and_message() {
        let got = OpError::new(ErrorKind::AlreadyExists, "add", "nomad");
        let kind_only = ExpectedError { kind: ErrorKind::AlreadyExists, message: None };
        assert!(kind_only.matches(&got));
        let with_text =
            ExpectedError { kind: ErrorKind::AlreadyExists, message: Some("\"nomad\"".into()) };
        assert!(with_text.matches(&got));
        let wrong = ExpectedError { kind: ErrorKind::NotFound, message: None };
        assert!(!wrong.matches(&got));
    }
}

/// The kinds of `trace::Outcome`, by the names `Outcome::kind` gives them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    /// A socket received it.
    Delivered,
    /// RST, port unreachable or REJECT.
    Refused,
    /// A DROP rule or policy.
    Dropped,
    /// No route.
    NoRoute,
    /// Vanished without an answer.
    TimedOut,
    /// The sender's kernel refused to send it.
    SendFailed,
}

impl OutcomeKind {
    /// The name, as `Outcome::kind` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Delivered => "delivered",
            OutcomeKind::Refused => "refused",
            OutcomeKind::Dropped => "dropped",
            OutcomeKind::NoRoute => "no-route",
            OutcomeKind::TimedOut => "timed-out",
            OutcomeKind::SendFailed => "send-failed",
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
