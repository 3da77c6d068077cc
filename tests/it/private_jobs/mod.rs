//! Hostile Sidekiq job payloads, and the check that none of their private values reached
//! an output. A job's arguments and error message are members' data: the generator fills
//! them with e-mail addresses, account ids, unicode, terminal escape sequences, JSON-looking
//! text and long values, in random field orders, some as wrapped ActiveJob mail deliveries.
//!
//! The generator is a small seeded xorshift, so a failure names a seed that reproduces it.

use std::collections::HashSet;

/// A window this long of a private value (in characters, in any of the forms it may take
/// in JSON) found anywhere in an output counts as a leak. Long enough that the hex of a
/// jid, a hash or a score never matches by chance.
pub const WINDOW: usize = 12;
/// Characters only the generated private values contain: any of them in an output is a
/// leak, whatever the window.
pub const MARKERS: &[char] = &['ж', '字', '🦣', '✨', '\u{1b}', '\u{7}'];

// ---------------------------------------------------------------------------------------
// The generator.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| char::from(*self.pick(ALPHABET))).collect()
    }
    pub fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(*self.pick(b"0123456789abcdef")))
            .collect()
    }
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// One generated job: its exact member, and every private value in it.
#[derive(Clone, Debug)]
pub struct Job {
    pub member: String,
    pub secrets: Vec<String>,
    pub jid: String,
}

pub fn email(rng: &mut Rng) -> String {
    let user_len = 6 + rng.below(6);
    let user = rng.token(user_len);
    let host_len = 4 + rng.below(5);
    let host = rng.token(host_len);
    format!("{user}@{host}.example.org")
}

/// Text a member might have written: hostile in every way a terminal, a JSON encoder or a
/// log line could care about, always carrying a random token.
pub fn private_text(rng: &mut Rng) -> String {
    let mut parts = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let t = rng.token(6);
        parts.push(match rng.below(10) {
            0 | 1 => email(rng),
            2 => format!("жизнь {t} 字幕"),
            3 => format!("🦣 toot {t} ✨"),
            4 => format!("\u{1b}]0;{t}\u{7}"),
            5 => format!("\u{1b}[31m{t}\u{1b}[0m"),
            6 => format!("{{\"args\":[\"{t}\"],\"class\":\"Evil\"}}"),
            7 => format!("it's \"{t}\" \\ back\\slash"),
            8 => format!("line one {t}\nline two\r\n\ttab"),
            _ => {
                let len = 5 + rng.below(20);
                let word = rng.token(len);
                let times = if rng.chance(30) {
                    20 + rng.below(40)
                } else {
                    1
                };
                vec![word; times].join(" ")
            }
        });
    }
    parts.push(rng.token(8));
    parts.join(" ")
}

/// A Mastodon-sized id (a status, an account), as a JSON number.
pub fn private_id(rng: &mut Rng) -> String {
    let digits = 15 + rng.below(5);
    let first = char::from(b'1' + rng.below(9) as u8);
    let rest: String = (1..digits)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect();
    format!("{first}{rest}")
}

pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string encodes")
}

/// Non-ASCII as `\uXXXX` (with surrogate pairs), as some encoders write it.
pub fn ascii_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

pub fn job(rng: &mut Rng, now: f64) -> Job {
    let jid = rng.hex(24);
    let mut secrets = Vec::new();
    let mut fields: Vec<(&str, String)> = Vec::new();
    if rng.chance(30) {
        // ActionMailer through ActiveJob: the wrapper names the mail job; the recipient's
        // address and account sit in the arguments.
        let to = email(rng);
        let gid = format!("gid://mastodon/User/{}", private_id(rng));
        secrets.push(to.clone());
        secrets.push(gid.clone());
        let args = format!(
            r#"[{{"job_class":"ActionMailer::MailDeliveryJob","job_id":"{}","provider_job_id":null,"queue_name":"mailers","priority":null,"arguments":["UserMailer","confirmation_instructions","deliver_now",{{"args":[{{"_aj_globalid":{}}},{}],"_aj_ruby2_keywords":["args"]}}],"executions":0,"exception_executions":{{}},"locale":"en","timezone":"UTC","enqueued_at":"2026-03-26T10:00:00Z"}}]"#,
            rng.hex(32),
            json_string(&gid),
            json_string(&to)
        );
        fields.push((
            "class",
            json_string("ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper"),
        ));
        fields.push(("wrapped", json_string("ActionMailer::MailDeliveryJob")));
        fields.push(("queue", json_string("mailers")));
        fields.push(("args", args));
    } else {
        let class = *rng.pick(&[
            "ActivityPub::DeliveryWorker",
            "LinkCrawlWorker",
            "FetchReplyWorker",
            "Web::PushNotificationWorker",
            "ThreadResolveWorker",
        ]);
        let mut args = Vec::new();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 => {
                    let id = private_id(rng);
                    secrets.push(id.clone());
                    args.push(id);
                }
                1 => {
                    let text = private_text(rng);
                    args.push(format!("{{\"text\":{}}}", json_string(&text)));
                    secrets.push(text);
                }
                _ => {
                    let text = private_text(rng);
                    args.push(json_string(&text));
                    secrets.push(text);
                }
            }
        }
        fields.push(("class", json_string(class)));
        let queue = *rng.pick(&["default", "push", "pull"]);
        fields.push(("queue", json_string(queue)));
        fields.push(("args", format!("[{}]", args.join(","))));
    }
    let error = private_text(rng);
    fields.push(("error_message", json_string(&error)));
    secrets.push(error);
    fields.push(("error_class", json_string("HTTP::TimeoutError")));
    if rng.chance(40) {
        let backtrace = format!("eJy{}", rng.token(40));
        fields.push(("error_backtrace", json_string(&backtrace)));
        secrets.push(backtrace);
    }
    fields.push(("jid", json_string(&jid)));
    fields.push((
        "retry",
        if rng.chance(50) {
            "true".into()
        } else {
            "5".into()
        },
    ));
    fields.push(("retry_count", rng.below(5).to_string()));
    fields.push(("created_at", format!("{:.7}", now - 4000.0)));
    fields.push(("enqueued_at", format!("{:.7}", now - 3000.0)));
    fields.push(("failed_at", format!("{:.7}", now - 2000.0)));
    rng.shuffle(&mut fields);
    // Often the private fields lead, as in the report: a prefix of such a payload is
    // nothing but members' data.
    if rng.chance(40) {
        let lead = if rng.chance(70) {
            "args"
        } else {
            "error_message"
        };
        if let Some(i) = fields.iter().position(|(k, _)| *k == lead) {
            let field = fields.remove(i);
            fields.insert(0, field);
        }
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", json_string(k)))
        .collect();
    let mut member = format!("{{{}}}", body.join(","));
    if rng.chance(30) {
        member = ascii_escaped(&member);
    }
    assert!(
        serde_json::from_str::<serde_json::Value>(&member).is_ok(),
        "the generator writes valid JSON: {member}"
    );
    Job {
        member,
        secrets,
        jid,
    }
}

// ---------------------------------------------------------------------------------------
// Looking for leaks.

/// Every form a private value may take in an output: as written, JSON-escaped, and with
/// non-ASCII escaped too.
pub fn forms(secret: &str) -> Vec<String> {
    let json = json_string(secret);
    let json = json[1..json.len() - 1].to_string();
    let ascii = ascii_escaped(&json);
    let mut forms = vec![secret.to_string(), json, ascii];
    forms.dedup();
    forms
}

/// Every run of `WINDOW` characters of `text`.
pub fn windows(text: &str) -> Vec<&str> {
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    (0..starts.len().saturating_sub(WINDOW - 1))
        .map(|i| {
            let end = starts.get(i + WINDOW).copied().unwrap_or(text.len());
            &text[starts[i]..end]
        })
        .collect()
}

/// What the system under test said, by where it said it.
#[derive(Default)]
pub struct Outputs(Vec<(String, String)>);

impl Outputs {
    pub fn add(&mut self, place: impl Into<String>, text: impl Into<String>) {
        self.0.push((place.into(), text.into()));
    }

    /// Fails naming the seed, the place, the private value and the part of it found.
    pub fn assert_no_leak(&self, jobs: &[Job], seed: u64) {
        let mut index: HashSet<&str> = HashSet::new();
        for (place, text) in &self.0 {
            if let Some(c) = text.chars().find(|c| MARKERS.contains(c)) {
                panic!("seed {seed}: {c:?} (only private values hold it) in {place}:\n{text}");
            }
            index.extend(windows(text));
        }
        for job in jobs {
            for secret in &job.secrets {
                for form in forms(secret) {
                    for w in windows(&form) {
                        if index.contains(w) {
                            let (place, text) = self
                                .0
                                .iter()
                                .find(|(_, t)| t.contains(w))
                                .expect("indexed text");
                            panic!(
                                "seed {seed}: {w:?} of the private value {secret:?} (job {}) leaked into {place}:\n{text}",
                                job.jid
                            );
                        }
                    }
                }
            }
        }
    }
}

pub use crate::support::logs::captured_log;
