//! Pure data: what the fleet looks like right now. No I/O lives here.

pub mod alerts;
pub mod detail;
pub mod figure;
pub mod fleet;
pub mod health;
pub mod history;
pub mod kinds;
pub mod reading;
pub mod serde_time;
pub mod status;

pub use detail::{Detail, Section, SectionBody, TableData};
pub use figure::{Direction, Figure, FigureSpec, Threshold, Unit};
pub use fleet::{ComponentMeta, ComponentState, Fleet};
pub use health::{Finding, Health, Level};
pub use reading::Reading;
pub use status::{Schedule, SourceState, SourceStatus};

/// A component's stable identity: `kind/name`, e.g. `postgres/primary` or `edge/fra-1`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ComponentId(String);

impl ComponentId {
    pub fn new(kind: &str, name: &str) -> Self {
        Self(format!("{kind}/{name}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, n)| n)
    }
}

impl std::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
