//! Errors in a Nomad HCL file (a jobspec or a client file), each with its place in the
//! file, and the helper both parsers build them with. The CLI renders them like scenario
//! errors: file, line and column, the offending text underlined.

use std::ops::Range;

use nettwin_core::source::{Place, SourceFile};

/// Why a Nomad file was refused, and where.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("line {}, column {}: {kind}", at.line, at.column)]
pub struct HclError {
    /// The offending text (a point when the parser stopped at the end of the input).
    pub at: Place,
    /// What is wrong.
    pub kind: HclErrorKind,
}

/// What is wrong in a Nomad file.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum HclErrorKind {
    /// The text is not HCL.
    #[error("HCL syntax error: {message}")]
    Syntax {
        /// What the parser expected.
        message: String,
    },
    /// A setting the model does not support yet.
    #[error("{path}: {what} is not supported yet")]
    NotSupported {
        /// The enclosing blocks, `job "x" > group "y" > network`.
        path: String,
        /// The setting (`mode = "cni/mynet"`, `dns block`, ...).
        what: String,
    },
    /// A value of the wrong form, or one Nomad's validation refuses.
    #[error("{path}: {reason}")]
    Invalid {
        /// The enclosing blocks.
        path: String,
        /// What is wrong, in Nomad's words where Nomad has them.
        reason: String,
    },
    /// No `job` block, or more than one.
    #[error("expected exactly one job block, found {found}")]
    JobCount {
        /// How many there were.
        found: usize,
    },
}

/// A file being parsed: where its spans are, for errors.
pub(crate) struct HclSource {
    file: SourceFile,
}

impl HclSource {
    /// The text of a file being parsed.
    pub(crate) fn new(src: &str) -> HclSource {
        HclSource { file: SourceFile::new("", src) }
    }

    /// The place of a span; the start of the file when the parser gave none.
    pub(crate) fn place(&self, span: Option<Range<usize>>) -> Place {
        self.file.place(span.unwrap_or(0..0))
    }

    /// The text of a span, if it has one.
    pub(crate) fn text(&self, span: Option<Range<usize>>) -> Option<&str> {
        span.and_then(|s| self.file.text.get(s))
    }

    /// An error at a span.
    pub(crate) fn error(&self, span: Option<Range<usize>>, kind: HclErrorKind) -> HclError {
        HclError { at: self.place(span), kind }
    }

    /// A value of the wrong form at a span.
    pub(crate) fn invalid(
        &self,
        span: Option<Range<usize>>,
        path: &str,
        reason: String,
    ) -> HclError {
        self.error(span, HclErrorKind::Invalid { path: path.to_owned(), reason })
    }

    /// A setting not supported yet at a span.
    pub(crate) fn unsupported(
        &self,
        span: Option<Range<usize>>,
        path: &str,
        what: String,
    ) -> HclError {
        self.error(span, HclErrorKind::NotSupported { path: path.to_owned(), what })
    }

    /// hcl-edit's parse error, at its position.
    pub(crate) fn syntax(&self, e: &hcl::edit::parser::Error) -> HclError {
        let at = e.location().offset().min(self.file.text.len());
        HclError {
            at: self.file.place(at..at),
            kind: HclErrorKind::Syntax { message: e.message().to_owned() },
        }
    }
}
