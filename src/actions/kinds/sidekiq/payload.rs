//! The job JSON a manual retry pushes, computed from the exact member as Sidekiq's
//! `SortedEntry#retry` / `#add_to_queue` plus `Client.push` would: `retry_count` one lower
//! (retry and dead only), a fresh `enqueued_at` in the layout's unit, no `at`.
//!
//! Only those three top-level fields are touched; every other member keeps its exact bytes
//! and its place. Re-encoding the whole job through a JSON value would turn integers above
//! `u64` into floats and reorder keys, and Mastodon's arguments are large integer ids; Lua's
//! cjson is worse (14 significant digits), which is why this happens here and not in the
//! script.

use std::ops::Range;

/// How the job's timestamps are written: float epoch seconds up to 7.x, integer epoch
/// milliseconds in 8.x.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Seconds,
    Millis,
}

impl Clock {
    pub fn stamp(self, now: std::time::SystemTime) -> String {
        let since = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        match self {
            Clock::Seconds => {
                let secs = since.as_secs_f64();
                // Ruby's `Float#to_s` keeps `.0` on whole numbers; Sidekiq's own readers
                // accept either, this keeps the value a float as Sidekiq writes it.
                if secs.fract() == 0.0 {
                    format!("{secs:.1}")
                } else {
                    secs.to_string()
                }
            }
            Clock::Millis => since.as_millis().to_string(),
        }
    }
}

/// The JSON to push for a manual retry of `member`, or `None` when `member` is not a JSON
/// object or its `retry_count` is not an integer (Sidekiq's own retry would raise on it).
pub fn requeued(
    member: &str,
    decrement_retry_count: bool,
    clock: Clock,
    now: std::time::SystemTime,
) -> Option<String> {
    if !serde_json::from_str::<serde_json::Value>(member).is_ok_and(|v| v.is_object()) {
        return None;
    }
    let fields = top_level(member)?;
    let stamp = clock.stamp(now);
    let mut out = String::with_capacity(member.len() + 32);
    out.push('{');
    let mut stamped = false;
    let mut first = true;
    for (key_span, value_span) in fields {
        let key: String = serde_json::from_str(&member[key_span.clone()]).ok()?;
        let raw = &member[value_span];
        let value = match key.as_str() {
            "at" => continue,
            "retry_count" if decrement_retry_count => {
                let count: i64 = raw.parse().ok()?;
                count.checked_sub(1)?.to_string()
            }
            "enqueued_at" => {
                stamped = true;
                stamp.clone()
            }
            _ => raw.to_string(),
        };
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&member[key_span]);
        out.push(':');
        out.push_str(&value);
    }
    if !stamped {
        if !first {
            out.push(',');
        }
        out.push_str("\"enqueued_at\":");
        out.push_str(&stamp);
    }
    out.push('}');
    serde_json::from_str::<serde_json::Value>(&out)
        .ok()
        .filter(serde_json::Value::is_object)
        .map(|_| out)
}

/// The byte spans of each top-level `key` (with its quotes) and raw value of a JSON object
/// already known to be valid.
fn top_level(text: &str) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let key_end = string_end(b, i)?;
        let key = i..key_end;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start)?;
        out.push((key, start..end));
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// The index just past the string starting at `i` (which must be a quote).
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The index just past the value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const NOW_MS: u64 = 1_795_679_300_250;

    fn now() -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_millis(NOW_MS)
    }

    #[test]
    fn a_retry_counts_one_less_and_is_stamped_now_with_everything_else_kept_byte_for_byte() {
        let member = r#"{"retry":3,"queue":"default","class":"FlakyJob","args":[109876543210987654321,"caf\u00e9 \"x\"",{"a":[1,2]}],"jid":"c4f32d1938b9d4f7e11b7c04","created_at":1795678279.5153036,"enqueued_at":1795678279.5153086,"error_message":"boom","failed_at":1795678279.5242548,"retry_count":0}"#;
        let out = requeued(member, true, Clock::Seconds, now()).expect("rewritten");
        assert_eq!(
            out,
            r#"{"retry":3,"queue":"default","class":"FlakyJob","args":[109876543210987654321,"caf\u00e9 \"x\"",{"a":[1,2]}],"jid":"c4f32d1938b9d4f7e11b7c04","created_at":1795678279.5153036,"enqueued_at":1795679300.25,"error_message":"boom","failed_at":1795678279.5242548,"retry_count":-1}"#
        );
    }

    #[test]
    fn a_scheduled_job_loses_at_keeps_its_count_and_gains_enqueued_at_in_milliseconds() {
        let member = r#"{ "class" : "X", "at":1795679999.5, "retry_count" : 2, "args" : [] }"#;
        let out = requeued(member, false, Clock::Millis, now()).expect("rewritten");
        assert_eq!(
            out,
            format!(r#"{{"class":"X","retry_count":2,"args":[],"enqueued_at":{NOW_MS}}}"#)
        );
    }

    #[test]
    fn whole_seconds_stay_floats() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_679_300);
        assert_eq!(Clock::Seconds.stamp(at), "1795679300.0");
        assert_eq!(Clock::Millis.stamp(at), "1795679300000");
    }

    #[test]
    fn anything_that_is_not_a_sidekiq_job_object_is_refused() {
        for bad in [
            "",
            "[1,2]",
            "\"job\"",
            "{\"class\":\"X\"",
            "{\"retry_count\":\"two\"}",
            "{\"retry_count\":1.5}",
            "not json",
        ] {
            assert_eq!(requeued(bad, true, Clock::Seconds, now()), None, "{bad}");
        }
        assert_eq!(
            requeued("{}", true, Clock::Seconds, now()).as_deref(),
            Some("{\"enqueued_at\":1795679300.25}")
        );
    }
}
