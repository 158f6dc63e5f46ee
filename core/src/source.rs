//! Source text and places in it: a file's name and text, and byte ranges with their
//! 1-based line and column. Every parser that reads a file (scenarios in YAML, jobspecs
//! and client settings in HCL) reports its errors as a [`Place`] in a [`SourceFile`], so
//! that every error names file, line and column and can underline the offending text.
//!
//! Lines are indexed once when the file is wrapped, so finding a place costs a binary
//! search and a walk along one line, whatever the file's size.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A file's name (as given on the command line) and its whole text.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name used in messages (the path as given).
    pub name: String,
    /// The file's text.
    pub text: Arc<str>,
    /// Byte offset of the start of every line; the first is 0.
    line_starts: Arc<[usize]>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceFile({:?}, {} bytes)", self.name, self.text.len())
    }
}

/// A place in a source file: a byte range and where it starts as a 1-based line and
/// column (columns count characters, as editors, serde-saphyr and hcl-edit do).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Place {
    /// 1-based line of the first byte.
    pub line: usize,
    /// 1-based column (in characters) of the first byte.
    pub column: usize,
    /// The bytes; empty when the place is a point (end of input, a missing key).
    pub bytes: Range<usize>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl SourceFile {
    /// Wraps a file's text and indexes its lines.
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> SourceFile {
        let text: Arc<str> = text.into();
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile { name: name.into(), line_starts: starts.collect(), text }
    }

    /// The place of a byte range (clamped to the text and to character boundaries).
    pub fn place(&self, bytes: Range<usize>) -> Place {
        let start = self.floor_char(bytes.start.min(self.text.len()));
        let end = self.floor_char(bytes.end.clamp(start, self.text.len()));
        // The last line that starts at or before `start`.
        let line = self.line_starts.partition_point(|&s| s <= start);
        let line_start = self.line_starts.get(line.wrapping_sub(1)).copied().unwrap_or(0);
        let column = self.text[line_start..start].chars().count() + 1;
        Place { line, column, bytes: start..end }
    }

    /// The byte offset of a 1-based line and character column (clamped to the line's end;
    /// a line past the end is the end of the text).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&offset) = self.line_starts.get(line.max(1) - 1) else {
            return self.text.len();
        };
        let line_end = self.text[offset..].find('\n').map_or(self.text.len(), |i| offset + i);
        self.text[offset..line_end]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_end, |(i, _)| offset + i)
    }

    /// The place of a point given as a 1-based line and column (an error a parser reports
    /// by position only).
    pub fn point(&self, line: usize, column: usize) -> Place {
        let at = self.offset_of(line, column);
        self.place(at..at)
    }

    fn floor_char(&self, mut i: usize) -> usize {
        while i > 0 && !self.text.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_counts_lines_and_character_columns() {
        let f = SourceFile::new("x.yaml", "a: 1\nbé: [2, 3]\n");
        let at = f.text.find('[').expect("has [");
        assert_eq!(f.place(at..at + 1), Place { line: 2, column: 5, bytes: at..at + 1 });
        assert_eq!(f.offset_of(2, 5), at);
        assert_eq!(f.offset_of(9, 1), f.text.len());
        assert_eq!(f.point(2, 5), f.place(at..at));
    }

    #[test]
    fn places_at_line_starts_ends_and_past_the_end_are_clamped() {
        let f = SourceFile::new("x", "ab\n\ncd");
        assert_eq!((f.place(0..0).line, f.place(0..0).column), (1, 1));
        assert_eq!((f.place(2..2).line, f.place(2..2).column), (1, 3));
        assert_eq!((f.place(3..3).line, f.place(3..3).column), (2, 1));
        assert_eq!((f.place(4..6).line, f.place(4..6).column), (3, 1));
        assert_eq!(f.place(5..99).bytes, 5..6);
        assert_eq!(f.place(99..99).bytes, 6..6);
        assert_eq!(f.offset_of(0, 0), 0);
    }

    #[test]
    fn a_place_inside_a_character_starts_at_the_character() {
        let f = SourceFile::new("x", "é");
        assert_eq!(f.place(1..2).bytes, 0..2);
        assert_eq!(f.place(1..1).bytes, 0..0);
    }
}
