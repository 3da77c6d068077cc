//! Named numbers a reading exposes: the unit of thresholds, sparklines and `check` output.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    Percent,
    Bytes,
    Seconds,
    Millis,
    PerSecond,
    Days,
    Ratio,
}

/// Which way is bad: most figures hurt as they grow, a certificate's days left as it shrinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsWorse,
    LowerIsWorse,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub warn: f64,
    pub crit: f64,
    pub direction: Direction,
}

impl Threshold {
    pub const fn above(warn: f64, crit: f64) -> Self {
        Self {
            warn,
            crit,
            direction: Direction::HigherIsWorse,
        }
    }
    pub const fn below(warn: f64, crit: f64) -> Self {
        Self {
            warn,
            crit,
            direction: Direction::LowerIsWorse,
        }
    }
}

/// A figure a kind of reading can produce: what config thresholds may name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FigureSpec {
    pub key: &'static str,
    pub direction: Direction,
}

impl FigureSpec {
    pub const fn up(key: &'static str) -> Self {
        Self {
            key,
            direction: Direction::HigherIsWorse,
        }
    }
    pub const fn down(key: &'static str) -> Self {
        Self {
            key,
            direction: Direction::LowerIsWorse,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// Stable name used in config thresholds and JSON output, e.g. `replication_lag_s`.
    pub key: &'static str,
    /// What the operator reads on screen, e.g. `replication lag`.
    pub label: &'static str,
    pub value: f64,
    pub unit: Unit,
    /// Built-in threshold; config may override it per kind and key.
    #[serde(skip)]
    pub threshold: Option<Threshold>,
}

impl Figure {
    pub fn new(key: &'static str, label: &'static str, value: f64, unit: Unit) -> Self {
        Self {
            key,
            label,
            value,
            unit,
            threshold: None,
        }
    }
    pub fn with_threshold(mut self, threshold: Threshold) -> Self {
        self.threshold = Some(threshold);
        self
    }
    pub fn display_value(&self) -> String {
        format_value(self.value, self.unit)
    }
}

/// Formats a number the way an operator reads it: `1.2 GiB`, `87%`, `3m 12s`, `1.4k/s`.
pub fn format_value(value: f64, unit: Unit) -> String {
    if !value.is_finite() {
        return "—".into();
    }
    match unit {
        Unit::Count => format_count(value),
        Unit::Percent => {
            if value < 10.0 && value.fract() != 0.0 {
                format!("{value:.1}%")
            } else {
                format!("{value:.0}%")
            }
        }
        Unit::Bytes => format_bytes(value),
        Unit::Seconds => format_duration_secs(value),
        Unit::Millis => {
            if value >= 1000.0 {
                format_duration_secs(value / 1000.0)
            } else {
                format!("{value:.0}ms")
            }
        }
        Unit::PerSecond => format!("{}/s", format_count(value)),
        Unit::Days => format!("{value:.0}d"),
        Unit::Ratio => format!("{value:.2}"),
    }
}

fn format_count(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e9 {
        format!("{:.1}G", value / 1e9)
    } else if abs >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if abs >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn format_bytes(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = value;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// `42s`, `3m 12s`, `5h 02m`, `3d 4h`.
pub fn format_duration_secs(secs: f64) -> String {
    if secs < 0.0 {
        return format!("-{}", format_duration_secs(-secs));
    }
    if secs < 10.0 && secs.fract() != 0.0 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_like_an_operator_expects() {
        assert_eq!(format_value(1536.0, Unit::Bytes), "1.5 KiB");
        assert_eq!(format_value(12.0, Unit::Bytes), "12 B");
        assert_eq!(format_value(87.4, Unit::Percent), "87%");
        assert_eq!(format_value(2.25, Unit::Percent), "2.2%");
        assert_eq!(format_value(192.0, Unit::Seconds), "3m 12s");
        assert_eq!(format_value(0.4, Unit::Seconds), "0.4s");
        assert_eq!(format_value(90_061.0, Unit::Seconds), "1d 1h");
        assert_eq!(format_value(1_400_000.0, Unit::Count), "1.4M");
        assert_eq!(format_value(1400.0, Unit::PerSecond), "1400/s");
        assert_eq!(format_value(250.0, Unit::Millis), "250ms");
        assert_eq!(format_value(f64::NAN, Unit::Count), "—");
    }
}
