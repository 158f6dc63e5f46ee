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

    /// Parses the file's HCL body. An empty heredoc (`<<EOT` and `EOT` on the next line) is
    /// read as the empty string it is: hcl-edit 0.10 would take it as opening a heredoc
    /// that runs to the *next* `EOT` of the file, silently swallowing what lies between.
    pub(crate) fn parse_body(&self) -> Result<hcl::edit::structure::Body, HclError> {
        let text = empty_heredocs_as_strings(&self.file.text);
        hcl::edit::parser::parse_body(&text).map_err(|e| self.syntax(&e))
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

/// `src` with every empty heredoc replaced by `""` padded with blanks to the same length
/// (so every place in the file stays where it was); `src` itself when it has none.
fn empty_heredocs_as_strings(src: &str) -> std::borrow::Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut offset = 0;
    let mut lines = src.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let start = offset;
        offset += line.len();
        let Some(at) = line.rfind("<<") else { continue };
        let marker = line[at + 2..].trim_end();
        let id = marker.strip_prefix('-').unwrap_or(marker);
        let is_id = id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let Some(next) = lines.peek() else { continue };
        if !is_id || next.trim() != id {
            continue;
        }
        let text = out.get_or_insert_with(|| src.to_owned());
        let opening = start + at..start + at + 2 + marker.len();
        let closing = offset..offset + next.trim_end_matches(['\n', '\r']).len();
        text.replace_range(opening.clone(), &format!("{:<1$}", "\"\"", opening.len()));
        text.replace_range(closing.clone(), &" ".repeat(closing.len()));
    }
    out.map_or(std::borrow::Cow::Borrowed(src), std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_heredocs_become_empty_strings_in_place() {
        let src = "a = <<EOT\nEOT\nb = <<-X\n   X\nc = <<EOT\nkept\nEOT\n";
        let got = empty_heredocs_as_strings(src);
        assert_eq!(got, "a = \"\"   \n   \nb = \"\"  \n    \nc = <<EOT\nkept\nEOT\n");
        assert_eq!(got.len(), src.len());
        assert!(matches!(empty_heredocs_as_strings("x = 1\n"), std::borrow::Cow::Borrowed(_)));
    }
}
