//! Health levels from thresholds and findings. Pure functions, so every rule is unit-tested.

use serde::{Deserialize, Serialize};

use super::figure::{Direction, Figure, Threshold};

/// Ordered so that `max()` gives the worst (UNKNOWN sits between OK and WARN). Each level has a symbol and a word, so health
/// never depends on colour alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    Ok,
    Unknown,
    Warn,
    Crit,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Crit => "CRIT",
            Level::Unknown => "UNKNOWN",
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Level::Ok => "✔",
            Level::Warn => "▲",
            Level::Crit => "✖",
            Level::Unknown => "?",
        }
    }
    /// The Nagios plugin exit code for this level.
    pub fn exit_code(self) -> i32 {
        match self {
            Level::Ok => 0,
            Level::Warn => 1,
            Level::Crit => 2,
            Level::Unknown => 3,
        }
    }
}

/// A problem a reading states about itself, beyond any threshold: "last RDB save failed".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub level: Level,
    pub message: String,
}

impl Finding {
    pub fn warn(message: impl Into<String>) -> Self {
        Self {
            level: Level::Warn,
            message: message.into(),
        }
    }
    pub fn crit(message: impl Into<String>) -> Self {
        Self {
            level: Level::Crit,
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub level: Level,
    /// Why the level is what it is, worst first; empty when OK.
    pub reasons: Vec<String>,
}

impl Health {
    pub fn ok() -> Self {
        Self {
            level: Level::Ok,
            reasons: Vec::new(),
        }
    }
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self {
            level: Level::Unknown,
            reasons: vec![reason.into()],
        }
    }
}

/// The level one figure reaches against its threshold.
pub fn figure_level(value: f64, threshold: &Threshold) -> Level {
    if !value.is_finite() {
        return Level::Unknown;
    }
    let breaches = |limit: f64| match threshold.direction {
        Direction::HigherIsWorse => value >= limit,
        Direction::LowerIsWorse => value <= limit,
    };
    if breaches(threshold.crit) {
        Level::Crit
    } else if breaches(threshold.warn) {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// Evaluates figures (each against its override or built-in threshold) and findings.
pub fn evaluate<'a>(
    figures: &[Figure],
    findings: &[Finding],
    override_for: impl Fn(&str) -> Option<&'a Threshold>,
) -> Health {
    let mut hits: Vec<(Level, String)> = Vec::new();
    for figure in figures {
        let Some(threshold) = override_for(figure.key).or(figure.threshold.as_ref()) else {
            continue;
        };
        let level = figure_level(figure.value, threshold);
        if level != Level::Ok {
            let limit = if level == Level::Crit {
                threshold.crit
            } else {
                threshold.warn
            };
            let op = match threshold.direction {
                Direction::HigherIsWorse => "≥",
                Direction::LowerIsWorse => "≤",
            };
            hits.push((
                level,
                format!(
                    "{} {} {op} {}",
                    figure.label,
                    figure.display_value(),
                    super::figure::format_value(limit, figure.unit)
                ),
            ));
        }
    }
    hits.extend(findings.iter().map(|f| (f.level, f.message.clone())));
    // Stable sort: among equal levels, figures keep their order and come before findings.
    hits.sort_by_key(|(level, _)| std::cmp::Reverse(*level));
    Health {
        level: hits.first().map_or(Level::Ok, |(level, _)| *level),
        reasons: hits.into_iter().map(|(_, reason)| reason).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::figure::Unit;

    #[test]
    fn thresholds_respect_direction() {
        let up = Threshold::above(80.0, 95.0);
        assert_eq!(figure_level(50.0, &up), Level::Ok);
        assert_eq!(figure_level(80.0, &up), Level::Warn);
        assert_eq!(figure_level(99.0, &up), Level::Crit);
        let down = Threshold::below(14.0, 7.0);
        assert_eq!(figure_level(30.0, &down), Level::Ok);
        assert_eq!(figure_level(10.0, &down), Level::Warn);
        assert_eq!(figure_level(5.0, &down), Level::Crit);
        assert_eq!(figure_level(f64::NAN, &down), Level::Unknown);
    }

    #[test]
    fn evaluate_takes_the_worst_and_explains_it() {
        let figures = vec![
            Figure::new("disk_used_pct", "disk used", 91.0, Unit::Percent)
                .with_threshold(Threshold::above(80.0, 90.0)),
            Figure::new("load", "load", 1.0, Unit::Count)
                .with_threshold(Threshold::above(8.0, 16.0)),
        ];
        let findings = vec![Finding::warn("unit nftables inactive")];
        let health = evaluate(&figures, &findings, |_| None);
        assert_eq!(health.level, Level::Crit);
        assert_eq!(health.reasons[0], "disk used 91% ≥ 90%");
        assert_eq!(health.reasons[1], "unit nftables inactive");
    }

    #[test]
    fn config_override_replaces_builtin_threshold() {
        let figures = vec![
            Figure::new("disk_used_pct", "disk used", 91.0, Unit::Percent)
                .with_threshold(Threshold::above(80.0, 90.0)),
        ];
        let relaxed = Threshold::above(95.0, 99.0);
        let health = evaluate(&figures, &[], |key| {
            (key == "disk_used_pct").then_some(&relaxed)
        });
        assert_eq!(health, Health::ok());
    }
}
