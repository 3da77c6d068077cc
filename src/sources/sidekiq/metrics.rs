//! Sidekiq's own job metrics (7.0 and later; the Web UI's Metrics page): per job class over
//! the last hour, executions, failures, time, and percentiles from the latency histograms.
//!
//! Layouts (`lib/sidekiq/metrics/{tracking,shared}.rb`, sidekiq.md §1):
//! - 7.x: one hash per minute `j|YYYYMMDD|H:M` (hour and minute unpadded), histograms in
//!   `Klass-DD-HH:M` (day and hour zero-padded, minute not);
//! - 8.x: one hash per minute `j|yymmdd|H:MM` (minute padded; the same without its last
//!   digit is the 10-minute rollup), histograms in `h|Klass-D-H:M` (nothing padded).
//!
//! Hash fields are `Klass|p` (executions, failures included), `Klass|f` (failures) and
//! `Klass|ms` (time of the successful ones only). Histograms are 26 `u16` counters.
//!
//! Cost per read, on its own slow cadence ([`METRICS_INTERVAL`](super::METRICS_INTERVAL)):
//! **at most 2 round trips**: (1) `HGETALL` of the 60 minute hashes in both layouts (120
//! commands; the layout is told by which answer), (2) one `MGET` of the 60 minutes'
//! histograms per class seen (up to [`MAX_CLASSES`], so ≤ 200 commands of 60 keys). No
//! class seen: no second trip. Sidekiq 6.x writes none of this, and the reading says so.

use std::collections::BTreeMap;

use redis::aio::MultiplexedConnection;
use redis::{RedisError, Value};
use serde::{Deserialize, Serialize};

use super::fetch::{Keys, bytes, hash_pairs, run};

/// The window: Sidekiq's Metrics page defaults to the last hour too.
pub const WINDOW_MINUTES: u64 = 60;
/// Classes whose histograms are read: the rest still get counts and times.
pub const MAX_CLASSES: usize = 200;
/// Bucket upper bounds in ms (`Histogram::BUCKET_INTERVALS`); the 26th is "slow".
pub const BUCKETS_MS: [u64; 25] = [
    20, 30, 45, 65, 100, 150, 225, 335, 500, 750, 1100, 1700, 2500, 3800, 5750, 8500, 13000, 20000,
    30000, 45000, 65000, 100000, 150000, 225000, 335000,
];
const BUCKET_COUNT: usize = 26;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricsLayout {
    #[serde(rename = "7.x")]
    V7,
    #[serde(rename = "8.x")]
    V8,
}

impl MetricsLayout {
    pub fn word(self) -> &'static str {
        match self {
            MetricsLayout::V7 => "7.x",
            MetricsLayout::V8 => "8.x",
        }
    }
}

/// A UTC instant broken down, enough for Sidekiq's key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

impl Utc {
    pub fn from_epoch(secs: u64) -> Utc {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (year, month, day) = crate::calendar::civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
        }
    }
}

/// The minute hash holding `t`'s executions.
pub fn minute_key(layout: MetricsLayout, t: Utc) -> String {
    match layout {
        MetricsLayout::V7 => format!(
            "j|{:04}{:02}{:02}|{}:{}",
            t.year, t.month, t.day, t.hour, t.minute
        ),
        MetricsLayout::V8 => format!(
            "j|{:02}{:02}{:02}|{}:{:02}",
            t.year.rem_euclid(100),
            t.month,
            t.day,
            t.hour,
            t.minute
        ),
    }
}

/// The histogram of `class` for the minute `t`.
pub fn histogram_key(layout: MetricsLayout, class: &str, t: Utc) -> String {
    match layout {
        MetricsLayout::V7 => format!("{class}-{:02}-{:02}:{}", t.day, t.hour, t.minute),
        MetricsLayout::V8 => format!("h|{class}-{}-{}:{}", t.day, t.hour, t.minute),
    }
}

/// One job class over the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// `wrapped || class`, as Sidekiq records it.
    pub class: String,
    /// Executions, failures included.
    pub processed: u64,
    pub failed: u64,
    /// Time spent in successful executions.
    pub total_ms: u64,
    /// `total_ms / (processed - failed)`, as the Web UI computes it.
    pub mean_ms: Option<f64>,
    /// Histogram bucket holding the median / 95th percentile, as `≤ 225ms` or `slow`;
    /// `None` without a histogram (class beyond [`MAX_CLASSES`], or none written).
    pub p50: Option<String>,
    pub p95: Option<String>,
}

/// The job metrics of a Sidekiq, or why there are none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobMetrics {
    /// Which key layout held data; `None` when no minute hash of the window exists.
    pub layout: Option<MetricsLayout>,
    pub window_minutes: u64,
    /// Epoch seconds of the start of the first minute and of the end of the last.
    pub from: u64,
    pub to: u64,
    /// Sorted by total time, most first.
    pub classes: Vec<ClassMetrics>,
    /// Classes beyond [`MAX_CLASSES`] whose histograms were not read.
    pub classes_without_histogram: usize,
    /// Why there is nothing to show, in the operator's words.
    pub absent: Option<String>,
    /// What this read cost Redis.
    pub round_trips: u32,
    pub commands: u64,
}

impl JobMetrics {
    pub fn top_by_time(&self, n: usize) -> Vec<&ClassMetrics> {
        self.classes.iter().take(n).collect()
    }

    pub fn top_by_failures(&self, n: usize) -> Vec<&ClassMetrics> {
        let mut v: Vec<&ClassMetrics> = self.classes.iter().filter(|c| c.failed > 0).collect();
        v.sort_by(|a, b| b.failed.cmp(&a.failed).then_with(|| a.class.cmp(&b.class)));
        v.truncate(n);
        v
    }
}

/// Per-class sums of the minute hashes' `Klass|p`, `Klass|f` and `Klass|ms` fields.
pub fn sum_minutes<'a>(
    hashes: impl IntoIterator<Item = Vec<(String, &'a [u8])>>,
) -> BTreeMap<String, (u64, u64, u64)> {
    let mut classes: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for pairs in hashes {
        for (field, value) in pairs {
            let Some((class, metric)) = field.rsplit_once('|') else {
                continue;
            };
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(0);
            let slot = classes.entry(class.to_string()).or_default();
            match metric {
                "p" => slot.0 += n,
                "f" => slot.1 += n,
                "ms" => slot.2 += n,
                _ => {}
            }
        }
    }
    classes
}

/// The bucket holding the `q` quantile of the counts, as a label.
pub fn percentile(buckets: &[u64; BUCKET_COUNT], q: f64) -> Option<String> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(match BUCKETS_MS.get(i) {
                Some(ms) if *ms >= 1000 => format!("≤ {}s", *ms as f64 / 1000.0),
                Some(ms) => format!("≤ {ms}ms"),
                None => "slow (> 335s)".to_string(),
            });
        }
    }
    None
}

/// Adds one minute's histogram, as stored: BITFIELD `u16 #i` is bytes `2i, 2i+1`, most
/// significant first; a string shorter than 52 bytes holds zeros beyond its end.
pub fn add_histogram(buckets: &mut [u64; BUCKET_COUNT], raw: &[u8]) {
    for (slot, pair) in buckets.iter_mut().zip(raw.chunks(2)) {
        let hi = u64::from(pair[0]);
        let lo = pair.get(1).map_or(0, |b| u64::from(*b));
        *slot += hi << 8 | lo;
    }
}

/// The minutes of the window, oldest first, ending with the one holding `now`.
pub fn window(now: u64) -> Vec<Utc> {
    let this_minute = now - now % 60;
    (0..WINDOW_MINUTES)
        .rev()
        .map(|ago| Utc::from_epoch(this_minute.saturating_sub(ago * 60)))
        .collect()
}

/// Reads the last hour's metrics: one round trip for the minute hashes of both layouts,
/// and one for the histograms of the classes seen.
pub async fn read(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    now: u64,
    version: Option<&str>,
) -> Result<JobMetrics, RedisError> {
    let minutes = window(now);
    let layouts = [MetricsLayout::V7, MetricsLayout::V8];
    let mut pipe = redis::pipe();
    for layout in layouts {
        for t in &minutes {
            pipe.hgetall(keys.key(&minute_key(layout, *t)));
        }
    }
    let answers = run(&mut pipe, connection).await?;
    let (round_trips, commands) = (1, 2 * minutes.len() as u64);
    let (v7, v8) = answers.split_at(answers.len().min(minutes.len()));
    let sums7 = sum_minutes(v7.iter().map(hash_pairs));
    let sums8 = sum_minutes(v8.iter().map(hash_pairs));
    let executions = |s: &BTreeMap<String, (u64, u64, u64)>| s.values().map(|c| c.0).sum::<u64>();
    // During a rolling upgrade both may hold data; the busier one is today's layout.
    let (layout, sums) = match (sums7.is_empty(), sums8.is_empty()) {
        (true, true) => (None, BTreeMap::new()),
        (false, true) => (Some(MetricsLayout::V7), sums7),
        (true, false) => (Some(MetricsLayout::V8), sums8),
        (false, false) if executions(&sums8) >= executions(&sums7) => {
            (Some(MetricsLayout::V8), sums8)
        }
        (false, false) => (Some(MetricsLayout::V7), sums7),
    };
    let this_minute = now - now % 60;
    let mut metrics = JobMetrics {
        layout,
        window_minutes: WINDOW_MINUTES,
        from: this_minute.saturating_sub((WINDOW_MINUTES - 1) * 60),
        to: this_minute + 60,
        round_trips,
        commands,
        ..JobMetrics::default()
    };
    let Some(layout) = layout else {
        let major = version.and_then(super::parse::major_version);
        metrics.absent = Some(match major {
            Some(m) if m >= 7 => format!(
                "no job metrics in the last {WINDOW_MINUTES} minutes (Sidekiq {} writes them once jobs run)",
                version.unwrap_or_default()
            ),
            _ => format!(
                "no job metrics in the last {WINDOW_MINUTES} minutes: Sidekiq 6.x does not record them (7.0 and later do, once jobs run)"
            ),
        });
        return Ok(metrics);
    };

    let mut classes: Vec<ClassMetrics> = sums
        .into_iter()
        .map(|(class, (processed, failed, total_ms))| {
            let completed = processed.saturating_sub(failed);
            ClassMetrics {
                class,
                processed,
                failed,
                total_ms,
                mean_ms: (completed > 0).then(|| total_ms as f64 / completed as f64),
                p50: None,
                p95: None,
            }
        })
        .collect();
    classes.sort_by(|a, b| {
        b.total_ms
            .cmp(&a.total_ms)
            .then_with(|| b.processed.cmp(&a.processed))
            .then_with(|| a.class.cmp(&b.class))
    });
    let with_histogram = classes.len().min(MAX_CLASSES);
    metrics.classes_without_histogram = classes.len() - with_histogram;

    // A histogram is a 52-byte string of big-endian u16 counters (BITFIELD's layout), so
    // one MGET per class fetches its 60 minutes in one command, ~40 bytes a key, where
    // BITFIELD_RO would need a 26-GET command per key.
    let mut pipe = redis::pipe();
    for c in &classes[..with_histogram] {
        let names: Vec<String> = minutes
            .iter()
            .map(|t| keys.key(&histogram_key(layout, &c.class, *t)))
            .collect();
        pipe.mget(names);
    }
    if with_histogram > 0 {
        let answers = run(&mut pipe, connection).await?;
        metrics.round_trips += 1;
        metrics.commands += with_histogram as u64;
        for (c, answer) in classes.iter_mut().zip(&answers) {
            let mut buckets = [0u64; BUCKET_COUNT];
            if let Value::Array(per_minute) = answer {
                for raw in per_minute.iter().filter_map(bytes) {
                    add_histogram(&mut buckets, raw);
                }
            }
            c.p50 = percentile(&buckets, 0.50);
            c.p95 = percentile(&buckets, 0.95);
        }
    }
    metrics.classes = classes;
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_breakdown_matches_known_dates() {
        // 2025-02-14 08:43:10 UTC
        let t = Utc::from_epoch(1_739_522_590);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (2025, 2, 14, 8, 43)
        );
        let t = Utc::from_epoch(951_782_400); // 2000-02-29 00:00
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
        let t = Utc::from_epoch(0);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (1970, 1, 1, 0, 0)
        );
    }

    #[test]
    fn keys_follow_each_versions_strftime() {
        // Sidekiq 8's own comment: "250214|8:43" is the 1-minute bucket of 08:43.
        let t = Utc::from_epoch(1_739_522_590);
        assert_eq!(minute_key(MetricsLayout::V8, t), "j|250214|8:43");
        assert_eq!(minute_key(MetricsLayout::V7, t), "j|20250214|8:43");
        let early = Utc::from_epoch(1_739_491_380); // 2025-02-14 00:03
        assert_eq!(minute_key(MetricsLayout::V8, early), "j|250214|0:03");
        assert_eq!(minute_key(MetricsLayout::V7, early), "j|20250214|0:3");
        let d = Utc::from_epoch(1_738_371_780); // 2025-02-01 01:03
        assert_eq!(histogram_key(MetricsLayout::V8, "Feed", d), "h|Feed-1-1:3");
        assert_eq!(histogram_key(MetricsLayout::V7, "Feed", d), "Feed-01-01:3");
    }

    #[test]
    fn sums_per_class_and_mean_over_successes() {
        let a: Vec<(String, &[u8])> = vec![
            ("A|p".into(), b"10"),
            ("A|f".into(), b"2"),
            ("A|ms".into(), b"800"),
            ("Ns::B|Weird|p".into(), b"1"),
            ("junk".into(), b"9"),
            ("A|p".into(), b"not a number"),
        ];
        let s = sum_minutes(vec![a.clone(), a]);
        assert_eq!(s["A"], (20, 4, 1600));
        assert_eq!(s["Ns::B|Weird"], (2, 0, 0));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn percentiles_name_the_bucket() {
        let mut b = [0u64; BUCKET_COUNT];
        b[0] = 50; // ≤ 20ms
        b[7] = 45; // ≤ 335ms
        b[25] = 5; // slow
        assert_eq!(percentile(&b, 0.5).as_deref(), Some("≤ 20ms"));
        assert_eq!(percentile(&b, 0.95).as_deref(), Some("≤ 335ms"));
        assert_eq!(percentile(&b, 0.99).as_deref(), Some("slow (> 335s)"));
        b = [0; BUCKET_COUNT];
        b[11] = 1;
        assert_eq!(percentile(&b, 0.5).as_deref(), Some("≤ 1.7s"));
        assert_eq!(percentile(&[0; BUCKET_COUNT], 0.5), None);
    }

    #[test]
    fn histograms_decode_as_bitfield_writes_them() {
        let mut b = [0u64; BUCKET_COUNT];
        // u16 #0 = 3, #1 = 258; the string ends there.
        add_histogram(&mut b, &[0, 3, 1, 2]);
        add_histogram(&mut b, &[0, 1, 0]);
        assert_eq!((b[0], b[1], b[2]), (4, 258, 0));
        let full = [0xffu8; 60];
        add_histogram(&mut b, &full);
        assert_eq!(b[25], 65535, "bytes beyond the 26 counters are ignored");
    }

    #[test]
    fn the_window_is_sixty_minutes_ending_now() {
        let w = window(1_739_522_590);
        assert_eq!(w.len(), 60);
        assert_eq!(w[59].minute, 43);
        assert_eq!((w[0].hour, w[0].minute), (7, 44));
    }
}
