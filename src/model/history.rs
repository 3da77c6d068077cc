//! Per-figure history: the last hour of time-stamped values, for trends and charts.
//!
//! Memory is bounded whatever the cadence: points closer together than [`MIN_GAP`] merge
//! into one (the newer value wins), so a figure holds at most one hour at one point per
//! [`MIN_GAP`]. A figure polled every 15 s holds 240 points; one polled every second is
//! downsampled to one point per [`MIN_GAP`].

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// How far back a history reaches.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// The most points a history holds: one hour at one point every two seconds.
pub const MAX_POINTS: usize = 1800;

/// The closest two kept points may be; nearer ones merge.
pub const MIN_GAP: Duration = Duration::from_secs(2);

/// How many evenly spaced values an hour's backfill brings: one a minute.
pub const HISTORY_LEN: usize = 60;

/// One value at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub at: SystemTime,
    pub value: f64,
}

/// The last hour of one figure, oldest first, finite values only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    points: VecDeque<Point>,
}

impl History {
    /// Records a value. A value that is not a number is no point on a trend and is
    /// dropped. A point within [`MIN_GAP`] of the newest replaces its value. A point far
    /// older than the newest means the clock stepped back: what came before cannot share a
    /// time axis with what follows, so the history starts over.
    pub fn push(&mut self, at: SystemTime, value: f64) {
        if !value.is_finite() {
            return;
        }
        if let Some(last) = self.points.back_mut() {
            match at.duration_since(last.at) {
                Ok(gap) if gap < MIN_GAP => {
                    last.value = value;
                    return;
                }
                Ok(_) => {}
                Err(back) if back.duration() < MIN_GAP => {
                    last.value = value;
                    return;
                }
                Err(_) => self.points.clear(),
            }
        }
        self.points.push_back(Point { at, value });
        self.trim();
    }

    /// Lays an older series (oldest first) before the points already held. Points at or
    /// after the oldest held one are ignored: what was polled is the better record.
    pub fn backfill(&mut self, older: impl IntoIterator<Item = Point>) {
        let first = self.points.front().map(|p| p.at);
        let mut merged = History::default();
        for p in older {
            if first.is_some_and(|f| p.at.duration_since(f).is_ok()) {
                continue;
            }
            if merged.points.back().is_some_and(|l| p.at < l.at) {
                continue;
            }
            merged.push(p.at, p.value);
        }
        for p in self.points.drain(..) {
            merged.push(p.at, p.value);
        }
        *self = merged;
    }

    /// The points, oldest first.
    pub fn points(&self) -> impl ExactSizeIterator<Item = Point> + DoubleEndedIterator + '_ {
        self.points.iter().copied()
    }

    /// The values, oldest first.
    pub fn values(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.points.iter().map(|p| p.value)
    }

    pub fn latest(&self) -> Option<Point> {
        self.points.back().copied()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    fn trim(&mut self) {
        let Some(newest) = self.points.back().map(|p| p.at) else {
            return;
        };
        while let Some(front) = self.points.front() {
            let age = newest.duration_since(front.at).unwrap_or_default();
            if age > WINDOW || self.points.len() > MAX_POINTS {
                self.points.pop_front();
            } else {
                break;
            }
        }
    }
}

/// Evenly spaced values (oldest first) ending at `end`, `step` apart: the shape of a
/// backfill that kept its values but not their times.
pub fn spaced(
    values: impl IntoIterator<Item = f64>,
    end: SystemTime,
    step: Duration,
) -> Vec<Point> {
    let values: Vec<f64> = values.into_iter().collect();
    let n = values.len() as u32;
    values
        .into_iter()
        .enumerate()
        .filter_map(|(i, value)| {
            let back = step.checked_mul(n.saturating_sub(1).saturating_sub(i as u32))?;
            Some(Point {
                at: end.checked_sub(back)?,
                value,
            })
        })
        .collect()
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` values as block characters, scaled between their own min and max.
/// A flat series draws as a flat low line rather than noise.
pub fn sparkline(values: impl ExactSizeIterator<Item = f64>, width: usize) -> String {
    let skip = values.len().saturating_sub(width);
    let tail: Vec<f64> = values.skip(skip).filter(|v| v.is_finite()).collect();
    let (min, max) = tail
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = max - min;
    tail.iter()
        .map(|&v| {
            if span <= f64::EPSILON {
                BARS[0]
            } else {
                let idx = ((v - min) / span * (BARS.len() - 1) as f64).round() as usize;
                BARS[idx.min(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn an_hour_at_the_cadence_is_kept_and_older_points_leave() {
        let mut h = History::default();
        for i in 0..1000u64 {
            h.push(t(i * 15), i as f64);
        }
        // 3600 s / 15 s, plus the point exactly an hour old.
        assert_eq!(h.len(), 241);
        assert_eq!(h.values().next(), Some(759.0));
        assert_eq!(h.latest().map(|p| p.value), Some(999.0));
    }

    #[test]
    fn a_fast_cadence_is_downsampled_to_the_bound() {
        let mut h = History::default();
        for i in 0..20_000u64 {
            h.push(
                SystemTime::UNIX_EPOCH + Duration::from_millis(i * 500),
                i as f64,
            );
        }
        assert!(h.len() <= MAX_POINTS + 1, "{}", h.len());
        assert!(h.len() >= MAX_POINTS - 1, "{}", h.len());
        assert_eq!(
            h.latest().map(|p| p.value),
            Some(19_999.0),
            "newest value wins"
        );
        let gaps = h
            .points()
            .zip(h.points().skip(1))
            .all(|(a, b)| b.at.duration_since(a.at).is_ok_and(|g| g >= MIN_GAP));
        assert!(gaps);
    }

    #[test]
    fn same_moment_replaces_and_non_numbers_are_dropped() {
        let mut h = History::default();
        h.push(t(0), 1.0);
        h.push(t(0), 2.0);
        h.push(t(1), f64::NAN);
        h.push(t(1), f64::INFINITY);
        assert_eq!(h.values().collect::<Vec<_>>(), vec![2.0]);
    }

    #[test]
    fn a_clock_stepping_back_starts_over() {
        let mut h = History::default();
        h.push(t(100), 1.0);
        h.push(t(110), 2.0);
        h.push(t(10), 3.0);
        assert_eq!(h.values().collect::<Vec<_>>(), vec![3.0]);
    }

    #[test]
    fn backfill_goes_before_what_was_polled() {
        let mut h = History::default();
        h.push(t(3600), 10.0);
        h.push(t(3610), 11.0);
        h.backfill(spaced(
            (0..60).map(f64::from),
            t(3600),
            Duration::from_secs(60),
        ));
        let v: Vec<f64> = h.values().collect();
        // The backfill's last point falls on the first polled one and yields to it.
        assert_eq!(v.len(), 61, "{v:?}");
        assert_eq!(v[0], 0.0);
        assert_eq!(&v[58..], &[58.0, 10.0, 11.0]);
        let span = h
            .latest()
            .zip(h.points().next())
            .and_then(|(l, f)| l.at.duration_since(f.at).ok());
        assert_eq!(span, Some(Duration::from_secs(59 * 60 + 10)));
    }

    #[test]
    fn spaced_ends_at_the_end() {
        let p = spaced([1.0, 2.0, 3.0], t(100), Duration::from_secs(10));
        assert_eq!(
            p.iter().map(|p| p.at).collect::<Vec<_>>(),
            vec![t(80), t(90), t(100)]
        );
    }

    #[test]
    fn serde_round_trip() {
        let mut h = History::default();
        h.push(t(0), 1.5);
        h.push(t(30), 2.5);
        let json = serde_json::to_string(&h).unwrap_or_default();
        let back: History = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, h);
    }

    #[test]
    fn sparkline_scales_and_keeps_the_tail() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        assert_eq!(sparkline(v.into_iter(), 8), "▁▂▃▄▅▆▇█");
        assert_eq!(sparkline(v.into_iter(), 2), "▁█");
        assert_eq!(sparkline([3.0, 3.0].into_iter(), 4), "▁▁");
        assert_eq!(
            sparkline(std::iter::empty::<f64>().collect::<Vec<_>>().into_iter(), 4),
            ""
        );
    }
}
