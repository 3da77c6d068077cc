//! Query text as an operator may see it. Mastodon runs without prepared statements behind
//! PgBouncer, so Rails inlines bind values: `pg_stat_activity.query` holds e-mail addresses,
//! token lookups, search terms and post text. This lexer keeps the shape of a query
//! (keywords, identifiers, operators, `$n` parameters) and replaces every literal with `?`.
//!
//! It fails closed:
//! - every kind of PostgreSQL literal is recognised: `'…'` with `''` escapes, `E'…'` with
//!   backslash escapes, `B'…'`, `X'…'`, `N'…'`, `U&'…'`, `$tag$…$tag$` and numbers;
//! - comments (`--` and nested `/* */`) are dropped, since they can quote anything;
//! - text cut off by `track_activity_query_size` inside a literal, comment or quoted
//!   identifier is redacted to the end, never shown in part;
//! - a plain `'…'` string means different things depending on `standard_conforming_strings`
//!   when it holds a backslash, so such text is lexed both ways and whatever either reading
//!   calls a literal is hidden.
//!
//! Redacting in the client is not a security boundary (a role that can read the text can
//! run psql), but it keeps users' content off the operator's screen, out of logs and out of
//! screenshots by default.

/// What a literal turns into.
pub const PLACEHOLDER: &str = "?";
/// What ends text whose last literal, comment or quoted identifier was cut off.
pub const TRUNCATED: &str = "?…[truncated]";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Space,
    Comment,
    /// Any string literal, including dollar-quoted bodies.
    Literal,
    Number,
    /// A keyword or plain identifier.
    Word,
    QuotedIdent,
    /// `$1`: a bind parameter, not a value.
    Param,
    /// One byte of punctuation or an operator.
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
    /// The text ended before this token did.
    unterminated: bool,
}

/// Replaces every literal in `sql` with [`PLACEHOLDER`], drops comments, collapses
/// whitespace to single spaces and long lists of placeholders (`IN (?, ?, …)`).
pub fn redact(sql: &str) -> String {
    let tokens = lex(sql.as_bytes(), false);
    // Only a backslash makes the two readings of a plain string differ.
    let other_reading: Vec<(usize, usize)> = if sql.as_bytes().contains(&b'\\') {
        lex(sql.as_bytes(), true)
            .into_iter()
            .filter(|t| {
                t.unterminated || matches!(t.kind, Kind::Literal | Kind::Number | Kind::Comment)
            })
            .map(|t| (t.start, t.end))
            .collect()
    } else {
        Vec::new()
    };
    let hidden_elsewhere = |t: &Token| other_reading.iter().any(|&(s, e)| s < t.end && t.start < e);

    let mut pieces: Vec<Piece> = Vec::new();
    let mut space = false;
    for token in &tokens {
        match token.kind {
            Kind::Space => {
                space = true;
                continue;
            }
            Kind::Comment if !token.unterminated => {
                space = true;
                continue;
            }
            _ => {}
        }
        if token.unterminated {
            pieces.push(Piece::new(TRUNCATED, space, true));
            break;
        }
        let redacted =
            matches!(token.kind, Kind::Literal | Kind::Number) || hidden_elsewhere(token);
        if redacted {
            // One placeholder stands for a run of hidden tokens of the other reading.
            let merge = !matches!(token.kind, Kind::Literal | Kind::Number)
                && !space
                && pieces.last().is_some_and(|p| p.placeholder);
            if !merge {
                pieces.push(Piece::new(PLACEHOLDER, space, true));
            }
        } else {
            pieces.push(Piece::new(&sql[token.start..token.end], space, false));
        }
        space = false;
    }
    render(&pieces)
}

struct Piece<'a> {
    text: &'a str,
    space_before: bool,
    placeholder: bool,
}

impl<'a> Piece<'a> {
    fn new(text: &'a str, space_before: bool, placeholder: bool) -> Self {
        Self {
            text,
            space_before,
            placeholder,
        }
    }
}

/// Joins pieces, writing a parenthesised `(?, ?, ?, ?)` as `(?, ?, …)`: an `IN` list of
/// ids says nothing more for being long.
fn render(pieces: &[Piece<'_>]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < pieces.len() {
        let piece = &pieces[i];
        if piece.space_before && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(piece.text);
        let opens_list = i > 0 && pieces[i - 1].text == "(";
        if opens_list && piece.placeholder && piece.text == PLACEHOLDER {
            // Count how many `, ?` follow.
            let mut j = i + 1;
            let mut run = 0;
            while j + 1 < pieces.len()
                && pieces[j].text == ","
                && pieces[j + 1].placeholder
                && pieces[j + 1].text == PLACEHOLDER
            {
                run += 1;
                j += 2;
            }
            if run >= 2 {
                out.push_str(", ?, …");
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// PostgreSQL treats every non-ASCII byte as a letter.
fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

fn is_tag_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

/// Splits `s` into tokens. Token boundaries fall only next to ASCII bytes or at the ends,
/// so every token is a valid `str` slice. `backslash_in_plain` reads `'…'` as
/// `standard_conforming_strings = off` would.
fn lex(s: &[u8], backslash_in_plain: bool) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    let n = s.len();
    while i < n {
        let start = i;
        let b = s[i];
        let (kind, end, unterminated) = if is_space(b) {
            let mut j = i;
            while j < n && is_space(s[j]) {
                j += 1;
            }
            (Kind::Space, j, false)
        } else if b == b'-' && s.get(i + 1) == Some(&b'-') {
            let end = s[i..].iter().position(|&c| c == b'\n').map_or(n, |p| i + p);
            (Kind::Comment, end, false)
        } else if b == b'/' && s.get(i + 1) == Some(&b'*') {
            let (end, done) = block_comment(s, i);
            (Kind::Comment, end, !done)
        } else if b == b'\'' {
            let (end, done) = quoted(s, i + 1, backslash_in_plain);
            (Kind::Literal, end, !done)
        } else if b == b'"' {
            let (end, done) = quoted_ident(s, i + 1);
            (Kind::QuotedIdent, end, !done)
        } else if b == b'$' {
            dollar(s, i)
        } else if b.is_ascii_digit() || (b == b'.' && s.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            (Kind::Number, number(s, i), false)
        } else if is_ident_start(b) {
            let mut j = i + 1;
            while j < n && is_ident_char(s[j]) {
                j += 1;
            }
            word_or_prefixed(s, i, j, backslash_in_plain)
        } else {
            (Kind::Other, i + 1, false)
        };
        tokens.push(Token {
            kind,
            start,
            end,
            unterminated,
        });
        if unterminated {
            break;
        }
        i = end;
    }
    tokens
}

/// A word, or a string literal introduced by a one-letter prefix (`E'`, `B'`, `X'`, `N'`,
/// `U&'`, `U&"`). A prefix only counts at the start of a word: `somE'x'` is the word
/// `somE` followed by a plain string.
fn word_or_prefixed(
    s: &[u8],
    start: usize,
    word_end: usize,
    backslash_in_plain: bool,
) -> (Kind, usize, bool) {
    let word = &s[start..word_end];
    let next = s.get(word_end).copied();
    if word.len() == 1 && next == Some(b'\'') {
        let (end, done) = match word[0].to_ascii_lowercase() {
            b'e' => quoted(s, word_end + 1, true),
            b'b' | b'x' | b'n' => quoted(s, word_end + 1, backslash_in_plain),
            _ => return (Kind::Word, word_end, false),
        };
        return (Kind::Literal, end, !done);
    }
    if word.len() == 1 && word[0].eq_ignore_ascii_case(&b'u') && next == Some(b'&') {
        match s.get(word_end + 1) {
            Some(b'\'') => {
                let (end, done) = quoted(s, word_end + 2, backslash_in_plain);
                return (Kind::Literal, end, !done);
            }
            Some(b'"') => {
                let (end, done) = quoted_ident(s, word_end + 2);
                return (Kind::QuotedIdent, end, !done);
            }
            _ => {}
        }
    }
    (Kind::Word, word_end, false)
}

/// Scans a quoted string body from `i` (just past the opening quote). Returns the end
/// (past the closing quote) and whether the string was closed.
fn quoted(s: &[u8], mut i: usize, backslash_escapes: bool) -> (usize, bool) {
    let n = s.len();
    while i < n {
        match s[i] {
            b'\\' if backslash_escapes => i += 2,
            b'\'' => {
                if s.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    return (i + 1, true);
                }
            }
            _ => i += 1,
        }
    }
    (n, false)
}

fn quoted_ident(s: &[u8], mut i: usize) -> (usize, bool) {
    let n = s.len();
    while i < n {
        if s[i] == b'"' {
            if s.get(i + 1) == Some(&b'"') {
                i += 2;
            } else {
                return (i + 1, true);
            }
        } else {
            i += 1;
        }
    }
    (n, false)
}

fn block_comment(s: &[u8], start: usize) -> (usize, bool) {
    let n = s.len();
    let mut depth = 0usize;
    let mut i = start;
    while i < n {
        if s[i] == b'/' && s.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if s[i] == b'*' && s.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return (i, true);
            }
        } else {
            i += 1;
        }
    }
    (n, false)
}

/// `$1` (a parameter), `$tag$…$tag$` (a literal), or a lone `$`.
fn dollar(s: &[u8], i: usize) -> (Kind, usize, bool) {
    let n = s.len();
    let next = s.get(i + 1).copied();
    if next.is_some_and(|b| b.is_ascii_digit()) {
        let mut j = i + 1;
        while j < n && s[j].is_ascii_digit() {
            j += 1;
        }
        return (Kind::Param, j, false);
    }
    // The opening delimiter: `$`, an optional tag that does not start with a digit, `$`.
    let mut j = i + 1;
    if j < n && is_ident_start(s[j]) {
        while j < n && is_tag_char(s[j]) {
            j += 1;
        }
    }
    if j >= n {
        // Cut off inside what may be an opening delimiter: nothing after it can be shown.
        return (Kind::Literal, n, true);
    }
    if s[j] != b'$' {
        return (Kind::Other, i + 1, false);
    }
    let delimiter = &s[i..=j];
    let body = j + 1;
    match find(&s[body..], delimiter) {
        Some(p) => (Kind::Literal, body + p + delimiter.len(), false),
        None => (Kind::Literal, n, true),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Numbers are taken greedily, including any letters glued to them (`1e-5`, `0x1F`,
/// `1_000`, `12abc`): hiding a little too much is fine, showing a digit is not.
fn number(s: &[u8], start: usize) -> usize {
    let n = s.len();
    let mut i = start;
    while i < n {
        let b = s[i];
        let exponent_sign = (b == b'+' || b == b'-')
            && i > start
            && matches!(s[i - 1], b'e' | b'E')
            && s.get(i + 1).is_some_and(u8::is_ascii_digit);
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign {
            // `1..2` does not occur in SQL, but `x[1:2]` and `1::int` do: stop at `:`.
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_and_numbers_become_placeholders() {
        assert_eq!(
            redact("SELECT * FROM users WHERE email = 'alice@example.com' AND id = 42"),
            "SELECT * FROM users WHERE email = ? AND id = ?"
        );
        assert_eq!(redact("SELECT 'it''s'"), "SELECT ?");
        assert_eq!(
            redact("SELECT 1.5e-3, .5, 0x1F, 1_000"),
            "SELECT ?, ?, ?, ?"
        );
    }

    #[test]
    fn prefixed_strings_are_literals() {
        assert_eq!(redact(r"SELECT E'a\'b' || 'c'"), "SELECT ? || ?");
        assert_eq!(
            redact("SELECT B'0101', X'1F', N'x', U&'d\\0061t'"),
            "SELECT ?, ?, ?, ?"
        );
        assert_eq!(
            redact(r#"SELECT U&"d\0061t" FROM t"#),
            r#"SELECT U&"d\0061t" FROM t"#
        );
        // a prefix letter at the end of a word is part of the word
        assert_eq!(redact("SELECT somE'x'"), "SELECT somE?");
    }

    #[test]
    fn dollar_quotes_and_parameters() {
        assert_eq!(
            redact("SELECT $body$ it's $$ secret $body$, $$x$$, $1"),
            "SELECT ?, ?, $1"
        );
        assert_eq!(redact("SELECT a$b FROM t"), "SELECT a$b FROM t");
    }

    #[test]
    fn comments_are_dropped_nested_ones_too() {
        assert_eq!(
            redact("/* mastop */ SELECT 1 -- secret\nFROM t /* a /* b */ c */ WHERE x"),
            "SELECT ? FROM t WHERE x"
        );
    }

    #[test]
    fn truncated_literals_are_hidden_to_the_end() {
        assert_eq!(
            redact("SELECT * FROM t WHERE note = 'half of a sec"),
            "SELECT * FROM t WHERE note = ?…[truncated]"
        );
        assert_eq!(redact("SELECT $tag$ partial"), "SELECT ?…[truncated]");
        assert_eq!(redact("SELECT $ta"), "SELECT ?…[truncated]");
        assert_eq!(redact("SELECT 1 /* open comment"), "SELECT ? ?…[truncated]");
        assert_eq!(redact(r"SELECT E'esc\"), "SELECT ?…[truncated]");
    }

    #[test]
    fn backslashes_in_plain_strings_hide_both_readings() {
        // With standard_conforming_strings off, `secret` would be inside the literal.
        let out = redact(r"SELECT 'a\' , secret, 'b'");
        assert!(!out.contains("secret"), "{out}");
        // With it on (the default), `secret` is inside the literal.
        let out = redact(r"SELECT 'a\' || 'secret\' || 'b'");
        assert!(!out.contains("secret"), "{out}");
        // Without a backslash nothing is over-redacted.
        assert_eq!(redact("SELECT 'a', b"), "SELECT ?, b");
    }

    #[test]
    fn long_in_lists_collapse() {
        assert_eq!(
            redact("SELECT * FROM statuses WHERE id IN (1, 2, 3, 4, 5)"),
            "SELECT * FROM statuses WHERE id IN (?, ?, …)"
        );
        assert_eq!(redact("VALUES (1, 2)"), "VALUES (?, ?)");
    }

    #[test]
    fn passwords_are_literals_too() {
        assert_eq!(
            redact("ALTER ROLE mastodon PASSWORD 'hunter2'"),
            "ALTER ROLE mastodon PASSWORD ?"
        );
    }

    #[test]
    fn non_ascii_text_stays_valid() {
        assert_eq!(
            redact("SELECT 'héllo', naïve FROM t"),
            "SELECT ?, naïve FROM t"
        );
        assert_eq!(redact("SELECT 'é"), "SELECT ?…[truncated]");
    }
}
