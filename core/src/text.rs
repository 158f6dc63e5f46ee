//! Shell-like tokenizing with byte spans, shared by the `ip`/`iptables` command parsers, so
//! that every parse error can point at the exact token it refuses.

use std::fmt;
use std::ops::Range;

/// One word of a command line, unquoted, with the byte range it occupied in the input.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Token {
    /// The word after quote removal.
    pub text: String,
    /// Where the word (including its quotes) sits in the input.
    pub span: Range<usize>,
}

/// What was wrong with a command line.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ParseErrorKind {
    /// A quote was opened and never closed.
    #[error("unterminated quote")]
    UnterminatedQuote,
    /// The command ended where more was required.
    #[error("expected {expected} after {after:?}")]
    MissingArgument {
        /// What should have followed.
        expected: &'static str,
        /// The last token read.
        after: String,
    },
    /// A token nettwin does not model (an option, match, target or command).
    #[error("unsupported {what} {token:?}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Unsupported {
        /// What kind of thing the token was (option, match, target, command, ...).
        what: &'static str,
        /// The token.
        token: String,
        /// A short hint at what is supported instead.
        hint: Option<&'static str>,
    },
    /// A token of the right place but the wrong form (a bad CIDR, name or number).
    #[error("invalid {what} {token:?}: {reason}")]
    Invalid {
        /// What the token should have been.
        what: &'static str,
        /// The token.
        token: String,
        /// Why it was refused.
        reason: String,
    },
    /// An option given twice, or two options that exclude each other.
    #[error("{token:?} conflicts with an earlier option: {reason}")]
    Conflict {
        /// The later token.
        token: String,
        /// Why they conflict.
        reason: &'static str,
    },
    /// Extra words after a complete command.
    #[error("unexpected {token:?} after the end of the command")]
    Trailing {
        /// The first extra token.
        token: String,
    },
}

/// A parse error and where it is: `span` is a byte range into the parsed text.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// What was wrong.
    pub kind: ParseErrorKind,
    /// The offending bytes of the input (empty at the end of input).
    pub span: Range<usize>,
}

impl ParseError {
    /// An error pointing at `token`.
    pub fn at(token: &Token, kind: ParseErrorKind) -> ParseError {
        ParseError { kind, span: token.span.clone() }
    }

    /// An error at the end of the input, after `last`.
    pub fn missing(tokens: &[Token], input_len: usize, expected: &'static str) -> ParseError {
        let after = tokens.last().map(|t| t.text.clone()).unwrap_or_default();
        ParseError {
            kind: ParseErrorKind::MissingArgument { expected, after },
            span: input_len..input_len,
        }
    }
}

/// Splits `input` into words: whitespace separates, `"..."` and `'...'` quote, and inside
/// double quotes (or outside quotes) a backslash escapes the next character — the quoting
/// `iptables-save` uses for comments. A word may not contain a control character (a
/// newline inside quotes would smuggle a second line into an `iptables-restore` batch).
pub fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            end = i + c.len_utf8();
            match c {
                '"' | '\'' => {
                    let quote = c;
                    let mut closed = false;
                    while let Some((j, d)) = chars.next() {
                        end = j + d.len_utf8();
                        if d == quote {
                            closed = true;
                            break;
                        }
                        if d == '\\' && quote == '"' {
                            if let Some((k, e)) = chars.next() {
                                end = k + e.len_utf8();
                                text.push(e);
                            }
                            continue;
                        }
                        text.push(d);
                    }
                    if !closed {
                        return Err(ParseError {
                            kind: ParseErrorKind::UnterminatedQuote,
                            span: i..input.len(),
                        });
                    }
                }
                '\\' => {
                    if let Some((k, e)) = chars.next() {
                        end = k + e.len_utf8();
                        text.push(e);
                    }
                }
                _ => text.push(c),
            }
        }
        // Only whitespace outside quotes separates words; a control character inside a
        // word (a quoted or escaped newline) would reach a child's input as it is.
        if let Some(ch) = text.chars().find(|c| c.is_control()) {
            return Err(ParseError {
                kind: ParseErrorKind::Invalid {
                    what: "word",
                    token: text.clone(),
                    reason: format!("control character {ch:?} is not allowed inside a word"),
                },
                span: start..end,
            });
        }
        tokens.push(Token { text, span: start..end });
    }
    Ok(tokens)
}

/// Quotes a word the way `iptables-save` does when it needs to: in double quotes, with `"`
/// and `\` escaped.
pub fn quote(word: &str) -> String {
    let needs = word.is_empty()
        || word
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '#' | '$' | '`' | '!'));
    if !needs {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The candidate closest to `word` if it is close enough to be a typo of it (at most two
/// edits, and fewer than half of the word), for "unknown X, did you mean Y?".
pub fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| {
            (strsim::damerau_levenshtein(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()), *c)
        })
        .filter(|(d, _)| *d <= 2 && *d * 2 < word.chars().count().max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A cursor over tokens for recursive-descent parsers.
#[derive(Debug)]
pub struct Cursor<'a> {
    tokens: &'a [Token],
    pos: usize,
    input_len: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the first token; `input_len` is used for end-of-input spans.
    pub fn new(tokens: &'a [Token], input_len: usize) -> Self {
        Cursor { tokens, pos: 0, input_len }
    }

    /// The next token without consuming it.
    pub fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.pos)
    }

    /// The next token's text without consuming it.
    pub fn peek_text(&self) -> Option<&'a str> {
        self.peek().map(|t| t.text.as_str())
    }

    /// The next token if its text satisfies `pred`, consumed; else nothing is consumed.
    pub fn next_if(&mut self, pred: impl FnOnce(&str) -> bool) -> Option<&'a Token> {
        if self.peek_text().is_some_and(pred) { self.next_token() } else { None }
    }

    /// Consumes and returns the next token.
    pub fn next_token(&mut self) -> Option<&'a Token> {
        let t = self.tokens.get(self.pos)?;
        self.pos += 1;
        Some(t)
    }

    /// Consumes the next token if its text is `word`.
    pub fn eat(&mut self, word: &str) -> bool {
        if self.peek_text() == Some(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the next token, or fails saying `expected` was missing.
    pub fn expect(&mut self, expected: &'static str) -> Result<&'a Token, ParseError> {
        match self.next_token() {
            Some(t) => Ok(t),
            None => Err(ParseError::missing(&self.tokens[..self.pos], self.input_len, expected)),
        }
    }

    /// Consumes the next token and requires its text to be `word`.
    pub fn expect_word(&mut self, word: &'static str) -> Result<&'a Token, ParseError> {
        let t = self.expect(word)?;
        if t.text == word {
            Ok(t)
        } else {
            Err(ParseError::at(
                t,
                ParseErrorKind::Invalid {
                    what: "keyword",
                    token: t.text.clone(),
                    reason: format!("expected {word:?}"),
                },
            ))
        }
    }

    /// Consumes the next token and converts it with `f`, reporting `what` on failure.
    pub fn value<T, E: fmt::Display>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ParseError> {
        let t = self.expect(what)?;
        f(&t.text).map_err(|e| {
            ParseError::at(
                t,
                ParseErrorKind::Invalid { what, token: t.text.clone(), reason: e.to_string() },
            )
        })
    }

    /// Whether every token was consumed.
    pub fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// Fails if tokens remain.
    pub fn finish(&self) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(ParseError::at(t, ParseErrorKind::Trailing { token: t.text.clone() })),
        }
    }

    /// The tokens consumed so far.
    pub fn consumed(&self) -> &'a [Token] {
        &self.tokens[..self.pos]
    }

    /// The length of the input, for end-of-input spans.
    pub fn input_len(&self) -> usize {
        self.input_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        tokenize(s).expect("tokenizes").into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn splits_on_whitespace_and_keeps_spans() {
        let t = tokenize("  -A  FORWARD -j ACCEPT").expect("ok");
        assert_eq!(t[0], Token { text: "-A".into(), span: 2..4 });
        assert_eq!(t[1].span, 6..13);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn unquotes_iptables_save_comments() {
        let w = words(r#"-m comment --comment "name: \"nomad\" id: \"x\"" -j ACCEPT"#);
        assert_eq!(w[3], r#"name: "nomad" id: "x""#);
        assert_eq!(words("'a b' c"), vec!["a b", "c"]);
    }

    #[test]
    fn quote_round_trips() {
        for s in [r#"name: "nomad" id: "x""#, "plain", "a\\b", ""] {
            assert_eq!(words(&quote(s)), vec![s.to_owned()], "{s:?}");
        }
    }

    #[test]
    fn unterminated_quote_points_at_the_quote() {
        let e = tokenize(r#"-m comment --comment "abc"#).expect_err("unterminated");
        assert_eq!(e.kind, ParseErrorKind::UnterminatedQuote);
        assert_eq!(e.span.start, 21);
    }

    #[test]
    fn a_control_character_inside_a_word_is_refused_at_the_word() {
        for input in ["--comment \"a\nb\"", "--comment 'a\rb'", "--comment a\\\u{7}b", "x\u{0}y"] {
            let e = tokenize(input).expect_err("refused");
            assert!(matches!(e.kind, ParseErrorKind::Invalid { what: "word", .. }), "{input:?}");
            assert!(e.span.end <= input.len() && e.span.start < e.span.end, "{input:?}");
        }
        // Outside quotes a newline or a tab only separates words.
        assert_eq!(words("a\nb\tc"), vec!["a", "b", "c"]);
    }

    #[test]
    fn typos_get_a_suggestion_and_other_words_none() {
        let modes = ["host", "bridge", "none"];
        assert_eq!(did_you_mean("brigde", &modes), Some("bridge"));
        assert_eq!(did_you_mean("Bridge", &modes), Some("bridge"));
        assert_eq!(did_you_mean("hots", &modes), Some("host"));
        assert_eq!(did_you_mean("overlay", &modes), None);
        assert_eq!(did_you_mean("MASQUARADE", &["MASQUERADE", "DNAT"]), Some("MASQUERADE"));
        assert_eq!(did_you_mean("x", &["y"]), None);
    }
}
