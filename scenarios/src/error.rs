//! Why a scenario did not load: every problem with its place in the file, as data. The
//! command line renders them with the offending text underlined; tests compare the fields.

use std::fmt;
use std::path::PathBuf;

use nettwin_core::text::ParseError;

use nettwin_core::source::{Place, SourceFile};

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The path is not a regular file (a directory link, a FIFO, a device): it is not read.
    #[error("{path} is not a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is not UTF-8 text; the place is where the first invalid byte is.
    #[error("{}:{line}:{column}: not UTF-8 text (byte offset {offset})", path.display())]
    NotUtf8 {
        /// The path.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column (in characters) of the first invalid byte.
        column: usize,
        /// Its byte offset.
        offset: usize,
    },
    /// The file was read and has problems.
    #[error("{0}")]
    Invalid(#[from] InvalidScenario),
}

/// The problems of one file (at least one).
#[derive(Debug, thiserror::Error)]
pub struct InvalidScenario {
    /// The file.
    pub file: SourceFile,
    /// Its problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for InvalidScenario {
    /// One line per problem: `file:line:column: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: {}", self.file.name, p.place, p.kind)?;
        }
        Ok(())
    }
}

/// One problem and where it is.
#[derive(Clone, PartialEq, Debug)]
pub struct Problem {
    /// The offending text.
    pub place: Place,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong with a scenario.
#[derive(Clone, PartialEq, Debug, thiserror::Error)]
pub enum ProblemKind {
    /// The YAML did not parse or did not fit the format: bad syntax, an unknown or
    /// duplicate key, a missing field, a value of the wrong type or form. The message is
    /// serde-saphyr's, or the refusing type's (a CIDR, a name, an outcome).
    #[error("{message}")]
    Yaml {
        /// The message, without its location.
        message: String,
    },
    /// An op line that did not parse; the place is the offending token.
    #[error("{error}")]
    Op {
        /// The op text.
        text: String,
        /// The parser's error (its span is inside `text`).
        error: ParseError,
    },
    /// A name that no earlier step creates.
    #[error("{what} {name:?} is not created by {by} (add `ip netns add {name}`)")]
    UnknownNetns {
        /// The name.
        name: String,
        /// What referred to it (`namespace`, `probe source`, `expected namespace`,
        /// `path namespace`).
        what: &'static str,
        /// `an earlier step` for steps, `any step` for probes.
        by: &'static str,
    },
    /// A rule jumps to a chain that no earlier step creates in its namespace and table.
    #[error("{table} chain {name:?} is not created by an earlier step{}", hint(.suggestion))]
    UnknownChain {
        /// The chain.
        name: String,
        /// Its table.
        table: &'static str,
        /// A target or chain it is probably a typo of.
        suggestion: Option<String>,
    },
    /// Two probes with one name.
    #[error(
        "a probe named {name:?} already exists (line {first_line}); probe names must be unique"
    )]
    DuplicateProbe {
        /// The name.
        name: String,
        /// Where the first one is.
        first_line: usize,
    },
    /// `seen_src` on a probe that is not expected to be delivered.
    #[error("seen_src can only be checked when the outcome is delivered, not {outcome}")]
    SeenSrcNotDelivered {
        /// The expected outcome.
        outcome: &'static str,
    },
    /// A `nomad:` setting the planner does not model yet (a network mode other than host
    /// or bridge, ...).
    #[error("{what} is not supported yet")]
    NomadNotSupported {
        /// The setting, named with its group.
        what: String,
    },
    /// The `nomad:` section could not be planned: Nomad's or the plugins' own refusal
    /// (a static port collision, an exhausted subnet, a duplicate port label, ...).
    #[error("{message}")]
    NomadPlan {
        /// The refusal, in Nomad's or the plugins' words.
        message: String,
    },
}

/// ` (did you mean X?)`, or nothing.
fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean {s}?"),
        None => " (add `iptables -N` for it, or use a target)".to_owned(),
    }
}
