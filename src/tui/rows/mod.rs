//! Pure row-building: model → table data for every list the console draws. Nothing here
//! knows the console's state or draws; each function takes plain model values and the
//! clock, so it is tested on its own and timed in `benches/`.

pub mod alerts;
pub mod audit;
pub mod detail;
pub mod fleet;
pub mod kind;
pub mod overview;

use crate::model::ComponentId;
use crate::model::Level;
use crate::model::detail::TableData;

/// Rows of a list view and the component each row stands for.
#[derive(Debug, Default, Clone)]
pub struct ListData {
    pub table: TableData,
    pub ids: Vec<ComponentId>,
}

/// Age of data as the operator reads it: `3s`, `5m 02s`, or `—` when there is none.
pub fn age_text(age: Option<std::time::Duration>) -> String {
    age.map_or_else(
        || "—".to_string(),
        |a| crate::model::figure::format_duration_secs(a.as_secs() as f64),
    )
}

/// Sort rank for health: CRIT sorts above WARN above UNKNOWN above OK.
pub fn level_rank(level: Level) -> f64 {
    match level {
        Level::Ok => 0.0,
        Level::Unknown => 1.0,
        Level::Warn => 2.0,
        Level::Crit => 3.0,
    }
}

/// Shared by the row builders' tests: a fleet of the demo's components at a scripted
/// moment, and of components that have not answered yet.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::{Duration, SystemTime};

    use crate::model::{ComponentId, ComponentMeta, Fleet, SourceStatus};

    pub fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    /// Every demo component, answered at `now()`, four minutes into the script.
    pub fn demo_fleet() -> Fleet {
        let now = now();
        let readings = crate::demo::readings_at(Duration::from_secs(240), now);
        let mut fleet = Fleet::new(
            readings
                .iter()
                .map(|(meta, _)| (meta.clone(), SourceStatus::pending(Duration::from_secs(2))))
                .collect(),
            Default::default(),
        );
        for (meta, reading) in readings {
            fleet.apply(
                &meta.id,
                crate::engine::poll::answered(now, Duration::from_secs(2)),
                Some(reading),
            );
        }
        fleet
    }

    /// Components that have not been polled yet.
    pub fn pending(ids: &[(&'static str, &str)]) -> Fleet {
        Fleet::new(
            ids.iter()
                .map(|(kind, name)| {
                    (
                        ComponentMeta {
                            id: ComponentId::new(kind, name),
                            kind,
                            region: "eu".into(),
                            tags: Vec::new(),
                        },
                        SourceStatus::pending(Duration::from_secs(2)),
                    )
                })
                .collect(),
            Default::default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ages_read_as_the_operator_reads_them() {
        assert_eq!(age_text(None), "—");
        assert_eq!(age_text(Some(Duration::from_secs(3))), "3s");
        assert_eq!(age_text(Some(Duration::from_millis(3_900))), "3s");
        assert_eq!(age_text(Some(Duration::from_secs(302))), "5m 02s");
    }

    #[test]
    fn health_ranks_put_the_worst_first_when_sorted_descending() {
        let mut levels = [Level::Ok, Level::Crit, Level::Unknown, Level::Warn];
        levels.sort_by(|a, b| level_rank(*b).total_cmp(&level_rank(*a)));
        assert_eq!(
            levels,
            [Level::Crit, Level::Warn, Level::Unknown, Level::Ok]
        );
    }
}
