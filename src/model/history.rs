//! Short per-figure history for sparklines: a fixed ring, no allocation once full.

use std::collections::VecDeque;

pub const HISTORY_LEN: usize = 60;

#[derive(Clone, Debug, Default)]
pub struct Ring {
    values: VecDeque<f64>,
}

impl Ring {
    pub fn push(&mut self, value: f64) {
        if self.values.len() == HISTORY_LEN {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }
    pub fn values(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.values.iter().copied()
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
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

    #[test]
    fn ring_keeps_the_newest_values() {
        let mut ring = Ring::default();
        for i in 0..(HISTORY_LEN + 5) {
            ring.push(i as f64);
        }
        assert_eq!(ring.len(), HISTORY_LEN);
        assert_eq!(ring.values().next(), Some(5.0));
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
