//! What of a log line may be shown by default.
//!
//! Mastodon's, Sidekiq's, nginx's and Postgres's logs carry members' data: e-mail
//! addresses and handles, client IPs, access tokens in `Authorization` headers and query
//! strings, ids of private posts, job arguments and SQL literals. A line keeps its shape
//! (timestamps, unit words, class names, status codes, durations, paths) and loses those.
//!
//! It fails closed: anything with an `@` goes, every query-string value goes, every long
//! run of letters and digits that holds a digit (tokens, hashes, snowflake ids) goes, and
//! the rest of a line after `Authorization` goes. The input is expected already sanitised
//! (one line, no escape sequences), so that an escape sequence cannot split a secret into
//! pieces that each look harmless.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::sources::postgres::redact as sql;

pub const EMAIL: &str = "‹email›";
pub const IP: &str = "‹ip›";
pub const SECRET: &str = "‹secret›";
pub const TOKEN: &str = "‹token›";
pub const VALUE: &str = "‹…›";

struct Rules {
    authorization: Regex,
    statement: Regex,
    detail: Regex,
    args: Regex,
    scheme_secret: Regex,
    secret_pair: Regex,
    at_sign: Regex,
    query_value: Regex,
    ipv6: Regex,
    ruby_constant: Regex,
    ipv4: Regex,
    token: Regex,
}

#[allow(clippy::expect_used)] // fixed patterns, checked by the tests below
static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("a fixed redaction pattern");
    Rules {
        // The header's value, and anything after it on the line (cookies, other headers).
        authorization: re(r#"(?i)((?:proxy-)?authori[sz]ation"?\s*[:=]>?\s*).*$"#),
        // Postgres: the statement a log line quotes keeps its shape, loses its literals.
        statement: re(
            r"(?i)((?:statement|query|execute [^:]{0,64}|duration: [0-9.]+ ms\s+statement):\s*)(.*)$",
        ),
        // Postgres DETAIL: `Key (email)=(alice@example.com) already exists.`
        detail: re(r"\)=\([^)]*\)"),
        // Sidekiq job arguments, as `args=[…]` or `"args":[…]`.
        args: re(r#"(?i)("?\bargs"?\s*(?:=>|[:=])\s*)(\[.*\]|\{.*\}|\S+)"#),
        // A credential after its scheme, and the rest of the line: a value cut at the next
        // separator could swallow a second scheme word and leave its credential showing.
        scheme_secret: re(r#"(?i)(bearer|basic|digest)(\s+)\S.*$"#),
        secret_pair: re(
            r#"(?i)([a-z_]*(?:token|secret|password|passwd|pass|key|signature|otp|email|cookie|session)[a-z_]*)("?\s*[:=]>?\s*"?)[^\s"',;&]+"#,
        ),
        // E-mail addresses, handles, `/@user` paths: the whole word around an `@`.
        at_sign: re(r#"[^\s"'<>()\[\]{},;=]*@[^\s"'<>()\[\]{},;]+"#),
        query_value: re(r#"([?&][^=&\s"'#?]*=)[^&\s"'#]*"#),
        ipv6: re(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[0-9A-Za-z_.]+)?"),
        ruby_constant: re(r"[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)+"),
        ipv4: re(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"),
        token: re(r"[A-Za-z0-9_+/=-]{16,}"),
    }
});

/// `line` as it may be shown by default. `line` should already be sanitised.
pub fn redact(line: &str) -> String {
    let r = &*RULES;
    let mut text = r
        .authorization
        .replace(line, |c: &Captures| format!("{}{SECRET}", &c[1]))
        .into_owned();
    text = r
        .statement
        .replace(&text, |c: &Captures| {
            format!("{}{}", &c[1], sql::redact(&c[2]))
        })
        .into_owned();
    text = r.detail.replace_all(&text, ")=(‹…›)").into_owned();
    text = r
        .args
        .replace_all(&text, |c: &Captures| format!("{}{VALUE}", &c[1]))
        .into_owned();
    text = r
        .scheme_secret
        .replace(&text, |c: &Captures| format!("{}{}{SECRET}", &c[1], &c[2]))
        .into_owned();
    text = r
        .secret_pair
        .replace_all(&text, |c: &Captures| format!("{}{}{SECRET}", &c[1], &c[2]))
        .into_owned();
    text = r.at_sign.replace_all(&text, EMAIL).into_owned();
    text = r
        .query_value
        .replace_all(&text, |c: &Captures| format!("{}{VALUE}", &c[1]))
        .into_owned();
    text = replace_ipv6(&text);
    text = r.ipv4.replace_all(&text, IP).into_owned();
    replace_tokens(&text)
}

/// An IPv6 address has `::` or at least five colons; a time (`12:34:56`) has neither. A
/// Ruby constant path (`ActivityPub::DeliveryWorker`, each part capitalised) is not one.
fn replace_ipv6(text: &str) -> String {
    let constants: Vec<(usize, usize)> = RULES
        .ruby_constant
        .find_iter(text)
        .map(|m| (m.start(), m.end()))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in RULES.ipv6.find_iter(text) {
        let s = m.as_str();
        let in_constant = constants
            .iter()
            .any(|&(a, b)| a <= m.start() && m.end() <= b);
        let colons = s.matches(':').count();
        let has_hex = s.chars().any(|c| c.is_ascii_hexdigit());
        if !in_constant && has_hex && (s.contains("::") || colons >= 5) {
            out.push_str(&text[last..m.start()]);
            out.push_str(IP);
            last = m.end();
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Long runs of letters and digits holding a digit: tokens, keys, hashes, post ids.
/// Plain words (`mastodon-sidekiq-default`, `ActivityPub`) have no digit and stay. A path
/// keeps its plain segments (`/api/v1/timelines`) and loses ids and tokens in it.
fn replace_tokens(text: &str) -> String {
    RULES
        .token
        .replace_all(text, |c: &Captures| {
            let s = &c[0];
            if !s.contains('/') {
                return if token_shaped(s, 16) {
                    TOKEN.to_string()
                } else {
                    s.to_string()
                };
            }
            s.split('/')
                .map(|part| if token_shaped(part, 12) { TOKEN } else { part })
                .collect::<Vec<_>>()
                .join("/")
        })
        .into_owned()
}

fn token_shaped(word: &str, min: usize) -> bool {
    let digits = word.chars().filter(char::is_ascii_digit).count();
    (word.len() >= min && digits > 0) || (word.len() >= 6 && digits == word.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_handles_and_profile_paths_go() {
        assert_eq!(
            redact("sent to alice@example.com ok"),
            format!("sent to {EMAIL} ok")
        );
        assert_eq!(
            redact("Started GET \"/@bob/statuses\" for x"),
            format!("Started GET \"{EMAIL}\" for x")
        );
        assert!(!redact("mention @carol@other.social").contains("carol"));
    }

    #[test]
    fn addresses_go_but_times_and_ruby_constants_stay() {
        assert_eq!(
            redact("for 203.0.113.9 at 12:34:56"),
            format!("for {IP} at 12:34:56")
        );
        assert_eq!(redact("from 2001:db8::1 ok"), format!("from {IP} ok"));
        assert_eq!(redact("from [::1]:443"), format!("from [{IP}]:443"));
        assert_eq!(redact("fe80:0:0:0:200:f8ff:fe21:67cf x"), format!("{IP} x"));
        assert_eq!(
            redact("ActivityPub::DeliveryWorker failed"),
            "ActivityPub::DeliveryWorker failed"
        );
    }

    #[test]
    fn tokens_headers_and_query_strings_go() {
        let out = redact("GET /api/v1/timelines/home?access_token=abc&limit=20 200");
        assert!(!out.contains("abc"), "{out}");
        assert!(
            out.contains("/api/v1/timelines/home?access_token="),
            "{out}"
        );
        let out = redact("Authorization: Bearer zzsecret Cookie: _session=yy");
        assert!(!out.contains("zzsecret") && !out.contains("yy"), "{out}");
        let out = redact("token=s3cr3t password: hunter2 client_secret=\"x9\"");
        assert!(
            !out.contains("s3cr3t") && !out.contains("hunter2") && !out.contains("x9"),
            "{out}"
        );
        let out = redact("status 109876543210987654 by AbCdEf0123456789xyz");
        assert!(!out.contains("1098765") && !out.contains("AbCdEf"), "{out}");
    }

    #[test]
    fn job_arguments_and_sql_literals_go() {
        let out = redact(r#"{"class":"ActivityPub::DeliveryWorker","args":["hello world",12]}"#);
        assert!(!out.contains("hello"), "{out}");
        assert!(out.contains("ActivityPub::DeliveryWorker"), "{out}");
        let out = redact("ERROR: duplicate key STATEMENT: SELECT * FROM users WHERE name = 'dana'");
        assert!(!out.contains("dana"), "{out}");
        assert!(out.contains("SELECT * FROM users WHERE name = ?"), "{out}");
        let out = redact("DETAIL: Key (username)=(erin) already exists.");
        assert!(!out.contains("erin"), "{out}");
    }

    #[test]
    fn the_signatures_operators_need_survive() {
        for line in [
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk",
            "READONLY You can't write against a read only replica.",
            "FATAL: remaining connection slots are reserved for non-replication superuser connections",
            "FATAL: sorry, too many clients already",
            "Tried writing to closed socket",
            "Redis::CannotConnectError: Error connecting to Redis on localhost:6379 (Errno::ECONNREFUSED)",
            "upstream timed out (110: Connection timed out) while reading response header from upstream",
        ] {
            assert_eq!(redact(line), line);
        }
    }

    /// Small seeded xorshift: a failure names the seed that reproduces it.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
        /// Marker letters and digits, `len` long, holding at least one digit.
        fn secret(&mut self, len: usize) -> String {
            const ALPHABET: &[u8] = b"qjQJ0123456789";
            let mut s: String = (0..len)
                .map(|_| ALPHABET[self.below(ALPHABET.len())] as char)
                .collect();
            s.push('7');
            s
        }
    }

    /// Letters no benign word, placeholder or signature uses: any one in the output is a leak.
    const MARKERS: &[char] = &['q', 'j', 'Q', 'J'];
    const BENIGN: &[&str] = &[
        "Completed",
        "200",
        "OK",
        "in",
        "12ms",
        "GET",
        "POST",
        "/api/v1/timelines/home",
        "ActivityPub::DeliveryWorker",
        "MISCONF",
        "Redis",
        "at",
        "12:34:56",
        "for",
        "status=500",
        "duration=3.2",
        "mastodon-web.service",
    ];
    const GLUE: &[&str] = &[
        " ",
        "  ",
        "\t",
        "\n",
        "\"",
        "'",
        "(",
        ")",
        "[",
        "]",
        "<",
        ">",
        ",",
        ";",
        "=",
        "\u{1b}[31m",
        "\u{1b}]0;title\u{7}",
        "\u{200b}",
        "\u{202e}",
        "\u{9b}2J",
    ];

    fn hostile_secret(rng: &mut Rng) -> (String, String) {
        let (la, lb) = (1 + rng.below(8), 1 + rng.below(6));
        let (a, b) = (rng.secret(la), rng.secret(lb));
        let octets: Vec<String> = (0..4).map(|_| (rng.below(256)).to_string()).collect();
        let hex: Vec<String> = (0..8)
            .map(|_| format!("{:x}", rng.below(0x10000)))
            .collect();
        match rng.below(10) {
            0 => (format!("{a}@{b}.org"), a),
            1 => (format!("@{a}@{b}.social"), a),
            2 => {
                let ip = octets.join(".");
                (ip.clone(), ip)
            }
            3 => {
                let ip = format!("{}::{}", hex[0], hex[1]);
                (ip.clone(), ip)
            }
            4 => {
                let ip = hex.join(":");
                (ip.clone(), ip)
            }
            5 => (format!("Authorization: Bearer {a}"), a),
            6 => (format!("/auth/callback?client_id=x&code={a}&state={b}"), a),
            7 => {
                let len = 16 + rng.below(200);
                let t = rng.secret(len);
                (t.clone(), t)
            }
            8 => (format!("password={a}"), a),
            _ => (format!("Bearer {a}"), a),
        }
    }

    #[test]
    fn generated_hostile_lines_never_show_a_secret_or_a_control() {
        for seed in 1..=3000u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut raw = String::new();
            let mut secrets = Vec::new();
            for _ in 0..(1 + rng.below(8)) {
                raw.push_str(rng.pick(BENIGN));
                raw.push_str(rng.pick(GLUE));
                let (text, core) = hostile_secret(&mut rng);
                // An escape sequence or zero-width character inside a secret must not
                // split it into harmless-looking pieces.
                let cut = rng.below(text.len() + 1);
                let glued = if text.is_char_boundary(cut) && rng.below(3) == 0 {
                    format!(
                        "{}{}{}",
                        &text[..cut],
                        rng.pick(&["\u{1b}[0m", "\u{200b}", "\u{7}"]),
                        &text[cut..]
                    )
                } else {
                    text
                };
                raw.push_str(&glued);
                raw.push_str(rng.pick(GLUE));
                secrets.push(core);
            }
            let line = super::super::LogLine {
                at_us: 0,
                host: "h".into(),
                unit: "u".into(),
                priority: None,
                message: raw.clone(),
            };
            let shown = line.shown(false);
            assert!(
                !shown.chars().any(|c| MARKERS.contains(&c)),
                "seed {seed}: {raw:?} showed {shown:?}"
            );
            for s in &secrets {
                assert!(
                    !shown.contains(s.as_str()),
                    "seed {seed}: {s:?} in {shown:?}"
                );
            }
            assert!(
                !shown.chars().any(|c| c.is_control()),
                "seed {seed}: control in {shown:?}"
            );
            // Revealed, the same line shows every secret whole: the test sees what it hides.
            let revealed = line.shown(true);
            for s in &secrets {
                assert!(
                    revealed.contains(s.as_str()),
                    "seed {seed}: {s:?} not in {revealed:?}"
                );
            }
        }
    }
}
