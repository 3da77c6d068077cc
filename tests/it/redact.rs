//! The query-text redactor against generated hostile input: random queries built from
//! keywords, operators, comments and every kind of PostgreSQL literal, each literal (and
//! comment) filled with marker characters the query's own words never use, then often cut
//! off at a random point as `track_activity_query_size` would. No marker character and no
//! digit may ever reach the output.
//!
//! The generator is a small seeded xorshift, so a failure names a seed that reproduces it.

use mastop::sources::postgres::redact::{TRUNCATED, redact};

/// Letters that appear in no keyword, identifier or placeholder the generator emits.
const MARKERS: &[char] = &['q', 'j', 'z', 'Q', 'J', 'Z'];
/// Characters literals are filled with: markers, digits, and everything that could end a
/// literal early or confuse a lexer.
const FILLING: &[char] = &[
    'q', 'j', 'z', 'Q', 'J', 'Z', '0', '7', '9', '\'', '\\', '$', '"', '*', '/', '-', '\n', ' ',
    ';', '(', ')', 'é', '\u{1b}', '[', 'ž', '字', '\t', '?',
];
const WORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "IN",
    "ORDER",
    "LIMIT",
    "statuses",
    "accounts",
    "id",
    "note",
    "text",
    "users",
    "COALESCE",
    "NULL",
    "IS",
    "AS",
    "E",
    "U",
    "B",
    "X",
    "N",
    "$1",
    "\"Bold Ident\"",
];
const OPERATORS: &[&str] = &["=", "||", "(", ")", ",", "::", "+", "<>", ">=", ".", ";"];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn filling(rng: &mut Rng) -> String {
    let len = if rng.chance(3) {
        2000 + rng.below(10_000)
    } else {
        rng.below(24)
    };
    (0..len).map(|_| *rng.pick(FILLING)).collect()
}

fn literal(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 | 1 => format!("'{}'", filling(rng).replace('\'', "''")),
        2 => {
            let mut body = String::new();
            for c in filling(rng).chars() {
                match c {
                    '\\' => body.push_str("\\\\"),
                    '\'' if rng.chance(50) => body.push_str("\\'"),
                    '\'' => body.push_str("''"),
                    c => body.push(c),
                }
            }
            let prefix = if rng.chance(50) { "E" } else { "e" };
            format!("{prefix}'{body}'")
        }
        3 => {
            let bits: String = (0..rng.below(12)).map(|_| *rng.pick(&['0', '1'])).collect();
            format!("B'{bits}'")
        }
        4 => {
            let hex: String = (0..rng.below(12))
                .map(|_| *rng.pick(&['0', '9', 'a', 'F', 'q', 'z']))
                .collect();
            format!("X'{hex}'")
        }
        5 => {
            let lit = format!("U&'{}'", filling(rng).replace('\'', "''"));
            if rng.chance(30) {
                format!("{lit} UESCAPE '!'")
            } else {
                lit
            }
        }
        6 => format!("N'{}'", filling(rng).replace('\'', "''")),
        7 => {
            let tag = *rng.pick(&["", "a", "tag", "_x", "body"]);
            let body: String = filling(rng).chars().filter(|&c| c != '$').collect();
            format!("${tag}${body}${tag}$")
        }
        _ => {
            let digits: String = (0..1 + rng.below(8))
                .map(|_| *rng.pick(&['0', '3', '7', '9']))
                .collect();
            match rng.below(5) {
                0 => format!("{digits}.{digits}"),
                1 => format!("{digits}e-{digits}"),
                2 => format!("0x{digits}F"),
                3 => format!(".{digits}"),
                _ => digits,
            }
        }
    }
}

/// Comment text that cannot open or close a comment of its own: the server would read
/// anything else differently from what the generator means.
fn comment_text(rng: &mut Rng) -> String {
    let mut text = filling(rng);
    while text.contains("/*") || text.contains("*/") {
        text = text.replace("/*", "").replace("*/", "");
    }
    text
}

fn separator(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => format!(" /* {} */ ", comment_text(rng)),
        1 => format!(" /* a /* {} */ b */ ", comment_text(rng)),
        2 => format!(" -- {}\n", filling(rng).replace('\n', "")),
        3 => "\n".into(),
        4 => "\t".into(),
        _ => " ".into(),
    }
}

fn query(rng: &mut Rng) -> String {
    let mut q = String::new();
    for _ in 0..1 + rng.below(30) {
        if !q.is_empty() {
            q.push_str(&separator(rng));
        }
        match rng.below(3) {
            0 => q.push_str(rng.pick::<&str>(WORDS)),
            1 => q.push_str(rng.pick::<&str>(OPERATORS)),
            _ => q.push_str(&literal(rng)),
        }
    }
    q
}

/// Cuts like the server does: at a byte limit, backed off to a character boundary.
fn truncate(q: &str, rng: &mut Rng) -> String {
    let mut at = rng.below(q.len() + 1);
    while !q.is_char_boundary(at) {
        at -= 1;
    }
    q[..at].to_string()
}

fn assert_nothing_leaks(input: &str, seed: u64) {
    let out = redact(input);
    let leaked: Vec<char> = out
        .chars()
        .filter(|c| MARKERS.contains(c) || c.is_ascii_digit() && !is_param_digit(&out, *c))
        .collect();
    assert!(
        leaked.is_empty(),
        "seed {seed}: {leaked:?} leaked\ninput:  {:?}\noutput: {out:?}",
        input.chars().take(600).collect::<String>()
    );
}

/// `$1` is a bind parameter the generator writes itself, not a literal.
fn is_param_digit(out: &str, c: char) -> bool {
    c == '1' && out.contains("$1")
}

#[test]
fn generated_queries_never_leak_a_literal() {
    for seed in 1..=4000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let q = query(&mut rng);
        assert_nothing_leaks(&q, seed);
        let cut = truncate(&q, &mut rng);
        assert_nothing_leaks(&cut, seed);
    }
}

#[test]
fn a_literal_cut_off_anywhere_is_never_shown_in_part() {
    let q = "SELECT * FROM users WHERE email = 'zqj.secret@example.org' AND note = E'it\\'s zq' AND body = $b$zqj$b$";
    for at in 0..=q.len() {
        if !q.is_char_boundary(at) {
            continue;
        }
        let out = redact(&q[..at]);
        for piece in ["zq", "secret", "example", "it", "qj"] {
            if piece == "it" {
                assert!(!out.contains("it\\"), "cut at {at}: {out}");
                continue;
            }
            assert!(!out.contains(piece), "cut at {at}: {out}");
        }
    }
}

#[test]
fn hostile_text_stays_out() {
    // Terminal escapes inside a literal, a huge literal, and a truncated one.
    let escape = "SELECT '\u{1b}]52;c;aGVsbG8=\u{7}\u{1b}[2J' AS x";
    assert_eq!(redact(escape), "SELECT ? AS x");
    let huge = format!(
        "INSERT INTO statuses (text) VALUES ('{}')",
        "zq".repeat(50_000)
    );
    assert_eq!(redact(&huge), "INSERT INTO statuses (text) VALUES (?)");
    let truncated = &huge[..1023];
    assert_eq!(
        redact(truncated),
        format!("INSERT INTO statuses (text) VALUES ({TRUNCATED}")
    );
    // Identifiers with escapes are the server's business; they still reach the screen
    // only through the TUI's sanitiser, which strips controls.
    assert_eq!(
        redact("SELECT \"a\"\"b\" FROM t"),
        "SELECT \"a\"\"b\" FROM t"
    );
}
