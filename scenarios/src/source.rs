//! Places in YAML: the token at a position, and the mapping from a byte range *inside a
//! YAML scalar's value* back to the bytes of the file, so that an error in an op line
//! points at the exact token even when the scalar was quoted or folded. The file and its
//! places are `nettwin_core::source`.

use std::ops::Range;

use nettwin_core::source::{Place, SourceFile};
use serde_saphyr::Spanned;

/// Places of YAML tokens and of text inside YAML scalars.
pub trait YamlPlaces {
    /// The place of the YAML token starting at a 1-based line and column: a key, a plain
    /// word or a quoted scalar, so that an underline covers the offending text.
    fn token_place(&self, line: usize, column: usize) -> Place;

    /// Maps a byte range of a scalar's *value* to a byte range of the file. `start` is the
    /// byte offset where the scalar begins in the file (its opening quote, if quoted).
    /// Handles plain, single-quoted and double-quoted scalars, line folding and the escapes
    /// of double quotes; returns `None` when the file's bytes cannot be aligned with the
    /// value (then callers point at the whole scalar).
    fn map_scalar(&self, start: usize, value: &str, range: Range<usize>) -> Option<Range<usize>>;
}

impl YamlPlaces for SourceFile {
    fn token_place(&self, line: usize, column: usize) -> Place {
        let start = self.offset_of(line, column);
        let rest = &self.text[start..];
        let len = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => quoted_len(rest, q),
            _ => rest.find(['\n', ',', ']', '}', '#']).unwrap_or(rest.len()),
        };
        let mut token = &rest[..len];
        // A key ends at its `: `; trailing blanks are not part of the token.
        if let Some(i) = token.find(": ").or_else(|| token.strip_suffix(':').map(str::len)) {
            token = &token[..i];
        }
        self.place(start..start + token.trim_end().len())
    }

    fn map_scalar(&self, start: usize, value: &str, range: Range<usize>) -> Option<Range<usize>> {
        let map = align_scalar(self.text.get(start..)?, value)?;
        let from = *map.get(range.start)?;
        let to = if range.end > range.start {
            // End just after the last byte of the range.
            let last = *map.get(range.end - 1)?;
            let last_len = self.text[start + last..].chars().next().map_or(0, char::len_utf8);
            last + last_len
        } else {
            from
        };
        Some(start + from..start + to)
    }
}

/// A serde-saphyr position as a `usize`.
pub(crate) fn col(c: u64) -> usize {
    usize::try_from(c).unwrap_or(usize::MAX)
}

/// The place of a spanned value: its bytes when known, else the token at its position.
pub fn place_of<T>(file: &SourceFile, s: &Spanned<T>) -> Place {
    let loc = s.referenced;
    let span = loc.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(off), Some(len)) => {
            let off = usize::try_from(off).unwrap_or(usize::MAX);
            file.place(off..off.saturating_add(usize::try_from(len).unwrap_or(0)))
        }
        _ => file.token_place(col(loc.line()), col(loc.column())),
    }
}

/// The length of a quoted scalar starting at `rest` (including both quotes), or of the rest
/// of the line when it is not closed there.
fn quoted_len(rest: &str, q: char) -> usize {
    let mut chars = rest.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == '\\' && q == '"' {
            chars.next();
        } else if c == q {
            if q == '\'' && rest[i + 1..].starts_with('\'') {
                chars.next();
                continue;
            }
            return i + 1;
        } else if c == '\n' {
            return i;
        }
    }
    rest.len()
}

/// For each byte of `value` (and one past its end), the offset in `src` of the source
/// character it came from. `src` starts at the scalar.
fn align_scalar(src: &str, value: &str) -> Option<Vec<usize>> {
    let quote = match src.chars().next()? {
        q @ ('"' | '\'') => Some(q),
        _ => None,
    };
    let mut s = quote.map_or(0, |_| 1);
    let bytes = src.as_bytes();
    let mut map = Vec::with_capacity(value.len() + 1);
    for vc in value.chars() {
        let here = loop {
            let sc = src[s..].chars().next()?;
            if quote == Some('"') && sc == '\\' {
                let next = src[s + 1..].chars().next()?;
                if next == '\n' {
                    // An escaped line break: skip it and the next line's indentation.
                    s += 2;
                    while matches!(bytes.get(s), Some(b' ' | b'\t')) {
                        s += 1;
                    }
                    continue;
                }
                let at = s;
                s += 1 + next.len_utf8() + escape_extra(next);
                break at;
            }
            if quote == Some('\'') && sc == '\'' && src[s + 1..].starts_with('\'') {
                let at = s;
                s += 2;
                break at;
            }
            if sc == vc {
                let at = s;
                s += sc.len_utf8();
                break at;
            }
            if (sc == '\n' || sc == ' ' || sc == '\t' || sc == '\r') && vc != sc {
                // Line folding: a line break and the indentation around it become one
                // space (or nothing); skip source blanks until the value's next char.
                if vc == ' ' || vc == '\n' {
                    let at = s;
                    s += 1;
                    while matches!(bytes.get(s), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                        s += 1;
                    }
                    break at;
                }
                s += 1;
                continue;
            }
            return None;
        };
        for _ in 0..vc.len_utf8() {
            map.push(here);
        }
    }
    map.push(s);
    Some(map)
}

/// How many hex digits follow a double-quoted escape letter.
fn escape_extra(letter: char) -> usize {
    match letter {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("k: bogus: 1\n", 1, 4, "bogus")]
    #[case("bogus: 1\n", 1, 1, "bogus")]
    #[case("x: [a, bad]\n", 1, 8, "bad")]
    #[case("x: 'a b' # c\n", 1, 4, "'a b'")]
    #[case("x: \"a\\\"b\"\n", 1, 4, "\"a\\\"b\"")]
    #[case("x:\n", 2, 1, "")]
    fn token_place_covers_the_word_at_a_position(
        #[case] text: &str,
        #[case] line: usize,
        #[case] column: usize,
        #[case] want: &str,
    ) {
        let f = SourceFile::new("t", text);
        let p = f.token_place(line, column);
        assert_eq!(&f.text[p.bytes], want);
    }

    #[rstest]
    #[case("- ip netns add x\n", "ip netns add x")]
    #[case("- 'it''s -x \"q\"'\n", "it's -x \"q\"")]
    #[case("- \"a\\tb \\\"c\\\" d\"\n", "a\tb \"c\" d")]
    #[case("- ip netns\n  add folded\n", "ip netns add folded")]
    #[case("- \"long \\\n  escaped\"\n", "long escaped")]
    fn scalar_tokens_map_back_to_the_file(#[case] text: &str, #[case] value: &str) {
        let f = SourceFile::new("t", text);
        // Every word of the value maps to the same word in the file (modulo escapes).
        let start = 2;
        let last = value.rsplit(' ').next().expect("a word");
        let from = value.len() - last.len();
        let got = f.map_scalar(start, value, from..value.len()).expect("aligned");
        let in_file = &f.text[got];
        assert_eq!(in_file.replace("\\\"", "\"").replace("''", "'"), last);
    }

    #[test]
    fn scalars_that_do_not_align_are_reported() {
        let f = SourceFile::new("t", "- abc\n");
        assert_eq!(f.map_scalar(2, "xyz", 0..1), None);
    }
}
