//! The lines a log view holds: merged by time across hosts, capped, and honest about what
//! the cap threw away.

use std::collections::VecDeque;

use regex::{Regex, RegexBuilder};

use super::LogLine;
use super::signatures::{SignatureCounts, Signatures};

/// Lines a followed log keeps unless `[logs] ring_lines` says otherwise.
pub const DEFAULT_RING_LINES: usize = 10_000;

#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    capacity: usize,
    received: u64,
    dropped: u64,
    counts: SignatureCounts,
}

impl LogBuffer {
    pub fn new(capacity: usize) -> LogBuffer {
        LogBuffer {
            lines: VecDeque::with_capacity(capacity.clamp(1, 1 << 16)),
            capacity: capacity.max(1),
            received: 0,
            dropped: 0,
            counts: SignatureCounts::default(),
        }
    }

    /// Adds `line` in time order (lines from several hosts arrive interleaved), counts its
    /// signatures, and drops the oldest line when full.
    pub fn push(&mut self, line: LogLine, signatures: &Signatures) {
        self.received += 1;
        let matched = signatures.matches(&crate::sanitize::sanitize(&line.message));
        self.counts.record(line.minute(), &matched);
        let key = (line.at_us, line.host.as_str());
        let late = self
            .lines
            .back()
            .is_some_and(|last| (last.at_us, last.host.as_str()) > key);
        if late {
            let at = self
                .lines
                .partition_point(|l| (l.at_us, l.host.as_str()) <= key);
            self.lines.insert(at, line);
        } else {
            self.lines.push_back(line);
        }
        while self.lines.len() > self.capacity {
            self.lines.pop_front();
            self.dropped += 1;
        }
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = LogLine>, signatures: &Signatures) {
        for line in lines {
            self.push(line, signatures);
        }
    }

    /// Counts `n` lines that were dropped before they reached the buffer (the reader's
    /// queue to the view was full): received and dropped, never kept.
    pub fn dropped_before(&mut self, n: u64) {
        self.received += n;
        self.dropped += n;
    }

    pub fn lines(&self) -> &VecDeque<LogLine> {
        &self.lines
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Lines received since the view opened, including those the cap dropped.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Lines the cap dropped since the view opened.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn counts(&self) -> &SignatureCounts {
        &self.counts
    }

    pub fn clear(&mut self) {
        self.lines.clear();
        self.received = 0;
        self.dropped = 0;
        self.counts = SignatureCounts::default();
    }
}

/// Several hosts' answers as one list in time order; equal times keep host order.
pub fn merge(batches: Vec<Vec<LogLine>>) -> Vec<LogLine> {
    let mut all: Vec<LogLine> = batches.into_iter().flatten().collect();
    all.sort_by(|a, b| (a.at_us, &a.host).cmp(&(b.at_us, &b.host)));
    all
}

/// The `/` filter: a regular expression, `!` in front to keep what does not match. It is
/// matched against what is shown (redacted), so a filter cannot probe hidden text.
#[derive(Clone, Debug)]
pub struct LineFilter {
    pub text: String,
    regex: Regex,
    inverse: bool,
}

impl LineFilter {
    pub fn parse(text: &str) -> Result<LineFilter, String> {
        let (inverse, pattern) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let regex = RegexBuilder::new(pattern)
            .case_insensitive(!pattern.chars().any(char::is_uppercase))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                let said = e.to_string();
                format!(
                    "not a regular expression: {}",
                    crate::sanitize::sanitize_truncated(said.lines().last().unwrap_or(&said), 120)
                )
            })?;
        Ok(LineFilter {
            text: text.to_string(),
            regex,
            inverse,
        })
    }

    pub fn keeps(&self, shown: &str) -> bool {
        self.regex.is_match(shown) != self.inverse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at: i64, host: &str, message: &str) -> LogLine {
        LogLine {
            at_us: at,
            host: host.into(),
            unit: "mastodon-web.service".into(),
            priority: None,
            message: message.into(),
        }
    }

    #[test]
    fn merge_orders_by_time_then_host() {
        let a = vec![line(1, "web-2", "a1"), line(5, "web-2", "a5")];
        let b = vec![line(3, "web-1", "b3"), line(5, "web-1", "b5")];
        let merged: Vec<String> = merge(vec![a, b]).into_iter().map(|l| l.message).collect();
        assert_eq!(merged, ["a1", "b3", "b5", "a5"]);
    }

    #[test]
    fn late_lines_land_in_time_order_and_the_cap_drops_the_oldest() {
        let s = Signatures::shipped();
        let mut b = LogBuffer::new(3);
        b.push(line(10, "a", "x"), &s);
        b.push(line(30, "a", "y"), &s);
        b.push(line(20, "b", "late"), &s);
        let order: Vec<i64> = b.lines().iter().map(|l| l.at_us).collect();
        assert_eq!(order, [10, 20, 30]);
        for t in 40..50 {
            b.push(line(t, "a", "Tried writing to closed socket"), &s);
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.received(), 13);
        assert_eq!(b.dropped(), 10);
        let closed = s
            .list()
            .iter()
            .position(|x| x.name == "streaming closed socket")
            .unwrap();
        assert_eq!(b.counts().count(0, closed), 10, "counted even when dropped");
    }

    #[test]
    fn filter_matches_what_is_shown_and_inverts() {
        let f = LineFilter::parse("misconf").unwrap();
        assert!(f.keeps("MISCONF Redis"));
        assert!(!f.keeps("ok"));
        let f = LineFilter::parse("!GET").unwrap();
        assert!(f.keeps("POST /x"));
        assert!(!f.keeps("GET /x"));
        let err = LineFilter::parse("(\u{1b}[2J").unwrap_err();
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
