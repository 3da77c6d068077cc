//! Known signatures: log lines that named the cause in real Mastodon incidents, matched,
//! highlighted and counted per minute so that a flood becomes a figure and a finding
//! ("web-1 WARN: 120 Redis MISCONF/min") rather than a scroll.
//!
//! The shipped list comes from Hachyderm's post-mortems; `[[logs.signature]]` in the config
//! adds an instance's own.

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use crate::model::{Figure, Finding, Level, Threshold, Unit, health::figure_level};

/// A user pattern may not make matching a line slow or the program large.
const SIZE_LIMIT: usize = 1 << 20;
/// Per-minute counts older than this are forgotten.
const KEEP_MINUTES: usize = 60;

/// One known signature. `warn_per_min`/`crit_per_min` turn its rate into health.
#[derive(Clone, Debug)]
pub struct Signature {
    pub name: String,
    pub pattern: Regex,
    pub threshold: Threshold,
}

/// How a config entry describes a signature, before its pattern is compiled.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureSpec {
    pub name: String,
    pub pattern: String,
    pub warn_per_min: f64,
    pub crit_per_min: f64,
}

/// (name, pattern, warn/min, crit/min)
const SHIPPED: &[(&str, &str, f64, f64)] = &[
    // 2022-12-13: the DB host's disk filled, Redis could not save, every write failed.
    (
        "Redis MISCONF",
        r"MISCONF Redis is configured to save",
        1.0,
        10.0,
    ),
    // 2023-07-16: Redis had become a replica of an unknown host.
    (
        "Redis READONLY",
        r"READONLY You can't write against a read only replica",
        1.0,
        10.0,
    ),
    (
        "Postgres slots reserved",
        r"remaining connection slots are reserved",
        1.0,
        10.0,
    ),
    (
        "Postgres too many clients",
        r"too many clients already|sorry, too many clients",
        1.0,
        10.0,
    ),
    // 2023-01-07: streaming flooded its log with these before it fell over.
    (
        "streaming closed socket",
        r"Tried writing to closed socket",
        60.0,
        600.0,
    ),
    (
        "Sidekiq cannot reach Redis",
        r"Redis::CannotConnectError",
        1.0,
        10.0,
    ),
    (
        "nginx upstream timed out",
        r"upstream timed out",
        10.0,
        100.0,
    ),
];

#[derive(Clone, Debug)]
pub struct Signatures {
    list: Vec<Signature>,
    set: RegexSet,
}

impl Signatures {
    /// The shipped list only.
    pub fn shipped() -> Signatures {
        // The shipped patterns are tested below; an empty set is the safe fallback.
        Signatures::with(&[]).unwrap_or_else(|_| Signatures {
            list: Vec::new(),
            set: RegexSet::empty(),
        })
    }

    /// The shipped list and `extra`; an entry with the name of a shipped one replaces it.
    /// The error names the entry and what is wrong with its pattern.
    pub fn with(extra: &[SignatureSpec]) -> Result<Signatures, String> {
        let mut specs: Vec<SignatureSpec> = SHIPPED
            .iter()
            .filter(|(name, ..)| !extra.iter().any(|e| e.name == *name))
            .map(|&(name, pattern, warn, crit)| SignatureSpec {
                name: name.to_string(),
                pattern: pattern.to_string(),
                warn_per_min: warn,
                crit_per_min: crit,
            })
            .collect();
        specs.extend(extra.iter().cloned());
        let mut list = Vec::with_capacity(specs.len());
        for spec in &specs {
            if spec.name.trim().is_empty() {
                return Err("a log signature has no name".into());
            }
            let pattern = RegexBuilder::new(&spec.pattern)
                .size_limit(SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    format!(
                        "log signature `{}`: the pattern is not a regular expression ({})",
                        spec.name.escape_debug(),
                        first_line(&e.to_string())
                    )
                })?;
            list.push(Signature {
                name: spec.name.clone(),
                pattern,
                threshold: Threshold::above(spec.warn_per_min, spec.crit_per_min),
            });
        }
        let set = RegexSetBuilder::new(specs.iter().map(|s| &s.pattern))
            .size_limit(SIZE_LIMIT * 4)
            .build()
            .map_err(|e| {
                format!(
                    "log signatures together are too large ({})",
                    first_line(&e.to_string())
                )
            })?;
        Ok(Signatures { list, set })
    }

    pub fn list(&self) -> &[Signature] {
        &self.list
    }

    /// Indexes of the signatures `text` shows.
    pub fn matches(&self, text: &str) -> Vec<usize> {
        if self.list.is_empty() {
            return Vec::new();
        }
        self.set.matches(text).into_iter().collect()
    }

    /// Byte ranges in `text` to highlight.
    pub fn highlights(&self, text: &str) -> Vec<(usize, usize)> {
        let mut spans: Vec<(usize, usize)> = self
            .matches(text)
            .into_iter()
            .filter_map(|i| self.list.get(i))
            .flat_map(|s| s.pattern.find_iter(text).map(|m| (m.start(), m.end())))
            .collect();
        spans.sort_unstable();
        spans
    }

    pub fn name(&self, index: usize) -> &str {
        self.list.get(index).map_or("?", |s| s.name.as_str())
    }
}

impl Signatures {
    /// How often each signature appears in `messages`, the lines of the last minute of a
    /// journal read with at most `cap` lines: names and counts only, the lines stay here.
    pub fn rates<'a>(
        &self,
        messages: impl IntoIterator<Item = &'a str>,
        cap: usize,
    ) -> SignatureRates {
        let mut counts = vec![0u64; self.list.len()];
        let mut lines_read = 0;
        for message in messages {
            lines_read += 1;
            for i in self.matches(message) {
                if let Some(n) = counts.get_mut(i) {
                    *n += 1;
                }
            }
        }
        let seen = self
            .list
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(sig, n)| SignatureRate {
                name: sig.name.clone(),
                per_min: n,
                warn_per_min: sig.threshold.warn,
                crit_per_min: sig.threshold.crit,
            })
            .collect();
        SignatureRates {
            lines_read,
            capped: cap > 0 && lines_read >= cap,
            seen,
        }
    }
}

/// Known signatures in one host's journal over the last minute: what its reading carries.
/// Only names and counts: never a line, which may hold members' data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignatureRates {
    /// Lines of the minute that were read.
    pub lines_read: usize,
    /// The read stopped at its line cap: the counts are lower bounds.
    pub capped: bool,
    /// The signatures seen, in the list's order.
    pub seen: Vec<SignatureRate>,
}

/// One signature's count over the last minute, and the rates its config calls bad.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignatureRate {
    pub name: String,
    pub per_min: u64,
    pub warn_per_min: f64,
    pub crit_per_min: f64,
}

impl SignatureRate {
    pub fn level(&self) -> Level {
        figure_level(
            self.per_min as f64,
            &Threshold::above(self.warn_per_min, self.crit_per_min),
        )
    }

    /// How far past its own warning line this rate is, so that signatures with different
    /// lines can be compared.
    fn severity(&self) -> (Level, f64) {
        let scale = if self.warn_per_min > 0.0 {
            self.warn_per_min
        } else {
            1.0
        };
        (self.level(), self.per_min as f64 / scale)
    }

    /// `120 Redis MISCONF/min`, `≥5000 …` when the read was capped.
    pub fn shown(&self, capped: bool) -> String {
        let at_least = if capped { "≥" } else { "" };
        format!(
            "{at_least}{} {}/min",
            self.per_min,
            crate::sanitize::sanitize(&self.name)
        )
    }
}

impl SignatureRates {
    /// The signature that is worst against its own lines (then the most frequent).
    pub fn worst(&self) -> Option<&SignatureRate> {
        self.seen.iter().max_by(|a, b| {
            let (la, ra) = a.severity();
            let (lb, rb) = b.severity();
            la.cmp(&lb).then(ra.total_cmp(&rb))
        })
    }

    /// The worst signature's rate (0 when none was seen): the figure a host's trend draws.
    pub fn figure(&self) -> Figure {
        Figure::new(
            "log_signature_per_min",
            "worst log signature /min",
            self.worst().map_or(0.0, |w| w.per_min as f64),
            Unit::Count,
        )
    }

    /// One finding per signature at or past its warning rate, worst first, named.
    pub fn findings(&self) -> Vec<Finding> {
        let mut rates: Vec<&SignatureRate> = self.seen.iter().collect();
        rates.sort_by(|a, b| {
            let (la, ra) = a.severity();
            let (lb, rb) = b.severity();
            lb.cmp(&la).then(rb.total_cmp(&ra))
        });
        rates
            .into_iter()
            .filter(|r| r.level() >= Level::Warn)
            .map(|r| Finding {
                level: r.level(),
                message: r.shown(self.capped),
            })
            .collect()
    }
}

/// The shipped signatures and the config's `[[logs.signature]]`; the error names the entry
/// whose pattern is wrong.
pub fn configured(logs: &crate::config::LogsConfig) -> Result<Signatures, String> {
    let extra: Vec<SignatureSpec> = logs
        .signature
        .iter()
        .map(|s| SignatureSpec {
            name: s.name.clone(),
            pattern: s.pattern.clone(),
            warn_per_min: s.warn_per_min,
            crit_per_min: s.crit_per_min,
        })
        .collect();
    Signatures::with(&extra)
}

fn first_line(text: &str) -> String {
    crate::sanitize::sanitize_truncated(text.lines().last().unwrap_or(text), 160)
}

/// Matches per signature per minute over the last hour.
#[derive(Clone, Debug, Default)]
pub struct SignatureCounts {
    /// minute since the epoch → count per signature index
    minutes: BTreeMap<i64, Vec<u64>>,
}

impl SignatureCounts {
    pub fn record(&mut self, minute: i64, matched: &[usize]) {
        if matched.is_empty() {
            return;
        }
        let row = self.minutes.entry(minute).or_default();
        for &i in matched {
            if row.len() <= i {
                row.resize(i + 1, 0);
            }
            row[i] += 1;
        }
        while self.minutes.len() > KEEP_MINUTES {
            self.minutes.pop_first();
        }
    }

    pub fn count(&self, minute: i64, signature: usize) -> u64 {
        self.minutes
            .get(&minute)
            .and_then(|row| row.get(signature))
            .copied()
            .unwrap_or(0)
    }

    /// `(minute, count)` of one signature, oldest first, minutes without a match left out.
    pub fn series(&self, signature: usize) -> Vec<(i64, u64)> {
        self.minutes
            .iter()
            .map(|(&m, row)| (m, row.get(signature).copied().unwrap_or(0)))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    /// Every signature seen in `minute`: what it is, how many, and how bad that is.
    pub fn findings(&self, signatures: &Signatures, minute: i64, source: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, sig) in signatures.list().iter().enumerate() {
            let n = self.count(minute, i);
            if n == 0 {
                continue;
            }
            let level = figure_level(n as f64, &sig.threshold);
            if level >= Level::Warn {
                out.push(Finding {
                    level,
                    message: format!("{source}: {n} {}/min", sig.name),
                });
            }
        }
        out
    }

    /// All known signatures in `minute` together, as a figure with the tightest threshold.
    pub fn figure(&self, signatures: &Signatures, minute: i64) -> Figure {
        let total: u64 = (0..signatures.list().len())
            .map(|i| self.count(minute, i))
            .sum();
        Figure::new(
            "log_signatures_per_min",
            "known log signatures per minute",
            total as f64,
            Unit::Count,
        )
        .with_threshold(Threshold::above(1.0, 10.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(s: &Signatures, name: &str) -> usize {
        s.list().iter().position(|x| x.name == name).unwrap()
    }

    #[test]
    fn every_shipped_pattern_compiles_and_matches_its_incident_line() {
        let s = Signatures::shipped();
        assert_eq!(s.list().len(), SHIPPED.len());
        for (name, line) in [
            (
                "Redis MISCONF",
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
            ),
            (
                "Redis READONLY",
                "READONLY You can't write against a read only replica.",
            ),
            (
                "Postgres slots reserved",
                "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
            ),
            (
                "Postgres too many clients",
                "FATAL:  sorry, too many clients already",
            ),
            (
                "streaming closed socket",
                "ERR! Tried writing to closed socket",
            ),
            (
                "Sidekiq cannot reach Redis",
                "Redis::CannotConnectError: Error connecting to Redis on 10.0.0.5:6379",
            ),
            (
                "nginx upstream timed out",
                "upstream timed out (110: Connection timed out) while reading response header",
            ),
        ] {
            assert_eq!(s.matches(line), vec![index(&s, name)], "{name}");
        }
        assert!(s.matches("Completed 200 OK in 12ms").is_empty());
    }

    #[test]
    fn config_adds_and_replaces_and_bad_patterns_are_named() {
        let extra = [
            SignatureSpec {
                name: "S3 denied".into(),
                pattern: "Aws::S3::Errors::AccessDenied".into(),
                warn_per_min: 1.0,
                crit_per_min: 5.0,
            },
            SignatureSpec {
                name: "Redis MISCONF".into(),
                pattern: "MISCONF".into(),
                warn_per_min: 100.0,
                crit_per_min: 1000.0,
            },
        ];
        let s = Signatures::with(&extra).unwrap();
        assert_eq!(s.list().len(), SHIPPED.len() + 1);
        assert_eq!(
            s.matches("Aws::S3::Errors::AccessDenied"),
            vec![index(&s, "S3 denied")]
        );
        let err = Signatures::with(&[SignatureSpec {
            name: "broken\u{1b}[2J".into(),
            pattern: "(unclosed".into(),
            warn_per_min: 1.0,
            crit_per_min: 2.0,
        }])
        .unwrap_err();
        assert!(err.contains("broken") && !err.contains('\u{1b}'), "{err}");
        assert!(err.contains("not a regular expression"), "{err}");
    }

    #[test]
    fn counts_per_minute_feed_findings_and_a_figure() {
        let s = Signatures::shipped();
        let misconf = index(&s, "Redis MISCONF");
        let mut counts = SignatureCounts::default();
        for _ in 0..120 {
            counts.record(7, &[misconf]);
        }
        counts.record(8, &[misconf]);
        assert_eq!(counts.count(7, misconf), 120);
        assert_eq!(counts.series(misconf), vec![(7, 120), (8, 1)]);
        let findings = counts.findings(&s, 7, "web-1");
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Crit);
        assert_eq!(findings[0].message, "web-1: 120 Redis MISCONF/min");
        assert_eq!(counts.figure(&s, 8).value, 1.0);
        for m in 0..200 {
            counts.record(m, &[misconf]);
        }
        assert_eq!(counts.minutes.len(), KEEP_MINUTES);
    }

    #[test]
    fn a_minute_of_lines_becomes_named_rates_the_worst_a_figure() {
        let extra = [SignatureSpec {
            name: "Redis MISCONF".into(),
            pattern: "MISCONF Redis".into(),
            warn_per_min: 100.0,
            crit_per_min: 1000.0,
        }];
        let s = Signatures::with(&extra).unwrap();
        let mut lines = vec!["MISCONF Redis is configured to save RDB snapshots"; 120];
        lines.extend(["ERR! Tried writing to closed socket"; 30]);
        lines.extend(["Redis::CannotConnectError"; 3]);
        lines.push("Completed 200 OK in 12ms alice@example.org");
        let rates = s.rates(lines.iter().copied(), 5_000);
        assert_eq!(rates.lines_read, 154);
        assert!(!rates.capped);
        let names: Vec<(&str, u64)> = rates
            .seen
            .iter()
            .map(|r| (r.name.as_str(), r.per_min))
            .collect();
        assert!(names.contains(&("Redis MISCONF", 120)), "{names:?}");
        assert!(
            names.contains(&("streaming closed socket", 30)),
            "{names:?}"
        );
        assert!(
            names.contains(&("Sidekiq cannot reach Redis", 3)),
            "{names:?}"
        );
        // 3 against a warning at 1 is worse than 120 against one at 100.
        assert_eq!(rates.worst().unwrap().name, "Sidekiq cannot reach Redis");
        assert_eq!(rates.figure().value, 3.0);
        let findings = rates.findings();
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert_eq!(findings[0].message, "3 Sidekiq cannot reach Redis/min");
        assert_eq!(findings[1].message, "120 Redis MISCONF/min");
        assert!(findings.iter().all(|f| f.level == Level::Warn));
        let json = serde_json::to_string(&rates).unwrap();
        assert!(!json.contains("alice") && !json.contains("RDB"), "{json}");

        let capped = s.rates(lines.iter().copied().take(10), 10);
        assert!(capped.capped);
        assert_eq!(capped.seen[0].shown(capped.capped), "≥10 Redis MISCONF/min");
        assert_eq!(s.rates([], 10).figure().value, 0.0);
    }

    #[test]
    fn highlights_cover_each_match() {
        let s = Signatures::shipped();
        let text = "x Tried writing to closed socket y";
        assert_eq!(s.highlights(text), vec![(2, 32)]);
    }
}
