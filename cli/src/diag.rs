//! Errors at the edge: a scenario's problems become miette diagnostics that name the file,
//! line and column and underline the offending text; every other error is a plain report.

use std::fmt;
use std::io::IsTerminal;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Report,
};
use nettwin_core::source::{Place, SourceFile};
use nettwin_scenarios::{InvalidScenario, LoadError, Problem, ProblemKind};

/// One problem of a scenario file, with the later problems of the same file as related
/// diagnostics (so one report shows them all, in file order).
#[derive(Debug)]
struct ProblemDiag {
    message: String,
    label: &'static str,
    span: miette::SourceSpan,
    /// The file, shared by all the problems of one report; `None` when the place is too far
    /// right to underline (the message then names file, line and column itself).
    source: Option<NamedSource<Arc<str>>>,
    related: Vec<ProblemDiag>,
}

/// The rightmost column whose text is shown and underlined. miette cannot pad past 65,535
/// columns (it panics), and nobody reads an underline that far right anyway.
const MAX_SHOWN_COLUMN: usize = 4096;

impl ProblemDiag {
    /// A problem at `place` of `file`.
    fn new(file: &SourceFile, place: &Place, message: String, label: &'static str) -> Self {
        let bytes = &place.bytes;
        let shown = place.column <= MAX_SHOWN_COLUMN;
        ProblemDiag {
            message: if shown {
                message
            } else {
                format!(
                    "{message}\n  at {}:{}:{} (too far right to show)",
                    file.name, place.line, place.column
                )
            },
            label,
            span: (bytes.start, bytes.end - bytes.start).into(),
            source: shown.then(|| NamedSource::new(&file.name, Arc::clone(&file.text))),
            related: Vec::new(),
        }
    }
}

impl fmt::Display for ProblemDiag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProblemDiag {}

impl Diagnostic for ProblemDiag {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let label = LabeledSpan::new_primary_with_span(Some(self.label.to_owned()), self.span);
        Some(Box::new(std::iter::once(label)))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }
}

/// A short label under the underline, saying what the underlined text is.
fn label(kind: &ProblemKind) -> &'static str {
    match kind {
        ProblemKind::Yaml { .. } => "here",
        ProblemKind::Op { .. } => "this token",
        ProblemKind::UnknownNetns { .. } => "no step creates this namespace",
        ProblemKind::UnknownChain { .. } => "no step creates this chain",
        ProblemKind::DuplicateProbe { .. } => "second probe with this name",
        ProblemKind::SeenSrcNotDelivered { .. } => "only checkable when delivered",
        ProblemKind::NomadNotSupported { .. } => "not supported yet",
        ProblemKind::NomadPlan { .. } => "the planner refused this",
    }
}

fn problem_diag(e: &InvalidScenario, p: &Problem) -> ProblemDiag {
    ProblemDiag::new(&e.file, &p.place, p.kind.to_string(), label(&p.kind))
}

/// An error at a place of a file (a jobspec, a client file) as a report that names the
/// file, line and column and underlines the place.
pub fn at_place(file: &SourceFile, place: &Place, message: String, label: &'static str) -> Report {
    Report::new(ProblemDiag::new(file, place, message, label))
}

/// A scenario's problems as one report.
pub fn invalid_scenario(e: &InvalidScenario) -> Report {
    let mut diags = e.problems.iter().map(|p| problem_diag(e, p));
    let Some(mut first) = diags.next() else {
        return miette::miette!("{}: invalid scenario", e.file.name);
    };
    first.related = diags.collect();
    Report::new(first)
}

/// A load error as a report: problems underlined, an unreadable file as such.
pub fn load_error(e: LoadError) -> Report {
    match e {
        LoadError::Invalid(e) => invalid_scenario(&e),
        other => Report::msg(other.to_string()),
    }
}

/// Renders a report for the terminal: colors only when stderr is a terminal and NO_COLOR is
/// unset, so that piped output (and tests) get plain text.
pub fn render(report: &Report) -> String {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, report.as_ref()).is_err() {
        out = format!("{report}\n");
    }
    out
}

/// Any error as a report, keeping its source chain.
pub fn error<E: std::error::Error + Send + Sync + 'static>(e: E) -> Report {
    Report::from_err(e)
}
